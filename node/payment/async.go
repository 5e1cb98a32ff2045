package payment

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of an AsyncChain.
const (
	DefaultAsyncWorkers = 4
	DefaultAsyncQueue   = 1024
	// DefaultAsyncRefresh is below the node's default poll period, so that
	// every poll of a payment not yet final starts a fresh query and sees the
	// answer of the one before.
	DefaultAsyncRefresh = 500 * time.Millisecond
	// DefaultAsyncEntries matches the transactions a node tracks at once,
	// so that the payments it is waiting on are not evicted.
	DefaultAsyncEntries = 1 << 16
)

// ErrNotYetKnown is what AsyncChain.Status says before the chain has
// answered for a signature. It is an error rather than StatusNotFound
// because nothing has been learnt: the node keeps polling either way (only
// finalized and failed end the wait early), and should the wait run out,
// the rejection says the chain could not be asked rather than that the
// payment never landed.
var ErrNotYetKnown = errors.New("payment: the chain has not answered yet")

// AsyncConfig configures an AsyncChain; zero fields take the defaults.
type AsyncConfig struct {
	// Workers is how many queries run at once.
	Workers int
	// Queue bounds the queries waiting for a worker; a query that finds it
	// full is dropped and asked again at a later Status.
	Queue int
	// Refresh is the age at which an answer that is not final (pending,
	// not found, an error) is asked again. Set it below the node's
	// ConfirmPoll.
	Refresh time.Duration
	// MaxEntries bounds the cache; the signature asked about least
	// recently is evicted first.
	MaxEntries int
	// Now is the clock, in Unix nanoseconds; time.Now if nil.
	Now func() int64
	// Executor runs the queries off the caller's loop. Nil runs them on
	// Workers goroutines of the AsyncChain's own, as the live node does;
	// the simulator passes one that runs the same queries on virtual time,
	// on its one goroutine (Workers is then unused).
	Executor Executor
}

// Executor runs a query for AsyncChain later, off the stack of the call
// that hands it over: it must not run fn before Go returns, as AsyncChain
// holds its lock when it calls Go. It runs one fn at a time; the time it
// lets pass before is the executor's to decide: it stands for the round
// trip to the chain.
type Executor interface {
	Go(fn func())
}

// AsyncStats counts what an AsyncChain did, for metrics.
type AsyncStats struct {
	Queries uint64 // queries the chain answered, errors included
	Errors  uint64 // queries that returned an error
	Dropped uint64 // queries not scheduled because the queue was full
	Evicted uint64 // cache entries evicted to stay within MaxEntries
	Entries int    // signatures cached now
	Queued  int    // queries waiting for a worker now
}

// AsyncChain is a Chain that never blocks: Status answers from a cache at
// once and asks the wrapped chain in the background when the cached answer
// is missing or stale. The node's event loop calls it; a slow or
// unreachable RPC node then delays admissions instead of stalling
// consensus. It is safe for concurrent use.
type AsyncChain struct {
	chain   Chain
	refresh int64
	max     int
	now     func() int64
	exec    Executor
	queue   chan *entry
	done    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	entries map[Signature]*entry
	lru     *list.List // of *entry, most recently asked first
	closed  bool
	stats   AsyncStats
}

// entry is the cached answer for one signature.
type entry struct {
	sig      Signature
	elem     *list.Element
	known    bool // an answer arrived
	st       Status
	err      error
	at       int64 // when the answer arrived, Unix ns
	inflight bool  // queued or being asked: do not ask again
}

var _ Chain = (*AsyncChain)(nil)

// NewAsyncChain wraps chain and starts its workers (unless an executor
// runs the queries); Close stops them.
func NewAsyncChain(chain Chain, cfg AsyncConfig) *AsyncChain {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultAsyncWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultAsyncQueue
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultAsyncRefresh
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultAsyncEntries
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixNano() }
	}
	a := &AsyncChain{
		chain:   chain,
		refresh: int64(cfg.Refresh),
		max:     cfg.MaxEntries,
		now:     cfg.Now,
		exec:    cfg.Executor,
		queue:   make(chan *entry, cfg.Queue),
		done:    make(chan struct{}),
		entries: make(map[Signature]*entry),
		lru:     list.New(),
	}
	if a.exec != nil {
		return a
	}
	a.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go a.work()
	}
	return a
}

// Status implements Chain without blocking: it returns the last answer of
// the wrapped chain, error included, or ErrNotYetKnown before the first.
// Finalized and failed answers are final and never asked again; others are
// asked again once older than the refresh period.
func (a *AsyncChain) Status(sig Signature) (Status, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.entries[sig]
	if e == nil {
		e = &entry{sig: sig}
		e.elem = a.lru.PushFront(e)
		a.entries[sig] = e
		for a.lru.Len() > a.max {
			old := a.lru.Remove(a.lru.Back()).(*entry)
			delete(a.entries, old.sig)
			a.stats.Evicted++
		}
	} else {
		a.lru.MoveToFront(e.elem)
	}
	if !e.known || !final(e) && a.now()-e.at >= a.refresh {
		a.schedule(e)
	}
	if !e.known {
		switch {
		case a.closed:
			return StatusNotFound, fmt.Errorf("%w: closed", ErrNotYetKnown)
		case !e.inflight:
			return StatusNotFound, fmt.Errorf("%w: the query queue (%d) is full", ErrNotYetKnown, cap(a.queue))
		}
		return StatusNotFound, ErrNotYetKnown
	}
	return e.st, e.err
}

// final says whether e's answer can no longer change on chain.
func final(e *entry) bool {
	return e.err == nil && (e.st == StatusFinalized || e.st == StatusFailed)
}

// schedule queues a query for e unless one is under way; with a.mu held.
func (a *AsyncChain) schedule(e *entry) {
	if e.inflight || a.closed {
		return
	}
	select {
	case a.queue <- e:
		e.inflight = true
		if a.exec != nil {
			a.exec.Go(a.next)
		}
	default:
		a.stats.Dropped++
	}
}

func (a *AsyncChain) work() {
	defer a.wg.Done()
	for {
		select {
		case <-a.done:
			return
		case e := <-a.queue:
			a.query(e)
		}
	}
}

// next is the executor's turn to run the oldest queued query: each query
// queued hands it one. After Close the queue is dropped, as the workers
// drop it.
func (a *AsyncChain) next() {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return
	}
	select {
	case e := <-a.queue:
		a.query(e)
	default:
	}
}

// query asks the chain about e and records the answer.
func (a *AsyncChain) query(e *entry) {
	st, err := a.chain.Status(e.sig)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Queries++
	if err != nil {
		a.stats.Errors++
	}
	// An entry evicted meanwhile has been replaced or forgotten; either
	// way its answer belongs to no one.
	if a.entries[e.sig] == e {
		e.known, e.st, e.err, e.at, e.inflight = true, st, err, a.now(), false
	}
}

// Stats returns the counters so far.
func (a *AsyncChain) Stats() AsyncStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Entries = len(a.entries)
	s.Queued = len(a.queue)
	return s
}

// Counters reports Stats in the form the node's metrics take from each of
// its components: operations and failures by name, here the one operation
// "status".
func (a *AsyncChain) Counters() (ops, fails map[string]uint64) {
	s := a.Stats()
	return map[string]uint64{"status": s.Queries}, map[string]uint64{"status": s.Errors}
}

// Close stops the workers, waiting for the queries under way, which the
// wrapped chain bounds (an RPC by its timeout). Queued queries are dropped.
// Status keeps answering from the cache.
func (a *AsyncChain) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	close(a.done)
	a.wg.Wait()
}
