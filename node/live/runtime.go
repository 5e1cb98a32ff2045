// Package live is the node's live runtime: one goroutine runs node.Node on
// the wall clock, fed by libp2p, persisting to an on-disk store, provisioning
// through libvirt and confirming payments over Solana JSON-RPC. Everything
// the node decides is the same code the simulator runs; this package only
// moves messages, timers and requests onto the node's goroutine.
package live

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/live/api"
	"dagger/node/live/metrics"
	"dagger/node/tx"
	"dagger/transport"
)

// Bounds of the runtime.
const (
	// MaxInboxMessages and MaxInboxBytes bound the messages received and
	// not yet handled; beyond them messages are dropped, which the protocol
	// recovers from by fetching.
	MaxInboxMessages = 1 << 14
	MaxInboxBytes    = 256 << 20
	// maxControl bounds queued API calls and timer callbacks.
	maxControl = 1 << 12
	// publishEvery is the period of the metrics snapshot.
	publishEvery = 500 * time.Millisecond
	// MaxCommitLog bounds the commits the runtime remembers for
	// /v1/commits (commitlog.go): 104 bytes each, 6.5 MiB in all, about an
	// hour of commits under load.
	MaxCommitLog = 1 << 16
	// maxLatencyTracked bounds the admitted transactions whose latency is
	// being measured.
	maxLatencyTracked = node.MaxPendingTxs
)

// Transport is what the runtime needs of the network besides
// transport.Transport: the live one is *p2p.Host.
type Transport interface {
	transport.Transport
	// SetAllowed names the peers that may connect: the committee's
	// operators and those awaiting approval.
	SetAllowed(members, pending []transport.PeerID)
	// Counters returns bytes received and sent and messages dropped.
	Counters() (received, sent, dropped uint64)
}

// Store is what the runtime needs of the store besides node.Store. Its
// LatestSnapshot, like Get, may be called from any goroutine: the API
// serves snapshots without holding up the node's loop.
type Store interface {
	node.Store
	// Get returns a stored event's encoding by hash; it may be called from
	// any goroutine.
	Get(h graph.Hash) ([]byte, bool, error)
	// SetCommitted records how far the node applied the order.
	SetCommitted(index uint64, pos node.Position) error
	// Committed returns what SetCommitted recorded last.
	Committed() (index uint64, pos node.Position, ok bool, err error)
}

// Counters are a component's operation counts, for metrics.
type Counters interface {
	Counters() (ops, fails map[string]uint64)
}

// Options are what Start needs; they are built from a Config by Open, or
// by tests directly.
type Options struct {
	Key     ed25519.PrivateKey
	Genesis cluster.Genesis
	// Transport is built by the caller with Deliver as its receiver.
	Store Store
	// Node is the node's configuration minus what the runtime fills in
	// (key, genesis, transport, clock, store, hooks).
	Node    node.Config
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Version string
	// NodeID is the node's libp2p peer id.
	NodeID string
	// Extra counters for metrics: provisioner and payment chain.
	Provision Counters
	Payments  Counters
	// CheckWorkers is how many goroutines check the signatures of the
	// transactions in peers' events as they are inserted (node.TxChecker),
	// and how many client batches are checked at once: 0 picks one per
	// CPU but one, leaving the loop a CPU. -1 runs no such goroutine: the
	// loop checks those transactions when it applies them, and one client
	// batch is checked at a time. Where several nodes share a machine's
	// cores (dagger devnet), more goroutines only take turns with the
	// loops that make the rounds.
	CheckWorkers int
}

type inbound struct {
	from transport.PeerID
	msg  []byte
}

// Runtime runs one node.
type Runtime struct {
	opt  Options
	log  *slog.Logger
	tr   Transport
	nd   *node.Node
	self tx.Key

	// snap is the newest snapshot as the API last read it from the store,
	// shared by every download (see Snapshot); snapMu orders the reads.
	snapMu  sync.Mutex
	snap    node.Snapshot
	hasSnap bool

	checks   *checkPool
	busy     atomic.Bool // the node's Busy after the loop's last turn
	in       chan inbound
	inBytes  atomic.Int64
	inDrops  atomic.Uint64
	ctl      chan func()
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// bg counts the node's Background work running; stopping is closed
	// when the loop ends, and the loop waits for that work before done.
	bg       sync.WaitGroup
	stopping chan struct{}

	// Owned by the loop.
	fault         error
	committedTxs  uint64
	equivocations uint64
	admitted      map[tx.ID]time.Time
	// commits are the latest MaxCommitLog commits.
	commits commitLog
	// storedIndex is the commit position stored before this start: the
	// replay does not write it again.
	storedIndex uint64
	storedOK    bool

	faultMsg atomic.Pointer[string]
	// watch fans commits out to the API's commit streams.
	watch watchers
}

// New builds a runtime; the caller then builds its transport with Deliver
// as the receiver, and calls Start with it.
func New(opt Options) *Runtime {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Metrics == nil {
		opt.Metrics = metrics.New()
	}
	r := &Runtime{opt: opt, log: opt.Logger, in: make(chan inbound, MaxInboxMessages), ctl: make(chan func(), maxControl),
		quit: make(chan struct{}), done: make(chan struct{}), stopping: make(chan struct{}), admitted: map[tx.ID]time.Time{}}
	copy(r.self[:], opt.Key.Public().(ed25519.PublicKey))
	r.checks = newCheckPool(opt.CheckWorkers)
	return r
}

// Deliver hands a message from a peer to the node; it never blocks, and
// drops the message when the inbox is full.
func (r *Runtime) Deliver(from transport.PeerID, msg []byte) {
	if r.inBytes.Add(int64(len(msg))) > MaxInboxBytes {
		r.inBytes.Add(-int64(len(msg)))
		r.inDrops.Add(1)
		return
	}
	select {
	case r.in <- inbound{from, msg}:
	default:
		r.inBytes.Add(-int64(len(msg)))
		r.inDrops.Add(1)
	}
}

// Start builds the node over tr, replays the store, and starts the loop.
func (r *Runtime) Start(tr Transport) error {
	r.tr = tr
	cfg := r.opt.Node
	cfg.Key = r.opt.Key
	cfg.Genesis = r.opt.Genesis
	cfg.Ledger.Transport = tr
	cfg.Ledger.Clock = (*clock)(r)
	cfg.Ledger.Store = r.opt.Store
	if r.checks.workers > 0 {
		cfg.TxChecker = r.checks
	}
	cfg.Background = (*background)(r)
	signer, err := graph.NewEd25519Signer(r.opt.Key)
	if err != nil {
		return err
	}
	cfg.Ledger.Graph.Signer = signer
	userLedger := cfg.Ledger.Hooks
	cfg.Ledger.Hooks.Fault = func(err error) {
		r.stopOnFault(err)
		if userLedger.Fault != nil {
			userLedger.Fault(err)
		}
	}
	cfg.Ledger.Hooks.Evidence = func(ev graph.Evidence) {
		r.equivocations++
		r.log.Warn("equivocation", "creator", ev.Creator(), "epoch", ev.First.Epoch, "round", ev.First.Round)
		if userLedger.Evidence != nil {
			userLedger.Evidence(ev)
		}
	}
	cfg.Ledger.Hooks.Invalid = func(from transport.PeerID, err error) {
		r.log.Debug("invalid message", "peer", from, "err", err)
		if userLedger.Invalid != nil {
			userLedger.Invalid(from, err)
		}
	}
	cfg.Ledger.Hooks.Learn = func(lr node.LearnReport) {
		r.learned(lr, cfg.Ledger.Rejoin)
		if userLedger.Learn != nil {
			userLedger.Learn(lr)
		}
	}
	userNode := cfg.Hooks
	cfg.Hooks.Applied = func(c graph.Commit, res cluster.Result, hash [32]byte) {
		r.applied(c, res, hash)
		if userNode.Applied != nil {
			userNode.Applied(c, res, hash)
		}
	}
	cfg.Hooks.Done = func(id tx.ID, st node.TxStatus) {
		if at, ok := r.admitted[id]; ok {
			delete(r.admitted, id)
			r.opt.Metrics.ObserveTxLatency(time.Since(at).Seconds())
		}
		if userNode.Done != nil {
			userNode.Done(id, st)
		}
	}
	idx, pos, ok, err := r.opt.Store.Committed()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r.storedIndex, r.storedOK = idx, ok
	nd, err := node.NewNode(cfg)
	if err != nil {
		return err
	}
	r.nd = nd
	replayed := time.Now()
	nd.Start() // replays the store on this goroutine, before the loop runs
	if r.fault != nil {
		close(r.done)
		return fmt.Errorf("start: %w", r.fault)
	}
	if ok && nd.State().Commits() < idx+1 {
		r.log.Warn("the replayed order is shorter than the one applied before the restart; the rest comes from peers",
			"replayed_commits", nd.State().Commits(), "stored_commit_index", idx, "stored_position", pos)
	}
	r.log.Info("node started", "node_id", r.opt.NodeID, "key", r.self.Short(), "snapshot_commit", nd.FirstCommit(), "epoch", nd.Ledger().Epoch(),
		"round", nd.Ledger().Graph().Round(), "commits", nd.State().Commits(), "replay", time.Since(replayed).Round(time.Millisecond))
	if nd.Ledger().Learning() {
		r.log.Info("not signing until peers confirm how far this node signed (a store restored from an older copy cannot tell)")
	}
	r.allow()
	r.publish()
	r.checks.start()
	go r.loop()
	return nil
}

func (r *Runtime) loop() {
	defer close(r.done)
	defer func() {
		close(r.stopping)
		r.bg.Wait() // the store outlives what writes to it
	}()
	defer func() {
		err := errWatchStopped
		if r.fault != nil {
			err = fmt.Errorf("the node stopped on a fault: %w", r.fault)
		}
		r.watch.close(err)
	}()
	defer r.checks.stop()
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.quit:
			r.nd.Stop()
			r.publish()
			return
		case f := <-r.ctl:
			f()
		case m := <-r.in:
			r.inBytes.Add(-int64(len(m.msg)))
			r.nd.Receive(m.from, m.msg)
		case <-tick.C:
			r.publish()
		}
		r.busy.Store(r.nd.Busy())
		if r.fault != nil {
			r.nd.Stop()
			r.publish()
			return
		}
	}
}

func (r *Runtime) stopOnFault(err error) {
	if r.fault == nil {
		r.fault = err
		msg := err.Error()
		r.faultMsg.Store(&msg)
		r.log.Error("node stopped by a fault", "err", err)
	}
}

// applied runs after every commit on the loop.
func (r *Runtime) applied(c graph.Commit, res cluster.Result, hash [32]byte) {
	r.committedTxs += uint64(len(c.Txs))
	epoch := r.nd.Ledger().Epoch()
	r.commits.add(commitRecord{index: c.Index, epoch: epoch, round: c.Leader.Round, time: c.Time,
		events: uint32(len(c.Events)), txs: uint32(len(c.Txs)), leader: c.Leader.Hash, state: hash})
	r.watch.publish(c)
	now := time.Now().UnixNano()
	for _, e := range c.Events {
		if d := now - e.Time; d >= 0 {
			r.opt.Metrics.ObserveCommitLatency(float64(d) / 1e9)
		}
	}
	if !r.storedOK || c.Index > r.storedIndex {
		if err := r.opt.Store.SetCommitted(c.Index, node.Position{Epoch: epoch, Round: c.Leader.Round}); err != nil {
			r.stopOnFault(fmt.Errorf("store commit position: %w", err))
		}
	}
	if res.Epoch != nil {
		r.log.Info("epoch change", "epoch", res.Epoch.Epoch, "members", res.Epoch.Committee.Size())
		r.allow()
	}
}

// allow tells the transport who may connect: active operators, and those
// awaiting approval.
func (r *Runtime) allow() {
	var members, pending []transport.PeerID
	for _, op := range r.nd.State().Operators() {
		if op.PeerID == "" {
			continue
		}
		switch op.Status {
		case cluster.OperatorActive:
			members = append(members, transport.PeerID(op.PeerID))
		case cluster.OperatorPending:
			pending = append(pending, transport.PeerID(op.PeerID))
		}
	}
	r.tr.SetAllowed(members, pending)
}

// publish hands the metrics a fresh snapshot.
func (r *Runtime) publish() {
	l := r.nd.Ledger()
	st := l.Stats()
	g := l.Graph()
	s := &metrics.Snapshot{
		Epoch: l.Epoch(), Round: g.Round(), Commits: r.nd.State().Commits(),
		EventsCreated: st.EventsCreated, EventsReceived: st.EventsReceived, EventsInvalid: st.Invalid,
		Fetches: st.FetchesSent, Syncs: st.SyncsSent, CommittedTxs: r.committedTxs,
		PendingTxs: r.nd.PendingLen(), QueuedTxs: l.QueueLen(), Equivocations: r.equivocations,
		Member: l.Member(), Faulted: r.fault != nil, SnapshotBytes: r.nd.Stats().SnapshotBytes,
		FlowCuts: st.FlowCuts, FlowLimited: st.FlowLimited, FlowBudget: l.FlowBudget(), EventsFull: st.EventsFull,
		Peers: len(r.tr.Peers()), InboxDropped: r.inDrops.Load(),
		VMs: map[string]int{}, Operators: map[string]int{},
	}
	s.LastCommittedRound, _ = g.LastCommitted()
	s.BytesReceived, s.BytesSent, s.MessagesDropped = r.tr.Counters()
	if r.opt.Provision != nil {
		s.ProvisionOps, s.ProvisionFails = r.opt.Provision.Counters()
	}
	if r.opt.Payments != nil {
		ops, fails := r.opt.Payments.Counters()
		s.PaymentQueries, s.PaymentErrors = ops["status"], fails["status"]
	}
	for state, n := range r.nd.State().CountVMs() {
		s.VMs[state.String()] = n
	}
	for _, op := range r.nd.State().Operators() {
		s.Operators[op.Status.String()]++
	}
	r.opt.Metrics.Publish(s)
}

// Close stops the node gracefully: the loop finishes what it handles,
// the node stops, and Close returns once the loop is done. It does not
// close the transport or the store, which the caller owns.
func (r *Runtime) Close() {
	r.stopOnce.Do(func() { close(r.quit) })
	<-r.done
}

// Done is closed when the loop stops: after Close, or on a fault.
func (r *Runtime) Done() <-chan struct{} { return r.done }

// Fault returns why the node stopped by itself, if it did.
func (r *Runtime) Fault() error {
	if m := r.faultMsg.Load(); m != nil {
		return errors.New(*m)
	}
	return nil
}

// post queues f for the loop; it reports false if the loop has stopped.
func (r *Runtime) post(f func()) bool {
	select {
	case r.ctl <- f:
		return true
	case <-r.done:
		return false
	}
}

// do runs f on the loop and waits for it.
func (r *Runtime) do(ctx context.Context, f func()) error {
	fin := make(chan struct{})
	select {
	case r.ctl <- func() { f(); close(fin) }:
	case <-r.done:
		return api.ErrUnavailable
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-fin:
		return nil
	case <-r.done:
		return api.ErrUnavailable
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Submit implements api.Backend. The transaction is decoded and its
// signature checked on the caller's goroutine; the loop only admits it.
func (r *Runtime) Submit(ctx context.Context, data []byte) (tx.ID, error) {
	ids, errs, err := r.SubmitMany(ctx, [][]byte{data})
	if err != nil {
		return tx.ID{}, err
	}
	return ids[0], errs[0]
}

// SubmitMany implements api.Backend: the checks run on the caller's
// goroutine (as many batches at once as the node has CPUs but one), and
// one turn of the loop admits the whole batch. A node that is busy
// (node.Node.Busy, as of its loop's last turn) refuses at once, without
// spending a check on what it would refuse.
func (r *Runtime) SubmitMany(ctx context.Context, txs [][]byte) ([]tx.ID, []error, error) {
	ids, errs := make([]tx.ID, len(txs)), make([]error, len(txs))
	if r.busy.Load() {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: the node's queue is full", node.ErrBusy)
		}
		return ids, errs, nil
	}
	hashes, checked, err := r.checks.checkSubmitted(ctx, txs)
	if err != nil {
		return nil, nil, err
	}
	if e := r.do(ctx, func() {
		for i, data := range txs {
			ids[i], errs[i] = r.admit(data, hashes[i], checked[i])
		}
	}); e != nil {
		return nil, nil, e
	}
	return ids, errs, nil
}

// admit hands a checked transaction to the node, on the loop, and starts
// measuring its latency.
func (r *Runtime) admit(data []byte, h graph.Hash, ck tx.Checked) (tx.ID, error) {
	id, err := r.nd.SubmitChecked(data, h, ck)
	if err == nil && r.nd.TxStatus(id).State == node.TxPending && len(r.admitted) < maxLatencyTracked {
		if _, seen := r.admitted[id]; !seen {
			r.admitted[id] = time.Now()
		}
	}
	return id, err
}

// SubmitOpaque implements api.Backend: the transactions are hashed on the
// caller's goroutine, and one turn of the loop queues the whole request.
func (r *Runtime) SubmitOpaque(ctx context.Context, txs [][]byte) (int, error) {
	hashes := make([]graph.Hash, len(txs))
	for i, t := range txs {
		hashes[i] = graph.TxHash(t)
	}
	n := 0
	var err error
	if e := r.do(ctx, func() {
		l := r.nd.Ledger()
		for i, t := range txs {
			if err = l.SubmitHashed(t, hashes[i]); err != nil {
				return
			}
			n++
		}
	}); e != nil {
		return 0, e
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, node.ErrQueueFull):
		return n, fmt.Errorf("%w: %v after %d of %d", node.ErrBusy, err, n, len(txs))
	case errors.Is(err, node.ErrStopped):
		return n, fmt.Errorf("%w: %v", api.ErrUnavailable, err)
	}
	return n, fmt.Errorf("%w: transaction %d: %v", node.ErrRejected, n, err)
}

// TxStatus implements api.Backend.
func (r *Runtime) TxStatus(ctx context.Context, id tx.ID) (node.TxStatus, error) {
	var st node.TxStatus
	err := r.do(ctx, func() { st = r.nd.TxStatus(id) })
	return st, err
}

// VM implements api.Backend.
func (r *Runtime) VM(ctx context.Context, id tx.ID) (cluster.VM, bool, error) {
	var v cluster.VM
	var ok bool
	err := r.do(ctx, func() {
		v, ok = r.nd.State().VM(id)
		v.Tried = slices.Clone(v.Tried)
	})
	return v, ok, err
}

// VMsByOwner implements api.Backend.
func (r *Runtime) VMsByOwner(ctx context.Context, owner tx.Key) ([]cluster.VM, error) {
	var vs []cluster.VM
	err := r.do(ctx, func() {
		vs = r.nd.State().VMsByOwner(owner)
		for i := range vs {
			vs[i].Tried = slices.Clone(vs[i].Tried)
		}
	})
	return vs, err
}

// Operators implements api.Backend.
func (r *Runtime) Operators(ctx context.Context) ([]cluster.Operator, error) {
	var ops []cluster.Operator
	err := r.do(ctx, func() {
		ops = r.nd.State().Operators()
		for i := range ops {
			ops[i].Approvals = slices.Clone(ops[i].Approvals)
			ops[i].Removals = slices.Clone(ops[i].Removals)
		}
	})
	return ops, err
}

// Params implements api.Backend.
func (r *Runtime) Params(ctx context.Context) (cluster.Params, error) {
	var p cluster.Params
	err := r.do(ctx, func() { p = r.nd.State().Params() })
	return p, err
}

// Event implements api.Backend; it reads the store, not the loop.
func (r *Runtime) Event(ctx context.Context, h graph.Hash) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	return r.opt.Store.Get(h)
}

// Snapshot implements api.Backend. It reads the store, not the loop, so
// that reading a large snapshot does not hold up the node, and only when
// the node stored a newer one: every download shares one copy, so the
// memory the API holds for snapshots does not grow with its clients.
func (r *Runtime) Snapshot(ctx context.Context) (node.Snapshot, bool, error) {
	var newest uint64
	if err := r.do(ctx, func() { newest = r.nd.SnapshotCommit() }); err != nil && !errors.Is(err, api.ErrUnavailable) {
		return node.Snapshot{}, false, err // a stopped node still serves its store
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if r.hasSnap && r.snap.Commit >= newest {
		return r.snap, true, nil
	}
	sn, ok, err := r.opt.Store.LatestSnapshot()
	if err != nil || !ok {
		return sn, ok, err
	}
	r.snap, r.hasSnap = sn, true
	return sn, true, nil
}

// WatchCommits implements api.Backend.
func (r *Runtime) WatchCommits(ctx context.Context) (api.Watch, error) {
	w, err := r.watch.add(ctx)
	if err != nil {
		return api.Watch{}, fmt.Errorf("%w: %v", api.ErrUnavailable, err)
	}
	return w, nil
}

// Commits implements api.Backend.
func (r *Runtime) Commits(ctx context.Context, from uint64, limit int) ([]api.Commit, error) {
	var out []api.Commit
	err := r.do(ctx, func() {
		out = r.commits.list(from, limit)
	})
	return out, err
}

// Status implements api.Backend.
func (r *Runtime) Status(ctx context.Context) (api.Status, error) {
	st := api.Status{NodeID: r.opt.NodeID, Key: r.self.String(), Version: r.opt.Version}
	err := r.do(ctx, func() {
		l := r.nd.Ledger()
		g := l.Graph()
		s := r.nd.State()
		hash := s.Hash()
		st.Epoch, st.Round, st.CommitIndex = l.Epoch(), g.Round(), s.Commits()
		st.FirstCommit, st.SnapshotCommit = r.nd.FirstCommit(), r.nd.SnapshotCommit()
		st.LastCommittedRound, _ = g.LastCommitted()
		st.CommittedTxs, st.PendingTxs, st.Peers = r.committedTxs, r.nd.PendingLen(), len(r.tr.Peers())
		st.Member, st.StateHash, st.ConsensusTime = l.Member(), hex.EncodeToString(hash[:]), s.Time()
	})
	if errors.Is(err, api.ErrUnavailable) {
		if f := r.Fault(); f != nil {
			st.Fault = f.Error()
			return st, nil
		}
	}
	return st, err
}

var _ api.Backend = (*Runtime)(nil)

// clock is the wall clock; its timers post their callbacks to the loop.
type clock Runtime

func (c *clock) Now() int64 { return time.Now().UnixNano() }

func (c *clock) AfterFunc(d time.Duration, f func()) node.Timer {
	t := &timer{}
	t.t = time.AfterFunc(d, func() {
		(*Runtime)(c).post(func() {
			if !t.stopped {
				t.fired = true
				f()
			}
		})
	})
	return t
}

// background runs the node's slow work (storing snapshots) on goroutines
// of its own: node.Background.
type background Runtime

func (b *background) Go(work, done func()) {
	r := (*Runtime)(b)
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		work()
		select {
		case r.ctl <- done:
		case <-r.stopping:
		}
	}()
}

// timer's flags are read and written on the loop only.
type timer struct {
	t              *time.Timer
	stopped, fired bool
}

func (t *timer) Stop() bool {
	pending := !t.stopped && !t.fired
	t.stopped = true
	t.t.Stop()
	return pending
}

// learned logs what the node learned from its peers about how far it
// signed (node.Ledger's askOwn): a store older than what the key signed is
// a warning, with what to do.
func (r *Runtime) learned(lr node.LearnReport, rejoin bool) {
	stored := "nothing in this epoch"
	if lr.HasStored && lr.Stored.Epoch == lr.Epoch {
		stored = fmt.Sprintf("round %d", lr.Stored.Ref.Round)
	}
	switch {
	case lr.Behind && !lr.Done && !rejoin:
		r.log.Warn("this node's store is older than what its key signed: peers hold its event of round "+
			fmt.Sprint(lr.Round)+" while the store says it signed "+stored+"; it was restored from an older copy or lost writes. "+
			"The node signs again only once peers holding more than two thirds of the weight without it have answered, above every round it may have signed, as with --rejoin; "+
			"after a restore, always start with --rejoin",
			"epoch", lr.Epoch, "peers_hold_round", lr.Round)
	case lr.Done:
		r.log.Info("confirmed with peers how far this node signed; signing again",
			"epoch", lr.Epoch, "from_round", lr.Floor, "store_signed", stored, "store_behind", lr.Behind, "peer_weight", lr.Weight)
	}
}
