package node

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"dagger/graph"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/provision"
	"dagger/transport"
)

// Defaults of a node.
const (
	DefaultResubmitAfter  = 5 * time.Second
	DefaultTxValidity     = 10 * time.Minute
	DefaultConfirmTimeout = time.Minute
	DefaultConfirmPoll    = time.Second
	DefaultReconcile      = time.Second
	DefaultMaxResults     = 1 << 16
	DefaultKeepEpochs     = 120
	// MaxPendingTxs bounds the transactions a node admitted and tracks
	// until they commit.
	MaxPendingTxs = 1 << 16
)

// Config configures a node: the ledger plus what sits above it.
type Config struct {
	// Key is the operator's identity key: it signs the node's own
	// transactions (status reports, votes, evidence). Its public key is the
	// node's member key in every committee that holds it.
	Key ed25519.PrivateKey
	// Genesis is the cluster's starting point; its operators are epoch 0's
	// committee.
	Genesis cluster.Genesis
	// Ledger configures the ledger; its Graph.Committee is derived from
	// Genesis, and its Commit hook is the node's (see Hooks).
	Ledger LedgerConfig
	// Provisioner is this operator's host; nil for a node that hosts
	// nothing.
	Provisioner provision.Provisioner
	// Chain confirms payments; nil admits payments without confirming
	// them, which only tests may want.
	Chain payment.Chain
	// AutoApprove makes this operator vote to admit every operator that
	// asks to join.
	AutoApprove bool
	// ResubmitAfter: an admitted transaction not committed after this long
	// is queued again (its id commits once, so this is safe).
	ResubmitAfter time.Duration
	// TxValidity is the expiry of the node's own transactions.
	TxValidity time.Duration
	// ConfirmTimeout bounds the wait for a payment to be finalized;
	// ConfirmPoll is how often the chain is asked.
	ConfirmTimeout time.Duration
	ConfirmPoll    time.Duration
	// ReconcileEvery is the period of comparing the host with the cluster
	// state; ReportEvery (default StatusTimeout/3) that of status reports.
	ReconcileEvery time.Duration
	ReportEvery    time.Duration
	// MaxResults bounds the remembered outcomes of transactions.
	MaxResults int
	// KeepEpochs is how many ended epochs' events the store keeps for
	// peers that fall behind; older ones are pruned at each epoch start,
	// after the snapshot of the state there is stored. 0 means
	// DefaultKeepEpochs; negative keeps everything.
	KeepEpochs int
	Hooks      NodeHooks
}

// NodeHooks report what the node did; they run on the node's goroutine.
type NodeHooks struct {
	// Applied receives every commit with what it did to the cluster state
	// and the state's hash after it.
	Applied func(c graph.Commit, res cluster.Result, hash [32]byte)
	// Done receives the final status of every transaction this node
	// admitted: committed (with its outcome) or rejected.
	Done func(id tx.ID, st TxStatus)
}

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
	t         *tx.Tx
	submitted int64
	confirm   bool // waiting for its payment to be finalized
	paySig    payment.Signature
	since     int64
}

type report struct {
	state tx.VMState
	at    int64
	host  tx.Key
}

// Node is a DAGGER node: the ledger, the processor that admits
// transactions, the controller that applies commits to the cluster state
// and provisions this operator's VMs. Like the ledger, every method is
// called from the node's goroutine.
type Node struct {
	cfg    Config
	self   tx.Key
	ledger *Ledger
	state  *cluster.State
	clock  Clock
	prov   provision.Provisioner

	pending    map[tx.ID]*pendingTx
	pendOrder  []tx.ID
	results    map[tx.ID]TxStatus
	resultFIFO []tx.ID
	nonce      uint64

	reports   map[tx.ID]report
	evidence  map[[2]uint64]bool
	approved  map[tx.Key]bool
	timer     Timer
	stopped   bool
	userHooks Hooks
	// snapCommit is the commit index of the newest stored snapshot.
	snapCommit uint64
	store      Store
	stats      NodeStats
	// signersList caches signers() as of signersAt.
	signersAt   signersKey
	signersList []transport.PeerID
}

// NodeStats counts what the processor and controller did.
type NodeStats struct {
	// Resubmits counts admitted transactions queued again because they
	// had not committed after ResubmitAfter.
	Resubmits uint64
	// PaymentPolls counts questions to the chain about a payment that was
	// not final yet.
	PaymentPolls uint64
}

// Stats returns the node's counters.
func (n *Node) Stats() NodeStats { return n.stats }

// NewNode builds a node; Start runs it.
func NewNode(cfg Config) (*Node, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("node needs an ed25519 identity key")
	}
	st, err := cluster.New(cfg.Genesis, cfg.Ledger.Graph.Verifier)
	if err != nil {
		return nil, err
	}
	if cfg.Ledger.Store == nil {
		cfg.Ledger.Store = NewMemStore()
	}
	sn, fromSnapshot, err := cfg.Ledger.Store.LatestSnapshot()
	if err != nil {
		return nil, fmt.Errorf("read the latest snapshot: %w", err)
	}
	var window graph.TxWindow
	if fromSnapshot {
		if st, window, err = RestoreSnapshot(sn, cfg.Genesis, cfg.Ledger.Graph.Verifier); err != nil {
			return nil, err
		}
	}
	if cfg.ResubmitAfter <= 0 {
		cfg.ResubmitAfter = DefaultResubmitAfter
	}
	if cfg.TxValidity <= 0 || cfg.TxValidity > tx.MaxValidity {
		cfg.TxValidity = DefaultTxValidity
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = DefaultConfirmTimeout
	}
	if cfg.ConfirmPoll <= 0 {
		cfg.ConfirmPoll = DefaultConfirmPoll
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = DefaultReconcile
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = st.Params().StatusTimeout / 3
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = DefaultMaxResults
	}
	if cfg.KeepEpochs == 0 {
		cfg.KeepEpochs = DefaultKeepEpochs
	}
	n := &Node{cfg: cfg, state: st, clock: cfg.Ledger.Clock, prov: cfg.Provisioner,
		pending: map[tx.ID]*pendingTx{}, results: map[tx.ID]TxStatus{}, reports: map[tx.ID]report{},
		evidence: map[[2]uint64]bool{}, approved: map[tx.Key]bool{}, store: cfg.Ledger.Store}
	copy(n.self[:], cfg.Key.Public().(ed25519.PublicKey))
	lc := cfg.Ledger
	lc.Graph.Committee = st.Committee()
	lc.Graph.StartTime = st.EpochStart()
	lc.Graph.Window = window
	lc.CommitBase = st.Commits()
	n.snapCommit = st.Commits()
	n.userHooks = lc.Hooks
	lc.Hooks.Commit = n.onCommit
	lc.Signers = n.signers
	lc.PeerWeight = n.peerWeight
	lc.Hooks.Evidence = n.onEvidence
	l, err := NewLedger(lc)
	if err != nil {
		return nil, err
	}
	n.ledger = l
	return n, nil
}

// RestoreSnapshot decodes a snapshot and checks that it is of the cluster
// that started at genesis and holds the state at the start of its epoch,
// after its commit count; v checks evidence (nil means ed25519). It also
// returns the replay window the epoch's graph starts with.
func RestoreSnapshot(sn Snapshot, genesis cluster.Genesis, v graph.Verifier) (*cluster.State, graph.TxWindow, error) {
	g, err := cluster.New(genesis, v)
	if err != nil {
		return nil, nil, err
	}
	data, window, err := decodeSnapshotData(sn.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot at commit %d: %w", sn.Commit, err)
	}
	st, err := cluster.Restore(data, v)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("snapshot at commit %d: %w", sn.Commit, err)
	case st.Params() != g.Params():
		return nil, nil, fmt.Errorf("snapshot at commit %d is of a cluster with other parameters than this genesis: "+
			"the store belongs to another cluster", sn.Commit)
	case st.Epoch() != sn.Epoch || st.Commits() != sn.Commit || st.EpochStart() != st.Time():
		return nil, nil, fmt.Errorf("snapshot stored as epoch %d at commit %d holds the state of epoch %d after %d commits, "+
			"not at an epoch start: the store is damaged", sn.Epoch, sn.Commit, st.Epoch(), st.Commits())
	}
	return st, window, nil
}

// FirstCommit is the global index of the first commit the node applies
// after Start: that of the stored snapshot it started from, or 0.
func (n *Node) FirstCommit() uint64 { return n.ledger.FirstCommit() }

// SnapshotCommit is the commit of the newest stored snapshot, or 0.
func (n *Node) SnapshotCommit() uint64 { return n.snapCommit }

// signers returns the peers of the current committee's operators other
// than this node, as the cluster state records them.
//
// Those whose events the graph holds from its last few rounds come first
// and alone: a member that is down, cut off or Byzantine and silent would
// lose what is forwarded to it. If none is heard from, all are named.
func (n *Node) signers() []transport.PeerID {
	g := n.ledger.Graph()
	key := signersKey{epoch: n.ledger.Epoch(), round: g.Round(), commits: n.state.Commits()}
	if n.signersAt == key && n.signersList != nil {
		return n.signersList
	}
	var all, heard []transport.PeerID
	com := n.state.Committee()
	for _, op := range n.state.Operators() {
		if op.Status != cluster.OperatorActive || op.Key == n.self || op.PeerID == "" {
			continue
		}
		peer := transport.PeerID(op.PeerID)
		all = append(all, peer)
		if id, ok := com.MemberByKey(graph.PublicKey(op.Key)); ok {
			if e, ok := g.LatestOf(id); ok && e.Round+heardRounds >= g.Round() {
				heard = append(heard, peer)
			}
		}
	}
	if len(heard) == 0 {
		heard = all
	}
	n.signersAt, n.signersList = key, heard
	return heard
}

// signersKey is what the forwarding targets depend on: the committee (the
// commits applied) and what the graph has heard.
type signersKey struct{ epoch, round, commits uint64 }

// heardRounds is how many rounds below the graph's top a member's latest
// event may lie for forwarding to count it as heard from.
const heardRounds = 4

// peerWeight is the committee weight of the active operator whose node is
// peer, 0 if none is.
func (n *Node) peerWeight(peer transport.PeerID) uint64 {
	for _, op := range n.state.Operators() {
		if op.Status == cluster.OperatorActive && op.PeerID == string(peer) {
			if id, ok := n.state.Committee().MemberByKey(graph.PublicKey(op.Key)); ok {
				return n.state.Committee().Weight(id)
			}
		}
	}
	return 0
}

// Start starts the ledger (replaying a stored history through the
// controller) and the controller's timer.
func (n *Node) Start() {
	n.ledger.Start()
	n.timer = n.clock.AfterFunc(n.cfg.ReconcileEvery, n.tick)
}

// Stop stops the node.
func (n *Node) Stop() {
	n.stopped = true
	n.ledger.Stop()
	if n.timer != nil {
		n.timer.Stop()
	}
}

// Receive handles a message from a peer.
func (n *Node) Receive(from transport.PeerID, msg []byte) { n.ledger.Receive(from, msg) }

// Ledger returns the node's ledger.
func (n *Node) Ledger() *Ledger { return n.ledger }

// State returns the cluster state for reads; callers must not keep it
// across calls into the node.
func (n *Node) State() *cluster.State { return n.state }

// Key returns the node's identity key.
func (n *Node) Key() tx.Key { return n.self }

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
	t, err := tx.Decode(data)
	if err != nil {
		return tx.ID{}, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	id := t.ID()
	// Cheap checks first: a transaction already committed is refused
	// before its signature costs anything.
	if n.state.Committed(id) {
		return id, fmt.Errorf("%w: duplicate: this transaction already committed", ErrRejected)
	}
	// The signature is checked before a pending copy answers for it: the
	// id does not cover the signature, and a copy with a bad one must be
	// refused, not reported admitted.
	if err := t.VerifySignature(); err != nil {
		return id, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if _, dup := n.pending[id]; dup {
		return id, nil
	}
	if why := n.state.CheckWindow(t); why != "" {
		return id, fmt.Errorf("%w: %s", ErrRejected, why)
	}
	if why, final := n.state.Check(t); why != "" && final {
		return id, fmt.Errorf("%w: %s", ErrRejected, why)
	}
	if len(n.pending) >= MaxPendingTxs {
		return id, ErrBusy
	}
	p := &pendingTx{data: data, t: t, submitted: n.clock.Now(), since: n.clock.Now()}
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
	if err := n.ledger.Submit(p.data); err != nil && !errors.Is(err, ErrQueueFull) {
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

// onCommit is the ledger's Commit hook: the controller applies the commit.
func (n *Node) onCommit(c graph.Commit) {
	if h := n.userHooks.Commit; h != nil {
		h(c)
	}
	txs := make([][]byte, len(c.Txs))
	for i := range c.Txs {
		txs[i] = c.Txs[i].Data
	}
	res := n.state.Apply(cluster.Commit{Index: c.Index, Time: c.Time, Txs: txs})
	for _, o := range res.Outcomes {
		ctx := c.Txs[o.Index]
		st := TxStatus{State: TxCommitted, Commit: c.Index, Event: c.Events[ctx.Event].Hash(), Position: ctx.Index, Outcome: o.Outcome}
		if !o.OK {
			st.Reason = o.Reason
		}
		if _, mine := n.pending[o.ID]; mine {
			n.finish(o.ID, st)
		} else if o.ID != (tx.ID{}) {
			n.remember(o.ID, st)
		}
	}
	if res.Epoch != nil {
		w := n.ledger.EndEpoch(Epoch{Committee: res.Epoch.Committee, Time: res.Epoch.Time})
		n.checkpoint(res.Epoch.Epoch, c.Index+1, w)
	}
	if h := n.cfg.Hooks.Applied; h != nil {
		h(c, res, n.state.Hash())
	}
}

// checkpoint stores the state at the start of epoch, whose first commit
// is commit, and then prunes the events of the epochs the store no longer
// needs keep. A replay of commits before the newest stored snapshot stores
// nothing. A write that fails stops the node.
func (n *Node) checkpoint(epoch, commit uint64, w graph.TxWindow) {
	if commit <= n.snapCommit {
		return
	}
	data := encodeSnapshotData(n.state.Snapshot(), w)
	if err := n.store.PutSnapshot(Snapshot{Epoch: epoch, Commit: commit, Data: data}); err != nil {
		n.ledger.fail(fmt.Errorf("store the snapshot of epoch %d: %w", epoch, err))
		return
	}
	n.snapCommit = commit
	if keep := uint64(n.cfg.KeepEpochs); n.cfg.KeepEpochs > 0 && epoch > keep {
		if err := n.store.Prune(epoch - keep); err != nil {
			n.ledger.fail(fmt.Errorf("prune the events below epoch %d: %w", epoch-keep, err))
		}
	}
}

func (n *Node) onEvidence(ev graph.Evidence) {
	if h := n.userHooks.Evidence; h != nil {
		h(ev)
	}
	key := [2]uint64{ev.First.Epoch, uint64(ev.Creator())}
	if n.evidence[key] || !n.state.IsMember(n.self) {
		return
	}
	n.evidence[key] = true
	n.own(&tx.Tx{Kind: tx.KindEvidence, Evidence: ev.Encode()})
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

// tick runs the controller's periodic duties: resubmitting what did not
// commit, votes, and reconciling the host with the cluster state.
func (n *Node) tick() {
	if n.stopped || n.ledger.faulted {
		return
	}
	n.expirePending()
	now := n.clock.Now()
	for _, id := range n.pendOrder {
		if p, ok := n.pending[id]; ok && !p.confirm && now-p.submitted >= int64(n.cfg.ResubmitAfter) {
			n.stats.Resubmits++
			n.enqueue(id, p)
		}
	}
	if n.cfg.AutoApprove && n.state.IsMember(n.self) {
		for _, op := range n.state.Operators() {
			if op.Status == cluster.OperatorPending && !n.approved[op.Key] && !slices.Contains(op.Approvals, n.self) {
				n.approved[op.Key] = true
				n.own(&tx.Tx{Kind: tx.KindOperatorApprove, Operator: op.Key})
			}
		}
	}
	n.reconcile()
	n.timer = n.clock.AfterFunc(n.cfg.ReconcileEvery, n.tick)
}

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
// operator, and reports their states: level-triggered, so a missed commit,
// a restart or a crashed guest all converge the same way.
func (n *Node) reconcile() {
	if n.prov == nil {
		return
	}
	want := n.state.PlacedOn(n.self)
	doms, err := n.prov.List()
	if err != nil {
		for _, v := range want {
			n.report(v, tx.VMFailed, fmt.Sprintf("host unavailable: %v", err))
		}
		return
	}
	have := make(map[string]provision.Domain, len(doms))
	for _, d := range doms {
		have[d.ID] = d
	}
	for _, v := range want {
		id := v.ID.String()
		d, ok := have[id]
		delete(have, id)
		if !ok {
			err := n.prov.Define(SpecOf(v))
			if err == nil {
				err = n.prov.Start(id)
			}
			switch {
			case errors.Is(err, provision.ErrBusy):
				// The host's queue is full: a transient refusal, tried
				// again next tick, not a failure of the VM.
			case err != nil:
				_ = n.prov.Destroy(id)
				n.report(v, tx.VMFailed, err.Error())
			}
			continue
		}
		switch d.State {
		case provision.StateRunning:
			n.report(v, tx.VMRunning, "")
		case provision.StateBooting:
			n.report(v, tx.VMProvisioning, "")
		case provision.StateDefined:
			if err := n.prov.Start(id); err != nil && !errors.Is(err, provision.ErrBusy) {
				n.report(v, tx.VMFailed, err.Error())
			}
		case provision.StateCrashed, provision.StateFailed:
			reason := d.Reason
			if reason == "" {
				reason = "guest " + d.State.String()
			}
			_ = n.prov.Destroy(id)
			n.report(v, tx.VMFailed, reason)
		}
	}
	for _, d := range doms {
		if _, stray := have[d.ID]; stray {
			_ = n.prov.Destroy(d.ID)
		}
	}
}

// report sends a vm-status when the state changed or the last report is
// getting old.
func (n *Node) report(v cluster.VM, st tx.VMState, reason string) {
	now := n.clock.Now()
	last, ok := n.reports[v.ID]
	if ok && last.state == st && last.host == v.Host && now-last.at < int64(n.cfg.ReportEvery) {
		return
	}
	if st == tx.VMProvisioning && v.State == cluster.VMProvisioning && now-v.Updated < int64(n.cfg.ReportEvery) && !ok {
		return
	}
	n.reports[v.ID] = report{state: st, at: now, host: v.Host}
	n.own(&tx.Tx{Kind: tx.KindVMStatus, VM: v.ID, State: st, Reason: reason})
	if len(n.reports) > 4*MaxPendingTxs {
		clear(n.reports) // only a hint against repeating reports
	}
}

// SpecOf is the provisioner's view of a VM.
func SpecOf(v cluster.VM) provision.Spec {
	return provision.Spec{ID: v.ID.String(), VCPU: v.Spec.VCPU, MemoryMiB: v.Spec.MemoryMiB, DiskGiB: v.Spec.DiskGiB,
		Image: v.Spec.Image, SSHKey: v.Spec.SSHKey}
}
