// Signature checks of cluster transactions, done once per node and, in
// the live node, off its goroutine.

package node

import (
	"sync/atomic"

	"dagger/graph"
	"dagger/node/tx"
)

// TxChecker runs the checks (tx.Check) of the cluster transactions of the
// events a node inserts into its graph, ahead of their commit, so that
// applying the commit finds them done. The live runtime's runs them on a
// pool of goroutines (checking is pure, and the costliest thing a node
// does per transaction); nil (the simulator's setting) leaves every check
// to the node's goroutine, at admission or at apply. Either way a
// transaction is checked once per node, and what is checked where never
// changes an outcome: tx.Check's answer depends on the bytes alone.
type TxChecker interface {
	// Check calls Run on each of checks, on other goroutines, in any
	// order, or not at all. It must not block: work it has no room for it
	// drops, and the node runs those checks itself when it applies them.
	Check(checks []*TxCheck)
}

// TxCheck is one transaction's check, handed from the node to a
// TxChecker. Whoever claims it first runs it, the node's goroutine
// (applying the transaction) or the TxChecker's: no check runs twice, and
// the node never waits for one.
type TxCheck struct {
	Hash graph.Hash
	Data []byte
	// state is checkQueued, then checkClaimed, then checkDone; result is
	// written before checkDone is stored and read only after it is loaded.
	state  atomic.Uint32
	result tx.Checked
}

const (
	checkQueued uint32 = iota
	checkClaimed
	checkDone
)

// Run checks the transaction, unless someone else claimed the check; it
// reports whether it ran it.
func (c *TxCheck) Run() bool {
	if !c.state.CompareAndSwap(checkQueued, checkClaimed) {
		return false
	}
	c.result = tx.Check(c.Data)
	c.state.Store(checkDone)
	return true
}

// RunChecks runs the checks of checks that nobody claimed, together
// (tx.CheckAll): give it one event's, so that a bad signature in one
// author's event does not make the others' batches slower.
func RunChecks(checks []*TxCheck) {
	claimed := make([]*TxCheck, 0, len(checks))
	for _, c := range checks {
		if c.state.CompareAndSwap(checkQueued, checkClaimed) {
			claimed = append(claimed, c)
		}
	}
	if len(claimed) == 0 {
		return
	}
	data := make([][]byte, len(claimed))
	for i, c := range claimed {
		data[i] = c.Data
	}
	for i, ck := range tx.CheckAll(data) {
		claimed[i].result = ck
		claimed[i].state.Store(checkDone)
	}
}

// answer returns the check's answer, running it now if nobody claimed it;
// false if another goroutine is running it at this moment.
func (c *TxCheck) answer() (tx.Checked, bool) {
	if c.state.Load() == checkDone || c.Run() {
		return c.result, true
	}
	return tx.Checked{}, false
}

func doneCheck(h graph.Hash, ck tx.Checked) *TxCheck {
	c := &TxCheck{Hash: h, result: ck}
	c.state.Store(checkDone)
	return c
}

// MaxCheckedTxs bounds the transaction checks a node keeps for their
// commit: about four seconds of transactions at the throughput the design
// targets, while a transaction commits within one or two. An entry leaves
// when its transaction is applied; one that never is (its event is not
// committed, or it is a duplicate) makes room for newer ones, oldest
// first.
const MaxCheckedTxs = 1 << 16

// txChecks keeps the checks of transactions by hash until they are
// applied, for at most MaxCheckedTxs transactions. Only the node's
// goroutine touches it; a TxChecker holds only the TxChecks.
type txChecks struct {
	byHash map[graph.Hash]*TxCheck
	// ring holds the hashes in the order they came, to forget the oldest;
	// some may have left already. It grows to MaxCheckedTxs, then wraps
	// at next.
	ring []graph.Hash
	next int
}

func newTxChecks() *txChecks { return &txChecks{byHash: map[graph.Hash]*TxCheck{}} }

// add keeps c unless a check of its transaction is kept already.
func (s *txChecks) add(c *TxCheck) bool {
	if _, ok := s.byHash[c.Hash]; ok {
		return false
	}
	s.byHash[c.Hash] = c
	if len(s.ring) < MaxCheckedTxs {
		s.ring = append(s.ring, c.Hash)
		return true
	}
	delete(s.byHash, s.ring[s.next])
	s.ring[s.next] = c.Hash
	s.next = (s.next + 1) % MaxCheckedTxs
	return true
}

// done returns the answer for h if its check has run.
func (s *txChecks) done(h graph.Hash) (tx.Checked, bool) {
	if c, ok := s.byHash[h]; ok && c.state.Load() == checkDone {
		return c.result, true
	}
	return tx.Checked{}, false
}

// take returns the check kept for h, or nil, and forgets it.
func (s *txChecks) take(h graph.Hash) *TxCheck {
	c := s.byHash[h]
	delete(s.byHash, h)
	return c
}

// precheck hands the cluster transactions of an inserted event that this
// node has no check of to the TxChecker.
func (n *Node) precheck(e *graph.Event) {
	var todo []*TxCheck
	for i, data := range e.Txs {
		if !tx.IsCluster(data) {
			continue
		}
		if c := (&TxCheck{Hash: e.TxHash(i), Data: data}); n.checks.add(c) {
			todo = append(todo, c)
		}
	}
	if len(todo) > 0 {
		n.cfg.TxChecker.Check(todo)
	}
}

// commitChecks returns the answers of the checks of c's cluster
// transactions, for cluster.Commit.Checked: those kept from before, and
// the rest run now, an event's together (RunChecks). An answer is left
// unknown only if a TxChecker's goroutine is running that check at this
// moment; Apply then checks the transaction itself. Nil if c has no
// cluster transaction.
func (n *Node) commitChecks(c graph.Commit) []tx.Checked {
	var checks []*TxCheck
	for i := range c.Txs {
		ct, data := &c.Txs[i], c.TxData(i)
		if !tx.IsCluster(data) {
			continue
		}
		if checks == nil {
			checks = make([]*TxCheck, len(c.Txs))
		}
		if checks[i] = n.checks.take(ct.Hash); checks[i] == nil {
			checks[i] = &TxCheck{Hash: ct.Hash, Data: data}
		}
	}
	if checks == nil {
		return nil
	}
	var group []*TxCheck
	event := -1
	for i := range c.Txs {
		if checks[i] == nil {
			continue
		}
		if c.Txs[i].Event != event {
			RunChecks(group)
			group, event = group[:0], c.Txs[i].Event
		}
		group = append(group, checks[i])
	}
	RunChecks(group)
	checked := make([]tx.Checked, len(c.Txs))
	for i, ck := range checks {
		if ck != nil {
			checked[i], _ = ck.answer()
		}
	}
	return checked
}
