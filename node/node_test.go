package node_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/provision"
	"dagger/transport"
)

// solo is one node that is the whole committee, on a manual clock: it
// commits alone, so the controller and processor can be driven step by
// step.
type solo struct {
	t      testing.TB
	now    int64
	timers []*soloTimer
	key    ed25519.PrivateKey
	n      *node.Node
	store  *node.MemStore
	hv     *provision.Sim
	chain  *payment.MemChain
	done   map[tx.ID]node.TxStatus
	nonce  uint64
	block  uint64
	gen    cluster.Genesis
	keep   int // KeepEpochs
	// checker is the node's TxChecker, bg its Background.
	checker node.TxChecker
	bg      node.Background
	// hashes are the state hashes after each commit index; a commit
	// applied again after a restart must give the same.
	hashes   map[uint64][32]byte
	mismatch []uint64
}

type soloTimer struct {
	at      int64
	f       func()
	stopped bool
}

func (t *soloTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (s *solo) Now() int64 { return s.now }

func (s *solo) AfterFunc(d time.Duration, f func()) node.Timer {
	t := &soloTimer{at: s.now + int64(d), f: f}
	s.timers = append(s.timers, t)
	return t
}

func (s *solo) Send(transport.PeerID, []byte) {}
func (s *solo) Broadcast([]byte)              {}
func (s *solo) Peers() []transport.PeerID     { return nil }

var soloTreasury = payment.Address{7}

func newSolo(t testing.TB) *solo { return newSoloWith(t, nil) }

// newSoloWith starts a solo node whose TxChecker is c.
func newSoloWith(t testing.TB, c node.TxChecker) *solo {
	seed := graph.KeySeed(9, 0)
	s := &solo{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), key: ed25519.NewKeyFromSeed(seed[:]),
		store: node.NewMemStore(), done: map[tx.ID]node.TxStatus{}, hashes: map[uint64][32]byte{}}
	s.gen = cluster.Genesis{Time: s.now, Params: cluster.Params{Treasury: soloTreasury,
		Price: cluster.Price{VCPUHour: 1000}, StatusTimeout: 6 * time.Second},
		Operators: []cluster.GenesisOperator{{Key: tx.Key(s.key.Public().(ed25519.PublicKey)), Region: "eu",
			Capacity: tx.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}}}}
	s.chain = payment.NewMemChain(s.Now)
	hv, err := provision.NewSim(provision.SimConfig{Capacity: provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100},
		BootTime: 2 * time.Second, Now: s.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.hv = hv
	s.checker = c
	s.start()
	return s
}

func (s *solo) start() {
	s.timers = nil
	n, err := node.NewNode(node.Config{Key: s.key, Genesis: s.gen, Provisioner: s.hv, Chain: s.chain,
		ConfirmTimeout: 10 * time.Second, TxChecker: s.checker, Background: s.bg,
		Ledger: node.LedgerConfig{Graph: graph.Config{Signer: graph.Ed25519SignerFromSeed(graph.KeySeed(9, 0))}, Transport: s, Clock: s, Store: s.store,
			LeaderTimeout: 100 * time.Millisecond, FetchRetry: 50 * time.Millisecond},
		KeepEpochs: s.keep,
		Hooks: node.NodeHooks{Done: func(id tx.ID, st node.TxStatus) { s.done[id] = st },
			Applied: func(c graph.Commit, _ cluster.Result, h [32]byte) {
				if old, ok := s.hashes[c.Index]; ok && old != h {
					s.mismatch = append(s.mismatch, c.Index)
				}
				s.hashes[c.Index] = h
			}}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.n = n
	n.Start()
}

// run advances the clock by d, firing timers in order.
func (s *solo) run(d time.Duration) {
	end := s.now + int64(d)
	for {
		slices.SortStableFunc(s.timers, func(a, b *soloTimer) int { return int(a.at - b.at) })
		if len(s.timers) == 0 || s.timers[0].at > end {
			break
		}
		t := s.timers[0]
		s.timers = s.timers[1:]
		s.now = max(s.now, t.at)
		if !t.stopped {
			t.stopped = true
			t.f()
		}
	}
	s.now = end
}

func (s *solo) create(late time.Duration, fail bool, lamports int64) *tx.Tx {
	c := &tx.Tx{Kind: tx.KindVMCreate, Spec: tx.Spec{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12", Region: "eu"},
		Lease: time.Hour, Expiry: s.now + int64(tx.DefaultValidity)}
	s.nonce++
	c.Nonce = s.nonce
	if lamports < 0 {
		p, _ := s.n.State().Params().PriceOf(c.Spec, c.Lease)
		lamports = int64(p)
	}
	s.block++
	wallet := ed25519.NewKeyFromSeed(make([]byte, 32))
	c.Author = tx.Key(wallet.Public().(ed25519.PublicKey))
	raw, sig, err := payment.Build(wallet, soloTreasury, uint64(lamports), c.Memo(), sha256.Sum256([]byte{byte(s.block)}))
	if err != nil {
		s.t.Fatal(err)
	}
	switch {
	case fail:
		s.chain.RecordFailed(sig)
	case late >= 0:
		s.chain.Record(sig, s.now+int64(late))
	}
	c.Payment = raw
	c.Sign(wallet)
	return c
}

func TestProcessorRejectsWithAReason(t *testing.T) {
	s := newSolo(t)
	good := s.create(0, false, -1)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte("not a transaction"), "prefix"},
		{"underpaid", s.create(0, false, 1).Encode(), "underpaid"},
		{"tampered", func() []byte { b := good.Encode(); b[len(b)-1] ^= 1; return b }(), "signature"},
	} {
		_, err := s.n.Submit(c.data)
		if !errors.Is(err, node.ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a rejection mentioning %q", c.name, err, c.want)
		}
	}
}

// TestAdmissionWithAStaleStateTakesWhatTheClusterWould: a node whose state
// lags the order (one restarted without its store starts from a snapshot's
// consensus time) does not refuse a transaction whose expiry is too far
// ahead of that time but within the window of its clock: consensus time
// follows the honest clocks, so the cluster would take it, and a refusal
// would be an answer no order explains. An expiry too far ahead of the
// clock too is refused.
func TestAdmissionWithAStaleStateTakesWhatTheClusterWould(t *testing.T) {
	s := newSolo(t)
	s.run(2 * time.Second)
	// The clock moves on while the node processes nothing: its state's
	// consensus time stays minutes behind.
	s.now += int64(5 * time.Minute)
	wallet := ed25519.NewKeyFromSeed(make([]byte, 32))
	get := func(expiry int64) []byte {
		s.nonce++
		g := &tx.Tx{Kind: tx.KindVMGet, VM: tx.ID{7}, Nonce: s.nonce, Expiry: expiry}
		g.Sign(wallet)
		return g.Encode()
	}
	id, err := s.n.Submit(get(s.now + int64(tx.DefaultValidity)))
	if err != nil {
		t.Fatalf("an expiry within the clock's window, ahead of the stale consensus time: %v", err)
	}
	if _, err := s.n.Submit(get(s.now + int64(tx.MaxValidity+time.Minute))); !errors.Is(err, node.ErrRejected) || !strings.Contains(err.Error(), "ahead") {
		t.Fatalf("an expiry beyond the clock's window: %v", err)
	}
	s.run(30 * time.Second)
	if st := s.n.TxStatus(id); st.State != node.TxCommitted {
		t.Fatalf("the transaction admitted by the lagging node: %+v", st)
	}
}

// TestAdmissionChecksTheSignatureOfACopyAndRefusesWhatCommitted: a copy
// of a pending transaction with a broken signature is refused, not reported
// admitted; a transaction that committed is refused as a duplicate.
func TestAdmissionChecksTheSignatureOfACopyAndRefusesWhatCommitted(t *testing.T) {
	s := newSolo(t)
	good := s.create(0, false, -1)
	id, err := s.n.Submit(good.Encode())
	if err != nil {
		t.Fatal(err)
	}
	bad := good.Encode()
	bad[len(bad)-1] ^= 1 // the signature's last byte: the same id, a broken signature
	if _, err := s.n.Submit(bad); !errors.Is(err, node.ErrRejected) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("a copy with a broken signature while the original is pending: %v", err)
	}
	if again, err := s.n.Submit(good.Encode()); err != nil || again != id {
		t.Fatalf("the same transaction again while pending: %v", err)
	}
	s.run(30 * time.Second)
	if st := s.n.TxStatus(id); st.State != node.TxCommitted {
		t.Fatalf("the transaction did not commit: %+v", st)
	}
	if _, err := s.n.Submit(good.Encode()); !errors.Is(err, node.ErrRejected) || !strings.Contains(err.Error(), "already committed") {
		t.Fatalf("a committed transaction sent again: %v", err)
	}
}

func TestVMIsPaidOrderedProvisionedAndReportedRunning(t *testing.T) {
	s := newSolo(t)
	c := s.create(0, false, -1)
	id, err := s.n.Submit(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if st := s.n.TxStatus(id); st.State != node.TxPending {
		t.Fatalf("status right after submit: %v", st.State)
	}
	s.run(2 * time.Second)
	st, ok := s.done[id]
	if !ok || st.State != node.TxCommitted || !st.Outcome.OK {
		t.Fatalf("create: %+v (done %v)", st, ok)
	}
	if got := s.n.TxStatus(id); got.State != node.TxCommitted || got.Event.IsZero() {
		t.Fatalf("TxStatus after commit: %+v", got)
	}
	s.run(6 * time.Second)
	d, err := s.hv.State(id.String())
	if err != nil || d.State != provision.StateRunning {
		t.Fatalf("domain %+v, %v", d, err)
	}
	if v, _ := s.n.State().VM(id); v.State != cluster.VMRunning {
		t.Fatalf("cluster thinks the VM is %s", v.State)
	}
	// A domain the cluster does not want is removed.
	if err := s.hv.Define(provision.Spec{ID: strings.Repeat("ab", 32), VCPU: 1, MemoryMiB: 1, DiskGiB: 1, Image: "x"}); err != nil {
		t.Fatal(err)
	}
	s.run(2 * time.Second)
	if doms, _ := s.hv.List(); len(doms) != 1 {
		t.Fatalf("%d domains after reconciling, want 1", len(doms))
	}
	// A restart from the store rebuilds the same state.
	h := s.n.State().Hash()
	commits := s.n.State().Commits()
	s.n.Stop()
	s.start()
	if s.n.State().Commits() < commits {
		t.Fatalf("restarted node replayed %d of %d commits", s.n.State().Commits(), commits)
	}
	s.run(time.Second)
	if s.n.State().Commits() == commits && s.n.State().Hash() != h {
		t.Fatal("replay built another state")
	}
	if v, _ := s.n.State().VM(id); v.State != cluster.VMRunning {
		t.Fatalf("after restart the VM is %s", v.State)
	}
}

func TestPaymentsWaitForFinalityAndBounce(t *testing.T) {
	s := newSolo(t)
	late := s.create(5*time.Second, false, -1)
	bounced := s.create(0, true, -1)
	lost := s.create(-1, false, -1) // never reaches the chain
	ids := map[string]tx.ID{}
	for name, c := range map[string]*tx.Tx{"late": late, "bounced": bounced, "lost": lost} {
		id, err := s.n.Submit(c.Encode())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids[name] = id
	}
	s.run(3 * time.Second)
	if _, ok := s.done[ids["late"]]; ok {
		t.Fatal("a payment not yet finalized was admitted")
	}
	if st := s.done[ids["bounced"]]; st.State != node.TxRejected || !strings.Contains(st.Reason, "failed on chain") {
		t.Fatalf("bounced: %+v", st)
	}
	s.run(5 * time.Second)
	if st := s.done[ids["late"]]; st.State != node.TxCommitted || !st.Outcome.OK {
		t.Fatalf("late: %+v", st)
	}
	s.run(5 * time.Second)
	if st := s.done[ids["lost"]]; st.State != node.TxRejected || !strings.Contains(st.Reason, "not finalized") {
		t.Fatalf("lost: %+v", st)
	}
}

func TestDeadHostReportsItsVMsFailed(t *testing.T) {
	s := newSolo(t)
	id, err := s.n.Submit(s.create(0, false, -1).Encode())
	if err != nil {
		t.Fatal(err)
	}
	s.run(5 * time.Second)
	s.hv.Kill()
	s.run(3 * time.Second)
	v, _ := s.n.State().VM(id)
	if len(v.Tried) != 1 || v.State.Placed() {
		t.Fatalf("after the host died the VM is %s (tried %d)", v.State, len(v.Tried))
	}
}

// TestRestartFromTheSnapshotAtTheEpochStart: every epoch boundary stores a
// snapshot of the state; a restarted node starts from the newest one,
// replays only the events since, and reaches the same state at every
// commit; the events of epochs older than KeepEpochs are pruned.
func TestRestartFromTheSnapshotAtTheEpochStart(t *testing.T) {
	s := newSolo(t)
	s.keep = 1
	s.n.Stop() // it has not run yet
	s.gen.Params.EpochLength = 5 * time.Second
	s.start()
	s.run(2 * time.Second) // so that the transaction is not in commit 0
	id, err := s.n.Submit(s.create(0, false, -1).Encode())
	if err != nil {
		t.Fatal(err)
	}
	s.run(15 * time.Second) // three boundaries
	if st := s.n.State(); st.Epoch() != 3 {
		t.Fatalf("epoch %d after 17 s, want 3", st.Epoch())
	}
	sn, ok, err := s.store.LatestSnapshot()
	if !ok || err != nil || sn.Epoch != 3 || sn.Commit == 0 || sn.Commit != s.n.SnapshotCommit() {
		t.Fatalf("latest snapshot epoch %d commit %d (%v, %v); node says %d", sn.Epoch, sn.Commit, ok, err, s.n.SnapshotCommit())
	}
	if got := s.n.Stats().SnapshotBytes; got != uint64(len(sn.Data)) || got == 0 {
		t.Fatalf("SnapshotBytes %d, want the stored snapshot's %d", got, len(sn.Data))
	}
	if h := s.hashes[sn.Commit-1]; h != mustRestore(t, sn, s.gen).Hash() {
		t.Fatal("the snapshot is not the state after the boundary commit")
	}
	// Epochs below 2 are pruned; 2 and 3 stay.
	if err := s.store.Scan(node.Position{}, func(pos node.Position, _ []byte) bool {
		if pos.Epoch < 2 {
			t.Fatalf("an event of epoch %d is still stored", pos.Epoch)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	commits, h := s.n.State().Commits(), s.n.State().Hash()
	before := s.n.TxStatus(id)
	if before.State != node.TxCommitted || before.Commit == 0 || before.Commit >= sn.Commit || before.Event.IsZero() {
		t.Fatalf("before the restart, at snapshot commit %d: %+v, want committed at a commit in 1..%d", sn.Commit, before, sn.Commit-1)
	}
	s.n.Stop()
	s.start()
	if s.n.FirstCommit() != sn.Commit || s.n.Ledger().Epoch() != 3 {
		t.Fatalf("restarted at commit %d epoch %d, want the snapshot's %d, 3", s.n.FirstCommit(), s.n.Ledger().Epoch(), sn.Commit)
	}
	if got := s.n.Stats().SnapshotBytes; got != uint64(len(sn.Data)) {
		t.Fatalf("after the restart SnapshotBytes %d, want the snapshot it started from's %d", got, len(sn.Data))
	}
	if got := s.n.State().Commits(); got != commits || s.n.State().Hash() != h {
		t.Fatalf("replay from the snapshot reached commit %d, want %d, or another state", got, commits)
	}
	s.run(8 * time.Second)
	if len(s.mismatch) > 0 {
		t.Fatalf("commits %v gave other states after the restart", s.mismatch)
	}
	if v, _ := s.n.State().VM(id); v.State != cluster.VMRunning {
		t.Fatalf("after the restart the VM is %s", v.State)
	}
	if st := s.n.TxStatus(id); st.State != node.TxCommitted || st.Commit != before.Commit || !st.Event.IsZero() {
		t.Fatalf("a transaction of an epoch before the snapshot: %+v, want committed at commit %d, in no event this node kept",
			st, before.Commit)
	}
}

// heldWork is a node.Background whose work runs when the test says.
type heldWork struct{ work, done []func() }

func (h *heldWork) Go(work, done func()) {
	h.work, h.done = append(h.work, work), append(h.done, done)
}

// release runs the first work held, then its done, as the node's
// goroutine would.
func (h *heldWork) release(t *testing.T) {
	t.Helper()
	if len(h.work) == 0 {
		t.Fatal("no work held")
	}
	w, d := h.work[0], h.done[0]
	h.work, h.done = h.work[1:], h.done[1:]
	w()
	d()
}

// TestCheckpointsStoredInTheBackground: a node stores its snapshots
// through its Background, one at a time. The snapshot stored is the state
// at the boundary however far the node moved on while it was stored; a
// boundary reached meanwhile waits, and only the newest of those is
// stored; events are pruned only once the snapshot that replaces them is
// stored.
func TestCheckpointsStoredInTheBackground(t *testing.T) {
	s := newSolo(t)
	s.keep = 1
	bg := &heldWork{}
	s.bg = bg
	s.n.Stop() // it has not run yet
	s.gen.Params.EpochLength = 5 * time.Second
	s.start()
	s.run(2 * time.Second)
	if _, err := s.n.Submit(s.create(0, false, -1).Encode()); err != nil {
		t.Fatal(err)
	}
	s.run(4 * time.Second) // the first boundary
	if len(bg.work) != 1 {
		t.Fatalf("%d checkpoints handed to the background after the first boundary, want 1", len(bg.work))
	}
	if _, ok, _ := s.store.LatestSnapshot(); ok || s.n.SnapshotCommit() != 0 {
		t.Fatal("a snapshot was stored before its work ran")
	}
	s.run(10 * time.Second) // two more boundaries, while the first is stored
	if st := s.n.State(); st.Epoch() != 3 || len(bg.work) != 1 {
		t.Fatalf("epoch %d, %d checkpoints in the background: want 3 and 1 (the others wait)", st.Epoch(), len(bg.work))
	}
	bg.release(t)
	sn, ok, err := s.store.LatestSnapshot()
	if !ok || err != nil || sn.Epoch != 1 || sn.Commit != s.n.SnapshotCommit() {
		t.Fatalf("after the first work: snapshot epoch %d commit %d (%v, %v), node says %d", sn.Epoch, sn.Commit, ok, err, s.n.SnapshotCommit())
	}
	if h := s.hashes[sn.Commit-1]; h != mustRestore(t, sn, s.gen).Hash() {
		t.Fatal("the snapshot stored is not the state at its boundary")
	}
	if len(bg.work) != 1 {
		t.Fatalf("%d checkpoints handed on after the first was stored, want the newest waiting one", len(bg.work))
	}
	pruned := true
	_ = s.store.Scan(node.Position{}, func(pos node.Position, _ []byte) bool {
		pruned = pos.Epoch >= 2
		return pruned
	})
	if pruned {
		t.Fatal("events of epoch 1 went before the snapshot of epoch 3 was stored")
	}
	bg.release(t)
	if sn, _, _ = s.store.LatestSnapshot(); sn.Epoch != 3 || sn.Commit != s.n.SnapshotCommit() {
		t.Fatalf("after the second work: snapshot epoch %d commit %d, node says %d; want epoch 3's", sn.Epoch, sn.Commit, s.n.SnapshotCommit())
	}
	if h := s.hashes[sn.Commit-1]; h != mustRestore(t, sn, s.gen).Hash() {
		t.Fatal("the second snapshot stored is not the state at its boundary")
	}
	if err := s.store.Scan(node.Position{}, func(pos node.Position, _ []byte) bool {
		if pos.Epoch < 2 {
			t.Fatalf("an event of epoch %d is still stored after the snapshot of epoch 3", pos.Epoch)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
}

func mustRestore(t *testing.T, sn node.Snapshot, g cluster.Genesis) *cluster.State {
	t.Helper()
	st, _, err := node.RestoreSnapshot(sn, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSnapshotOfAnotherClusterIsRefused: a store whose snapshot does not
// fit the genesis stops the node with an error, never a wrong state.
func TestSnapshotOfAnotherClusterIsRefused(t *testing.T) {
	s := newSolo(t)
	s.run(35 * time.Second)
	sn, ok, _ := s.store.LatestSnapshot()
	if !ok {
		t.Fatal("no snapshot after an epoch boundary")
	}
	other := s.gen
	other.Params.Price.VCPUHour++
	if _, _, err := node.RestoreSnapshot(sn, other, nil); err == nil || !strings.Contains(err.Error(), "another cluster") {
		t.Fatalf("snapshot of another cluster: %v", err)
	}
	bad := sn
	bad.Epoch++
	if _, _, err := node.RestoreSnapshot(bad, s.gen, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("snapshot stored under another epoch: %v", err)
	}
	bad = sn
	bad.Data = bad.Data[:len(bad.Data)-1]
	if _, _, err := node.RestoreSnapshot(bad, s.gen, nil); !errors.Is(err, cluster.ErrSnapshot) {
		t.Fatalf("truncated snapshot: %v", err)
	}
	s.n.Stop()
	if err := s.store.PutSnapshot(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NewNode(node.Config{Key: s.key, Genesis: s.gen,
		Ledger: node.LedgerConfig{Graph: graph.Config{Signer: graph.Ed25519SignerFromSeed(graph.KeySeed(9, 0))}, Transport: s, Clock: s, Store: s.store}}); !errors.Is(err, cluster.ErrSnapshot) {
		t.Fatalf("NewNode on a damaged snapshot: %v", err)
	}
}
