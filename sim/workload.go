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
	pending map[graph.Hash]submission
	lat     []int64 // commit latencies, nanoseconds
	at      []int64 // the virtual time of each of those commits
	steady  []int64 // those of transactions submitted from the liveness point on
	refused uint64
	sent    uint64
}

type submission struct {
	node int
	at   int64
}

func newWorkload(s *Sim) *workload {
	w := &workload{s: s, rng: newRand(s.sc.Seed, "workload", 0), rate: s.sc.Workload.Rate,
		until: s.end, pending: make(map[graph.Hash]submission)}
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
	if !ep.up || ep.ledger.Submit(tx) != nil {
		w.refused++
		return
	}
	w.sent++
	h := graph.TxHash(tx)
	w.pending[h] = submission{node: target, at: s.now}
	s.checker.Submit(target, h, s.now)
}

// committed measures the latency of the node's own submissions.
func (w *workload) committed(nodeIdx int, txs []graph.CommittedTx) {
	for i := range txs {
		if sub, ok := w.pending[txs[i].Hash]; ok && sub.node == nodeIdx {
			w.lat = append(w.lat, w.s.now-sub.at)
			w.at = append(w.at, w.s.now)
			if sub.at >= int64(w.s.sc.Expect.Liveness.After) {
				w.steady = append(w.steady, w.s.now-sub.at)
			}
			delete(w.pending, txs[i].Hash)
		}
	}
}
