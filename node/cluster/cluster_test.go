package cluster_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
)

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	treasury = payment.Address{0xfe, 0xed}
)

// harness drives one State with commits at chosen consensus times.
type harness struct {
	t     *testing.T
	st    *cluster.State
	keys  []ed25519.PrivateKey // operators 0..n-1, then others
	now   int64
	index uint64
	nonce uint64
	block uint64
}

func operatorKey(i int) ed25519.PrivateKey {
	seed := graph.KeySeed(1, i)
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(k ed25519.PrivateKey) tx.Key { return tx.Key(k.Public().(ed25519.PublicKey)) }

// newHarness starts a cluster of n operators (weight 1) in the given
// regions (round-robin), each with room for 4 small VMs.
func newHarness(t *testing.T, n int, regions ...string) *harness {
	t.Helper()
	if len(regions) == 0 {
		regions = []string{"eu"}
	}
	h := &harness{t: t, now: t0}
	g := cluster.Genesis{Time: t0, Params: cluster.Params{Treasury: treasury,
		Price:       cluster.Price{VCPUHour: 3600, MemoryGiBHour: 3600, DiskGiBHour: 0},
		EpochLength: 10 * time.Second, StatusTimeout: 10 * time.Second}}
	for i := range n + 4 {
		h.keys = append(h.keys, operatorKey(i))
	}
	for i := range n {
		g.Operators = append(g.Operators, cluster.GenesisOperator{Key: pub(h.keys[i]), PeerID: fmt.Sprintf("n%d", i),
			Region: regions[i%len(regions)], Capacity: tx.Capacity{VCPU: 4, MemoryMiB: 4096, DiskGiB: 100}})
	}
	st, err := cluster.New(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	return h
}

func customer(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("customer-%d", i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func (h *harness) sign(key ed25519.PrivateKey, t *tx.Tx) []byte {
	h.nonce++
	t.Nonce = h.nonce
	if t.Expiry == 0 {
		t.Expiry = h.now + int64(time.Minute)
	}
	t.Sign(key)
	return t.Encode()
}

// createTx builds a signed vm-create paying lamports (price if < 0).
func (h *harness) createTx(owner ed25519.PrivateKey, region string, lamports int64) *tx.Tx {
	t := &tx.Tx{Kind: tx.KindVMCreate, Spec: tx.Spec{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12", Region: region},
		Lease: time.Hour, Expiry: h.now + int64(time.Minute)}
	h.nonce++
	t.Nonce, t.Author = h.nonce, pub(owner)
	h.pay(owner, t, lamports)
	t.Sign(owner)
	return t
}

func (h *harness) pay(payer ed25519.PrivateKey, t *tx.Tx, lamports int64) {
	spec := t.Spec
	if t.Kind == tx.KindVMRenew {
		v, _ := h.st.VM(t.VM)
		spec = v.Spec
	}
	if lamports < 0 {
		p, err := h.st.Params().PriceOf(spec, t.Lease)
		if err != nil {
			h.t.Fatal(err)
		}
		lamports = int64(p)
	}
	h.block++
	raw, _, err := payment.Build(payer, treasury, uint64(lamports), t.Memo(), sha256.Sum256([]byte(fmt.Sprint(h.block))))
	if err != nil {
		h.t.Fatal(err)
	}
	t.Payment = raw
}

// commit applies one commit at now+dt.
func (h *harness) commit(dt time.Duration, txs ...[]byte) cluster.Result {
	h.now += int64(dt)
	res := h.st.Apply(cluster.Commit{Index: h.index, Time: h.now, Txs: txs})
	h.index++
	return res
}

// one applies one transaction and returns its outcome.
func (h *harness) one(data []byte) cluster.Outcome {
	h.t.Helper()
	res := h.commit(time.Millisecond, data)
	if len(res.Outcomes) != 1 {
		h.t.Fatalf("%d outcomes for one transaction", len(res.Outcomes))
	}
	return res.Outcomes[0].Outcome
}

func (h *harness) mustOK(data []byte) cluster.Outcome {
	h.t.Helper()
	o := h.one(data)
	if !o.OK {
		h.t.Fatalf("%s rejected: %s", o.Kind, o.Reason)
	}
	return o
}

func (h *harness) mustReject(data []byte, want string) {
	h.t.Helper()
	before := h.st.VMsByOwner(pub(customer(0)))
	o := h.one(data)
	if o.OK || !strings.Contains(o.Reason, want) {
		h.t.Fatalf("outcome OK=%v reason %q, want a rejection mentioning %q", o.OK, o.Reason, want)
	}
	if after := h.st.VMsByOwner(pub(customer(0))); len(after) != len(before) {
		h.t.Fatal("a rejected transaction changed the owner's VMs")
	}
}

func TestCreatePlacesAPaidVMInItsRegion(t *testing.T) {
	h := newHarness(t, 4, "eu", "us")
	c := h.createTx(customer(0), "us", -1)
	o := h.mustOK(c.Encode())
	if o.VM != c.ID() {
		t.Fatalf("VM id %s, want the create's id %s", o.VM.Short(), c.ID().Short())
	}
	v, ok := h.st.VM(o.VM)
	if !ok || v.State != cluster.VMProvisioning || v.Owner != pub(customer(0)) {
		t.Fatalf("VM %+v", v)
	}
	host, _ := h.st.Operator(v.Host)
	if host.Region != "us" || host.Used.VCPU != 1 {
		t.Fatalf("placed on %s in %s using %+v", v.Host.Short(), host.Region, host.Used)
	}
	if v.LeaseEnd != v.Created+int64(time.Hour) || v.Paid == 0 {
		t.Fatalf("lease end %d, paid %d", v.LeaseEnd-v.Created, v.Paid)
	}
	if got := h.st.PlacedOn(v.Host); len(got) != 1 || got[0].ID != v.ID {
		t.Fatalf("PlacedOn = %v", got)
	}
}

func TestPaymentsThatDoNotPayAreRejected(t *testing.T) {
	h := newHarness(t, 4)
	good := h.createTx(customer(0), "eu", -1)
	h.mustOK(good.Encode())

	h.mustReject(h.createTx(customer(0), "eu", 1).Encode(), "underpaid")

	moved := h.createTx(customer(0), "eu", -1)
	moved.Payment = good.Payment // a payment made for another request
	moved.Sign(customer(0))
	h.mustReject(moved.Encode(), "memo")

	h.mustReject(h.createTx(customer(0), "mars", -1).Encode(), "no operator serves region")

	h.mustReject(good.Encode(), "duplicate")

	late := h.createTx(customer(0), "eu", -1)
	late.Expiry = h.now - 1
	late.Sign(customer(0))
	h.mustReject(late.Encode(), "expired")

	forged := h.createTx(customer(0), "eu", -1)
	forged.Lease = 2 * time.Hour // changed after signing
	h.mustReject(forged.Encode(), "signature")
}

func TestPaymentIsConsumedOnce(t *testing.T) {
	h := newHarness(t, 4)
	c := h.createTx(customer(0), "eu", -1)
	h.mustOK(c.Encode())
	p, err := payment.Verify(c.Payment, payment.Requirement{Treasury: treasury, Memo: c.Memo()})
	if err != nil {
		t.Fatal(err)
	}
	if !h.st.PaymentUsed(p.Signature) {
		t.Fatal("the payment is not recorded as used")
	}
}

func TestOnlyTheOwnerDeletesAndCapacityComesBack(t *testing.T) {
	h := newHarness(t, 1)
	var ids []tx.ID
	for range 4 {
		ids = append(ids, h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM)
	}
	full := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	if v, _ := h.st.VM(full); v.State != cluster.VMPending {
		t.Fatalf("fifth VM on a host with room for four is %s", v.State)
	}
	h.mustReject(h.sign(customer(1), &tx.Tx{Kind: tx.KindVMDelete, VM: ids[0]}), "only the owner")
	h.mustOK(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: ids[0]}))
	if v, _ := h.st.VM(ids[0]); v.State != cluster.VMDeleted {
		t.Fatalf("deleted VM is %s", v.State)
	}
	if v, _ := h.st.VM(full); v.State != cluster.VMProvisioning {
		t.Fatalf("waiting VM is %s after room was freed", v.State)
	}
	h.mustReject(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: ids[0]}), "deleted")
}

func TestStatusReportsComeFromTheHostAndFailuresMove(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	hostKey := h.keyOf(v.Host)
	var other ed25519.PrivateKey
	for i := range 4 {
		if pub(h.keys[i]) != v.Host {
			other = h.keys[i]
			break
		}
	}
	h.mustReject(h.sign(other, &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning}), "does not host")
	h.mustOK(h.sign(hostKey, &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning}))
	if v, _ := h.st.VM(id); v.State != cluster.VMRunning {
		t.Fatalf("state %s after a running report", v.State)
	}
	h.mustOK(h.sign(hostKey, &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "disk full"}))
	w, _ := h.st.VM(id)
	if w.State != cluster.VMProvisioning || w.Host == v.Host || len(w.Tried) != 1 || !strings.Contains(w.Reason, "disk full") {
		t.Fatalf("after a failure: %+v", w)
	}
	if op, _ := h.st.Operator(v.Host); op.Used.VCPU != 0 {
		t.Fatalf("failed host still charged %d vCPU", op.Used.VCPU)
	}
}

func (h *harness) keyOf(k tx.Key) ed25519.PrivateKey {
	for _, key := range h.keys {
		if pub(key) == k {
			return key
		}
	}
	h.t.Fatalf("no key %s", k.Short())
	return nil
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	for range cluster.DefaultMaxAttempts {
		v, _ := h.st.VM(id)
		h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "boot failed"}))
	}
	if v, _ := h.st.VM(id); v.State != cluster.VMFailed || len(h.st.LiveVMs()) != 0 {
		t.Fatalf("after %d failures the VM is %s", cluster.DefaultMaxAttempts, v.State)
	}
}

func TestSilentHostLosesItsVMsAndLeasesEnd(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	h.commit(11 * time.Second)
	w, _ := h.st.VM(id)
	if w.Host == v.Host || !strings.Contains(w.Reason, "stopped reporting") {
		t.Fatalf("VM still on its silent host: %+v", w)
	}
	for h.now < w.LeaseEnd {
		h.commit(9 * time.Second) // the new host never reports either; it keeps moving until its lease ends
	}
	if x, _ := h.st.VM(id); x.State != cluster.VMExpired && x.State != cluster.VMFailed {
		t.Fatalf("VM is %s after its lease", x.State)
	}
}

func TestRenewExtendsTheLease(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	before, _ := h.st.VM(id)
	r := &tx.Tx{Kind: tx.KindVMRenew, VM: id, Lease: 2 * time.Hour, Expiry: h.now + int64(time.Minute), Nonce: 99, Author: pub(customer(1))}
	h.pay(customer(1), r, -1)
	r.Sign(customer(1))
	h.mustOK(r.Encode())
	after, _ := h.st.VM(id)
	if after.LeaseEnd != before.LeaseEnd+int64(2*time.Hour) || after.Paid <= before.Paid {
		t.Fatalf("lease end moved by %v, paid %d -> %d", time.Duration(after.LeaseEnd-before.LeaseEnd), before.Paid, after.Paid)
	}
}

func TestGetReadsAtItsPlaceInTheOrder(t *testing.T) {
	h := newHarness(t, 4)
	c := h.createTx(customer(0), "eu", -1)
	get := h.sign(customer(1), &tx.Tx{Kind: tx.KindVMGet, VM: c.ID()})
	res := h.commit(time.Millisecond, get, c.Encode(), h.sign(customer(1), &tx.Tx{Kind: tx.KindVMGet, VM: c.ID()}))
	if len(res.Outcomes) != 3 || res.Outcomes[0].Found || !res.Outcomes[2].Found {
		t.Fatalf("reads around the create: %+v", res.Outcomes)
	}
}

func TestJoinNeedsAQuorumAndTakesEffectAtTheBoundary(t *testing.T) {
	h := newHarness(t, 4)
	newcomer := h.keys[4]
	h.mustOK(h.sign(newcomer, &tx.Tx{Kind: tx.KindOperatorJoin, PeerID: "n4", Region: "eu",
		Capacity: tx.Capacity{VCPU: 8, MemoryMiB: 8192, DiskGiB: 100}}))
	h.mustReject(h.sign(customer(0), &tx.Tx{Kind: tx.KindOperatorApprove, Operator: pub(newcomer)}), "only committee members")
	for i := range 2 {
		h.mustOK(h.sign(h.keys[i], &tx.Tx{Kind: tx.KindOperatorApprove, Operator: pub(newcomer)}))
	}
	// Every boundary ends the epoch; without a quorum the committee stays.
	if res := h.commit(10 * time.Second); res.Epoch == nil || res.Epoch.Epoch != 1 || res.Epoch.Committee.Size() != 4 ||
		h.st.IsMember(pub(newcomer)) {
		t.Fatalf("two approvals of four: epoch change %+v", res.Epoch)
	}
	if h.st.EpochStart() != h.st.Time() {
		t.Fatalf("epoch start %d, want the boundary commit's time %d", h.st.EpochStart(), h.st.Time())
	}
	h.mustReject(h.sign(h.keys[0], &tx.Tx{Kind: tx.KindOperatorApprove, Operator: pub(newcomer)}), "already voted")
	h.mustOK(h.sign(h.keys[2], &tx.Tx{Kind: tx.KindOperatorApprove, Operator: pub(newcomer)}))
	res := h.commit(10 * time.Second)
	if res.Epoch == nil || res.Epoch.Epoch != 2 || res.Epoch.Committee.Size() != 5 {
		t.Fatalf("epoch change %+v", res.Epoch)
	}
	if _, ok := res.Epoch.Committee.MemberByKey(graph.PublicKey(pub(newcomer))); !ok || !h.st.IsMember(pub(newcomer)) {
		t.Fatal("the admitted operator is not in the new committee")
	}
}

func TestLeaveAndRemoveMoveVMsAway(t *testing.T) {
	h := newHarness(t, 5)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindOperatorLeave}))
	res := h.commit(10 * time.Second)
	if res.Epoch == nil || res.Epoch.Committee.Size() != 4 {
		t.Fatalf("leave: epoch change %+v", res.Epoch)
	}
	w, _ := h.st.VM(id)
	if w.Host == v.Host || w.State != cluster.VMProvisioning {
		t.Fatalf("VM stayed with the operator that left: %+v", w)
	}
	// Removal by the three others of the four that are left: a quorum.
	var voters []ed25519.PrivateKey
	for i := range 5 {
		if h.st.IsMember(pub(h.keys[i])) && pub(h.keys[i]) != w.Host {
			voters = append(voters, h.keys[i])
		}
	}
	for _, k := range voters {
		h.mustOK(h.sign(k, &tx.Tx{Kind: tx.KindOperatorRemove, Operator: w.Host}))
	}
	res = h.commit(10 * time.Second)
	if res.Epoch == nil || res.Epoch.Epoch != 2 || h.st.IsMember(w.Host) {
		t.Fatalf("remove: epoch change %+v", res.Epoch)
	}
}

func TestEquivocationEvidenceExcludesTheOperator(t *testing.T) {
	h := newHarness(t, 4)
	b := graphtest.NewBuilder(4, 1)
	if !equalCommittees(b.Committee, h.st.Committee()) {
		t.Fatal("the test builder's committee is not the genesis committee")
	}
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	culprit, _ := h.st.Committee().MemberByKey(graph.PublicKey(v.Host))
	e1 := b.Event(int(culprit), 0, nil, []byte("one"))
	e2 := b.Event(int(culprit), 0, nil, []byte("two"))
	ev := graph.Evidence{First: e1.Header(), Second: e2.Header()}
	reporter := h.keys[(int(culprit)+1)%4]
	h.mustOK(h.sign(reporter, &tx.Tx{Kind: tx.KindEvidence, Evidence: ev.Encode()}))
	op, _ := h.st.Operator(v.Host)
	if !op.Equivocated {
		t.Fatal("operator not flagged")
	}
	if w, _ := h.st.VM(id); w.Host == v.Host {
		t.Fatal("VM stays on an equivocating host")
	}
	h.mustReject(h.sign(reporter, &tx.Tx{Kind: tx.KindEvidence, Evidence: ev.Encode()}), "already proven")
	same := graph.Evidence{First: e1.Header(), Second: e1.Header()}
	h.mustReject(h.sign(reporter, &tx.Tx{Kind: tx.KindEvidence, Evidence: same.Encode()}), "")
	for range 20 { // never placed on it again
		c := h.createTx(customer(0), "eu", -1)
		vid := h.mustOK(c.Encode()).VM
		if w, _ := h.st.VM(vid); w.Host == v.Host {
			t.Fatal("new VM placed on an equivocating host")
		}
		h.mustOK(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: vid}))
	}
}

func equalCommittees(a, b *graph.Committee) bool {
	if a.Size() != b.Size() {
		return false
	}
	for i := range a.Size() {
		x, _ := a.Member(graph.MemberID(i))
		y, _ := b.Member(graph.MemberID(i))
		if x != y {
			return false
		}
	}
	return true
}

func TestSameCommitsSameHash(t *testing.T) {
	a, b := newHarness(t, 4, "eu", "us"), newHarness(t, 4, "eu", "us")
	var txs [][]byte
	for i := range 12 {
		txs = append(txs, a.createTx(customer(i%3), []string{"eu", "us"}[i%2], -1).Encode())
	}
	txs = append(txs, []byte("opaque data, not a cluster transaction"))
	for _, h := range []*harness{a, b} {
		h.commit(time.Second, txs[:6]...)
		h.commit(time.Second, txs[6:]...)
	}
	if a.st.Hash() != b.st.Hash() {
		t.Fatal("equal histories, different state hashes")
	}
	a.commit(time.Second)
	if a.st.Hash() == b.st.Hash() {
		t.Fatal("the hash ignores a commit")
	}
}

func TestPriceRoundsUpAndRefusesOverflow(t *testing.T) {
	p := cluster.Params{Price: cluster.Price{VCPUHour: 1, MemoryGiBHour: 1, DiskGiBHour: 1}}
	got, err := p.PriceOf(tx.Spec{VCPU: 1, MemoryMiB: 512, DiskGiB: 0}, time.Second)
	if err != nil || got != 1 {
		t.Fatalf("price %d, %v; want 1 (1.5 lamports an hour for one second, rounded up)", got, err)
	}
	huge := cluster.Params{Price: cluster.Price{VCPUHour: 1 << 62}}
	if _, err := huge.PriceOf(tx.Spec{VCPU: 8}, tx.MaxLease); err == nil {
		t.Fatal("an overflowing price is accepted")
	}
}

func FuzzApply(f *testing.F) {
	h := newHarness(&testing.T{}, 4)
	f.Add(h.createTx(customer(0), "eu", -1).Encode())
	f.Add(h.sign(h.keys[0], &tx.Tx{Kind: tx.KindOperatorLeave}))
	f.Add([]byte(tx.Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := newHarness(t, 4), newHarness(t, 4)
		a.commit(time.Second, data)
		b.commit(time.Second, data)
		if a.st.Hash() != b.st.Hash() {
			t.Fatal("the same input gave two states")
		}
	})
}

// TestCheckRefusesOnlyForFinalReasons: a processor's state may lag the
// order, so only a rejection no later commit can undo is final.
func TestCheckRefusesOnlyForFinalReasons(t *testing.T) {
	h := newHarness(t, 4)
	c := h.createTx(customer(0), "eu", -1)
	decode := func(b []byte) *tx.Tx {
		x, err := tx.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	// Not yet created here: the delete may well be valid in the order.
	del := decode(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: c.ID()}))
	if why, final := h.st.Check(del); why == "" || final {
		t.Fatalf("delete of an unknown VM: %q final=%v; want a rejection that is not final", why, final)
	}
	if why, final := h.st.Check(decode(h.createTx(customer(0), "eu", 1).Encode())); !final || !strings.Contains(why, "underpaid") {
		t.Fatalf("underpaid create: %q final=%v", why, final)
	}
	h.mustOK(c.Encode())
	if why, _ := h.st.Check(del); why != "" {
		t.Fatalf("delete after the create: %q", why)
	}
	other := decode(h.sign(customer(1), &tx.Tx{Kind: tx.KindVMDelete, VM: c.ID()}))
	if why, final := h.st.Check(other); !final || why == "" {
		t.Fatalf("delete by a stranger: %q final=%v", why, final)
	}
	h.mustOK(del.Encode())
	if why, final := h.st.Check(decode(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: c.ID()}))); !final || why == "" {
		t.Fatalf("delete of a deleted VM: %q final=%v", why, final)
	}
	// A vote by a key the cluster never saw is refused at admission; one by
	// a pending operator may count once it is admitted.
	stranger := decode(h.sign(customer(2), &tx.Tx{Kind: tx.KindOperatorApprove, Operator: pub(operatorKey(1))}))
	if why, final := h.st.Check(stranger); !final || !strings.Contains(why, "only committee members vote") {
		t.Fatalf("a stranger's vote: %q final=%v", why, final)
	}
	joiner := operatorKey(9)
	h.mustOK(h.sign(joiner, &tx.Tx{Kind: tx.KindOperatorJoin, PeerID: "p9", Region: "eu", Capacity: tx.Capacity{VCPU: 1, MemoryMiB: 1, DiskGiB: 1}}))
	pending := decode(h.sign(joiner, &tx.Tx{Kind: tx.KindOperatorRemove, Operator: pub(operatorKey(1))}))
	if why, final := h.st.Check(pending); final || why == "" {
		t.Fatalf("a pending operator's vote: %q final=%v; want a rejection that is not final", why, final)
	}
}

// TestReplayWindowStaysBounded: at a steady rate of transactions that all
// take the longest validity allowed, the ids the state remembers never
// exceed the rate times tx.MaxValidity (and the second of expiry that
// the window rounds to), however long the run, and neither does the
// snapshot; a replay of a remembered id is refused until it expires.
func TestReplayWindowStaysBounded(t *testing.T) {
	h := newHarness(t, 4)
	const (
		perCommit = 3
		interval  = 250 * time.Millisecond
		windows   = 8 // the run lasts this many MaxValidity
	)
	commits := int(windows * tx.MaxValidity / interval)
	perSecond := perCommit * int(time.Second/interval)
	bound := perSecond * int((tx.MaxValidity+time.Second)/time.Second)
	key := customer(0)
	var most, snapMost int
	var replay []byte
	var replayExpiry int64
	for i := range commits {
		txs := make([][]byte, perCommit)
		for j := range txs {
			// The id commits at h.now+interval: its expiry is then exactly
			// MaxValidity ahead.
			txs[j] = h.sign(key, &tx.Tx{Kind: tx.KindVMGet, VM: tx.ID{byte(j)}, Expiry: h.now + int64(interval+tx.MaxValidity)})
		}
		if i == commits/2 {
			replay = txs[0]
			d, _ := tx.Decode(replay)
			replayExpiry = d.Expiry
		}
		for _, o := range h.commit(interval, txs...).Outcomes {
			if !o.OK {
				t.Fatalf("commit %d: %s", i, o.Reason)
			}
		}
		n := h.st.ReplayWindowLen()
		if n > bound {
			t.Fatalf("commit %d: the replay window holds %d ids, more than %d (%d/s for %v and a second)", i, n, bound, perSecond, tx.MaxValidity)
		}
		most = max(most, n)
		if i%int(tx.MaxValidity/interval) == 0 {
			snapMost = max(snapMost, len(h.st.Snapshot()))
		}
		if replay != nil && h.now < replayExpiry {
			if o := h.one(replay); o.OK || !strings.Contains(o.Reason, "duplicate") {
				t.Fatalf("commit %d: a replay of a remembered transaction: OK=%v %q", i, o.OK, o.Reason)
			}
		}
	}
	if floor := perSecond * int(tx.MaxValidity/time.Second); most < floor {
		t.Fatalf("the window held at most %d ids, fewer than the %d a full window holds: the test did not fill it", most, floor)
	}
	if limit := bound*(32+8) + 16<<10; snapMost > limit {
		t.Fatalf("a snapshot took %d bytes, more than %d", snapMost, limit)
	}
	if h.now < replayExpiry {
		t.Fatal("the run ended before the replayed transaction expired")
	}
	if o := h.one(replay); o.OK || !strings.Contains(o.Reason, "expired") {
		t.Fatalf("the replay after its expiry: OK=%v %q", o.OK, o.Reason)
	}
	t.Logf("%d commits, %d transactions: the window held at most %d ids (bound %d), snapshots at most %d bytes",
		commits, commits*perCommit, most, bound, snapMost)
}

// TestExpiryBeyondTheWindowIsRefused: an expiry more than MaxValidity
// past consensus time is refused, one at the edge is taken.
func TestExpiryBeyondTheWindowIsRefused(t *testing.T) {
	h := newHarness(t, 4)
	at := h.now + int64(time.Millisecond) // the commit's time
	h.mustReject(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMGet, Expiry: at + int64(tx.MaxValidity) + 1}), "ahead of consensus time")
	at += int64(time.Millisecond)
	h.mustOK(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMGet, Expiry: at + int64(tx.MaxValidity)}))
}
