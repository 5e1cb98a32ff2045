package sim

import (
	"hash/maphash"
	"sync/atomic"
	"unsafe"

	"dagger/graph"
	"dagger/node"
)

// Decoding ahead. An event a node broadcasts reaches its first receiver
// one network latency later, and what that receiver's graph then does
// first, decoding the event, hashing its batch and checking it against
// the committee, is a function of the bytes and the committee alone. So
// the simulator starts it when the event is broadcast, on the observer's
// goroutine (which takes such a job before its own work), and the first
// receiver collects the result: the event, checked
// and marked verified under the committee, as its own graph would have
// left it. A receiver that gets there first does the work itself, so the
// run never waits for the prefetcher, and a run is the same whichever of
// them did it: the work is the same, only the goroutine differs.
//
// A prefetched event is handed over once: the goroutine that took the job
// owns it until it closes the job's done channel, and never touches it
// after. It touches
// nothing else the run shares: the committee is immutable, the verifier
// is the plain one (not the run's memo), and the memo's maps stay with
// the run's goroutine.

const (
	jobQueued uint32 = iota
	jobTaken
)

// prefetch is one event to decode and verify.
type prefetch struct {
	state atomic.Uint32
	done  chan struct{} // closed once the prefetcher has done a job it took
	enc   []byte
	com   *graph.Committee
	// The results, written by whoever took the job.
	event *graph.Event
	sum   uint64
	err   error
}

// prefetchQueue bounds the jobs waiting: when the prefetcher is that far
// behind, broadcasts are decoded by their receivers.
const prefetchQueue = 256

// prefetcher hands the jobs to the goroutine that does them: the
// observer's, which takes them before any observation waiting (observe.go),
// as a receiver is about to need them and the checkers are not.
type prefetcher struct {
	jobs     chan *prefetch
	lim      graph.Limits
	seed     maphash.Seed
	verifier graph.Verifier // the plain one, safe on any goroutine
}

// startPrefetch starts decoding ahead with the plain verifier v and
// returns the prefetcher, whose jobs a goroutine must serve.
func (m *decodeMemo) startPrefetch(v graph.Verifier) *prefetcher {
	p := &prefetcher{jobs: make(chan *prefetch, prefetchQueue), lim: m.lim, seed: m.seed, verifier: v}
	m.ahead, m.plain = p, v
	return p
}

// stopPrefetch queues no more jobs; what the receivers find undone they
// do themselves.
func (m *decodeMemo) stopPrefetch() {
	if p := m.ahead; p != nil {
		m.ahead = nil
		close(p.jobs)
	}
}

// serve does job j, unless a receiver took it first. A job that panics
// is still marked done, with no result: its receiver then does it on the
// run's goroutine, where the panic surfaces as it would have without
// decoding ahead.
func (p *prefetcher) serve(j *prefetch) {
	if j.state.CompareAndSwap(jobQueued, jobTaken) {
		defer close(j.done)
		j.run(p.lim, p.seed, p.verifier)
	}
}

// run does the job: decode, the content hash the memo files the event
// under, and the committee's checks.
func (j *prefetch) run(lim graph.Limits, seed maphash.Seed, v graph.Verifier) {
	e, err := graph.Decode(j.enc, lim)
	if err != nil {
		j.err = err
		return
	}
	j.sum = maphash.Bytes(seed, j.enc)
	// An event that fails is not marked, and its receivers' graphs find
	// the failure themselves, as they would have.
	_ = j.com.Verify(e, v, lim)
	j.event = e
}

// prefetch starts decoding the event of msg, if it is an event message,
// for the graphs of committee com.
func (m *decodeMemo) prefetch(msg []byte, com *graph.Committee) {
	p := m.ahead
	if p == nil || len(msg) == 0 || node.Kind(msg[0]) != node.KindEvent {
		return
	}
	dm, err := node.DecodeMessage(msg)
	if err != nil || len(dm.Event) == 0 {
		return
	}
	enc := dm.Event
	k := keyOf(enc)
	if _, ok := m.cur.byAddr[k]; ok {
		return
	}
	if _, ok := m.prev.byAddr[k]; ok {
		return
	}
	j := &prefetch{enc: enc, com: com, done: make(chan struct{})}
	select {
	case p.jobs <- j:
	default:
		return // the prefetcher is behind: the receiver decodes it
	}
	if m.cur.bytes >= decodeMemoBytes {
		m.prev, m.cur = m.cur, newMemoGen()
	}
	m.cur.byAddr[k] = memoEntry{enc: enc, job: j}
	m.cur.bytes += len(enc)
}

// collect returns the event of entry en under key k in generation gen,
// doing the job itself if the prefetcher has not taken it, else waiting
// for it, and files the event as decode does.
func (m *decodeMemo) collect(k memoKey, en memoEntry, gen *memoGen) (*graph.Event, error) {
	j := en.job
	if j.state.CompareAndSwap(jobQueued, jobTaken) {
		j.run(m.lim, m.seed, m.plain)
	} else {
		<-j.done
		if j.event == nil && j.err == nil {
			j.run(m.lim, m.seed, m.plain) // the job panicked where it ran
		}
	}
	if j.err != nil {
		delete(gen.byAddr, k) // as decode: a failure is not remembered
		return nil, j.err
	}
	if gen == &m.cur {
		m.cur.byAddr[k] = memoEntry{enc: en.enc, event: j.event}
		m.cur.byContent[j.sum] = j.event
		return j.event, nil
	}
	m.keep(k, en.enc, j.sum, j.event)
	return j.event, nil
}

func keyOf(enc []byte) memoKey {
	return memoKey{uintptr(unsafe.Pointer(unsafe.SliceData(enc))), len(enc)}
}
