package sim

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"

	"dagger/graph"
	"dagger/sim/check"
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
	refused uint64
	sent    uint64
	book    latencyBook
	ahead   *txAhead // makes the transactions, from seq on
}

// latencyBook measures each transaction's latency from its submission to
// its commit at the node it was submitted to. The observer keeps it
// (observe.go), and with it the hashing of the submitted transactions.
type latencyBook struct {
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
	// after is the liveness point: steady holds the latencies of the
	// transactions submitted from then on.
	after int64
}

type submission struct {
	hash    graph.Hash
	at      int64
	node    int32
	waiting bool
}

func newWorkload(s *Sim) *workload {
	w := &workload{s: s, rng: newRand(s.sc.Seed, "workload", 0), rate: s.sc.Workload.Rate, until: s.end}
	w.book.after = int64(s.sc.Expect.Liveness.After)
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
	w.ahead = startTxAhead(w.filler, w.seq)
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
	tx, h := w.ahead.next()
	w.seq++
	if !ep.up || ep.ledger.SubmitHashed(tx, h) != nil {
		w.refused++
		s.obs.submit(target, nil, graph.Hash{}, s.now)
		return
	}
	w.sent++
	s.obs.submit(target, tx, h, s.now)
}

// stop ends the making of transactions.
func (w *workload) stop() {
	if w.ahead != nil {
		w.ahead.stop()
		w.ahead = nil
	}
}

// submitted books a transaction of hash h the workload submitted to node
// at time at (nil if the node refused it) and tells the checker.
func (b *latencyBook) submitted(node int, tx []byte, h graph.Hash, at int64, c *check.Checker) {
	if tx == nil {
		b.pending = append(b.pending, submission{})
		return
	}
	b.pending = append(b.pending, submission{hash: h, at: at, node: int32(node), waiting: true})
	c.Submit(node, h, at)
}

// committed measures the latency of the node's own submissions, committed
// at time now.
func (b *latencyBook) committed(nodeIdx int, c *graph.Commit, now int64) {
	for i := range c.Txs {
		tx, data := &c.Txs[i], c.TxData(i)
		if len(data) < 8 {
			continue
		}
		k := binary.BigEndian.Uint64(data) - b.base
		if k >= uint64(len(b.pending)) {
			continue
		}
		sub := &b.pending[k]
		if !sub.waiting || int(sub.node) != nodeIdx || sub.hash != tx.Hash {
			continue
		}
		b.lat = append(b.lat, now-sub.at)
		b.at = append(b.at, now)
		if sub.at >= b.after {
			b.steady = append(b.steady, now-sub.at)
		}
		sub.waiting = false
	}
	// Those no longer waiting at the front leave, in bulk.
	for b.front < len(b.pending) && !b.pending[b.front].waiting {
		b.front++
	}
	if b.front > 1024 && b.front >= len(b.pending)/2 {
		b.pending = append(b.pending[:0], b.pending[b.front:]...)
		b.base += uint64(b.front)
		b.front = 0
	}
}

// txAhead makes the workload's transactions and their hashes ahead, on a
// goroutine of its own, a chunk at a time: transaction k is k (8 bytes)
// followed by the filler, a function of the seed alone, so which goroutine
// made it changes nothing.
type txAhead struct {
	chunks chan txChunk
	quit   chan struct{}
	done   chan struct{}
	cur    txChunk
	pos    int
}

type txChunk struct {
	txs    [][]byte
	hashes []graph.Hash
}

// txChunkSize is how many transactions one chunk holds; two chunks wait
// made.
const txChunkSize = 512

func startTxAhead(filler []byte, from uint64) *txAhead {
	a := &txAhead{chunks: make(chan txChunk, 2), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for seq := from; ; seq += txChunkSize {
			c := makeTxChunk(filler, seq)
			select {
			case a.chunks <- c:
			case <-a.quit:
				return
			}
		}
	}()
	return a
}

// makeTxChunk makes the transactions from seq on. Each has an allocation
// of its own: the proposer's event keeps its transactions, and one buffer
// for a chunk would live as long as the last of them.
func makeTxChunk(filler []byte, seq uint64) txChunk {
	c := txChunk{txs: make([][]byte, txChunkSize), hashes: make([]graph.Hash, txChunkSize)}
	for i := range c.txs {
		tx := make([]byte, len(filler))
		copy(tx, filler)
		binary.BigEndian.PutUint64(tx, seq+uint64(i))
		c.txs[i], c.hashes[i] = tx, graph.TxHash(tx)
	}
	return c
}

// next returns the next transaction and its hash.
func (a *txAhead) next() ([]byte, graph.Hash) {
	if a.pos == len(a.cur.txs) {
		a.cur, a.pos = <-a.chunks, 0
	}
	i := a.pos
	a.pos++
	tx, h := a.cur.txs[i], a.cur.hashes[i]
	a.cur.txs[i] = nil
	return tx, h
}

func (a *txAhead) stop() {
	close(a.quit)
	<-a.done
}
