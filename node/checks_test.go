package node_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/tx"
)

// inlineChecker is a TxChecker that checks at once and counts, or, when
// idle, does nothing (a pool with no room): the node must then check at
// apply.
type inlineChecker struct {
	idle    bool
	checked int
}

func (c *inlineChecker) Check(checks []*node.TxCheck) {
	if c.idle {
		return
	}
	for _, ck := range checks {
		if ck.Run() {
			c.checked++
		}
	}
}

// soloGet signs a vm-get by a customer key; broken flips a bit of its
// signature.
func soloGet(s *solo, broken bool) []byte {
	s.nonce++
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	t := &tx.Tx{Kind: tx.KindVMGet, Nonce: s.nonce, Expiry: s.now + int64(tx.DefaultValidity)}
	t.Sign(key)
	if broken {
		t.Sig[0] ^= 1
	}
	return t.Encode()
}

// outcomeOf runs the solo node until data committed and returns its
// outcome.
func outcomeOf(t *testing.T, s *solo, data []byte) (ok bool, reason string) {
	t.Helper()
	d, err := tx.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	prev := s.n.State().Commits()
	for range 50 {
		s.run(100 * time.Millisecond)
		if st := s.n.TxStatus(d.ID()); st.State == node.TxCommitted {
			return st.Outcome.OK, st.Outcome.Reason
		}
	}
	t.Fatalf("transaction %s did not commit (%d commits since)", d.ID().Short(), s.n.State().Commits()-prev)
	return false, ""
}

// TestTxsNobodyCheckedAreCheckedAtApply: transactions that reach an event
// without the processor (forwarded by a peer) and that the TxChecker
// dropped are checked when applied: a broken signature is refused, a good
// one takes effect.
func TestTxsNobodyCheckedAreCheckedAtApply(t *testing.T) {
	s := newSoloWith(t, &inlineChecker{idle: true})
	good, bad := soloGet(s, false), soloGet(s, true)
	for _, data := range [][]byte{good, bad} {
		if err := s.n.Ledger().Submit(data); err != nil {
			t.Fatal(err)
		}
	}
	if ok, why := outcomeOf(t, s, good); !ok {
		t.Fatalf("a good transaction nobody checked ahead was refused: %s", why)
	}
	if ok, why := outcomeOf(t, s, bad); ok || !strings.Contains(why, "signature") {
		t.Fatalf("a broken signature nobody checked ahead: OK=%v %q", ok, why)
	}
}

// TestCheckedAheadGivesTheSameOutcomes: transactions the TxChecker checked
// ahead are applied with its answers, and those answers are the ones the
// node would have found itself: the state hash after each commit is the
// same with and without a checker.
func TestCheckedAheadGivesTheSameOutcomes(t *testing.T) {
	var hashes [2]map[uint64][32]byte
	var checkers [2]*inlineChecker
	for k := range 2 {
		if k == 1 {
			checkers[k] = &inlineChecker{}
		}
		var c node.TxChecker
		if checkers[k] != nil {
			c = checkers[k]
		}
		s := newSoloWith(t, c)
		var last []byte
		for i := range 40 {
			last = soloGet(s, i%5 == 0)
			if err := s.n.Ledger().Submit(last); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				s.run(50 * time.Millisecond)
			}
		}
		outcomeOf(t, s, last)
		hashes[k] = s.hashes
	}
	if checkers[1].checked != 40 {
		t.Fatalf("the checker checked %d transactions, want each of the 40 once", checkers[1].checked)
	}
	if len(hashes[0]) == 0 || len(hashes[0]) != len(hashes[1]) {
		t.Fatalf("%d commits without a checker, %d with one", len(hashes[0]), len(hashes[1]))
	}
	for i, h := range hashes[0] {
		if other, ok := hashes[1][i]; ok && other != h {
			t.Fatalf("commit %d: state hash %x without a checker, %x with one", i, h[:4], other[:4])
		}
	}
}

// TestSubmitCheckedTrustsTheCallersCheck: SubmitChecked admits with the
// answer it is handed, which Submit computes itself; a refusal for a bad
// signature reads the same either way.
func TestSubmitCheckedTrustsTheCallersCheck(t *testing.T) {
	s := newSolo(t)
	bad := soloGet(s, true)
	_, err1 := s.n.Submit(bad)
	_, err2 := s.n.SubmitChecked(bad, graph.TxHash(bad), tx.Check(bad))
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("a broken signature: Submit says %v, SubmitChecked %v", err1, err2)
	}
	good := soloGet(s, false)
	if _, err := s.n.SubmitChecked(good, graph.TxHash(good), tx.Check(good)); err != nil {
		t.Fatal(err)
	}
	if ok, why := outcomeOf(t, s, good); !ok {
		t.Fatalf("refused: %s", why)
	}
}

// BenchmarkSignedTxsOnTheLoop is what the node's goroutine spends per
// signed transaction a client submits, from admission to its outcome:
// "inline" checks it there (Submit, as in the simulator), "checked-ahead"
// takes the check from the caller (SubmitChecked, as the live runtime's
// API does on the caller's goroutine; the check itself is not timed).
func BenchmarkSignedTxsOnTheLoop(b *testing.B) {
	for _, ahead := range []bool{false, true} {
		name := "inline"
		if ahead {
			name = "checked-ahead"
		}
		b.Run(name, func(b *testing.B) {
			s := newSolo(b)
			const batch = 512
			txs := make([][]byte, batch)
			checked := make([]tx.Checked, batch)
			hashes := make([]graph.Hash, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				n := min(batch, b.N-done)
				for i := range n {
					txs[i] = soloGet(s, false)
					if ahead {
						checked[i], hashes[i] = tx.Check(txs[i]), graph.TxHash(txs[i])
					}
				}
				b.StartTimer()
				for i := range n {
					var err error
					if ahead {
						_, err = s.n.SubmitChecked(txs[i], hashes[i], checked[i])
					} else {
						_, err = s.n.Submit(txs[i])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				for s.n.PendingLen() > 0 {
					s.run(20 * time.Millisecond)
				}
			}
		})
	}
}
