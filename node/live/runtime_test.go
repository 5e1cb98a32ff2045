package live

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/live/api"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/transport"
)

// The runtime's own promises, checked inside synctest bubbles: its clock
// and ticker run on the bubble's virtual time, synctest.Wait returns once
// the loop and every timer goroutine are idle, and a goroutine left behind
// fails the bubble. The node runs over in-memory twins of the store and the
// transport (libp2p and the on-disk store cannot live in a bubble).

// memStore is the runtime's Store in memory: node.MemStore plus what the
// on-disk store adds (Get, the commit position). Like that store it may be
// called from any goroutine. Failures can be switched on.
type memStore struct {
	mu        sync.Mutex
	mem       *node.MemStore
	events    map[graph.Hash][]byte
	committed struct {
		index uint64
		pos   node.Position
		ok    bool
	}
	// failPut and failCommitted, when set, are what PutEvent and
	// SetCommitted return.
	failPut, failCommitted error
	// snapshotReads counts LatestSnapshot calls.
	snapshotReads int
	// holdSnapshots, when set, is what PutSnapshot waits for before it
	// stores (outside the lock: the store serves the loop meanwhile).
	holdSnapshots chan struct{}
}

func newMemStore() *memStore {
	return &memStore{mem: node.NewMemStore(), events: map[graph.Hash][]byte{}}
}

func (s *memStore) PutEvent(e *graph.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPut != nil {
		return s.failPut
	}
	s.events[e.Hash()] = e.Encode()
	return s.mem.PutEvent(e)
}

func (s *memStore) SetLastSigned(sg node.Signed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.SetLastSigned(sg)
}

func (s *memStore) LastSigned() (node.Signed, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.LastSigned()
}

func (s *memStore) Scan(from node.Position, fn func(node.Position, []byte) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.Scan(from, fn)
}

func (s *memStore) PutSnapshot(sn node.Snapshot) error {
	s.mu.Lock()
	hold := s.holdSnapshots
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.PutSnapshot(sn)
}

func (s *memStore) LatestSnapshot() (node.Snapshot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshotReads++
	return s.mem.LatestSnapshot()
}

func (s *memStore) Prune(epoch uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.Prune(epoch)
}

func (s *memStore) Get(h graph.Hash) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc, ok := s.events[h]
	return enc, ok, nil
}

func (s *memStore) SetCommitted(index uint64, pos node.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCommitted != nil {
		return s.failCommitted
	}
	s.committed.index, s.committed.pos, s.committed.ok = index, pos, true
	return nil
}

func (s *memStore) Committed() (uint64, node.Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed.index, s.committed.pos, s.committed.ok, nil
}

func (s *memStore) fail(put, committed error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPut, s.failCommitted = put, committed
}

func (s *memStore) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotReads
}

// memTransport is the runtime's Transport in memory: it records what the
// node sends and whom the runtime allows.
type memTransport struct {
	mu      sync.Mutex
	peers   []transport.PeerID
	sent    []sentMsg
	members [][]transport.PeerID
}

// sentMsg is a message the node sent; to is empty for a broadcast.
type sentMsg struct {
	to  transport.PeerID
	msg []byte
}

func (m *memTransport) Send(to transport.PeerID, msg []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMsg{to, msg})
}

func (m *memTransport) Broadcast(msg []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMsg{"", msg})
}

func (m *memTransport) Peers() []transport.PeerID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.peers)
}

func (m *memTransport) SetAllowed(members, _ []transport.PeerID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members = append(m.members, members)
}

func (m *memTransport) Counters() (received, sent, dropped uint64) { return 0, 0, 0 }

func (m *memTransport) sentTo(to transport.PeerID) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, s := range m.sent {
		if s.to == to {
			out = append(out, s.msg)
		}
	}
	return out
}

func (m *memTransport) allowed() [][]transport.PeerID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.members)
}

// rtNode is a runtime over the twins, a one-operator cluster that commits
// alone, started inside the calling test's bubble.
type rtNode struct {
	t     *testing.T
	key   ed25519.PrivateKey
	gen   cluster.Genesis
	store *memStore
	tr    *memTransport
	rt    *Runtime
	// hooks sees the node's hooks, which the runtime promises to run on
	// its loop.
	hooks *hookLog
	// maxQueue, if set, bounds the ledger's queue of transactions.
	maxQueue int
}

// hookLog records hook calls with the goroutine each ran on.
type hookLog struct {
	mu      sync.Mutex
	invalid []invalidCall
	done    map[tx.ID]node.TxStatus
	faults  []error
}

type invalidCall struct {
	from transport.PeerID
	gid  uint64
}

const selfPeer transport.PeerID = "self"

// leaderTimeout is how long the rtNode waits for a round's leader.
const leaderTimeout = 100 * time.Millisecond

// roundInterval paces the rtNode's rounds.
const roundInterval = 10 * time.Millisecond

func newRTNode(t *testing.T) *rtNode {
	t.Helper()
	seed := graph.KeySeed(14, 0)
	key := ed25519.NewKeyFromSeed(seed[:])
	n := &rtNode{t: t, key: key, store: newMemStore(), tr: &memTransport{}, hooks: &hookLog{done: map[tx.ID]node.TxStatus{}}}
	n.gen = cluster.Genesis{Time: time.Now().UnixNano(),
		Params: cluster.Params{Treasury: payment.Address{7}, Price: cluster.Price{VCPUHour: 1000}, StatusTimeout: 6 * time.Second},
		Operators: []cluster.GenesisOperator{{Key: tx.Key(key.Public().(ed25519.PublicKey)), PeerID: string(selfPeer), Region: "eu",
			Capacity: tx.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}}}}
	return n
}

// start builds and starts the runtime; it fails the test if Start does.
func (n *rtNode) start() {
	n.t.Helper()
	if err := n.startErr(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *rtNode) startErr() error {
	cfg := node.Config{}
	cfg.Ledger.LeaderTimeout = leaderTimeout
	cfg.Ledger.MinRoundInterval = roundInterval
	cfg.Ledger.MaxQueue = n.maxQueue
	cfg.Ledger.Hooks.Invalid = func(from transport.PeerID, _ error) {
		n.hooks.mu.Lock()
		defer n.hooks.mu.Unlock()
		n.hooks.invalid = append(n.hooks.invalid, invalidCall{from, goid()})
	}
	cfg.Ledger.Hooks.Fault = func(err error) {
		n.hooks.mu.Lock()
		defer n.hooks.mu.Unlock()
		n.hooks.faults = append(n.hooks.faults, err)
	}
	cfg.Hooks.Done = func(id tx.ID, st node.TxStatus) {
		n.hooks.mu.Lock()
		defer n.hooks.mu.Unlock()
		n.hooks.done[id] = st
	}
	n.rt = New(Options{Key: n.key, Genesis: n.gen, Store: n.store, Node: cfg, NodeID: string(selfPeer), Version: "test"})
	return n.rt.Start(n.tr)
}

func (n *rtNode) status() api.Status {
	n.t.Helper()
	st, err := n.rt.Status(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	return st
}

// loopID is the goroutine the loop runs on.
func (n *rtNode) loopID() uint64 {
	n.t.Helper()
	var id uint64
	if err := n.rt.do(context.Background(), func() { id = goid() }); err != nil {
		n.t.Fatal(err)
	}
	return id
}

// vmGet is a signed read transaction, the simplest one a node admits.
func (n *rtNode) vmGet(nonce uint64) []byte {
	c := &tx.Tx{Kind: tx.KindVMGet, Nonce: nonce, Expiry: time.Now().Add(tx.DefaultValidity).UnixNano(), VM: tx.ID{byte(nonce)}}
	c.Sign(n.key)
	return c.Encode()
}

// advance lets d of the bubble's time pass, then waits until whatever
// came due at that instant (timers, their callbacks on the loop) is done.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// goid is the calling goroutine's id, from its stack's first line.
func goid() uint64 {
	var buf [64]byte
	line := string(buf[:runtime.Stack(buf[:], false)])
	var id uint64
	if _, err := fmt.Sscanf(strings.TrimPrefix(line, "goroutine "), "%d", &id); err != nil {
		panic("no goroutine id in " + line)
	}
	return id
}

// metric reads a counter or gauge of the runtime's registry.
func (n *rtNode) metric(name string) float64 {
	n.t.Helper()
	fams, err := n.rt.opt.Metrics.Registry().Gather()
	if err != nil {
		n.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	n.t.Fatalf("no metric %s", name)
	return 0
}

// histogramSum is the sum of a histogram's observations.
func (n *rtNode) histogramSum(name string) float64 {
	n.t.Helper()
	fams, err := n.rt.opt.Metrics.Registry().Gather()
	if err != nil {
		n.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	n.t.Fatalf("no metric %s", name)
	return 0
}

// hold blocks the loop until the returned function is called: whatever
// reaches the runtime meanwhile waits in its queues. then, if not nil, runs
// on the loop on release, before anything queued meanwhile.
func (n *rtNode) hold(then func()) (release func()) {
	n.t.Helper()
	gate := make(chan struct{})
	if !n.rt.post(func() {
		<-gate
		if then != nil {
			then()
		}
	}) {
		n.t.Fatal("the loop has stopped")
	}
	synctest.Wait()
	return sync.OnceFunc(func() { close(gate) })
}

func (h *hookLog) invalidCalls() []invalidCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.invalid)
}

func (h *hookLog) doneOf(id tx.ID) (node.TxStatus, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.done[id]
	return st, ok
}

func (h *hookLog) faultCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.faults)
}

// isClosed reports whether c is closed, without waiting.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestRuntimeRunsTheNodeOnItsClock: Start replays, tells the transport
// whom to allow, and starts the loop; the node then advances only as its
// timers fire, on the runtime's clock: with no time passing nothing
// happens, and every round interval brings a commit, stored as the commit
// position.
func TestRuntimeRunsTheNodeOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		if got := n.tr.allowed(); len(got) != 1 || !slices.Equal(got[0], []transport.PeerID{selfPeer}) {
			t.Fatalf("Start allowed %v, want the one operator's peer", got)
		}
		synctest.Wait()
		st := n.status()
		if st.CommitIndex != 0 || st.Round != 0 || !st.Member || st.Fault != "" || st.Version != "test" {
			t.Fatalf("at start: %+v", st)
		}
		// A second of the clock: rounds and commits follow the timers.
		advance(time.Second)
		st = n.status()
		if st.CommitIndex < 50 {
			t.Fatalf("after a second of rounds every %v: %d commits", roundInterval, st.CommitIndex)
		}
		if idx, _, ok, _ := n.store.Committed(); !ok || idx != st.CommitIndex-1 {
			t.Fatalf("stored commit position %d (%v), want %d", idx, ok, st.CommitIndex-1)
		}
		// Without time passing, nothing moves: the loop and the timers are
		// idle (synctest.Wait returned), and no timer is due.
		synctest.Wait()
		if again := n.status(); again.CommitIndex != st.CommitIndex || again.Round != st.Round {
			t.Fatalf("the node moved with the clock stopped: %+v, then %+v", st, again)
		}
		advance(10 * roundInterval)
		if later := n.status(); later.CommitIndex != st.CommitIndex+10 {
			t.Fatalf("%d commits after %d and ten round intervals", later.CommitIndex, st.CommitIndex)
		}
	})
}

// TestRuntimeTimersRunOnTheLoop: a timer of the runtime's clock calls back
// on the loop's goroutine, after its duration and not before; a timer
// stopped before it fires never calls back, nor does one stopped after its
// time came but before the loop ran it (the loop was busy); Stop reports
// whether the call was still pending.
func TestRuntimeTimersRunOnTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		loop := n.loopID()
		clk := (*clock)(n.rt)
		ctx := context.Background()
		var fired []string
		var firedOn []uint64
		var early, late, kept node.Timer
		record := func(name string) func() {
			return func() { fired = append(fired, name); firedOn = append(firedOn, goid()) }
		}
		if err := n.rt.do(ctx, func() {
			kept = clk.AfterFunc(time.Second, record("kept"))
			early = clk.AfterFunc(time.Second, record("early"))
			late = clk.AfterFunc(time.Second, record("late"))
		}); err != nil {
			t.Fatal(err)
		}
		var stoppedEarly bool
		if err := n.rt.do(ctx, func() { stoppedEarly = early.Stop() }); err != nil {
			t.Fatal(err)
		}
		advance(time.Second - time.Nanosecond)
		var before []string
		if err := n.rt.do(ctx, func() { before = slices.Clone(fired) }); err != nil {
			t.Fatal(err)
		}
		if len(before) != 0 {
			t.Fatalf("timers of a second fired early: %v", before)
		}
		// The loop is busy when the timers' time comes: their callbacks
		// queue behind it, and late is stopped before they run.
		var stoppedLate, stoppedKept bool
		release := n.hold(func() { stoppedLate = late.Stop() })
		advance(time.Nanosecond)
		release()
		synctest.Wait()
		if err := n.rt.do(ctx, func() { stoppedKept = kept.Stop() }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fired, []string{"kept"}) {
			t.Fatalf("callbacks run: %v, want only kept's", fired)
		}
		if firedOn[0] != loop {
			t.Fatalf("a timer called back on goroutine %d, the loop is %d", firedOn[0], loop)
		}
		if !stoppedEarly || !stoppedLate || stoppedKept {
			t.Fatalf("Stop reported pending: before firing %v, fired but not run %v, after running %v; want true, true, false",
				stoppedEarly, stoppedLate, stoppedKept)
		}
	})
}

// TestRuntimeDeliversMessagesOnTheLoopInOrder: Deliver hands messages to
// the node on the loop's goroutine, in the order delivered, whichever
// goroutine delivers them; the node's answers reach the transport.
func TestRuntimeDeliversMessagesOnTheLoopInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		advance(time.Second)
		loop := n.loopID()
		const msgs = 100
		for i := range msgs {
			n.rt.Deliver(transport.PeerID(fmt.Sprint("peer-", i)), []byte("not a message"))
		}
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { n.rt.Deliver("elsewhere", []byte{0xff, byte(i)}) })
		}
		wg.Wait()
		synctest.Wait()
		calls := n.hooks.invalidCalls()
		if len(calls) != 2*msgs {
			t.Fatalf("%d messages handled, want %d", len(calls), 2*msgs)
		}
		for i, c := range calls {
			if i < msgs && c.from != transport.PeerID(fmt.Sprint("peer-", i)) {
				t.Fatalf("message %d handled from %s: out of order", i, c.from)
			}
			if c.gid != loop {
				t.Fatalf("message %d handled on goroutine %d, the loop is %d", i, c.gid, loop)
			}
		}
		if got := n.rt.inBytes.Load(); got != 0 {
			t.Fatalf("the inbox counts %d bytes once empty", got)
		}
		// A fetch for the node's latest event is answered to its sender.
		last, ok, _ := n.store.LastSigned()
		enc, stored, _ := n.store.Get(last.Ref.Hash)
		if !ok || !stored {
			t.Fatal("the node stored no event of its own")
		}
		n.rt.Deliver("asker", node.EncodeFetch([]graph.Hash{last.Ref.Hash}))
		synctest.Wait()
		answers := n.tr.sentTo("asker")
		if len(answers) != 1 {
			t.Fatalf("%d answers to a fetch", len(answers))
		}
		m, err := node.DecodeMessage(answers[0])
		if err != nil || m.Kind != node.KindBatch || len(m.Events) != 1 || !bytes.Equal(m.Events[0], enc) {
			t.Fatalf("answer to a fetch: %+v, %v", m, err)
		}
	})
}

// TestRuntimeInboxIsBounded: while the loop is busy, Deliver never blocks;
// past MaxInboxMessages it drops and counts, and what it kept is handled
// once the loop is free.
func TestRuntimeInboxIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		release := n.hold(nil)
		for range MaxInboxMessages + 3 {
			n.rt.Deliver("flood", []byte("x"))
		}
		if got := n.rt.inDrops.Load(); got != 3 {
			t.Fatalf("%d messages dropped, want 3", got)
		}
		if got := n.rt.inBytes.Load(); got != MaxInboxMessages {
			t.Fatalf("the inbox counts %d bytes, want %d", got, MaxInboxMessages)
		}
		release()
		synctest.Wait()
		if got := len(n.hooks.invalidCalls()); got != MaxInboxMessages {
			t.Fatalf("%d messages handled, want %d", got, MaxInboxMessages)
		}
		if got := n.rt.inBytes.Load(); got != 0 {
			t.Fatalf("the inbox counts %d bytes once empty", got)
		}
		n.rt.Close()
		if got := n.metric("dagger_inbox_dropped_messages_total"); got != 3 {
			t.Fatalf("metrics count %v dropped messages, want 3", got)
		}
	})
}

// TestRuntimeSubmitsOnTheLoop: a submission reaches the node on the loop
// and returns its id; it commits as the clock runs, its outcome reaches
// the Done hook and TxStatus, and its latency, measured on the runtime's
// clock from admission to outcome, reaches the metrics. What the node
// refuses returns its error.
func TestRuntimeSubmitsOnTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		advance(time.Second)
		ctx := context.Background()
		if _, err := n.rt.Submit(ctx, []byte("not a transaction")); !errors.Is(err, node.ErrRejected) {
			t.Fatalf("garbage submitted: %v", err)
		}
		ids := make([]tx.ID, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				id, err := n.rt.Submit(ctx, n.vmGet(uint64(i+1)))
				if err != nil {
					t.Errorf("submission %d: %v", i, err)
				}
				ids[i] = id
			})
		}
		wg.Wait()
		for i, id := range ids {
			if st, err := n.rt.TxStatus(ctx, id); err != nil || st.State != node.TxPending {
				t.Fatalf("submission %d right after admission: %+v, %v", i, st, err)
			}
		}
		admitted := time.Now()
		for {
			if _, ok := n.hooks.doneOf(ids[len(ids)-1]); ok {
				break
			}
			if time.Since(admitted) > time.Minute {
				t.Fatal("no outcome after a minute")
			}
			advance(roundInterval)
		}
		took := time.Since(admitted)
		synctest.Wait()
		for i, id := range ids {
			done, ok := n.hooks.doneOf(id)
			st, err := n.rt.TxStatus(ctx, id)
			if !ok || done.State != node.TxCommitted || err != nil || st.State != node.TxCommitted {
				t.Fatalf("submission %d: Done %+v (%v), TxStatus %+v, %v", i, done, ok, st, err)
			}
		}
		if got := n.metric("dagger_tx_commit_latency_seconds"); got != float64(len(ids)) {
			t.Fatalf("%v latencies observed, want %d", got, len(ids))
		}
		if got, max := n.histogramSum("dagger_tx_commit_latency_seconds"), float64(len(ids))*took.Seconds(); got <= 0 || got > max {
			t.Fatalf("latencies add up to %vs, want in (0, %v]", got, max)
		}
		if st := n.status(); st.CommittedTxs != uint64(len(ids)) || st.PendingTxs != 0 {
			t.Fatalf("status after the commits: %+v", st)
		}
	})
}

// TestRuntimeAnswersQueriesWhileRunning: the API's reads are answered from
// the loop while the node commits, and a read whose context ends while the
// loop is busy returns the context's error instead of waiting.
func TestRuntimeAnswersQueriesWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		ctx := context.Background()
		var last uint64
		advance(time.Second)
		for range 5 {
			advance(100 * time.Millisecond)
			st := n.status()
			if st.CommitIndex < last {
				t.Fatalf("the commit index went back from %d to %d", last, st.CommitIndex)
			}
			last = st.CommitIndex
			commits, err := n.rt.Commits(ctx, 0, 1<<20)
			if err != nil || uint64(len(commits)) != st.CommitIndex {
				t.Fatalf("%d commits listed at commit index %d: %v", len(commits), st.CommitIndex, err)
			}
			for i, c := range commits {
				if c.Index != uint64(i) {
					t.Fatalf("commit %d listed as %d", i, c.Index)
				}
			}
			if tail, err := n.rt.Commits(ctx, st.CommitIndex-2, 10); err != nil || len(tail) != 2 || tail[0].Index != st.CommitIndex-2 {
				t.Fatalf("the last two commits: %+v, %v", tail, err)
			}
		}
		if last == 0 {
			t.Fatal("the node did not commit")
		}
		ops, err := n.rt.Operators(ctx)
		if err != nil || len(ops) != 1 || ops[0].PeerID != string(selfPeer) {
			t.Fatalf("operators: %+v, %v", ops, err)
		}
		if p, err := n.rt.Params(ctx); err != nil || p.Treasury != n.gen.Params.Treasury {
			t.Fatalf("params: %+v, %v", p, err)
		}
		if _, ok, err := n.rt.VM(ctx, tx.ID{1}); ok || err != nil {
			t.Fatalf("an unknown VM: %v, %v", ok, err)
		}
		if vs, err := n.rt.VMsByOwner(ctx, tx.Key{1}); len(vs) != 0 || err != nil {
			t.Fatalf("VMs of nobody: %v, %v", vs, err)
		}
		var h graph.Hash
		n.store.mu.Lock()
		for h = range n.store.events {
			break
		}
		n.store.mu.Unlock()
		if enc, ok, err := n.rt.Event(ctx, h); !ok || err != nil || len(enc) == 0 {
			t.Fatalf("a stored event: %d bytes, %v, %v", len(enc), ok, err)
		}

		release := n.hold(nil)
		defer release()
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		began := time.Now()
		if _, err := n.rt.Status(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("status with the loop busy past the deadline: %v", err)
		}
		if took := time.Since(began); took != time.Second {
			t.Fatalf("the busy status returned after %v, its deadline was a second", took)
		}
	})
}

// TestRuntimeSnapshotsShareOneCopy: snapshots are read from the store, not
// the loop, once for every download of the same one, whichever goroutines
// ask at once; with none stored the store is asked each time; a stopped
// node still serves the one it stored.
func TestRuntimeSnapshotsShareOneCopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		ctx := context.Background()
		atStart := n.store.reads() // the node looked for one to start from
		for range 2 {
			if _, ok, err := n.rt.Snapshot(ctx); ok || err != nil {
				t.Fatalf("no snapshot stored: %v, %v", ok, err)
			}
		}
		if got := n.store.reads() - atStart; got != 2 {
			t.Fatalf("the store was read %d times for two downloads with none stored", got)
		}
		data := bytes.Repeat([]byte("state"), 1000)
		if err := n.store.PutSnapshot(node.Snapshot{Epoch: 3, Commit: 7, Data: data}); err != nil {
			t.Fatal(err)
		}
		got := make([]node.Snapshot, 8)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				sn, ok, err := n.rt.Snapshot(ctx)
				if !ok || err != nil {
					t.Errorf("download %d: %v, %v", i, ok, err)
				}
				got[i] = sn
			})
		}
		wg.Wait()
		for i, sn := range got {
			if sn.Commit != 7 || !bytes.Equal(sn.Data, data) || &sn.Data[0] != &got[0].Data[0] {
				t.Fatalf("download %d: commit %d, %d bytes, shared %v", i, sn.Commit, len(sn.Data), &sn.Data[0] == &got[0].Data[0])
			}
		}
		if reads := n.store.reads() - atStart; reads != 3 {
			t.Fatalf("the store was read %d times for %d downloads of one snapshot, want once", reads-2, len(got))
		}
		n.rt.Close()
		if sn, ok, err := n.rt.Snapshot(ctx); !ok || err != nil || &sn.Data[0] != &got[0].Data[0] {
			t.Fatalf("after Close: %v, %v", ok, err)
		}
	})
}

// TestRuntimeCloseStopsEverything: Close returns once the loop stopped,
// having stopped the node and published its last figures; it may be
// called again; calls that need the loop then say it is unavailable, and
// no goroutine is left, not even when the node's timers come due.
func TestRuntimeCloseStopsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		advance(time.Second)
		final := n.status()
		n.rt.Close()
		if !isClosed(n.rt.Done()) {
			t.Fatal("Close returned before the loop stopped")
		}
		if got := n.metric("dagger_commits_total"); got != float64(final.CommitIndex) {
			t.Fatalf("metrics publish %v commits at Close, the node applied %d", got, final.CommitIndex)
		}
		n.rt.Close()
		ctx := context.Background()
		if _, err := n.rt.Submit(ctx, n.vmGet(1)); !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("submit after Close: %v", err)
		}
		if _, err := n.rt.Status(ctx); !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("status after Close: %v", err)
		}
		if n.rt.Fault() != nil {
			t.Fatalf("a closed node reports a fault: %v", n.rt.Fault())
		}
		// Nor do they wait when the loop stopped with its queue full.
	fill:
		for {
			select {
			case n.rt.ctl <- func() {}:
			default:
				break fill
			}
		}
		if _, err := n.rt.Status(ctx); !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("status after Close with the control queue full: %v", err)
		}
		sent := len(n.tr.sentTo(""))
		advance(time.Minute) // every timer the node had armed comes due
		if now := len(n.tr.sentTo("")); now != sent {
			t.Fatalf("the node broadcast %d messages after Close", now-sent)
		}
		// synctest.Test fails if any goroutine of the bubble is left.
	})
}

// TestRuntimeStopsOnAStoreFailure: a store that fails a write stops the
// node by itself: the loop ends, Done closes, Fault and Status say why,
// nothing is sent any more, and Close still returns. A failure to store the commit position, the runtime's own
// write, does the same.
func TestRuntimeStopsOnAStoreFailure(t *testing.T) {
	for _, tc := range []struct {
		name           string
		put, committed error
		want           string
		// hooks is how often the node's Fault hook runs: the ledger's
		// faults reach it, the runtime's own do not.
		hooks int
	}{
		{"event", errors.New("disk on fire"), nil, "disk on fire", 1},
		{"commit position", nil, errors.New("disk full"), "store commit position: disk full", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newRTNode(t)
				n.start()
				advance(time.Second)
				n.store.fail(tc.put, tc.committed)
				advance(10 * roundInterval)
				if !isClosed(n.rt.Done()) {
					t.Fatal("the loop runs on after the store failed")
				}
				if err := n.rt.Fault(); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Fault() = %v, want %q", err, tc.want)
				}
				st, err := n.rt.Status(context.Background())
				if err != nil || !strings.Contains(st.Fault, tc.want) || st.NodeID != string(selfPeer) {
					t.Fatalf("status of a faulted node: %+v, %v", st, err)
				}
				if _, err := n.rt.Submit(context.Background(), n.vmGet(1)); !errors.Is(err, api.ErrUnavailable) {
					t.Fatalf("submit to a faulted node: %v", err)
				}
				if got := n.hooks.faultCount(); got != tc.hooks {
					t.Fatalf("the Fault hook ran %d times, want %d", got, tc.hooks)
				}
				if got := n.metric("dagger_faulted"); got != 1 {
					t.Fatalf("metrics show faulted = %v", got)
				}
				sent := len(n.tr.sentTo(""))
				advance(time.Minute)
				if now := len(n.tr.sentTo("")); now != sent {
					t.Fatalf("a faulted node broadcast %d messages", now-sent)
				}
				n.rt.Close()
			})
		})
	}
}

// TestRuntimeRestartsFromItsStore: a runtime started again over the store
// of a stopped one replays it on Start, without storing again the commit
// positions stored before; a replay that fails to store one fails Start,
// with the loop never started.
func TestRuntimeRestartsFromItsStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		advance(time.Second)
		before := n.status()
		n.rt.Close()

		n.store.fail(nil, errors.New("read-only"))
		n.start() // the replay's commits are all stored already
		if st := n.status(); st.CommitIndex < before.CommitIndex || st.StateHash == "" {
			t.Fatalf("after the restart: %+v, before: %+v", st, before)
		}
		n.rt.Close()

		n.store.mu.Lock()
		n.store.committed.ok = false // as if the position was never stored
		n.store.mu.Unlock()
		err := n.startErr()
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("Start with a replay that cannot store its position: %v", err)
		}
		if !isClosed(n.rt.Done()) {
			t.Fatal("Done is open after a failed Start")
		}
		n.rt.Close()
	})
}

// TestRuntimePublishesMetricsEveryPeriod: the metrics are a snapshot taken
// at Start, every publishEvery, and at Close; between those they stay.
func TestRuntimePublishesMetricsEveryPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		advance(publishEvery - time.Nanosecond)
		if st := n.status(); st.CommitIndex == 0 {
			t.Fatal("no commit before the first publication")
		}
		if got := n.metric("dagger_commits_total"); got != 0 {
			t.Fatalf("metrics show %v commits before their period came", got)
		}
		advance(time.Nanosecond)
		if got := n.metric("dagger_commits_total"); got == 0 {
			t.Fatal("metrics show no commit after their period")
		}
		n.rt.Close()
	})
}

// TestRuntimePublishesTheSnapshotSize: dagger_snapshot_bytes is the size
// of the snapshot the node stored at its last epoch boundary, and, after a
// restart, of the one it started from.
func TestRuntimePublishesTheSnapshotSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.gen.Params.EpochLength = time.Second
		n.start()
		if got := n.metric("dagger_snapshot_bytes"); got != 0 {
			t.Fatalf("dagger_snapshot_bytes %v before any snapshot", got)
		}
		advance(2*time.Second + publishEvery)
		sn, ok, err := n.store.LatestSnapshot()
		if !ok || err != nil {
			t.Fatalf("no snapshot after two epochs: %v, %v", ok, err)
		}
		if got := n.metric("dagger_snapshot_bytes"); got != float64(len(sn.Data)) {
			t.Fatalf("dagger_snapshot_bytes %v, the latest snapshot has %d bytes", got, len(sn.Data))
		}
		n.rt.Close()
		n.start()
		if got := n.metric("dagger_snapshot_bytes"); got != float64(len(sn.Data)) {
			t.Fatalf("after the restart dagger_snapshot_bytes %v, the snapshot it started from has %d bytes", got, len(sn.Data))
		}
		n.rt.Close()
	})
}

// TestRuntimeStoresSnapshotsOffItsLoop: while a snapshot is being
// stored the loop goes on committing, and Close waits for the store's
// write before it returns (the caller closes the store after it).
func TestRuntimeStoresSnapshotsOffItsLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.gen.Params.EpochLength = time.Second
		hold := make(chan struct{})
		n.store.holdSnapshots = hold
		n.start()
		advance(1500 * time.Millisecond)
		at := n.status().CommitIndex
		advance(time.Second)
		if st := n.status(); st.CommitIndex <= at {
			t.Fatalf("no commit while the snapshot was being stored (commit %d, then %d)", at, st.CommitIndex)
		}
		if _, ok, _ := n.store.LatestSnapshot(); ok {
			t.Fatal("a held snapshot was stored")
		}
		closed := make(chan struct{})
		go func() {
			n.rt.Close()
			close(closed)
		}()
		synctest.Wait()
		if isClosed(closed) {
			t.Fatal("Close returned while a snapshot was being stored")
		}
		close(hold)
		<-closed
		if sn, ok, err := n.store.LatestSnapshot(); !ok || err != nil || sn.Epoch != 1 {
			t.Fatalf("after Close: snapshot of epoch %d (%v, %v), want epoch 1's", sn.Epoch, ok, err)
		}
	})
}

// TestRuntimeIgnoresMessagesAfterClose: what arrives after Close neither
// panics nor blocks nor reaches the node, even past the inbox's bound.
func TestRuntimeIgnoresMessagesAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		advance(time.Second)
		n.rt.Close()
		handled := len(n.hooks.invalidCalls())
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range MaxInboxMessages/2 + 1 {
					n.rt.Deliver("late", []byte("after close"))
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if got := len(n.hooks.invalidCalls()); got != handled {
			t.Fatalf("%d messages reached the node after Close", got-handled)
		}
		if got := n.rt.inDrops.Load(); got == 0 {
			t.Fatal("twice the inbox's bound arrived after Close and none was dropped")
		}
	})
}

// TestRuntimeCommitsOpaqueTransactions: application transactions queued
// through SubmitOpaque in one turn of the loop are all committed, and the
// processor takes no notice of them; an empty one is rejected, and those
// before it stay queued.
func TestRuntimeCommitsOpaqueTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		advance(time.Second)
		ctx := context.Background()
		before := n.status()
		var txs [][]byte
		for i := range 500 {
			txs = append(txs, []byte(fmt.Sprintf("opaque %04d", i)))
		}
		if got, err := n.rt.SubmitOpaque(ctx, txs); got != len(txs) || err != nil {
			t.Fatalf("SubmitOpaque: %d, %v", got, err)
		}
		if got, err := n.rt.SubmitOpaque(ctx, [][]byte{[]byte("a"), nil, []byte("b")}); got != 1 || !errors.Is(err, node.ErrRejected) {
			t.Fatalf("an empty transaction second: %d, %v", got, err)
		}
		txs = append(txs, []byte("a"))
		committed := 0
		for deadline := time.Now().Add(time.Minute); committed < len(txs); {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d committed after a minute", committed, len(txs))
			}
			advance(roundInterval)
			cs, err := n.rt.Commits(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			committed = 0
			for _, c := range cs {
				committed += c.Txs
			}
		}
		if committed != len(txs) {
			t.Fatalf("%d transactions committed, %d submitted", committed, len(txs))
		}
		// The state machine ignored them: no transaction of the node's own
		// became pending or done because of them.
		if st := n.status(); st.PendingTxs != before.PendingTxs {
			t.Fatalf("pending transactions %d before, %d after", before.PendingTxs, st.PendingTxs)
		}
	})
}

// TestRuntimeOpaqueSaysBusyWhenTheQueueIsFull: SubmitOpaque queues until
// the ledger's queue is full, says how many it took, and calls the rest
// busy, which the API answers with 503 and Retry-After.
func TestRuntimeOpaqueSaysBusyWhenTheQueueIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.maxQueue = 10
		n.start()
		defer n.rt.Close()
		var txs [][]byte
		for i := range 15 {
			txs = append(txs, []byte(fmt.Sprint("t", i)))
		}
		// One turn of the loop takes them all, so no event empties the
		// queue in between.
		got, err := n.rt.SubmitOpaque(context.Background(), txs)
		if got != 10 || !errors.Is(err, node.ErrBusy) {
			t.Fatalf("15 into a queue of 10: %d, %v", got, err)
		}
	})
}

// TestRuntimeWatchCommits: a watcher hears every commit from its
// subscription on, in order, with the hashes of its transactions; one
// whose context ends is let go; one that never reads is dropped once it is
// behind, with ErrWatchBehind; every watch ends when the node stops.
func TestRuntimeWatchCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		advance(time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := n.rt.WatchCommits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		idle, err := n.rt.WatchCommits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var txs [][]byte
		want := map[graph.Hash]bool{}
		for i := range 300 {
			txs = append(txs, fmt.Appendf(nil, "watched %04d", i))
			want[graph.TxHash(txs[i])] = true
		}
		if _, err := n.rt.SubmitOpaque(context.Background(), txs); err != nil {
			t.Fatal(err)
		}
		var last uint64
		first := true
		for len(want) > 0 {
			var c api.CommitTxs
			select {
			case c = <-w.C:
			case <-time.After(time.Minute):
				t.Fatalf("%d transactions not heard after a minute", len(want))
			}
			if !first && c.Index != last+1 {
				t.Fatalf("commit %d after %d", c.Index, last)
			}
			first, last = false, c.Index
			for _, h := range c.Hashes {
				delete(want, h)
			}
		}
		cancel()
		for range w.C {
		}
		if err := w.Err(); err != nil {
			t.Fatalf("a watcher that left: %v", err)
		}
		// The idle watcher's buffer fills, commit by commit (most are empty
		// rounds), and it is dropped.
		for deadline := time.Now().Add(time.Hour); ; advance(roundInterval) {
			if time.Now().After(deadline) {
				t.Fatal("a watcher that never reads is still there after an hour")
			}
			n.rt.watch.mu.Lock()
			left := len(n.rt.watch.subs)
			n.rt.watch.mu.Unlock()
			if left == 0 {
				break
			}
		}
		for range idle.C {
		}
		if err := idle.Err(); !errors.Is(err, api.ErrWatchBehind) {
			t.Fatalf("a watcher that never reads: %v", err)
		}
		late, err := n.rt.WatchCommits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n.rt.Close()
		for range late.C {
		}
		if err := late.Err(); err == nil || !strings.Contains(err.Error(), "stopped") {
			t.Fatalf("a watch when the node stops: %v", err)
		}
		if _, err := n.rt.WatchCommits(context.Background()); !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("a watch after the node stopped: %v", err)
		}
	})
}
