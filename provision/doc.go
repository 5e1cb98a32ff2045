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

Define also writes the VM's cloud-init seed, a small ISO image in the
seed directory that the domain reads as a read-only CD-ROM: it names the
guest and installs the customer's SSH key, with password logins off.
Destroy deletes it, and Start writes it again if it is missing.

Libvirt owns only the domains named with its prefix, and keeps each VM's
Spec in its domain's metadata, so that a restarted node adopts the domains
it already runs. Its calls wait for the daemon, milliseconds to seconds, so
the live node does not call it from its loop but through Async, which
answers from a view that its own goroutine keeps up to date and queues the
operations for that goroutine; when the queue is full it returns ErrBusy,
and the controller tries again on a later tick.

# Reaching a VM

A customer reaches a VM with ssh -p PORT user@HOST: the host forwards one of
its ports to the guest's SSH port. Libvirt.GuestAddress reads the IPv4
address that the libvirt network's DHCP server leased to the guest, or
ErrNoAddress until there is one, and a Forwarder publishes it: one DNAT rule
per VM, from the lowest free port of its range (22000 to 22999 by default)
to the guest's port 22, whose comment "dagger-vm:ID" names the VM. Every
call reads the rules back from the kernel, so a restarted node keeps its
VMs' ports, and Reconcile removes the labelled rules of VMs it no longer
runs.

DAGGER owns the nftables table "ip dagger" (ForwarderConfig.Table) whole,
creates it on its first change and rewrites its base chains on every change:
chain publish holds the forwards; prerouting (nat, priority dstnat) jumps to
it for connections to an address of the host (fib daddr type local), output
(nat) for those the host makes to its own addresses but 127.0.0.0/8; forward
(filter) accepts the packets of translated connections (ct status dnat). The
table's family is ip, not inet: guests on libvirt's NAT network are IPv4,
and no IPv6 packet can be DNATed to one. `nft list table ip dagger` shows it
all.

An accept ends only its own chain: a drop or reject in any other table still
applies. libvirt rejects new connections forwarded into a NAT network's
subnet (iptables chain LIBVIRT_FWI, or chain guest_input of table ip
libvirt_network with its nftables backend), so until the operator allows
them, a forward works from the host itself and is refused from outside. The
operator adds, ahead of that reject and from libvirt's network hook
(/etc/libvirt/hooks/network, since libvirt rewrites its rules whenever the
network starts), a rule accepting translated connections to the bridge:

	iptables -I LIBVIRT_FWI -o virbr0 -m conntrack --ctstate DNAT -j ACCEPT
	nft insert rule ip libvirt_network guest_input oifname virbr0 ct status dnat accept

or gives the network <forward mode='open'/>, where libvirt adds no rules and
the NAT of the guests' own traffic is the operator's. A host firewall whose
forward policy is drop (Docker sets one) must accept them too, and the range
must be open to customers. A guest cannot reach another guest through the
host's forwarded port: nothing rewrites the source of such a connection,
so the answer would not come back the same way.

# The simulated hypervisor

Sim keeps its domains in memory and computes state transitions lazily from
the runtime's clock: a VM started at t is booting until t+BootTime. Whether
a boot fails is drawn from the runtime's seeded source when it starts, so a
seed reproduces every outcome. Kill, Revive, Crash and FailNextBoots inject
host and guest faults.
*/
package provision
