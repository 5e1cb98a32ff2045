package graph_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

func TestEncodingRoundTripsAndHashIsStable(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(3, 5, 100)
	for _, round := range dag {
		for _, e := range round {
			enc := e.Encode()
			if len(enc) != e.Size() {
				t.Fatalf("Size %d, encoding %d bytes", e.Size(), len(enc))
			}
			d, err := graph.Decode(enc, graph.Limits{})
			if err != nil {
				t.Fatalf("decode %s: %v", e.Ref(), err)
			}
			if d.Hash() != e.Hash() {
				t.Fatalf("hash changed over the wire: %s vs %s", d.Hash(), e.Hash())
			}
			if !reflect.DeepEqual(d.Parents, e.Parents) || !reflect.DeepEqual(d.Txs, e.Txs) ||
				d.Round != e.Round || d.Creator != e.Creator || d.Time != e.Time || d.Sig != e.Sig || d.TxRoot != e.TxRoot {
				t.Fatalf("decode(encode(e)) != e for %s", e.Ref())
			}
			fresh := &graph.Event{Epoch: d.Epoch, Round: d.Round, Creator: d.Creator, Time: d.Time,
				Parents: d.Parents, TxRoot: d.TxRoot, Txs: d.Txs, Sig: d.Sig}
			if !bytes.Equal(d.Encode(), enc) || !bytes.Equal(fresh.Encode(), enc) {
				t.Fatalf("re-encoding differs")
			}
			if err := b.Committee.Verify(d, graph.Ed25519{}, graph.Limits{}); err != nil {
				t.Fatalf("decoded event does not verify: %v", err)
			}
		}
	}
}

func TestDecodeRejectsNonCanonicalAndOversizedInput(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	dag := b.Layered(2, 2, 10)
	e := dag[1][0]
	good := e.Encode()
	parentsAt := 1 + 8 + 8 + 4 + 8 + 2
	cases := map[string]func() []byte{
		"version":   func() []byte { x := bytes.Clone(good); x[0] = 2; return x },
		"trailing":  func() []byte { return append(bytes.Clone(good), 0) },
		"truncated": func() []byte { return good[:len(good)-1] },
		"empty":     func() []byte { return nil },
		"unsorted parents": func() []byte {
			x := bytes.Clone(good)
			a, c := x[parentsAt:parentsAt+44], x[parentsAt+44:parentsAt+88]
			tmp := bytes.Clone(a)
			copy(a, c)
			copy(c, tmp)
			return x
		},
		"zero-length tx": func() []byte {
			ev := b.Event(0, 0, nil, []byte{})
			return ev.Encode()
		},
		"huge tx count": func() []byte {
			x := bytes.Clone(good)
			off := parentsAt + 44*len(e.Parents)
			binary.BigEndian.PutUint32(x[off:], 1<<31)
			return x
		},
		"round-0 with parents": func() []byte {
			x := bytes.Clone(good)
			binary.BigEndian.PutUint64(x[9:], 0)
			return x
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := graph.Decode(mk(), graph.Limits{}); !errors.Is(err, graph.ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := graph.Decode(good, graph.Limits{MaxEventBytes: len(good) - 1}); !errors.Is(err, graph.ErrMalformed) {
		t.Fatalf("event over MaxEventBytes: got %v", err)
	}
	if _, err := graph.Decode(good, graph.Limits{MaxEventTxs: 1}); !errors.Is(err, graph.ErrMalformed) {
		t.Fatalf("event over MaxEventTxs: got %v", err)
	}
	if _, err := graph.Decode(good, graph.Limits{MaxParents: 3}); !errors.Is(err, graph.ErrMalformed) {
		t.Fatalf("event over MaxParents: got %v", err)
	}
}

func TestMerkleRootCommitsToOrderAndContent(t *testing.T) {
	txs := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	r1, leaves := graph.BatchRoot(txs)
	if len(leaves) != 3 || leaves[0] != graph.TxHash([]byte("a")) {
		t.Fatal("leaf hashes are not the transactions' hashes")
	}
	r2, _ := graph.BatchRoot([][]byte{[]byte("b"), []byte("a"), []byte("c")})
	r3, _ := graph.BatchRoot([][]byte{[]byte("a"), []byte("b")})
	r4, _ := graph.BatchRoot(nil)
	if r1 == r2 || r1 == r3 || r3 == r4 || r1 == r4 {
		t.Fatal("distinct batches share a root")
	}
	// A leaf cannot pose as an inner node: the root of two leaves differs
	// from the leaf hash of their concatenation.
	two, _ := graph.BatchRoot(txs[:2])
	if two == graph.TxHash(append(leaves[0][:], leaves[1][:]...)) {
		t.Fatal("inner node equals a leaf")
	}
}

func TestVerifyRejectsInvalidEventsPrecisely(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	r0 := b.Layered(1, 0, 0)[0]
	resign := func(e *graph.Event) *graph.Event {
		e.Sig = b.Signers[e.Creator].Sign(e.Hash())
		return e
	}
	fresh := func(creator int, parents []*graph.Event, txs ...[]byte) *graph.Event {
		return b.Event(creator, 1, parents, txs...)
	}
	cases := []struct {
		name string
		ev   func() *graph.Event
		want error
	}{
		{"bad signature", func() *graph.Event { e := fresh(0, r0); e.Sig[0] ^= 1; return e }, graph.ErrBadSignature},
		{"signed by another member", func() *graph.Event {
			e := fresh(0, r0)
			e.Sig = b.Signers[1].Sign(e.Hash())
			return e
		}, graph.ErrBadSignature},
		{"wrong epoch", func() *graph.Event { e := fresh(0, r0); e.Epoch = 7; return resign(e) }, graph.ErrWrongEpoch},
		{"unknown creator", func() *graph.Event {
			e := fresh(0, r0)
			e.Creator = 9
			return e
		}, graph.ErrUnknownCreator},
		{"no quorum of parents", func() *graph.Event { return fresh(0, r0[:2]) }, graph.ErrNoQuorum},
		{"own previous missing", func() *graph.Event { return fresh(0, r0[1:]) }, graph.ErrOwnParent},
		{"batch altered", func() *graph.Event {
			e := fresh(0, r0, []byte("pay 1"))
			e.Txs = [][]byte{[]byte("pay 9")}
			return e
		}, graph.ErrTxRoot},
		{"parent not below", func() *graph.Event {
			e := fresh(0, r0)
			e.Parents[0].Round = 1
			return resign(e)
		}, graph.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := b.Graph(graph.Config{})
			for _, e := range r0 {
				mustInsert(t, g, e)
			}
			g.Ready()
			before := g.Len()
			_, err := g.Insert(tc.ev())
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if g.Len() != before || g.PendingLen() != 0 {
				t.Fatal("a rejected event changed the graph")
			}
			if rd := g.Ready(); len(rd.Inserted)+len(rd.Missing)+len(rd.Evidence)+len(rd.Commits) != 0 {
				t.Fatalf("a rejected event produced output: %+v", rd)
			}
		})
	}
}

func TestEvidenceEncodingAndVerification(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	x := b.Event(2, 0, nil, []byte("x"))
	y := b.Event(2, 0, nil, []byte("y"))
	ev := graph.Evidence{First: x.Header(), Second: y.Header()}
	if err := ev.Verify(b.Committee, graph.Ed25519{}); err != nil {
		t.Fatal(err)
	}
	if ev.First.Hash() != x.Hash() {
		t.Fatal("header hash differs from event hash")
	}
	d, err := graph.DecodeEvidence(ev.Encode(), graph.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(b.Committee, graph.Ed25519{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Encode(), (&graph.Evidence{First: y.Header(), Second: x.Header()}).Encode()) {
		t.Fatal("one equivocation has two encodings")
	}
	same := graph.Evidence{First: x.Header(), Second: x.Header()}
	if err := same.Verify(b.Committee, graph.Ed25519{}); !errors.Is(err, graph.ErrInvalidEvidence) {
		t.Fatalf("identical headers accepted as evidence: %v", err)
	}
	other := b.Event(1, 0, nil, []byte("z"))
	mixed := graph.Evidence{First: x.Header(), Second: other.Header()}
	if err := mixed.Verify(b.Committee, graph.Ed25519{}); !errors.Is(err, graph.ErrInvalidEvidence) {
		t.Fatalf("headers of two creators accepted as evidence: %v", err)
	}
	forged := graph.Evidence{First: x.Header(), Second: y.Header()}
	forged.Second.Time++
	if err := forged.Verify(b.Committee, graph.Ed25519{}); !errors.Is(err, graph.ErrInvalidEvidence) {
		t.Fatalf("altered header accepted as evidence: %v", err)
	}
}

func mustInsert(t testing.TB, g *graph.Graph, e *graph.Event) graph.Status {
	t.Helper()
	st, err := g.Insert(e)
	if err != nil {
		t.Fatalf("insert %s: %v", e.Ref(), err)
	}
	return st
}

func TestEncodedHashReadsTheHeaderOnly(t *testing.T) {
	e := &graph.Event{Epoch: 2, Round: 7, Creator: 1, Time: 99,
		Parents: []graph.EventRef{{Round: 6, Creator: 0, Hash: graph.Hash{1}}, {Round: 6, Creator: 3, Hash: graph.Hash{2}}},
		Txs:     [][]byte{[]byte("a"), []byte("bcd")}, TxRoot: graph.Hash{9}}
	enc := e.Encode()
	h, err := graph.EncodedHash(enc)
	if err != nil || h != e.Hash() {
		t.Fatalf("EncodedHash = %s, %v; want %s", h, err, e.Hash())
	}
	if d, err := graph.Decode(enc, graph.Limits{}); err != nil || d.Hash() != h {
		t.Fatalf("decoded event's hash differs: %v", err)
	}
	short := len(enc) - (4 + 1) - (4 + 3) - 1 // header and signature, one byte short
	for _, n := range []int{0, 10, 30, short} {
		if _, err := graph.EncodedHash(enc[:n]); !errors.Is(err, graph.ErrMalformed) {
			t.Errorf("%d bytes: err %v, want ErrMalformed", n, err)
		}
	}
	bad := bytes.Clone(enc)
	bad[0]++
	if _, err := graph.EncodedHash(bad); !errors.Is(err, graph.ErrMalformed) {
		t.Errorf("unknown version: err %v", err)
	}
}
