package sim

import (
	"bytes"
	"runtime"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// TestDecodeMemoSharesOneMessagesEvent: the receivers of one message get
// one decoded event; a message with the same bytes at another address is
// decoded on its own, to an equal event; and an entry keeps its message's
// bytes alive itself, so a collected message's address, if reused by a
// later one, never finds a stale entry.
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
	other := bytes.Clone(enc)
	if c, _ := m.decode(other, lim); c == a || c.Hash() != a.Hash() {
		t.Fatalf("a copy of the message: same event %v, same hash %v; want another event with the same hash", c == a, c.Hash() == a.Hash())
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
