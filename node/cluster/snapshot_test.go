package cluster

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node/payment"
	"dagger/node/tx"
)

var (
	snapT0       = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	snapTreasury = payment.Address{0xfe, 0xed, 0x5a}
)

// snapHarness drives a State through real signed transactions and records
// every commit, its result, and the snapshot after it.
type snapHarness struct {
	tb    testing.TB
	st    *State
	keys  []ed25519.PrivateKey // operators: 0..3 at genesis, then joiners
	now   int64
	nonce uint64
	block uint64

	commits []Commit
	results []Result
	snaps   [][]byte   // snaps[i] is the snapshot after i commits
	fulls   []snapFull // and the state then
}

// snapFull is the whole of a State, read field by field rather than
// through the codec, for reflect.DeepEqual; empty lists are nil.
type snapFull struct {
	Params                     Params
	Epoch, Commits, Joined     uint64
	EpochStart, Boundary, Time int64
	Committee                  []graph.Member
	SameCommittee              bool // the committee is the recent one of the epoch
	Committees                 map[uint64][]graph.Member
	Operators                  map[tx.Key]Operator
	OpOrder                    []tx.Key
	VMs                        map[tx.ID]VM
	Live                       []tx.ID
	ByOwner                    map[tx.Key][]tx.ID
	Payments                   map[payment.Signature]struct{}
	Seen                       map[int64]map[tx.ID]uint64 // by second of expiry
	SeenHashes                 map[int64][32]byte
	SeenLen                    int
	Evidence                   map[evidenceKey]struct{}
	PayHash, SeenHash, Hash    [32]byte
}

func snapMembers(c *graph.Committee) []graph.Member {
	out := []graph.Member{{Weight: c.Epoch()}} // the epoch, then the members
	for i := range c.Size() {
		m, _ := c.Member(graph.MemberID(i))
		out = append(out, m)
	}
	return out
}

func snapFullOf(s *State) snapFull {
	f := snapFull{Params: s.params, Epoch: s.epoch, Commits: s.commits, Joined: s.joined,
		EpochStart: s.epochStart, Boundary: s.boundary, Time: s.time,
		Committee: snapMembers(s.committee), SameCommittee: s.committee == s.committees[s.epoch],
		Committees: map[uint64][]graph.Member{}, Operators: map[tx.Key]Operator{}, OpOrder: append([]tx.Key(nil), s.opOrder...),
		VMs: map[tx.ID]VM{}, Live: append([]tx.ID(nil), s.live...), ByOwner: map[tx.Key][]tx.ID{},
		Payments: maps.Clone(s.payments), Seen: map[int64]map[tx.ID]uint64{}, SeenHashes: map[int64][32]byte{}, SeenLen: s.seen.n,
		Evidence: maps.Clone(s.evidence), PayHash: s.payHash, SeenHash: s.seen.hash, Hash: s.Hash()}
	for _, sec := range s.seen.seconds() {
		b := s.seen.bucket(sec)
		f.Seen[sec], f.SeenHashes[sec] = maps.Clone(b.ids), b.hash
	}
	for e, c := range s.committees {
		f.Committees[e] = snapMembers(c)
	}
	for k, o := range s.operators {
		f.Operators[k] = o.clone()
	}
	for id, v := range s.vms {
		f.VMs[id] = v.clone()
	}
	for k, ids := range s.byOwner {
		f.ByOwner[k] = slices.Clone(ids)
	}
	return f
}

func (h *snapHarness) record() {
	h.snaps = append(h.snaps, h.st.Snapshot())
	h.fulls = append(h.fulls, snapFullOf(h.st))
}

func snapOperatorKey(i int) ed25519.PrivateKey {
	seed := graph.KeySeed(1, i) // the keys of graphtest.NewBuilder(4, 1)
	return ed25519.NewKeyFromSeed(seed[:])
}

func snapCustomer(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("snapshot-customer-%d", i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func snapPub(k ed25519.PrivateKey) tx.Key { return tx.Key(k.Public().(ed25519.PublicKey)) }

// newSnapHarness starts a cluster of four operators of weight 1 in eu and
// us, each with room for two small VMs.
func newSnapHarness(tb testing.TB) *snapHarness {
	h := &snapHarness{tb: tb, now: snapT0}
	g := Genesis{Time: snapT0, Params: Params{Treasury: snapTreasury,
		Price:       Price{VCPUHour: 3600, MemoryGiBHour: 1800, DiskGiBHour: 7},
		EpochLength: 10 * time.Second, StatusTimeout: 25 * time.Second, MaxAttempts: 2}}
	for i := range 8 {
		h.keys = append(h.keys, snapOperatorKey(i))
	}
	for i := range 4 {
		g.Operators = append(g.Operators, GenesisOperator{Key: snapPub(h.keys[i]), PeerID: fmt.Sprintf("peer-%d", i),
			Region: []string{"eu", "us"}[i%2], Capacity: tx.Capacity{VCPU: 2, MemoryMiB: 2048, DiskGiB: 100},
			Payout: [32]byte{byte(i)}})
	}
	st, err := New(g, nil)
	if err != nil {
		tb.Fatal(err)
	}
	h.st = st
	h.record()
	return h
}

// commit applies one commit at now+dt and records it.
func (h *snapHarness) commit(dt time.Duration, txs ...[]byte) Result {
	h.now += int64(dt)
	c := Commit{Index: uint64(len(h.commits)), Time: h.now, Txs: txs}
	res := h.st.Apply(c)
	h.commits = append(h.commits, c)
	h.results = append(h.results, res)
	h.record()
	return res
}

// ok commits txs and requires every cluster transaction to take effect.
func (h *snapHarness) ok(dt time.Duration, txs ...[]byte) Result {
	h.tb.Helper()
	res := h.commit(dt, txs...)
	for _, o := range res.Outcomes {
		if !o.OK {
			h.tb.Fatalf("commit %d: %s rejected: %s", len(h.commits)-1, o.Kind, o.Reason)
		}
	}
	return res
}

func (h *snapHarness) sign(key ed25519.PrivateKey, t *tx.Tx) []byte {
	h.nonce++
	t.Nonce = h.nonce
	t.Expiry = h.now + int64(time.Minute)
	t.Sign(key)
	return t.Encode()
}

// paid signs a vm-create or vm-renew carrying a payment of its price.
func (h *snapHarness) paid(payer ed25519.PrivateKey, t *tx.Tx, spec tx.Spec) *tx.Tx {
	h.nonce++
	t.Nonce, t.Author, t.Expiry = h.nonce, snapPub(payer), h.now+int64(time.Minute)
	price, err := h.st.Params().PriceOf(spec, t.Lease)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.block++
	t.Payment, _, err = payment.Build(payer, snapTreasury, price, t.Memo(), sha256.Sum256([]byte(fmt.Sprint("block", h.block))))
	if err != nil {
		h.tb.Fatal(err)
	}
	t.Sign(payer)
	return t
}

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

func snapSpec(region string) tx.Spec {
	return tx.Spec{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12", Region: region, SSHKey: testSSHKey + " me@host"}
}

func (h *snapHarness) create(owner ed25519.PrivateKey, region string, lease time.Duration) *tx.Tx {
	spec := snapSpec(region)
	return h.paid(owner, &tx.Tx{Kind: tx.KindVMCreate, Spec: spec, Lease: lease}, spec)
}

func (h *snapHarness) renew(payer ed25519.PrivateKey, vm tx.ID, lease time.Duration) []byte {
	v, _ := h.st.VM(vm)
	return h.paid(payer, &tx.Tx{Kind: tx.KindVMRenew, VM: vm, Lease: lease}, v.Spec).Encode()
}

func (h *snapHarness) hostKey(vm tx.ID) ed25519.PrivateKey {
	v, _ := h.st.VM(vm)
	for _, k := range h.keys {
		if snapPub(k) == v.Host {
			return k
		}
	}
	h.tb.Fatalf("commit %d: vm %s has no known host (%s: %s)", len(h.commits), vm.Short(), v.State, v.Reason)
	return nil
}

func (h *snapHarness) status(vm tx.ID, st tx.VMState, reason string) []byte {
	return h.sign(h.hostKey(vm), &tx.Tx{Kind: tx.KindVMStatus, VM: vm, State: st, Reason: reason})
}

func (h *snapHarness) join(i int, region string) []byte {
	return h.sign(h.keys[i], &tx.Tx{Kind: tx.KindOperatorJoin, PeerID: fmt.Sprintf("peer-%d", i), Region: region,
		Capacity: tx.Capacity{VCPU: 8, MemoryMiB: 8192, DiskGiB: 200}, Payout: [32]byte{byte(i)}})
}

func (h *snapHarness) vote(kind tx.Kind, voter, target int) []byte {
	return h.sign(h.keys[voter], &tx.Tx{Kind: kind, Operator: snapPub(h.keys[target])})
}

// reportAll has every host report its placed VMs running, but for the
// silent ones.
func (h *snapHarness) reportAll(silent ...tx.ID) [][]byte {
	var out [][]byte
	for _, v := range h.st.LiveVMs() {
		if v.State.Placed() && !slices.Contains(silent, v.ID) {
			out = append(out, h.status(v.ID, tx.VMRunning, "running"))
		}
	}
	return out
}

// snapScenario builds a rich history: operators joining, approved,
// withdrawing, leaving, voted on, rejoining and equivocating over several
// epochs; VMs created, placed, left waiting, reported, failed, moved,
// renewed, deleted and expired; reads, rejections and opaque data.
func snapScenario(tb testing.TB) *snapHarness {
	h := newSnapHarness(tb)
	c0, c1, c2 := snapCustomer(0), snapCustomer(1), snapCustomer(2)

	// Epoch 0.
	a, b, c := h.create(c0, "eu", time.Hour), h.create(c1, "us", time.Hour), h.create(c0, "eu", time.Hour)
	h.ok(time.Second, a.Encode(), b.Encode(), c.Encode())
	h.ok(time.Second, h.status(a.ID(), tx.VMRunning, "booted"), h.status(b.ID(), tx.VMStopped, "stopped by its guest"))
	d := h.create(c2, "eu", time.Minute) // its lease ends in epoch 6
	e, f := h.create(c1, "eu", time.Hour), h.create(c0, "eu", 2*time.Hour)
	h.ok(time.Second, d.Encode(), e.Encode(), f.Encode()) // eu is full: f waits
	h.ok(time.Second, h.join(4, "eu"), h.join(5, "us"))
	h.ok(time.Second, h.vote(tx.KindOperatorApprove, 0, 4), h.vote(tx.KindOperatorApprove, 1, 4),
		h.vote(tx.KindOperatorApprove, 2, 4), h.vote(tx.KindOperatorApprove, 3, 5))
	h.ok(time.Second, h.sign(h.keys[5], &tx.Tx{Kind: tx.KindOperatorLeave})) // withdraws, keeping its approval
	h.ok(time.Second, h.snapEvidence(c.ID()))
	dup := h.commit(time.Millisecond, a.Encode(), h.sign(c2, &tx.Tx{Kind: tx.KindVMGet, VM: b.ID()}), []byte("opaque"))
	if len(dup.Outcomes) != 2 || dup.Outcomes[0].OK || !dup.Outcomes[1].Found {
		tb.Fatalf("replay and read: %+v", dup.Outcomes)
	}
	h.ok(time.Second, h.renew(c1, b.ID(), time.Hour))
	h.ok(3*time.Second, h.reportAll()...) // epoch 1: operator 4 joins the committee

	// Epoch 1.
	for i := 0; ; i++ { // a fails until it is given up
		if v, _ := h.st.VM(a.ID()); v.State == VMFailed {
			break
		} else if !v.State.Placed() || i == 2 {
			tb.Fatalf("vm a is %s after failing %d times", v.State, i)
		}
		h.ok(time.Second, h.status(a.ID(), tx.VMFailed, fmt.Sprintf("disk full %d", i)))
	}
	h.ok(time.Second, h.sign(c0, &tx.Tx{Kind: tx.KindVMDelete, VM: c.ID()}))
	h.ok(time.Second, h.sign(h.keys[1], &tx.Tx{Kind: tx.KindOperatorLeave}),
		h.vote(tx.KindOperatorRemove, 0, 3), h.vote(tx.KindOperatorRemove, 2, 3)) // two votes of five: no quorum
	h.ok(time.Second, h.join(6, "us"), h.join(5, "us"))
	h.ok(time.Second, h.vote(tx.KindOperatorApprove, 0, 6))
	h.ok(time.Second, append(h.reportAll(), h.vote(tx.KindOperatorApprove, 0, 5))...)

	// Epochs 2 to 8: operator 5 is admitted; VMs come and go; e's host
	// never hears from it and d's lease ends.
	for i := range 18 {
		txs := h.reportAll(e.ID())
		switch i {
		case 1:
			txs = append(txs, h.vote(tx.KindOperatorApprove, 2, 5), h.vote(tx.KindOperatorApprove, 3, 5))
		case 3, 7:
			txs = append(txs, h.create(c2, "us", time.Hour).Encode(), h.create(c1, "eu", 30*time.Minute).Encode())
		case 5:
			txs = append(txs, h.renew(c2, f.ID(), time.Hour))
		case 9:
			txs = append(txs, h.sign(c1, &tx.Tx{Kind: tx.KindVMDelete, VM: b.ID()}))
		}
		h.ok(4*time.Second, txs...)
	}
	return h
}

// snapEvidence proves that the host of vm equivocated in epoch 0.
func (h *snapHarness) snapEvidence(vm tx.ID) []byte {
	v, _ := h.st.VM(vm)
	culprit, ok := h.st.Committee().MemberByKey(graph.PublicKey(v.Host))
	if !ok || h.st.Epoch() != 0 {
		h.tb.Fatal("evidence needs the host to be in the genesis committee")
	}
	b := graphtest.NewBuilder(4, 1)
	e1 := b.Event(int(culprit), 0, nil, []byte("one"))
	e2 := b.Event(int(culprit), 0, nil, []byte("two"))
	ev := graph.Evidence{First: e1.Header(), Second: e2.Header()}
	return h.sign(h.keys[(int(culprit)+1)%4], &tx.Tx{Kind: tx.KindEvidence, Evidence: ev.Encode()})
}

func snapMustRestore(tb testing.TB, data []byte) *State {
	tb.Helper()
	s, err := Restore(data, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestSnapshotScenarioIsRich guards the other tests: the scenario's
// snapshots hold every kind of thing a State holds.
func TestSnapshotScenarioIsRich(t *testing.T) {
	h := snapScenario(t)
	vmStates := map[VMState]bool{}
	opStatuses := map[OperatorStatus]bool{}
	var approvals, removals, leaving, equivocated, evidence, tried, fullWindow, pruned, renewed bool
	maxSeen := 0
	for _, data := range h.snaps {
		s := snapMustRestore(t, data)
		for _, v := range s.vms {
			vmStates[v.State] = true
			tried = tried || len(v.Tried) > 0
			renewed = renewed || v.LeaseEnd-v.Created > int64(2*time.Hour)
		}
		for _, o := range s.operators {
			opStatuses[o.Status] = true
			approvals = approvals || len(o.Approvals) > 1
			removals = removals || len(o.Removals) > 1
			leaving, equivocated = leaving || o.Leaving, equivocated || o.Equivocated
		}
		evidence = evidence || len(s.evidence) > 0
		fullWindow = fullWindow || len(s.committees) == MaxSnapshotCommittees
		pruned = pruned || s.seen.n < maxSeen
		maxSeen = max(maxSeen, s.seen.n)
	}
	final := h.st
	switch {
	case len(vmStates) != 7:
		t.Fatalf("VM states seen: %v", vmStates)
	case len(opStatuses) != 3:
		t.Fatalf("operator statuses seen: %v", opStatuses)
	case !approvals || !removals || !leaving || !equivocated || !evidence || !tried || !fullWindow || !pruned || !renewed:
		t.Fatalf("approvals %v removals %v leaving %v equivocated %v evidence %v tried %v full window %v pruned %v renewed %v",
			approvals, removals, leaving, equivocated, evidence, tried, fullWindow, pruned, renewed)
	case final.Epoch() < 8 || len(final.payments) < 8 || len(final.byOwner) != 3 || len(final.live) == 0:
		t.Fatalf("final state: epoch %d, %d payments, %d owners, %d live VMs",
			final.Epoch(), len(final.payments), len(final.byOwner), len(final.live))
	}
}

// TestSnapshotRestoresAndContinues: from the snapshot after every commit,
// the restored state encodes to the same bytes and, given the commits that
// followed, gives the same results and the same state after each.
func TestSnapshotRestoresAndContinues(t *testing.T) {
	h := snapScenario(t)
	for k, data := range h.snaps {
		s := snapMustRestore(t, data)
		if got := s.Snapshot(); !bytes.Equal(got, data) {
			t.Fatalf("snapshot %d: restored state encodes differently", k)
		}
		if got, want := snapFullOf(s), h.fulls[k]; !reflect.DeepEqual(got, want) {
			t.Fatalf("snapshot %d: restored\n%+v\nwant\n%+v", k, got, want)
		}
		for j := k; j < len(h.commits); j++ {
			res := s.Apply(h.commits[j])
			if !reflect.DeepEqual(res, h.results[j]) {
				t.Fatalf("restored after %d commits, commit %d: result %+v, want %+v", k, j, res, h.results[j])
			}
			if got := s.Snapshot(); !bytes.Equal(got, h.snaps[j+1]) || !reflect.DeepEqual(snapFullOf(s), h.fulls[j+1]) {
				t.Fatalf("restored after %d commits, commit %d: states differ (hash %x, want %x)", k, j, s.Hash(), h.fulls[j+1].Hash)
			}
		}
	}
	if s := snapMustRestore(t, h.snaps[len(h.snaps)-1]); s.Hash() != h.st.Hash() ||
		!reflect.DeepEqual(s.Operators(), h.st.Operators()) || !reflect.DeepEqual(s.LiveVMs(), h.st.LiveVMs()) ||
		s.Params() != h.st.Params() || s.EpochStart() != h.st.EpochStart() {
		t.Fatal("the restored final state differs from the original")
	}
}

// TestCaptureIsTheStateWhenTaken: a capture encodes, whenever its Bytes
// runs, the snapshot of the state when it was taken, however far the
// state moved on since.
func TestCaptureIsTheStateWhenTaken(t *testing.T) {
	h := snapScenario(t)
	s := snapMustRestore(t, h.snaps[0])
	caps := []*Capture{s.Capture()}
	for _, c := range h.commits {
		s.Apply(c)
		caps = append(caps, s.Capture())
	}
	seen := 0
	for k, c := range caps {
		got := c.Bytes()
		if !bytes.Equal(got, h.snaps[k]) {
			t.Fatalf("capture %d: encodes differently from the snapshot taken then", k)
		}
		for _, sc := range c.secs {
			seen += len(sc.ids)
		}
	}
	if seen == 0 {
		t.Fatal("no capture held a replay window: the case tests nothing")
	}
}

// TestRestoredStateKnowsWhereEachSeenIDCommitted: the state restored from
// every snapshot tells, for each transaction id in its replay window, the
// commit it is in, as the state that applied that commit did: a node that
// restarts from a snapshot reports where a transaction before it committed.
func TestRestoredStateKnowsWhereEachSeenIDCommitted(t *testing.T) {
	h := snapScenario(t)
	first := map[tx.ID]uint64{} // each transaction's first commit, where it committed
	for j, c := range h.commits {
		for _, data := range c.Txs {
			if d, err := tx.Decode(data); err == nil {
				if _, ok := first[d.ID()]; !ok {
					first[d.ID()] = uint64(j)
				}
			}
		}
	}
	late := 0 // ids checked at a commit index above 0
	for k, data := range h.snaps {
		s := snapMustRestore(t, data)
		for id, at := range first {
			got, ok := s.CommittedAt(id)
			switch {
			case at >= uint64(k) && ok:
				t.Fatalf("snapshot %d: %s committed at %d, but it commits later, at %d", k, id.Short(), got, at)
			case ok != s.Committed(id):
				t.Fatalf("snapshot %d: %s: CommittedAt says %v, Committed %v", k, id.Short(), ok, s.Committed(id))
			case ok && got != at:
				t.Fatalf("snapshot %d: %s committed at %d, want %d", k, id.Short(), got, at)
			case ok && at > 0:
				late++
			}
		}
	}
	if late == 0 {
		t.Fatal("no restored state held an id of a commit after the first")
	}
}

// TestSnapshotIsCanonical: map order never reaches the encoding, and two
// states built alike encode alike.
func TestSnapshotIsCanonical(t *testing.T) {
	a, b := snapScenario(t), snapScenario(t)
	for i := range 10 {
		if !bytes.Equal(a.st.Snapshot(), b.st.Snapshot()) {
			t.Fatalf("try %d: equal states encode differently", i)
		}
	}
	if !bytes.HasPrefix(a.snaps[0], []byte(snapshotMagic)) {
		t.Fatal("no magic prefix")
	}
}

// TestSnapshotKnowsEveryField fails when a type the snapshot encodes gains
// or loses a field: the codec (and this list) must then be updated.
func TestSnapshotKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields string
	}{
		{State{}, "params verifier epoch committee committees boundary epochStart time commits operators opOrder joined " +
			"vms live byOwner payments payHash seen evidence hash dirty hashBuf"},
		{Params{}, "Treasury Price EpochLength StatusTimeout MaxAttempts PendingTimeout"},
		{Price{}, "VCPUHour MemoryGiBHour DiskGiBHour"},
		{Operator{}, "Key PeerID Region Capacity Payout Weight Status Used Equivocated Leaving Approvals Removals Since HostedNs Earned order"},
		{VM{}, "ID Owner Spec State Reason Host Created LeaseEnd Updated PlacedAt Paid Tried Access RanNs RunningSince PendingSince RefundDue History"},
		{tx.Access{}, "Host Port"},
		{VMEvent{}, "Time Kind State Host Reason"},
		{tx.Spec{}, "VCPU MemoryMiB DiskGiB Image Region SSHKey"},
		{tx.Capacity{}, "VCPU MemoryMiB DiskGiB"},
		{evidenceKey{}, "epoch creator"},
		{seenWindow{}, "buckets n hash"},
		{seenBucket{}, "sec ids hash"},
		{seenID{}, "id commit"},
	} {
		typ := reflect.TypeOf(c.v)
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if strings.Join(got, " ") != c.fields {
			t.Errorf("%s has fields %q; the snapshot knows %q", typ, strings.Join(got, " "), c.fields)
		}
	}
}

func snapReseal(data []byte) []byte {
	out := bytes.Clone(data)
	end := len(out) - sha256.Size
	sum := sha256.Sum256(out[:end])
	copy(out[end:], sum[:])
	return out
}

// TestSnapshotRefusesCorruption: every flipped byte, truncation and
// extension is refused. With the checksum recomputed, a flipped byte must
// still be refused, or else re-encode to exactly what was given.
func TestSnapshotRefusesCorruption(t *testing.T) {
	h := snapScenario(t)
	for _, k := range []int{0, 8, len(h.snaps) / 2, len(h.snaps) - 1} {
		data := h.snaps[k]
		refuse := func(what string, bad []byte) {
			t.Helper()
			if _, err := Restore(bad, nil); !errors.Is(err, ErrSnapshot) {
				t.Fatalf("snapshot %d, %s: error %v", k, what, err)
			}
		}
		for n := range len(data) {
			refuse(fmt.Sprintf("truncated to %d bytes", n), data[:n])
		}
		refuse("one more byte", append(bytes.Clone(data), 0))
		accepted := 0
		for i := range data {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(data)
				bad[i] ^= mask
				refuse(fmt.Sprintf("byte %d ^ %#x", i, mask), bad)
				if i >= len(data)-sha256.Size {
					continue
				}
				bad = snapReseal(bad)
				s, err := Restore(bad, nil)
				switch {
				case err == nil:
					accepted++
					if !bytes.Equal(s.Snapshot(), bad) {
						t.Fatalf("snapshot %d, byte %d ^ %#x: accepted, but encodes differently", k, i, mask)
					}
				case !errors.Is(err, ErrSnapshot) || strings.Contains(err.Error(), "checksum"):
					t.Fatalf("snapshot %d, resealed byte %d ^ %#x: error %v", k, i, mask, err)
				case i >= len(data)-2*sha256.Size && !strings.Contains(err.Error(), "state hash"):
					t.Fatalf("snapshot %d, state hash byte %d ^ %#x: error %v", k, i, mask, err)
				}
			}
		}
		t.Logf("snapshot %d: %d bytes; %d of %d resealed flips accepted (fields outside the state hash)",
			k, len(data), accepted, 3*(len(data)-sha256.Size))
	}
}

// TestRestoreRefusesVersion1: a snapshot of the format before the seen
// ids kept their commits is refused with a reason, not as damaged.
func TestRestoreRefusesVersion1(t *testing.T) {
	data := bytes.Clone(snapScenario(t).snaps[8])
	copy(data, snapshotMagicV1)
	_, err := Restore(snapReseal(data), nil)
	if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "format v1") {
		t.Fatalf("a version 1 snapshot: error %v, want one naming the format", err)
	}
}

// snapMoveSeen files the ids of the replay window's first second under
// another second.
func snapMoveSeen(s *State, sec int64) bool {
	secs := s.seen.seconds()
	if len(secs) == 0 {
		return false
	}
	b := *s.seen.bucket(secs[0])
	*s.seen.bucket(secs[0]) = seenBucket{}
	b.sec = sec
	*s.seen.bucket(sec) = b
	return true
}

// snapTamper breaks one invariant of a state; it returns false if the
// state has nothing to break it on.
type snapTamper func(s *State) bool

// firstVM returns the first VM, by id, that ok accepts.
func snapFirstVM(s *State, ok func(*VM) bool) *VM {
	for _, id := range s.sortedVMIDs() {
		if v := s.vms[id]; ok(v) {
			return v
		}
	}
	return nil
}

func snapFirstOp(s *State, ok func(*Operator) bool) *Operator {
	for _, k := range s.opOrder {
		if o := s.operators[k]; ok(o) {
			return o
		}
	}
	return nil
}

func snapPlaced(v *VM) bool { return v.State.Placed() }

var snapStranger = tx.Key{0x57, 0x4a}

// TestRestoreRefusesBrokenInvariants breaks each invariant in every
// scenario state it applies to; Restore must say what is wrong, though
// the checksum and the state hash are right.
func TestRestoreRefusesBrokenInvariants(t *testing.T) {
	cases := []struct {
		name, want string
		tamper     snapTamper
	}{
		{"host unknown", "is not an operator", func(s *State) bool {
			v := snapFirstVM(s, snapPlaced)
			if v != nil {
				v.Host = snapStranger
			}
			return v != nil
		}},
		{"host removed", "is removed", func(s *State) bool {
			v, o := snapFirstVM(s, snapPlaced), snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorRemoved })
			if v != nil && o != nil {
				v.Host = o.Key
			}
			return v != nil && o != nil
		}},
		{"host equivocated", "equivocated", func(s *State) bool {
			v, o := snapFirstVM(s, snapPlaced), snapFirstOp(s, func(o *Operator) bool { return o.Equivocated && o.Status == OperatorActive })
			if v != nil && o != nil {
				v.Host = o.Key
			}
			return v != nil && o != nil
		}},
		{"host of a VM not placed", "but has host", func(s *State) bool {
			v := snapFirstVM(s, func(v *VM) bool { return !snapPlaced(v) })
			if v != nil {
				v.Host = s.opOrder[0]
			}
			return v != nil
		}},
		{"placed on a host it failed on", "failed on", func(s *State) bool {
			v := snapFirstVM(s, snapPlaced)
			if v != nil {
				v.Tried = append(v.Tried, v.Host)
			}
			return v != nil && len(v.Tried) <= s.params.MaxAttempts
		}},
		{"placed without attempts left", "max attempts", func(s *State) bool {
			v := snapFirstVM(s, snapPlaced)
			if v == nil {
				return false
			}
			for _, k := range s.opOrder {
				if k != v.Host && !slices.Contains(v.Tried, k) && len(v.Tried) < s.params.MaxAttempts {
					v.Tried = append(v.Tried, k)
				}
			}
			return len(v.Tried) == s.params.MaxAttempts
		}},
		{"used", "but its VMs take", func(s *State) bool { s.operators[s.opOrder[0]].Used.MemoryMiB++; return true }},
		{"tried unknown", "is not an operator", func(s *State) bool {
			v := snapFirstVM(s, func(v *VM) bool { return len(v.Tried) > 0 })
			if v != nil {
				v.Tried[0] = snapStranger
			}
			return v != nil
		}},
		{"tried twice", "twice", func(s *State) bool {
			v := snapFirstVM(s, func(v *VM) bool { return len(v.Tried) > 0 && len(v.Tried) < s.params.MaxAttempts })
			if v != nil {
				v.Tried = append(v.Tried, v.Tried[0])
			}
			return v != nil
		}},
		{"tried too often", "max attempts", func(s *State) bool {
			v := snapFirstVM(s, func(*VM) bool { return true })
			if v != nil {
				v.Tried = slices.Clone(s.opOrder)
			}
			return v != nil && len(v.Tried) > s.params.MaxAttempts
		}},
		{"vm state", "unknown state(8)", func(s *State) bool {
			v := snapFirstVM(s, func(*VM) bool { return true })
			if v != nil {
				v.State = VMExpired + 1
			}
			return v != nil
		}},
		{"vm spec", "vcpu 0", func(s *State) bool {
			v := snapFirstVM(s, func(v *VM) bool { return !snapPlaced(v) })
			if v != nil {
				v.Spec.VCPU = 0
			}
			return v != nil
		}},
		{"vm reason", "reason: 600 bytes", func(s *State) bool {
			v := snapFirstVM(s, func(*VM) bool { return true })
			if v != nil {
				v.Reason = strings.Repeat("x", 600)
			}
			return v != nil
		}},
		{"live vm reason", "for a VM that is", func(s *State) bool {
			v := snapFirstVM(s, func(v *VM) bool { return !v.State.Final() })
			if v != nil {
				v.Reason = strings.Repeat("x", maxLiveReasonBytes+1)
			}
			return v != nil
		}},
		{"owner list misses a VM", "in no owner's list", func(s *State) bool {
			for _, o := range snapOwners(s) {
				if ids := s.byOwner[o]; len(ids) > 1 {
					s.byOwner[o] = ids[1:]
					return true
				}
			}
			return false
		}},
		{"owner list repeats a VM", "twice", func(s *State) bool {
			for _, o := range snapOwners(s) {
				if ids := s.byOwner[o]; len(ids) > 1 {
					s.byOwner[o] = append(slices.Clone(ids[:len(ids)-1]), ids[0])
					return true
				}
			}
			return false
		}},
		{"owner list of another owner", "belongs to", func(s *State) bool {
			owners := snapOwners(s)
			if len(owners) < 2 {
				return false
			}
			s.byOwner[owners[0]] = append(slices.Clone(s.byOwner[owners[0]]), s.byOwner[owners[1]][0])
			return true
		}},
		{"owner list of no VM", "is not a VM", func(s *State) bool {
			owners := snapOwners(s)
			if len(owners) > 0 {
				s.byOwner[owners[0]] = append(slices.Clone(s.byOwner[owners[0]]), tx.ID{1})
			}
			return len(owners) > 0
		}},
		{"empty owner list", "no VMs", func(s *State) bool {
			s.byOwner[snapStranger] = nil
			return len(s.byOwner) > 1
		}},
		{"duplicate operator", "repeats an operator", func(s *State) bool {
			s.opOrder = append(s.opOrder, s.opOrder[0])
			return true
		}},
		{"join order", "join order", func(s *State) bool {
			s.operators[s.opOrder[1]].order = s.operators[s.opOrder[0]].order
			return true
		}},
		{"joined", "operators joined", func(s *State) bool { s.joined--; return true }},
		{"operator status", "unknown status(0)", func(s *State) bool {
			s.operators[s.opOrder[len(s.opOrder)-1]].Status = 0
			return true
		}},
		{"operator weight", "weight 0", func(s *State) bool {
			s.operators[s.opOrder[len(s.opOrder)-1]].Weight = 0
			return true
		}},
		{"active weight", "not its active operators", func(s *State) bool {
			snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorActive }).Weight++
			return true
		}},
		{"active status", "not its active operators", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorPending })
			if o != nil {
				o.Status = OperatorActive
			}
			return o != nil
		}},
		{"since", "after the current epoch", func(s *State) bool {
			s.operators[s.opOrder[0]].Since = s.epoch + 1
			return true
		}},
		{"leaving while pending", "leaving, but pending", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorPending })
			if o != nil {
				o.Leaving = true
			}
			return o != nil
		}},
		{"approvals unsorted", "want sorted, unique keys", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return len(o.Approvals) > 1 })
			if o != nil {
				slices.Reverse(o.Approvals)
			}
			return o != nil
		}},
		{"removals repeated", "want sorted, unique keys", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return len(o.Removals) > 0 })
			if o != nil {
				o.Removals = append(o.Removals, o.Removals[len(o.Removals)-1])
			}
			return o != nil
		}},
		{"vote by a stranger", "which is not an operator", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorPending })
			if o != nil {
				o.Approvals = []tx.Key{{}}
			}
			return o != nil
		}},
		{"peer id", "peer id: 129 bytes", func(s *State) bool {
			s.operators[s.opOrder[0]].PeerID = strings.Repeat("p", tx.MaxPeerIDBytes+1)
			return true
		}},
		{"admission overflows", "over the limits", func(s *State) bool {
			o := snapFirstOp(s, func(o *Operator) bool { return o.Status == OperatorPending })
			if o == nil {
				return false
			}
			o.Approvals, o.Weight = nil, graph.MaxCommitteeWeight
			for i := range s.committee.Size() {
				m, _ := s.committee.Member(graph.MemberID(i))
				o.Approvals = append(o.Approvals, tx.Key(m.Key))
			}
			slices.SortFunc(o.Approvals, cmpKey)
			return true
		}},
		{"no current committee", "no committee for the current epoch", func(s *State) bool {
			delete(s.committees, s.epoch)
			return true
		}},
		{"future committee", "is not one of the 3", func(s *State) bool {
			if len(s.committees) == MaxSnapshotCommittees {
				delete(s.committees, s.recentEpochs()[0])
			}
			s.committees[s.epoch+1] = s.committee
			return true
		}},
		{"old committee member", "is not an operator", func(s *State) bool {
			if s.epoch == 0 {
				return false
			}
			c, err := graph.NewCommittee(s.epoch-1, []graph.Member{{Key: graph.PublicKey(snapStranger), Weight: 1}})
			s.committees[s.epoch-1] = c
			return err == nil
		}},
		{"evidence from the future", "after the current epoch", func(s *State) bool {
			s.evidence[evidenceKey{epoch: s.epoch + 1}] = struct{}{}
			return true
		}},
		{"evidence of an honest member", "not marked as equivocating", func(s *State) bool {
			for i := range s.committee.Size() {
				if m, _ := s.committee.Member(graph.MemberID(i)); !s.operators[tx.Key(m.Key)].Equivocated {
					s.evidence[evidenceKey{epoch: s.epoch, creator: graph.MemberID(i)}] = struct{}{}
					return true
				}
			}
			return false
		}},
		{"evidence of no member", "no member", func(s *State) bool {
			s.evidence[evidenceKey{epoch: s.epoch, creator: graph.MemberID(s.committee.Size())}] = struct{}{}
			return true
		}},
		{"seen expired", "outside the replay window", func(s *State) bool {
			return snapMoveSeen(s, expirySecond(s.time)-1)
		}},
		{"seen too far", "outside the replay window", func(s *State) bool {
			return snapMoveSeen(s, expirySecond(s.time+int64(tx.MaxValidity))+1)
		}},
		{"seen in a later commit", "is not one of the", func(s *State) bool {
			for _, sec := range s.seen.seconds() {
				b := s.seen.bucket(sec)
				for id := range b.ids {
					b.ids[id] = s.commits
					return true
				}
			}
			return false
		}},
		{"seen under two seconds", "filed under two seconds", func(s *State) bool {
			secs := s.seen.seconds()
			if len(secs) == 0 || expirySecond(s.time+int64(tx.MaxValidity)) == secs[len(secs)-1] {
				return false
			}
			for id, c := range s.seen.bucket(secs[0]).ids {
				s.seen.add(id, (secs[len(secs)-1]+1)*windowSecond, c)
				return true
			}
			return false
		}},
		{"boundary passed", "is not after the time", func(s *State) bool { s.boundary = s.time; return true }},
		{"boundary far", "more than an epoch length", func(s *State) bool {
			s.boundary = s.epochStart + int64(s.params.EpochLength) + 1
			return true
		}},
		{"epoch start", "is after the time", func(s *State) bool { s.epochStart = s.time + 1; return true }},
		{"epoch length", "epoch length 0s", func(s *State) bool { s.params.EpochLength = 0; return true }},
		{"status timeout", "status timeout", func(s *State) bool { s.params.StatusTimeout = -1; return true }},
		{"max attempts", "max attempts 0", func(s *State) bool { s.params.MaxAttempts = 0; return true }},
	}
	h := snapScenario(t)
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			applied := 0
			for k, data := range h.snaps {
				s := snapMustRestore(t, data)
				if !c.tamper(s) {
					continue
				}
				applied++
				s.dirty = true
				_, err := Restore(s.Snapshot(), nil)
				if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("snapshot %d: error %v, want one saying %q", k, err, c.want)
				}
			}
			if applied == 0 {
				t.Fatal("no scenario state to break")
			}
		})
	}
}

// snapOwners returns the owners, sorted.
func snapOwners(s *State) []tx.Key {
	var out []tx.Key
	for k := range s.byOwner {
		out = append(out, k)
	}
	slices.SortFunc(out, cmpKey)
	return out
}

// TestRestoreChecksCountsBeforeAllocating: a count that claims more than
// the limit, or more entries than the bytes left can hold, is refused
// before anything is allocated for it.
func TestRestoreChecksCountsBeforeAllocating(t *testing.T) {
	s := snapScenario(t).st
	head := func() *snapWriter {
		w := &snapWriter{}
		w.Raw([]byte(snapshotMagic))
		w.params(s.params)
		w.U64(s.epoch)
		w.I64(s.epochStart)
		w.I64(s.boundary)
		w.I64(s.time)
		w.U64(s.commits)
		return w
	}
	sections := []func(*snapWriter){s.putCommittees, s.putOperators, s.putVMs, s.putOwners, s.putPayments, s.putSeen, s.putEvidence}
	for i := range sections {
		for _, n := range []uint32{math.MaxUint32, 1 << 20, 1 << 16, 1000} {
			w := head()
			for _, put := range sections[:i] {
				put(w)
			}
			if i == 1 {
				w.U64(s.joined) // the operators' count follows it
			}
			w.U32(n)
			w.Raw(make([]byte, 100))
			w.Raw(make([]byte, 2*sha256.Size))
			data := snapReseal(w.B)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Restore(data, nil)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "at most") && !strings.Contains(err.Error(), "cannot fit") {
				t.Fatalf("section %d, count %d: error %v", i, n, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20+uint64(len(data)) {
				t.Fatalf("section %d, count %d: %d bytes allocated for a %d-byte snapshot", i, n, grew, len(data))
			}
		}
	}
}

// snapExercise calls what a node calls on a state, then applies an empty
// commit an epoch later; the state after it must still restore.
func snapExercise(t *testing.T, s *State) {
	s.Hash()
	s.Committee().Size()
	s.CountVMs()
	for _, v := range s.LiveVMs() {
		s.VM(v.ID)
		s.VMsByOwner(v.Owner)
		s.Check(&tx.Tx{Kind: tx.KindVMDelete, VM: v.ID, Author: v.Owner})
	}
	for _, o := range s.Operators() {
		s.PlacedOn(o.Key)
		s.VMsByOwner(o.Key)
		s.IsMember(o.Key)
		s.Check(&tx.Tx{Kind: tx.KindOperatorApprove, Author: o.Key, Operator: o.Key})
	}
	el := int64(s.params.EpochLength)
	later := s.time + el
	if later < s.time || later+el < later {
		later = s.time // an epoch later would overflow the clock
	}
	s.Apply(Commit{Index: s.commits, Time: later})
	s.Hash()
	s.LiveVMs()
	if _, err := Restore(s.Snapshot(), nil); err != nil && !strings.Contains(err.Error(), "approved for the next epoch") {
		t.Fatalf("the state after an empty commit does not restore: %v", err)
	}
}

// FuzzRestore: Restore never panics, and what it accepts is exactly the
// encoding of a state that works. The body alone is decoded too, past the
// checksum and the state hash, so that mutations reach the checks.
func FuzzRestore(f *testing.F) {
	h := snapScenario(f)
	for _, k := range []int{0, 1, 8, 17} {
		f.Add(h.snaps[k])
	}
	// The final state without its replay window, which is most of its
	// bytes: the smaller the inputs, the faster the fuzzer minimizes them.
	s := snapMustRestore(f, h.snaps[len(h.snaps)-1])
	sec := s.seen.seconds()[0]
	var id tx.ID
	var commit uint64
	for id, commit = range s.seen.bucket(sec).ids {
		break
	}
	s.seen, s.dirty = seenWindow{}, true
	f.Add(s.Snapshot())
	// And with one id in it, whose second and commit the fuzzer can reach.
	s.seen.add(id, sec*windowSecond, commit)
	f.Add(s.Snapshot())
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Restore(data, nil)
		if err == nil {
			if !bytes.Equal(s.Snapshot(), data) {
				t.Fatal("accepted data that is not the state's encoding")
			}
			snapExercise(t, s)
		} else if !errors.Is(err, ErrSnapshot) {
			t.Fatalf("error %v does not wrap ErrSnapshot", err)
		}
		if len(data) < 2*sha256.Size {
			return
		}
		body := data[:len(data)-2*sha256.Size]
		s, err = decodeSnapshot(body, nil)
		if err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			return
		}
		again := s.Snapshot()
		if !bytes.Equal(again[:len(body)], body) || len(again) != len(data) {
			t.Fatal("decoded a body that is not the state's encoding")
		}
		if _, err := Restore(again, nil); err != nil {
			t.Fatalf("a decoded body with its hash and checksum does not restore: %v", err)
		}
		snapExercise(t, s)
	})
}
