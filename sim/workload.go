package sim

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"

	"dagger/graph"
)

// workload is the open-loop client population: transactions arrive as a
// Poisson process at the scenario's rate, each unique and of the given
// size, at a node drawn from the workload's targets. Submit-to-commit
// latency is measured at the node a transaction was submitted to.
type workload struct {
	s       *Sim
	rng     *rand.Rand
	targets []int
	rate    float64
	until   int64
	filler  []byte
	seq     uint64
	// pending holds the submission of every transaction from sequence
	// number base on (its first 8 bytes): whether it awaits its commit
	// at its node, found there by the number and confirmed by its hash.
	// None before front awaits its commit.
	pending []submission
	base    uint64
	front   int
	lat     []int64 // commit latencies, nanoseconds
	at      []int64 // the virtual time of each of those commits
	steady  []int64 // those of transactions submitted from the liveness point on
	refused uint64
	sent    uint64
}

type submission struct {
	hash    graph.Hash
	at      int64
	node    int32
	waiting bool
}

func newWorkload(s *Sim) *workload {
	w := &workload{s: s, rng: newRand(s.sc.Seed, "workload", 0), rate: s.sc.Workload.Rate, until: s.end}
	if u := int64(s.sc.Workload.Until); u > 0 {
		w.until = u
	}
	w.targets = slices.Clone(s.sc.Workload.Nodes)
	if len(w.targets) == 0 {
		for i := range s.sc.Nodes {
			if s.sc.Honest(i) {
				w.targets = append(w.targets, i)
			}
		}
	}
	w.filler = make([]byte, s.sc.Workload.TxSize)
	for i := range w.filler {
		w.filler[i] = byte(w.rng.Uint32())
	}
	return w
}

func (w *workload) start() {
	if w.rate <= 0 || len(w.targets) == 0 {
		return
	}
	w.schedule(int64(w.s.sc.Workload.From))
}

func (w *workload) schedule(after int64) {
	at := after + int64(w.rng.ExpFloat64()/w.rate*1e9)
	if at <= w.until && at <= w.s.end {
		w.s.agenda.push(item{at: at, kind: itemSubmit})
	}
}

// submit sends the next transaction: a sequence number followed by
// filler, so every transaction is distinct.
func (w *workload) submit() {
	s := w.s
	w.schedule(s.now)
	target := w.targets[w.rng.IntN(len(w.targets))]
	ep := s.eps[target]
	tx := make([]byte, len(w.filler))
	copy(tx, w.filler)
	binary.BigEndian.PutUint64(tx, w.seq)
	w.seq++
	w.pending = append(w.pending, submission{})
	if !ep.up || ep.ledger.Submit(tx) != nil {
		w.refused++
		return
	}
	w.sent++
	h := graph.TxHash(tx)
	w.pending[len(w.pending)-1] = submission{hash: h, at: s.now, node: int32(target), waiting: true}
	s.checker.Submit(target, h, s.now)
}

// committed measures the latency of the node's own submissions.
func (w *workload) committed(nodeIdx int, txs []graph.CommittedTx) {
	for i := range txs {
		tx := &txs[i]
		if len(tx.Data) < 8 {
			continue
		}
		k := binary.BigEndian.Uint64(tx.Data) - w.base
		if k >= uint64(len(w.pending)) {
			continue
		}
		sub := &w.pending[k]
		if !sub.waiting || int(sub.node) != nodeIdx || sub.hash != tx.Hash {
			continue
		}
		w.lat = append(w.lat, w.s.now-sub.at)
		w.at = append(w.at, w.s.now)
		if sub.at >= int64(w.s.sc.Expect.Liveness.After) {
			w.steady = append(w.steady, w.s.now-sub.at)
		}
		sub.waiting = false
	}
	// Those no longer waiting at the front leave, in bulk.
	for w.front < len(w.pending) && !w.pending[w.front].waiting {
		w.front++
	}
	if w.front > 1024 && w.front >= len(w.pending)/2 {
		w.pending = append(w.pending[:0], w.pending[w.front:]...)
		w.base += uint64(w.front)
		w.front = 0
	}
}
