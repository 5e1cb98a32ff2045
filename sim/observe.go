package sim

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"dagger/graph"
	"dagger/sim/check"
)

// The observer runs what watches a run without acting on it, the checkers
// and the workload's book of latencies, on a goroutine of its own, so that
// on a machine with two cores it takes a fifth of a run's work off the
// goroutine that runs the nodes. Nothing the nodes do reads what it
// computes: the report reads it after the run, once the observer has
// caught up. It sees what the run produced in the order produced (one
// queue, one reader), so its verdicts are those of a checker called in
// place, and a run stays a function of its seed.
//
// What an observation carries must not change after it is queued: commits
// and events are immutable once a graph delivered them (the checker reads
// an event's fields and its hash, which every graph that holds it took
// already), and a submitted transaction's bytes are never written again.

type obsKind uint8

const (
	obsSubmit       obsKind = iota // the workload submitted tx of hash to node at (refused: tx nil)
	obsCommit                      // node delivered commit at
	obsRestart                     // node restarted, delivering from index
	obsDown                        // node went down
	obsFault                       // node faulted with err
	obsEvidence                    // node reported evidence
	obsEquivocation                // node saw creator equivocate at round index
	obsEpoch                       // an epoch's committee started
	obsStateHash                   // node's cluster state hashed to hash after commit index
)

type observation struct {
	kind  obsKind
	first bool // obsCommit: the node delivers this index for the first time
	node  int32
	at    int64
	index uint64
	// creator of an equivocation
	creator graph.MemberID
	commit  graph.Commit
	tx      []byte
	err     error
	ev      *graph.Evidence
	com     *graph.Committee
	hash    [32]byte
}

// obsBatch is how many observations travel together; obsQueue bounds the
// batches in flight, so a slow observer holds the run back instead of
// letting the queue grow.
const (
	obsBatch = 256
	obsQueue = 8
)

type observer struct {
	checker *check.Checker
	book    *latencyBook
	// ahead, if set, is the decoding ahead the observer's goroutine does
	// first (prefetch.go).
	ahead *prefetcher

	batch []observation
	queue chan []observation
	spare chan []observation
	done  chan struct{}
	// failure is the panic that stopped the observer, with its stack,
	// raised again on the run's goroutine.
	failure atomic.Pointer[string]
	running bool
}

func newObserver(c *check.Checker, b *latencyBook) *observer {
	return &observer{checker: c, book: b}
}

// start starts the observer's goroutine, serving ahead's jobs too if it
// is not nil; observations before it wait in the first batch.
func (o *observer) start(ahead *prefetcher) {
	o.ahead = ahead
	o.queue = make(chan []observation, obsQueue)
	o.spare = make(chan []observation, obsQueue+2)
	o.done = make(chan struct{})
	o.running = true
	go o.loop()
}

func (o *observer) loop() {
	defer close(o.done)
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("%v\n[observer goroutine]\n%s", p, debug.Stack())
			o.failure.Store(&msg)
			for range o.queue { // let the run finish its sends
			}
		}
	}()
	var jobs chan *prefetch
	if o.ahead != nil {
		jobs = o.ahead.jobs
	}
	for {
		select {
		case j, ok := <-jobs:
			if !ok {
				jobs = nil
				continue
			}
			o.ahead.serve(j)
		case b, ok := <-o.queue:
			if !ok {
				return
			}
			for i := range b {
				o.apply(&b[i])
				jobs = o.serveWaiting(jobs)
			}
			clear(b)
			select {
			case o.spare <- b[:0]:
			default:
			}
		}
	}
}

// serveWaiting does the decoding jobs waiting, and returns jobs, nil once
// it is closed.
func (o *observer) serveWaiting(jobs chan *prefetch) chan *prefetch {
	for jobs != nil {
		select {
		case j, ok := <-jobs:
			if !ok {
				return nil
			}
			o.ahead.serve(j)
		default:
			return jobs
		}
	}
	return nil
}

func (o *observer) apply(x *observation) {
	c, n := o.checker, int(x.node)
	switch x.kind {
	case obsSubmit:
		o.book.submitted(n, x.tx, x.hash, x.at, c)
	case obsCommit:
		c.Commit(n, &x.commit, x.at)
		if x.first {
			o.book.committed(n, &x.commit, x.at)
		}
	case obsRestart:
		c.Restart(n, x.index)
	case obsDown:
		c.Down(n)
	case obsFault:
		c.Fault(n, x.err)
	case obsEvidence:
		c.Evidence(n, *x.ev)
	case obsEquivocation:
		c.Equivocation(n, x.creator, x.index)
	case obsEpoch:
		c.AddEpoch(x.com)
	case obsStateHash:
		c.StateHash(n, x.index, x.hash)
	}
}

// add queues one observation.
func (o *observer) add(x observation) {
	if o.batch == nil {
		select {
		case b := <-o.spare:
			o.batch = b
		default:
			o.batch = make([]observation, 0, obsBatch)
		}
	}
	o.batch = append(o.batch, x)
	if len(o.batch) == obsBatch && o.running {
		o.flush()
	}
}

func (o *observer) flush() {
	o.check()
	if len(o.batch) > 0 {
		o.queue <- o.batch
		o.batch = nil
	}
}

// check raises on the run's goroutine a panic that stopped the observer,
// after letting its goroutine end.
func (o *observer) check() {
	if f := o.failure.Load(); f != nil {
		if o.running {
			o.running = false
			close(o.queue)
			<-o.done
		}
		panic(*f)
	}
}

// wait hands over what is queued and returns once the observer has
// applied all of it: the checker and the book may be read from then on.
// An observer that was never started applies the queue here.
func (o *observer) wait() {
	if !o.running {
		for i := range o.batch {
			o.apply(&o.batch[i])
		}
		o.batch = nil
		return
	}
	o.flush()
	o.running = false
	close(o.queue)
	<-o.done
	if f := o.failure.Load(); f != nil {
		panic(*f)
	}
}

// stop ends the observer's goroutine without waiting for it, when a run
// ends in a panic before wait.
func (o *observer) stop() {
	if o.running {
		o.running = false
		close(o.queue)
	}
}

func (o *observer) submit(node int, tx []byte, h graph.Hash, at int64) {
	o.add(observation{kind: obsSubmit, node: int32(node), tx: tx, hash: h, at: at})
}

func (o *observer) commit(node int, cm *graph.Commit, at int64, first bool) {
	o.add(observation{kind: obsCommit, node: int32(node), commit: *cm, at: at, first: first})
}

func (o *observer) restart(node int, from uint64) {
	o.add(observation{kind: obsRestart, node: int32(node), index: from})
}

func (o *observer) down(node int) { o.add(observation{kind: obsDown, node: int32(node)}) }

func (o *observer) fault(node int, err error) {
	o.add(observation{kind: obsFault, node: int32(node), err: err})
}

func (o *observer) evidence(node int, ev graph.Evidence) {
	o.add(observation{kind: obsEvidence, node: int32(node), ev: &ev})
}

func (o *observer) equivocation(node int, creator graph.MemberID, round uint64) {
	o.add(observation{kind: obsEquivocation, node: int32(node), creator: creator, index: round})
}

func (o *observer) epoch(com *graph.Committee) { o.add(observation{kind: obsEpoch, com: com}) }

func (o *observer) stateHash(node int, index uint64, hash [32]byte) {
	o.add(observation{kind: obsStateHash, node: int32(node), index: index, hash: hash})
}
