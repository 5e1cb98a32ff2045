package sim

import (
	"encoding/binary"
	"strings"
	"testing"

	"dagger/graph"
	"dagger/sim/check"
)

func testChecker(t *testing.T) *check.Checker {
	t.Helper()
	var keys []graph.PublicKey
	for i := range 4 {
		keys = append(keys, NewFastSigner(graph.KeySeed(1, i)).PublicKey())
	}
	com, err := graph.EqualCommittee(0, keys)
	if err != nil {
		t.Fatal(err)
	}
	return check.New(check.Config{Committee: com, Verifier: FastVerifier{}, Honest: []bool{true, true, true, true},
		LivenessDeadline: 1e9})
}

// The observer applies what it is given in the order given, across
// batches and its goroutine: a commit's latency is measured against the
// submission queued before it.
func TestObserverAppliesInOrder(t *testing.T) {
	book := &latencyBook{}
	o := newObserver(testChecker(t), book)
	tx := func(seq uint64) []byte {
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b, seq)
		return b
	}
	o.submit(0, tx(0), graph.TxHash(tx(0)), 1) // before start: waits in the first batch
	o.start(nil)
	const n = 3 * obsBatch
	for i := uint64(1); i < n; i++ {
		o.submit(int(i%4), tx(i), graph.TxHash(tx(i)), int64(i))
	}
	for i := uint64(0); i < n; i++ {
		d := tx(i)
		e := &graph.Event{Txs: [][]byte{d}}
		o.add(observation{kind: obsCommit, node: int32(i % 4), at: int64(i) + 10, first: true,
			commit: graph.Commit{Events: []*graph.Event{e}, Txs: []graph.CommittedTx{{Hash: graph.TxHash(d)}}}})
		// Commit is judged by the checker too; these carry no events,
		// which it reports, and that does not matter here.
	}
	o.wait()
	if len(book.lat) != n {
		t.Fatalf("%d latencies, want %d", len(book.lat), n)
	}
	for i, l := range book.lat {
		if l != 10 && !(i == 0 && l == 9) {
			t.Fatalf("latency %d is %d", i, l)
		}
	}
}

// A panic of the checker on the observer's goroutine is raised again on
// the run's, with where it happened, and the goroutine ends.
func TestObserverPanicReachesTheRun(t *testing.T) {
	o := newObserver(testChecker(t), &latencyBook{})
	o.start(nil)
	o.restart(99, 0) // node 99 of 4: the checker panics
	got := func() (p any) {
		defer func() { p = recover() }()
		o.wait()
		return nil
	}()
	msg, _ := got.(string)
	if !strings.Contains(msg, "check: node 99 of 4") || !strings.Contains(msg, "[observer goroutine]") {
		t.Fatalf("panic %v, want the checker's with the observer's stack", got)
	}
	select {
	case <-o.done:
	default:
		t.Fatal("the observer's goroutine is still running")
	}
}

// A failure found while the run goes on stops it at its next hand-over.
func TestObserverPanicStopsTheRunAtTheNextBatch(t *testing.T) {
	o := newObserver(testChecker(t), &latencyBook{})
	o.start(nil)
	o.restart(99, 0)
	o.flush()
	got := func() (p any) {
		defer func() { p = recover() }()
		for range 1000 * obsBatch {
			o.down(0)
		}
		return nil
	}()
	if msg, _ := got.(string); !strings.Contains(msg, "check: node 99 of 4") {
		t.Fatalf("panic %v, want the checker's", got)
	}
	if o.running {
		t.Fatal("the observer still counts as running")
	}
}
