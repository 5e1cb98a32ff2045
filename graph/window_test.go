package graph_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// windowDAG is a fully connected DAG of four creators in which creator 0
// repeats transaction "X" in every round and each event also carries a
// transaction of its own.
func windowDAG(b *graphtest.Builder, rounds int) [][]*graph.Event {
	var dag [][]*graph.Event
	var prev []*graph.Event
	for r := range rounds {
		var layer []*graph.Event
		for c := range 4 {
			txs := [][]byte{[]byte(fmt.Sprintf("e%d/r%d/c%d", b.Committee.Epoch(), r, c))}
			if c == 0 {
				txs = append(txs, []byte("X"))
			}
			layer = append(layer, b.Event(c, uint64(r), prev, txs...))
		}
		dag = append(dag, layer)
		prev = layer
	}
	return dag
}

func nextEpoch(t *testing.T, b *graphtest.Builder) *graphtest.Builder {
	t.Helper()
	var members []graph.Member
	for i := range b.Committee.Size() {
		m, _ := b.Committee.Member(graph.MemberID(i))
		members = append(members, m)
	}
	c, err := graph.NewCommittee(b.Committee.Epoch()+1, members)
	if err != nil {
		t.Fatal(err)
	}
	nb := *b
	nb.Committee = c
	return &nb
}

// TestReplayWindowCrossesEpochs: a transaction delivered near the end of
// an epoch is not delivered again by the next epoch's first commits, and
// is delivered again once GC depth leader rounds (on the axis that chains
// the epochs) have passed.
func TestReplayWindowCrossesEpochs(t *testing.T) {
	const depth = 4
	b := graphtest.NewBuilder(4, 1)
	g0 := b.Graph(graph.Config{GCDepth: depth})
	x := graph.TxHash([]byte("X"))
	var last graph.Commit
	var xAt uint64 // the leader round of X's last delivery in epoch 0
	for _, layer := range windowDAG(b, 6) {
		for _, e := range layer {
			mustInsert(t, g0, e)
		}
		for _, c := range g0.Ready().Commits {
			last = c
			for _, tx := range c.Txs {
				if tx.Hash == x {
					xAt = c.Leader.Round
				}
			}
		}
	}
	w, err := g0.WindowAt(last.Index)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w, func(t graph.WindowTx) bool { return t.Hash == x }) {
		t.Fatalf("X, delivered by this epoch, is not in its window %v", w)
	}
	for _, e := range w {
		if e.Expires > depth {
			t.Fatalf("window entry %+v expires beyond GC depth %d", e, depth)
		}
	}

	b1 := nextEpoch(t, b)
	g1 := b1.Graph(graph.Config{GCDepth: depth, Window: w})
	var deliveredAt []uint64 // leader rounds of the commits delivering X
	for _, layer := range windowDAG(b1, 12) {
		for _, e := range layer {
			mustInsert(t, g1, e)
		}
		for _, c := range g1.Ready().Commits {
			for _, tx := range c.Txs {
				if tx.Hash == x {
					deliveredAt = append(deliveredAt, c.Leader.Round)
				}
			}
		}
	}
	if len(deliveredAt) == 0 {
		t.Fatal("X was never delivered again, though its window expired")
	}
	// On the chained axis, epoch 1's round r is last.Leader.Round+1+r.
	if gap := last.Leader.Round + 1 + deliveredAt[0] - xAt; gap <= depth {
		t.Fatalf("X delivered again %d leader rounds after its delivery in the epoch before, within GC depth %d", gap, depth)
	}
	if len(deliveredAt) > 1 && deliveredAt[1]-deliveredAt[0] <= depth {
		t.Fatalf("X delivered at leader rounds %v within one epoch, closer than GC depth %d", deliveredAt, depth)
	}
}

// TestWindowAtRewindsToAnEarlierCommitOfTheBatch: when one Ready hands out
// many commits, the window at each of them is what it would be had the
// graph stopped there (an epoch may end at any of them).
func TestWindowAtRewindsToAnEarlierCommitOfTheBatch(t *testing.T) {
	const depth = 3
	b := graphtest.NewBuilder(4, 7)
	dag := windowDAG(b, 16)

	stepwise := map[uint64]graph.TxWindow{}
	g := b.Graph(graph.Config{GCDepth: depth})
	for _, layer := range dag {
		for _, e := range layer {
			mustInsert(t, g, e)
		}
		for _, c := range g.Ready().Commits {
			w, err := g.WindowAt(c.Index)
			if err != nil {
				t.Fatal(err)
			}
			stepwise[c.Index] = w
		}
	}

	batch := b.Graph(graph.Config{GCDepth: depth})
	for _, layer := range dag {
		for _, e := range layer {
			mustInsert(t, batch, e)
		}
	}
	commits := batch.Ready().Commits
	if len(commits) < depth+3 {
		t.Fatalf("%d commits in one batch: too few to prune within it", len(commits))
	}
	for _, c := range commits {
		w, err := batch.WindowAt(c.Index)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := stepwise[c.Index]
		if !ok {
			t.Fatalf("commit %d was not made stepwise", c.Index)
		}
		if !slices.Equal(w, want) {
			t.Fatalf("window at commit %d of a batch:\n %v\nstepwise:\n %v", c.Index, w, want)
		}
	}
	if _, err := batch.WindowAt(commits[len(commits)-1].Index + 1); err == nil {
		t.Fatal("a window at a commit not made yet")
	}
}

func TestTxWindowEncodingRoundTripsAndIsCanonical(t *testing.T) {
	w := graph.TxWindow{
		{Hash: graph.TxHash([]byte("b")), Expires: 0},
		{Hash: graph.TxHash([]byte("a")), Expires: 3},
		{Hash: graph.TxHash([]byte("c")), Expires: 3},
		{Hash: graph.TxHash([]byte("d")), Expires: 0},
	}
	enc := w.Encode()
	got, err := graph.DecodeTxWindow(enc, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || len(got) != len(w) {
		t.Fatalf("round trip: %v", got)
	}
	rev := slices.Clone(w)
	slices.Reverse(rev)
	if !bytes.Equal(rev.Encode(), enc) {
		t.Fatal("the same window in another order encodes differently")
	}
	if rev[0] != w[len(w)-1] {
		t.Fatal("Encode sorted the window it was given, not a copy")
	}
	if _, err := graph.DecodeTxWindow(enc, 2); !errors.Is(err, graph.ErrWindow) {
		t.Fatalf("an expiry beyond the bound: %v", err)
	}
	empty, err := graph.DecodeTxWindow(graph.TxWindow(nil).Encode(), 0)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty window: %v %v", empty, err)
	}
	for i := range enc {
		for _, bad := range [][]byte{enc[:i], append(slices.Clone(enc), 0)} {
			if _, err := graph.DecodeTxWindow(bad, math.MaxUint64); !errors.Is(err, graph.ErrWindow) {
				t.Fatalf("damaged encoding %x accepted: %v", bad, err)
			}
		}
	}
	// The same hash twice, in one group or two, is refused.
	twice := graph.TxWindow{{Hash: w[0].Hash, Expires: 1}, {Hash: w[0].Hash, Expires: 2}}.Encode()
	if _, err := graph.DecodeTxWindow(twice, 5); !errors.Is(err, graph.ErrWindow) {
		t.Fatalf("a repeated hash: %v", err)
	}
	if _, err := graph.New(graph.Config{Committee: graphtest.NewBuilder(4, 1).Committee, GCDepth: 2 + 1,
		Window: graph.TxWindow{{Hash: w[0].Hash, Expires: 9}}}); err == nil {
		t.Fatal("a window expiring beyond the graph's GC depth was taken")
	}
}

func FuzzDecodeTxWindow(f *testing.F) {
	f.Add(graph.TxWindow{{Hash: graph.TxHash([]byte("a")), Expires: 2}, {Hash: graph.TxHash([]byte("b")), Expires: 5}}.Encode(), uint64(50))
	f.Add(graph.TxWindow(nil).Encode(), uint64(0))
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, maxExpiry uint64) {
		w, err := graph.DecodeTxWindow(b, maxExpiry)
		if err != nil {
			if !errors.Is(err, graph.ErrWindow) {
				t.Fatalf("error %v does not wrap ErrWindow", err)
			}
			return
		}
		if !bytes.Equal(w.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		for _, e := range w {
			if e.Expires > maxExpiry {
				t.Fatalf("entry %+v beyond %d", e, maxExpiry)
			}
		}
	})
}
