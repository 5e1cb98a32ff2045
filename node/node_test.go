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
	"dagger/graph/graphtest"
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
	t      *testing.T
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

func newSolo(t *testing.T) *solo {
	seed := graphtest.KeySeed(9, 0)
	s := &solo{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), key: ed25519.NewKeyFromSeed(seed[:]),
		store: node.NewMemStore(), done: map[tx.ID]node.TxStatus{}}
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
	s.start()
	return s
}

func (s *solo) start() {
	s.timers = nil
	n, err := node.NewNode(node.Config{Key: s.key, Genesis: s.gen, Provisioner: s.hv, Chain: s.chain,
		ConfirmTimeout: 10 * time.Second,
		Ledger: node.LedgerConfig{Graph: graph.Config{Signer: graph.Ed25519SignerFromSeed(graphtest.KeySeed(9, 0))}, Transport: s, Clock: s, Store: s.store,
			LeaderTimeout: 100 * time.Millisecond, FetchRetry: 50 * time.Millisecond},
		Hooks: node.NodeHooks{Done: func(id tx.ID, st node.TxStatus) { s.done[id] = st }}})
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
		Lease: time.Hour, Expiry: s.now + int64(5*time.Minute)}
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
