package provision_test

// Tests of Async over Sim. No test waits for a duration: they wait on
// channels and on the refresh hook, so they are as fast as the machine and
// never flaky; a test that would block forever is caught by go test's
// timeout.

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dagger/provision"
)

// atomicClock is the runtime's clock, moved by the test while Async's
// goroutine reads it through Sim.
type atomicClock struct{ ns atomic.Int64 }

func (c *atomicClock) now() int64              { return c.ns.Load() }
func (c *atomicClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// gate passes calls to a Provisioner, counting the operations. While shut,
// each operation announces itself on entered and waits for release, as a
// libvirt call waits for the daemon.
type gate struct {
	provision.Host
	shut    bool
	entered chan string
	release chan struct{}
	ops     atomic.Uint64
	// startErr, if set, is what every Start returns, as when libvirt
	// cannot launch a guest.
	startErr error
}

func (g *gate) pass(call string) {
	if g.shut {
		g.entered <- call
		<-g.release
	}
}

func (g *gate) Define(s provision.Spec) error {
	g.pass("define " + s.ID)
	defer g.ops.Add(1)
	return g.Host.Define(s)
}

func (g *gate) Start(id string) error {
	g.pass("start " + id)
	defer g.ops.Add(1)
	if g.startErr != nil {
		return g.startErr
	}
	return g.Host.Start(id)
}

func (g *gate) Stop(id string) error {
	g.pass("stop " + id)
	defer g.ops.Add(1)
	return g.Host.Stop(id)
}

func (g *gate) Destroy(id string) error {
	g.pass("destroy " + id)
	defer g.ops.Add(1)
	return g.Host.Destroy(id)
}

// harness is an Async over a gate over a Sim, with what a test needs to
// wait for Async's goroutine.
type harness struct {
	*provision.Async
	sim  *provision.Sim
	gate *gate
	clk  *atomicClock

	mu        sync.Mutex
	cond      *sync.Cond
	refreshes uint64 // refreshes done
	opsSeen   uint64 // operations done before the latest refresh
}

func newHarness(t *testing.T, shut bool, mod func(*provision.AsyncConfig)) *harness {
	t.Helper()
	clk := &atomicClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	hv, err := provision.NewSim(provision.SimConfig{Capacity: testHost, BootTime: 2 * time.Second, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{sim: hv, clk: clk,
		gate: &gate{Host: hv, shut: shut, entered: make(chan string), release: make(chan struct{})}}
	h.cond = sync.NewCond(&h.mu)
	cfg := provision.AsyncConfig{RefreshEvery: time.Hour, OnRefresh: h.refreshed}
	if mod != nil {
		mod(&cfg)
	}
	a, err := provision.NewAsync(h.gate, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Async = a
	t.Cleanup(a.Close)
	return h
}

// refreshed runs on Async's goroutine after each refresh. That goroutine is
// the only caller of operations, so the gate's count is exact here.
func (h *harness) refreshed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshes++
	h.opsSeen = h.gate.ops.Load()
	h.cond.Broadcast()
}

// settle waits until ops operations are done and a refresh followed them.
func (h *harness) settle(ops uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.opsSeen < ops {
		h.cond.Wait()
	}
}

// fresh waits until a refresh has started after this call, so that the
// view shows what the host held at the call. It needs periodic refreshes.
func (h *harness) fresh() {
	h.mu.Lock()
	defer h.mu.Unlock()
	// The refresh in progress may have read the host already; the one
	// after it has not.
	for r0 := h.refreshes; h.refreshes < r0+2; {
		h.cond.Wait()
	}
}

// admit lets the gated call want through, failing if another comes.
func (h *harness) admit(t *testing.T, want string) {
	t.Helper()
	if got := <-h.gate.entered; got != want {
		t.Fatalf("the host was asked to %s, want %s", got, want)
	}
	h.gate.release <- struct{}{}
}

func wantList(t *testing.T, p provision.Provisioner, want ...string) {
	t.Helper()
	if got := listed(t, p); !slices.Equal(got, want) {
		t.Fatalf("list %v, want %v", got, want)
	}
}

func wantFree(t *testing.T, p provision.Host, want provision.Capacity) {
	t.Helper()
	total, free, err := p.Capacity()
	mustDo(t, "capacity", err)
	if total != testHost || free != want {
		t.Fatalf("capacity %v free of %v, want %v free of %v", free, total, want, testHost)
	}
}

func TestAsyncLifecycle(t *testing.T) {
	h := newHarness(t, false, nil)
	wantList(t, h)
	mustDo(t, "define", h.Define(spec("a", 2, 2048, 20)))
	wantList(t, h, "a:defined")
	wantFree(t, h, provision.Capacity{VCPU: 6, MemoryMiB: 14336, DiskGiB: 80})
	mustDo(t, "start", h.Start("a"))
	wantState(t, h, "a", provision.StateBooting)
	h.settle(2)
	wantState(t, h, "a", provision.StateBooting) // the host's boot takes 2s
	if d, _ := h.sim.State("a"); d.State != provision.StateBooting {
		t.Fatalf("the host has a %s", d.State)
	}

	h.clk.advance(2 * time.Second)
	mustDo(t, "define b", h.Define(spec("b", 1, 1024, 10)))
	h.settle(3)
	wantList(t, h, "a:running", "b:defined")
	mustDo(t, "start of a running VM", h.Start("a"))
	mustDo(t, "stop of a defined VM", h.Stop("b"))

	mustDo(t, "stop", h.Stop("a"))
	wantState(t, h, "a", provision.StateDefined)
	mustDo(t, "destroy", h.Destroy("a"))
	wantList(t, h, "b:defined")
	wantFree(t, h, provision.Capacity{VCPU: 7, MemoryMiB: 15360, DiskGiB: 90})
	h.settle(5)
	if doms, _ := h.sim.List(); len(doms) != 1 || doms[0].ID != "b" {
		t.Fatalf("the host holds %v", doms)
	}
	if got, want := h.Stats(), (provision.AsyncStats{
		Define: provision.OpStats{Calls: 2}, Start: provision.OpStats{Calls: 1},
		Stop: provision.OpStats{Calls: 1}, Destroy: provision.OpStats{Calls: 1},
		Refresh: provision.OpStats{Calls: h.Stats().Refresh.Calls},
	}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// Every method returns while the host is stuck in a call, and the view
// already shows what was asked.
func TestAsyncNeverBlocks(t *testing.T) {
	h := newHarness(t, true, nil)
	mustDo(t, "define a", h.Define(spec("a", 2, 2048, 20)))
	// The host is now inside Define, and stays there until admitted.
	if got := <-h.gate.entered; got != "define a" {
		t.Fatalf("the host was asked to %s", got)
	}
	mustDo(t, "start a", h.Start("a"))
	mustDo(t, "define b", h.Define(spec("b", 1, 1024, 10)))
	mustDo(t, "stop b", h.Stop("b"))
	mustDo(t, "destroy b", h.Destroy("b"))
	wantErr(t, "define a again", h.Define(spec("a", 1, 1, 1)), provision.ErrExists)
	wantErr(t, "start of an unknown VM", h.Start("x"), provision.ErrNotFound)
	wantList(t, h, "a:booting")
	wantState(t, h, "a", provision.StateBooting)
	wantFree(t, h, provision.Capacity{VCPU: 6, MemoryMiB: 14336, DiskGiB: 80})
	if s := h.Stats(); s.Define.Calls != 0 {
		t.Fatalf("stats %+v while the first call is still running", s)
	}

	h.gate.release <- struct{}{}
	h.admit(t, "start a")
	h.admit(t, "define b")
	h.admit(t, "destroy b") // Stop of a defined VM is a no-op, never queued
	h.settle(4)
	wantList(t, h, "a:booting")
	if doms, _ := h.sim.List(); len(doms) != 1 || doms[0].ID != "a" || doms[0].State != provision.StateBooting {
		t.Fatalf("the host holds %v", doms)
	}
}

// A full queue refuses at once with ErrBusy, and a Define is refused while
// its Start would not fit after it.
func TestAsyncQueueBound(t *testing.T) {
	h := newHarness(t, true, func(c *provision.AsyncConfig) { c.QueueLen = 2 })
	mustDo(t, "define a", h.Define(spec("a", 1, 1024, 10)))
	if got := <-h.gate.entered; got != "define a" { // taken off the queue
		t.Fatalf("the host was asked to %s", got)
	}
	mustDo(t, "start a", h.Start("a"))
	wantErr(t, "define b with room for one", h.Define(spec("b", 1, 1024, 10)), provision.ErrBusy)
	mustDo(t, "stop a", h.Stop("a"))
	wantErr(t, "destroy a with the queue full", h.Destroy("a"), provision.ErrBusy)
	wantList(t, h, "a:defined")
	if s := h.Stats(); s.Busy != 2 {
		t.Fatalf("busy %d, want 2", s.Busy)
	}

	h.gate.release <- struct{}{}
	h.admit(t, "start a")
	h.admit(t, "stop a")
	h.settle(3)
	mustDo(t, "destroy a once there is room", h.Destroy("a"))
	h.admit(t, "destroy a")
	h.settle(4)
	wantList(t, h)
}

func TestAsyncFailedStartShowsFailed(t *testing.T) {
	h := newHarness(t, false, nil)
	h.gate.startErr = errors.New("start a: qemu: no such image")
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	mustDo(t, "start", h.Start("a"))
	h.settle(2)
	d := wantState(t, h, "a", provision.StateFailed)
	if d.Reason != "start a: qemu: no such image" || d.Spec != spec("a", 1, 1024, 10) {
		t.Fatalf("failed VM %+v", d)
	}
	// The host says defined; the failure stays until the caller acts.
	mustDo(t, "define b", h.Define(spec("b", 1, 1024, 10)))
	h.settle(3)
	wantList(t, h, "a:failed", "b:defined")
	if s := h.Stats(); s.Start != (provision.OpStats{Calls: 1, Failures: 1}) {
		t.Fatalf("start stats %+v", s.Start)
	}
	mustDo(t, "destroy", h.Destroy("a"))
	h.settle(4)
	wantList(t, h, "b:defined")
}

// A Define the host refuses although the view had room (the host changed
// behind the view's back) shows as a failed VM that the caller destroys.
func TestAsyncFailedDefineShowsFailed(t *testing.T) {
	h := newHarness(t, true, nil)
	mustDo(t, "define on the host directly", h.sim.Define(spec("x", 8, 1024, 10)))
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	mustDo(t, "start", h.Start("a"))
	h.admit(t, "define a")
	h.admit(t, "start a")
	h.settle(2)
	d := wantState(t, h, "a", provision.StateFailed)
	if !strings.Contains(d.Reason, "lacks capacity") {
		t.Fatalf("reason %q, want the define's", d.Reason)
	}
	wantList(t, h, "a:failed", "x:defined")
	mustDo(t, "destroy", h.Destroy("a"))
	wantList(t, h, "x:defined")
	h.admit(t, "destroy a")
	h.settle(3)
	wantList(t, h, "x:defined")
	if s := h.Stats(); s.Define.Failures != 1 || s.Start.Failures != 1 || s.Destroy != (provision.OpStats{Calls: 1}) {
		t.Fatalf("stats %+v: a destroy of what never was is no failure", s)
	}
}

// A Start that comes after its Define failed finds no VM on the host: the
// VM is failed again, not silently gone, so the caller learns of it.
func TestAsyncStartAfterAFailedDefine(t *testing.T) {
	h := newHarness(t, true, nil)
	mustDo(t, "define on the host directly", h.sim.Define(spec("x", 8, 1024, 10)))
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	h.admit(t, "define a")
	h.settle(1)
	wantState(t, h, "a", provision.StateFailed)
	mustDo(t, "start of a failed VM", h.Start("a"))
	wantState(t, h, "a", provision.StateBooting)
	h.admit(t, "start a")
	h.settle(2)
	if d := wantState(t, h, "a", provision.StateFailed); !strings.Contains(d.Reason, "no such VM") {
		t.Fatalf("reason %q", d.Reason)
	}
}

// A failure that arrives after the caller destroyed the VM does not bring
// it back.
func TestAsyncLateFailureOfADestroyedVM(t *testing.T) {
	h := newHarness(t, true, nil)
	h.gate.startErr = errors.New("boom")
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	mustDo(t, "start", h.Start("a"))
	h.admit(t, "define a")
	if got := <-h.gate.entered; got != "start a" {
		t.Fatalf("the host was asked to %s", got)
	}
	mustDo(t, "destroy while the start runs", h.Destroy("a"))
	h.gate.release <- struct{}{}
	h.admit(t, "destroy a")
	h.settle(3)
	wantList(t, h)
}

func TestAsyncSeesTheHostChange(t *testing.T) {
	h := newHarness(t, false, func(c *provision.AsyncConfig) { c.RefreshEvery = time.Millisecond })
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	mustDo(t, "start", h.Start("a"))
	h.settle(2)
	h.clk.advance(2 * time.Second)
	h.fresh()
	wantState(t, h, "a", provision.StateRunning)
	mustDo(t, "crash", h.sim.Crash("a"))
	h.fresh()
	if d := wantState(t, h, "a", provision.StateCrashed); d.Reason != "guest crashed (simulated)" {
		t.Fatalf("reason %q", d.Reason)
	}

	h.sim.Kill()
	h.fresh()
	_, err := h.List()
	wantErr(t, "list of a dead host", err, provision.ErrHostDown)
	wantErr(t, "define on a dead host", h.Define(spec("b", 1, 1, 1)), provision.ErrHostDown)
	wantErr(t, "destroy on a dead host", h.Destroy("a"), provision.ErrHostDown)
	_, _, err = h.Capacity()
	wantErr(t, "capacity of a dead host", err, provision.ErrHostDown)
	h.sim.Revive()
	h.fresh()
	wantList(t, h)
	wantFree(t, h, testHost)
	if s := h.Stats(); s.Refresh.Failures == 0 {
		t.Fatalf("stats %+v: the dead host's refreshes did not count as failed", s)
	}
}

func TestAsyncClose(t *testing.T) {
	h := newHarness(t, false, nil)
	mustDo(t, "define", h.Define(spec("a", 1, 1024, 10)))
	h.settle(1)
	h.Close()
	h.Close()
	wantErr(t, "define after close", h.Define(spec("b", 1, 1, 1)), provision.ErrHostDown)
	_, err := h.List()
	wantErr(t, "list after close", err, provision.ErrHostDown)
}

func TestAsyncChecksLikeTheHost(t *testing.T) {
	h := newHarness(t, true, nil)
	wantErr(t, "invalid spec", h.Define(spec("a", 0, 1, 1)), provision.ErrInvalid)
	wantErr(t, "invalid id", h.Destroy("../a"), provision.ErrInvalid)
	wantErr(t, "too big", h.Define(spec("a", 9, 1, 1)), provision.ErrCapacity)
	_, err := h.State("a")
	wantErr(t, "state of nothing", err, provision.ErrNotFound)
	wantErr(t, "stop of nothing", h.Stop("a"), provision.ErrNotFound)
	if s := h.Stats(); s != (provision.AsyncStats{Refresh: provision.OpStats{Calls: 1}}) {
		t.Fatalf("refusals reached the host: %+v", s)
	}
}

func TestNewAsyncValidates(t *testing.T) {
	hv, err := provision.NewSim(provision.SimConfig{Capacity: testHost, Now: newClock().now})
	mustDo(t, "sim", err)
	for _, tc := range []struct {
		name  string
		inner provision.Host
		cfg   provision.AsyncConfig
		ok    bool
	}{
		{"defaults", hv, provision.AsyncConfig{}, true},
		{"no provisioner", nil, provision.AsyncConfig{}, false},
		{"negative period", hv, provision.AsyncConfig{RefreshEvery: -time.Second}, false},
		{"a queue too short for a Define and its Start", hv, provision.AsyncConfig{QueueLen: 1}, false},
		{"a negative queue", hv, provision.AsyncConfig{QueueLen: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := provision.NewAsync(tc.inner, tc.cfg)
			if tc.ok != (err == nil) || (a == nil) == tc.ok {
				t.Fatalf("NewAsync: %v, %v; want ok %v", a, err, tc.ok)
			}
			if a != nil {
				a.Close()
			}
		})
	}
}

// reconcile is the controller's loop in node.reconcile, reduced to what
// it asks of the provisioner: run exactly the wanted VMs, replace failed
// and crashed ones, destroy strays.
func reconcile(p provision.Provisioner, want map[string]provision.Spec) {
	doms, err := p.List()
	if err != nil {
		return
	}
	have := map[string]provision.Domain{}
	for _, d := range doms {
		have[d.ID] = d
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		d, ok := have[id]
		delete(have, id)
		switch {
		case !ok:
			err := p.Define(want[id])
			if err == nil {
				err = p.Start(id)
			}
			if err != nil {
				_ = p.Destroy(id)
			}
		case d.State == provision.StateDefined:
			_ = p.Start(id)
		case d.State == provision.StateCrashed || d.State == provision.StateFailed:
			_ = p.Destroy(id)
		}
	}
	for id := range have {
		_ = p.Destroy(id)
	}
}

// Driven by the controller's loop through faults (failed boots, crashes, a
// dead host, a small queue), Async converges: once the faults stop, the
// host runs exactly the wanted VMs.
func TestAsyncReconcileConverges(t *testing.T) {
	h := newHarness(t, false, func(c *provision.AsyncConfig) {
		c.QueueLen = 4
		c.RefreshEvery = 100 * time.Microsecond
	})
	rng := rand.New(rand.NewPCG(5, 5))
	want := map[string]provision.Spec{}
	for tick := range 300 {
		faulty := tick < 200
		if faulty {
			switch rng.IntN(12) {
			case 0, 1:
				// At most 8 of 1 vCPU each: the host's 8 vCPU hold them all.
				id := fmt.Sprintf("v%d", rng.IntN(8))
				want[id] = spec(id, 1, 1024, 10)
			case 2:
				delete(want, fmt.Sprintf("v%d", rng.IntN(8)))
			case 3:
				h.sim.FailNextBoots(1)
			case 4:
				if doms, err := h.sim.List(); err == nil && len(doms) > 0 {
					_ = h.sim.Crash(doms[rng.IntN(len(doms))].ID)
				}
			case 5:
				if rng.IntN(4) == 0 {
					h.sim.Kill()
				} else {
					h.sim.Revive()
				}
			}
		} else {
			h.sim.FailNextBoots(0)
			h.sim.Revive()
		}
		reconcile(h, want)
		h.clk.advance(time.Second)
		h.fresh()
	}
	doms, err := h.sim.List()
	mustDo(t, "list", err)
	var got, wanted []string
	for _, d := range doms {
		got = append(got, d.ID+":"+d.State.String())
	}
	for id := range want {
		wanted = append(wanted, id+":running")
	}
	slices.Sort(wanted)
	if !slices.Equal(got, wanted) {
		t.Fatalf("the host runs %v, want %v", got, wanted)
	}
	if s := h.Stats(); s.Start.Calls == 0 || s.Destroy.Calls == 0 || s.Refresh.Failures == 0 {
		t.Fatalf("stats %+v: the run did not reach the faults it claims", s)
	}
}

// The live node wraps its libvirt host in Async, so that its loop never
// waits for the daemon; here a Sim plays the host. The view answers at
// once with what was asked; the host catches up on Async's goroutine.
func ExampleAsync() {
	host, err := provision.NewSim(provision.SimConfig{
		Capacity: provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100},
		BootTime: 30 * time.Second,
		Now:      func() int64 { return 0 },
	})
	if err != nil {
		panic(err)
	}
	p, err := provision.NewAsync(host, provision.AsyncConfig{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	spec := provision.Spec{ID: "3f2a", VCPU: 2, MemoryMiB: 4096, DiskGiB: 40, Image: "debian-12"}
	if err := p.Define(spec); err != nil {
		panic(err)
	}
	if err := p.Start(spec.ID); err != nil {
		panic(err)
	}
	d, _ := p.State(spec.ID)
	_, free, _ := p.Capacity()
	fmt.Println(d.State, "-", free)
	// Output:
	// booting - 2 vCPU, 4096 MiB memory, 60 GiB disk
}

// stepper is an Executor that runs Async's work only when the test says,
// on the test's goroutine, the way the simulator runs it on virtual time.
type stepper struct {
	now    time.Duration
	queued []func()
	timers []stepTimer
}

type stepTimer struct {
	at time.Duration
	fn func()
}

func (x *stepper) Go(fn func()) { x.queued = append(x.queued, fn) }

func (x *stepper) AfterFunc(d time.Duration, fn func()) {
	x.timers = append(x.timers, stepTimer{x.now + d, fn})
}

// drain runs the queued work, in order, and reports how much it ran.
func (x *stepper) drain() int {
	n := 0
	for len(x.queued) > 0 {
		fn := x.queued[0]
		x.queued = x.queued[1:]
		fn()
		n++
	}
	return n
}

// advance moves the executor's clock by d and runs the timers due.
func (x *stepper) advance(d time.Duration) {
	x.now += d
	for i := 0; i < len(x.timers); {
		if t := x.timers[i]; t.at <= x.now {
			x.timers = slices.Delete(x.timers, i, i+1)
			t.fn()
			continue
		}
		i++
	}
}

// TestAsyncOnAnExecutor: with an executor Async starts no goroutine; an
// accepted operation shows in the view at once and reaches the host only
// when the executor runs it, in order; the periodic refresh is a timer on
// the executor; Close drops what is queued.
func TestAsyncOnAnExecutor(t *testing.T) {
	clk := &atomicClock{}
	hv, err := provision.NewSim(provision.SimConfig{Capacity: testHost, BootTime: 2 * time.Second, Now: clk.now})
	mustDo(t, "host", err)
	x := &stepper{}
	a, err := provision.NewAsync(hv, provision.AsyncConfig{RefreshEvery: time.Second, Executor: x})
	mustDo(t, "new", err)
	if len(x.queued) != 0 || len(x.timers) != 1 || a.Stats().Refresh.Calls != 1 {
		t.Fatalf("after NewAsync: %d queued, %d timers, %+v", len(x.queued), len(x.timers), a.Stats())
	}

	mustDo(t, "define", a.Define(spec("a", 2, 2048, 20)))
	mustDo(t, "start", a.Start("a"))
	wantState(t, a, "a", provision.StateBooting)
	if doms, _ := hv.List(); len(doms) != 0 {
		t.Fatalf("the host was called before the executor ran: %v", doms)
	}
	if n := x.drain(); n != 2 {
		t.Fatalf("ran %d, want the define and the start", n)
	}
	if d, _ := hv.State("a"); d.State != provision.StateBooting {
		t.Fatalf("the host has a %s", d.State)
	}

	// The host finishes the boot; the view shows it at the next refresh.
	clk.advance(2 * time.Second)
	wantState(t, a, "a", provision.StateBooting)
	x.advance(time.Second)
	wantState(t, a, "a", provision.StateRunning)
	if len(x.timers) != 1 {
		t.Fatalf("%d timers after a refresh, want the next one", len(x.timers))
	}

	mustDo(t, "destroy", a.Destroy("a"))
	a.Close()
	if n := x.drain(); n != 1 {
		t.Fatalf("ran %d, want the destroy's turn", n)
	}
	if d, _ := hv.State("a"); d.State != provision.StateRunning {
		t.Fatalf("an operation queued before Close reached the host: %s", d.State)
	}
	x.advance(time.Second)
	if len(x.timers) != 0 {
		t.Fatal("a closed Async keeps refreshing")
	}
	if got := a.Stats(); got.Define.Calls != 1 || got.Start.Calls != 1 || got.Destroy.Calls != 0 || got.Refresh.Calls != 3 {
		t.Fatalf("stats %+v", got)
	}
}
