/*
Package provision creates and destroys the virtual machines that the cluster
placed on this operator's host. The Provisioner interface is the seam, and
holds only what the node's controller calls (Define, Start, Destroy, List):
the live node drives libvirt through it, the simulator drives Sim, a
simulated hypervisor on virtual time. Host adds what Async needs of the
hypervisor it wraps (Stop, Capacity).

# The contract: quick calls, polled states

The node's controller calls the Provisioner from its single event loop, and
in the simulator every node shares one goroutine on virtual time, so a call
that waited for a guest to boot would stall the whole node (or the whole
simulation). Every call therefore returns quickly: it starts work and says
whether it could be started, never how it ended. The caller learns the
outcome by polling List (or, of one VM, a host's State): a started VM is StateBooting until it is
StateRunning or StateFailed; a running guest that dies is StateCrashed.

The controller is level-triggered: it compares what the cluster wants on this
host with List and acts on the difference, so it may repeat an action whose
effect it has not yet seen. Start of a booting or running VM and Stop of a
stopped one are therefore no-ops rather than errors.

# Lifecycle and capacity

	Define ──> defined ──Start──> booting ──> running ──(guest dies)──> crashed
	              ^                  └──────> failed
	              └──────Stop─────── (any started state)
	Destroy: any state ──> gone

Start also restarts a crashed or failed VM. Capacity is reserved by Define
and released by Destroy, not by Start and Stop: the cluster placed the VM on
this host, and a stopped VM must be able to start again without finding its
room taken.

Errors are the sentinels ErrNotFound, ErrExists, ErrCapacity, ErrInvalid and
ErrHostDown, wrapped with detail; test them with errors.Is.

# Mapping onto libvirt

The interface follows libvirt's persistent domains so that the live
implementation is a thin translation: Define is virDomainDefineXML of a
domain named by a fixed prefix and the VM's ID, Start is virDomainCreate,
Stop is virDomainShutdown (the guest shuts down in its own time, so the
domain reaches StateDefined later), Destroy is virDomainDestroy followed by
virDomainUndefine, State is virDomainGetState, and List is
virConnectListAllDomains filtered by the prefix. libvirt does not reserve
capacity, so the implementation keeps the reservation itself, as Sim does.

Libvirt owns only the domains named with its prefix, and keeps each VM's
Spec in its domain's metadata, so that a restarted node adopts the domains
it already runs. Its calls wait for the daemon, milliseconds to seconds, so
the live node does not call it from its loop but through Async, which
answers from a view that its own goroutine keeps up to date and queues the
operations for that goroutine; when the queue is full it returns ErrBusy,
and the controller tries again on a later tick.

# The simulated hypervisor

Sim keeps its domains in memory and computes state transitions lazily from
the runtime's clock: a VM started at t is booting until t+BootTime. Whether
a boot fails is drawn from the runtime's seeded source when it starts, so a
seed reproduces every outcome. Kill, Revive, Crash and FailNextBoots inject
host and guest faults.
*/
package provision
