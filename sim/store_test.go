package sim

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node"
	"dagger/sim/scenario"
)

// storeFixture is a simStore holding three rounds of four events, the
// last signed one of creator 0's, and a snapshot.
type storeFixture struct {
	st     *simStore
	events [][]*graph.Event
	own    *graph.Event
}

func newStoreFixture(t *testing.T, lossy bool) *storeFixture {
	t.Helper()
	f := &storeFixture{st: newSimStore(newArchive(), newRand(1, "store-test", 0), lossy)}
	f.events = graphtest.NewBuilder(4, 1).Layered(3, 1, 32)
	for r, layer := range f.events {
		for _, e := range layer {
			if err := f.st.PutEvent(e); err != nil {
				t.Fatal(err)
			}
		}
		if r == 0 {
			if err := f.st.PutSnapshot(node.Snapshot{Epoch: 0, Commit: 1, Data: []byte("state at commit 1")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.own = f.events[2][0]
	if err := f.st.SetLastSigned(node.Signed{Ref: f.own.Ref()}); err != nil {
		t.Fatal(err)
	}
	return f
}

// scan returns the hashes of the stored events from pos on, and the
// error Scan returned.
func scan(st node.Store, from node.Position) ([]graph.Hash, error) {
	var out []graph.Hash
	err := st.Scan(from, func(_ node.Position, enc []byte) bool {
		h, err := graph.EncodedHash(enc)
		if err != nil {
			panic(err)
		}
		out = append(out, h)
		return true
	})
	return out, err
}

func TestSimStoreWithoutFaultsIsTheMemStore(t *testing.T) {
	f := newStoreFixture(t, true)
	got, err := scan(f.st, node.Position{})
	if err != nil || len(got) != 12 || got[0] != f.events[0][0].Hash() || got[11] != f.events[2][3].Hash() {
		t.Fatalf("scan: %d events, %v", len(got), err)
	}
	if sg, ok, err := f.st.LastSigned(); !ok || err != nil || sg.Ref != f.own.Ref() {
		t.Fatalf("last signed %v %v %v", sg, ok, err)
	}
	if sn, ok, err := f.st.LatestSnapshot(); !ok || err != nil || sn.Commit != 1 {
		t.Fatalf("snapshot %+v %v %v", sn, ok, err)
	}
}

func TestSimStoreWriteErrorFailsTheArmedWriteOnce(t *testing.T) {
	extra := graphtest.NewBuilder(4, 2).Event(1, 5, nil)
	writes := []struct {
		kind  writeKind
		write func(st *simStore) error
	}{
		{writeEvent, func(st *simStore) error { return st.PutEvent(extra) }},
		{writeLastSigned, func(st *simStore) error { return st.SetLastSigned(node.Signed{Ref: extra.Ref()}) }},
		{writeSnapshot, func(st *simStore) error { return st.PutSnapshot(node.Snapshot{Commit: 9, Data: []byte("x")}) }},
		{writePrune, func(st *simStore) error { return st.Prune(1) }},
	}
	for _, armed := range append([]writeKind{writeAny}, writeEvent, writeLastSigned, writeSnapshot, writePrune) {
		for _, w := range writes {
			t.Run(fmt.Sprintf("%s armed, %s written", armed, w.kind), func(t *testing.T) {
				f := newStoreFixture(t, false)
				f.st.failNext(armed)
				err := w.write(f.st)
				if armed != writeAny && armed != w.kind {
					if err != nil {
						t.Fatalf("a write the fault does not name failed: %v", err)
					}
					return
				}
				if !errors.Is(err, errStore) || !strings.Contains(err.Error(), w.kind.String()) {
					t.Fatalf("error %v, want a store fault naming the %s", err, w.kind)
				}
				if err := w.write(f.st); err != nil {
					t.Fatalf("the write after the failed one: %v", err)
				}
			})
		}
	}
	// A failed write changes nothing.
	f := newStoreFixture(t, false)
	f.st.failNext(writeLastSigned)
	if err := f.st.SetLastSigned(node.Signed{Ref: extra.Ref()}); err == nil {
		t.Fatal("no error")
	}
	if sg, _, _ := f.st.LastSigned(); sg.Ref != f.own.Ref() {
		t.Fatalf("last signed changed to %v by a failed write", sg.Ref)
	}
}

// TestSimStoreScanFromInsideARound: a scan from a position with an Index
// passes over that many of the round's events and names each event's place
// in its round, with and without damage to check; a damaged event is found
// by its place also when the scan starts inside its round.
func TestSimStoreScanFromInsideARound(t *testing.T) {
	f := newStoreFixture(t, false)
	check := func(from node.Position, want []*graph.Event) {
		t.Helper()
		var got []node.Position
		var hashes []graph.Hash
		err := f.st.Scan(from, func(pos node.Position, enc []byte) bool {
			h, _ := graph.EncodedHash(enc)
			got, hashes = append(got, pos), append(hashes, h)
			return true
		})
		if err != nil || len(got) != len(want) {
			t.Fatalf("scan from %+v: %d events, want %d (%v)", from, len(got), len(want), err)
		}
		for i, e := range want {
			at := node.Position{Epoch: e.Epoch, Round: e.Round, Index: uint32(slices.Index(f.events[e.Round], e))}
			if got[i] != at || hashes[i] != e.Hash() {
				t.Fatalf("scan from %+v: [%d] at %+v, want %s at %+v", from, i, got[i], e.Ref(), at)
			}
		}
	}
	rest := append(slices.Clone(f.events[1][2:]), f.events[2]...)
	check(node.Position{Round: 1, Index: 2}, rest)
	check(node.Position{Round: 1, Index: 4}, f.events[2])
	check(node.Position{Round: 1, Index: 400}, f.events[2])
	if _, ok := f.st.corrupt(writeEvent, false); !ok {
		t.Fatal("nothing to corrupt")
	}
	got, err := scan(f.st, node.Position{Round: 2, Index: 1})
	if !errors.Is(err, errStore) || !strings.Contains(err.Error(), "round 2, #3") || len(got) != 2 {
		t.Fatalf("scan from inside the damaged event's round: %d events, %v", len(got), err)
	}
}

func TestSimStoreFindsADamagedEventWhenItReadsIt(t *testing.T) {
	f := newStoreFixture(t, false)
	newest := f.events[2][3]
	shared := bytes.Clone(newest.Encode())
	what, ok := f.st.corrupt(writeEvent, false)
	if !ok || !strings.Contains(what, "event (epoch 0, round 2, #3): checksum") {
		t.Fatalf("corrupt: %q %v", what, ok)
	}
	if !bytes.Equal(newest.Encode(), shared) {
		t.Fatal("the damage reached the event's encoding, which other stores share")
	}
	// Reads that stop before the damaged record, or start after its
	// round, find nothing; one that reaches it stops there with an error.
	var seen int
	err := f.st.Scan(node.Position{}, func(node.Position, []byte) bool { seen++; return seen < 5 })
	if err != nil {
		t.Fatalf("scan that stops early: %v", err)
	}
	got, err := scan(f.st, node.Position{})
	if !errors.Is(err, errStore) || !strings.Contains(err.Error(), "corrupt store record event (epoch 0, round 2, #3)") {
		t.Fatalf("scan over the damage: %v", err)
	}
	if len(got) != 11 {
		t.Fatalf("scan passed %d events before the damaged one, want 11", len(got))
	}
	if got, err := scan(f.st, node.Position{Round: 3}); err != nil || len(got) != 0 {
		t.Fatalf("scan above it: %d, %v", len(got), err)
	}
	if _, _, err := f.st.LastSigned(); err != nil {
		t.Fatalf("the last-signed record is intact: %v", err)
	}
	// Pruning the epoch takes the damaged event with it.
	if err := f.st.Prune(1); err != nil {
		t.Fatal(err)
	}
	if got, err := scan(f.st, node.Position{}); err != nil || len(got) != 0 {
		t.Fatalf("after prune: %d, %v", len(got), err)
	}
}

func TestSimStoreFindsADamagedLastSignedRecordAndSnapshot(t *testing.T) {
	f := newStoreFixture(t, false)
	if _, ok := f.st.corrupt(writeLastSigned, false); !ok {
		t.Fatal("nothing to corrupt")
	}
	if _, _, err := f.st.LastSigned(); !errors.Is(err, errStore) || !strings.Contains(err.Error(), "last-signed record: checksum") {
		t.Fatalf("last signed: %v", err)
	}
	// Writing the record again replaces the damaged bytes.
	if err := f.st.SetLastSigned(node.Signed{Ref: f.own.Ref()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.LastSigned(); err != nil {
		t.Fatalf("rewritten: %v", err)
	}

	if _, ok := f.st.corrupt(writeSnapshot, false); !ok {
		t.Fatal("nothing to corrupt")
	}
	if _, _, err := f.st.LatestSnapshot(); !errors.Is(err, errStore) || !strings.Contains(err.Error(), "snapshot 1: checksum") {
		t.Fatalf("snapshot: %v", err)
	}
	// A newer snapshot is read instead; the damaged one is not read again.
	if err := f.st.PutSnapshot(node.Snapshot{Epoch: 1, Commit: 5, Data: []byte("later")}); err != nil {
		t.Fatal(err)
	}
	if sn, ok, err := f.st.LatestSnapshot(); err != nil || !ok || sn.Commit != 5 {
		t.Fatalf("newer snapshot: %+v, %v", sn, err)
	}

	empty := newSimStore(newArchive(), newRand(1, "store-test", 1), false)
	for _, k := range []writeKind{writeEvent, writeLastSigned, writeSnapshot} {
		if what, ok := empty.corrupt(k, false); ok {
			t.Errorf("an empty store damaged a %s: %s", k, what)
		}
	}
	if what, ok := empty.tear(); ok || what != "nothing written" {
		t.Errorf("tear of an empty store: %q", what)
	}
}

func TestSimStoreTearsTheRecordWrittenLast(t *testing.T) {
	f := newStoreFixture(t, false)
	what, ok := f.st.tear()
	if !ok || !strings.Contains(what, "last-signed record: holds") {
		t.Fatalf("tear after SetLastSigned: %q", what)
	}
	if _, _, err := f.st.LastSigned(); !errors.Is(err, errStore) || !strings.Contains(err.Error(), "of its 52 bytes") {
		t.Fatalf("last signed: %v", err)
	}
	extra := graphtest.NewBuilder(4, 2).Event(1, 7, nil)
	if err := f.st.PutEvent(extra); err != nil {
		t.Fatal(err)
	}
	if what, _ := f.st.tear(); !strings.Contains(what, "event (epoch 0, round 7, #0): holds") {
		t.Fatalf("tear after PutEvent: %q", what)
	}
	if _, err := scan(f.st, node.Position{Round: 7}); !errors.Is(err, errStore) {
		t.Fatalf("scan of the torn event: %v", err)
	}
}

func TestSimStoreLosesOnlyWhatWasNotSynced(t *testing.T) {
	f := newStoreFixture(t, true)
	b := graphtest.NewBuilder(4, 1)
	b.Time = 1 << 40
	later := []*graph.Event{b.Event(1, 3, f.events[2]), b.Event(2, 3, f.events[2]), b.Event(3, 2, f.events[1])}
	for _, e := range later {
		if err := f.st.PutEvent(e); err != nil {
			t.Fatal(err)
		}
	}
	if lost := f.st.loseUnsynced(); lost != 3 {
		t.Fatalf("lost %d events, want the 3 put after the last sync", lost)
	}
	got, err := scan(f.st, node.Position{})
	if err != nil || len(got) != 12 || got[11] != f.events[2][3].Hash() {
		t.Fatalf("after the loss: %d events, %v", len(got), err)
	}
	if sg, ok, err := f.st.LastSigned(); !ok || err != nil || sg.Ref != f.own.Ref() {
		t.Fatalf("the last-signed record is synced and stays: %v %v %v", sg, ok, err)
	}
	if sn, ok, _ := f.st.LatestSnapshot(); !ok || sn.Commit != 1 {
		t.Fatal("the snapshot is synced and stays")
	}
	if lost := f.st.loseUnsynced(); lost != 0 {
		t.Fatalf("a second loss lost %d", lost)
	}

	// A snapshot is a sync point too; a damaged event that is lost takes
	// its damage with it.
	for _, e := range later[:2] {
		if err := f.st.PutEvent(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.PutSnapshot(node.Snapshot{Commit: 3, Data: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutEvent(later[2]); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.st.corrupt(writeEvent, false); !ok {
		t.Fatal("nothing to corrupt")
	}
	if lost := f.st.loseUnsynced(); lost != 1 {
		t.Fatalf("lost %d, want the one event after the snapshot", lost)
	}
	if got, err := scan(f.st, node.Position{}); err != nil || len(got) != 14 {
		t.Fatalf("after the second loss: %d events, %v", len(got), err)
	}

	// A store no crash loses anything of does not track its writes.
	plain := newStoreFixture(t, false)
	if err := plain.st.PutEvent(later[0]); err != nil {
		t.Fatal(err)
	}
	if lost := plain.st.loseUnsynced(); lost != 0 || plain.st.mem.Len() != 13 {
		t.Fatalf("a store that is not lossy lost %d", lost)
	}
}

// TestSimStoreBackupIsWhatIsOnDisk: a backup copies what the store synced,
// damage included, not the events put since its last synced write nor a
// write armed to fail; the backup and the store go their own ways after.
func TestSimStoreBackupIsWhatIsOnDisk(t *testing.T) {
	f := newStoreFixture(t, true)
	b := graphtest.NewBuilder(4, 1)
	b.Time = 1 << 40
	later := []*graph.Event{b.Event(1, 3, f.events[2]), b.Event(2, 3, f.events[2])}
	if err := f.st.PutEvent(later[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.st.corrupt(writeSnapshot, false); !ok {
		t.Fatal("nothing to corrupt")
	}
	f.st.failNext(writeAny)

	backup := f.st.copySynced()
	if got, err := scan(backup, node.Position{}); err != nil || len(got) != 12 || got[11] != f.events[2][3].Hash() {
		t.Fatalf("backup: %d events, %v; want the 12 synced ones", len(got), err)
	}
	if sg, ok, err := backup.LastSigned(); !ok || err != nil || sg.Ref != f.own.Ref() {
		t.Fatalf("backup's last-signed record: %v %v %v", sg, ok, err)
	}
	if _, _, err := backup.LatestSnapshot(); !errors.Is(err, errStore) {
		t.Fatalf("the backup of a damaged snapshot: %v", err)
	}
	if err := backup.PutEvent(later[1]); err != nil {
		t.Fatalf("a write to the backup: %v", err)
	}
	if err := f.st.PutEvent(later[1]); !errors.Is(err, errStore) {
		t.Fatalf("the store's armed write: %v", err)
	}
	if f.st.mem.Len() != 13 || backup.mem.Len() != 13 {
		t.Fatalf("store %d events, backup %d; want 13 each", f.st.mem.Len(), backup.mem.Len())
	}
	if got, _ := scan(backup, node.Position{Round: 3}); len(got) != 1 || got[0] != later[1].Hash() {
		t.Fatalf("backup's round 3: %v", got)
	}
	if got, _ := scan(f.st, node.Position{Round: 3}); len(got) != 1 || got[0] != later[0].Hash() {
		t.Fatalf("store's round 3: %v", got)
	}

	// A store that does not track what it synced is copied whole.
	plain := newStoreFixture(t, false)
	if err := plain.st.PutEvent(later[0]); err != nil {
		t.Fatal(err)
	}
	if n := plain.st.copySynced().mem.Len(); n != 13 {
		t.Fatalf("backup of an untracked store: %d events, want 13", n)
	}
}

// TestStoreFaultsAreOperatingErrorsAndSafetyFaultsAreNot: a node stopped by
// its store is down, counted, and no checker fails for it; a node stopped
// by any other fault fails the agreement check.
func TestStoreFaultsAreOperatingErrorsAndSafetyFaultsAreNot(t *testing.T) {
	const doc = "name: t\nduration: 20s\nnodes: 4\ncrypto: fast\nworkload: {rate: 100}\n"
	for _, tc := range []struct {
		name  string
		err   error
		stops uint64
		fails string
	}{
		{"store", fmt.Errorf("store event: %w: write failed", errStore), 1, ""},
		{"safety", fmt.Errorf("%w: two certified blocks", graph.ErrSafety), 0, "agreement"},
		{"bug", errors.New("epoch 3 cannot follow epoch 5"), 0, "agreement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSim(t, doc)
			ep := s.eps[1]
			s.agenda.push(item{at: int64(5e9), kind: itemCall, call: func() { s.fault(ep, tc.err) }})
			r := s.Run()
			if ep.up || r.Store.Stops != tc.stops {
				t.Fatalf("node up %v, store stops %d", ep.up, r.Store.Stops)
			}
			for _, c := range r.Checks {
				if c.Pass == (c.Name == tc.fails) {
					t.Errorf("check %s pass=%v: %s", c.Name, c.Pass, c.Detail)
				}
			}
		})
	}
}

// newTestSim prepares a run of the scenario that doc holds.
func newTestSim(t *testing.T, doc string) *Sim {
	t.Helper()
	sc, err := scenario.Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
