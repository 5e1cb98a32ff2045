package graph_test

import (
	"bytes"
	"errors"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// member returns a graph for member id of b's committee.
func member(t *testing.T, b *graphtest.Builder, id int, cfg graph.Config) *graph.Graph {
	t.Helper()
	cfg.Committee, cfg.Signer = b.Committee, b.Signers[id]
	g, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestProposeNeverMakesTwoEventsForOneRound(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	g := member(t, b, 0, graph.Config{})
	e, _, w := g.Propose(1, nil, nil)
	if w != graph.WaitNone || e.Round != 0 || e.Creator != 0 {
		t.Fatalf("first proposal: %v %v", e, w)
	}
	for range 3 {
		if again, _, w := g.Propose(2, [][]byte{[]byte("x")}, nil); again != nil || w != graph.WaitQuorum {
			t.Fatalf("asked again: %v, %v", again, w)
		}
	}
	for _, x := range r0[1:] {
		mustInsert(t, g, x)
	}
	e1, _, w := g.Propose(3, nil, nil)
	if w != graph.WaitNone || e1.Round != 1 {
		t.Fatalf("round 1: %v", w)
	}
	if e1.Parents[0].Round != 0 || len(e1.Parents) != 4 {
		t.Fatalf("round 1 parents %v", e1.Parents)
	}
	if again, _, _ := g.Propose(4, nil, nil); again != nil {
		t.Fatal("second event for round 1")
	}
	if rd := g.Ready(); len(rd.Inserted) != 5 {
		t.Fatalf("own events not reported as inserted (%d)", len(rd.Inserted))
	}
	// Peers accept what the proposer makes.
	peer := b.Graph(graph.Config{})
	for _, x := range append(r0[1:], e, e1) {
		copy, err := graph.Decode(x.Encode(), graph.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		mustInsert(t, peer, copy)
	}
}

func TestProposeWaitsForTheLeaderUntilTimeoutOrTheNextRoundsQuorum(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	_, others := leaderSplit(b, 0)
	self := others[0]
	withoutLeader := pick(r0, others...)

	g := member(t, b, self, graph.Config{})
	for _, x := range withoutLeader {
		mustInsert(t, g, x)
	}
	if e, _, w := g.Propose(1, nil, nil); e != nil || w != graph.WaitLeader || g.Waiting() != graph.WaitLeader {
		t.Fatalf("proposed without the leader: %v", w)
	}
	g.LeaderTimeout(0)
	if e, _, w := g.Propose(2, nil, nil); w != graph.WaitNone || e.Round != 1 {
		t.Fatalf("after the timeout: %v", w)
	}

	// Without a timeout: once a quorum of round 1 exists, round 0's leader
	// can no longer gather votes, so waiting would only stall. Seven members:
	// five others form a quorum without this node or the leader.
	b7 := graphtest.NewBuilder(7, 1)
	r0 = b7.Layered(1, 0, 0)[0]
	_, others = leaderSplit(b7, 0)
	self = others[0]
	withoutLeader = pick(r0, others...)
	g2 := member(t, b7, self, graph.Config{})
	for _, x := range withoutLeader {
		mustInsert(t, g2, x)
	}
	r1 := b7.Layer(1, withoutLeader, others[1:], 0, 0)
	for _, x := range r1[:4] {
		mustInsert(t, g2, x)
	}
	if g2.Waiting() != graph.WaitLeader {
		t.Fatal("four round-1 events of seven are no quorum")
	}
	mustInsert(t, g2, r1[4])
	if e, _, w := g2.Propose(3, nil, nil); w != graph.WaitNone || e.Round != 1 {
		t.Fatalf("with a quorum at round 1: %v", w)
	}
}

func TestProposeAfterRestartNeverSignsTheSameRoundAgain(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	g := member(t, b, 0, graph.Config{})
	e0, _, _ := g.Propose(1, nil, nil)

	last := e0.Ref()
	restarted := member(t, b, 0, graph.Config{LastSigned: &last})
	for _, x := range r0[1:] {
		mustInsert(t, restarted, x)
	}
	if e, _, w := restarted.Propose(2, nil, nil); e != nil || w != graph.WaitOwn {
		t.Fatalf("proposed without its own previous event: %v", w)
	}
	mustInsert(t, restarted, e0) // the store gives it back
	e1, _, w := restarted.Propose(3, nil, nil)
	if w != graph.WaitNone || e1.Round != 1 {
		t.Fatalf("after restoring: %v", w)
	}
	if e1.Time < e0.Time {
		t.Fatal("own clock went backwards across events")
	}

	// A node that lost its state learns its own event from peers and does
	// not sign its slot again.
	amnesiac := member(t, b, 0, graph.Config{})
	for _, x := range append(r0[1:], e0) {
		mustInsert(t, amnesiac, x)
	}
	if e, _, _ := amnesiac.Propose(4, nil, nil); e == nil || e.Round != 1 {
		t.Fatal("amnesiac node signed round 0 again or stalled")
	}

	if _, err := graph.New(graph.Config{Committee: b.Committee, Signer: b.Signers[1], LastSigned: &last}); err == nil {
		t.Fatal("accepted another member's event as this node's last")
	}
}

func TestProposeTakesTransactionsWithinLimits(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	g := member(t, b, 0, graph.Config{Limits: graph.Limits{MaxEventTxs: 3, MaxTxBytes: 4}})
	txs := [][]byte{[]byte("a"), []byte("too long"), []byte("b"), []byte("c"), []byte("d")}
	e, used, _ := g.Propose(1, txs, nil)
	if used != 4 || len(e.Txs) != 3 || string(e.Txs[2]) != "c" {
		t.Fatalf("used %d, carried %q: want 4 taken, the oversized one dropped", used, e.Txs)
	}
}

// Hashes the caller took make the same event as hashing the batch, the
// dropped transaction's hash dropped with it; peers accept it.
func TestProposeWithTheCallersHashesMakesTheSameEvent(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	lim := graph.Limits{MaxEventTxs: 3, MaxTxBytes: 4}
	txs := [][]byte{[]byte("a"), []byte("too long"), []byte("b"), []byte("c"), []byte("d")}
	hashes := make([]graph.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = graph.TxHash(tx)
	}
	plain, _, _ := member(t, b, 0, graph.Config{Limits: lim}).Propose(1, txs, nil)
	given, used, _ := member(t, b, 0, graph.Config{Limits: lim}).Propose(1, txs, hashes)
	if used != 4 || given.TxRoot != plain.TxRoot || given.Hash() != plain.Hash() {
		t.Fatalf("used %d, root %v, want 4 and %v", used, given.TxRoot, plain.TxRoot)
	}
	for i := range given.Txs {
		if given.TxHash(i) != graph.TxHash(given.Txs[i]) {
			t.Fatalf("transaction %d carries another's hash", i)
		}
	}
	copy, err := graph.Decode(given.Encode(), lim)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Committee.Verify(copy, graph.Ed25519{}, lim); err != nil {
		t.Fatal(err)
	}
}

func TestProposedEventIsFramedInPlaceAndOwnsItsTransactions(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	prefix := []byte{7, 8}
	txs := [][]byte{[]byte("first"), []byte("second tx"), []byte("3")}
	e, used, _ := member(t, b, 0, graph.Config{FramePrefix: prefix}).Propose(1, txs, nil)
	if e == nil || used != len(txs) {
		t.Fatalf("proposed %v using %d", e, used)
	}
	enc := e.Encode()
	framed := e.Framed(prefix)
	if !bytes.Equal(framed[:len(prefix)], prefix) || !bytes.Equal(framed[len(prefix):], enc) {
		t.Fatalf("framed %x, want %x then the encoding", framed, prefix)
	}
	if &framed[len(prefix)] != &enc[0] {
		t.Fatal("the framed message is a copy of the encoding")
	}
	// Another prefix gets a copy, as does an event the graph did not frame.
	other := e.Framed([]byte{7})
	if other[0] != 7 || !bytes.Equal(other[1:], enc) || &other[1] == &enc[0] {
		t.Fatalf("framed under another prefix: %x", other)
	}
	decoded, err := graph.Decode(enc, graph.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f := decoded.Framed(prefix); !bytes.Equal(f, framed) {
		t.Fatalf("decoded event framed as %x", f)
	}
	// The event's transactions are its own: the caller may reuse its
	// buffers, and the event, its encoding and its hash stay as they were.
	hash := e.Hash()
	for _, tx := range txs {
		for i := range tx {
			tx[i] = 'x'
		}
	}
	want := []string{"first", "second tx", "3"}
	for i, tx := range e.Txs {
		if string(tx) != want[i] || cap(tx) != len(tx) {
			t.Fatalf("transaction %d is %q (cap %d), want %q", i, tx, cap(tx), want[i])
		}
	}
	if !bytes.Equal(e.Encode(), enc) || e.Hash() != hash {
		t.Fatal("changing the caller's buffers changed the event")
	}
	if err := b.Committee.Verify(decoded, graph.Ed25519{}, graph.Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestObserverNeverProposes(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	g := b.Graph(graph.Config{})
	if e, _, w := g.Propose(1, nil, nil); e != nil || w != graph.WaitObserver {
		t.Fatal("observer proposed")
	}
	stranger := graph.Ed25519SignerFromSeed([32]byte{9})
	if _, err := graph.New(graph.Config{Committee: b.Committee, Signer: stranger}); err == nil {
		t.Fatal("a signer outside the committee was accepted")
	}
}

func TestNodeWhoseOwnEventWasCollectedRejoinsAtTheFrontier(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	dag := [][]*graph.Event{r0}
	for r := 1; r <= 12; r++ {
		dag = append(dag, b.Layer(uint64(r), dag[r-1], []int{0, 1, 2}, 0, 0)) // member 3 is away
	}
	last := r0[3].Ref()
	g := member(t, b, 3, graph.Config{LastSigned: &last, GCDepth: 3})
	peer := b.Graph(graph.Config{GCDepth: 3})
	insertAll(t, g, dag...)
	insertAll(t, peer, dag...)
	if g.Horizon() <= 0 {
		t.Fatal("nothing collected")
	}
	e, _, w := g.Propose(1, nil, nil)
	if w != graph.WaitNone || e.Round != 13 {
		t.Fatalf("rejoin: %v, round %v", w, e)
	}
	if st, err := peer.Insert(e); err != nil || st != graph.Inserted {
		t.Fatalf("peer refused the rejoining event: %v %v", st, err)
	}
	// A node that lost its state finds its own last event among its peers'
	// and rejoins the same way.
	fresh := member(t, b, 3, graph.Config{GCDepth: 3})
	insertAll(t, fresh, dag...)
	if e, _, w := fresh.Propose(1, nil, nil); w != graph.WaitNone || e.Round != 13 {
		t.Fatalf("fresh node: %v", w)
	}
	_, err := peer.Insert(b.Event(3, 1, dag[0]))
	if !errors.Is(err, graph.ErrBelowHorizon) {
		t.Fatalf("got %v", err)
	}
}
