package graph_test

// Fuzz targets for the codec and for insertion.
//
// Run one at a time; the names share prefixes, so anchor the pattern:
//
//	go test ./graph -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s
//	go test ./graph -run '^$' -fuzz '^FuzzDecodeEvidence$' -fuzztime 60s
//	go test ./graph -run '^$' -fuzz '^FuzzInsert$' -fuzztime 60s
//	go test ./graph -run '^$' -fuzz '^FuzzInsertSigned$' -fuzztime 60s
//
// Without -fuzz, `go test` runs every seed below and every input kept under
// testdata/fuzz as an ordinary test.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// fzFixture is built once per process and shared by every fuzz iteration:
// signing is the expensive part, and the graph never modifies an event
// (Verify's cache on an event is filled once, with the same committee).
type fzFixture struct {
	b   *graphtest.Builder
	dag [][]*graph.Event // fzRounds rounds of fzN events, all-to-all
	all []*graph.Event   // dag flattened, round-major: all[r*fzN+c]
	// twin is a second, valid event of creator 0 at round fzPrefix, so
	// inserting it next to dag[fzPrefix][0] is an equivocation.
	twin *graph.Event
}

const (
	fzN      = 4
	fzRounds = 10
	// fzPrefix is how many rounds FuzzInsert's graph holds before the input.
	fzPrefix = 4
)

var fzFix = sync.OnceValue(func() *fzFixture {
	b := graphtest.NewBuilder(fzN, 7)
	fx := &fzFixture{b: b, dag: b.Layered(fzRounds, 1, 8)}
	for _, r := range fx.dag {
		fx.all = append(fx.all, r...)
	}
	fx.twin = b.Event(0, fzPrefix, fx.dag[fzPrefix-1], []byte("twin"))
	return fx
})

// fzKnownErrs are the errors Insert may reject an event with: the package
// promises every rejection wraps one of them.
var fzKnownErrs = []error{
	graph.ErrMalformed, graph.ErrWrongEpoch, graph.ErrUnknownCreator, graph.ErrBadSignature,
	graph.ErrTxRoot, graph.ErrNoQuorum, graph.ErrOwnParent, graph.ErrParentMismatch,
	graph.ErrBelowHorizon, graph.ErrBufferFull, graph.ErrSlotFull, graph.ErrInvalidAncestor,
}

func fzKnownErr(err error) bool {
	for _, k := range fzKnownErrs {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// fzClone copies an event's exported fields into a new Event, dropping the
// caches (hash, verification) that Decode and Verify fill in.
func fzClone(e *graph.Event) *graph.Event {
	return &graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time,
		Parents: e.Parents, TxRoot: e.TxRoot, Txs: e.Txs, Sig: e.Sig}
}

func fzSameEvent(a, b *graph.Event) bool {
	return a.Hash() == b.Hash() && a.Epoch == b.Epoch && a.Round == b.Round && a.Creator == b.Creator &&
		a.Time == b.Time && a.TxRoot == b.TxRoot && a.Sig == b.Sig &&
		slices.Equal(a.Parents, b.Parents) && slices.EqualFunc(a.Txs, b.Txs, bytes.Equal)
}

func fzFlip(b []byte, i int, mask byte) []byte {
	b = bytes.Clone(b)
	b[i%len(b)] ^= mask
	return b
}

// FuzzDecode: Decode never panics; whatever it accepts is the one canonical
// encoding of the event it returns (re-encoding gives the input back, the
// cached hash is the digest of the fields) and respects the limits exactly.
func FuzzDecode(f *testing.F) {
	fx := fzFix()
	b := fx.b
	noTx := fx.dag[0][1].Encode()                                          // no parents, one tx
	bare := b.Event(2, 0, nil).Encode()                                    // no parents, no txs
	full := fx.dag[2][3].Encode()                                          // parents and a tx
	many := b.Event(1, 3, fx.dag[2], []byte("a"), []byte("bb"), []byte{0}) // several txs
	parentsNoTx := b.Event(3, 5, fx.dag[4]).Encode()
	for _, enc := range [][]byte{noTx, bare, full, many.Encode(), parentsNoTx} {
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(enc[:graph.EventOverhead-graph.SignatureSize])
		f.Add(append(bytes.Clone(enc), 0))
		f.Add(fzFlip(enc, 0, 0x02))           // version
		f.Add(fzFlip(enc, 1+8+8+4+8+1, 0x01)) // parent count
		f.Add(fzFlip(enc, len(enc)-10, 0x80)) // inside the signature or the batch
		f.Add(fzFlip(enc, 1+8, 0x01))         // round
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := graph.Decode(data, graph.Limits{})
		if err != nil {
			if e != nil {
				t.Fatalf("Decode returned an event and an error: %v", err)
			}
			if !errors.Is(err, graph.ErrMalformed) {
				t.Fatalf("decode error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		enc := fzClone(e).Encode() // re-encoded from the fields, not the cached input
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", data, enc)
		}
		if e.Size() != len(data) {
			t.Fatalf("Size %d, encoding %d bytes", e.Size(), len(data))
		}
		if fresh := fzClone(e); fresh.Hash() != e.Hash() {
			t.Fatalf("decoded hash %s is not the digest of the fields %s", e.Hash(), fresh.Hash())
		}
		h := e.Header()
		if h.Hash() != e.Hash() {
			t.Fatalf("header hash %s, event hash %s", h.Hash(), e.Hash())
		}
		batch := 0
		maxTx := 0
		for _, tx := range e.Txs {
			batch += 4 + len(tx)
			maxTx = max(maxTx, len(tx))
		}
		if !bytes.Equal(h.AppendEncode(nil), data[:len(data)-batch]) {
			t.Fatal("signed header is not the encoding minus the batch")
		}
		e2, err := graph.Decode(enc, graph.Limits{})
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !fzSameEvent(e, e2) {
			t.Fatalf("decode(encode(e)) != e:\n%+v\n%+v", e, e2)
		}
		// The limits hold exactly: the event's own figures pass, one less
		// fails (a zero limit means the default, so skip those).
		exact := graph.Limits{MaxParents: len(e.Parents), MaxEventTxs: len(e.Txs), MaxTxBytes: maxTx, MaxEventBytes: len(data)}
		if _, err := graph.Decode(data, exact); err != nil {
			t.Fatalf("rejected under its own limits %+v: %v", exact, err)
		}
		tight := []graph.Limits{
			{MaxParents: len(e.Parents) - 1},
			{MaxEventTxs: len(e.Txs) - 1},
			{MaxTxBytes: maxTx - 1},
			{MaxEventBytes: len(data) - 1},
		}
		for _, lim := range tight {
			if lim.MaxParents <= 0 && lim.MaxEventTxs <= 0 && lim.MaxTxBytes <= 0 && lim.MaxEventBytes <= 0 {
				continue
			}
			if _, err := graph.Decode(data, lim); !errors.Is(err, graph.ErrMalformed) {
				t.Fatalf("accepted over limits %+v: %v", lim, err)
			}
		}
	})
}

// FuzzDecodeEvidence: DecodeEvidence never panics; what it accepts is the
// one encoding of the equivocation (whichever order the headers are given
// in), and Verify on it never panics and fails only with
// ErrInvalidEvidence.
func FuzzDecodeEvidence(f *testing.F) {
	fx := fzFix()
	b := fx.b
	c := b.Committee
	pairs := [][2]*graph.Event{
		{fx.dag[fzPrefix][0], fx.twin},                           // parents, one tx each
		{b.Event(2, 0, nil, []byte("x")), b.Event(2, 0, nil)},    // round 0
		{b.Event(1, 3, fx.dag[2]), b.Event(1, 3, fx.dag[2][1:])}, // different parents
		{b.Event(3, 0, nil, []byte("p")), b.Event(3, 0, nil, []byte("q"))},
	}
	for _, p := range pairs {
		ev := graph.Evidence{First: p[0].Header(), Second: p[1].Header()}
		if err := ev.Verify(c, graph.Ed25519{}); err != nil {
			f.Fatalf("seed evidence does not verify: %v", err)
		}
		enc := ev.Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(bytes.Clone(enc), 0))
		f.Add(fzFlip(enc, 1+8, 0x01))
		f.Add(fzFlip(enc, len(enc)-1, 0x01))
		f.Add(fzFlip(enc, 1+8+8+4+8+1, 0x01))
		// Non-canonical order: the larger hash first.
		first, second := ev.First, ev.Second
		if first.Hash().Less(second.Hash()) {
			first, second = second, first
		}
		f.Add(second.AppendEncode(first.AppendEncode(nil)))
		// The same header twice.
		f.Add(first.AppendEncode(first.AppendEncode(nil)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := graph.DecodeEvidence(data, graph.Limits{})
		if err != nil {
			if ev != nil {
				t.Fatalf("DecodeEvidence returned evidence and an error: %v", err)
			}
			if !errors.Is(err, graph.ErrMalformed) {
				t.Fatalf("evidence decode error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !ev.First.Hash().Less(ev.Second.Hash()) {
			t.Fatalf("accepted headers out of canonical order")
		}
		enc := ev.Encode()
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", data, enc)
		}
		swapped := graph.Evidence{First: ev.Second, Second: ev.First}
		if !bytes.Equal(swapped.Encode(), data) {
			t.Fatal("one equivocation has two encodings")
		}
		ev2, err := graph.DecodeEvidence(enc, graph.Limits{})
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("decode(encode(ev)) != ev:\n%+v\n%+v", ev, ev2)
		}
		if ev.Creator() != ev.First.Creator || ev.Round() != ev.First.Round {
			t.Fatal("Creator/Round do not name the first header")
		}
		if err := ev.Verify(c, graph.Ed25519{}); err != nil && !errors.Is(err, graph.ErrInvalidEvidence) {
			t.Fatalf("Verify error does not wrap ErrInvalidEvidence: %v", err)
		}
	})
}

// fzState is what an insertion that fails must leave untouched.
type fzState struct {
	Len, Pending                          int
	Round, Horizon, NextSlot, CommitCount uint64
	Missing                               []graph.EventRef
	Events                                []graph.Hash // every inserted event, by round
	Fault                                 string
}

func fzSnapshot(g *graph.Graph) fzState {
	s := fzState{Len: g.Len(), Pending: g.PendingLen(), Round: g.Round(), Horizon: g.Horizon(),
		NextSlot: g.NextSlot(), CommitCount: g.CommitCount(), Missing: g.Missing()}
	if err := g.Fault(); err != nil {
		s.Fault = err.Error()
	}
	for r := g.Horizon(); r <= g.Round(); r++ {
		for _, e := range g.EventsAt(r) {
			s.Events = append(s.Events, e.Hash())
		}
	}
	return s
}

// fzChecker follows a graph's output over all Ready calls.
type fzChecker struct {
	t         *testing.T
	c         *graph.Committee
	inserted  map[graph.Hash]bool // reported in Ready.Inserted
	committed map[graph.Hash]bool // delivered in some Commit
	next      uint64              // index of the next commit
	time      int64
}

func fzNewChecker(t *testing.T, c *graph.Committee) *fzChecker {
	return &fzChecker{t: t, c: c, inserted: map[graph.Hash]bool{}, committed: map[graph.Hash]bool{}}
}

func fzCmpEvents(a, b *graph.Event) int {
	if c := cmp.Compare(a.Round, b.Round); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Creator, b.Creator); c != 0 {
		return c
	}
	ha, hb := a.Hash(), b.Hash()
	return bytes.Compare(ha[:], hb[:])
}

// ready checks one Ready output: nothing reported inserted twice, nothing
// committed twice (across all calls), commits numbered in sequence with
// the scheduled leader last and their events in (round, creator, hash)
// order, transactions pointing at their events, evidence that verifies.
func (k *fzChecker) ready(rd graph.Ready) {
	t := k.t
	t.Helper()
	for _, e := range rd.Inserted {
		h := e.Hash()
		if k.inserted[h] {
			t.Fatalf("event %s reported inserted twice", e.Ref())
		}
		k.inserted[h] = true
	}
	for _, ev := range rd.Evidence {
		if err := ev.Verify(k.c, graph.Ed25519{}); err != nil {
			t.Fatalf("graph emitted evidence that does not verify: %v", err)
		}
		d, err := graph.DecodeEvidence(ev.Encode(), graph.Limits{})
		if err != nil || d.Verify(k.c, graph.Ed25519{}) != nil {
			t.Fatalf("emitted evidence does not survive the wire: %v", err)
		}
	}
	for _, rj := range rd.Rejected {
		if !fzKnownErr(rj.Err) {
			t.Fatalf("rejection of %s wraps no package error: %v", rj.Event, rj.Err)
		}
	}
	for _, c := range rd.Commits {
		if c.Index != k.next {
			t.Fatalf("commit index %d, want %d", c.Index, k.next)
		}
		k.next++
		if c.Time < k.time {
			t.Fatalf("commit %d time %d runs back from %d", c.Index, c.Time, k.time)
		}
		k.time = c.Time
		if len(c.Events) == 0 {
			t.Fatalf("commit %d has no events", c.Index)
		}
		if last := c.Events[len(c.Events)-1]; last.Ref() != c.Leader {
			t.Fatalf("commit %d: leader %s is not last (%s is)", c.Index, c.Leader, last.Ref())
		}
		if want := k.c.Leader(c.Leader.Round); c.Leader.Creator != want {
			t.Fatalf("commit %d: leader %s, but round %d is led by %d", c.Index, c.Leader, c.Leader.Round, want)
		}
		for i, e := range c.Events {
			h := e.Hash()
			if k.committed[h] {
				t.Fatalf("event %s committed twice (again in commit %d)", e.Ref(), c.Index)
			}
			k.committed[h] = true
			if !k.inserted[h] {
				t.Fatalf("commit %d delivers %s, which was never reported inserted", c.Index, e.Ref())
			}
			if i > 0 && fzCmpEvents(c.Events[i-1], e) >= 0 {
				t.Fatalf("commit %d: events out of order at %d", c.Index, i)
			}
		}
		for _, tx := range c.Txs {
			if tx.Event < 0 || tx.Event >= len(c.Events) || tx.Index < 0 || tx.Index >= len(c.Events[tx.Event].Txs) {
				t.Fatalf("commit %d: transaction points at event %d index %d", c.Index, tx.Event, tx.Index)
			}
			if graph.TxHash(c.Events[tx.Event].Txs[tx.Index]) != tx.Hash {
				t.Fatalf("commit %d: transaction does not match its event", c.Index)
			}
		}
	}
}

// fzInsert inserts e and checks the contract of Insert and Ready around it:
// an error wraps a package error and changes nothing (the state, and the
// next Ready is empty); success leaves the event retrievable (inserted) or
// held (buffered). It returns whether the event was accepted.
func fzInsert(t *testing.T, g *graph.Graph, k *fzChecker, e *graph.Event) bool {
	t.Helper()
	before := fzSnapshot(g)
	st, err := g.Insert(e)
	if err != nil {
		if !fzKnownErr(err) {
			t.Fatalf("insert %s: error wraps no package error: %v", e.Ref(), err)
		}
		if after := fzSnapshot(g); !reflect.DeepEqual(before, after) {
			t.Fatalf("rejected insert (%v) changed the graph:\nbefore %+v\nafter  %+v", err, before, after)
		}
		rd := g.Ready()
		if len(rd.Inserted)+len(rd.Missing)+len(rd.Evidence)+len(rd.Rejected)+len(rd.Commits) != 0 {
			t.Fatalf("rejected insert (%v) produced output: %+v", err, rd)
		}
		return false
	}
	h := e.Hash()
	switch st {
	case graph.Inserted:
		got, ok := g.Get(h)
		if !ok || got.Hash() != h {
			t.Fatalf("inserted %s, but Get does not return it", e.Ref())
		}
		if g.Len() <= before.Len || g.Round() < e.Round {
			t.Fatalf("inserted %s: Len %d -> %d, Round %d", e.Ref(), before.Len, g.Len(), g.Round())
		}
	case graph.Buffered:
		if _, ok := g.Get(h); ok || !g.Has(h) {
			t.Fatalf("buffered %s, but Get/Has disagree", e.Ref())
		}
		if g.PendingLen() != before.Pending+1 || g.Len() != before.Len {
			t.Fatalf("buffered %s: pending %d -> %d, Len %d -> %d", e.Ref(), before.Pending, g.PendingLen(), before.Len, g.Len())
		}
	case graph.Duplicate:
		if !g.Has(h) {
			t.Fatalf("duplicate %s, but Has is false", e.Ref())
		}
		if after := fzSnapshot(g); !reflect.DeepEqual(before, after) {
			t.Fatalf("duplicate insert changed the graph:\nbefore %+v\nafter  %+v", before, after)
		}
	default:
		t.Fatalf("insert %s: status %v", e.Ref(), st)
	}
	rd := g.Ready()
	k.ready(rd)
	if st == graph.Inserted && !slices.ContainsFunc(rd.Inserted, func(x *graph.Event) bool { return x.Hash() == h }) {
		t.Fatalf("inserted %s, but Ready.Inserted does not list it", e.Ref())
	}
	for _, m := range g.Missing() {
		if _, ok := g.Get(m.Hash); ok {
			t.Fatalf("Missing lists %s, which is inserted", m)
		}
	}
	return true
}

// fzGraph returns a graph holding the fixture's first rounds.
func fzGraph(t *testing.T, fx *fzFixture, cfg graph.Config, rounds int) (*graph.Graph, *fzChecker) {
	g := fx.b.Graph(cfg)
	k := fzNewChecker(t, fx.b.Committee)
	for _, round := range fx.dag[:rounds] {
		for _, e := range round {
			if _, err := g.Insert(e); err != nil {
				t.Fatalf("fixture event %s: %v", e.Ref(), err)
			}
		}
		k.ready(g.Ready())
	}
	return g, k
}

// FuzzInsert decodes arbitrary bytes and inserts them into a graph holding
// a valid 4-member DAG of fzPrefix rounds: no panic, a rejected event
// changes nothing, an accepted one is retrievable, nothing is committed
// twice. Almost every mutation fails the signature check; FuzzInsertSigned
// gets past it.
func FuzzInsert(f *testing.F) {
	fx := fzFix()
	for _, e := range fx.dag[fzPrefix] {
		f.Add(e.Encode()) // inserted (and commits a leader)
	}
	f.Add(fx.dag[fzPrefix+1][2].Encode()) // buffered: parents missing
	f.Add(fx.dag[fzPrefix-2][1].Encode()) // duplicate
	f.Add(fx.twin.Encode())               // equivocation
	good := fx.dag[fzPrefix][1].Encode()
	f.Add(fzFlip(good, len(good)-1, 0x01))  // batch no longer matches the root
	f.Add(fzFlip(good, len(good)-20, 0x01)) // signature
	f.Add(fzFlip(good, 1+8, 0x01))          // round
	f.Add(fzFlip(good, 1, 0x01))            // epoch
	f.Add(fzFlip(good, 1+8+8+3, 0x04))      // creator
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		g, k := fzGraph(t, fx, graph.Config{}, fzPrefix)
		before := fzSnapshot(g)
		e, err := graph.Decode(data, g.Limits())
		if err != nil {
			if after := fzSnapshot(g); !reflect.DeepEqual(before, after) {
				t.Fatal("a failed decode changed the graph")
			}
			if rd := g.Ready(); len(rd.Inserted)+len(rd.Commits)+len(rd.Missing) != 0 {
				t.Fatalf("a failed decode produced output: %+v", rd)
			}
			return
		}
		if fzInsert(t, g, k, e) {
			// Inserting the same bytes again is a duplicate and changes nothing.
			again, err := graph.Decode(data, g.Limits())
			if err != nil {
				t.Fatalf("decoded once, not twice: %v", err)
			}
			if g.Has(again.Hash()) {
				if st, err := g.Insert(again); err != nil || st != graph.Duplicate {
					t.Fatalf("re-insert of %s: %v %v, want duplicate", e.Ref(), st, err)
				}
			}
		}
	})
}

// fzReader hands out the fuzz input a field at a time; past the end it
// returns zeros.
type fzReader struct{ b []byte }

func (r *fzReader) more() bool { return len(r.b) > 0 }

func (r *fzReader) u8() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fzReader) u16() uint16 { return uint16(r.u8())<<8 | uint16(r.u8()) }

func (r *fzReader) u64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = r.u8()
	}
	return binary.BigEndian.Uint64(buf[:])
}

// The FuzzInsertSigned input language. Byte 0 configures the graph: bit 0
// sets the GC depth to the minimum (3) so that the horizon moves within the
// fixture, bits 1-3 say how many fixture rounds are inserted first. Then a
// sequence of operations follows, each an opcode byte (mod 3) and its
// arguments:
//
//	fzOpFixture idx                 insert fixture event all[idx % len]
//	fzOpEvent   <event>             sign and insert a new event
//	fzOpReplay  idx                 re-insert event made earlier (by index)
//
// <event> is: creator, flags, round, time (2 bytes), parent mode, the parent
// picks, tx count, and per tx a length and that many bytes. See fzMakeEvent.
const (
	fzOpFixture = iota
	fzOpEvent
	fzOpReplay

	fzFlagRawRound   = 1 << 0 // round is 8 raw bytes, not a fixture round
	fzFlagEpoch      = 1 << 1 // epoch is the next byte
	fzFlagUnsorted   = 1 << 2 // leave the parents in pick order
	fzFlagBadRoot    = 1 << 3 // corrupt the Merkle root
	fzFlagWrongKey   = 1 << 4 // sign with another member's key
	fzFlagBadCreator = 1 << 5 // creator outside the committee

	fzParentsAuto = 0x80 // begin with every fixture event of round-1

	fzPickKnown  = 0 // a known event (fixture or made earlier), exact reference
	fzPickFake   = 2 // an unknown hash from a pool of four, with chosen hints
	fzPickHinted = 3 // a known event's hash with chosen round and creator hints
)

// fzFakeHash is one of four hashes no event has; a small pool lets two
// events reference the same unknown parent.
func fzFakeHash(i byte) graph.Hash { return graph.Hash{0xfa, 0xce, i % 4} }

// fzMakeEvent builds and signs the event the input describes. Everything
// the input says is taken literally: the event may well be invalid.
func fzMakeEvent(fx *fzFixture, r *fzReader, made []*graph.Event) *graph.Event {
	creator := int(r.u8() % fzN)
	flags := r.u8()
	e := &graph.Event{Creator: graph.MemberID(creator)}
	if flags&fzFlagRawRound != 0 {
		e.Round = r.u64()
	} else {
		e.Round = uint64(r.u8() % (fzRounds + 2))
	}
	if flags&fzFlagEpoch != 0 {
		e.Epoch = uint64(r.u8())
	}
	if flags&fzFlagBadCreator != 0 {
		e.Creator = graph.MemberID(fzN + int(r.u8()%3))
	}
	e.Time = int64(r.u16())
	mode := r.u8()
	if mode&fzParentsAuto != 0 && e.Round >= 1 && e.Round-1 < fzRounds {
		for _, p := range fx.dag[e.Round-1] {
			e.Parents = append(e.Parents, p.Ref())
		}
	}
	picks := int(mode & 0x0f)
	pool := len(fx.all) + len(made)
	known := func(i byte) *graph.Event {
		j := int(i) % pool
		if j < len(fx.all) {
			return fx.all[j]
		}
		return made[j-len(fx.all)]
	}
	for range picks {
		switch sel := r.u8(); sel % 4 {
		case fzPickKnown, 1:
			e.Parents = append(e.Parents, known(r.u8()).Ref())
		case fzPickFake:
			h := fzFakeHash(r.u8())
			e.Parents = append(e.Parents, graph.EventRef{Round: uint64(r.u8() % (fzRounds + 2)), Creator: graph.MemberID(r.u8() % fzN), Hash: h})
		case fzPickHinted:
			ref := known(r.u8()).Ref()
			ref.Round = uint64(r.u8() % (fzRounds + 2))
			ref.Creator = graph.MemberID(r.u8() % fzN)
			e.Parents = append(e.Parents, ref)
		}
	}
	if flags&fzFlagUnsorted == 0 {
		graph.SortParents(e.Parents)
	}
	ntx := int(r.u8() % 5)
	for range ntx {
		n := int(r.u8() % 9) // 0 is invalid, on purpose
		tx := make([]byte, n)
		for i := range tx {
			tx[i] = r.u8()
		}
		e.Txs = append(e.Txs, tx)
	}
	e.TxRoot, _ = graph.BatchRoot(e.Txs)
	if flags&fzFlagBadRoot != 0 {
		e.TxRoot[0] ^= 1
	}
	signer := fx.b.Signers[creator]
	if flags&fzFlagWrongKey != 0 {
		signer = fx.b.Signers[(creator+1)%fzN]
	}
	e.Sig = signer.Sign(e.Hash())
	return e
}

// fzSigned builds FuzzInsertSigned inputs for the seeds.
type fzSigned struct{ b []byte }

func fzProgram(gcMin bool, prefix int) *fzSigned {
	cfg := byte(prefix&7) << 1
	if gcMin {
		cfg |= 1
	}
	return &fzSigned{b: []byte{cfg}}
}

func (s *fzSigned) fixture(round, creator int) *fzSigned {
	s.b = append(s.b, fzOpFixture, byte(round*fzN+creator))
	return s
}

func (s *fzSigned) fixtureRounds(from, to int) *fzSigned {
	for r := from; r < to; r++ {
		for c := range fzN {
			s.fixture(r, c)
		}
	}
	return s
}

// event appends an event with round-relative parents: auto parents plus the
// given raw pick bytes (each pick is its selector and arguments).
func (s *fzSigned) event(creator, flags, round int, auto bool, picks [][]byte, txs ...[]byte) *fzSigned {
	mode := byte(len(picks))
	if auto {
		mode |= fzParentsAuto
	}
	s.b = append(s.b, fzOpEvent, byte(creator), byte(flags), byte(round), 0, 7, mode)
	for _, p := range picks {
		s.b = append(s.b, p...)
	}
	s.b = append(s.b, byte(len(txs)))
	for _, tx := range txs {
		s.b = append(s.b, byte(len(tx)))
		s.b = append(s.b, tx...)
	}
	return s
}

func (s *fzSigned) replay(i int) *fzSigned {
	s.b = append(s.b, fzOpReplay, byte(i))
	return s
}

// FuzzInsertSigned lets the fuzzer shape events (round, creator, epoch,
// parents among the known events or unknown hashes with any hints, batch)
// that are then signed with the creator's real key, so they get past the
// signature check, and interleaves them with the fixture's valid events,
// so that leaders commit and (with the minimum GC depth) the horizon moves
// while the fuzzer's events wait in the buffer. After every insertion the
// contract of Insert and Ready is checked (fzInsert, fzChecker.ready); in
// particular no event is committed twice over the whole run.
func FuzzInsertSigned(f *testing.F) {
	fx := fzFix()
	x := []byte("x")
	f.Add(fzProgram(false, 4).event(0, 0, 4, true, nil, x).b)                  // valid: inserted
	f.Add(fzProgram(false, 4).event(1, 0, 4, true, nil).fixtureRounds(4, 7).b) // equivocation, then commits
	f.Add(fzProgram(false, 4).event(2, 0, 6, true, nil).fixtureRounds(4, 6).b) // buffered, then released
	f.Add(fzProgram(false, 4).event(3, fzFlagWrongKey, 4, true, nil).b)        // bad signature
	f.Add(fzProgram(false, 4).event(3, fzFlagBadRoot, 4, true, nil, x).b)      // bad root
	f.Add(fzProgram(false, 4).event(3, fzFlagEpoch, 4, true, nil).b)           // wrong epoch
	f.Add(fzProgram(false, 4).event(1, fzFlagBadCreator, 4, true, nil).b)      // unknown creator
	f.Add(fzProgram(false, 4).event(0, fzFlagUnsorted, 4, false, [][]byte{{0, 15}, {0, 12}, {0, 13}, {0, 14}}).b)
	f.Add(fzProgram(false, 4).event(0, 0, 4, false, [][]byte{{0, 13}, {0, 14}, {0, 15}}).b) // no own parent
	f.Add(fzProgram(false, 4).event(0, 0, 4, false, [][]byte{{0, 12}, {0, 13}}).b)          // no quorum
	f.Add(fzProgram(false, 4).event(0, 0, 4, true, [][]byte{{3, 5, 2, 1}}).b)               // parent hint mismatch
	f.Add(fzProgram(false, 4).event(0, 0, 4, true, [][]byte{{2, 0, 1, 1}}).b)               // unknown old parent
	f.Add(fzProgram(false, 0).fixtureRounds(0, 3).event(0, 0, 3, true, nil).replay(0).b)    // duplicate
	f.Add(fzProgram(false, 4).event(0, 0, 1, true, nil).event(0, 0, 1, true, nil, x).
		event(0, 0, 1, true, nil, x, x).event(0, 0, 1, true, nil, x, x, x).event(0, 0, 1, true, nil, []byte("y")).b) // slot full
	f.Add(fzProgram(false, 2).event(1, fzFlagRawRound, 0, false, nil).b)
	// Minimum GC depth: the horizon passes buffered events and their
	// missing parents.
	f.Add(fzProgram(true, 4).event(0, 0, 4, true, [][]byte{{2, 0, 0, 1}}).fixtureRounds(4, 10).b)
	f.Add(fzProgram(true, 4).event(0, 0, 4, true, [][]byte{{2, 0, 0, 1}}).
		event(1, 0, 4, true, [][]byte{{2, 1, 3, 3}}).fixtureRounds(4, 10).b)
	f.Add(fzProgram(true, 2).event(2, 0, 3, true, [][]byte{{2, 3, 1, 0}}).event(2, 0, 5, true, nil).fixtureRounds(2, 10).b)
	f.Add(fzProgram(true, 0).fixtureRounds(0, 10).b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fzReader{b: data}
		cfg := r.u8()
		var gc graph.Config
		if cfg&1 != 0 {
			gc.GCDepth = graph.MinGCDepth
		}
		prefix := min(int(cfg>>1&7), fzRounds)
		g, k := fzGraph(t, fx, gc, prefix)
		var made []*graph.Event
		for ops := 0; r.more() && ops < 64; ops++ {
			switch r.u8() % 3 {
			case fzOpFixture:
				fzInsert(t, g, k, fx.all[int(r.u8())%len(fx.all)])
			case fzOpEvent:
				e := fzMakeEvent(fx, r, made)
				made = append(made, e)
				// Over the wire, as a peer would send it. Decode checks the
				// structure Verify checks, so the two must agree.
				d, err := graph.Decode(e.Encode(), g.Limits())
				if err != nil {
					before := fzSnapshot(g)
					if _, ierr := g.Insert(e); !errors.Is(ierr, graph.ErrMalformed) {
						t.Fatalf("Decode rejects %s (%v), Insert says %v", e.Ref(), err, ierr)
					}
					if after := fzSnapshot(g); !reflect.DeepEqual(before, after) {
						t.Fatal("a malformed event changed the graph")
					}
					continue
				}
				if d.Hash() != e.Hash() {
					t.Fatalf("hash changed over the wire")
				}
				fzInsert(t, g, k, d)
			case fzOpReplay:
				if len(made) > 0 {
					fzInsert(t, g, k, made[int(r.u8())%len(made)])
				}
			}
		}
	})
}
