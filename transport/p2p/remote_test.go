package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer's bulk messages (SendBulk) wait behind its other messages, queued
// before or after them, and are written one at a time, so that what is
// queued while one is written goes first; the writer is woken while
// anything is left, the bounds count both queues, and the backlog is the
// oldest message's of either.
func TestBulkMessagesWaitBehindTheOthers(t *testing.T) {
	r := newRemote(peer.ID("p"), true)
	drainWake := func() bool {
		select {
		case <-r.wake:
			return true
		default:
			return false
		}
	}
	msg := func(s string) []byte { return []byte(s) }
	for _, m := range []struct {
		s    string
		bulk bool
	}{{"bulk1", true}, {"a", false}, {"bulk2", true}, {"b", false}} {
		if !r.enqueue(msg(m.s), m.bulk, 10, 1000) {
			t.Fatalf("enqueue %s refused", m.s)
		}
	}
	if r.enqueue(msg("x"), true, 4, 1000) {
		t.Fatal("a fifth message passed a bound of four")
	}
	time.Sleep(time.Millisecond)
	if r.backlog(time.Now()) <= 0 {
		t.Fatal("no backlog with four messages queued")
	}
	var got []string
	for i := 0; drainWake(); i++ {
		if i > 10 {
			t.Fatal("the writer is woken forever")
		}
		batch := r.take(nil)
		var names []string
		size := 0
		for _, m := range batch {
			names = append(names, string(m))
			size += len(m)
		}
		got = append(got, fmt.Sprint(names))
		if len(got) == 2 {
			// Queued while bulk1 is written: goes before bulk2.
			if !r.enqueue(msg("c"), false, 10, 1000) {
				t.Fatal("enqueue c refused")
			}
		}
		r.release(len(batch), size)
	}
	want := []string{"[a b]", "[bulk1]", "[c]", "[bulk2]"}
	if len(got) != len(want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("batches %v, want %v", got, want)
		}
	}
	if r.queuedMsgs != 0 || r.queuedBytes != 0 || r.backlog(time.Now()) != 0 {
		t.Fatalf("after the writer took everything: %d messages, %d bytes, backlog %v", r.queuedMsgs, r.queuedBytes, r.backlog(time.Now()))
	}
}
