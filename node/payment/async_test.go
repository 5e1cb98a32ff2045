package payment

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// gateChain blocks every query until the test answers it: a query says
// which signature it asks on asked and returns what the test sends on
// reply. With it a test knows exactly which queries are under way.
type gateChain struct {
	asked chan Signature
	reply chan answer
}

type answer struct {
	st  Status
	err error
}

func newGateChain() *gateChain {
	return &gateChain{asked: make(chan Signature), reply: make(chan answer)}
}

func (c *gateChain) Status(sig Signature) (Status, error) {
	c.asked <- sig
	a := <-c.reply
	return a.st, a.err
}

// answerNext lets the next query through with a, checking that it asks
// about sig.
func (c *gateChain) answerNext(t *testing.T, sig Signature, a answer) {
	t.Helper()
	if got := <-c.asked; got != sig {
		t.Fatalf("query for %s, want %s", got, sig)
	}
	c.reply <- a
}

// settle waits until the single worker of a has stored every answer it was
// given: it takes a query for a fresh signature only after storing the
// answer before.
func settle(t *testing.T, a *AsyncChain, c *gateChain, barrier *byte) {
	t.Helper()
	*barrier++
	sig := Signature{0xff, *barrier}
	a.Status(sig)
	c.answerNext(t, sig, answer{st: StatusNotFound})
}

func newAsync(t *testing.T, c Chain, cfg AsyncConfig) *AsyncChain {
	t.Helper()
	a := NewAsyncChain(c, cfg)
	t.Cleanup(a.Close)
	return a
}

func TestAsyncChainAnswersWhileTheChainIsStuck(t *testing.T) {
	c := newGateChain()
	a := newAsync(t, c, AsyncConfig{Workers: 1})
	sig := Signature{1}
	if st, err := a.Status(sig); !errors.Is(err, ErrNotYetKnown) || st != StatusNotFound {
		t.Fatalf("before any answer: %v %v, want %v", st, err, ErrNotYetKnown)
	}
	// The query is now blocked inside the chain, and stays so until the
	// test replies: every Status below returns without it.
	if got := <-c.asked; got != sig {
		t.Fatalf("asked %s", got)
	}
	for range 100 {
		if _, err := a.Status(sig); !errors.Is(err, ErrNotYetKnown) {
			t.Fatalf("while asking: %v", err)
		}
	}
	c.reply <- answer{st: StatusFinalized}
	var barrier byte
	settle(t, a, c, &barrier)
	if st, err := a.Status(sig); err != nil || st != StatusFinalized {
		t.Fatalf("after the answer: %v %v", st, err)
	}
	// One query for sig, one for the barrier: the 100 calls while the
	// first was under way asked nothing more. Close waits for the workers,
	// so the barrier's query is counted.
	a.Close()
	if s := a.Stats(); s.Queries != 2 || s.Errors != 0 || s.Dropped != 0 || s.Entries != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAsyncChainRefreshesOnlyAnswersThatCanChange(t *testing.T) {
	c := newGateChain()
	now := int64(0)
	var mu sync.Mutex
	clock := func() int64 { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now += int64(d); mu.Unlock() }
	a := newAsync(t, c, AsyncConfig{Workers: 1, Refresh: time.Second, Now: clock})
	var barrier byte
	sig := Signature{2}

	a.Status(sig)
	c.answerNext(t, sig, answer{st: StatusPending})
	settle(t, a, c, &barrier)
	advance(999 * time.Millisecond)
	if st, err := a.Status(sig); err != nil || st != StatusPending {
		t.Fatalf("fresh pending: %v %v", st, err)
	}
	advance(time.Millisecond)
	// Stale: the old answer now, a new query in the background.
	if st, err := a.Status(sig); err != nil || st != StatusPending {
		t.Fatalf("stale pending: %v %v", st, err)
	}
	c.answerNext(t, sig, answer{st: StatusFinalized})
	settle(t, a, c, &barrier)
	advance(time.Hour)
	if st, err := a.Status(sig); err != nil || st != StatusFinalized {
		t.Fatalf("finalized: %v %v", st, err)
	}
	// Nothing was queued for the final answer: the next query the chain
	// sees is the barrier's.
	settle(t, a, c, &barrier)
	a.Close()
	if s := a.Stats(); s.Queries != 5 || s.Queued != 0 {
		t.Fatalf("stats %+v, want 2 queries for sig and 3 barriers", s)
	}
}

func TestAsyncChainReportsAndRetriesErrors(t *testing.T) {
	c := newGateChain()
	now := int64(0)
	a := newAsync(t, c, AsyncConfig{Workers: 1, Refresh: time.Second, Now: func() int64 { return now }})
	var barrier byte
	sig := Signature{3}
	down := errors.New("rpc down")

	a.Status(sig)
	c.answerNext(t, sig, answer{err: down})
	settle(t, a, c, &barrier)
	if _, err := a.Status(sig); !errors.Is(err, down) {
		t.Fatalf("after a failed query: %v, want %v", err, down)
	}
	now += int64(time.Second)
	a.Status(sig)
	c.answerNext(t, sig, answer{st: StatusFailed})
	settle(t, a, c, &barrier)
	if st, err := a.Status(sig); err != nil || st != StatusFailed {
		t.Fatalf("after a retry: %v %v", st, err)
	}
	a.Close()
	if s := a.Stats(); s.Queries != 4 || s.Errors != 1 {
		t.Fatalf("stats %+v", s)
	}
	if ops, fails := a.Counters(); ops["status"] != 4 || fails["status"] != 1 || len(ops) != 1 || len(fails) != 1 {
		t.Fatalf("counters %v %v", ops, fails)
	}
}

func TestAsyncChainDropsQueriesBeyondItsQueue(t *testing.T) {
	c := newGateChain()
	a := newAsync(t, c, AsyncConfig{Workers: 1, Queue: 1})
	first, second, third := Signature{4}, Signature{5}, Signature{6}
	a.Status(first)
	if got := <-c.asked; got != first {
		t.Fatalf("asked %s", got)
	}
	a.Status(second) // fills the queue
	if _, err := a.Status(third); !errors.Is(err, ErrNotYetKnown) {
		t.Fatalf("queue full: %v", err)
	}
	if s := a.Stats(); s.Dropped != 1 || s.Queued != 1 {
		t.Fatalf("stats %+v", s)
	}
	c.reply <- answer{st: StatusFinalized}
	c.answerNext(t, second, answer{st: StatusFinalized})
	// The dropped query is scheduled by the next Status.
	a.Status(third)
	c.answerNext(t, third, answer{st: StatusFinalized})
	var barrier byte
	settle(t, a, c, &barrier)
	for _, sig := range []Signature{first, second, third} {
		if st, err := a.Status(sig); err != nil || st != StatusFinalized {
			t.Errorf("%s: %v %v", sig, st, err)
		}
	}
}

func TestAsyncChainEvictsTheLeastRecentlyAsked(t *testing.T) {
	c := newGateChain()
	a := newAsync(t, c, AsyncConfig{Workers: 1, MaxEntries: 3})
	var barrier byte
	x, y := Signature{7}, Signature{8}
	for _, sig := range []Signature{x, y} {
		a.Status(sig)
		c.answerNext(t, sig, answer{st: StatusFinalized})
	}
	// The barrier makes three entries; x, asked again, is kept over y.
	settle(t, a, c, &barrier)
	a.Status(x)
	settle(t, a, c, &barrier) // a fourth entry: y goes
	if s := a.Stats(); s.Entries != 3 || s.Evicted != 1 {
		t.Fatalf("stats %+v", s)
	}
	if st, err := a.Status(x); err != nil || st != StatusFinalized {
		t.Fatalf("kept entry: %v %v", st, err)
	}
	if _, err := a.Status(y); !errors.Is(err, ErrNotYetKnown) {
		t.Fatalf("evicted entry: %v, want it asked again", err)
	}
	c.answerNext(t, y, answer{st: StatusFinalized})
}

func TestAsyncChainDropsTheAnswerOfAnEvictedEntry(t *testing.T) {
	c := newGateChain()
	a := newAsync(t, c, AsyncConfig{Workers: 1, MaxEntries: 1})
	x, y := Signature{9}, Signature{10}
	a.Status(x)
	if got := <-c.asked; got != x {
		t.Fatalf("asked %s", got)
	}
	a.Status(y) // evicts x while its query is under way
	c.reply <- answer{st: StatusFinalized}
	c.answerNext(t, y, answer{st: StatusPending})
	// The worker took y's query after dropping x's answer; asking x again
	// makes a new entry, which y's eviction makes room for.
	if _, err := a.Status(x); !errors.Is(err, ErrNotYetKnown) {
		t.Fatalf("evicted while asked: %v, want the answer dropped", err)
	}
	c.answerNext(t, x, answer{st: StatusFinalized})
	if s := a.Stats(); s.Entries != 1 || s.Evicted != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAsyncChainCloseStopsQuerying(t *testing.T) {
	c := newGateChain()
	a := NewAsyncChain(c, AsyncConfig{Workers: 1})
	known, unknown := Signature{11}, Signature{12}
	a.Status(known)
	c.answerNext(t, known, answer{st: StatusFinalized})
	a.Close()
	a.Close()
	if st, err := a.Status(known); err != nil || st != StatusFinalized {
		t.Fatalf("cached after close: %v %v", st, err)
	}
	if _, err := a.Status(unknown); !errors.Is(err, ErrNotYetKnown) {
		t.Fatalf("unknown after close: %v", err)
	}
	if s := a.Stats(); s.Queued != 0 {
		t.Fatalf("queued after close: %+v", s)
	}
}

// TestAsyncChainConcurrently runs many workers and callers over a MemChain
// for the race detector, and checks every answer arrives.
func TestAsyncChainConcurrently(t *testing.T) {
	now := int64(0)
	mem := NewMemChain(func() int64 { return now })
	a := newAsync(t, mem, AsyncConfig{Workers: 8, Queue: 4096, Refresh: time.Nanosecond})
	const n = 200
	for i := range n {
		if i%3 == 0 {
			mem.RecordFailed(Signature{byte(i), byte(i >> 8), 1})
		} else {
			mem.Record(Signature{byte(i), byte(i >> 8), 1}, 0)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				done := true
				for j := range n {
					if st, err := a.Status(Signature{byte(j), byte(j >> 8), 1}); err != nil || st < StatusFinalized {
						done = false
					}
				}
				if done {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	if s := a.Stats(); s.Queries < n || s.Errors != 0 || s.Entries != n {
		t.Fatalf("stats %+v", s)
	}
}

// stepper is an Executor that runs queries only when the test says, on the
// test's goroutine, the way the simulator runs them on virtual time.
type stepper struct{ queued []func() }

func (x *stepper) Go(fn func()) { x.queued = append(x.queued, fn) }

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

// TestAsyncChainOnAnExecutor: with an executor the queries run when it runs
// them, on its goroutine, and answer what the chain says then; the cache,
// refresh and queue bound work as with workers; Close drops what is queued.
func TestAsyncChainOnAnExecutor(t *testing.T) {
	now := int64(0)
	mem := NewMemChain(func() int64 { return now })
	x := &stepper{}
	a := newAsync(t, mem, AsyncConfig{Queue: 2, Refresh: time.Second, Now: func() int64 { return now }, Executor: x})
	paid, bounced, late := Signature{1}, Signature{2}, Signature{3}
	mem.Record(paid, 0)
	mem.RecordFailed(bounced)
	mem.Record(late, int64(5*time.Second))
	for _, sig := range []Signature{paid, bounced, late} {
		if _, err := a.Status(sig); !errors.Is(err, ErrNotYetKnown) {
			t.Fatalf("%s before any query: %v", sig, err)
		}
	}
	if s := a.Stats(); s.Queued != 2 || s.Dropped != 1 || len(x.queued) != 2 {
		t.Fatalf("stats %+v, %d handed to the executor", s, len(x.queued))
	}
	if n := x.drain(); n != 2 {
		t.Fatalf("ran %d queries", n)
	}
	if st, err := a.Status(paid); err != nil || st != StatusFinalized {
		t.Fatalf("paid: %v %v", st, err)
	}
	if st, err := a.Status(bounced); err != nil || st != StatusFailed {
		t.Fatalf("bounced: %v %v", st, err)
	}
	// The dropped one is queued by its next Status; it is pending, and
	// asked again once its answer is older than the refresh period.
	if _, err := a.Status(late); !errors.Is(err, ErrNotYetKnown) || len(x.queued) != 1 {
		t.Fatalf("late, asked again: %v, %d queued", err, len(x.queued))
	}
	x.drain()
	if st, err := a.Status(late); err != nil || st != StatusPending {
		t.Fatalf("late: %v %v", st, err)
	}
	now += int64(6 * time.Second)
	if st, _ := a.Status(late); st != StatusPending {
		t.Fatalf("late before the new query ran: %v", st)
	}
	x.drain()
	if st, err := a.Status(late); err != nil || st != StatusFinalized {
		t.Fatalf("late after it: %v %v", st, err)
	}
	if s := a.Stats(); s.Queries != 4 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}

	fresh := Signature{4}
	mem.Record(fresh, 0)
	a.Status(fresh)
	a.Close()
	x.drain()
	if _, err := a.Status(fresh); !errors.Is(err, ErrNotYetKnown) {
		t.Fatalf("a query queued before Close was answered: %v", err)
	}
}
