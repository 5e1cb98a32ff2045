package provision

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of what a host accepts. The string limits are no smaller than the
// transaction limits of package node/tx, so every VM the cluster can commit
// is accepted here.
const (
	// MaxDomains bounds the VMs one host holds, whatever their size, so
	// that List and the controller's reconcile stay bounded.
	MaxDomains = 4096
	// MaxIDBytes fits the cluster's VM ids: 64 hex digits.
	MaxIDBytes     = 64
	MaxImageBytes  = 256
	MaxSSHKeyBytes = 2048
)

// Errors of a Provisioner, wrapped with detail.
var (
	ErrNotFound = errors.New("provision: no such VM")
	ErrExists   = errors.New("provision: VM already defined")
	ErrCapacity = errors.New("provision: host lacks capacity")
	ErrInvalid  = errors.New("provision: invalid VM spec")
	ErrHostDown = errors.New("provision: host is down")
	ErrNoImage  = errors.New("provision: the host does not offer this image")
)

// Spec is what a VM needs. ID is the cluster's VM id (hex), which also
// names the domain on the host.
type Spec struct {
	ID        string
	VCPU      uint32
	MemoryMiB uint64
	DiskGiB   uint64
	Image     string
	SSHKey    string
}

// Capacity is what a host offers, or what a set of VMs takes.
type Capacity struct {
	VCPU      uint32
	MemoryMiB uint64
	DiskGiB   uint64
}

// SpecCapacity is what s takes from a host.
func SpecCapacity(s Spec) Capacity {
	return Capacity{VCPU: s.VCPU, MemoryMiB: s.MemoryMiB, DiskGiB: s.DiskGiB}
}

// Fits reports whether s fits within c.
func (c Capacity) Fits(s Spec) bool {
	return s.VCPU <= c.VCPU && s.MemoryMiB <= c.MemoryMiB && s.DiskGiB <= c.DiskGiB
}

// Sub is c minus s. It panics if s does not fit: the caller checks Fits
// first, and a wrapped-around capacity would silently admit every VM.
func (c Capacity) Sub(s Spec) Capacity {
	if !c.Fits(s) {
		panic(fmt.Sprintf("provision: %v minus %v: does not fit", c, SpecCapacity(s)))
	}
	return Capacity{VCPU: c.VCPU - s.VCPU, MemoryMiB: c.MemoryMiB - s.MemoryMiB, DiskGiB: c.DiskGiB - s.DiskGiB}
}

// Add is c plus s. It panics on overflow, which only a caller that adds
// back what it never took can reach.
func (c Capacity) Add(s Spec) Capacity {
	r := Capacity{VCPU: c.VCPU + s.VCPU, MemoryMiB: c.MemoryMiB + s.MemoryMiB, DiskGiB: c.DiskGiB + s.DiskGiB}
	if r.VCPU < c.VCPU || r.MemoryMiB < c.MemoryMiB || r.DiskGiB < c.DiskGiB {
		panic(fmt.Sprintf("provision: %v plus %v overflows", c, SpecCapacity(s)))
	}
	return r
}

func (c Capacity) String() string {
	return fmt.Sprintf("%d vCPU, %d MiB memory, %d GiB disk", c.VCPU, c.MemoryMiB, c.DiskGiB)
}

// State is where a VM is in its lifecycle.
type State int

// The states of a VM. The zero value is no state, so a Domain that was
// never filled in is not mistaken for a defined one.
const (
	StateDefined State = iota + 1 // defined, not running (never started, or stopped)
	StateBooting                  // started, not yet running
	StateRunning
	StateCrashed // the guest died
	StateFailed  // could not boot; Domain.Reason says why
)

var stateNames = [...]string{
	StateDefined: "defined",
	StateBooting: "booting",
	StateRunning: "running",
	StateCrashed: "crashed",
	StateFailed:  "failed",
}

func (s State) String() string {
	if s >= StateDefined && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Domain is a VM as its host sees it.
type Domain struct {
	ID     string
	State  State
	Reason string // why the VM failed or crashed, when the host knows
	Spec   Spec
	// Access is how the VM's owner reaches it while it runs: the host's
	// advertised address and the port it forwards to the guest's SSH;
	// zero while the host publishes none (not running, no address yet,
	// or no forwarding configured).
	Access Access
}

// Access is a host's address and the port there that reaches a guest's
// SSH port.
type Access struct {
	Host string
	Port uint16
}

// Provisioner is what the node's controller needs of this operator's
// host: define, start and destroy VMs, and list them. Every call returns
// quickly and never waits for a guest; see the package comment for the
// contract. A call about an id the host does not hold returns ErrNotFound,
// and every call returns ErrHostDown while the host cannot be reached.
// Async, Sim and Libvirt implement it.
type Provisioner interface {
	// Define reserves the host's capacity for spec and defines the VM,
	// not started. It returns ErrInvalid, ErrExists, or ErrCapacity (also
	// when the host holds MaxDomains).
	Define(spec Spec) error
	// Start begins booting a defined, crashed or failed VM; of a booting
	// or running one it is a no-op.
	Start(id string) error
	// Destroy stops the VM if it runs, undefines it and frees its
	// capacity.
	Destroy(id string) error
	// List returns every VM on the host as the host sees it now, sorted
	// by ID; polling it is how the caller learns that a boot ended or a
	// guest died.
	List() ([]Domain, error)
}

// Host is a hypervisor that Async drives: a Provisioner that can also
// stop a VM gracefully and say what capacity it has. Sim and Libvirt
// implement it (and State, a single VM's view, for their tests and tools).
type Host interface {
	Provisioner
	// Stop shuts the VM down gracefully towards StateDefined, keeping its
	// reservation; of a defined one it is a no-op.
	Stop(id string) error
	// Capacity returns what the host offers and what of it no defined VM
	// has reserved.
	Capacity() (total, free Capacity, err error)
}

// checkSpec rejects what no host should be asked to define: it holds for
// every implementation, so it lives beside the interface.
func checkSpec(s Spec) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	switch {
	case s.VCPU == 0:
		return fmt.Errorf("%w: 0 vCPU: want at least 1", ErrInvalid)
	case s.MemoryMiB == 0:
		return fmt.Errorf("%w: 0 MiB memory: want at least 1", ErrInvalid)
	case s.DiskGiB == 0:
		return fmt.Errorf("%w: 0 GiB disk: want at least 1", ErrInvalid)
	case s.Image == "":
		return fmt.Errorf("%w: no image", ErrInvalid)
	case len(s.Image) > MaxImageBytes:
		return fmt.Errorf("%w: image name of %d bytes: want at most %d", ErrInvalid, len(s.Image), MaxImageBytes)
	case len(s.SSHKey) > MaxSSHKeyBytes:
		return fmt.Errorf("%w: SSH key of %d bytes: want at most %d", ErrInvalid, len(s.SSHKey), MaxSSHKeyBytes)
	case strings.ContainsFunc(s.SSHKey, isControl):
		// The guest's authorized_keys is read line by line: a second
		// line could add a key or options no one checked.
		return fmt.Errorf("%w: SSH key holds a line break or another control character: want one OpenSSH public key line", ErrInvalid)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkID keeps IDs to characters that are safe in a libvirt domain name
// and in a file name, so that no ID can reach outside its own domain.
func checkID(id string) error {
	if id == "" || len(id) > MaxIDBytes {
		return fmt.Errorf("%w: id of %d bytes: want 1 to %d", ErrInvalid, len(id), MaxIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("%w: id %q: want letters, digits, '-' and '_'", ErrInvalid, id)
		}
	}
	return nil
}
