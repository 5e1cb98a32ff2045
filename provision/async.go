package provision

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is Async's answer when its queue of operations is full: nothing
// was done, and the caller tries again on a later tick.
var ErrBusy = errors.New("provision: host busy")

// Defaults of AsyncConfig.
const (
	DefaultAsyncRefreshEvery = time.Second
	DefaultAsyncQueueLen     = 256
)

// AsyncConfig configures Async.
type AsyncConfig struct {
	// RefreshEvery is how often the view is read from the host when no
	// operation triggers a read: it bounds how late a crashed guest or a
	// finished boot shows.
	RefreshEvery time.Duration
	// QueueLen bounds the operations accepted but not yet done.
	QueueLen int
	// OnRefresh, if set, is called on Async's goroutine after each
	// refresh has updated the view, so that the runtime can schedule a
	// reconcile on the node's loop instead of waiting for its next tick.
	// It must return quickly: the next operation waits for it.
	OnRefresh func()
	// Executor runs Async's work off its caller's loop: applying accepted
	// operations to the inner host and refreshing the view. Nil runs it on
	// a goroutine of Async's own on the wall clock, as the live node does;
	// the simulator passes one that runs the same work on virtual time, on
	// its one goroutine.
	Executor Executor
}

// Executor runs Async's work later, off the stack of the call that hands
// it over: it must not run fn before Go or AfterFunc returns, as Async may
// hold its lock when it calls them. It runs one fn at a time.
type Executor interface {
	// Go runs fn after the fns handed to Go before it, in order. The time
	// it lets pass before is the executor's to decide: it stands for the
	// inner host's call.
	Go(fn func())
	// AfterFunc runs fn once d has passed.
	AfterFunc(d time.Duration, fn func())
}

// Async wraps a Host whose calls may take long (libvirt takes
// milliseconds to seconds) so that its caller never waits: the node's loop
// must never block.
//
// # Consistency model
//
// Reads (List, State, Capacity) answer from a view: the inner host as its
// last refresh saw it, overlaid with the operations accepted since. An
// accepted operation changes the view at once, optimistically: Define adds
// the VM as defined, Start makes it booting, Stop makes it defined,
// Destroy removes it. One goroutine applies operations to the inner host
// in the order they were accepted, and refreshes the view when its queue
// runs empty and every RefreshEvery. A refresh never overrides an id that
// has operations still to apply, so the view never steps back behind what
// the caller did; the host's own changes (a boot that ends, a guest that
// crashes) show at the next refresh.
//
// Where that work runs is AsyncConfig.Executor's: by default one goroutine
// of Async's own on the wall clock, in the simulator its agenda on virtual
// time; what the work does is the same either way.
//
// Operations are checked against the view as the inner host would check
// them (invalid specs, existing or absent VMs, capacity, the host being
// down), so most refusals are immediate and the same as the inner host's.
// An operation the inner host refuses all the same shows in the view: a
// failed Define or Start leaves the VM in StateFailed with the error as
// Reason (reserving its capacity, as a failed VM does) until the caller
// destroys or redefines it, which is how a level-triggered caller learns
// of it and converges. A failed Stop or Destroy is undone by the next
// refresh, which shows the VM as it is, so the caller repeats it. A failure
// of an operation the caller has since overtaken (a Start that fails after
// the VM was destroyed) changes nothing. An operation or refresh that
// finds the host unreachable makes every call return ErrHostDown until a
// refresh reaches it again. Counts of operations and of failures are in
// Stats.
//
// A Define is accepted only while the queue has room for the Start that
// follows it, so that a full queue does not split the pair; when the
// queue is full, operations return ErrBusy.
type Async struct {
	inner Host
	cfg   AsyncConfig

	mu     sync.Mutex
	view   map[string]Domain
	total  Capacity
	err    error // why the host cannot be read, from the last refresh or operation; nil if it can
	ids    map[string]*inflight
	life   uint64 // counts Defines and Destroys accepted: each starts a new life of its id
	closed bool

	queue   chan op
	done    chan struct{}
	stopped chan struct{}
	stats   asyncCounters
}

// inflight is what the view must keep of an id with operations in the
// queue or a failure to show.
type inflight struct {
	ops  int    // accepted, not yet applied
	life uint64 // the id's life as of the latest accepted operation
	// failed marks a VM whose Define or Start the inner host refused: the
	// view keeps it failed across refreshes.
	failed bool
}

type opKind int

const (
	opDefine opKind = iota
	opStart
	opStop
	opDestroy
	opKinds
)

var opNames = [opKinds]string{"define", "start", "stop", "destroy"}

type op struct {
	kind opKind
	spec Spec // ID only, but for Define
	life uint64
}

// OpStats counts calls of one kind to the inner host, and those that
// failed; a Destroy of a VM the host no longer holds did what was asked
// and is no failure.
type OpStats struct {
	Calls, Failures uint64
}

// AsyncStats are Async's counters since it was made.
type AsyncStats struct {
	Define, Start, Stop, Destroy OpStats
	Refresh                      OpStats
	// Busy counts operations refused because the queue was full.
	Busy uint64
}

type asyncCounters struct {
	calls, failures [opKinds + 1]atomic.Uint64 // the last slot counts refreshes
	busy            atomic.Uint64
}

const refreshSlot = opKinds

var _ Host = (*Async)(nil)

// NewAsync reads the inner host once, waiting for it, so that the first
// List answers from the host rather than from nothing (a node would
// otherwise report every VM lost on its first reconcile), and starts the
// goroutine that applies operations, or hands its periodic refresh to the
// executor. Close stops it.
func NewAsync(inner Host, cfg AsyncConfig) (*Async, error) {
	if cfg.RefreshEvery == 0 {
		cfg.RefreshEvery = DefaultAsyncRefreshEvery
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultAsyncQueueLen
	}
	switch {
	case inner == nil:
		return nil, errors.New("provision: async needs a provisioner to wrap")
	case cfg.RefreshEvery < 0:
		return nil, fmt.Errorf("provision: async refresh period %v: must be positive", cfg.RefreshEvery)
	case cfg.QueueLen < 2:
		return nil, fmt.Errorf("provision: async queue of %d: want at least 2 (a Define and its Start)", cfg.QueueLen)
	}
	a := &Async{
		inner:   inner,
		cfg:     cfg,
		view:    map[string]Domain{},
		ids:     map[string]*inflight{},
		queue:   make(chan op, cfg.QueueLen),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	a.refresh()
	if cfg.Executor == nil {
		go a.run()
	} else {
		close(a.stopped) // no goroutine to wait for
		cfg.Executor.AfterFunc(cfg.RefreshEvery, a.tick)
	}
	return a, nil
}

// Close stops the goroutine, after the inner call in progress returns.
// Operations still queued are dropped: a level-triggered caller repeats
// what it still wants. Calls after Close return ErrHostDown.
func (a *Async) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.stopped
		return
	}
	a.closed = true
	a.mu.Unlock()
	close(a.done)
	<-a.stopped
}

func (a *Async) run() {
	defer close(a.stopped)
	tick := time.NewTicker(a.cfg.RefreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-a.done:
			return
		case o := <-a.queue:
			a.step(o)
		case <-tick.C:
			a.refresh()
		}
	}
}

// step applies o, then refreshes the view if no operation waits:
// refreshing after every operation of a burst would read the whole host
// once per VM; once the queue is empty suffices.
func (a *Async) step(o op) {
	a.apply(o)
	if len(a.queue) == 0 {
		a.refresh()
	}
}

// next is the executor's turn to apply the oldest queued operation: each
// accepted operation hands it one. After Close the queue is dropped.
func (a *Async) next() {
	if a.isClosed() {
		return
	}
	select {
	case o := <-a.queue:
		a.step(o)
	default:
	}
}

// tick is the executor's periodic refresh.
func (a *Async) tick() {
	if a.isClosed() {
		return
	}
	a.refresh()
	a.cfg.Executor.AfterFunc(a.cfg.RefreshEvery, a.tick)
}

func (a *Async) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// refresh reads the inner host and installs what it says in the view,
// except for ids with operations still queued or a failure to keep.
func (a *Async) refresh() {
	doms, err := a.inner.List()
	var total Capacity
	if err == nil {
		total, _, err = a.inner.Capacity()
	}
	a.stats.calls[refreshSlot].Add(1)
	if err != nil {
		a.stats.failures[refreshSlot].Add(1)
	}
	a.mu.Lock()
	if err != nil {
		a.err = err
	} else {
		view := make(map[string]Domain, len(doms))
		for _, d := range doms {
			view[d.ID] = d
		}
		for id, f := range a.ids {
			d, ok := a.view[id]
			switch {
			case ok && (f.ops > 0 || f.failed):
				view[id] = d
			case f.ops > 0:
				delete(view, id)
			}
		}
		a.view, a.total, a.err = view, total, nil
	}
	a.mu.Unlock()
	if a.cfg.OnRefresh != nil {
		a.cfg.OnRefresh()
	}
}

// apply runs o on the inner host and records how it ended.
func (a *Async) apply(o op) {
	id := o.spec.ID
	var err error
	switch o.kind {
	case opDefine:
		err = a.inner.Define(o.spec)
	case opStart:
		err = a.inner.Start(id)
	case opStop:
		err = a.inner.Stop(id)
	case opDestroy:
		err = a.inner.Destroy(id)
		if errors.Is(err, ErrNotFound) {
			err = nil // gone is what was asked for
		}
	}
	a.stats.calls[o.kind].Add(1)
	if err != nil {
		a.stats.failures[o.kind].Add(1)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.ids[id]
	f.ops--
	switch {
	case err == nil:
	case errors.Is(err, ErrHostDown):
		a.err = err
	case f.life != o.life:
		// The caller destroyed or redefined the VM since: this failure
		// is about a VM that no longer exists.
	case o.kind == opDefine && errors.Is(err, ErrExists):
		// The host holds the VM although the view did not: the refresh
		// shows it as it is.
	case o.kind == opDefine || o.kind == opStart:
		// A Start after a failed Define fails as well; the first reason
		// is the one that explains.
		if d, ok := a.view[id]; ok {
			if d.State != StateFailed {
				d.State, d.Reason = StateFailed, err.Error()
			}
			a.view[id] = d
			f.failed = true
		}
	}
	if f.ops == 0 && !f.failed {
		delete(a.ids, id)
	}
}

// accept checks that the queue can take o and the op after it if
// roomAfter, and queues it. It marks the new life of the id when o begins
// or ends one. The caller holds mu.
func (a *Async) accept(o op, roomAfter bool) error {
	need := 1
	if roomAfter {
		need = 2
	}
	if len(a.queue)+need > cap(a.queue) {
		a.stats.busy.Add(1)
		return fmt.Errorf("%s %s: %w: %d operations wait for the host; retry later", opNames[o.kind], o.spec.ID, ErrBusy, len(a.queue))
	}
	id := o.spec.ID
	f := a.ids[id]
	if f == nil {
		f = &inflight{}
		a.ids[id] = f
	}
	if o.kind == opDefine || o.kind == opDestroy {
		a.life++
		f.life = a.life
	}
	o.life = f.life
	f.ops++
	f.failed = false
	// Sends happen under mu and the room was checked, so this never
	// blocks: the goroutine only takes from the queue.
	a.queue <- o
	if a.cfg.Executor != nil {
		a.cfg.Executor.Go(a.next)
	}
	return nil
}

// usable says why no call can be made now, if so. The caller holds mu.
func (a *Async) usable(opName, id string) error {
	what := strings.TrimSpace(opName + " " + id)
	switch {
	case a.closed:
		return fmt.Errorf("%s: %w: the provisioner is closed", what, ErrHostDown)
	case a.err != nil:
		return fmt.Errorf("%s: %w", what, a.err)
	}
	return nil
}

// lookup returns the view's VM id, or why a call on it cannot be made. The
// caller holds mu.
func (a *Async) lookup(opName, id string) (Domain, error) {
	if err := checkID(id); err != nil {
		return Domain{}, fmt.Errorf("%s: %w", opName, err)
	}
	if err := a.usable(opName, id); err != nil {
		return Domain{}, err
	}
	d, ok := a.view[id]
	if !ok {
		return Domain{}, fmt.Errorf("%s %s: %w", opName, id, ErrNotFound)
	}
	return d, nil
}

// free is the host's capacity minus what the view's VMs reserve, zero
// where they reserve more than the host has. The caller holds mu.
func (a *Async) free() Capacity {
	var vcpu, mem, disk uint64
	for _, d := range a.view {
		vcpu = satAdd(vcpu, uint64(d.Spec.VCPU))
		mem = satAdd(mem, d.Spec.MemoryMiB)
		disk = satAdd(disk, d.Spec.DiskGiB)
	}
	return Capacity{
		VCPU:      uint32(uint64(a.total.VCPU) - min(uint64(a.total.VCPU), vcpu)),
		MemoryMiB: a.total.MemoryMiB - min(a.total.MemoryMiB, mem),
		DiskGiB:   a.total.DiskGiB - min(a.total.DiskGiB, disk),
	}
}

// Define queues the definition; the VM is defined in the view at once.
func (a *Async) Define(spec Spec) error {
	if err := checkSpec(spec); err != nil {
		return fmt.Errorf("define: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.usable("define", spec.ID); err != nil {
		return err
	}
	free := a.free()
	switch _, exists := a.view[spec.ID]; {
	case exists:
		return fmt.Errorf("define %s: %w", spec.ID, ErrExists)
	case len(a.view) >= MaxDomains:
		return fmt.Errorf("define %s: %w: the host holds %d VMs, its limit", spec.ID, ErrCapacity, MaxDomains)
	case !free.Fits(spec):
		return fmt.Errorf("define %s: %w: it needs %v, %v of %v is free",
			spec.ID, ErrCapacity, SpecCapacity(spec), free, a.total)
	}
	if err := a.accept(op{kind: opDefine, spec: spec}, true); err != nil {
		return err
	}
	a.view[spec.ID] = Domain{ID: spec.ID, State: StateDefined, Spec: spec}
	return nil
}

// Start queues the boot; the VM is booting in the view at once. Of a VM
// the view has booting or running it is a no-op.
func (a *Async) Start(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, err := a.lookup("start", id)
	if err != nil {
		return err
	}
	if d.State == StateBooting || d.State == StateRunning {
		return nil
	}
	if err := a.accept(op{kind: opStart, spec: Spec{ID: id}}, false); err != nil {
		return err
	}
	d.State, d.Reason = StateBooting, ""
	a.view[id] = d
	return nil
}

// Stop queues the shutdown; the VM is defined in the view at once. Of a
// VM the view has defined it is a no-op.
func (a *Async) Stop(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, err := a.lookup("stop", id)
	if err != nil {
		return err
	}
	if d.State == StateDefined {
		return nil
	}
	if err := a.accept(op{kind: opStop, spec: Spec{ID: id}}, false); err != nil {
		return err
	}
	d.State, d.Reason = StateDefined, ""
	a.view[id] = d
	return nil
}

// Destroy queues the destruction; the VM leaves the view, and frees its
// capacity there, at once.
func (a *Async) Destroy(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.lookup("destroy", id); err != nil {
		return err
	}
	if err := a.accept(op{kind: opDestroy, spec: Spec{ID: id}}, false); err != nil {
		return err
	}
	delete(a.view, id)
	return nil
}

// State returns the VM as the view has it.
func (a *Async) State(id string) (Domain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookup("state", id)
}

// List returns the view's VMs, sorted by ID.
func (a *Async) List() ([]Domain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.usable("list", ""); err != nil {
		return nil, err
	}
	out := make([]Domain, 0, len(a.view))
	for _, d := range a.view {
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y Domain) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// Capacity returns the host's capacity as last read and what of it the
// view's VMs do not reserve.
func (a *Async) Capacity() (total, free Capacity, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.usable("capacity", ""); err != nil {
		return Capacity{}, Capacity{}, err
	}
	return a.total, a.free(), nil
}

// Stats returns the counters; they are read atomically one by one, not as
// a snapshot.
func (a *Async) Stats() AsyncStats {
	c := &a.stats
	get := func(k opKind) OpStats { return OpStats{Calls: c.calls[k].Load(), Failures: c.failures[k].Load()} }
	return AsyncStats{
		Define:  get(opDefine),
		Start:   get(opStart),
		Stop:    get(opStop),
		Destroy: get(opDestroy),
		Refresh: get(refreshSlot),
		Busy:    c.busy.Load(),
	}
}
