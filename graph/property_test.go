package graph_test

// Property tests of the ShadowGraph commit rule, driven by rapid over the
// in-memory cluster of graphtest. Every execution is generated: committee
// size, faulty members and the delivery order (a Scheduler that draws each
// step from rapid), so a failure shrinks to a small committee and a short
// schedule. The checkers (check*) are plain functions over a node's output;
// each has a unit test feeding it a history that breaks its property, so a
// checker that cannot fail is caught.
//
// Cost: every event is signed and verified with ed25519 (~50µs a
// verification), so committees stay at 4..7 members and executions at a few
// dozen rounds.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// noGC is the GC depth of every graph in these tests: deeper than any
// execution, so the linearizer never cuts a causal history and no event
// leaves memory. The checkers still take the depth as a parameter.
const noGC = 1000

// drainLimit bounds Drain; executions here need a few thousand steps.
const drainLimit = 1 << 20

// rapidScheduler lets rapid choose every step of an execution: which
// in-flight message is delivered next, or whose leader timer fires (the
// choices are the in-flight messages, oldest first, then the nodes waiting
// for their leader). Drawn once per execution, window and newest bias the
// choice: it is made among the window oldest (or newest) choices, so one
// execution may be nearly FIFO, another nearly LIFO (old messages starve,
// events arrive before their parents, timers fire early), another uniform.
type rapidScheduler struct {
	t      *rapid.T
	window int // 0: all choices
	newest bool
}

func drawScheduler(t *rapid.T) rapidScheduler {
	return rapidScheduler{
		t:      t,
		window: rapid.SampledFrom([]int{0, 1, 2, 4, 16}).Draw(t, "window"),
		newest: rapid.Bool().Draw(t, "newest"),
	}
}

func (s rapidScheduler) Choose(n int) int {
	w := n
	if s.window > 0 {
		w = min(n, s.window)
	}
	k := rapid.IntRange(0, w-1).Draw(s.t, "step")
	if s.newest {
		return n - 1 - k
	}
	return k
}

// ---------------------------------------------------------------------------
// Generated executions

// drawExecution draws a committee of 4..7 members, of equal weights or of
// weights 1..4, a set of faulty members as large as the committee
// tolerates (their weight f is the most with 3f < total, the drawn number
// of them permitting), each an equivocator (if allowEquivocators) or silent
// (if allowSilent), and a MaxRound in [minRound, maxRound].
func drawExecution(t *rapid.T, allowEquivocators, allowSilent bool, minRound, maxRound int) graphtest.Config {
	n := rapid.IntRange(4, 7).Draw(t, "n")
	weights := make([]uint64, n)
	weighted := rapid.Bool().Draw(t, "weighted")
	var total uint64
	for i := range weights {
		weights[i] = 1
		if weighted {
			weights[i] = rapid.Uint64Range(1, 4).Draw(t, "weight")
		}
		total += weights[i]
	}
	nFaulty := 0
	if allowEquivocators || allowSilent {
		nFaulty = rapid.IntRange(0, n).Draw(t, "faulty")
	}
	// The faulty members are a drawn subset, cut short where its weight
	// would reach a third of the total; each is an equivocator or silent.
	order := rapid.Permutation(members(n)).Draw(t, "faultyMembers")
	var equivocators, silent []int
	var faultyWeight uint64
	for _, m := range order[:nFaulty] {
		if 3*(faultyWeight+weights[m]) >= total {
			break
		}
		faultyWeight += weights[m]
		switch {
		case allowEquivocators && allowSilent:
			if rapid.Bool().Draw(t, "silent") {
				silent = append(silent, m)
			} else {
				equivocators = append(equivocators, m)
			}
		case allowEquivocators:
			equivocators = append(equivocators, m)
		default:
			silent = append(silent, m)
		}
	}
	return graphtest.Config{
		Weights:      weights,
		Seed:         rapid.Uint64Range(0, 1<<20).Draw(t, "seed"),
		Equivocators: equivocators,
		Silent:       silent,
		MaxRound:     uint64(rapid.IntRange(minRound, maxRound).Draw(t, "maxRound")),
		TxsPerEvent:  rapid.IntRange(0, 2).Draw(t, "txsPerEvent"),
		GCDepth:      noGC,
	}
}

func members(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// drawPrefixSteps draws how long the scheduler is in charge before the
// fair drain: a short prefix, or (twice as likely: views diverge most
// under the drawn order) the whole execution, which ends when nothing is
// left to do; MaxRound bounds it.
func drawPrefixSteps(t *rapid.T) int {
	return rapid.OneOf(rapid.IntRange(0, 400), rapid.Just(drainLimit), rapid.Just(drainLimit)).Draw(t, "prefixSteps")
}

// runPrefix takes up to steps rapid-chosen steps, stopping early once some
// node holds an event at round stopRound (0: no such limit). The highest
// round in any graph grows by at most one per step, so it is then exactly
// stopRound.
func runPrefix(t *rapid.T, cl *graphtest.Cluster, steps int, stopRound uint64) {
	s := drawScheduler(t)
	for range steps {
		if stopRound > 0 && topRound(cl) >= stopRound {
			return
		}
		if !cl.Step(s) {
			return
		}
	}
}

// drain delivers everything left and fails unless the cluster went quiet.
func drain(t *rapid.T, cl *graphtest.Cluster) {
	if !cl.Drain(drainLimit) {
		t.Fatalf("cluster not quiet after %d drain steps (%d in flight)", drainLimit, cl.InFlight())
	}
}

func topRound(cl *graphtest.Cluster) uint64 {
	var top uint64
	for _, n := range cl.Nodes {
		top = max(top, n.Graph.Round())
	}
	return top
}

func newCluster(t *rapid.T, cfg graphtest.Config) *graphtest.Cluster {
	cl, err := graphtest.New(cfg)
	if err != nil {
		t.Fatalf("graphtest.New: %v", err)
	}
	return cl
}

// honestNodes are the nodes that follow the protocol (silent members
// included: they are honest and crashed).
func honestNodes(cl *graphtest.Cluster) []*graphtest.Node {
	var out []*graphtest.Node
	for _, n := range cl.Nodes {
		if cl.Honest(n.ID) {
			out = append(out, n)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Property 1: determinism of the commit rule in the order of insertion.

// TestDeterminism_AnyDeliveryOrderSameCommits: the commit sequence is a
// function of the set of events alone. A generated execution (up to f
// equivocators, rapid-chosen delivery order) produces the events every
// honest node inserted; fresh observer graphs fed that set in different
// rapid-drawn orders, calling Ready at rapid-drawn points, must output
// identical sequences: leaders, events, transactions and consensus times.
// Each observer's sequence must also agree (prefix-consistency) with every
// honest node's.
func TestDeterminism_AnyDeliveryOrderSameCommits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawExecution(t, true, true, 4, 12)
		cl := newCluster(t, cfg)
		runPrefix(t, cl, drawPrefixSteps(t), 0)
		drain(t, cl)

		events := insertedEvents(cl, honestNodes(cl))
		encoded := make([][]byte, len(events))
		for i, e := range events {
			encoded[i] = e.Encode()
		}
		observers := rapid.IntRange(2, 3).Draw(t, "observers")
		var first []graph.Commit
		for o := range observers {
			order := rapid.Permutation(members(len(encoded))).Draw(t, fmt.Sprintf("order%d", o))
			commits := observe(t, cl.Committee, encoded, order)
			if err := checkSequence(cl.Committee, commits, noGC); err != nil {
				t.Fatalf("observer %d: %v", o, err)
			}
			for _, n := range honestNodes(cl) {
				if err := checkPrefixConsistent(commits, n.Commits); err != nil {
					t.Fatalf("observer %d and node %d: %v", o, n.ID, err)
				}
			}
			if o == 0 {
				first = commits
				continue
			}
			if err := checkSameCommits(first, commits); err != nil {
				t.Fatalf("observer 0 and observer %d, fed %d events in different orders: %v", o, len(encoded), err)
			}
		}
	})
}

// insertedEvents returns every event the given nodes' graphs hold, each
// once, in round order.
func insertedEvents(cl *graphtest.Cluster, nodes []*graphtest.Node) []*graph.Event {
	seen := make(map[graph.Hash]bool)
	var out []*graph.Event
	for _, n := range nodes {
		for r := uint64(0); r <= n.Graph.Round(); r++ {
			for _, e := range n.Graph.EventsAt(r) {
				if !seen[e.Hash()] {
					seen[e.Hash()] = true
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// observe feeds freshly decoded copies of the events, in the given order, to
// a new observer graph, calling Ready after rapid-chosen insertions and once
// at the end, and returns the commits. Every event must end up inserted:
// nothing rejected, nothing left waiting.
func observe(t *rapid.T, c *graph.Committee, encoded [][]byte, order []int) []graph.Commit {
	g, err := graph.New(graph.Config{Committee: c, GCDepth: noGC, MaxPending: 1 << 20})
	if err != nil {
		t.Fatalf("graph.New: %v", err)
	}
	var commits []graph.Commit
	ready := func() {
		rd := g.Ready()
		if len(rd.Rejected) > 0 {
			t.Fatalf("observer rejected %s: %v", rd.Rejected[0].Event, rd.Rejected[0].Err)
		}
		commits = append(commits, rd.Commits...)
	}
	for _, i := range order {
		e, err := graph.Decode(encoded[i], g.Limits())
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if _, err := g.Insert(e); err != nil {
			t.Fatalf("observer insert %s: %v", e.Ref(), err)
		}
		if rapid.Bool().Draw(t, "ready") {
			ready()
		}
	}
	ready()
	if g.PendingLen() != 0 || g.Len() != len(encoded) {
		t.Fatalf("observer holds %d events and buffers %d, fed %d", g.Len(), g.PendingLen(), len(encoded))
	}
	if err := g.Fault(); err != nil {
		t.Fatalf("observer fault: %v", err)
	}
	return commits
}

// ---------------------------------------------------------------------------
// Property 2: agreement.

// TestAgreement_HonestCommitSequencesArePrefixConsistent: in a generated
// execution of n = 4..7 members, of equal weights (so n = 3f+1 as well as
// 3f+2 and 3f+3) or of weights 1..4, with faulty members of up to the most
// weight tolerated (equivocators, who send one block to the even-indexed
// peers and a twin to the odd ones, or silent members), any rapid-chosen
// delivery order and then a fair drain:
//   - every pair of honest nodes has prefix-consistent commit sequences
//     (leaders, times, events and transactions in order);
//   - each honest sequence is well formed (checkSequence): indices 0,1,2..,
//     scheduled leaders in increasing rounds each closing its commit,
//     non-decreasing time, no event or transaction committed twice, every
//     committed event's parents committed no later than it;
//   - no honest node reports a fault or any insertion error. The harness
//     records every Insert error; none is legitimate here: ErrSlotFull needs
//     more than MaxSlotEvents (4) events in a slot and equivocators make 2;
//     ErrBelowHorizon needs GC, and there is none; ErrBufferFull needs more
//     events of one creator waiting than the per-creator share of
//     DefaultMaxPending (over 2000), while a creator makes at most
//     2*(MaxRound+1); the rest would be invalid events, which honest and
//     equivocating nodes alike never sign;
//   - after the drain every honest node has inserted all it was sent:
//     nothing buffered, no parent missing.
func TestAgreement_HonestCommitSequencesArePrefixConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawExecution(t, true, true, 4, 16)
		cl := newCluster(t, cfg)
		runPrefix(t, cl, drawPrefixSteps(t), 0)
		drain(t, cl)

		honest := honestNodes(cl)
		for _, n := range honest {
			if err := checkNodeHealthy(n); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
			if err := checkSequence(cl.Committee, n.Commits, noGC); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
		}
		for i, a := range honest {
			for _, b := range honest[i+1:] {
				if err := checkPrefixConsistent(a.Commits, b.Commits); err != nil {
					t.Fatalf("nodes %d and %d: %v", a.ID, b.ID, err)
				}
			}
		}
	})
}

// TestAgreement_HoldsUnderGarbageCollection: the same executions with a GC
// depth of 3..8 rounds, so the linearizer cuts causal histories at depth
// and late events fall below the horizon. Honest sequences stay
// prefix-consistent, no event is committed twice, parents within the depth
// come first, and the only insertion errors are events the horizon passed.
// (Transactions in cut-off events are legitimately lost, so checkTxs does
// not apply.)
func TestAgreement_HoldsUnderGarbageCollection(t *testing.T) {
	collected := 0
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawExecution(t, true, true, 8, 20)
		cfg.GCDepth = uint64(rapid.IntRange(graph.MinGCDepth, 8).Draw(t, "gcDepth"))
		cl := newCluster(t, cfg)
		runPrefix(t, cl, drawPrefixSteps(t), 0)
		drain(t, cl)
		honest := honestNodes(cl)
		for _, n := range honest {
			if n.Graph.Horizon() > 0 {
				collected++
			}
			if err := n.Graph.Fault(); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
			for _, err := range n.Errors {
				if !errors.Is(err, graph.ErrBelowHorizon) {
					t.Fatalf("node %d: %v", n.ID, err)
				}
			}
			for _, check := range []func() error{
				func() error { return checkCommitIndices(n.Commits) },
				func() error { return checkMonotoneTime(n.Commits) },
				func() error { return checkLeaders(cl.Committee, n.Commits) },
				func() error { return checkNoDoubleCommit(n.Commits) },
				func() error { return checkCausalOrder(n.Commits, cfg.GCDepth) },
			} {
				if err := check(); err != nil {
					t.Fatalf("node %d (GC depth %d): %v", n.ID, cfg.GCDepth, err)
				}
			}
		}
		for i, a := range honest {
			for _, b := range honest[i+1:] {
				if err := checkPrefixConsistent(a.Commits, b.Commits); err != nil {
					t.Fatalf("nodes %d and %d (GC depth %d): %v", a.ID, b.ID, cfg.GCDepth, err)
				}
			}
		}
	})
	if collected == 0 {
		t.Fatal("no execution collected a round: the property was never exercised")
	}
}

// ---------------------------------------------------------------------------
// Property 3: validity.

// TestValidity_HonestEventsEventuallyCommit: once delivery is fair, every
// event an honest node creates is committed at every honest node, unless it
// is too close to MaxRound for the DAG above it to commit it.
//
// The execution: 4..7 members (equal or drawn weights) with silent
// (crashed) members of up to the most weight tolerated, an adversarial
// rapid-chosen prefix, then Drain, which delivers every message in the
// order sent (FIFO) and fires leader timers only when nothing is in flight.
//
// The margin. Let L be the highest round ≤ MaxRound-2 whose leader is not
// silent (the schedule is fixed by the committee, so L is known before the
// run): a leader needs certificates at its round+2 to be committed
// directly, and a silent leader's slot is only ever skipped. An honest
// event X of round r ≤ L-3 is in L's causal history:
//   - under FIFO delivery X is sent before any round r+2 event is made: the
//     round r+1 events are sent after X's creator has been sent the
//     round r-1 and r quorums that let it make X, and are delivered (so a
//     round r+2 event can be made) only after those;
//   - so X reaches L's creator before it receives round r+2 events, hence
//     before it makes its round L event (which needs round L-1 ≥ r+2
//     events); that event references every round L-1 event it holds and,
//     by weak links, every older unreferenced tip, so X, a tip or under
//     one, is in L's history.
//
// A straggler at L-1 or L-2 may miss L (an honest member outside the
// quorum can trail it by a round; weak links carry it only into later
// events, whose leaders cannot commit by MaxRound), so those rounds are not
// required. The prefix ends at the latest when some node holds an event of
// a drawn round P ≤ L-3: the rounds above P are made under fair delivery,
// and the argument holds for the events made during the prefix too (they
// are all sent before the drain delivers any round P+1 event, so before any
// round P+2 ≤ L-1 event exists).
func TestValidity_HonestEventsEventuallyCommit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawExecution(t, false, true, 14, 22)
		cl := newCluster(t, cfg)
		lastLeader, ok := lastLiveLeader(cl.Committee, cfg.Silent, cfg.MaxRound-2)
		if !ok || lastLeader < 4 {
			t.Skip("no live leader to commit anything")
		}
		bound := lastLeader - 3
		stop := uint64(rapid.IntRange(1, int(bound)).Draw(t, "stopRound"))
		runPrefix(t, cl, drawPrefixSteps(t), stop)
		drain(t, cl)

		var created []*graph.Event
		for _, n := range honestNodes(cl) {
			created = append(created, n.Created...)
		}
		for _, n := range honestNodes(cl) {
			if err := checkNodeHealthy(n); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
			if err := checkValidity(n.Commits, created, bound); err != nil {
				t.Fatalf("node %d (last live leader r%d, MaxRound %d): %v", n.ID, lastLeader, cfg.MaxRound, err)
			}
		}
	})
}

// lastLiveLeader returns the highest round ≤ top whose leader is not silent.
func lastLiveLeader(c *graph.Committee, silent []int, top uint64) (uint64, bool) {
	for r := top; ; r-- {
		if !slices.Contains(silent, int(c.Leader(r))) {
			return r, true
		}
		if r == 0 {
			return 0, false
		}
	}
}

// ---------------------------------------------------------------------------
// Property 4: evidence.

// TestEvidence_EveryDeliveredEquivocationIsReported: with 1..f
// equivocators and any delivery order, at any point (after a prefix of the
// execution or after all of it), every honest node reports evidence for
// every slot in which its graph holds two events, every piece of evidence
// verifies on its own against the committee (ed25519), names events the
// node holds, and accuses no honest member.
func TestEvidence_EveryDeliveredEquivocationIsReported(t *testing.T) {
	var withTwins int
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawExecution(t, true, false, 3, 10)
		if len(cfg.Equivocators) == 0 {
			// A lightest member weighs at most a quarter of the total.
			w := cfg.Weights
			cfg.Equivocators = []int{slices.Index(w, slices.Min(w))}
		}
		cl := newCluster(t, cfg)
		runPrefix(t, cl, drawPrefixSteps(t), 0)
		drained := rapid.Bool().Draw(t, "drain")
		if drained {
			drain(t, cl)
		}
		honest := func(m graph.MemberID) bool { return cl.Honest(int(m)) }
		for _, n := range honestNodes(cl) {
			if len(equivocatedSlots(n.Graph)) > 0 {
				withTwins++
			}
			// Once quiet, every event delivered is inserted, so "held in the
			// graph" covers every equivocation delivered.
			if drained {
				if err := checkNodeHealthy(n); err != nil {
					t.Fatalf("node %d: %v", n.ID, err)
				}
			}
			if err := checkEvidence(n.Graph, cl.Committee, n.Evidence, honest); err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
		}
	})
	// Not vacuous: honest nodes did hold equivocations (they fetch the twin
	// their peers reference).
	if withTwins == 0 {
		t.Fatal("no honest node ever held two events of one slot: the property was never exercised")
	}
}

// ---------------------------------------------------------------------------
// Checkers. Each returns nil or the first violation it finds.

// checkPrefixConsistent: one sequence is a prefix of the other.
var checkPrefixConsistent = graphtest.CheckPrefix

// checkSameCommits: the two sequences are identical.
func checkSameCommits(a, b []graph.Commit) error {
	if err := checkPrefixConsistent(a, b); err != nil {
		return err
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d commits vs %d", len(a), len(b))
	}
	return nil
}

// checkSequence runs every per-node check of a commit sequence.
func checkSequence(c *graph.Committee, commits []graph.Commit, depth uint64) error {
	for _, check := range []func() error{
		func() error { return checkCommitIndices(commits) },
		func() error { return checkMonotoneTime(commits) },
		func() error { return checkLeaders(c, commits) },
		func() error { return checkNoDoubleCommit(commits) },
		func() error { return checkCausalOrder(commits, depth) },
		func() error { return checkTxs(commits) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkCommitIndices: Commit.Index counts 0, 1, 2, ...
func checkCommitIndices(commits []graph.Commit) error {
	for i, c := range commits {
		if c.Index != uint64(i) {
			return fmt.Errorf("commit at position %d has index %d", i, c.Index)
		}
	}
	return nil
}

// checkMonotoneTime: consensus time never decreases.
func checkMonotoneTime(commits []graph.Commit) error {
	for i := 1; i < len(commits); i++ {
		if commits[i].Time < commits[i-1].Time {
			return fmt.Errorf("commit %d has time %d, below commit %d's %d", i, commits[i].Time, i-1, commits[i-1].Time)
		}
	}
	return nil
}

// checkLeaders: each leader is its round's scheduled leader, rounds strictly
// increase (so no slot commits twice), and the leader is its commit's last
// event.
func checkLeaders(c *graph.Committee, commits []graph.Commit) error {
	for i, cm := range commits {
		l := cm.Leader
		if want := c.Leader(l.Round); l.Creator != want {
			return fmt.Errorf("commit %d: leader %s is not round %d's scheduled leader %d", i, l, l.Round, want)
		}
		if i > 0 && l.Round <= commits[i-1].Leader.Round {
			return fmt.Errorf("commit %d: leader round %d after leader round %d", i, l.Round, commits[i-1].Leader.Round)
		}
		if len(cm.Events) == 0 || cm.Events[len(cm.Events)-1].Ref() != l {
			return fmt.Errorf("commit %d: leader %s is not the last event", i, l)
		}
	}
	return nil
}

// checkNoDoubleCommit: no event is committed twice.
func checkNoDoubleCommit(commits []graph.Commit) error {
	at := make(map[graph.Hash]int)
	for i, cm := range commits {
		for _, e := range cm.Events {
			if j, dup := at[e.Hash()]; dup {
				return fmt.Errorf("event %s committed by commit %d and again by commit %d", e.Ref(), j, i)
			}
			at[e.Hash()] = i
		}
	}
	return nil
}

// checkCausalOrder: every committed event's parents within the GC window of
// its commit (rounds ≥ leader round - depth) are committed before it: in an
// earlier commit or earlier in the same commit. A parent below the window
// may be left out, but if it is committed at all it comes first too.
func checkCausalOrder(commits []graph.Commit, depth uint64) error {
	type pos struct{ commit, event int }
	at := make(map[graph.Hash]pos)
	for i, cm := range commits {
		for j, e := range cm.Events {
			at[e.Hash()] = pos{i, j}
		}
	}
	for i, cm := range commits {
		cutoff := uint64(0)
		if cm.Leader.Round > depth {
			cutoff = cm.Leader.Round - depth
		}
		for j, e := range cm.Events {
			for _, p := range e.Parents {
				pp, ok := at[p.Hash]
				switch {
				case !ok && p.Round >= cutoff:
					return fmt.Errorf("commit %d: event %s committed, its parent %s never", i, e.Ref(), p)
				case ok && (pp.commit > i || pp.commit == i && pp.event >= j):
					return fmt.Errorf("commit %d: event %s (#%d) committed before its parent %s (commit %d #%d)", i, e.Ref(), j, p, pp.commit, pp.event)
				}
			}
		}
	}
	return nil
}

// checkTxs: each commit's Txs are its events' transactions in order (each
// entry pointing at the transaction it names), every transaction of a
// committed event is delivered, and none twice. (It assumes no GC: with GC
// a transaction may be delivered again once its first delivery is older
// than the GC depth.)
func checkTxs(commits []graph.Commit) error {
	delivered := make(map[graph.Hash]int)
	for i, cm := range commits {
		last := [2]int{-1, -1}
		for k, tx := range cm.Txs {
			if tx.Event < 0 || tx.Event >= len(cm.Events) || tx.Index < 0 || tx.Index >= len(cm.Events[tx.Event].Txs) {
				return fmt.Errorf("commit %d: tx %d points at event %d #%d, which does not exist", i, k, tx.Event, tx.Index)
			}
			if graph.TxHash(cm.Events[tx.Event].Txs[tx.Index]) != tx.Hash {
				return fmt.Errorf("commit %d: tx %d is not the transaction it points at", i, k)
			}
			if j, dup := delivered[tx.Hash]; dup {
				return fmt.Errorf("commit %d: tx %s delivered again (first by commit %d)", i, tx.Hash, j)
			}
			if tx.Event < last[0] || tx.Event == last[0] && tx.Index <= last[1] {
				return fmt.Errorf("commit %d: tx %d out of order", i, k)
			}
			last = [2]int{tx.Event, tx.Index}
			delivered[tx.Hash] = i
		}
		for _, e := range cm.Events {
			for _, data := range e.Txs {
				if _, ok := delivered[graph.TxHash(data)]; !ok {
					return fmt.Errorf("commit %d: a transaction of event %s is never delivered", i, e.Ref())
				}
			}
		}
	}
	return nil
}

// checkNodeHealthy: no fault, no insertion error, nothing left waiting for
// parents (run it after the cluster went quiet).
func checkNodeHealthy(n *graphtest.Node) error {
	if err := n.Graph.Fault(); err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	if len(n.Errors) > 0 {
		return fmt.Errorf("%d insertion errors, the first: %w", len(n.Errors), n.Errors[0])
	}
	if p, m := n.Graph.PendingLen(), len(n.Graph.Missing()); p > 0 || m > 0 {
		return fmt.Errorf("quiet, yet %d events wait for %d missing parents", p, m)
	}
	return nil
}

// checkValidity: every given event at round ≤ bound is committed.
func checkValidity(commits []graph.Commit, created []*graph.Event, bound uint64) error {
	committed := make(map[graph.Hash]bool)
	for _, cm := range commits {
		for _, e := range cm.Events {
			committed[e.Hash()] = true
		}
	}
	var lost []string
	for _, e := range created {
		if e.Round <= bound && !committed[e.Hash()] {
			lost = append(lost, e.Ref().String())
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%d honest events at rounds ≤ %d never committed (%d commits): %s", len(lost), bound, len(commits), strings.Join(lost, " "))
	}
	return nil
}

type slotID struct {
	round   uint64
	creator graph.MemberID
}

// equivocatedSlots returns the slots in which g holds more than one event.
func equivocatedSlots(g *graph.Graph) []slotID {
	var out []slotID
	for r := g.Horizon(); r <= g.Round(); r++ {
		count := make(map[graph.MemberID]int)
		for _, e := range g.EventsAt(r) {
			count[e.Creator]++
		}
		for c, k := range count {
			if k > 1 {
				out = append(out, slotID{r, c})
			}
		}
	}
	return out
}

// checkEvidence: every slot in which g holds two events is covered by
// evidence; every piece of evidence verifies with ed25519 against c, names
// two events g holds, and accuses no honest member.
func checkEvidence(g *graph.Graph, c *graph.Committee, evs []graph.Evidence, honest func(graph.MemberID) bool) error {
	covered := make(map[slotID]bool)
	for i := range evs {
		ev := &evs[i]
		if err := ev.Verify(c, graph.Ed25519{}); err != nil {
			return fmt.Errorf("evidence %d (r%d/c%d) does not verify: %w", i, ev.Round(), ev.Creator(), err)
		}
		if honest(ev.Creator()) {
			return fmt.Errorf("evidence %d accuses honest member %d", i, ev.Creator())
		}
		for _, h := range []graph.Hash{ev.First.Hash(), ev.Second.Hash()} {
			if _, ok := g.Get(h); !ok {
				return fmt.Errorf("evidence %d names event %s, which the graph does not hold", i, h)
			}
		}
		covered[slotID{ev.Round(), ev.Creator()}] = true
	}
	for _, s := range equivocatedSlots(g) {
		if !covered[s] {
			return fmt.Errorf("graph holds %d events in slot r%d/c%d, no evidence reported", len(slotEvents(g, s)), s.round, s.creator)
		}
	}
	return nil
}

func slotEvents(g *graph.Graph, s slotID) []*graph.Event {
	var out []*graph.Event
	for _, e := range g.EventsAt(s.round) {
		if e.Creator == s.creator {
			out = append(out, e)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Unit tests of the checkers: each must accept a real history and report a
// deliberately broken one.

// realHistory commits a fully connected 4-member DAG of 8 rounds with two
// transactions per event.
func realHistory(t *testing.T) (*graphtest.Builder, []graph.Commit) {
	t.Helper()
	b := graphtest.NewBuilder(4, 1)
	g := b.Graph(graph.Config{GCDepth: noGC})
	for _, layer := range b.Layered(8, 2, 8) {
		for _, e := range layer {
			if _, err := g.Insert(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	commits := g.Ready().Commits
	if len(commits) < 4 {
		t.Fatalf("only %d commits", len(commits))
	}
	if err := checkSequence(b.Committee, commits, noGC); err != nil {
		t.Fatalf("real history rejected: %v", err)
	}
	return b, commits
}

// cloneCommits copies commits deeply enough to mutate Events and Txs.
func cloneCommits(cs []graph.Commit) []graph.Commit {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Events = slices.Clone(out[i].Events)
		out[i].Txs = slices.Clone(out[i].Txs)
	}
	return out
}

func wantViolation(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("checker accepted a history with %s", what)
	}
	t.Logf("%s: %v", what, err)
}

func TestCheckPrefixConsistent_ReportsDivergence(t *testing.T) {
	_, cs := realHistory(t)
	if err := checkPrefixConsistent(cs, cs[:2]); err != nil {
		t.Fatalf("a prefix rejected: %v", err)
	}
	other := cloneCommits(cs)
	other[2].Events[0], other[2].Events[1] = other[2].Events[1], other[2].Events[0]
	wantViolation(t, checkPrefixConsistent(cs, other), "two events swapped")
	other = cloneCommits(cs)
	other[1].Time++
	wantViolation(t, checkPrefixConsistent(other, cs[:3]), "another time")
	other = cloneCommits(cs)
	other[1].Txs = other[1].Txs[1:]
	wantViolation(t, checkPrefixConsistent(cs, other), "a transaction missing")
	other = cloneCommits(cs)
	other[0].Leader = other[1].Leader
	wantViolation(t, checkPrefixConsistent(cs, other), "another leader")
}

func TestCheckSameCommits_ReportsShorterSequence(t *testing.T) {
	_, cs := realHistory(t)
	if err := checkSameCommits(cs, cloneCommits(cs)); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, checkSameCommits(cs, cs[:len(cs)-1]), "one commit fewer")
}

func TestCheckCommitIndices_ReportsGap(t *testing.T) {
	_, cs := realHistory(t)
	cs = cloneCommits(cs)
	cs[2].Index = 3
	wantViolation(t, checkCommitIndices(cs), "an index skipped")
}

func TestCheckMonotoneTime_ReportsTimeGoingBack(t *testing.T) {
	_, cs := realHistory(t)
	cs = cloneCommits(cs)
	cs[2].Time = cs[1].Time - 1
	wantViolation(t, checkMonotoneTime(cs), "time going back")
}

func TestCheckLeaders_ReportsWrongLeaders(t *testing.T) {
	b, cs := realHistory(t)
	bad := cloneCommits(cs)
	bad[1] = bad[0]
	bad[1].Index = 1
	wantViolation(t, checkLeaders(b.Committee, bad), "one slot committed twice")
	bad = cloneCommits(cs)
	for _, e := range bad[1].Events {
		if e.Round == bad[1].Leader.Round-1 && e.Creator != b.Committee.Leader(e.Round) {
			bad[1].Leader = e.Ref()
			break
		}
	}
	wantViolation(t, checkLeaders(b.Committee, bad), "an unscheduled leader")
	bad = cloneCommits(cs)
	bad[1].Events = bad[1].Events[:len(bad[1].Events)-1]
	wantViolation(t, checkLeaders(b.Committee, bad), "the leader missing from its commit")
}

func TestCheckNoDoubleCommit_ReportsEventCommittedTwice(t *testing.T) {
	_, cs := realHistory(t)
	cs = cloneCommits(cs)
	cs[2].Events = append([]*graph.Event{cs[0].Events[0]}, cs[2].Events...)
	wantViolation(t, checkNoDoubleCommit(cs), "an event in two commits")
}

func TestCheckCausalOrder_ReportsChildBeforeParent(t *testing.T) {
	_, cs := realHistory(t)
	bad := cloneCommits(cs)
	slices.Reverse(bad[1].Events)
	wantViolation(t, checkCausalOrder(bad, noGC), "a commit's events in reverse order")
	bad = cloneCommits(cs)
	bad[0], bad[1] = bad[1], bad[0]
	wantViolation(t, checkCausalOrder(bad, noGC), "two commits swapped")
	bad = cloneCommits(cs)
	bad[0].Events = bad[0].Events[1:]
	wantViolation(t, checkCausalOrder(bad, noGC), "an ancestor never committed")
	// Below the GC window a parent may be left out.
	if err := checkCausalOrder(bad[1:], 0); err != nil {
		t.Fatalf("a parent below the GC window was required: %v", err)
	}
}

func TestCheckTxs_ReportsDuplicateAndMissingTransactions(t *testing.T) {
	_, cs := realHistory(t)
	bad := cloneCommits(cs)
	bad[2].Txs = append(bad[2].Txs, bad[2].Txs[0])
	wantViolation(t, checkTxs(bad), "a transaction delivered twice")
	bad = cloneCommits(cs)
	bad[1].Txs = bad[1].Txs[:len(bad[1].Txs)-1]
	wantViolation(t, checkTxs(bad), "a transaction never delivered")
	bad = cloneCommits(cs)
	bad[1].Txs[0], bad[1].Txs[1] = bad[1].Txs[1], bad[1].Txs[0]
	wantViolation(t, checkTxs(bad), "transactions out of order")
	bad = cloneCommits(cs)
	bad[1].Txs[0].Hash = graph.TxHash([]byte("forged"))
	wantViolation(t, checkTxs(bad), "a transaction that is not in its event")
}

func TestCheckValidity_ReportsUncommittedEvent(t *testing.T) {
	b, cs := realHistory(t)
	lost := b.Event(0, 0, nil, []byte("lost"))
	created := append([]*graph.Event{lost}, cs[0].Events...)
	if err := checkValidity(cs, created[1:], 0); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, checkValidity(cs, created, 0), "an honest event never committed")
	if err := checkValidity(cs, []*graph.Event{b.Event(0, 5, nil)}, 4); err != nil {
		t.Fatalf("an event above the bound was required: %v", err)
	}
}

func TestCheckNodeHealthy_ReportsErrorsAndWaitingEvents(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	layers := b.Layered(2, 0, 0)
	n := &graphtest.Node{Graph: b.Graph(graph.Config{})}
	if err := checkNodeHealthy(n); err != nil {
		t.Fatal(err)
	}
	n.Errors = []error{errors.New("boom")}
	wantViolation(t, checkNodeHealthy(n), "an insertion error")
	n.Errors = nil
	if _, err := n.Graph.Insert(layers[1][0]); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, checkNodeHealthy(n), "an event waiting for parents")
}

func TestCheckEvidence_ReportsMissingAndBadEvidence(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	one := b.Event(3, 1, r0, []byte("one"))
	two := b.Event(3, 1, r0, []byte("two"))
	g := b.Graph(graph.Config{})
	for _, e := range append(slices.Clone(r0), one, two) {
		if _, err := g.Insert(e); err != nil {
			t.Fatal(err)
		}
	}
	evs := g.Ready().Evidence
	honestBut3 := func(m graph.MemberID) bool { return m != 3 }
	if err := checkEvidence(g, b.Committee, evs, honestBut3); err != nil {
		t.Fatalf("real evidence rejected: %v", err)
	}
	wantViolation(t, checkEvidence(g, b.Committee, nil, honestBut3), "an equivocation not reported")
	wantViolation(t, checkEvidence(g, b.Committee, evs, func(graph.MemberID) bool { return true }), "an honest member accused")
	forged := slices.Clone(evs)
	forged[0].Second.Sig[0] ^= 1
	wantViolation(t, checkEvidence(g, b.Committee, forged, honestBut3), "a forged signature")
	same := slices.Clone(evs)
	same[0].Second = same[0].First
	wantViolation(t, checkEvidence(g, b.Committee, same, honestBut3), "one event twice")
	// Evidence about events the graph never held.
	h := b.Graph(graph.Config{})
	for _, e := range r0 {
		if _, err := h.Insert(e); err != nil {
			t.Fatal(err)
		}
	}
	wantViolation(t, checkEvidence(h, b.Committee, evs, honestBut3), "evidence of events the node does not hold")
}
