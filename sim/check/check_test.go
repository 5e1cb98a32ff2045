package check

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// fixture is a finished graphtest cluster run: what each node committed and
// reported.
type fixture struct {
	seed      uint64
	depth     uint64
	committee *graph.Committee
	honest    []bool
	commits   [][]graph.Commit
	evidence  [][]graph.Evidence
}

func runCluster(cfg graphtest.Config) (*fixture, error) {
	cl, err := graphtest.New(cfg)
	if err != nil {
		return nil, err
	}
	if !cl.Drain(1_000_000) {
		return nil, fmt.Errorf("cluster did not go quiet")
	}
	f := &fixture{seed: cfg.Seed, depth: cfg.GCDepth, committee: cl.Committee}
	for i, n := range cl.Nodes {
		if len(n.Errors) > 0 {
			return nil, fmt.Errorf("node %d: %v", i, n.Errors[0])
		}
		f.honest = append(f.honest, cl.Honest(i))
		f.commits = append(f.commits, n.Commits)
		f.evidence = append(f.evidence, n.Evidence)
	}
	return f, nil
}

// The runs are shared by the tests, which only ever read them: mutations
// work on the copies stream makes.
var (
	goodRun = sync.OnceValues(func() (*fixture, error) {
		return runCluster(graphtest.Config{N: 4, Seed: 1, GCDepth: 5, MaxRound: 24, TxsPerEvent: 2})
	})
	equivocatorRun = sync.OnceValues(func() (*fixture, error) {
		return runCluster(graphtest.Config{N: 4, Seed: 2, GCDepth: 5, MaxRound: 24, TxsPerEvent: 2, Equivocators: []int{3}})
	})
)

func load(t testing.TB, run func() (*fixture, error)) *fixture {
	t.Helper()
	f, err := run()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) config() Config {
	return Config{Committee: f.committee, GCDepth: f.depth, Honest: slices.Clone(f.honest), LivenessDisabled: true}
}

// stream is the sequence of calls a simulator would make, ready to be
// altered before it is fed to a Checker.
type stream struct {
	commits       [][]graph.Commit
	equivocations [][]slot
	evidence      [][]graph.Evidence
	before, after []func(*Checker)
}

func (f *fixture) stream() *stream {
	s := &stream{}
	for i := range f.commits {
		seq := slices.Clone(f.commits[i])
		for k := range seq {
			seq[k].Events = slices.Clone(seq[k].Events)
			seq[k].Txs = slices.Clone(seq[k].Txs)
		}
		s.commits = append(s.commits, seq)
		var eqs []slot
		for _, ev := range f.evidence[i] {
			eqs = append(eqs, slot{ev.Round(), ev.Creator()})
		}
		s.equivocations = append(s.equivocations, eqs)
		s.evidence = append(s.evidence, slices.Clone(f.evidence[i]))
	}
	return s
}

// feed makes the calls: commits round-robin over the nodes, as a
// simulator interleaves them, then equivocations and evidence.
func (s *stream) feed(c *Checker) {
	for _, fn := range s.before {
		fn(c)
	}
	for k := 0; ; k++ {
		more := false
		for i, seq := range s.commits {
			if k < len(seq) {
				more = true
				c.Commit(i, &seq[k], int64(k)*1e9)
			}
		}
		if !more {
			break
		}
	}
	for i := range s.equivocations {
		for _, e := range s.equivocations[i] {
			c.Equivocation(i, e.creator, e.round)
		}
		for _, ev := range s.evidence[i] {
			c.Evidence(i, ev)
		}
	}
	for _, fn := range s.after {
		fn(c)
	}
}

// every applies edit to commit k of every node.
func (s *stream) every(k int, edit func(cm *graph.Commit)) {
	for i := range s.commits {
		edit(&s.commits[i][k])
	}
}

// insertEvent puts e in cm at its place in the canonical order, without
// delivering its transactions.
func insertEvent(cm *graph.Commit, e *graph.Event) {
	pos := len(cm.Events)
	for i, x := range cm.Events {
		if canonicalBefore(e, x) {
			pos = i
			break
		}
	}
	cm.Events = slices.Insert(cm.Events, pos, e)
	for i := range cm.Txs {
		if cm.Txs[i].Event >= pos {
			cm.Txs[i].Event++
		}
	}
}

// removeEvent takes e out of cm together with its transactions.
func removeEvent(cm *graph.Commit, h graph.Hash) {
	pos := slices.IndexFunc(cm.Events, func(x *graph.Event) bool { return x.Hash() == h })
	cm.Events = slices.Delete(cm.Events, pos, pos+1)
	cm.Txs = slices.DeleteFunc(cm.Txs, func(tx graph.CommittedTx) bool { return tx.Event == pos })
	for i := range cm.Txs {
		if cm.Txs[i].Event > pos {
			cm.Txs[i].Event--
		}
	}
}

// redeliver rebuilds cm's transactions from its events, every one
// delivered: what the linearizer does when no transaction repeats, as in
// the good run.
func redeliver(cm *graph.Commit) {
	cm.Txs = nil
	for i, e := range cm.Events {
		for j, tx := range e.Txs {
			cm.Txs = append(cm.Txs, graph.CommittedTx{Hash: graph.TxHash(tx), Event: i, Index: j})
		}
	}
}

// copyEvent returns a fresh event with e's fields, edited: a fresh one,
// because an Event caches its hash and its verification.
func copyEvent(e *graph.Event, edit func(*graph.Event)) *graph.Event {
	x := &graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time,
		Parents: slices.Clone(e.Parents), TxRoot: e.TxRoot, Txs: slices.Clone(e.Txs), Sig: e.Sig}
	edit(x)
	return x
}

// freshEvent signs a valid event of creator one round below the leader of
// commit k, whose parents (the previous round's events) are committed by
// then. Nobody references it, as an equivocation nobody voted for.
func (f *fixture) freshEvent(k int, creator int, txs ...[]byte) *graph.Event {
	b := graphtest.NewBuilder(len(f.honest), f.seed)
	r := f.commits[0][k].Leader.Round - 1
	var parents []*graph.Event
	if r > 0 {
		for _, cm := range f.commits[0][:k+1] {
			for _, e := range cm.Events {
				if e.Round == r-1 {
					parents = append(parents, e)
				}
			}
		}
	}
	return b.Event(creator, r, parents, txs...)
}

// nextEpochCommit appends to every node's sequence a first commit of
// epoch 1 (the same members): the round-0 leader's event with txs.
func (f *fixture) nextEpochCommit(s *stream, txs ...[]byte) {
	b := graphtest.NewBuilder(len(f.honest), f.seed)
	var members []graph.Member
	for i := range f.committee.Size() {
		m, _ := f.committee.Member(graph.MemberID(i))
		members = append(members, m)
	}
	com, err := graph.NewCommittee(1, members)
	if err != nil {
		panic(err)
	}
	b.Committee = com
	e := b.Event(int(com.Leader(0)), 0, nil, txs...)
	for i := range s.commits {
		cm := graph.Commit{Index: uint64(len(s.commits[i])), Leader: e.Ref(), Events: []*graph.Event{e}}
		redeliver(&cm)
		s.commits[i] = append(s.commits[i], cm)
	}
	s.before = append(s.before, func(c *Checker) { c.AddEpoch(com) })
}

// nonLeaderParent returns an event of commit cm, other than the leader,
// that the leader references.
func nonLeaderParent(t *testing.T, cm *graph.Commit) *graph.Event {
	t.Helper()
	lead := cm.Events[len(cm.Events)-1]
	for _, e := range cm.Events[:len(cm.Events)-1] {
		if slices.Contains(lead.Parents, e.Ref()) {
			return e
		}
	}
	t.Fatalf("commit %d: the leader references no other event of its commit", cm.Index)
	return nil
}

var names = []string{"agreement", "integrity", "liveness", "evidence", "state-agreement"}

// expect checks that exactly the checkers named in fail failed, each with
// a detail containing what fail maps it to, and that the others passed.
func expect(t *testing.T, rs []Result, fail map[string]string) {
	t.Helper()
	if len(rs) != len(names) {
		t.Fatalf("%d results, want %d", len(rs), len(names))
	}
	for i, r := range rs {
		if r.Name != names[i] {
			t.Errorf("result %d is %q, want %q", i, r.Name, names[i])
		}
		if strings.Contains(r.Detail, "\n") {
			t.Errorf("%s detail spans lines: %q", r.Name, r.Detail)
		}
		detail, wantFail := fail[r.Name]
		switch {
		case r.Pass == wantFail:
			t.Errorf("%s: pass=%v, want %v (%s)", r.Name, r.Pass, !wantFail, r.Detail)
		case wantFail && !strings.Contains(r.Detail, detail):
			t.Errorf("%s detail %q does not mention %q", r.Name, r.Detail, detail)
		}
	}
}

func check(cfg Config, s *stream) []Result {
	c := New(cfg)
	s.feed(c)
	return c.Finish()
}

func TestHonestRunsPassEveryCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		run    func() (*fixture, error)
		detail string
	}{
		{"no faults", goodRun, "no equivocation seen"},
		{"one equivocator", equivocatorRun, "all reported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := load(t, tc.run)
			rs := check(f.config(), f.stream())
			expect(t, rs, nil)
			if !strings.Contains(rs[3].Detail, tc.detail) {
				t.Errorf("evidence detail %q does not mention %q", rs[3].Detail, tc.detail)
			}
			if !strings.Contains(rs[0].Detail, "prefix-consistent") {
				t.Errorf("agreement detail %q", rs[0].Detail)
			}
		})
	}
}

// The mutations below rely on redeliver reproducing the linearizer on the
// good run; this keeps them honest.
func TestRedeliverReproducesTheGoodRun(t *testing.T) {
	f := load(t, goodRun)
	for _, cm := range f.stream().commits[0] {
		want := slices.Clone(cm.Txs)
		redeliver(&cm)
		if !reflect.DeepEqual(cm.Txs, want) {
			t.Fatalf("commit %d: redeliver differs from the linearizer", cm.Index)
		}
	}
}

// safetyCase is a run altered to break one property, and what must fail.
type safetyCase struct {
	name   string
	mutate func(t *testing.T, s *stream)
	fail   map[string]string
}

func safetyCases(t *testing.T, f *fixture) []safetyCase {
	last := len(f.commits[0]) - 1
	const k = 10 // a commit in the middle of the run
	if last < k+2 {
		t.Fatalf("the good run has %d commits", last+1)
	}
	return []safetyCase{
		{"unaltered run passes", func(*testing.T, *stream) {}, nil},
		{"nodes disagree on a commit's time", func(t *testing.T, s *stream) {
			s.commits[2][k].Time++
		}, map[string]string{"agreement": fmt.Sprintf("node 2 commit %d differs from node 0's: time", k)}},
		{"nodes disagree on a commit's leader", func(t *testing.T, s *stream) {
			s.commits[1][k].Leader.Hash[0] ^= 1
		}, map[string]string{"agreement": fmt.Sprintf("node 1 commit %d differs from node 0's: leader", k), "integrity": "is not the last of its"}},
		{"a node drops a delivered transaction", func(t *testing.T, s *stream) {
			s.commits[1][k].Txs = s.commits[1][k].Txs[1:]
		}, map[string]string{"agreement": fmt.Sprintf("node 1 commit %d differs from node 0's: %d txs", k, len(f.commits[0][k].Txs)-1)}},
		{"a node skips an index", func(t *testing.T, s *stream) {
			s.commits[3] = slices.Delete(s.commits[3], k, k+1)
		}, map[string]string{"agreement": fmt.Sprintf("node 3 delivered commit %d when commit %d was due", k+1, k), "integrity": fmt.Sprintf("node 3 commit %d: event", k+1)}},
		{"a node repeats an index", func(t *testing.T, s *stream) {
			s.commits[3] = slices.Insert(s.commits[3], k+1, s.commits[3][k])
		}, map[string]string{"agreement": fmt.Sprintf("node 3 delivered commit %d when commit %d was due", k, k+1), "integrity": "committed again"}},
		{"an honest graph stops with a safety fault", func(t *testing.T, s *stream) {
			s.after = append(s.after, func(c *Checker) { c.Fault(1, fmt.Errorf("%w: two certified blocks", graph.ErrSafety)) })
		}, map[string]string{"agreement": "node 1 stopped with a fault"}},
		{"an event is committed twice", func(t *testing.T, s *stream) {
			again := s.commits[0][k-1].Events[0]
			s.every(k, func(cm *graph.Commit) { insertEvent(cm, again) })
		}, map[string]string{"integrity": "committed again"}},
		{"an event with a bad signature is committed", func(t *testing.T, s *stream) {
			// Only node 2: the same hash as the valid event that node 0
			// committed first, so the verification memo must not vouch for
			// it.
			cm := &s.commits[2][k]
			cm.Events[0] = copyEvent(cm.Events[0], func(e *graph.Event) { e.Sig[0] ^= 1 })
		}, map[string]string{"integrity": "bad signature"}},
		{"an event with an altered field is committed", func(t *testing.T, s *stream) {
			altered := copyEvent(s.commits[0][k].Events[0], func(e *graph.Event) { e.Time++ })
			s.every(k, func(cm *graph.Commit) { cm.Events[0] = altered })
		}, map[string]string{"integrity": "invalid"}},
		{"an event's batch is altered under its header", func(t *testing.T, s *stream) {
			cm := &s.commits[1][k]
			cm.Events[0] = copyEvent(cm.Events[0], func(e *graph.Event) {
				e.Txs[0] = slices.Clone(e.Txs[0])
				e.Txs[0][0] ^= 1
			})
		}, map[string]string{"integrity": "transaction root"}},
		{"a child is committed before its parent", func(t *testing.T, s *stream) {
			p := nonLeaderParent(t, &s.commits[0][k])
			s.every(k, func(cm *graph.Commit) { removeEvent(cm, p.Hash()) })
			s.every(k+1, func(cm *graph.Commit) { insertEvent(cm, p); redeliver(cm) })
		}, map[string]string{"integrity": "before its parent " + p(t, f, k)}},
		{"an event below the GC cutoff is committed", func(t *testing.T, s *stream) {
			old := graphtest.NewBuilder(len(f.honest), f.seed).Event(1, 0, nil, []byte("late"))
			s.every(last, func(cm *graph.Commit) { insertEvent(cm, old) })
		}, map[string]string{"integrity": "below cutoff round"}},
		{"a transaction is delivered twice within the window", func(t *testing.T, s *stream) {
			dup := f.freshEvent(1, 2, f.commits[0][0].TxData(0))
			s.every(1, func(cm *graph.Commit) { insertEvent(cm, dup); redeliver(cm) })
		}, map[string]string{"integrity": "delivered again (first in commit 0)"}},
		{"a transaction delivered again after the window is allowed", func(t *testing.T, s *stream) {
			dup := f.freshEvent(last, 2, f.commits[0][0].TxData(0))
			s.every(last, func(cm *graph.Commit) { insertEvent(cm, dup); redeliver(cm) })
		}, nil},
		{"a transaction is delivered again by the next epoch's first commit", func(t *testing.T, s *stream) {
			f.nextEpochCommit(s, f.commits[0][last].TxData(0))
		}, map[string]string{"integrity": fmt.Sprintf("delivered again (first in commit %d)", last)}},
		{"a transaction delivered in an epoch beyond the window may come again in the next", func(t *testing.T, s *stream) {
			f.nextEpochCommit(s, f.commits[0][0].TxData(0))
		}, nil},
		{"a transaction is delivered from the wrong place", func(t *testing.T, s *stream) {
			s.every(k, func(cm *graph.Commit) { cm.Txs[0].Index++ })
		}, map[string]string{"integrity": "has leaf hash"}},
		{"events are out of canonical order", func(t *testing.T, s *stream) {
			s.every(k, func(cm *graph.Commit) {
				cm.Events[0], cm.Events[1] = cm.Events[1], cm.Events[0]
				redeliver(cm)
			})
		}, map[string]string{"integrity": "out of order after"}},
		{"leader rounds go backwards", func(t *testing.T, s *stream) {
			for i := range s.commits {
				s.commits[i][k], s.commits[i][k+1] = s.commits[i][k+1], s.commits[i][k]
				s.commits[i][k].Index, s.commits[i][k+1].Index = s.commits[i][k+1].Index, s.commits[i][k].Index
			}
		}, map[string]string{"integrity": "does not follow leader round"}},
		{"the leader is not its commit's last event", func(t *testing.T, s *stream) {
			s.every(k, func(cm *graph.Commit) { cm.Leader = cm.Events[0].Ref() })
		}, map[string]string{"integrity": "is not the last of its"}},
		{"a transaction is delivered from a place that does not exist", func(t *testing.T, s *stream) {
			s.every(k, func(cm *graph.Commit) { cm.Txs[0].Index = 1 << 20 })
		}, map[string]string{"integrity": "no such place"}},
		{"a node restarts and delivers the sequence again", func(t *testing.T, s *stream) {
			redo := slices.Clone(s.commits[1][:k+3])
			s.commits[1] = s.commits[1][:k]
			s.after = append(s.after, func(c *Checker) {
				c.Restart(1, 0)
				for i := range redo {
					c.Commit(1, &redo[i], 1000*second)
				}
			})
		}, nil},
	}
}

func TestEachSafetyViolationFailsItsChecker(t *testing.T) {
	f := load(t, goodRun)
	for _, tc := range safetyCases(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			s := f.stream()
			tc.mutate(t, s)
			expect(t, check(f.config(), s), tc.fail)
		})
	}
}

// feedShuffled makes the calls of feed, but lets the nodes run ahead of
// and fall behind one another as the seed draws it: each node's commits
// stay in order.
func (s *stream) feedShuffled(c *Checker, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	for _, fn := range s.before {
		fn(c)
	}
	next := make([]int, len(s.commits))
	for {
		var ready []int
		for i, seq := range s.commits {
			if next[i] < len(seq) {
				ready = append(ready, i)
			}
		}
		if len(ready) == 0 {
			break
		}
		// Node 0 is the slowest, so that others pull ahead of it by
		// more than a window.
		i := ready[r.IntN(len(ready))]
		if i == 0 && len(ready) > 1 && r.IntN(8) != 0 {
			i = ready[1+r.IntN(len(ready)-1)]
		}
		c.Commit(i, &s.commits[i][next[i]], int64(next[i])*1e9)
		next[i]++
	}
	for i := range s.equivocations {
		for _, e := range s.equivocations[i] {
			c.Equivocation(i, e.creator, e.round)
		}
		for _, ev := range s.evidence[i] {
			c.Evidence(i, ev)
		}
	}
	for _, fn := range s.after {
		fn(c)
	}
}

// Nodes sharing windows (lineage.go) must find exactly what nodes with
// windows of their own find, violation by violation, however far apart
// they run, whatever breaks.
func TestSharedWindowsFindWhatOwnWindowsFind(t *testing.T) {
	f := load(t, goodRun)
	cases := safetyCases(t, f)
	cfg, messy := messyStream(f)
	cases = append(cases, safetyCase{name: "a messy run", mutate: func(_ *testing.T, s *stream) { *s = *messy }})
	// A transaction delivered again around the end of its window: for
	// nodes behind the front it may still be in theirs.
	for m := 3; m < 12; m++ {
		cases = append(cases, safetyCase{name: fmt.Sprintf("a transaction is delivered again %d commits later", m),
			mutate: func(_ *testing.T, s *stream) {
				dup := f.freshEvent(m, 2, f.commits[0][1].TxData(0))
				s.every(m, func(cm *graph.Commit) { insertEvent(cm, dup); redeliver(cm) })
			}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(6) {
				run := func(share bool) ([]Result, any, int) {
					s := f.stream()
					tc.mutate(t, s)
					conf := f.config()
					if tc.name == "a messy run" {
						conf = cfg
					}
					c := New(conf)
					c.share = share
					if !share {
						for i, n := range c.nodes {
							if n.honest {
								c.resetIntegrity(i, 0)
							}
						}
					}
					if seed == 0 {
						s.feed(c)
					} else {
						s.feedShuffled(c, seed)
					}
					return c.Finish(), c.checked, len(c.lineages)
				}
				shared, sharedCount, lineages := run(true)
				own, ownCount, _ := run(false)
				if !reflect.DeepEqual(shared, own) || sharedCount != ownCount {
					t.Fatalf("seed %d: shared windows found\n%v %+v\nown windows found\n%v %+v", seed, shared, sharedCount, own, ownCount)
				}
				if seed == 0 && tc.fail == nil && !strings.Contains(tc.name, "restarts") && !strings.Contains(tc.name, "commits later") &&
					tc.name != "a messy run" && lineages != 1 {
					t.Errorf("%d lineages after a run whose nodes committed the same", lineages)
				}
			}
		})
	}
}

// p names the parent moved by the child-before-parent case, for its
// expected detail.
func p(t *testing.T, f *fixture, k int) string {
	return nonLeaderParent(t, &f.commits[0][k]).Ref().String()
}

const second = int64(1e9)

func TestLivenessRequiresWindowSubmissionsToCommitAtTheirNode(t *testing.T) {
	f := load(t, goodRun)
	last := len(f.commits[0]) - 1
	committed := f.commits[0][3].Txs[0].Hash
	late := f.commits[0][last].Txs[0].Hash // only in the last commit
	ghost := graph.TxHash([]byte("never submitted to any event"))
	submit := func(node int, tx graph.Hash, at int64) func(*Checker) {
		return func(c *Checker) { c.Submit(node, tx, at) }
	}
	cases := []struct {
		name     string
		disabled bool
		before   []func(*Checker) // submissions made before the commits
		after    []func(*Checker) // and after them
		mutate   func(s *stream)
		fail     map[string]string
		detail   string // of a pass
	}{
		{name: "committed transactions pass", before: []func(*Checker){submit(0, committed, 12*second), submit(2, late, 10*second)},
			detail: "2 of 2 transactions submitted to honest nodes in [10s, 20s] committed"},
		{name: "a transaction never committed fails", before: []func(*Checker){submit(0, committed, 12*second), submit(1, ghost, 15500*1e6)},
			fail: map[string]string{"liveness": "1 of 2 transactions submitted to honest nodes in [10s, 20s] not committed: node 1 tx " + ghost.String() + " submitted at 15.5s"}},
		{name: "submissions outside the window are not required", before: []func(*Checker){submit(1, ghost, 10*second-1), submit(2, ghost, 20*second+1)},
			detail: "0 of 0 transactions"},
		{name: "the window's bounds are inclusive", before: []func(*Checker){submit(1, ghost, 10*second), submit(2, ghost, 20*second)},
			fail: map[string]string{"liveness": "2 of 2 transactions"}},
		{name: "a transaction must commit at the node it was submitted to", before: []func(*Checker){submit(3, late, 12*second)},
			mutate: func(s *stream) { s.commits[3] = s.commits[3][:last] },
			fail:   map[string]string{"liveness": "node 3 tx " + late.String()}},
		{name: "a transaction committed before it was submitted counts", after: []func(*Checker){submit(0, committed, 12*second)},
			detail: "1 of 1"},
		{name: "disabled liveness requires nothing", disabled: true, before: []func(*Checker){submit(1, ghost, 12*second)},
			detail: "disabled"},
		{name: "a node that went down owes nothing it was asked before", before: []func(*Checker){
			submit(1, ghost, 12*second), submit(2, ghost, 12*second), submit(0, committed, 12*second), func(c *Checker) { c.Down(1) }},
			fail: map[string]string{"liveness": "1 of 2 transactions submitted to honest nodes in [10s, 20s] not committed (1 more excused: their node went down before committing them): node 2 tx"}},
		{name: "excused transactions are counted apart", before: []func(*Checker){submit(1, ghost, 12*second), func(c *Checker) { c.Down(1) }, func(c *Checker) { c.Down(1) }},
			detail: "0 of 0 transactions submitted to honest nodes in [10s, 20s] committed (1 more excused"},
		{name: "a node asked again after it came back owes it", before: []func(*Checker){submit(1, ghost, 12*second), func(c *Checker) { c.Down(1) }, submit(1, ghost, 14*second)},
			fail: map[string]string{"liveness": "node 1 tx " + ghost.String() + " submitted at 14s"}},
	}
	// The stream delivers commit k at k seconds.
	stopAt := func(node int, at int64) func(s *stream) {
		return func(s *stream) { s.commits[node] = s.commits[node][:at/second] }
	}
	cases = append(cases, []struct {
		name     string
		disabled bool
		before   []func(*Checker)
		after    []func(*Checker)
		mutate   func(s *stream)
		fail     map[string]string
		detail   string
	}{
		{name: "a node that stops delivering before the window fails without any submission", mutate: stopAt(3, 5*second),
			fail: map[string]string{"liveness": "0 of 0 transactions submitted to honest nodes in [10s, 20s] committed; honest nodes up at the end that delivered no commit from 20s on: node 3 (its last at "}},
		{name: "so does one stalled on a transaction", before: []func(*Checker){submit(1, ghost, 12*second)}, mutate: stopAt(2, 5*second),
			fail: map[string]string{"liveness": "; honest nodes up at the end that delivered no commit from 20s on: node 2 (its last at "}},
		{name: "a node that stops delivering inside the window fails", mutate: stopAt(1, 15*second),
			fail: map[string]string{"liveness": "delivered no commit from 20s on: node 1 (its last at 14s)"}},
		{name: "a node that went down owes no progress", mutate: stopAt(3, 5*second), after: []func(*Checker){func(c *Checker) { c.Down(3) }},
			detail: "0 of 0 transactions submitted"},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			cfg.LivenessAfter, cfg.LivenessDeadline, cfg.LivenessDisabled = 10*second, 20*second, tc.disabled
			s := f.stream()
			s.before, s.after = tc.before, tc.after
			if tc.mutate != nil {
				tc.mutate(s)
			}
			rs := check(cfg, s)
			expect(t, rs, tc.fail)
			if tc.fail == nil && !strings.Contains(rs[2].Detail, tc.detail) {
				t.Errorf("liveness detail %q does not mention %q", rs[2].Detail, tc.detail)
			}
		})
	}
}

func TestEvidenceMustMatchEveryEquivocation(t *testing.T) {
	f := load(t, equivocatorRun)
	if len(f.evidence[0]) == 0 {
		t.Fatal("the equivocator run gave node 0 no evidence")
	}
	first := f.evidence[0][0]
	cases := []struct {
		name   string
		mutate func(s *stream)
		fail   map[string]string
	}{
		{"every equivocation reported passes", func(*stream) {}, nil},
		{"evidence may come before the equivocation is seen", func(s *stream) {
			s.before = append(s.before, func(c *Checker) { c.Evidence(0, first) })
			s.evidence[0] = s.evidence[0][1:]
		}, nil},
		{"an equivocation seen and not reported fails", func(s *stream) {
			s.evidence[0] = slices.DeleteFunc(s.evidence[0], func(ev graph.Evidence) bool {
				return ev.Creator() == first.Creator() && ev.Round() == first.Round()
			})
		}, map[string]string{"evidence": fmt.Sprintf("node 0 saw r%d/c%d equivocate and reported no evidence", first.Round(), first.Creator())}},
		{"evidence for another slot does not count", func(s *stream) {
			s.equivocations[1] = append(s.equivocations[1], slot{first.Round(), 0})
		}, map[string]string{"evidence": fmt.Sprintf("node 1 saw r%d/c0 equivocate", first.Round())}},
		{"invalid evidence fails", func(s *stream) {
			forged := first
			forged.Second.Time++ // no longer what the creator signed
			s.evidence[2] = append(s.evidence[2], forged)
		}, map[string]string{"evidence": fmt.Sprintf("node 2 reported invalid evidence against r%d/c%d", first.Round(), first.Creator())}},
		{"evidence of one event twice fails", func(s *stream) {
			same := first
			same.Second = same.First
			s.evidence[1] = append(s.evidence[1], same)
		}, map[string]string{"evidence": "both headers are event"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := f.stream()
			tc.mutate(s)
			expect(t, check(f.config(), s), tc.fail)
		})
	}
}

// TestAnHonestNodeMustNeverEquivocate: given the nodes' keys, the evidence
// check fails when the creator of an equivocation is a node it judges.
func TestAnHonestNodeMustNeverEquivocate(t *testing.T) {
	f := load(t, equivocatorRun)
	if len(f.evidence[0]) == 0 {
		t.Fatal("the equivocator run gave node 0 no evidence")
	}
	first := f.evidence[0][0]
	keys := make([]graph.PublicKey, f.committee.Size())
	for i := range keys {
		m, _ := f.committee.Member(graph.MemberID(i))
		keys[i] = m.Key
	}
	cfg := f.config()
	cfg.Keys = keys
	expect(t, check(cfg, f.stream()), nil)

	// Node 0's key in the equivocator's place: node 0 is judged, and its
	// key signed two events in one slot.
	swapped := slices.Clone(keys)
	eq := int(first.Creator())
	swapped[0], swapped[eq] = keys[eq], keys[0]
	cfg.Keys = swapped
	expect(t, check(cfg, f.stream()), map[string]string{
		"evidence": fmt.Sprintf("honest node 0 equivocated: two events in slot r%d/c%d (seen by node 0)", first.Round(), eq)})
}

func TestRestartedNodeIsComparedWithTheAgreedSequence(t *testing.T) {
	f := load(t, goodRun)
	const k = 12
	cases := []struct {
		name   string
		redo   func(seq []graph.Commit) // edits the sequence delivered after the restart
		fail   map[string]string
		sameFP bool
	}{
		{"the same sequence again passes", func([]graph.Commit) {}, nil, true},
		{"a different commit after the restart fails", func(seq []graph.Commit) { seq[2].Time-- },
			map[string]string{"agreement": "node 1 commit 2 differs from node 0's: time"}, false},
		{"a gap after the restart fails", func(seq []graph.Commit) { seq[0].Index = 1 },
			map[string]string{"agreement": "node 1 delivered commit 1 when commit 0 was due"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := f.stream()
			redo := slices.Clone(s.commits[1])
			tc.redo(redo)
			s.commits[1] = s.commits[1][:k]
			s.after = append(s.after, func(c *Checker) {
				c.Restart(1, 0)
				for i := range redo {
					c.Commit(1, &redo[i], 1000*second)
				}
			})
			c := New(f.config())
			s.feed(c)
			expect(t, c.Finish(), tc.fail)
			if same := c.Fingerprint(1) == c.Fingerprint(0); same != tc.sameFP {
				t.Errorf("fingerprints of nodes 0 and 1 equal: %v, want %v", same, tc.sameFP)
			}
			if got := c.Commits(); got != uint64(len(f.commits[0])) {
				t.Errorf("Commits() = %d, want %d", got, len(f.commits[0]))
			}
		})
	}
}

func TestByzantineNodesAreNotJudged(t *testing.T) {
	f := load(t, goodRun)
	cfg := f.config()
	cfg.Honest[3] = false
	cfg.LivenessAfter, cfg.LivenessDeadline, cfg.LivenessDisabled = 0, 20*second, false
	s := f.stream()
	s.commits[3][4].Time++
	s.commits[3] = slices.Delete(s.commits[3], 6, 7)
	s.commits[3] = s.commits[3][:10] // and it stops delivering long before the deadline
	s.equivocations[3] = append(s.equivocations[3], slot{5, 1})
	s.after = append(s.after,
		func(c *Checker) { c.Fault(3, graph.ErrSafety) },
		func(c *Checker) { c.Submit(3, graph.TxHash([]byte("lost")), second) },
		func(c *Checker) { c.Evidence(3, graph.Evidence{}) },
	)
	c := New(cfg)
	s.feed(c)
	expect(t, c.Finish(), nil)
	if c.Fingerprint(3) == c.Fingerprint(0) {
		t.Error("a Byzantine node's different sequence has the honest fingerprint")
	}
	if c.Fingerprint(3) == (graph.Hash{}) {
		t.Error("a Byzantine node's fingerprint is not recorded")
	}
	if c.Fingerprint(1) != c.Fingerprint(0) {
		t.Error("honest nodes with one sequence have different fingerprints")
	}
}

// A stream with violations of every kind, to compare verdicts across runs.
func messyStream(f *fixture) (Config, *stream) {
	cfg := f.config()
	cfg.LivenessAfter, cfg.LivenessDeadline, cfg.LivenessDisabled = 0, 20*second, false
	s := f.stream()
	for k := 3; k < len(s.commits[2]); k++ {
		s.commits[2][k].Time += int64(k)
	}
	s.commits[1] = slices.Delete(s.commits[1], 5, 6)
	s.equivocations[0] = append(s.equivocations[0], slot{7, 2}, slot{3, 1}, slot{7, 0})
	for i := range 8 {
		s.before = append(s.before, func(c *Checker) {
			c.Submit(i%4, graph.TxHash(fmt.Appendf(nil, "ghost %d", i)), int64(8-i)*second)
		})
	}
	s.after = append(s.after, func(c *Checker) {
		c.StateHash(0, 3, [32]byte{1})
		c.StateHash(1, 3, [32]byte{2})
	})
	return cfg, s
}

func TestStateAgreementComparesHashesPerCommit(t *testing.T) {
	f := load(t, goodRun)
	cases := []struct {
		name  string
		feed  func(c *Checker)
		fails string
	}{
		{"equal hashes pass", func(c *Checker) {
			for i := range 3 {
				c.StateHash(i, 0, [32]byte{7})
				c.StateHash(i, 1, [32]byte{8})
			}
		}, ""},
		{"a different hash fails", func(c *Checker) {
			c.StateHash(0, 4, [32]byte{7})
			c.StateHash(2, 4, [32]byte{9})
		}, "node 2's cluster state after commit 4"},
		{"a Byzantine node is not judged", func(c *Checker) {
			c.StateHash(0, 4, [32]byte{7})
			c.StateHash(3, 4, [32]byte{9})
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			cfg.Honest = []bool{true, true, true, false}
			c := New(cfg)
			tc.feed(c)
			var r Result
			for _, x := range c.Finish() {
				if x.Name == "state-agreement" {
					r = x
				}
			}
			if (tc.fails == "") != r.Pass || !strings.Contains(r.Detail, tc.fails) {
				t.Fatalf("%+v, want failing with %q", r, tc.fails)
			}
		})
	}
}

func TestResultsAreDeterministic(t *testing.T) {
	f := load(t, goodRun)
	var results [][]Result
	var fingerprints [][]graph.Hash
	for range 3 {
		cfg, s := messyStream(f)
		c := New(cfg)
		s.feed(c)
		results = append(results, c.Finish())
		var fps []graph.Hash
		for i := range f.honest {
			fps = append(fps, c.Fingerprint(i))
		}
		fingerprints = append(fingerprints, fps)
		if again := c.Finish(); !reflect.DeepEqual(again, results[len(results)-1]) {
			t.Errorf("a second Finish differs:\n%v\n%v", again, results[len(results)-1])
		}
	}
	for i := 1; i < len(results); i++ {
		if !reflect.DeepEqual(results[i], results[0]) {
			t.Errorf("run %d differs:\n%v\n%v", i, results[i], results[0])
		}
		if !reflect.DeepEqual(fingerprints[i], fingerprints[0]) {
			t.Errorf("run %d has other fingerprints", i)
		}
	}
	for _, r := range results[0] {
		if r.Pass {
			t.Errorf("%s passed the messy stream: %s", r.Name, r.Detail)
		}
	}
}

func TestDetailShowsTheSmallestViolationsFirst(t *testing.T) {
	f := load(t, goodRun)
	cfg, s := messyStream(f)
	rs := check(cfg, s)
	n := len(f.commits[2]) - 3
	cases := []struct {
		name, prefix string
	}{
		// Node 1 is fed before node 2, but node 2's divergence at commit 3
		// comes first in the order of indexes.
		{"agreement", fmt.Sprintf("fork at commit 3 (commits 0 to 2 agree): side 1 (nodes 0, 1, 3) committed leader r3/c2/%s", f.commits[0][3].Leader.Hash)},
		{"liveness", "8 of 8 transactions submitted to honest nodes in [0s, 20s] not committed: node 3 tx " +
			graph.TxHash([]byte("ghost 7")).String() + " submitted at 1s; node 2 tx"},
		{"evidence", "3 violations: node 0 saw r3/c1 equivocate and reported no evidence; node 0 saw r7/c0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			i := slices.Index(names, tc.name)
			if !strings.HasPrefix(rs[i].Detail, tc.prefix) {
				t.Errorf("detail %q does not start with %q", rs[i].Detail, tc.prefix)
			}
			list := rs[i].Detail
			if tc.name == "agreement" {
				// The violations follow the description of the fork.
				_, list, _ = strings.Cut(list, ". ")
				if want := fmt.Sprintf("%d violations: node 2 commit 3 differs", n+1); !strings.HasPrefix(list, want) {
					t.Errorf("violations %q do not start with %q", list, want)
				}
			}
			if got := strings.Count(list, "; ") + 1; got > maxShown+1 {
				t.Errorf("detail lists %d items: %q", got, list)
			}
		})
	}
	if !strings.HasSuffix(rs[0].Detail, fmt.Sprintf("; and %d more", n+1-maxShown)) {
		t.Errorf("agreement detail %q does not count the violations left out", rs[0].Detail)
	}
}

// The checker's memory must follow the graph's: per lineage only the
// rounds at or above the GC cutoff of its members' last commits, and one
// lineage for nodes that committed the same.
func TestWindowsKeepOnlyRoundsAtOrAboveTheCutoff(t *testing.T) {
	f := load(t, goodRun)
	c := New(f.config())
	f.stream().feed(c)
	lowest := ^uint64(0)
	for i, n := range c.nodes {
		if n.cutoff <= f.depth {
			t.Fatalf("node %d: cutoff %d never advanced", i, n.cutoff)
		}
		lowest = min(lowest, n.cutoff)
	}
	if len(c.lineages) != 1 || len(c.lineages[0].members) != len(c.nodes) {
		t.Fatalf("%d lineages for %d nodes that committed the same", len(c.lineages), len(c.nodes))
	}
	l := c.lineages[0]
	for name, w := range map[string]*histWindow{"events": &l.events, "txs": &l.txs} {
		held := 0
		for r, ks := range w.rounds {
			if name == "events" && r < lowest {
				t.Errorf("%s window holds round %d below every node's cutoff %d", name, r, lowest)
			}
			held += len(ks)
		}
		if held != len(w.m) {
			t.Errorf("%s window: %d keys by round, %d in the map", name, held, len(w.m))
		}
	}
	for r := range c.memo.rounds {
		if r < lowest {
			t.Errorf("memo holds round %d below every node's cutoff %d", r, lowest)
		}
	}
}

func TestWindowPruneForgetsExactlyTheRoundsBelowTheCutoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rounds []uint64
		cutoff uint64
	}{
		{"narrow step", []uint64{3, 4, 5, 6, 7}, 5},
		{"leap far beyond the rounds held", []uint64{3, 4, 1 << 40, 5}, 1 << 39},
		{"nothing below", []uint64{8, 9}, 8},
		{"everything below", []uint64{1, 2, 3}, 1 << 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow[uint64, bool]()
			for _, r := range tc.rounds {
				w.put(r, r, true)
			}
			w.prune(tc.cutoff)
			for _, r := range tc.rounds {
				if _, held := w.get(r); held != (r >= tc.cutoff) {
					t.Errorf("round %d held: %v after pruning below %d", r, held, tc.cutoff)
				}
			}
			// A key below the cutoff added later (after a restart) is kept
			// until the next prune above it.
			w.put(0, 1<<63, true)
			if _, held := w.get(1 << 63); !held {
				t.Error("a key put below the last cutoff was dropped")
			}
			w.prune(1)
			if _, held := w.get(1 << 63); held {
				t.Error("a key below a later cutoff was kept")
			}
		})
	}
}

// A fork is reported as what it is: the first index where the honest
// sequences part, each side's commit there and who is on which side.
func TestAgreementReportsAForkWithBothSides(t *testing.T) {
	f := load(t, goodRun)
	const k = 10
	s := f.stream()
	for _, i := range []int{2, 3} {
		for j := k; j < len(s.commits[i]); j++ {
			s.commits[i][j].Time++
		}
	}
	s.commits[1] = s.commits[1][:k] // node 1 stops before the fork
	rs := check(f.config(), s)
	expect(t, rs, map[string]string{"agreement": "fork at commit 10"})
	a := &f.commits[0][k]
	d := rs[0].Detail
	for _, want := range []string{
		fmt.Sprintf("fork at commit %d (commits 0 to %d agree): side 1 (node 0) committed leader %s, %d events, %d txs (first %s), consensus time ",
			k, k-1, a.Leader, len(a.Events), len(a.Txs), a.Txs[0].Hash),
		fmt.Sprintf("; side 2 (nodes 2, 3) committed leader %s, %d events", a.Leader, len(a.Events)),
		fmt.Sprintf("; node 1 has not reached commit %d", k),
		"; side 2 differs from side 1 in consensus time. ",
		fmt.Sprintf(" violations: node 2 commit %d differs from node 0's: time", k),
	} {
		if !strings.Contains(d, want) {
			t.Errorf("agreement detail %q does not say %q", d, want)
		}
	}
	if strings.Contains(d, "equivocated") {
		t.Errorf("one leader block on both sides called an equivocation: %q", d)
	}

	// Sides that committed two blocks of one leader slot: the leader's
	// creator signed both. (Only the leader reference is altered, which
	// integrity reports too; agreement is what this is about.)
	s = f.stream()
	for _, i := range []int{2, 3} {
		s.commits[i][k].Leader.Hash[0] ^= 1
	}
	d = check(f.config(), s)[0].Detail
	if want := fmt.Sprintf("side 2 differs from side 1 in leader (two blocks of leader slot r%d/c%d: its creator equivocated)", a.Leader.Round, a.Leader.Creator); !strings.Contains(d, want) {
		t.Errorf("agreement detail %q does not say %q", d, want)
	}
	if !strings.Contains(d, "side 1 (nodes 0, 1)") {
		t.Errorf("agreement detail %q does not put nodes 0 and 1 on side 1", d)
	}
}
