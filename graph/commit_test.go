package graph_test

import (
	"slices"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// insertAll inserts events and returns the commits Ready reports.
func insertAll(t testing.TB, g *graph.Graph, rounds ...[]*graph.Event) []graph.Commit {
	t.Helper()
	var out []graph.Commit
	for _, round := range rounds {
		for _, e := range round {
			mustInsert(t, g, e)
		}
		rd := g.Ready()
		out = append(out, rd.Commits...)
	}
	if err := g.Fault(); err != nil {
		t.Fatal(err)
	}
	return out
}

// leaderSplit returns round r's leader and the other creators of a
// committee of four.
func leaderSplit(b *graphtest.Builder, r uint64) (int, []int) {
	l := int(b.Committee.Leader(r))
	var others []int
	for i := range b.Committee.Size() {
		if i != l {
			others = append(others, i)
		}
	}
	return l, others
}

func pick(round []*graph.Event, creators ...int) []*graph.Event {
	var out []*graph.Event
	for _, e := range round {
		if slices.Contains(creators, int(e.Creator)) {
			out = append(out, e)
		}
	}
	return out
}

// TestDirectCommitOfCertifiedLeaderTakesTwoRounds: a leader block that a
// quorum of round R+2 events certify commits as soon as they arrive, two
// rounds after it was proposed and before any later leader. Mysticeti-C
// (arXiv 2310.14821), the direct decision rule's commit case: the
// certificate pattern observed from 2f+1 blocks. Package doc, "Commit
// rule", direct commit.
func TestDirectCommitOfCertifiedLeaderTakesTwoRounds(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(4, 0, 0)
	g := b.Graph(graph.Config{})
	if c := insertAll(t, g, dag[0], dag[1]); len(c) != 0 {
		t.Fatal("committed before any certificate")
	}
	c := insertAll(t, g, dag[2])
	l0 := pick(dag[0], int(b.Committee.Leader(0)))[0]
	if len(c) != 1 || c[0].Leader != l0.Ref() || c[0].Index != 0 || len(c[0].Events) != 1 {
		t.Fatalf("commits %+v, want round 0's leader alone", c)
	}
	c = insertAll(t, g, dag[3])
	l1 := pick(dag[1], int(b.Committee.Leader(1)))[0]
	if len(c) != 1 || c[0].Leader != l1.Ref() || c[0].Index != 1 {
		t.Fatalf("commits %+v, want round 1's leader", c)
	}
	// Its history: the three round-0 events not yet committed, then itself.
	if len(c[0].Events) != 4 || c[0].Events[3] != l1 {
		t.Fatalf("round 1 commit has %d events", len(c[0].Events))
	}
	for i := 1; i < 3; i++ {
		if c[0].Events[i-1].Creator >= c[0].Events[i].Creator {
			t.Fatal("commit not ordered by creator within a round")
		}
	}
}

// TestDirectSkipOfBlamedLeader: a slot that a quorum of round R+1 events
// do not support is skipped at once, and the sequence goes on past it.
// Mysticeti-C, the direct decision rule's skip case: the skip pattern, 2f+1
// blocks at R+1 that do not support the slot. Package doc, direct skip.
func TestDirectSkipOfBlamedLeader(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	l, others := leaderSplit(b, 0)
	// Three creators (a quorum) never reference the leader's block.
	r1 := append(b.Layer(1, pick(r0, others...), others, 0, 0), b.Layer(1, r0, []int{l}, 0, 0)...)
	r2 := b.Layer(2, r1, []int{0, 1, 2, 3}, 0, 0)
	g := b.Graph(graph.Config{})
	c := insertAll(t, g, r0, r1, r2)
	if len(c) != 0 || g.NextSlot() != 1 {
		t.Fatalf("commits %d, next slot %d: want round 0 skipped and nothing committed", len(c), g.NextSlot())
	}
}

// splitVotes builds rounds 0-2 in which round 0's leader gets votes from
// voters of the four creators and certificates from certifiers of them (the
// leader's own events always vote and, given voters, certify).
func splitVotes(b *graphtest.Builder, voters, certifiers int) [][]*graph.Event {
	r0 := b.Layered(1, 0, 0)[0]
	l, others := leaderSplit(b, 0)
	voting := append([]int{l}, others[:voters-1]...)
	blaming := others[voters-1:]
	r1 := append(b.Layer(1, r0, voting, 0, 0), b.Layer(1, pick(r0, others...), blaming, 0, 0)...)
	var r2 []*graph.Event
	for i, c := range append(slices.Clone(voting), blaming...) {
		var parents []*graph.Event
		if i < certifiers {
			parents = pick(r1, voting...) // only votes: a certificate when voters >= 3
			if !slices.Contains(voting, c) {
				parents = append(parents, pick(r1, c)...)
			}
		} else {
			// its own event, one blame, and votes to make up the quorum
			parents = pick(r1, c)
			for _, x := range append(slices.Clone(blaming), voting...) {
				if len(parents) < 3 && x != c {
					parents = append(parents, pick(r1, x)...)
				}
			}
		}
		r2 = append(r2, b.Event(c, 2, parents))
	}
	return [][]*graph.Event{r0, r1, r2}
}

// TestIndirectCommitThroughALaterAnchor: a leader that too few certify to
// commit directly commits through the first later leader committed (the
// anchor), because the anchor's history holds a certificate for it.
// Mysticeti-C, the indirect decision rule: the anchor, the first slot at a
// round r' > r+2 that is undecided or to-commit, commits the slot when it
// causally references a certificate pattern over it. Package doc,
// indirect.
func TestIndirectCommitThroughALaterAnchor(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := splitVotes(b, 3, 2) // 3 votes, but only 2 certificates: no direct decision
	g := b.Graph(graph.Config{})
	if c := insertAll(t, g, dag...); len(c) != 0 || g.NextSlot() != 0 {
		t.Fatalf("decided round 0 directly (%d commits, next slot %d)", len(c), g.NextSlot())
	}
	all := []int{0, 1, 2, 3}
	r3 := b.Layer(3, dag[2], all, 0, 0)
	r4 := b.Layer(4, r3, all, 0, 0)
	if c := insertAll(t, g, r3, r4); len(c) != 0 {
		t.Fatal("slots above an undecided one were output")
	}
	r5 := b.Layer(5, r4, all, 0, 0)
	c := insertAll(t, g, r5)
	l0 := pick(dag[0], int(b.Committee.Leader(0)))[0]
	if len(c) == 0 || c[0].Leader != l0.Ref() {
		t.Fatalf("round 0's leader not committed first through the anchor at round 3 (commits %d)", len(c))
	}
}

// TestIndirectSkipWhenTheAnchorSeesNoCertificate: the same indirect rule
// skips the slot when the anchor's history holds no certificate for any of
// its blocks. Mysticeti-C, the indirect decision rule, skip case. Package
// doc, indirect.
func TestIndirectSkipWhenTheAnchorSeesNoCertificate(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := splitVotes(b, 2, 0) // 2 votes, 2 blames: neither rule applies
	all := []int{0, 1, 2, 3}
	r3 := b.Layer(3, dag[2], all, 0, 0)
	r4 := b.Layer(4, r3, all, 0, 0)
	r5 := b.Layer(5, r4, all, 0, 0)
	g := b.Graph(graph.Config{})
	if c := insertAll(t, g, dag...); len(c) != 0 || g.NextSlot() != 0 {
		t.Fatal("decided round 0 directly")
	}
	c := insertAll(t, g, r3, r4, r5)
	if len(c) == 0 {
		t.Fatal("nothing committed")
	}
	for _, x := range c {
		if x.Leader.Round == 0 {
			t.Fatal("round 0's leader committed without a certificate")
		}
	}
	if g.NextSlot() < 1 {
		t.Fatal("round 0 not decided")
	}
}

// TestLinearizerDeliversEachTransactionOnceInCausalOrder: each committed
// leader's commit is its causal history minus what earlier commits
// delivered, in a deterministic order, and a transaction is delivered once.
// Mysticeti-C's commit sequence (leaders in slot order, each sub-DAG
// linearized). Package doc, "Linearizer".
func TestLinearizerDeliversEachTransactionOnceInCausalOrder(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := []*graph.Event{
		b.Event(0, 0, nil, []byte("A"), []byte("B")),
		b.Event(1, 0, nil, []byte("A")),
		b.Event(2, 0, nil, []byte("C")),
		b.Event(3, 0, nil),
	}
	dag := [][]*graph.Event{r0}
	for r := 1; r < 8; r++ {
		txs := [][]byte{[]byte("A")} // replayed in every event
		var next []*graph.Event
		for c := range 4 {
			next = append(next, b.Event(c, uint64(r), dag[r-1], txs...))
		}
		dag = append(dag, next)
	}
	g := b.Graph(graph.Config{})
	commits := insertAll(t, g, dag...)
	seen := map[string]int{}
	committed := map[graph.Hash]bool{}
	for i, c := range commits {
		if c.Index != uint64(i) {
			t.Fatalf("commit %d has index %d", i, c.Index)
		}
		for j, e := range c.Events {
			for _, p := range e.Parents {
				if !committed[p.Hash] {
					t.Fatalf("%s committed before its parent %s", e.Ref(), p)
				}
			}
			if committed[e.Hash()] {
				t.Fatalf("%s committed twice", e.Ref())
			}
			committed[e.Hash()] = true
			if j > 0 && c.Events[j-1].Round > e.Round {
				t.Fatal("commit not ordered by round")
			}
		}
		for i, tx := range c.Txs {
			seen[string(c.TxData(i))]++
			if c.Events[tx.Event].Txs[tx.Index] == nil || tx.Hash != graph.TxHash(c.TxData(i)) {
				t.Fatal("committed tx does not point at its event")
			}
		}
		if c.Events[len(c.Events)-1].Hash() != c.Leader.Hash {
			t.Fatal("leader is not last in its commit")
		}
	}
	if seen["A"] != 1 || seen["B"] != 1 || seen["C"] != 1 {
		t.Fatalf("deliveries %v, want each transaction once", seen)
	}
}

// TestConsensusTimeIsQuorumMedianAndMonotone: a commit's time is read from
// a quorum of creators' times and never goes back. This is the design's own
// rule, not the paper's. Package doc, "Linearizer", last paragraph.
func TestConsensusTimeIsQuorumMedianAndMonotone(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	times := []int64{100, 200, 300, 1 << 62} // member 3's clock runs far ahead
	var r0 []*graph.Event
	for c, tm := range times {
		b.Time = tm
		r0 = append(r0, b.Event(c, 0, nil))
	}
	dag := [][]*graph.Event{r0}
	for r := 1; r < 6; r++ {
		b.Time = 1000 * int64(r)
		dag = append(dag, b.Layer(uint64(r), dag[r-1], []int{0, 1, 2, 3}, 0, 0))
	}
	g := b.Graph(graph.Config{StartTime: 50})
	commits := insertAll(t, g, dag...)
	if len(commits) < 3 {
		t.Fatalf("%d commits", len(commits))
	}
	if commits[0].Time != 50 {
		t.Fatalf("round 0 leader has no parents; time %d, want the start time", commits[0].Time)
	}
	if commits[1].Time != 200 {
		t.Fatalf("round 1 commit time %d, want the median 200 of 100, 200, 300 and a runaway clock", commits[1].Time)
	}
	for i := 1; i < len(commits); i++ {
		if commits[i].Time < commits[i-1].Time {
			t.Fatal("consensus time went backwards")
		}
	}
}
