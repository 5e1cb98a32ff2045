package node

import (
	"crypto/ed25519"
	"errors"
	"fmt"
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
	DefaultConfirmTimeout = time.Minute
	DefaultConfirmPoll    = time.Second
	DefaultReconcile      = time.Second
	DefaultMaxResults     = 1 << 16
	DefaultKeepEpochs     = 120
	// MaxPendingTxs bounds the transactions a node admitted and tracks
	// until they commit.
	MaxPendingTxs = 1 << 16
	// MaxQueuedTxs bounds the admitted transactions waiting in the
	// ledger's queue for this node's next event. A longer queue means the
	// node proposes slower than its clients submit: admitting more would
	// only make its next events larger, and every node's work on each of
	// them longer, so a client is told to come back later (ErrBusy).
	// It is many rounds' worth at the throughput the design targets.
	MaxQueuedTxs = 1 << 13
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
	// TxChecker checks the cluster transactions of inserted events ahead
	// of their commit; nil checks them when they are applied.
	TxChecker TxChecker
	// Background runs a checkpoint's slow part (encoding the snapshot,
	// storing it, pruning) off the node's goroutine; nil (the simulator's
	// setting) runs it in place.
	Background Background
	// AutoApprove makes this operator vote to admit every operator that
	// asks to join.
	AutoApprove bool
	// ResubmitAfter: an admitted transaction not committed after this long
	// is queued again (its id commits once, so this is safe).
	ResubmitAfter time.Duration
	// TxValidity is the expiry of the node's own transactions, at most
	// tx.MaxValidity; 0 means tx.DefaultValidity.
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

	checks     *txChecks
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
	// storing is the checkpoint being stored (by Background), nil if
	// none; queued the newest one taken since, which follows it.
	storing, queued *checkpoint
	store           Store
	stats           NodeStats
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
	// SnapshotBytes is the size of the newest snapshot this node stored
	// or started from, 0 before there is one: a gauge, which a long run
	// watches to see the state stay bounded.
	SnapshotBytes uint64
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
		cfg.TxValidity = tx.DefaultValidity
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
	n := &Node{cfg: cfg, state: st, clock: cfg.Ledger.Clock, prov: cfg.Provisioner, checks: newTxChecks(),
		pending: map[tx.ID]*pendingTx{}, results: map[tx.ID]TxStatus{}, reports: map[tx.ID]report{},
		evidence: map[[2]uint64]bool{}, approved: map[tx.Key]bool{}, store: cfg.Ledger.Store}
	copy(n.self[:], cfg.Key.Public().(ed25519.PublicKey))
	lc := cfg.Ledger
	lc.Graph.Committee = st.Committee()
	lc.Graph.StartTime = st.EpochStart()
	lc.Graph.Window = window
	lc.CommitBase = st.Commits()
	n.snapCommit = st.Commits()
	if fromSnapshot {
		n.stats.SnapshotBytes = uint64(len(sn.Data))
	}
	n.userHooks = lc.Hooks
	lc.Hooks.Commit = n.onCommit
	lc.Signers = n.signers
	lc.PeerWeight = n.peerWeight
	lc.Hooks.Evidence = n.onEvidence
	if cfg.TxChecker != nil {
		lc.Hooks.Inserted = func(e *graph.Event) {
			n.precheck(e)
			if h := n.userHooks.Inserted; h != nil {
				h(e)
			}
		}
	}
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
