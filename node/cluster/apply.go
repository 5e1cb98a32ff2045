package cluster

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"dagger/graph"
	"dagger/node/payment"
	"dagger/node/tx"
)

// Commit is what the state machine takes from one commit.
type Commit struct {
	// Index is the commit's place in the commit sequence, counted from 0
	// at genesis: the Commits of the state it applies to.
	Index uint64
	// Time is the commit's consensus time (Unix ns).
	Time int64
	Txs  [][]byte
	// Checked, if not nil, holds for some of Txs what tx.Check returns for
	// them (a zero entry for the others): the caller checked them ahead,
	// so that a transaction is decoded and its signature verified once
	// per node. The state takes an entry as it is: it must be tx.Check's
	// answer for exactly those bytes.
	Checked []tx.Checked
}

// Result is what applying one commit did.
type Result struct {
	// Outcomes has one entry per cluster transaction (data starting with
	// tx.Magic), in order; other data is ordered and otherwise ignored.
	Outcomes []TxOutcome
	// Epoch is set when the commit ended the epoch: the new committee runs
	// the graph from the next commit on.
	Epoch *EpochChange
}

// TxOutcome is an Outcome and the transaction's position in the commit.
type TxOutcome struct {
	Index int
	Outcome
}

// checks returns the answers of tx.Check for the commit's cluster
// transactions: cm.Checked's, and those it does not know checked now, in
// one batch (tx.CheckAll).
// Nil if the commit has none (opaque transactions only).
func (cm Commit) checks() []tx.Checked {
	var checked []tx.Checked
	var todo []int
	var data [][]byte
	for i, b := range cm.Txs {
		if !tx.IsCluster(b) {
			continue
		}
		if checked == nil {
			checked = make([]tx.Checked, len(cm.Txs))
			copy(checked, cm.Checked)
		}
		if !checked[i].Known() {
			todo = append(todo, i)
			data = append(data, b)
		}
	}
	if len(todo) > 0 {
		for j, ck := range tx.CheckAll(data) {
			checked[todo[j]] = ck
		}
	}
	return checked
}

// Apply applies one commit: its transactions in order, then what the
// passing of consensus time does (leases end, silent hosts lose their VMs,
// an epoch boundary admits and removes operators). Commits come in order,
// each once, so the commit's index is Commits().
func (s *State) Apply(cm Commit) Result {
	var res Result
	s.time = max(s.time, cm.Time)
	s.seen.prune(s.time)
	checked := cm.checks()
	for i, data := range cm.Txs {
		if tx.IsCluster(data) {
			res.Outcomes = append(res.Outcomes, TxOutcome{Index: i, Outcome: s.applyTx(checked[i], s.commits)})
		}
	}
	s.sweep()
	res.Epoch = s.epochBoundary()
	s.commits++
	s.dirty = true
	return res
}

func reject(o Outcome, format string, args ...any) Outcome {
	o.OK = false
	o.Reason = fmt.Sprintf(format, args...)
	return o
}

// applyTx applies one cluster transaction of the commit at index, given
// what tx.Check found of it. Every check here runs on every node at the
// same point of the order; the processor ran the same checks earlier
// (Check), but a Byzantine node can put anything in its events.
func (s *State) applyTx(ck tx.Checked, index uint64) Outcome {
	t := ck.Tx
	if t == nil {
		return Outcome{Reason: ck.Err.Error()}
	}
	o := Outcome{ID: ck.ID, Kind: t.Kind, VM: t.VM}
	if t.Kind == tx.KindVMCreate {
		o.VM = o.ID
	}
	if ck.Err != nil {
		return reject(o, "%v", ck.Err)
	}
	if r, _ := s.CheckWindow(t, o.ID); r != "" {
		return reject(o, "%s", r)
	}
	s.seen.add(o.ID, t.Expiry, index)
	if t.Kind == tx.KindVMGet {
		v, ok := s.vms[t.VM]
		o.OK, o.Found = true, ok && !v.State.Final()
		if ok {
			o.View = v.clone()
		}
		return o
	}
	c, why := s.check(t)
	if why != "" {
		o = reject(o, "%s", why)
	} else {
		s.effect(t, o.ID, &c)
		o.OK = true
	}
	if v, ok := s.vms[o.VM]; ok && o.VM != (tx.ID{}) {
		o.View = v.clone()
	}
	return o
}

// CheckWindow returns why t, whose id is id, cannot commit now, or "":
// its expiry must lie ahead, within tx.MaxValidity, and its id must not
// have committed. final says that no later commit can change the answer:
// consensus time only grows, so an expiry behind it stays behind and a
// committed id stays committed; but an expiry too far ahead of a state
// that lags the order (a node catching up) may be in range once it has
// caught up.
func (s *State) CheckWindow(t *tx.Tx, id tx.ID) (why string, final bool) {
	switch {
	case t.Expiry < s.time:
		return "expired before it committed", true
	case t.Expiry-s.time > int64(tx.MaxValidity):
		return fmt.Sprintf("expiry is more than %v ahead of consensus time", tx.MaxValidity), false
	}
	if s.Replay(id, t.Expiry) {
		return "duplicate: this transaction already committed", true
	}
	return "", false
}

// IsMember says whether k is an active operator: in the committee.
func (s *State) IsMember(k tx.Key) bool { return s.member(k) }

func (s *State) member(k tx.Key) bool {
	o, ok := s.operators[k]
	return ok && o.Status == OperatorActive
}

// checked is what check found, for effect to use.
type checked struct {
	vm   *VM
	op   *Operator
	pay  payment.Payment
	evid evidenceKey
	// final marks a rejection that no later commit can undo: a bad or used
	// payment, a VM that is gone, a VM of another owner, invalid or known
	// evidence.
	final bool
}

// Check returns why t would be rejected if it committed now, or "", and
// whether that rejection is final: the same code Apply runs. It does not
// check the signature or the replay window (CheckWindow). A processor
// working from a state that may lag the order can refuse a transaction
// only for a final reason; any other answer might be stale, and only the
// order can give it.
func (s *State) Check(t *tx.Tx) (reason string, final bool) {
	if t.Kind == tx.KindVMGet {
		return "", false
	}
	c, why := s.check(t)
	return why, c.final
}

func (s *State) check(t *tx.Tx) (checked, string) {
	var c checked
	switch t.Kind {
	case tx.KindOperatorJoin:
		if op, ok := s.operators[t.Author]; ok {
			switch {
			case op.Status != OperatorRemoved:
				return c, fmt.Sprintf("operator %s is already %s", t.Author.Short(), op.Status)
			case op.Equivocated:
				return c, fmt.Sprintf("operator %s equivocated and may not rejoin", t.Author.Short())
			}
			c.op = op
		}
	case tx.KindOperatorApprove, tx.KindOperatorRemove:
		if !s.member(t.Author) {
			// A key the cluster never saw would have to ask to join and be
			// admitted before its vote could count: refused at admission.
			_, known := s.operators[t.Author]
			c.final = !known
			return c, fmt.Sprintf("only committee members vote; %s is not one", t.Author.Short())
		}
		target, ok := s.operators[t.Operator]
		if !ok {
			return c, fmt.Sprintf("no operator %s", t.Operator.Short())
		}
		votes, want := target.Approvals, OperatorPending
		if t.Kind == tx.KindOperatorRemove {
			votes, want = target.Removals, OperatorActive
		}
		if target.Status != want {
			return c, fmt.Sprintf("operator %s is %s, not %s", t.Operator.Short(), target.Status, want)
		}
		if _, found := slices.BinarySearchFunc(votes, t.Author, cmpKey); found {
			return c, fmt.Sprintf("%s already voted", t.Author.Short())
		}
		c.op = target
	case tx.KindOperatorLeave:
		op, ok := s.operators[t.Author]
		if !ok || op.Status == OperatorRemoved {
			return c, fmt.Sprintf("%s is not an operator", t.Author.Short())
		}
		c.op = op
	case tx.KindVMCreate:
		if !s.servesRegion(t.Spec.Region) {
			return c, fmt.Sprintf("no operator serves region %q", t.Spec.Region)
		}
		return s.checkPayment(t, t.Spec)
	case tx.KindVMDelete, tx.KindVMRenew, tx.KindVMStatus:
		v, ok := s.vms[t.VM]
		switch {
		case !ok:
			return c, fmt.Sprintf("no VM %s", t.VM.Short())
		case v.State.Final():
			c.final = true
			return c, fmt.Sprintf("VM %s is %s", t.VM.Short(), v.State)
		case t.Kind == tx.KindVMDelete && v.Owner != t.Author:
			c.final = true
			return c, fmt.Sprintf("only the owner may delete VM %s", t.VM.Short())
		case t.Kind == tx.KindVMStatus && (!v.State.Placed() || v.Host != t.Author):
			return c, fmt.Sprintf("%s does not host VM %s", t.Author.Short(), t.VM.Short())
		}
		if t.Kind == tx.KindVMRenew {
			c, why := s.checkPayment(t, v.Spec)
			c.vm = v
			return c, why
		}
		c.vm = v
	case tx.KindEvidence:
		ev, err := graph.DecodeEvidence(t.Evidence, graph.Limits{})
		if err != nil {
			c.final = true
			return c, err.Error()
		}
		com, ok := s.committees[ev.First.Epoch]
		if !ok {
			return c, fmt.Sprintf("evidence for epoch %d, which is unknown or too old", ev.First.Epoch)
		}
		c.evid = evidenceKey{epoch: ev.First.Epoch, creator: ev.Creator()}
		if err := ev.Verify(com, s.verifier); err != nil {
			c.final = true
			return c, err.Error()
		}
		if _, dup := s.evidence[c.evid]; dup {
			c.final = true
			return c, fmt.Sprintf("equivocation of member %d in epoch %d is already proven", c.evid.creator, c.evid.epoch)
		}
		m, _ := com.Member(ev.Creator())
		c.op = s.operators[tx.Key(m.Key)]
	default:
		return c, fmt.Sprintf("unknown kind %s", t.Kind)
	}
	return c, ""
}

// checkPayment verifies that t carries an unused payment for spec over
// t.Lease.
func (s *State) checkPayment(t *tx.Tx, spec tx.Spec) (checked, string) {
	var c checked
	price, err := s.params.PriceOf(spec, t.Lease)
	if err != nil {
		c.final = true
		return c, err.Error()
	}
	c.final = true
	p, err := payment.Verify(t.Payment, payment.Requirement{Treasury: s.params.Treasury, Lamports: price, Memo: t.Memo()})
	if err != nil {
		return c, fmt.Sprintf("payment rejected (%s): %v", payment.ReasonOf(err), err)
	}
	if _, used := s.payments[p.Signature]; used {
		return c, fmt.Sprintf("payment rejected: Solana transaction %s already paid for something", p.Signature)
	}
	c.final = false
	c.pay = p
	return c, ""
}

// effect applies a checked transaction.
func (s *State) effect(t *tx.Tx, id tx.ID, c *checked) {
	switch t.Kind {
	case tx.KindOperatorJoin:
		if op := c.op; op != nil {
			op.PeerID, op.Region, op.Capacity, op.Payout = t.PeerID, t.Region, t.Capacity, t.Payout
			op.Status, op.Since, op.Approvals, op.Removals, op.Leaving = OperatorPending, s.epoch, nil, nil, false
			return
		}
		s.addOperator(&Operator{Key: t.Author, PeerID: t.PeerID, Region: t.Region, Capacity: t.Capacity,
			Payout: t.Payout, Weight: 1, Status: OperatorPending, Since: s.epoch})
	case tx.KindOperatorApprove, tx.KindOperatorRemove:
		votes := &c.op.Approvals
		if t.Kind == tx.KindOperatorRemove {
			votes = &c.op.Removals
		}
		i, _ := slices.BinarySearchFunc(*votes, t.Author, cmpKey)
		*votes = slices.Insert(*votes, i, t.Author)
	case tx.KindOperatorLeave:
		if c.op.Status == OperatorPending {
			c.op.Status, c.op.Since = OperatorRemoved, s.epoch // withdraws its request
		} else {
			c.op.Leaving = true
		}
	case tx.KindVMCreate:
		s.consume(c.pay)
		v := &VM{ID: id, Owner: t.Author, Spec: t.Spec, State: VMPending, Created: s.time, LeaseEnd: s.time + int64(t.Lease),
			Paid: c.pay.Lamports, PendingSince: s.time}
		s.note(v, VMEventCreated, tx.Key{}, fmt.Sprintf("paid %d lamports for a lease until %s", v.Paid, formatTime(v.LeaseEnd)))
		s.vms[v.ID] = v
		i, _ := slices.BinarySearchFunc(s.live, v.ID, cmpID)
		s.live = slices.Insert(s.live, i, v.ID)
		s.byOwner[v.Owner] = append(s.byOwner[v.Owner], v.ID)
		s.place(v)
		s.dropFinal()
	case tx.KindVMDelete:
		s.end(c.vm, VMDeleted, "deleted by its owner")
		s.dropFinal()
		s.retryPending()
	case tx.KindVMRenew:
		s.consume(c.pay)
		c.vm.LeaseEnd += int64(t.Lease)
		c.vm.Paid += c.pay.Lamports
		s.note(c.vm, VMEventRenewed, tx.Key{}, fmt.Sprintf("paid %d lamports more: the lease runs until %s", c.pay.Lamports, formatTime(c.vm.LeaseEnd)))
	case tx.KindVMStatus:
		v := c.vm
		v.Updated, v.Reason = s.time, t.Reason
		switch t.State {
		case tx.VMRunning:
			if v.State != VMRunning || v.Access != t.Access {
				s.setState(v, VMRunning)
				v.Access = t.Access
				s.note(v, VMEventRunning, v.Host, runningReason(t))
			}
		case tx.VMStopped:
			if v.State != VMStopped {
				s.setState(v, VMStopped)
				s.note(v, VMEventStopped, v.Host, t.Reason)
			}
		case tx.VMFailed:
			s.unplace(v, true, fmt.Sprintf("failed on %s: %s", t.Author.Short(), t.Reason))
			s.place(v)
			s.dropFinal()
		}
	case tx.KindEvidence:
		s.evidence[c.evid] = struct{}{}
		op := c.op
		op.Equivocated = true
		for _, vid := range s.live {
			if v := s.vms[vid]; v.State.Placed() && v.Host == op.Key {
				s.unplace(v, true, fmt.Sprintf("host %s equivocated", op.Key.Short()))
				s.place(v)
			}
		}
		s.dropFinal()
	}
}

func (s *State) consume(p payment.Payment) {
	s.payments[p.Signature] = struct{}{}
	xorInto(&s.payHash, p.Signature[:])
}

func (s *State) servesRegion(region string) bool {
	for _, k := range s.opOrder {
		if op := s.operators[k]; op.Status == OperatorActive && op.Region == region {
			return true
		}
	}
	return false
}

// place puts v on the operator whose hash with v's id is lowest among the
// active ones in its region with room, never one it failed on: spread
// without coordination, and identical on every node.
func (s *State) place(v *VM) {
	if len(v.Tried) >= s.params.MaxAttempts {
		s.end(v, VMFailed, fmt.Sprintf("gave up after %d hosts; last: %s", len(v.Tried), v.Reason))
		return
	}
	var best *Operator
	var bestScore [32]byte
	for _, k := range s.opOrder {
		op := s.operators[k]
		if op.Status != OperatorActive || op.Equivocated || op.Leaving || op.Region != v.Spec.Region ||
			slices.Contains(v.Tried, k) || !fits(op.Capacity, op.Used, v.Spec) {
			continue
		}
		score := sha256.Sum256(append(append([]byte("dagger/placement/v1\x00"), v.ID[:]...), k[:]...))
		if best == nil || cmpID(score, bestScore) < 0 {
			best, bestScore = op, score
		}
	}
	if best == nil {
		s.setState(v, VMPending)
		if v.Reason == "" {
			v.Reason = fmt.Sprintf("no operator in region %q has room", v.Spec.Region)
		}
		s.note(v, VMEventWaiting, tx.Key{}, fmt.Sprintf("no operator in region %q has room for it", v.Spec.Region))
		return
	}
	best.Used = addCap(best.Used, v.Spec)
	s.setState(v, VMProvisioning)
	v.Host, v.Updated, v.PlacedAt = best.Key, s.time, s.time
	s.note(v, VMEventPlaced, best.Key, fmt.Sprintf("placed on %s", best.Key.Short()))
}

// unplace takes v off its host for the reason why; failed says the host
// failed it, which it is then never tried on again.
func (s *State) unplace(v *VM, failed bool, why string) {
	if !v.State.Placed() {
		return
	}
	host := v.Host
	if op, ok := s.operators[host]; ok {
		op.Used = subCap(op.Used, v.Spec)
	}
	if failed {
		v.Tried = append(v.Tried, host)
	}
	s.setState(v, VMPending) // stops the clock while the host is still v's
	v.Host = tx.Key{}
	v.Reason = why
	s.note(v, VMEventLeft, host, why+"; the guest's disk stays on that host: it does not move with the VM")
}

// end makes v final: deleted, expired or failed, for the reason why. A VM
// the cluster ended has what was paid for time it never ran recorded as
// due to its owner.
func (s *State) end(v *VM, st VMState, why string) {
	if v.State.Placed() {
		if op, ok := s.operators[v.Host]; ok {
			op.Used = subCap(op.Used, v.Spec)
		}
	}
	s.setState(v, st) // stops the clock while the host is still v's
	v.Host, v.Reason, v.Updated = tx.Key{}, why, s.time
	if st.Lost() {
		s.refund(v)
	}
	msg := why
	if v.RefundDue > 0 {
		msg = fmt.Sprintf("%s; %d lamports paid for time it never ran are owed to its owner", why, v.RefundDue)
	}
	s.note(v, VMEventEnded, tx.Key{}, msg)
}

// dropFinal removes final VMs from the live list.
func (s *State) dropFinal() {
	s.live = slices.DeleteFunc(s.live, func(id tx.ID) bool { return s.vms[id].State.Final() })
}

func (s *State) retryPending() {
	for _, id := range s.live {
		if v := s.vms[id]; v.State == VMPending {
			s.place(v)
		}
	}
	s.dropFinal()
}

// sweep ends leases and takes VMs away from hosts that stopped reporting.
func (s *State) sweep() {
	freed, ended := false, false
	for _, id := range s.live {
		v := s.vms[id]
		switch {
		case v.LeaseEnd <= s.time:
			s.end(v, VMExpired, "lease ended")
			freed = true
		case v.State.Placed() && s.time-v.Updated > int64(s.params.StatusTimeout):
			s.unplace(v, true, fmt.Sprintf("host %s stopped reporting", v.Host.Short()))
			s.place(v)
			freed = true
		case v.State == VMPending && s.time-v.PendingSince >= int64(s.params.PendingTimeout):
			s.end(v, VMFailed, fmt.Sprintf("waited %v for a host with room", time.Duration(s.time-v.PendingSince)))
			ended = true
		}
	}
	if ended && !freed {
		s.dropFinal()
	}
	if freed {
		s.dropFinal()
		s.retryPending()
	}
}

// epochBoundary starts a new epoch once consensus time passes the
// boundary, admitting and removing operators. Every boundary ends the
// epoch, the committee changed or not: a new epoch starts a fresh graph at
// round 0, so the state after a boundary commit is a checkpoint a node can
// restart from (and prune the events below) without replaying history.
func (s *State) epochBoundary() *EpochChange {
	if s.time < s.boundary {
		return nil
	}
	for s.boundary <= s.time {
		s.boundary += int64(s.params.EpochLength)
	}
	var admit, remove []*Operator
	for _, k := range s.opOrder {
		op := s.operators[k]
		switch {
		case op.Status == OperatorPending && s.committee.IsQuorum(s.votingWeight(op.Approvals)):
			admit = append(admit, op)
		case op.Status == OperatorActive && (op.Leaving || s.committee.IsQuorum(s.votingWeight(op.Removals))):
			remove = append(remove, op)
		}
	}
	if len(remove) >= s.activeCount()+len(admit) {
		remove = nil // the cluster never empties its committee
	}
	next := s.epoch + 1
	for _, op := range admit {
		op.Status, op.Since, op.Approvals = OperatorActive, next, nil
	}
	for _, op := range remove {
		op.Status, op.Since, op.Removals, op.Leaving = OperatorRemoved, next, nil, false
	}
	c, err := s.buildCommittee(next)
	if err != nil {
		panic(fmt.Sprintf("cluster: committee of epoch %d: %v", next, err)) // genesis and admission keep it valid
	}
	s.epoch, s.committee, s.epochStart = next, c, s.time
	s.committees[next] = c
	if next >= 3 {
		delete(s.committees, next-3) // evidence of the last three epochs is checked
	}
	for _, id := range s.live {
		if v := s.vms[id]; v.State.Placed() && s.operators[v.Host].Status != OperatorActive {
			s.unplace(v, false, fmt.Sprintf("host %s left the cluster", v.Host.Short()))
		}
	}
	s.retryPending()
	return &EpochChange{Epoch: next, Committee: c, Time: s.time}
}

func (s *State) activeCount() int {
	n := 0
	for _, op := range s.operators {
		if op.Status == OperatorActive {
			n++
		}
	}
	return n
}

// votingWeight sums the current committee weight of voters.
func (s *State) votingWeight(voters []tx.Key) uint64 {
	var w uint64
	for _, k := range voters {
		if id, ok := s.committee.MemberByKey(graph.PublicKey(k)); ok {
			w += s.committee.Weight(id)
		}
	}
	return w
}

func fits(total, used tx.Capacity, s tx.Spec) bool {
	return uint64(used.VCPU)+uint64(s.VCPU) <= uint64(total.VCPU) &&
		used.MemoryMiB+s.MemoryMiB <= total.MemoryMiB && used.MemoryMiB+s.MemoryMiB >= used.MemoryMiB &&
		used.DiskGiB+s.DiskGiB <= total.DiskGiB && used.DiskGiB+s.DiskGiB >= used.DiskGiB
}

func addCap(c tx.Capacity, s tx.Spec) tx.Capacity {
	return tx.Capacity{VCPU: c.VCPU + s.VCPU, MemoryMiB: c.MemoryMiB + s.MemoryMiB, DiskGiB: c.DiskGiB + s.DiskGiB}
}

func subCap(c tx.Capacity, s tx.Spec) tx.Capacity {
	return tx.Capacity{VCPU: c.VCPU - s.VCPU, MemoryMiB: c.MemoryMiB - s.MemoryMiB, DiskGiB: c.DiskGiB - s.DiskGiB}
}

// runningReason is the history's line for a running report.
func runningReason(t *tx.Tx) string {
	r := fmt.Sprintf("%s reports it running", t.Author.Short())
	if !t.Access.IsZero() {
		r += ", reachable at " + t.Access.String()
	}
	if t.Reason != "" {
		r += ": " + t.Reason
	}
	return r
}

// formatTime writes a consensus time for people.
func formatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }
