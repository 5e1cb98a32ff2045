package node

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"dagger/graph"
	"dagger/transport"
)

// Defaults and bounds of the ledger.
const (
	DefaultLeaderTimeout = time.Second
	DefaultFetchRetry    = 200 * time.Millisecond
	DefaultForwardRetry  = 3 * time.Second
	DefaultMaxQueue      = 1 << 20
	DefaultMaxQueueBytes = 256 << 20
	// syncGap is how many rounds ahead of this node an event must be for
	// the node to sync rather than fetch parents one round at a time; and
	// how far below its top round a missing parent must lie.
	syncGap = 3
	// fetchAttempts is how many retry ticks the same parent may stay
	// missing before the node syncs from its round instead: peers may have
	// collected it from their graphs, but their stores keep it.
	fetchAttempts = 3
	// rejoinClockSlack bounds how far honest clocks, and so consensus
	// time, run ahead of a node's own: an epoch whose consensus start time
	// is more than this after a node restarted without its store began
	// after the restart (a node signs in an epoch only after applying the
	// commit that starts it, whose time is a median of creation times).
	rejoinClockSlack = 5 * time.Second
	// maxSyncAsked bounds the peers one sync remembers asking.
	maxSyncAsked = 16
	// maxLaterPeers bounds the peers remembered for having sent an event
	// of a later epoch.
	maxLaterPeers = 1024
	// maxSyncPatience bounds the leader timeouts a sync waits for an
	// answer before it moves to another peer.
	maxSyncPatience = 8
	// maxProposalsPerStep bounds the events one step makes: a node that
	// catches up makes one per round it may advance to.
	maxProposalsPerStep = 64
	// maxAheadEvents and maxAheadBytes bound the events of the next epoch
	// a node keeps while it has not committed the end of its own (see
	// Ledger.ahead); beyond them it syncs at once.
	maxAheadEvents = 1024
	maxAheadBytes  = 4 * SyncBatchBytes
)

// Errors of Submit.
var (
	ErrQueueFull = errors.New("transaction queue full")
	ErrTxSize    = errors.New("transaction size out of bounds")
	ErrStopped   = errors.New("node stopped")
)

// LedgerConfig configures a ledger.
type LedgerConfig struct {
	// Graph is the graph's configuration. Its LastSigned is taken from the
	// store, never from here.
	Graph     graph.Config
	Transport transport.Transport
	Clock     Clock
	// Store persists events; nil means a fresh MemStore. A store holding
	// events makes Start a restart: it re-inserts them and carries on.
	Store Store
	// LeaderTimeout is how long the node waits for a round's leader once
	// the round has a quorum; 0 means DefaultLeaderTimeout.
	LeaderTimeout time.Duration
	// FetchRetry is the period of retries for missing parents and stalled
	// syncs; 0 means DefaultFetchRetry.
	FetchRetry time.Duration
	// ForwardRetry is how long a node that does not sign waits for a
	// transaction it forwarded to commit before it hands it to another
	// member: the first may have crashed, lost it or be Byzantine. 0
	// means DefaultForwardRetry.
	ForwardRetry time.Duration
	// MinRoundInterval is the least time between two of this node's
	// events while it is not behind and its queue holds less than a full
	// event: an idle live cluster then makes a few rounds a second rather
	// than as many as the network allows, and writes and fsyncs as
	// rarely. 0 (the simulator's setting) proposes as soon as the graph
	// allows.
	MinRoundInterval time.Duration
	// MaxQueue and MaxQueueBytes bound the transactions waiting for an
	// event; 0 means the defaults.
	MaxQueue      int
	MaxQueueBytes int
	// MaxEventTxBytes bounds the transaction bytes of one of this node's
	// events, below the graph's MaxEventBytes; 0 leaves only that. A node
	// whose rounds slow down, for a moment of a loaded machine, finds more
	// transactions queued for its next event; without a bound that event
	// is larger, takes longer to hash, send, check and store at every
	// node, and slows the next round further, until rounds of tens of
	// megabytes take seconds and the cluster commits a fraction of what it
	// did. Bounded, a slow round leaves the rest queued for the next ones,
	// which come as fast as before. See proposalBudget.
	MaxEventTxBytes int
	// CommitBase is the global index of the first commit of the graph's
	// epoch: non-zero when the node starts from a snapshot of the state
	// at the start of a later epoch.
	CommitBase uint64
	// Rejoin says this node may have signed events it no longer stores
	// (its state was lost): it catches up by a full sync and learns how far
	// it may have signed from peers holding a quorum before it signs again
	// (askOwn).
	Rejoin bool
	// SignAtOnce skips asking peers how far this node signed before it
	// signs (askOwn). Only the simulator's twins set it: they are the
	// attack of a key signing twice, not an honest node.
	SignAtOnce bool
	// Decode decodes events; nil means graph.Decode. A runtime that runs
	// many nodes in one process (the simulator) may hand every receiver of
	// one message the same decoded event, which the graph allows: events
	// are immutable and what it caches in them is the same for every node.
	// Whatever it returns must equal what graph.Decode returns.
	Decode func(enc []byte, lim graph.Limits) (*graph.Event, error)
	// Signers, if set, names the peers that sign in the current epoch: a
	// node that does not sign forwards client transactions to them rather
	// than to any peer.
	Signers func() []transport.PeerID
	// PeerWeight, if set, is a peer's weight in the current committee (0
	// for a peer that is not in it): a rejoining node counts the answers
	// about its own latest event by weight. Nil counts each peer as 1.
	PeerWeight func(transport.PeerID) uint64
	Hooks      Hooks
}

// Epoch is a committee that takes over the graph after a commit.
type Epoch struct {
	Committee *graph.Committee
	// Time is the consensus time the epoch starts at: the last commit's.
	Time int64
	// Window is the replay window the epoch starts with (graph.TxWindow):
	// what the ending epoch delivered recently is not delivered again.
	// EndEpoch fills it in.
	Window graph.TxWindow
}

// Hooks report what the ledger did; nil hooks are skipped. They run on the
// node's goroutine and must not call back into the ledger.
type Hooks struct {
	// Commit receives every commit in order, numbered across epochs. After
	// a restart the sequence is delivered again from its first commit. It
	// may call EndEpoch.
	Commit func(graph.Commit)
	// Evidence receives proofs of equivocation.
	Evidence func(graph.Evidence)
	// Inserted receives every event the graph inserted, own ones included.
	Inserted func(*graph.Event)
	// Invalid receives what a peer sent that was rejected.
	Invalid func(from transport.PeerID, err error)
	// Fault receives the error that stopped the node: a safety fault of the
	// graph or a store failure.
	Fault func(error)
	// Learn receives what a starting member learned from its peers about
	// how far it signed (see askOwn): once when they show that its store is
	// older than what its key signed, and once when it may sign again.
	Learn func(LearnReport)
}

// LearnReport is what a starting member learned from its peers about how
// far it signed in epoch Epoch (see askOwn).
type LearnReport struct {
	Epoch uint64
	// Behind says that peers hold an event this node signed, of round
	// Round, newer than what its store says it signed last (Stored, if
	// HasStored): the store was lost or restored from an older copy.
	Behind    bool
	Round     uint64
	Stored    Signed
	HasStored bool
	// Done says that the node may sign again, from round Floor on, having
	// heard from peers of weight Weight.
	Done          bool
	Floor, Weight uint64
}

// Ledger is the layer between the graph and the network: it gossips the
// node's events, fetches missing parents from the peer that sent the
// child, syncs when it fell behind, runs the leader timer, and queues
// client transactions for the node's next event. Every method must be
// called from the node's goroutine.
type Ledger struct {
	cfg   LedgerConfig
	g     *graph.Graph
	tr    transport.Transport
	clock Clock
	store Store
	lim   graph.Limits

	// queue holds the transactions waiting for this node's next event
	// from qhead on, and qhash their hashes (graph.TxHash), taken once.
	queue  [][]byte
	qhash  []graph.Hash
	qhead  int
	qbytes int

	leaderTimer Timer
	leaderRound uint64
	retryTimer  Timer
	// paceTimer wakes the node when MinRoundInterval has passed since
	// lastProposal.
	paceTimer    Timer
	lastProposal int64

	// mayPropose is false while a starting node has not yet caught up
	// and learned its own latest event (learning).
	mayPropose bool
	// learning is set from the start until the node learned from its
	// peers how far it may have signed in its epoch, and so may not sign:
	// see askOwn. Its store says how far it signed, unless the store was
	// lost (Rejoin) or restored from a copy older than what the key signed,
	// which no node can tell from its store alone. learnEpoch is the epoch
	// asked about, learnAsked when; answers holds each peer's answer, kept
	// until the events it carried are in the graph.
	learning  bool
	startedAt int64 // when the node started (clock)
	// restored is set once peers showed that the store is older than what
	// the key signed; the node then learns as one that lost its store.
	restored   bool
	learnEpoch uint64
	learnAsked int64
	answers    map[transport.PeerID]*ownAnswer
	syncing    bool
	syncPeer   transport.PeerID
	syncNext   Position
	// syncAsked are the peers this sync asked so far: an answer from any
	// of them counts, since a slow one may answer after the node moved on
	// to the next. syncIdle counts retry ticks without an answer;
	// syncPatience is how many leader timeouts without one move the sync
	// to the next peer. It doubles (up to maxSyncPatience) each time an
	// answer comes from a peer the sync had moved away from: answers of
	// events of many megabytes over a slow link take longer than a leader
	// timeout, and asking yet another peer for them would only add a
	// second stream of the same events. A silent peer (down, or cut off)
	// sends nothing late, and costs one leader timeout.
	syncAsked    []transport.PeerID
	syncIdle     int
	syncPatience int
	// syncHold: the node does not sign until the sync ends, being behind
	// (restarted, rejoining, far behind or in an ended epoch); a sync that
	// only fills a hole below its rounds does not hold it.
	syncHold bool

	// ahead holds events of the next epoch that arrived before this node
	// committed the end of its own, with their senders; aheadBytes is
	// their encoded size, aheadSince when the first came. Around an epoch
	// change peers are a commit apart, so the events of the next epoch
	// usually reach a node just before it commits the last leader of its
	// own: it keeps them, bounded, and inserts them once it switches,
	// instead of dropping them and syncing from a peer's store. If it has
	// not switched a retry tick later, it syncs (onRetry), and from then on
	// answers each further one with a sync, as it would without keeping
	// them (aheadWaited).
	ahead       []aheadEvent
	aheadBytes  int
	aheadSince  int64
	aheadWaited bool
	// later are the peers that sent an event of a later epoch or announced
	// one (have) since this node's epoch began. It stops signing for a
	// sync into a later epoch only once they hold more than a third of the
	// weight (see syncToNextEpoch).
	later []transport.PeerID
	// laterTried are the peers on whose word alone this node synced into a
	// later epoch since its epoch began (see syncToNextEpoch).
	laterTried []transport.PeerID
	// syncLow is the lowest round a sync of this epoch started at, and
	// synced whether one did (see syncFrom).
	syncLow uint64
	synced  bool

	lastRound uint64 // NextRound at the last retry tick, to notice a stall
	// roundMovedAt is the retry tick at which NextRound last changed.
	roundMovedAt int64
	stalledFor   time.Duration
	// stallAsked: this stall already asked a peer for the round's events
	// (KindRound).
	stallAsked bool
	// heard counts the events of the current epoch new to the graph;
	// heardAtTick is its value at the last retry tick. A node that keeps
	// receiving new events is not cut off: under load, events of hundreds
	// of kilobytes take longer than a tick or two to arrive, and a sync
	// would fetch them again from a store while they are on their way.
	heard, heardAtTick uint64
	// hole is the lowest missing parent at the last retry tick, and
	// holeTicks how many ticks in a row it was.
	hole      graph.EventRef
	holeTicks int
	replaying bool
	// Cursors over the peers, one per purpose (see nextPeer).
	syncCursor, fetchCursor, fwdCursor int
	faulted                            bool
	stopped                            bool
	unprocessed                        []*graph.Event // proposed in this step, sent once persisted

	epoch      uint64
	commitBase uint64 // commits of earlier epochs
	nextEpoch  *Epoch
	// applying is the graph's index of the commit the Commit hook is
	// handling.
	applying   uint64
	pastGraphs graph.Stats // the counters of earlier epochs' graphs
	signed     Signed      // the stored last signed event
	hasSigned  bool
	// forwarded are the client transactions this node handed to a member
	// and has not seen committed, by hash, with when they were handed on;
	// fwdOrder holds their hashes oldest first (some already gone).
	forwarded map[graph.Hash]forwardedTx
	fwdOrder  []graph.Hash
	// own are this node's events with transactions that no commit has
	// delivered yet, oldest first. One that falls below the horizon, or
	// is left in an ended epoch, will never commit: its transactions go
	// back to the queue, so a client's transaction is not lost because
	// the event carrying it was.
	own []*graph.Event
	// flow sizes events by how long messages wait to leave (flow.go).
	flow flow

	stats LedgerStats
}

// ownAnswer is a peer's answer about a rejoining node's latest event: the
// events it carried (the node's latest the peer holds, and the peer's own
// latest), complete once the graph holds them all.
type ownAnswer struct {
	weight uint64
	events []graph.EventRef
}

type aheadEvent struct {
	from transport.PeerID
	e    *graph.Event
}

type forwardedTx struct {
	data []byte
	at   int64
	peer transport.PeerID // the member it was last handed to
}

// LedgerStats counts a ledger's activity.
type LedgerStats struct {
	EventsCreated  uint64
	EventsReceived uint64
	Invalid        uint64
	FetchesSent    uint64
	FetchRetries   uint64 // fetches of parents still missing at a retry tick
	SyncsSent      uint64
	// SyncsToNextEpoch counts the syncs started because events of the
	// next epoch came while this node had not committed the end of its
	// own (see Ledger.ahead).
	SyncsToNextEpoch uint64
	// Announcements counts KindHave messages broadcast while stalled.
	Announcements uint64
	// RoundAsks counts KindRound requests sent while stalled.
	RoundAsks uint64
	// UnvouchedHoles counts the retry ticks at which parents were missing
	// but none that enough weight vouched for to sync for (see onRetry).
	UnvouchedHoles  uint64
	TxsSubmitted    uint64
	TxsRefused      uint64
	CommittedEvents uint64
	Epochs          uint64 // epochs this ledger moved to
	TxsForwarded    uint64
	TxsReforwarded  uint64 // forwarded again after ForwardRetry without a commit
	TxsRequeued     uint64 // from own events that can no longer commit
	// FlowCuts counts the cuts of the event budget, FlowLimited the events
	// that left queued transactions out for it (flow control, see flow.go).
	FlowCuts, FlowLimited uint64
	// EventsFull counts the events that left queued transactions out for
	// MaxEventTxBytes.
	EventsFull uint64
	// Graph sums the counters of every graph the ledger ran.
	Graph graph.Stats
}

// NewLedger checks cfg and builds a ledger; Start runs it.
func NewLedger(cfg LedgerConfig) (*Ledger, error) {
	if cfg.Transport == nil || cfg.Clock == nil {
		return nil, errors.New("ledger needs a transport and a clock")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.LeaderTimeout <= 0 {
		cfg.LeaderTimeout = DefaultLeaderTimeout
	}
	if cfg.FetchRetry <= 0 {
		cfg.FetchRetry = DefaultFetchRetry
	}
	if cfg.ForwardRetry <= 0 {
		cfg.ForwardRetry = DefaultForwardRetry
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if cfg.Decode == nil {
		cfg.Decode = graph.Decode
	}
	if cfg.Graph.Committee == nil {
		return nil, errors.New("ledger needs a committee")
	}
	l := &Ledger{cfg: cfg, tr: cfg.Transport, clock: cfg.Clock, store: cfg.Store, learning: !cfg.SignAtOnce, mayPropose: cfg.SignAtOnce,
		startedAt: cfg.Clock.Now(),
		forwarded: make(map[graph.Hash]forwardedTx)}
	last, ok, err := cfg.Store.LastSigned()
	if err != nil {
		return nil, fmt.Errorf("read last signed event: %w", err)
	}
	l.signed, l.hasSigned = last, ok
	g, err := l.newGraph(cfg.Graph.Committee, cfg.Graph.StartTime, cfg.Graph.Window)
	if err != nil {
		return nil, err
	}
	l.g, l.lim, l.epoch, l.commitBase = g, g.Limits(), cfg.Graph.Committee.Epoch(), cfg.CommitBase
	return l, nil
}

// newGraph builds the graph of an epoch: this node signs if its key is in
// the committee and observes otherwise.
func (l *Ledger) newGraph(c *graph.Committee, start int64, w graph.TxWindow) (*graph.Graph, error) {
	gc := l.cfg.Graph
	gc.Committee, gc.StartTime, gc.LastSigned, gc.Window = c, start, nil, w
	gc.FramePrefix = eventFrame
	if gc.Signer != nil {
		if _, member := c.MemberByKey(gc.Signer.PublicKey()); !member {
			gc.Signer = nil
		}
	}
	if l.hasSigned && l.signed.Epoch == c.Epoch() && gc.Signer != nil {
		ref := l.signed.Ref
		gc.LastSigned = &ref
	}
	return graph.New(gc)
}

// EndEpoch ends the current epoch after the commit being delivered: the
// committee e runs the graph from the next commit on, and what the old
// graph commits later is dropped. Only the Commit hook calls it. It
// returns the replay window the new epoch starts with, which a snapshot of
// the state at the epoch start must carry.
func (l *Ledger) EndEpoch(e Epoch) graph.TxWindow {
	w, err := l.g.WindowAt(l.applying)
	if err != nil {
		panic(fmt.Sprintf("ledger: %v", err)) // the hook runs on a commit of the last batch
	}
	e.Window = w
	l.nextEpoch = &e
	return w
}

// Epoch returns the current epoch.
func (l *Ledger) Epoch() uint64 { return l.epoch }

// Member says whether this node signs in the current epoch.
func (l *Ledger) Member() bool { return l.g.Waiting() != graph.WaitObserver }

// Learning says whether this member waits to learn from its peers how far
// it signed before it signs (see askOwn).
func (l *Ledger) Learning() bool { return l.learning && l.Member() }

// signing says whether this node may sign now: a member that lost its
// store signs only once it learned how far it had signed (askOwn), and
// until then hands its clients' transactions on as a non-member does.
func (l *Ledger) signing() bool { return l.Member() && !l.learning }

// switchEpoch starts the next epoch's graph; base is the global index of
// its first commit.
func (l *Ledger) switchEpoch(base uint64) {
	e := *l.nextEpoch
	l.nextEpoch = nil
	if e.Committee.Epoch() <= l.epoch {
		l.fail(fmt.Errorf("epoch %d cannot follow epoch %d", e.Committee.Epoch(), l.epoch))
		return
	}
	// The ended graph gives its replay-window table back before the next
	// graph takes one of about the same size: a table released after, or
	// at the last epoch's end, is one the collector has emptied the pool
	// of by now, and a fresh one is memory touched for the first time.
	l.pastGraphs.Add(l.g.Stats())
	l.g.Release()
	g, err := l.newGraph(e.Committee, e.Time, e.Window)
	if err != nil {
		l.fail(fmt.Errorf("start epoch %d: %w", e.Committee.Epoch(), err))
		return
	}
	l.g, l.epoch, l.commitBase = g, e.Committee.Epoch(), base
	if l.leaderTimer != nil {
		l.leaderTimer.Stop()
		l.leaderTimer = nil
	}
	l.lastRound, l.stalledFor, l.later, l.laterTried = 0, 0, l.later[:0], l.laterTried[:0]
	l.synced = false
	l.stats.Epochs++
	switch {
	case !l.learning:
	case e.Time > l.startedAt+int64(rejoinClockSlack):
		// The epoch began after this node started: it cannot have signed
		// in it before, and starts it like any member.
		l.learning, l.answers, l.mayPropose = false, nil, true
	case !l.syncing && !l.replaying:
		l.askOwn()
	}
	if !l.signing() {
		l.forwardQueue()
	}
}

// FirstCommit is the global index of the first commit the ledger
// delivers after Start: that of its starting epoch's first commit.
func (l *Ledger) FirstCommit() uint64 { return l.cfg.CommitBase }

// Graph returns the ledger's graph for reads.
func (l *Ledger) Graph() *graph.Graph { return l.g }

// Stats returns the ledger's counters.
func (l *Ledger) Stats() LedgerStats {
	st := l.stats
	st.Graph = l.pastGraphs
	st.Graph.Add(l.g.Stats())
	return st
}

// QueueLen returns the number of transactions waiting for an event.
func (l *Ledger) QueueLen() int { return len(l.queue) - l.qhead }

// Start re-inserts the stored events of its epoch and the later ones (a
// restart), starts the timers and asks its peers how far it signed
// (askOwn) before it makes an event. A restarted or rejoining node first
// catches up with its peers by a sync, and asks then.
func (l *Ledger) Start() {
	restarted := l.cfg.CommitBase > 0 // from a snapshot, maybe with no events after it
	l.replaying = true
	err := l.store.Scan(Position{Epoch: l.epoch}, func(pos Position, enc []byte) bool {
		restarted = true
		if pos.Epoch > l.epoch {
			l.drain("") // the commits so far may end the epoch
		}
		if l.faulted {
			return false
		}
		if pos.Epoch != l.epoch {
			return true // an ended epoch's late events, or one not reached
		}
		e, err := l.cfg.Decode(enc, l.lim)
		if err == nil {
			_, err = l.g.Restore(e)
		}
		if err != nil {
			l.fail(fmt.Errorf("stored event does not insert: %w", err))
			return false
		}
		return true
	})
	if err != nil {
		l.fail(fmt.Errorf("read stored events: %w", err))
	}
	l.step("")
	l.replaying = false
	if l.faulted {
		return
	}
	if restarted || l.cfg.Rejoin {
		from := Position{}
		if restarted {
			from = l.syncFrom()
		}
		l.startSync(l.nextPeer(&l.syncCursor), from, true)
	}
	if l.learning && !l.syncing {
		l.askOwn() // a sync asks once it is done
	}
	l.retryTimer = l.clock.AfterFunc(l.cfg.FetchRetry, l.onRetry)
}

// Stop cancels the ledger's timers; it takes no input afterwards. A
// crashed node is a stopped ledger.
func (l *Ledger) Stop() {
	l.stopped = true
	if l.leaderTimer != nil {
		l.leaderTimer.Stop()
	}
	if l.retryTimer != nil {
		l.retryTimer.Stop()
	}
	if l.paceTimer != nil {
		l.paceTimer.Stop()
	}
}

// Submit queues a client transaction for this node's next event.
func (l *Ledger) Submit(tx []byte) error { return l.submit(tx, graph.Hash{}, false) }

// SubmitHashed is Submit for a transaction whose hash (graph.TxHash) the
// caller has taken, off the node's loop: the node does not hash it again,
// nor does its event.
func (l *Ledger) SubmitHashed(tx []byte, h graph.Hash) error { return l.submit(tx, h, true) }

func (l *Ledger) submit(tx []byte, h graph.Hash, hashed bool) error {
	switch {
	case l.stopped || l.faulted:
		return ErrStopped
	case len(tx) == 0 || len(tx) > l.lim.MaxTxBytes:
		l.stats.TxsRefused++
		return fmt.Errorf("%w: %d bytes, want 1..%d", ErrTxSize, len(tx), l.lim.MaxTxBytes)
	case l.QueueLen() >= l.cfg.MaxQueue || l.qbytes+len(tx) > l.cfg.MaxQueueBytes:
		l.stats.TxsRefused++
		return ErrQueueFull
	}
	l.stats.TxsSubmitted++
	if !hashed {
		h = graph.TxHash(tx)
	}
	if !l.signing() {
		l.handOn([][]byte{tx}, []graph.Hash{h})
		return nil
	}
	l.queue = append(l.queue, tx)
	l.qhash = append(l.qhash, h)
	l.qbytes += len(tx)
	return nil
}

// forward hands transactions to a peer, as a node that does not sign in
// this epoch must; a peer that does not sign either drops them, and the
// submitter's retry finds another.
//
// It takes the members in turn, passing over avoid (the member that last
// failed to commit them) if it can, and returns the peer it chose.
func (l *Ledger) forward(txs [][]byte, hops uint8, avoid transport.PeerID) transport.PeerID {
	to := l.tr.Peers()
	if l.cfg.Signers != nil {
		if s := l.cfg.Signers(); len(s) > 0 {
			to = s
		}
	}
	if len(to) == 0 {
		return ""
	}
	l.fwdCursor++
	peer := to[l.fwdCursor%len(to)]
	if peer == avoid && len(to) > 1 {
		l.fwdCursor++
		peer = to[l.fwdCursor%len(to)]
	}
	for len(txs) > 0 {
		n, size := 0, 0
		for n < len(txs) && n < MaxBatchEvents && (n == 0 || size+len(txs[n]) <= SyncBatchBytes) {
			size += len(txs[n])
			n++
		}
		l.send(peer, EncodeTxs(txs[:n], hops))
		l.stats.TxsForwarded += uint64(n)
		txs = txs[n:]
	}
	return peer
}

// handOn forwards this node's own client transactions, of the given
// hashes, and keeps them until a commit delivers them: one a member lost
// is handed on again.
func (l *Ledger) handOn(txs [][]byte, hashes []graph.Hash) {
	now := l.clock.Now()
	peer := l.forward(txs, 0, "")
	for i, tx := range txs {
		h := hashes[i]
		if _, ok := l.forwarded[h]; !ok {
			l.fwdOrder = append(l.fwdOrder, h)
		}
		l.forwarded[h] = forwardedTx{data: tx, at: now, peer: peer}
	}
	for len(l.forwarded) > l.cfg.MaxQueue {
		delete(l.forwarded, l.fwdOrder[0])
		l.fwdOrder = l.fwdOrder[1:]
	}
}

// reforward hands on again the forwarded transactions no commit
// delivered within ForwardRetry; a node that signs again queues them.
func (l *Ledger) reforward() {
	if len(l.forwarded) == 0 {
		clear(l.fwdOrder)
		l.fwdOrder = l.fwdOrder[:0]
		return
	}
	now := l.clock.Now()
	// The ones due go to another member than the one that lost them,
	// grouped by that member in the order they were first handed on.
	var lost []transport.PeerID
	again := map[transport.PeerID][]graph.Hash{}
	keep := l.fwdOrder[:0]
	for _, h := range l.fwdOrder {
		f, ok := l.forwarded[h]
		switch {
		case !ok:
		case l.signing():
			delete(l.forwarded, h)
			l.enqueue(f.data, h)
		case now-f.at >= int64(l.cfg.ForwardRetry):
			if _, seen := again[f.peer]; !seen {
				lost = append(lost, f.peer)
			}
			again[f.peer] = append(again[f.peer], h)
			keep = append(keep, h)
		default:
			keep = append(keep, h)
		}
	}
	clear(l.fwdOrder[len(keep):])
	l.fwdOrder = keep
	for _, from := range lost {
		hs := again[from]
		txs := make([][]byte, len(hs))
		for i, h := range hs {
			txs[i] = l.forwarded[h].data
		}
		peer := l.forward(txs, 0, from)
		for _, h := range hs {
			l.forwarded[h] = forwardedTx{data: l.forwarded[h].data, at: now, peer: peer}
		}
		l.stats.TxsReforwarded += uint64(len(hs))
	}
}

// enqueue queues a transaction of hash h for this node's next event if
// there is room.
func (l *Ledger) enqueue(tx []byte, h graph.Hash) {
	if l.QueueLen() < l.cfg.MaxQueue && l.qbytes+len(tx) <= l.cfg.MaxQueueBytes {
		l.queue = append(l.queue, tx)
		l.qhash = append(l.qhash, h)
		l.qbytes += len(tx)
	}
}

func (l *Ledger) forwardQueue() {
	l.handOn(l.queue[l.qhead:], l.qhash[l.qhead:])
	l.take(l.QueueLen())
}

// Receive handles one message from a peer.
func (l *Ledger) Receive(from transport.PeerID, msg []byte) {
	if l.stopped || l.faulted {
		return
	}
	m, err := DecodeMessage(msg)
	if err != nil {
		l.invalid(from, err)
		return
	}
	switch m.Kind {
	case KindEvent:
		l.receiveEvent(from, m.Event)
	case KindFetch:
		l.serveFetch(from, m.Hashes)
	case KindSync:
		l.serveSync(from, m.From)
	case KindTxs:
		// A node that does not sign either hands them on, a bounded number
		// of times: around an epoch change a peer may be a step behind.
		switch {
		case l.signing():
			for _, tx := range m.Events {
				if l.Submit(tx) != nil {
					break
				}
			}
		case m.Hops < MaxHops:
			l.forward(m.Events, m.Hops+1, "")
		}
	case KindOwn:
		var events [][]byte
		if m.Epoch == l.epoch {
			if e, ok := l.g.LatestOf(m.Creator); ok {
				events = append(events, e.Encode())
			}
			if own, ok := l.g.LastSigned(); ok && own.Creator != m.Creator {
				if e, ok := l.g.Get(own.Hash); ok {
					events = append(events, e.Encode())
				}
			}
		}
		l.send(from, EncodeOwned(l.epoch, m.Epoch, events))
	case KindOwned:
		l.owned(from, m)
	case KindHave:
		l.have(from, m.Have, m.HaveHash)
	case KindRound:
		l.serveRound(from, m.Round, m.Creators)
	case KindBatch:
		for _, enc := range m.Events {
			l.receiveEvent(from, enc)
		}
		if l.syncing && m.Sync && slices.Contains(l.syncAsked, from) {
			l.syncIdle = 0
			if from != l.syncPeer {
				l.syncPatience = min(2*l.syncPatience, maxSyncPatience)
			}
			next := l.syncContinue(m.Next)
			switch {
			case !m.More:
				l.syncing, l.syncAsked = false, l.syncAsked[:0]
				if l.learning {
					l.askOwn()
				} else {
					l.mayPropose = true
				}
			case l.syncNext.Less(next):
				// Beyond where the sync asked last: continue with this
				// peer. An answer from a peer the sync moved away from,
				// no further than the sync got since, ends that peer's
				// part, so a sync never streams the same events from two
				// peers at once.
				l.syncPeer, l.syncNext = from, next
				l.send(from, EncodeSync(l.syncNext))
				l.stats.SyncsSent++
			}
		}
	}
	l.step(from)
}

func (l *Ledger) receiveEvent(from transport.PeerID, enc []byte) {
	e, err := l.cfg.Decode(enc, l.lim)
	if err != nil {
		l.invalid(from, err)
		return
	}
	l.stats.EventsReceived++
	if e.Epoch > l.epoch {
		l.drain(from) // what arrived so far may end the epoch
		if e.Epoch > l.epoch {
			l.noteLater(from)
		}
	}
	if e.Epoch == l.epoch+1 && !l.faulted && len(l.ahead) < maxAheadEvents && l.aheadBytes+len(enc) <= maxAheadBytes {
		if len(l.ahead) == 0 {
			l.aheadSince = l.clock.Now()
		}
		l.ahead = append(l.ahead, aheadEvent{from: from, e: e})
		l.aheadBytes += len(enc)
		if l.aheadWaited {
			l.syncToNextEpoch(from)
		}
		return
	}
	l.insert(from, e)
}

// insert adds an event received from a peer to the graph, or answers an
// event of a later epoch with a sync.
func (l *Ledger) insert(from transport.PeerID, e *graph.Event) {
	switch {
	case l.faulted:
		return
	case e.Epoch < l.epoch:
		return // an ended epoch's: nobody needs it from this node
	case e.Epoch > l.epoch:
		// A later epoch: this node has not committed the end of its own
		// yet. A sync brings the rest of its epoch and what follows, from
		// the lowest undecided leader slot: the events that decide the
		// epoch's last slots may be ones nothing this node holds refers
		// to, and no new event of this epoch ever will.
		l.syncToNextEpoch(from)
		return
	}
	st, err := l.g.Insert(e)
	if err != nil {
		if !errors.Is(err, graph.ErrBelowHorizon) {
			l.invalid(from, fmt.Errorf("event %s: %w", e.Ref(), err))
		}
		return
	}
	if st != graph.Duplicate {
		l.heard++
	}
	// Far behind, by the word of more than a third of the weight (one
	// member's events that far ahead may be a Byzantine member's, signed
	// over parents nobody has, to make this node stop signing for a sync
	// and its peers send it rounds, as often as it likes).
	if st == graph.Buffered && !l.syncing && e.Round > l.g.Round()+syncGap && l.g.AheadVouched(l.g.Round()+syncGap+1) {
		l.startSync(from, l.syncFrom(), true)
	}
}

// noteLater records that peer sent or announced an event of a later epoch.
func (l *Ledger) noteLater(peer transport.PeerID) {
	if !slices.Contains(l.later, peer) && len(l.later) < maxLaterPeers {
		l.later = append(l.later, peer)
	}
}

// laterVouched says whether the peers that sent or announced events of a
// later epoch hold more than a third of the current committee's weight,
// so that at least one honest member moved on (each peer counts 1 without
// Config.PeerWeight).
func (l *Ledger) laterVouched() bool {
	var w uint64
	for _, p := range l.later {
		if l.cfg.PeerWeight == nil {
			w++
		} else {
			w += l.cfg.PeerWeight(p)
		}
	}
	return l.g.Committee().IsValidity(w)
}

// syncToNextEpoch syncs from peer, which sent or announced an event of a
// later epoch, from the lowest undecided leader slot on. On the word of
// peers holding more than a third of the weight (laterVouched) the node is
// behind: it stops signing until the sync ends. On fewer peers' word,
// which may be one Byzantine member's, it syncs without stopping, only
// while its own rounds have not moved for a leader timeout, and once per
// peer and epoch: a member that moved on alone may hold what ends this
// node's epoch (a node that waited for more peers' word stalled when fewer
// than a third had moved on), but a claim repeated as often as its sender
// likes must neither stop this node signing nor have its peers answer
// syncs again and again (once a leader timeout, or at doubling intervals,
// was too much on congested uplinks).
func (l *Ledger) syncToNextEpoch(from transport.PeerID) {
	if l.syncing {
		return
	}
	hold := l.laterVouched()
	if !hold {
		if l.clock.Now()-l.roundMovedAt < int64(l.cfg.LeaderTimeout) || slices.Contains(l.laterTried, from) {
			return
		}
		l.laterTried = append(l.laterTried, from)
	}
	l.stats.SyncsToNextEpoch++
	pos := l.syncFrom()
	pos.Round = min(pos.Round, l.g.NextSlot())
	l.startSync(from, pos, hold)
}

// releaseAhead inserts the kept events of the next epoch once the node is
// in it, and then processes what they made ready.
func (l *Ledger) releaseAhead(from transport.PeerID) {
	if len(l.ahead) == 0 || l.ahead[0].e.Epoch > l.epoch {
		return
	}
	kept := l.ahead
	l.ahead, l.aheadBytes, l.aheadWaited = nil, 0, false
	for _, a := range kept {
		l.insert(a.from, a.e)
	}
	l.drain(from)
}

// askRound asks peer for the events of round r of the current epoch that
// this node lacks (KindRound).
func (l *Ledger) askRound(peer transport.PeerID, r uint64) {
	if peer == "" {
		return
	}
	var held []graph.MemberID
	for _, e := range l.g.EventsAt(r) {
		if len(held) == 0 || held[len(held)-1] != e.Creator {
			held = append(held, e.Creator) // EventsAt groups them by creator
		}
	}
	l.send(peer, EncodeRound(Position{Epoch: l.epoch, Round: r}, held))
	l.stats.RoundAsks++
}

// serveRound answers KindRound with the events of the round this node's
// graph holds, except those of the creators the asker has, as one batch.
func (l *Ledger) serveRound(to transport.PeerID, at Position, held []graph.MemberID) {
	if at.Epoch != l.epoch || at.Round < l.g.Horizon() || at.Round > l.g.Round() {
		return
	}
	var out [][]byte
	size := 0
	for _, e := range l.g.EventsAt(at.Round) {
		if slices.Contains(held, e.Creator) {
			continue
		}
		enc := e.Encode()
		if len(out) > 0 && (len(out) >= MaxBatchEvents || size+len(enc) > SyncBatchBytes) {
			break
		}
		out = append(out, enc)
		size += len(enc)
	}
	if len(out) > 0 {
		l.send(to, EncodeBatch(out))
	}
}

// have takes a peer's announcement of the latest event it signed (see
// KindHave) and fetches the event from it unless this node holds it, is
// past its epoch, or syncs (which brings it). What the fetch brings is
// handled as any event: one of the next epoch is kept (ahead) or starts a
// sync, as the announced event itself would.
//
// A peer in a later epoch that announces an event this node already keeps
// for the next one, or any event once this node waited for the switch in
// vain (aheadWaited), is stalled waiting for this node: it syncs from that
// peer, as it does on each further event of the next epoch. An earlier
// sync may have ended without what decides the epoch's last leaders, say
// from a peer that lacked them.
func (l *Ledger) have(from transport.PeerID, at Position, h graph.Hash) {
	if at.Epoch > l.epoch {
		l.noteLater(from)
	}
	switch {
	case l.syncing, at.Epoch < l.epoch:
		return
	case at.Epoch == l.epoch:
		if at.Round < l.g.Horizon() || l.g.Has(h) {
			return
		}
	case l.aheadWaited || at.Epoch > l.epoch+1 ||
		slices.ContainsFunc(l.ahead, func(a aheadEvent) bool { return a.e.Hash() == h }):
		l.syncToNextEpoch(from)
		return
	}
	l.fetch(from, []graph.EventRef{{Round: at.Round, Hash: h}})
}

func (l *Ledger) invalid(from transport.PeerID, err error) {
	l.stats.Invalid++
	if l.cfg.Hooks.Invalid != nil {
		l.cfg.Hooks.Invalid(from, err)
	}
}

func (l *Ledger) serveFetch(to transport.PeerID, hashes []graph.Hash) {
	var out [][]byte
	size := 0
	for _, h := range hashes {
		if e, ok := l.g.Get(h); ok {
			enc := e.Encode()
			if len(out) > 0 && size+len(enc) > SyncBatchBytes {
				break
			}
			out = append(out, enc)
			size += len(enc)
		}
	}
	if len(out) > 0 {
		l.send(to, EncodeBatch(out))
	}
}

// serveSync answers with stored events from round from on, one batch at a
// time; the requester asks for the next batch.
func (l *Ledger) serveSync(to transport.PeerID, from Position) {
	var out [][]byte
	size := 0
	more, next := false, Position{}
	err := l.store.Scan(from, func(pos Position, enc []byte) bool {
		// The next batch starts at this event's exact position, also in
		// the middle of a round: a round's events may take many batches
		// (events larger than a batch take one each).
		if len(out) >= MaxBatchEvents || (len(out) > 0 && size+len(enc) > SyncBatchBytes) {
			more, next = true, pos
			return false
		}
		out = append(out, enc)
		size += len(enc)
		return true
	})
	if err != nil {
		l.fail(fmt.Errorf("serve sync: %w", err))
		return
	}
	l.sendBulk(to, EncodeSyncBatch(out, more, next))
}

// syncFrom is where a sync starts: at the graph's top round, or lower if
// an event below it is still missing. Peers may have collected that event
// from their graphs, so fetching it can fail for good; their stores still
// have it.
//
// An event missing below where an earlier sync of the epoch started is an
// ancestor of what that sync brought: a chain of events the node lacks
// (lost from its store in a machine crash, or never seen), each naming the
// next one down, and what peers hold only in their stores no fetch finds.
// A sync from each hole's round brings the hole and, its answers going up
// to the top, everything above it again, but not the hole below: a node
// behind on a slow link spent a minute walking down a round or two per
// sync (fuzz seed 3188). So such a sync starts at the graph's horizon, below
// which nothing is needed, and brings the whole chain at once.
func (l *Ledger) syncFrom() Position {
	r := l.g.Round()
	for _, m := range l.g.Missing() {
		r = min(r, m.Round)
	}
	if l.synced && r < l.syncLow {
		r = l.g.Horizon()
	}
	if !l.synced || r < l.syncLow {
		l.synced, l.syncLow = true, r
	}
	return Position{Epoch: l.epoch, Round: r}
}

// askOwn asks every peer, for the node's current epoch, for the latest
// event of this node it holds and for its own latest event. A starting
// member signs only once peers have answered with events that are in its
// graph (valid, with their ancestry), and then never below the round after
// the latest own event they returned.
//
// A node whose store is current learns nothing new from them: it waits
// for peers that with it hold a quorum of the weight, which keeps a
// cluster live when it restarts while another member is down, and signs
// on from its store.
//
// A node whose operator says it lost its store (Rejoin), or whose peers
// hold an event it signed that its store does not know (the store was
// restored from an older copy: restored), waits for peers holding a quorum
// without it and signs no lower than two rounds above the highest round
// of the others' events. That rules out signing a round twice with a
// third of the weight faulty besides it: if it signed round R before, a
// quorum made events at R-1, and the answering quorum shares an honest
// member with it, whose latest event is at R-1 or above.
//
// A store restored from a copy taken after the latest own event any
// answering peer holds cannot be told from a current one: a restore must
// be followed by --rejoin. A node that does not sign in the epoch cannot
// have signed in it and has nothing to learn.
func (l *Ledger) askOwn() {
	if !l.Member() {
		l.learning, l.mayPropose = false, true
		return
	}
	if l.answers == nil || l.learnEpoch != l.epoch {
		l.answers, l.learnEpoch = make(map[transport.PeerID]*ownAnswer), l.epoch
	}
	self, _ := l.g.Committee().MemberByKey(l.cfg.Graph.Signer.PublicKey())
	l.learnAsked = l.clock.Now()
	l.tr.Broadcast(EncodeOwn(l.epoch, self))
	l.checkLearned()
}

// owned takes a peer's answer about this node's latest event.
func (l *Ledger) owned(from transport.PeerID, m Message) {
	switch {
	case !l.learning || l.answers == nil:
		return
	case m.Epoch > l.epoch && !l.syncing:
		l.startSync(from, l.syncFrom(), true) // the peer is ahead: catch up first
		return
	case m.Epoch != l.learnEpoch || m.Asked != l.learnEpoch || l.answers[from] != nil:
		// Not an answer about the epoch it learns: a late answer to an
		// earlier question says nothing about this one.
		return
	}
	a := &ownAnswer{weight: 1}
	if l.cfg.PeerWeight != nil {
		a.weight = l.cfg.PeerWeight(from)
	}
	for _, enc := range m.Events {
		e, err := l.cfg.Decode(enc, l.lim)
		if err == nil && e.Epoch != l.learnEpoch {
			err = fmt.Errorf("an event of epoch %d, not %d", e.Epoch, l.learnEpoch)
		}
		if err == nil {
			err = l.g.Committee().Verify(e, l.g.Verifier(), l.lim)
		}
		if err != nil {
			l.invalid(from, fmt.Errorf("answer about this node's latest event: %w", err))
			return
		}
		a.events = append(a.events, e.Ref())
		l.receiveEvent(from, enc)
	}
	l.answers[from] = a
	l.checkLearned()
}

// checkLearned ends learning once answers from a quorum are complete, and
// sets the graph's floor from them (see askOwn).
func (l *Ledger) checkLearned() {
	if l.answers == nil {
		return
	}
	com := l.g.Committee()
	self, _ := com.MemberByKey(l.cfg.Graph.Signer.PublicKey())
	var weight, floor, above uint64
	var newer *graph.EventRef
	for _, a := range l.answers {
		complete := true
		for _, ref := range a.events {
			if _, ok := l.g.Get(ref.Hash); !ok && ref.Round >= l.g.Horizon() {
				complete = false // below the horizon it can no longer matter
			}
		}
		if !complete {
			continue
		}
		weight += a.weight
		for _, ref := range a.events {
			if ref.Creator != self {
				above = max(above, ref.Round+2)
				continue
			}
			floor = max(floor, ref.Round+1)
			if l.storeBehind(ref) && (newer == nil || ref.Round > newer.Round) {
				newer = &ref
			}
		}
	}
	if newer != nil && !l.restored {
		l.restored = true
		if h := l.cfg.Hooks.Learn; h != nil {
			h(LearnReport{Epoch: l.learnEpoch, Behind: true, Round: newer.Round, Stored: l.signed, HasStored: l.hasSigned})
		}
	}
	if l.cfg.Rejoin || l.restored {
		// The store was lost or is older than what the key signed: peers
		// must be a quorum without this node, which then needs no fault
		// budget of its own, and it signs above every round it may have
		// signed.
		if com.Weight(self) != com.TotalWeight() && !com.IsQuorum(weight) {
			return
		}
		floor = max(floor, above)
	} else if !com.IsQuorum(weight + com.Weight(self)) {
		return
	}
	l.g.SetFloor(floor)
	l.learning, l.mayPropose, l.answers = false, true, nil
	if h := l.cfg.Hooks.Learn; h != nil {
		h(LearnReport{Epoch: l.learnEpoch, Behind: l.restored, Stored: l.signed, HasStored: l.hasSigned,
			Done: true, Floor: max(floor, l.g.NextRound()), Weight: weight})
	}
}

// storeBehind says whether an event this node signed, which a peer holds,
// is newer than the last one its store says it signed: the store is older
// than what the key signed.
func (l *Ledger) storeBehind(ref graph.EventRef) bool {
	return !l.hasSigned || l.signed.Epoch < l.learnEpoch ||
		l.signed.Epoch == l.learnEpoch && ref.Round > l.signed.Ref.Round
}

// holding says whether a sync keeps the node from signing.
func (l *Ledger) holding() bool { return l.syncing && l.syncHold }

func (l *Ledger) startSync(peer transport.PeerID, from Position, hold bool) {
	if peer == "" {
		return
	}
	if !l.syncing {
		l.syncAsked, l.syncHold, l.syncPatience = l.syncAsked[:0], false, 1
	}
	l.syncHold = l.syncHold || hold
	if !slices.Contains(l.syncAsked, peer) {
		if len(l.syncAsked) >= maxSyncAsked {
			l.syncAsked = slices.Delete(l.syncAsked, 0, 1)
		}
		l.syncAsked = append(l.syncAsked, peer)
	}
	l.syncing, l.syncPeer, l.syncNext, l.syncIdle = true, peer, from, 0
	l.send(peer, EncodeSync(from))
	l.stats.SyncsSent++
}

// syncContinue is where a sync goes on after a batch that ended at next:
// there, or at the current epoch's horizon if the node got past next
// meanwhile (it switched epochs, or collected the rounds): what lies below
// would be dropped on arrival.
func (l *Ledger) syncContinue(next Position) Position {
	if floor := (Position{Epoch: l.epoch, Round: l.g.Horizon()}); next.Less(floor) {
		return floor
	}
	return next
}

func (l *Ledger) send(to transport.PeerID, msg []byte) {
	if !l.replaying {
		l.tr.Send(to, msg)
	}
}

// sendBulk sends an answer that helps a peer catch up behind what else
// waits for that peer (transport.BulkSender), where the transport can.
func (l *Ledger) sendBulk(to transport.PeerID, msg []byte) {
	if l.replaying {
		return
	}
	if b, ok := l.tr.(transport.BulkSender); ok {
		b.SendBulk(to, msg)
		return
	}
	l.tr.Send(to, msg)
}

// nextPeer picks peers in turn for one purpose (cursor), so an
// unresponsive one is passed over on the next try. Each purpose keeps its
// own cursor: sharing one, a sync retried once per n other picks would
// ask the same silent peer forever.
func (l *Ledger) nextPeer(cursor *int) transport.PeerID {
	peers := l.tr.Peers()
	if len(peers) == 0 {
		return ""
	}
	*cursor++
	return peers[*cursor%len(peers)]
}

// onRetry re-asks for missing parents, moves a stalled sync to another
// peer, and announces the node's latest event (KindHave) when its round
// has not moved for a leader timeout: after a partition heals, nobody would
// otherwise know of the events the other side missed.
func (l *Ledger) onRetry() {
	if l.stopped || l.faulted {
		return
	}
	if missing := l.g.Missing(); len(missing) > 0 {
		l.stats.FetchRetries++
		// A hole deep below the top (a chain of events the node never
		// saw, say a Byzantine node's that it withheld) would take a
		// fetch per link, and one that fetches cannot fill (collected by
		// the peers) would never close: a sync fills either from stores.
		// Only a hole that the graph's weight vouches for exists for
		// sure: one that only a minority's events name may be a Byzantine
		// member's invention, and a sync per such hole would have the
		// honest members send each other rounds of events for nothing,
		// all the time. It is fetched until it comes or its waiting
		// events fall below the horizon.
		low, vouched := l.lowestVouched(missing)
		if !vouched {
			l.holeTicks = 0
			l.stats.UnvouchedHoles++
		} else if low == l.hole {
			l.holeTicks++
		} else {
			l.hole, l.holeTicks = low, 1
		}
		deep := l.g.Round() > low.Round+syncGap
		if !l.syncing && vouched && (deep && l.holeTicks > 1 || l.holeTicks > fetchAttempts) {
			l.startSync(l.nextPeer(&l.syncCursor), l.syncFrom(), false)
		} else {
			l.fetch(l.nextPeer(&l.fetchCursor), missing)
		}
	} else {
		l.holeTicks = 0
	}
	// Events of the next epoch kept for a retry tick in which no new event
	// of this node's epoch came, or for a leader timeout, without this node
	// committing the end of its own: it lacks what decides the epoch's
	// last leaders, which no new event of its epoch will bring.
	hearing := l.heard != l.heardAtTick
	l.heardAtTick = l.heard
	if waited := l.clock.Now() - l.aheadSince; len(l.ahead) > 0 && !l.aheadWaited &&
		(waited >= int64(l.cfg.FetchRetry) && !hearing || waited >= int64(l.cfg.LeaderTimeout)) {
		l.aheadWaited = true
		l.syncToNextEpoch(l.ahead[len(l.ahead)-1].from)
	}
	// A sync whose peer stays silent for a leader timeout (its answers may
	// be large, the link slow) moves on to another peer.
	if l.syncing {
		if l.syncIdle++; time.Duration(l.syncIdle)*l.cfg.FetchRetry >= time.Duration(l.syncPatience)*l.cfg.LeaderTimeout {
			from, peer := l.syncNext, l.nextPeer(&l.syncCursor)
			if peer != l.syncPeer {
				from = from.RoundStart() // an index in the round is the last peer's own
			}
			l.startSync(peer, from, false)
		}
	}
	l.reforward()
	if l.learning && !l.syncing && l.answers != nil && l.clock.Now()-l.learnAsked >= int64(l.cfg.LeaderTimeout) {
		l.askOwn() // answers may have been lost, or peers were down
	}
	if next := l.g.NextRound(); next != l.lastRound {
		l.lastRound, l.stalledFor, l.stallAsked, l.roundMovedAt = next, 0, false, l.clock.Now()
	} else if l.stalledFor += l.cfg.FetchRetry; !l.stallAsked && !hearing && l.stalledFor >= 2*l.cfg.FetchRetry && next > 0 && !l.syncing &&
		l.stalledFor < l.cfg.LeaderTimeout && (l.g.Waiting() == graph.WaitQuorum || l.g.Waiting() == graph.WaitLeader) {
		// Short of a quorum or of the leader for two ticks, the last of
		// them without a new event: an event of the round may have been
		// lost on its way here, and nothing refers to it yet, so no fetch
		// asks for it. Asking a peer for the round's events this node
		// lacks brings it, where waiting would cost a leader timeout or a
		// peer's announcement; and only it: a sync from the round would
		// bring the round's events again from a peer's store, which under
		// load (events of megabytes, rounds slower than two ticks) doubles
		// the traffic of every round. (A lost event that later events
		// refer to is fetched as a missing parent.)
		l.stallAsked = true
		l.askRound(l.nextPeer(&l.syncCursor), next-1)
	} else if l.stalledFor >= l.cfg.LeaderTimeout {
		// Announce the latest own event: a peer that lacks it (lost on
		// the way, or sent while a partition cut it off) fetches it, and
		// a peer in an earlier epoch learns that it fell behind. Sending
		// the event itself again would cost each peer its full size every
		// leader timeout, which under load (events of megabytes) takes
		// the bandwidth the round's new events need.
		l.stalledFor = 0
		if own, ok := l.g.LastSigned(); ok {
			l.tr.Broadcast(EncodeHave(Position{Epoch: l.epoch, Round: own.Round}, own.Hash))
			l.stats.Announcements++
		}
	}
	l.step("")
	if !l.stopped {
		l.retryTimer = l.clock.AfterFunc(l.cfg.FetchRetry, l.onRetry)
	}
}

// lowestVouched returns the lowest of the missing parents that the
// graph's weight vouches for (graph.Vouched), and false if none is.
func (l *Ledger) lowestVouched(missing []graph.EventRef) (graph.EventRef, bool) {
	var low graph.EventRef
	found := false
	for _, m := range missing {
		if found && (m.Round > low.Round || m.Round == low.Round && !m.Hash.Less(low.Hash)) {
			continue
		}
		if l.g.Vouched(m.Hash) {
			low, found = m, true
		}
	}
	return low, found
}

func (l *Ledger) fetch(peer transport.PeerID, refs []graph.EventRef) {
	if peer == "" {
		return
	}
	for len(refs) > 0 {
		n := min(len(refs), MaxFetchHashes)
		hashes := make([]graph.Hash, n)
		for i := range hashes {
			hashes[i] = refs[i].Hash
		}
		l.send(peer, EncodeFetch(hashes))
		l.stats.FetchesSent++
		refs = refs[n:]
	}
}

func (l *Ledger) onLeaderTimeout(r uint64) {
	l.leaderTimer = nil
	if l.stopped || l.faulted {
		return
	}
	l.g.LeaderTimeout(r)
	l.step("")
}

// step hands the graph's output to the store, the network and the hooks
// (persisting before sending), makes the events the node may make, one at
// a time so that each sees the commits (and the garbage collection) the
// previous one led to, and arms the leader timer if the graph waits for a
// leader.
func (l *Ledger) step(from transport.PeerID) {
	l.drain(from)
	// A syncing node does not sign: its events would be for rounds the
	// others may have collected, and the transactions in them lost. The
	// bound keeps a committee of one, which never waits for anybody, from
	// spinning: it makes its next events on the next tick.
	budget, byFlow := -1, false // not yet asked: flowBudget only when the node proposes
	for made := 0; made < maxProposalsPerStep && !l.faulted && l.mayPropose && !l.holding() && !l.replaying; made++ {
		if l.pace() {
			break
		}
		txs, limited := l.queue[l.qhead:], false
		if len(txs) > 0 {
			if budget < 0 {
				budget, byFlow = l.proposalBudget()
			}
			if budget > 0 && l.qbytes > budget {
				txs, limited = fitBudget(txs, budget)
			}
		}
		e, used, w := l.g.Propose(l.clock.Now(), txs, l.qhash[l.qhead:])
		if w != graph.WaitNone {
			break
		}
		if limited && used == len(txs) {
			if byFlow {
				l.stats.FlowLimited++
			} else {
				l.stats.EventsFull++
			}
		}
		l.flow.last = txBytes(e.Txs)
		l.lastProposal = l.clock.Now()
		l.take(used)
		l.unprocessed = append(l.unprocessed, e)
		if len(e.Txs) > 0 {
			l.own = append(l.own, e)
		}
		l.stats.EventsCreated++
		l.drain(from)
	}
	if !l.faulted {
		l.armLeaderTimer()
	}
}

// pace reports whether the node should hold its next event back for
// MinRoundInterval, and if so makes sure a timer brings it back.
func (l *Ledger) pace() bool {
	iv := int64(l.cfg.MinRoundInterval)
	if iv <= 0 || l.lastProposal == 0 || l.g.Waiting() != graph.WaitNone {
		return false
	}
	wait := l.lastProposal + iv - l.clock.Now()
	full := l.QueueLen() >= l.lim.MaxEventTxs || l.qbytes >= l.lim.MaxEventBytes/2 ||
		l.cfg.MaxEventTxBytes > 0 && l.qbytes >= l.cfg.MaxEventTxBytes
	behind := l.g.Round() > l.g.NextRound()
	if wait <= 0 || full || behind {
		return false
	}
	if l.paceTimer == nil {
		l.paceTimer = l.clock.AfterFunc(time.Duration(wait), func() {
			l.paceTimer = nil
			if !l.stopped && !l.faulted {
				l.step("")
			}
		})
	}
	return true
}

// drain processes the graph's output since the last call.
func (l *Ledger) drain(from transport.PeerID) {
	if l.faulted {
		return
	}
	rd := l.g.Ready()
	if !l.replaying {
		for _, e := range rd.Inserted {
			if err := l.store.PutEvent(e); err != nil {
				l.fail(fmt.Errorf("store event %s: %w", e.Ref(), err))
				return
			}
		}
	}
	for _, e := range l.unprocessed {
		l.signed, l.hasSigned = Signed{Epoch: e.Epoch, Ref: e.Ref()}, true
		if err := l.store.SetLastSigned(l.signed); err != nil {
			l.fail(fmt.Errorf("store last signed %s: %w", e.Ref(), err))
			return
		}
		l.tr.Broadcast(e.Framed(eventFrame))
	}
	l.unprocessed = l.unprocessed[:0]
	if h := l.cfg.Hooks.Inserted; h != nil {
		for _, e := range rd.Inserted {
			h(e)
		}
	}
	// While syncing, the sync brings the missing parents in round order;
	// the retry tick asks for any still missing afterwards.
	if len(rd.Missing) > 0 && !l.syncing {
		if from == "" {
			from = l.nextPeer(&l.fetchCursor)
		}
		l.fetch(from, rd.Missing)
	}
	for _, rj := range rd.Rejected {
		l.invalid(from, fmt.Errorf("buffered event %s: %w", rj.Event, rj.Err))
	}
	if h := l.cfg.Hooks.Evidence; h != nil {
		for _, ev := range rd.Evidence {
			h(ev)
		}
	}
	for _, c := range rd.Commits {
		l.settleOwn(c.Events)
		if len(l.forwarded) > 0 {
			for i := range c.Txs {
				delete(l.forwarded, c.Txs[i].Hash)
			}
		}
		l.applying = c.Index
		c.Index += l.commitBase
		l.stats.CommittedEvents += uint64(len(c.Events))
		if h := l.cfg.Hooks.Commit; h != nil {
			h(c)
		}
		if l.nextEpoch != nil {
			l.switchEpoch(c.Index + 1)
			break
		}
	}
	l.requeueBelow(l.g.Horizon())
	if l.learning {
		l.checkLearned()
	}
	if err := l.g.Fault(); err != nil {
		l.fail(err)
		return
	}
	l.releaseAhead(from)
}

// settleOwn drops the own events a commit delivered.
func (l *Ledger) settleOwn(events []*graph.Event) {
	if len(l.own) == 0 {
		return
	}
	self, ok := l.g.LastSigned()
	if !ok {
		return
	}
	var mine map[graph.Hash]bool
	for _, e := range events {
		if e.Creator == self.Creator {
			if mine == nil {
				mine = map[graph.Hash]bool{}
			}
			mine[e.Hash()] = true
		}
	}
	if mine != nil {
		l.own = slices.DeleteFunc(l.own, func(e *graph.Event) bool { return mine[e.Hash()] })
	}
}

// requeueBelow puts back the transactions of own events below round
// horizon of the current epoch (or of an earlier epoch): no commit can
// deliver them any more.
func (l *Ledger) requeueBelow(horizon uint64) {
	n := 0
	for n < len(l.own) && (l.own[n].Epoch < l.epoch || l.own[n].Round < horizon) {
		n++
	}
	if n == 0 {
		return
	}
	var txs [][]byte
	var hashes []graph.Hash
	for _, e := range l.own[:n] {
		txs = append(txs, e.Txs...)
		for i := range e.Txs {
			hashes = append(hashes, e.TxHash(i))
		}
	}
	l.own = slices.Delete(l.own, 0, n)
	l.stats.TxsRequeued += uint64(len(txs))
	if !l.signing() {
		l.handOn(txs, hashes)
		return
	}
	for i, tx := range txs {
		l.enqueue(tx, hashes[i])
	}
}

func (l *Ledger) armLeaderTimer() {
	if l.replaying || l.stopped || !l.mayPropose || l.holding() || l.g.Waiting() != graph.WaitLeader {
		return
	}
	r := l.g.NextRound() - 1
	if l.leaderTimer != nil {
		if l.leaderRound == r {
			return
		}
		l.leaderTimer.Stop()
	}
	l.leaderRound = r
	l.leaderTimer = l.clock.AfterFunc(l.cfg.LeaderTimeout, func() { l.onLeaderTimeout(r) })
}

// take drops the first n queued transactions: Propose put them in an
// event (or refused them as too large for any event).
func (l *Ledger) take(n int) {
	for i := l.qhead; i < l.qhead+n; i++ {
		l.qbytes -= len(l.queue[i])
		l.queue[i] = nil
	}
	l.qhead += n
	if l.qhead == len(l.queue) {
		l.queue, l.qhash, l.qhead = l.queue[:0], l.qhash[:0], 0
	} else if l.qhead > 4096 && l.qhead > len(l.queue)/2 {
		l.queue = append(l.queue[:0], l.queue[l.qhead:]...)
		l.qhash = append(l.qhash[:0], l.qhash[l.qhead:]...)
		l.qhead = 0
	}
}

func (l *Ledger) fail(err error) {
	if l.faulted {
		return
	}
	l.faulted = true
	l.Stop()
	if l.cfg.Hooks.Fault != nil {
		l.cfg.Hooks.Fault(err)
	}
}
