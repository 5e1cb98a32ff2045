package graphtest

import (
	"fmt"

	"dagger/graph"
)

// Builder signs hand-shaped events for tests and benchmarks: the caller
// chooses each event's parents, the Builder fills in the rest.
type Builder struct {
	Committee *graph.Committee
	Signers   []graph.Signer
	// Time is stamped on the next event and advanced by a millisecond.
	Time int64
}

// NewBuilder makes a committee of n members of weight 1 with keys derived
// from seed, as New does.
func NewBuilder(n int, seed uint64) *Builder {
	b := &Builder{Signers: make([]graph.Signer, n)}
	members := make([]graph.Member, n)
	for i := range n {
		b.Signers[i] = graph.Ed25519SignerFromSeed(graph.KeySeed(seed, i))
		members[i] = graph.Member{Key: b.Signers[i].PublicKey(), Weight: 1}
	}
	c, err := graph.NewCommittee(0, members)
	if err != nil {
		panic(err)
	}
	b.Committee = c
	return b
}

// Graph returns a fresh observer graph (no signer) over the builder's
// committee with the given config fields filled in.
func (b *Builder) Graph(cfg graph.Config) *graph.Graph {
	cfg.Committee = b.Committee
	g, err := graph.New(cfg)
	if err != nil {
		panic(err)
	}
	return g
}

// Event signs an event of creator at round with the given parents (in any
// order) and transactions.
func (b *Builder) Event(creator int, round uint64, parents []*graph.Event, txs ...[]byte) *graph.Event {
	e := &graph.Event{Epoch: b.Committee.Epoch(), Round: round, Creator: graph.MemberID(creator), Time: b.Time, Txs: txs}
	b.Time += 1_000_000
	for _, p := range parents {
		e.Parents = append(e.Parents, p.Ref())
	}
	graph.SortParents(e.Parents)
	e.TxRoot, _ = graph.BatchRoot(txs)
	e.Sig = b.Signers[creator].Sign(e.Hash())
	return e
}

// Layer makes one event for each of creators at round, each referencing
// all of prev, with txsPer transactions of txSize bytes.
func (b *Builder) Layer(round uint64, prev []*graph.Event, creators []int, txsPer, txSize int) []*graph.Event {
	out := make([]*graph.Event, 0, len(creators))
	for _, c := range creators {
		txs := make([][]byte, txsPer)
		for i := range txs {
			txs[i] = Tx(fmt.Sprintf("%d/%d/%d", round, c, i), txSize)
		}
		out = append(out, b.Event(c, round, prev, txs...))
	}
	return out
}

// Layered makes a fully connected DAG of the given number of rounds in
// which every member creates one event per round referencing all events of
// the previous round.
func (b *Builder) Layered(rounds, txsPer, txSize int) [][]*graph.Event {
	all := make([]int, b.Committee.Size())
	for i := range all {
		all[i] = i
	}
	out := make([][]*graph.Event, rounds)
	var prev []*graph.Event
	for r := range rounds {
		out[r] = b.Layer(uint64(r), prev, all, txsPer, txSize)
		prev = out[r]
	}
	return out
}

// Tx returns a transaction of size bytes (at least len(id)) that begins with
// id, so distinct ids give distinct transactions.
func Tx(id string, size int) []byte {
	tx := make([]byte, max(size, len(id)))
	copy(tx, id)
	return tx
}
