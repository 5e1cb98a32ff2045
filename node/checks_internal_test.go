package node

import (
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dagger/graph"
	"dagger/node/tx"
)

// TestTxCheckRunsOnce: workers (one by one, or in batches) and the
// node's goroutine race for each check; exactly one runs it, and every answer the node takes is
// tx.Check's (or none, while a worker runs it, and the node checks
// itself).
func TestTxCheckRunsOnce(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	s := newTxChecks()
	var checks []*TxCheck
	for i := range 200 {
		c := &tx.Tx{Kind: tx.KindVMGet, Nonce: uint64(i), Expiry: time.Now().UnixNano()}
		c.Sign(key)
		data := c.Encode()
		if i%3 == 0 {
			data[len(data)-1] ^= 1
		}
		ck := &TxCheck{Hash: graph.TxHash(data), Data: data}
		if !s.add(ck) {
			t.Fatal("a new check was not kept")
		}
		checks = append(checks, ck)
	}
	var ran atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			if w%2 == 0 {
				for _, c := range checks {
					if c.Run() {
						ran.Add(1)
					}
				}
				return
			}
			for i := 0; i < len(checks); i += 16 { // as a pool does, an event's at once
				RunChecks(checks[i:min(i+16, len(checks))])
			}
		})
	}
	taken := 0
	for _, c := range checks {
		kept := s.take(c.Hash)
		if kept != c {
			t.Fatal("take did not return the check kept")
		}
		got, ok := kept.answer()
		if !ok {
			continue // a worker is running it: the node checks it itself
		}
		taken++
		want := tx.Check(c.Data)
		if got.ID != want.ID || (got.Err == nil) != (want.Err == nil) {
			t.Fatalf("took %+v, want %+v", got, want)
		}
	}
	wg.Wait()
	for _, c := range checks {
		if c.state.Load() != checkDone {
			t.Fatal("a check was claimed and never finished")
		}
	}
	if len(s.byHash) != 0 {
		t.Fatalf("%d checks kept after every one was taken", len(s.byHash))
	}
	t.Logf("workers ran %d checks, the node took %d answers", ran.Load(), taken)
}

// TestTxChecksAreBounded: the oldest checks make room for new ones.
func TestTxChecksAreBounded(t *testing.T) {
	s := newTxChecks()
	for i := range MaxCheckedTxs + 10 {
		var h graph.Hash
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		s.add(doneCheck(h, tx.Checked{}))
	}
	if len(s.byHash) != MaxCheckedTxs || len(s.ring) != MaxCheckedTxs {
		t.Fatalf("%d checks kept, ring of %d, want %d", len(s.byHash), len(s.ring), MaxCheckedTxs)
	}
	if _, ok := s.byHash[graph.Hash{}]; ok {
		t.Fatal("the oldest check was not forgotten")
	}
}
