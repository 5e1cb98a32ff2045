package graph_test

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// signRaw signs an event whose parent references the test wrote by hand.
func signRaw(b *graphtest.Builder, e *graph.Event) *graph.Event {
	graph.SortParents(e.Parents)
	e.TxRoot, _ = graph.BatchRoot(e.Txs)
	e.Sig = b.Signers[e.Creator].Sign(e.Hash())
	return e
}

func refs(evs ...*graph.Event) []graph.EventRef {
	out := make([]graph.EventRef, len(evs))
	for i, e := range evs {
		out[i] = e.Ref()
	}
	return out
}

func TestOutOfOrderEventWaitsForParentsThenInserts(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(2, 1, 8)
	g := b.Graph(graph.Config{})
	child := dag[1][0]
	if st := mustInsert(t, g, child); st != graph.Buffered {
		t.Fatalf("child without parents: %v, want buffered", st)
	}
	rd := g.Ready()
	if len(rd.Missing) != 4 || len(rd.Inserted) != 0 {
		t.Fatalf("missing %d inserted %d, want 4 and 0", len(rd.Missing), len(rd.Inserted))
	}
	// Asking again reports nothing new; Missing() still lists all for retries.
	if st := mustInsert(t, g, child); st != graph.Duplicate {
		t.Fatalf("second copy: %v", st)
	}
	if rd := g.Ready(); len(rd.Missing) != 0 || len(g.Missing()) != 4 {
		t.Fatal("missing parents reported twice, or forgotten")
	}
	for _, p := range dag[0] {
		mustInsert(t, g, p)
	}
	rd = g.Ready()
	if len(rd.Inserted) != 5 || rd.Inserted[4] != child {
		t.Fatalf("inserted %d, want the 4 parents then the child", len(rd.Inserted))
	}
	if g.PendingLen() != 0 || len(g.Missing()) != 0 || g.Len() != 5 {
		t.Fatalf("pending %d missing %d len %d after all parents arrived", g.PendingLen(), len(g.Missing()), g.Len())
	}
}

func TestParentThatDisagreesWithItsReferenceRejectsTheChild(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	// Creator 0 names r0[2] twice, once claiming it is creator 3's.
	liar := signRaw(b, &graph.Event{Round: 1, Creator: 0, Parents: append(refs(r0[0], r0[1], r0[2]),
		graph.EventRef{Round: 0, Creator: 3, Hash: r0[2].Hash()})})

	t.Run("parent present first", func(t *testing.T) {
		g := b.Graph(graph.Config{})
		for _, e := range r0 {
			mustInsert(t, g, e)
		}
		if _, err := g.Insert(liar); !errors.Is(err, graph.ErrParentMismatch) {
			t.Fatalf("got %v, want ErrParentMismatch", err)
		}
	})
	t.Run("parent arrives later", func(t *testing.T) {
		g := b.Graph(graph.Config{})
		if st := mustInsert(t, g, liar); st != graph.Buffered {
			t.Fatalf("%v", st)
		}
		for _, e := range r0 {
			mustInsert(t, g, e)
		}
		rd := g.Ready()
		if len(rd.Rejected) != 1 || rd.Rejected[0].Event.Hash != liar.Hash() || !errors.Is(rd.Rejected[0].Err, graph.ErrParentMismatch) {
			t.Fatalf("rejected %+v, want the liar with ErrParentMismatch", rd.Rejected)
		}
		if _, ok := g.Get(liar.Hash()); ok || g.PendingLen() != 0 {
			t.Fatal("the liar stayed")
		}
	})
}

func TestRejectionReachesBufferedDescendants(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	r1 := b.Layer(1, r0, []int{1, 2, 3}, 0, 0)
	liar := signRaw(b, &graph.Event{Round: 1, Creator: 0, Parents: append(refs(r0[0], r0[1], r0[2]),
		graph.EventRef{Round: 0, Creator: 3, Hash: r0[2].Hash()})})
	child := b.Event(1, 2, append([]*graph.Event{liar}, r1...))
	g := b.Graph(graph.Config{})
	for _, e := range append(r1, child, liar) {
		mustInsert(t, g, e)
	}
	for _, e := range r0 {
		mustInsert(t, g, e)
	}
	rd := g.Ready()
	if len(rd.Rejected) != 2 || !errors.Is(rd.Rejected[1].Err, graph.ErrInvalidAncestor) || rd.Rejected[1].Event.Hash != child.Hash() {
		t.Fatalf("rejected %+v, want the liar and then its child", rd.Rejected)
	}
	if g.PendingLen() != 0 || g.Len() != 7 {
		t.Fatalf("pending %d len %d", g.PendingLen(), g.Len())
	}
}

func TestPendingBufferIsBoundedPerCreator(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	g := b.Graph(graph.Config{MaxPending: 8}) // each creator gets the minimum share
	orphan := func(creator, i int) *graph.Event {
		var ps []graph.EventRef
		for c := range 4 {
			ps = append(ps, graph.EventRef{Round: 4, Creator: graph.MemberID(c), Hash: sha256.Sum256([]byte(fmt.Sprint(creator, i, c)))})
		}
		return signRaw(b, &graph.Event{Round: 5, Creator: graph.MemberID(creator), Parents: ps, Txs: [][]byte{[]byte(fmt.Sprint(i))}})
	}
	for i := range graph.MinPendingPerCreator {
		if st := mustInsert(t, g, orphan(1, i)); st != graph.Buffered {
			t.Fatalf("%v", st)
		}
	}
	if _, err := g.Insert(orphan(1, graph.MinPendingPerCreator)); !errors.Is(err, graph.ErrBufferFull) {
		t.Fatalf("got %v, want ErrBufferFull", err)
	}
	if st := mustInsert(t, g, orphan(2, 0)); st != graph.Buffered {
		t.Fatal("one creator's flood blocked another creator")
	}
	if g.PendingLen() != graph.MinPendingPerCreator+1 {
		t.Fatalf("pending %d", g.PendingLen())
	}
}

func TestEquivocationsAreKeptAndReportedAsEvidence(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	twin := b.Event(2, 0, nil, []byte("other"))
	g := b.Graph(graph.Config{})
	for _, e := range append(r0, twin) {
		if st := mustInsert(t, g, e); st != graph.Inserted {
			t.Fatalf("%v", st)
		}
	}
	rd := g.Ready()
	if len(rd.Evidence) != 1 {
		t.Fatalf("%d evidence, want 1", len(rd.Evidence))
	}
	ev := rd.Evidence[0]
	if err := ev.Verify(b.Committee, graph.Ed25519{}); err != nil || ev.Creator() != 2 || ev.Round() != 0 {
		t.Fatalf("evidence %v does not convict member 2 at round 0", err)
	}
	// Honest events may descend from either block.
	a := b.Event(0, 1, []*graph.Event{r0[0], r0[1], r0[2]})
	c := b.Event(1, 1, []*graph.Event{r0[0], r0[1], twin})
	mustInsert(t, g, a)
	mustInsert(t, g, c)
	if got := len(g.Ready().Inserted); got != 2 {
		t.Fatalf("%d inserted, want both children", got)
	}
}

func TestSlotCapBoundsEquivocationsUnlessAnEventNeedsThem(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	g := b.Graph(graph.Config{MaxSlotEvents: 2})
	for _, e := range r0 {
		mustInsert(t, g, e)
	}
	mustInsert(t, g, b.Event(3, 0, nil, []byte("second")))
	third := b.Event(3, 0, nil, []byte("third"))
	if _, err := g.Insert(third); !errors.Is(err, graph.ErrSlotFull) {
		t.Fatalf("got %v, want ErrSlotFull", err)
	}
	child := b.Event(3, 1, []*graph.Event{r0[0], r0[1], third})
	if st := mustInsert(t, g, child); st != graph.Buffered {
		t.Fatalf("%v", st)
	}
	if st := mustInsert(t, g, third); st != graph.Inserted {
		t.Fatalf("an equivocation a buffered event waits for was refused: %v", st)
	}
	if g.PendingLen() != 0 {
		t.Fatal("child still waiting")
	}
}

func TestGarbageCollectionDropsOldRoundsAndRejectsLateEvents(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(20, 1, 8)
	g := b.Graph(graph.Config{GCDepth: 3})
	for _, round := range dag {
		for _, e := range round {
			mustInsert(t, g, e)
		}
		g.Ready()
	}
	last, ok := g.LastCommitted()
	if !ok || last < 15 {
		t.Fatalf("last committed round %d", last)
	}
	if g.Horizon() != last-3 {
		t.Fatalf("horizon %d, want %d", g.Horizon(), last-3)
	}
	if want := int(20-g.Horizon()) * 4; g.Len() != want {
		t.Fatalf("%d events in memory, want %d", g.Len(), want)
	}
	if _, ok := g.Get(dag[0][0].Hash()); ok {
		t.Fatal("round 0 still in memory")
	}
	late := b.Event(1, 2, dag[1], []byte("late equivocation"))
	if _, err := g.Insert(late); !errors.Is(err, graph.ErrBelowHorizon) {
		t.Fatalf("got %v, want ErrBelowHorizon", err)
	}
	// An event at the horizon whose parents are collected counts them as
	// present.
	h := g.Horizon()
	atHorizon := b.Event(2, h, dag[h-1], []byte("straggler"))
	if st := mustInsert(t, g, atHorizon); st != graph.Inserted {
		t.Fatalf("%v", st)
	}
}

func TestBufferedEventIsNoLongerReportedMissing(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(8, 0, 0)
	g := b.Graph(graph.Config{})
	insertAll(t, g, dag[:4]...)
	mustInsert(t, g, dag[6][0])
	mustInsert(t, g, dag[5][0])
	for _, m := range g.Missing() {
		if g.Has(m.Hash) {
			t.Fatalf("%s is held but still listed as missing", m)
		}
	}
	if len(g.Missing()) == 0 {
		t.Fatal("round 5's other parents are missing")
	}
}

func TestEventVerifiedUnderLooserLimitsIsCheckedAgainstTheGraphs(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	e := b.Event(0, 0, nil, []byte("a"), []byte("b"))
	if err := b.Committee.Verify(e, graph.Ed25519{}, graph.Limits{}); err != nil {
		t.Fatal(err)
	}
	g := b.Graph(graph.Config{Limits: graph.Limits{MaxEventTxs: 1}})
	if _, err := g.Insert(e); !errors.Is(err, graph.ErrMalformed) {
		t.Fatalf("got %v, want the graph's limit to hold", err)
	}
}

// TestRestoreTakesBackAnEquivocationThatABufferedChildLetIn: the slot bound
// lets an extra equivocating event in when a buffered event waits for it;
// replaying the stored events in their order, that child comes later, so
// Restore (unlike Insert) does not apply the bound again.
func TestRestoreTakesBackAnEquivocationThatABufferedChildLetIn(t *testing.T) {
	b := graphtest.NewBuilder(4, 3)
	r0 := b.Layer(0, nil, []int{0, 1, 2, 3}, 0, 0)
	a := b.Event(0, 1, r0, []byte("a"))
	second := b.Event(0, 1, r0, []byte("b")) // the same slot: an equivocation
	c1, c2 := b.Event(1, 1, r0), b.Event(2, 1, r0)
	child := b.Event(1, 2, []*graph.Event{second, c1, c2})
	g := b.Graph(graph.Config{MaxSlotEvents: 1})
	var stored []*graph.Event
	insert := func(e *graph.Event) {
		if _, err := g.Insert(e); err != nil {
			t.Fatalf("insert %s: %v", e.Ref(), err)
		}
		stored = append(stored, g.Ready().Inserted...)
	}
	for _, e := range r0 {
		insert(e)
	}
	insert(a)
	insert(c1)
	insert(c2)
	insert(child) // buffered: it waits for the second version
	if _, err := g.Insert(b.Event(0, 1, r0, []byte("c"))); !errors.Is(err, graph.ErrSlotFull) {
		t.Fatalf("a third version nobody waits for: %v", err)
	}
	insert(second) // let in: the child waits for it
	slices.SortStableFunc(stored, func(x, y *graph.Event) int { return cmp.Compare(x.Round, y.Round) })

	replay := func(restore bool) error {
		return replayStored(b, graph.Config{MaxSlotEvents: 1}, stored, restore, child, second)
	}
	if err := replay(false); !errors.Is(err, graph.ErrSlotFull) {
		t.Fatalf("Insert in store order: %v, want the slot bound", err)
	}
	if err := replay(true); err != nil {
		t.Fatalf("Restore in store order: %v", err)
	}
}

// A missing parent is vouched for once buffered events of more than a
// third of the weight wait for it, directly or through other buffered
// events; one named only by a single member's events may not exist.
func TestMissingParentIsVouchedForByAThirdOfTheWeight(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	g := b.Graph(graph.Config{})
	insertAll(t, g, r0[:3])
	absent := r0[3]
	invented := graph.EventRef{Round: 0, Creator: 3, Hash: sha256.Sum256([]byte("nobody has it"))}
	liar := signRaw(b, &graph.Event{Round: 1, Creator: 0, Parents: append(refs(r0[:3]...), invented)})
	mine := b.Event(1, 1, r0)
	for _, e := range []*graph.Event{liar, mine} {
		if st := mustInsert(t, g, e); st != graph.Buffered {
			t.Fatalf("%s: %v, want buffered", e.Ref(), st)
		}
	}
	if g.Vouched(invented.Hash) || g.Vouched(absent.Hash()) {
		t.Fatal("a parent that one member's event names is vouched for")
	}
	if g.Vouched(r0[0].Hash()) {
		t.Fatal("an inserted event is vouched for as missing")
	}
	// Member 2's round-2 event names member 1's buffered event, and so, at
	// second hand, the absent parent: two of four members are more than a
	// third.
	other := b.Event(2, 1, r0[:3])
	insertAll(t, g, []*graph.Event{other})
	if g.Vouched(absent.Hash()) {
		t.Fatal("an event that does not wait for the parent vouches for it")
	}
	if st := mustInsert(t, g, b.Event(2, 2, []*graph.Event{other, mine, liar})); st != graph.Buffered {
		t.Fatalf("round 2: %v, want buffered", st)
	}
	if !g.Vouched(absent.Hash()) || !g.Vouched(invented.Hash) {
		t.Fatal("a parent that two of four members' events wait for is not vouched for")
	}
}

// Buffered events far ahead vouch for the node being behind only when
// their creators hold more than a third of the weight.
func TestEventsFarAheadAreVouchedForByAThirdOfTheWeight(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(8, 0, 0)
	g := b.Graph(graph.Config{})
	insertAll(t, g, dag[:2]...)
	mustInsert(t, g, dag[7][3])
	if g.AheadVouched(5) {
		t.Fatal("one member's event far ahead vouches for the node being behind")
	}
	if g.AheadVouched(8) {
		t.Fatal("an event below the round counts")
	}
	mustInsert(t, g, dag[6][1])
	if !g.AheadVouched(5) || g.AheadVouched(7) {
		t.Fatal("two of four members far ahead: want vouched from round 5, not from round 7")
	}
}

// TestRestoreTakesBackAFalseParentRoundThatWasBelowTheHorizon: a Byzantine
// creator may name a parent by a lower round than its own; when that round
// is below the horizon Insert does not check it (the parent may be
// collected). Replayed in store order, round by round, the horizon is lower
// and the parent held: Insert refuses the event there, Restore takes it
// back as Insert first took it, and a node does not stop on its own store.
func TestRestoreTakesBackAFalseParentRoundThatWasBelowTheHorizon(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(20, 0, 0)
	cfg := graph.Config{GCDepth: 3, MaxSlotEvents: 4}
	g := b.Graph(cfg)
	var stored []*graph.Event
	insert := func(e *graph.Event) {
		if _, err := g.Insert(e); err != nil {
			t.Fatalf("insert %s: %v", e.Ref(), err)
		}
		stored = append(stored, g.Ready().Inserted...)
	}
	for _, round := range dag {
		for _, e := range round {
			insert(e)
		}
	}
	h := g.Horizon()
	if h < 5 {
		t.Fatalf("horizon %d: the test needs rounds collected", h)
	}
	// A late equivocation at round h+1 naming creator 2's round-h event
	// as round h-1, below the horizon.
	parents := append(refs(dag[h]...), graph.EventRef{Round: h - 1, Creator: 2, Hash: dag[h][2].Hash()})
	liar := signRaw(b, &graph.Event{Epoch: b.Committee.Epoch(), Round: h + 1, Creator: 1, Time: b.Time, Parents: parents, Txs: [][]byte{[]byte("late")}})
	insert(liar)
	if !g.Has(liar.Hash()) {
		t.Fatal("the late event was not inserted")
	}
	slices.SortStableFunc(stored, func(x, y *graph.Event) int { return cmp.Compare(x.Round, y.Round) })

	replay := func(restore bool) error { return replayStored(b, cfg, stored, restore, liar) }
	if err := replay(false); !errors.Is(err, graph.ErrParentMismatch) {
		t.Fatalf("Insert in store order: %v, want ErrParentMismatch", err)
	}
	if err := replay(true); err != nil {
		t.Fatalf("Restore in store order: %v", err)
	}
	// A false round above what Insert could have let in still stops Restore:
	// naming the round-h event as round h+1's is refused however it came.
	high := signRaw(b, &graph.Event{Epoch: b.Committee.Epoch(), Round: h + 2, Creator: 3, Time: b.Time,
		Parents: append(refs(dag[h+1]...), graph.EventRef{Round: h + 1, Creator: 2, Hash: dag[h][2].Hash()})})
	r := b.Graph(cfg)
	for _, e := range stored {
		if e.Round <= h+1 && e != liar {
			if _, err := r.Restore(e); err != nil {
				t.Fatalf("restore %s: %v", e.Ref(), err)
			}
		}
	}
	if _, err := r.Restore(high); !errors.Is(err, graph.ErrParentMismatch) {
		t.Fatalf("Restore of a higher false round: %v, want ErrParentMismatch", err)
	}
}

// replayStored inserts stored events, in their order, into a new graph, as
// a restarted node replays its store (Restore) or as if they came from
// peers (Insert), and checks that the want events are in it at the end.
func replayStored(b *graphtest.Builder, cfg graph.Config, stored []*graph.Event, restore bool, want ...*graph.Event) error {
	g := b.Graph(cfg)
	for _, e := range stored {
		var err error
		if restore {
			_, err = g.Restore(e)
		} else {
			_, err = g.Insert(e)
		}
		if err != nil {
			return err
		}
		g.Ready()
	}
	for _, e := range want {
		if !g.Has(e.Hash()) {
			return fmt.Errorf("the replay lost %s", e.Ref())
		}
	}
	return nil
}
