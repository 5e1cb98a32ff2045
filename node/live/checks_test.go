package live

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/tx"
)

// TestCheckSubmittedMatchesCheck: the checks of a client's batch are
// tx.Check's answers in order, with the right hashes; a caller that finds
// no free slot before its deadline gets its context's error.
func TestCheckSubmittedMatchesCheck(t *testing.T) {
	n := newRTNode(t)
	p := newCheckPool(0)
	for _, size := range []int{1, 200} {
		txs := make([][]byte, size)
		for i := range txs {
			txs[i] = n.vmGet(uint64(i + 1))
			if i%3 == 1 {
				txs[i][len(txs[i])-1] ^= 1 // a broken signature
			}
			if i%7 == 2 {
				txs[i] = []byte("not a transaction")
			}
		}
		hashes, checked, err := p.checkSubmitted(context.Background(), txs)
		if err != nil {
			t.Fatal(err)
		}
		for i, data := range txs {
			want := tx.Check(data)
			got := checked[i]
			if hashes[i] != graph.TxHash(data) || got.ID != want.ID || (got.Tx == nil) != (want.Tx == nil) ||
				(got.Err == nil) != (want.Err == nil) || got.Err != nil && got.Err.Error() != want.Err.Error() {
				t.Fatalf("%d transactions: transaction %d: checked %+v, want %+v", size, i, got, want)
			}
		}
	}
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.checkSubmitted(ctx, [][]byte{n.vmGet(1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("no free slot and a cancelled context: %v", err)
	}
}

// TestCheckPoolRunsChecksOffTheLoop: the pool runs the checks the node
// hands it on its workers, so that the node finds them done; before it
// starts (while the node replays its store) it takes no work.
func TestCheckPoolRunsChecksOffTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		data := n.vmGet(1)
		c := &node.TxCheck{Hash: graph.TxHash(data), Data: data}
		n.rt.checks.Check([]*node.TxCheck{c})
		synctest.Wait()
		if c.Run() {
			t.Fatal("the pool did not run the check")
		}
		idle := newCheckPool(0)
		c = &node.TxCheck{Hash: graph.TxHash(data), Data: data}
		idle.Check([]*node.TxCheck{c})
		if len(idle.jobs) != 0 || !c.Run() {
			t.Fatal("a pool that has not started took work")
		}
	})
}

// TestRuntimeSubmitManyAdmitsInOrder: a batch is checked off the loop and
// admitted in one turn of it; each transaction gets Submit's answer, and
// the good ones commit.
func TestRuntimeSubmitManyAdmitsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		advance(time.Second)
		broken := n.vmGet(2)
		broken[len(broken)-1] ^= 1
		txs := [][]byte{n.vmGet(1), broken, []byte("garbage"), n.vmGet(3), n.vmGet(1)}
		ids, errs, err := n.rt.SubmitMany(context.Background(), txs)
		if err != nil {
			t.Fatal(err)
		}
		for i, wantErr := range []bool{false, true, true, false, false} {
			if (errs[i] != nil) != wantErr || wantErr && !errors.Is(errs[i], node.ErrRejected) {
				t.Fatalf("transaction %d: %v", i, errs[i])
			}
		}
		if ids[0] != ids[4] || ids[0] == (tx.ID{}) || ids[2] != (tx.ID{}) {
			t.Fatalf("ids %v", ids)
		}
		for range 100 {
			if _, ok := n.hooks.doneOf(ids[3]); ok {
				break
			}
			advance(roundInterval)
		}
		for _, i := range []int{0, 3} {
			if st, ok := n.hooks.doneOf(ids[i]); !ok || st.State != node.TxCommitted || !st.Outcome.OK {
				t.Fatalf("transaction %d: %+v", i, st)
			}
		}
	})
}
