package provision

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// SimConfig configures a simulated host.
type SimConfig struct {
	Capacity Capacity
	// BootTime is how long a VM takes from Start to running; 0 boots at
	// once.
	BootTime time.Duration
	// Now is the runtime's clock (virtual time in the simulator), Unix ns.
	Now func() int64
	// Rand is the runtime's seeded source; required if BootFailure > 0.
	Rand *rand.Rand
	// BootFailure is the probability that a boot fails.
	BootFailure float64
	// Address is the host's advertised address: a running VM's Access is
	// this address and a port of its own from DefaultPortMin up, as a
	// host that forwards ports publishes it. Empty publishes none.
	Address string
}

// Sim is a simulated hypervisor: an in-memory host whose VMs boot after
// BootTime on the runtime's clock. It is safe for concurrent use, so that
// a test may inject faults from outside the node's goroutine.
type Sim struct {
	mu       sync.Mutex
	cfg      SimConfig
	doms     map[string]*simDomain
	free     Capacity
	down     bool
	failNext int               // boots that fail whatever the draw
	nowMax   int64             // the latest time read from cfg.Now
	ports    map[uint16]string // the forwarded ports given out, to VM ids
}

var _ Host = (*Sim)(nil)

// simDomain holds the state a call last set. Booting turns into running or
// failed when the clock passes readyAt, computed on every read rather than
// stored, so that nothing has to run at readyAt.
type simDomain struct {
	spec    Spec
	state   State // defined, booting, crashed or failed
	reason  string
	readyAt int64  // booting: when the boot ends
	fails   bool   // booting: it ends in StateFailed
	port    uint16 // the port forwarded to its SSH, 0 for none
}

const (
	reasonBootFailed = "boot failed (simulated)"
	reasonCrashed    = "guest crashed (simulated)"
)

// NewSim returns an empty, running host.
func NewSim(cfg SimConfig) (*Sim, error) {
	c := cfg.Capacity
	switch {
	case c.VCPU == 0 || c.MemoryMiB == 0 || c.DiskGiB == 0:
		return nil, fmt.Errorf("provision: sim capacity %v: every part must be positive", c)
	case cfg.BootTime < 0:
		return nil, fmt.Errorf("provision: sim boot time %v: must not be negative", cfg.BootTime)
	case cfg.Now == nil:
		return nil, errors.New("provision: sim needs the runtime's clock (SimConfig.Now)")
	case !(cfg.BootFailure >= 0 && cfg.BootFailure <= 1):
		return nil, fmt.Errorf("provision: sim boot failure %v: want a probability in [0, 1]", cfg.BootFailure)
	case cfg.BootFailure > 0 && cfg.Rand == nil:
		return nil, errors.New("provision: sim boot failures need the runtime's seeded source (SimConfig.Rand)")
	}
	return &Sim{cfg: cfg, doms: map[string]*simDomain{}, free: c, nowMax: math.MinInt64, ports: map[uint16]string{}}, nil
}

// now reads the clock, never backwards: a live wall clock may step back,
// and a running VM must not turn into a booting one.
func (s *Sim) now() int64 {
	s.nowMax = max(s.nowMax, s.cfg.Now())
	return s.nowMax
}

// view is d as the host sees it at now.
func (s *Sim) view(d *simDomain, now int64) Domain {
	st, reason := d.state, d.reason
	if st == StateBooting && now >= d.readyAt {
		st = StateRunning
		if d.fails {
			st, reason = StateFailed, reasonBootFailed
		}
	}
	dom := Domain{ID: d.spec.ID, State: st, Reason: reason, Spec: d.spec}
	if st == StateRunning && d.port != 0 {
		dom.Access = Access{Host: s.cfg.Address, Port: d.port}
	}
	return dom
}

// port gives id the lowest forwarded port not given out, or 0 if the
// host publishes no access or the range is full.
func (s *Sim) port(id string) uint16 {
	if s.cfg.Address == "" {
		return 0
	}
	for p := uint16(DefaultPortMin); p <= DefaultPortMax; p++ {
		if _, taken := s.ports[p]; !taken {
			s.ports[p] = id
			return p
		}
	}
	return 0
}

// lookup returns the domain id, or why the call cannot reach it.
func (s *Sim) lookup(op, id string) (*simDomain, error) {
	if s.down {
		return nil, fmt.Errorf("%s %s: %w", op, id, ErrHostDown)
	}
	d, ok := s.doms[id]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, id, ErrNotFound)
	}
	return d, nil
}

// Define reserves the host's capacity for spec and defines the VM.
func (s *Sim) Define(spec Spec) error {
	if err := checkSpec(spec); err != nil {
		return fmt.Errorf("define: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.down:
		return fmt.Errorf("define %s: %w", spec.ID, ErrHostDown)
	case s.doms[spec.ID] != nil:
		return fmt.Errorf("define %s: %w", spec.ID, ErrExists)
	case len(s.doms) >= MaxDomains:
		return fmt.Errorf("define %s: %w: the host holds %d VMs, its limit", spec.ID, ErrCapacity, MaxDomains)
	case !s.free.Fits(spec):
		return fmt.Errorf("define %s: %w: it needs %v, %v of %v is free",
			spec.ID, ErrCapacity, SpecCapacity(spec), s.free, s.cfg.Capacity)
	}
	s.free = s.free.Sub(spec)
	s.doms[spec.ID] = &simDomain{spec: spec, state: StateDefined, port: s.port(spec.ID)}
	return nil
}

// Start begins booting the VM. Whether the boot fails is decided now. The
// source is drawn whenever BootFailure > 0, even for a boot FailNextBoots
// already doomed, so that injecting a failure does not shift the outcomes
// of the boots after it.
func (s *Sim) Start(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookup("start", id)
	if err != nil {
		return err
	}
	now := s.now()
	switch s.view(d, now).State {
	case StateBooting, StateRunning:
		return nil
	}
	fails := s.cfg.BootFailure > 0 && s.cfg.Rand.Float64() < s.cfg.BootFailure
	if s.failNext > 0 {
		s.failNext--
		fails = true
	}
	readyAt := now + int64(s.cfg.BootTime)
	if readyAt < now {
		readyAt = math.MaxInt64
	}
	*d = simDomain{spec: d.spec, state: StateBooting, readyAt: readyAt, fails: fails, port: d.port}
	return nil
}

// Stop shuts the VM down; a simulated guest does so at once.
func (s *Sim) Stop(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookup("stop", id)
	if err != nil {
		return err
	}
	*d = simDomain{spec: d.spec, state: StateDefined, port: d.port}
	return nil
}

// Destroy removes the VM and frees its capacity.
func (s *Sim) Destroy(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookup("destroy", id)
	if err != nil {
		return err
	}
	delete(s.doms, id)
	delete(s.ports, d.port)
	s.free = s.free.Add(d.spec)
	return nil
}

// State returns the VM as the host sees it now.
func (s *Sim) State(id string) (Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookup("state", id)
	if err != nil {
		return Domain{}, err
	}
	return s.view(d, s.now()), nil
}

// List returns every VM on the host, sorted by ID.
func (s *Sim) List() ([]Domain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, fmt.Errorf("list: %w", ErrHostDown)
	}
	now := s.now()
	out := make([]Domain, 0, len(s.doms))
	for _, d := range s.doms {
		out = append(out, s.view(d, now))
	}
	slices.SortFunc(out, func(a, b Domain) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Capacity returns the host's capacity and what of it is not reserved.
func (s *Sim) Capacity() (total, free Capacity, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return Capacity{}, Capacity{}, fmt.Errorf("capacity: %w", ErrHostDown)
	}
	return s.cfg.Capacity, s.free, nil
}

// Kill makes the host die: its VMs are gone, and every call returns
// ErrHostDown until Revive.
func (s *Sim) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
	clear(s.doms)
	clear(s.ports)
	s.free = s.cfg.Capacity
}

// Revive brings a killed host back, empty.
func (s *Sim) Revive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
}

// Down reports whether the host is dead (between Kill and Revive).
func (s *Sim) Down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// Crash makes a booting or running guest die. A VM with no guest cannot
// crash, and saying so catches a fault injector aimed at the wrong VM.
func (s *Sim) Crash(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.lookup("crash", id)
	if err != nil {
		return err
	}
	if st := s.view(d, s.now()).State; st != StateBooting && st != StateRunning {
		return fmt.Errorf("crash %s: the VM is %s, it has no guest to crash", id, st)
	}
	*d = simDomain{spec: d.spec, state: StateCrashed, reason: reasonCrashed, port: d.port}
	return nil
}

// FailNextBoots makes the next n boots fail, replacing any earlier count;
// n <= 0 cancels it. The count outlives Kill: it belongs to the
// hypervisor, not to its VMs.
func (s *Sim) FailNextBoots(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = max(n, 0)
}
