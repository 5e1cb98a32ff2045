package cluster_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"dagger/node/cluster"
	"dagger/node/tx"
)

// kinds lists a history's kinds, for comparing stories.
func kinds(v cluster.VM) string {
	var ks []string
	for _, e := range v.History {
		ks = append(ks, e.Kind.String())
	}
	return strings.Join(ks, " ")
}

func TestAVMsHistoryTellsItsStory(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	first := v.Host
	access := tx.Access{Host: "203.0.113.7", Port: 22001}
	h.mustOK(h.sign(h.keyOf(first), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning, Access: access}))
	// A repeated report changes nothing in the story.
	h.mustOK(h.sign(h.keyOf(first), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning, Access: access}))
	if v, _ := h.st.VM(id); v.Access != access || kinds(v) != "created placed running" {
		t.Fatalf("after running reports: access %+v, story %q", v.Access, kinds(v))
	}
	h.mustOK(h.sign(h.keyOf(first), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "kernel panic"}))
	v, _ = h.st.VM(id)
	if got := kinds(v); got != "created placed running left-host placed" {
		t.Fatalf("story after a failure: %q", got)
	}
	left := v.History[3]
	if left.Host != first || !strings.Contains(left.Reason, "kernel panic") || !strings.Contains(left.Reason, "disk stays") {
		t.Fatalf("the move does not say why or what of the disk: %+v", left)
	}
	if !v.Access.IsZero() {
		t.Fatalf("a VM that left its host keeps its access %+v", v.Access)
	}
	if placed := v.History[4]; placed.Host != v.Host || placed.Host == first || placed.State != cluster.VMProvisioning {
		t.Fatalf("second placement %+v, VM on %s", placed, v.Host.Short())
	}
	// The new host goes silent: the story says so.
	h.commit(11 * time.Second)
	v, _ = h.st.VM(id)
	if n := len(v.History); n < 2 || v.History[n-2].Kind != cluster.VMEventLeft || !strings.Contains(v.History[n-2].Reason, "stopped reporting") {
		t.Fatalf("story after a silent host: %q", kinds(v))
	}
	h.mustOK(h.sign(customer(0), &tx.Tx{Kind: tx.KindVMDelete, VM: id}))
	v, _ = h.st.VM(id)
	last := v.History[len(v.History)-1]
	if last.Kind != cluster.VMEventEnded || last.State != cluster.VMDeleted || v.RefundDue != 0 {
		t.Fatalf("deleted: last event %+v, refund %d", last, v.RefundDue)
	}
	for i := 1; i < len(v.History); i++ {
		if v.History[i].Time < v.History[i-1].Time {
			t.Fatalf("history out of time order: %+v", v.History)
		}
	}
}

func TestHistoryStaysBoundedAndKeepsItsStart(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	for i := range cluster.MaxVMHistory {
		v, _ := h.st.VM(id)
		st := tx.VMRunning
		if i%2 == 1 {
			st = tx.VMStopped
		}
		h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: st}))
	}
	v, _ := h.st.VM(id)
	if len(v.History) != cluster.MaxVMHistory || v.History[0].Kind != cluster.VMEventCreated ||
		v.History[len(v.History)-1].Kind != cluster.VMEventStopped {
		t.Fatalf("%d events, first %s, last %s", len(v.History), v.History[0].Kind, v.History[len(v.History)-1].Kind)
	}
}

func TestAVMThatNeverRanIsOwedWhatItPaid(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	for range cluster.DefaultMaxAttempts {
		v, _ := h.st.VM(id)
		h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "no such image"}))
	}
	v, _ := h.st.VM(id)
	if v.State != cluster.VMFailed || v.RefundDue != v.Paid || v.Paid == 0 {
		t.Fatalf("failed on every host: %s, refund %d of %d paid", v.State, v.RefundDue, v.Paid)
	}
	if last := v.History[len(v.History)-1]; last.Kind != cluster.VMEventEnded || !strings.Contains(last.Reason, "owed to its owner") {
		t.Fatalf("the end does not record the refund: %+v", last)
	}
}

// hosted is an operator's account as of the last commit.
func (h *harness) hosted(k tx.Key) (time.Duration, uint64) {
	op, ok := h.st.Operator(k)
	if !ok {
		h.t.Fatalf("no operator %s", k.Short())
	}
	for _, o := range h.st.Operators() {
		if o.Key == k && (o.HostedNs != op.HostedNs || o.Earned != op.Earned) {
			h.t.Fatalf("Operators says %d ns, %d lamports; Operator %d ns, %d lamports", o.HostedNs, o.Earned, op.HostedNs, op.Earned)
		}
	}
	return time.Duration(op.HostedNs), op.Earned
}

func TestAVMThatRanPartlyIsOwedTheRestAndItsHostEarnsItsTime(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	host := v.Host
	h.mustOK(h.sign(h.keyOf(host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning}))
	for range 200 { // 30 minutes of reports every 9 s
		h.commit(9*time.Second - time.Millisecond)
		h.mustOK(h.sign(h.keyOf(host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning}))
	}
	hosted, earned := h.hosted(host)
	if hosted < 30*time.Minute || hosted > 31*time.Minute || earned == 0 {
		t.Fatalf("after 30 minutes running: hosted %v, earned %d", hosted, earned)
	}
	// 1 vCPU and 1 GiB at 3600 lamports an hour each: 7200 an hour.
	if want := uint64(hosted.Seconds() * 2); earned < want || earned > want+1 {
		t.Fatalf("hosted %v earned %d, want %d", hosted, earned, want)
	}
	// The host reports it stopped, then failed twice more elsewhere: the
	// cluster gives up and owes what was paid for the time it did not run.
	h.mustOK(h.sign(h.keyOf(host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "host disk failed"}))
	hosted, earned = h.hosted(host)
	for range cluster.DefaultMaxAttempts - 1 {
		v, _ := h.st.VM(id)
		h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMFailed, Reason: "boot failed"}))
	}
	if hostedAfter, earnedAfter := h.hosted(host); hostedAfter != hosted || earnedAfter != earned {
		t.Fatalf("the failed host's account moved: %v %d, then %v %d", hosted, earned, hostedAfter, earnedAfter)
	}
	v, _ = h.st.VM(id)
	if v.State != cluster.VMFailed || v.RanUntil(h.now) != hosted {
		t.Fatalf("VM %s ran %v, its host hosted %v", v.State, v.RanUntil(h.now), hosted)
	}
	if want := v.Paid - earned; v.RefundDue != want {
		t.Fatalf("refund %d of %d paid, want %d (the price of %v not run)", v.RefundDue, v.Paid, want, time.Hour-hosted)
	}
}

func TestAVMThatWaitsTooLongForRoomFails(t *testing.T) {
	h := newHarness(t, 1)
	// The one operator has room for four 1-vCPU VMs.
	for range 4 {
		h.mustOK(h.createTx(customer(0), "eu", -1).Encode())
	}
	id := h.mustOK(h.createTx(customer(1), "eu", -1).Encode()).VM
	if v, _ := h.st.VM(id); v.State != cluster.VMPending || kinds(v) != "created waiting" {
		t.Fatalf("fifth VM: %s, story %q", v.State, kinds(v))
	}
	host := pub(h.keys[0])
	for h.now < t0+int64(cluster.DefaultPendingTimeout) {
		// The host keeps the others alive, and the fifth keeps waiting:
		// one line in its story for it.
		for _, o := range h.st.PlacedOn(host) {
			h.mustOK(h.sign(h.keys[0], &tx.Tx{Kind: tx.KindVMStatus, VM: o.ID, State: tx.VMRunning}))
		}
		h.commit(5 * time.Second)
	}
	v, _ := h.st.VM(id)
	if v.State != cluster.VMFailed || v.RefundDue != v.Paid || kinds(v) != "created waiting ended" ||
		!strings.Contains(v.Reason, "waited") {
		t.Fatalf("after the pending timeout: %s (%s), refund %d of %d, story %q", v.State, v.Reason, v.RefundDue, v.Paid, kinds(v))
	}
	for _, l := range h.st.LiveVMs() {
		if l.ID == id {
			t.Fatal("a failed VM is still live")
		}
	}
}

func TestSnapshotKeepsHistoriesAndAccounts(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning,
		Access: tx.Access{Host: "node1.example.net", Port: 22005}}))
	for range 8 {
		h.commit(8 * time.Second)
		h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMRunning,
			Access: tx.Access{Host: "node1.example.net", Port: 22005}}))
	}
	h.mustOK(h.sign(h.keyOf(v.Host), &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: tx.VMStopped, Reason: "shut down"}))
	snap := h.st.Snapshot()
	back, err := cluster.Restore(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Snapshot(), snap) || back.Hash() != h.st.Hash() {
		t.Fatal("the restored state differs")
	}
	w, _ := back.VM(id)
	if kinds(w) != "created placed running stopped" || w.RanNs < int64(time.Minute) {
		t.Fatalf("restored: story %q, ran %v", kinds(w), time.Duration(w.RanNs))
	}
	if hosted, earned := backHosted(t, back, v.Host); hosted < time.Minute || earned == 0 {
		t.Fatalf("restored host account: %v, %d", hosted, earned)
	}
}

func TestAccessIsReportedOnlyForARunningVM(t *testing.T) {
	h := newHarness(t, 4)
	id := h.mustOK(h.createTx(customer(0), "eu", -1).Encode()).VM
	v, _ := h.st.VM(id)
	for _, c := range []struct {
		st     tx.VMState
		access tx.Access
		want   string
	}{
		{tx.VMStopped, tx.Access{Host: "203.0.113.7", Port: 22}, "only a running one"},
		{tx.VMRunning, tx.Access{Host: "203.0.113.7"}, "both a host and a port"},
		{tx.VMRunning, tx.Access{Host: "bad host", Port: 22}, "not an IP address or a DNS name"},
		{tx.VMRunning, tx.Access{Host: "2001:DB8::1", Port: 22}, "canonical"},
	} {
		m := &tx.Tx{Kind: tx.KindVMStatus, VM: id, State: c.st, Access: c.access, Expiry: h.now + int64(time.Minute)}
		m.Sign(h.keyOf(v.Host))
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with access %+v: %v, want %q", c.st, c.access, err, c.want)
		}
		if _, err := tx.Decode(m.Encode()); err == nil {
			t.Errorf("%s with access %+v decodes", c.st, c.access)
		}
	}
}

func backHosted(t *testing.T, st *cluster.State, k tx.Key) (time.Duration, uint64) {
	op, ok := st.Operator(k)
	if !ok {
		t.Fatalf("no operator %s", k.Short())
	}
	return time.Duration(op.HostedNs), op.Earned
}
