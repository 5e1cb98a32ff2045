// The processor: what a node admits into its ledger and what it knows
// of each transaction it admitted.

package node

import (
	"errors"
	"fmt"

	"dagger/graph"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/transport"
)

// TxState is where a transaction stands, as this node knows it.
type TxState uint8

// Transaction states.
const (
	TxUnknown   TxState = iota
	TxPending           // admitted, not yet committed
	TxCommitted         // committed; Outcome says whether it took effect
	TxRejected          // refused before or at commit; Reason says why
)

func (s TxState) String() string {
	return [...]string{"unknown", "pending", "committed", "rejected"}[s]
}

// TxStatus is a transaction's status.
type TxStatus struct {
	State  TxState
	Reason string
	// Commit, Event and Position say where it committed. Commit is known
	// for every committed transaction, from the cluster state; Event and
	// Position only while this node keeps the outcome (it applied the
	// commit since it started, among its last MaxResults), and are zero
	// otherwise.
	Commit   uint64
	Event    graph.Hash
	Position int
	Outcome  cluster.Outcome
}

// Errors of Submit.
var (
	ErrRejected = errors.New("transaction rejected")
	ErrBusy     = errors.New("too many pending transactions")
)

type pendingTx struct {
	data      []byte
	hash      graph.Hash // graph.TxHash(data)
	t         *tx.Tx
	submitted int64
	confirm   bool // waiting for its payment to be finalized
	paySig    payment.Signature
	since     int64
}

// Busy says whether the node refuses new transactions for now (ErrBusy):
// it tracks MaxPendingTxs admitted ones, or MaxQueuedTxs wait for its
// next event.
func (n *Node) Busy() bool {
	return len(n.pending) >= MaxPendingTxs || n.ledger.QueueLen() >= MaxQueuedTxs
}

// PendingLen is the number of transactions admitted and not yet decided.
func (n *Node) PendingLen() int { return len(n.pending) }

// TxStatus returns what this node knows of a transaction.
func (n *Node) TxStatus(id tx.ID) TxStatus {
	if _, ok := n.pending[id]; ok {
		return TxStatus{State: TxPending}
	}
	if st, ok := n.results[id]; ok {
		return st
	}
	if commit, ok := n.state.CommittedAt(id); ok {
		return TxStatus{State: TxCommitted, Commit: commit, Reason: "committed before this node kept its outcome"}
	}
	return TxStatus{}
}

// Submit admits a signed cluster transaction: the processor's checks
// (encoding, limits, signature, replay window, the state machine's own
// checks against the current state, the payment), then the ledger. It
// refuses only what no later commit could make acceptable: this node's
// state may lag the order, and an answer from a stale state would not be
// linearizable; the rest is decided, with its reason, where the
// transaction commits. A payment that is not yet finalized keeps the
// transaction waiting for it; the outcome reaches NodeHooks.Done and
// TxStatus.
func (n *Node) Submit(data []byte) (tx.ID, error) {
	h := graph.TxHash(data)
	if ck, ok := n.checks.done(h); ok {
		return n.SubmitChecked(data, h, ck)
	}
	t, err := tx.Decode(data)
	if err != nil {
		return tx.ID{}, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	id := t.ID()
	// Cheap checks first: a transaction already committed is refused
	// before its signature costs anything.
	if n.state.Replay(id, t.Expiry) {
		return id, fmt.Errorf("%w: duplicate: this transaction already committed", ErrRejected)
	}
	ck := tx.Checked{Tx: t, ID: id, Err: t.VerifySignature()}
	return n.SubmitChecked(data, h, ck)
}

// SubmitChecked is Submit for a transaction already checked elsewhere:
// ck is tx.Check(data) and h is graph.TxHash(data). The live runtime
// checks what its API receives on the caller's goroutine and hands the
// node only the answer; the node keeps it for when it applies the
// transaction, which it then checks no more.
func (n *Node) SubmitChecked(data []byte, h graph.Hash, ck tx.Checked) (tx.ID, error) {
	t, id := ck.Tx, ck.ID
	if t == nil {
		return tx.ID{}, fmt.Errorf("%w: %v", ErrRejected, ck.Err)
	}
	if n.state.Replay(id, t.Expiry) {
		return id, fmt.Errorf("%w: duplicate: this transaction already committed", ErrRejected)
	}
	// The signature is checked before a pending copy answers for it: the
	// id does not cover the signature, and a copy with a bad one must be
	// refused, not reported admitted.
	if ck.Err != nil {
		return id, fmt.Errorf("%w: %v", ErrRejected, ck.Err)
	}
	if _, dup := n.pending[id]; dup {
		return id, nil
	}
	// An expiry too far ahead of a state that lags the order is refused
	// only if it is also too far ahead of this node's clock: consensus time
	// follows the honest clocks, so a node that restarted without its state
	// (whose consensus time is that of its snapshot) does not turn away a
	// transaction the cluster would take.
	if why, final := n.state.CheckWindow(t, id); why != "" && (final || t.Expiry-n.clock.Now() > int64(tx.MaxValidity)) {
		return id, fmt.Errorf("%w: %s", ErrRejected, why)
	}
	if why, final := n.state.Check(t); why != "" && final {
		return id, fmt.Errorf("%w: %s", ErrRejected, why)
	}
	if n.Busy() {
		return id, ErrBusy
	}
	n.checks.add(doneCheck(h, ck))
	p := &pendingTx{data: data, hash: h, t: t, submitted: n.clock.Now(), since: n.clock.Now()}
	n.pending[id] = p
	n.pendOrder = append(n.pendOrder, id)
	if (t.Kind == tx.KindVMCreate || t.Kind == tx.KindVMRenew) && n.cfg.Chain != nil {
		p.confirm = true
		n.confirm(id, p)
		return id, nil
	}
	n.enqueue(id, p)
	return id, nil
}

// confirm asks the chain whether the payment is finalized: admitted if so,
// rejected if it failed or the wait ran out, asked again later otherwise.
func (n *Node) confirm(id tx.ID, p *pendingTx) {
	pay, err := payment.Verify(p.t.Payment, payment.Requirement{Treasury: n.state.Params().Treasury, Memo: p.t.Memo()})
	if err != nil {
		n.finish(id, TxStatus{State: TxRejected, Reason: fmt.Sprintf("payment rejected: %v", err)})
		return
	}
	p.paySig = pay.Signature
	n.poll(id, p)
}

// poll asks the chain about a verified payment, again later while it is
// not final.
func (n *Node) poll(id tx.ID, p *pendingTx) {
	pay := payment.Payment{Signature: p.paySig}
	st, err := n.cfg.Chain.Status(pay.Signature)
	switch {
	case err == nil && st == payment.StatusFinalized:
		p.confirm = false
		n.enqueue(id, p)
	case err == nil && st == payment.StatusFailed:
		n.finish(id, TxStatus{State: TxRejected, Reason: fmt.Sprintf("payment %s failed on chain", pay.Signature)})
	case n.clock.Now()-p.since >= int64(n.cfg.ConfirmTimeout):
		why := fmt.Sprintf("payment %s is %s, not finalized after %v", pay.Signature, st, n.cfg.ConfirmTimeout)
		if err != nil {
			why = fmt.Sprintf("payment %s could not be confirmed within %v: %v", pay.Signature, n.cfg.ConfirmTimeout, err)
		}
		n.finish(id, TxStatus{State: TxRejected, Reason: why})
	default:
		n.clock.AfterFunc(n.cfg.ConfirmPoll, func() {
			if q, ok := n.pending[id]; ok && q == p && !n.stopped {
				n.stats.PaymentPolls++
				n.poll(id, p)
			}
		})
	}
}

func (n *Node) enqueue(id tx.ID, p *pendingTx) {
	p.submitted = n.clock.Now()
	if err := n.ledger.SubmitHashed(p.data, p.hash); err != nil && !errors.Is(err, ErrQueueFull) {
		n.finish(id, TxStatus{State: TxRejected, Reason: err.Error()})
	}
}

func (n *Node) finish(id tx.ID, st TxStatus) {
	delete(n.pending, id)
	n.remember(id, st)
	if n.cfg.Hooks.Done != nil {
		n.cfg.Hooks.Done(id, st)
	}
}

func (n *Node) remember(id tx.ID, st TxStatus) {
	if _, ok := n.results[id]; !ok {
		n.resultFIFO = append(n.resultFIFO, id)
	}
	n.results[id] = st
	for len(n.resultFIFO) > n.cfg.MaxResults {
		delete(n.results, n.resultFIFO[0])
		n.resultFIFO = n.resultFIFO[1:]
	}
}

// own signs and submits one of the node's own transactions.
func (n *Node) own(t *tx.Tx) {
	n.nonce++
	t.Nonce = uint64(n.clock.Now()) + n.nonce
	t.Expiry = n.clock.Now() + int64(n.cfg.TxValidity)
	t.Sign(n.cfg.Key)
	_, _ = n.Submit(t.Encode()) // a rejection says the cluster needs nothing from it
}

// Join asks the cluster to admit this node's operator.
func (n *Node) Join(peer transport.PeerID, region string, capacity tx.Capacity, payout [32]byte) {
	n.own(&tx.Tx{Kind: tx.KindOperatorJoin, PeerID: string(peer), Region: region, Capacity: capacity, Payout: payout})
}

// Leave asks to leave the committee at the next epoch boundary.
func (n *Node) Leave() { n.own(&tx.Tx{Kind: tx.KindOperatorLeave}) }

// VoteRemove votes to remove an operator.
func (n *Node) VoteRemove(op tx.Key) { n.own(&tx.Tx{Kind: tx.KindOperatorRemove, Operator: op}) }

// expirePending gives up on transactions whose expiry consensus time has
// passed: they can no longer commit.
func (n *Node) expirePending() {
	now := n.state.Time()
	keep := n.pendOrder[:0]
	for _, id := range n.pendOrder {
		p, ok := n.pending[id]
		switch {
		case !ok:
		case p.t.Expiry < now:
			n.finish(id, TxStatus{State: TxRejected, Reason: "expired before it committed"})
		default:
			keep = append(keep, id)
		}
	}
	n.pendOrder = keep
}

// reconcile makes the host run exactly the VMs the cluster placed on this
