package sim

import (
	"bytes"
	"runtime"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// TestDecodeMemoSharesOneMessagesEvent: the receivers of one message get
// one decoded event, and so do those of other bytes equal to it (an event
// in a batch); bytes that differ (a flipped signature bit) decode to
// another event; and an entry keeps its message's bytes alive itself, so
// a collected message's address, if reused by a later one, never finds a
// stale entry.
func TestDecodeMemoSharesOneMessagesEvent(t *testing.T) {
	var lim graph.Limits
	m := newDecodeMemo(lim)
	layer := graphtest.NewBuilder(4, 1).Layered(2, 1, 32)
	enc := layer[1][0].Encode()
	a, err := m.decode(enc, lim)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := m.decode(enc, lim); b != a {
		t.Fatal("two receivers of one message got two decoded events")
	}
	if c, _ := m.decode(bytes.Clone(enc), lim); c != a {
		t.Fatal("a copy of the message decoded to another event")
	}
	x := layer[1][0]
	flipped := &graph.Event{Epoch: x.Epoch, Round: x.Round, Creator: x.Creator, Time: x.Time, Parents: x.Parents,
		TxRoot: x.TxRoot, Txs: x.Txs, Sig: x.Sig}
	flipped.Sig[0] ^= 1
	altered := flipped.Encode()
	if c, err := m.decode(altered, lim); err != nil || c == a || c.Sig == a.Sig || c.Hash() != a.Hash() {
		t.Fatalf("altered bytes: same event %v, same signature %v, same hash %v (%v); want another event with the same hash",
			c == a, c.Sig == a.Sig, c.Hash() == a.Hash(), err)
	}

	// Messages that are dropped after decoding: their bytes stay held by
	// the memo, so no later message lands at an address with an entry.
	for i := range 200 {
		msg := layer[i%2][i%4].Encode()
		e, err := m.decode(msg, lim)
		if err != nil || e.Hash() != layer[i%2][i%4].Hash() {
			t.Fatalf("message %d decoded to %v (%v), want event %v", i, e.Hash(), err, layer[i%2][i%4].Hash())
		}
		runtime.GC()
	}
}
