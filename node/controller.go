// The controller: commits applied to the cluster state, snapshots and
// pruning at epoch boundaries, evidence reported, and the host reconciled
// with the VMs the cluster placed on this operator.

package node

import (
	"errors"
	"fmt"
	"slices"

	"dagger/graph"
	"dagger/node/cluster"
	"dagger/node/tx"
	"dagger/provision"
)

type report struct {
	state  tx.VMState
	at     int64
	host   tx.Key
	access tx.Access
}

// onCommit is the ledger's Commit hook: the controller applies the commit.
func (n *Node) onCommit(c graph.Commit) {
	if h := n.userHooks.Commit; h != nil {
		h(c)
	}
	txs := make([][]byte, len(c.Txs))
	checked := n.commitChecks(c)
	for i := range c.Txs {
		txs[i] = c.TxData(i)
	}
	res := n.state.Apply(cluster.Commit{Index: c.Index, Time: c.Time, Txs: txs, Checked: checked})
	for _, o := range res.Outcomes {
		ctx := c.Txs[o.Index]
		st := TxStatus{State: TxCommitted, Commit: c.Index, Event: c.Events[ctx.Event].Hash(), Position: ctx.Index, Outcome: o.Outcome}
		if !o.OK {
			st.Reason = o.Reason
		}
		if _, mine := n.pending[o.ID]; mine {
			n.finish(o.ID, st)
		} else if o.ID != (tx.ID{}) {
			n.remember(o.ID, st)
		}
	}
	if res.Epoch != nil {
		w := n.ledger.EndEpoch(Epoch{Committee: res.Epoch.Committee, Time: res.Epoch.Time})
		n.checkpoint(res.Epoch.Epoch, c.Index+1, w)
	}
	if h := n.cfg.Hooks.Applied; h != nil {
		h(c, res, n.state.Hash())
	}
}

// checkpoint stores the state at the start of epoch, whose first commit
// is commit, and then prunes the events of the epochs the store no longer
// needs keep. A replay of commits before the newest stored snapshot stores
// nothing. A write that fails stops the node.
func (n *Node) checkpoint(epoch, commit uint64, w graph.TxWindow) {
	if commit <= n.snapCommit {
		return
	}
	c := &checkpoint{epoch: epoch, commit: commit, state: n.state.Capture(), window: w}
	if n.storing != nil {
		n.queued = c // it supersedes one queued before: only the newest matters
		return
	}
	n.store1(c)
}

// checkpoint is a snapshot taken at an epoch's start, on its way to the
// store.
type checkpoint struct {
	epoch, commit uint64
	state         *cluster.Capture
	// window is encoded by the work, off the node's loop: sorting it is
	// most of its encoding's cost. Nothing changes it once the graph
	// handed it over (the next graph copies what it keeps).
	window graph.TxWindow
	// set by the work: the stored encoding's size, or why it failed.
	size     int
	err      error
	pruneErr error
}

// Background runs work off the node's goroutine: Go runs work on another
// goroutine, then done on the node's, as a message would run; done never
// runs if the node stopped before. A node has at most one work running.
type Background interface {
	Go(work, done func())
}

// store1 encodes c, stores it and prunes the epochs it makes unneeded,
// through Background if there is one; the next checkpoint waits for it.
// Pruning follows the store's write, so a node that crashes between them
// still holds every event since its newest stored snapshot.
func (n *Node) store1(c *checkpoint) {
	n.storing = c
	keep := uint64(n.cfg.KeepEpochs)
	work := func() {
		data := encodeSnapshotData(c.state.Bytes(), c.window.Encode())
		c.state, c.window, c.size = nil, nil, len(data)
		if c.err = n.store.PutSnapshot(Snapshot{Epoch: c.epoch, Commit: c.commit, Data: data}); c.err != nil {
			return
		}
		if keep > 0 && c.epoch > keep {
			c.pruneErr = n.store.Prune(c.epoch - keep)
		}
	}
	done := func() {
		n.storing = nil
		switch {
		case c.err != nil:
			n.ledger.fail(fmt.Errorf("store the snapshot of epoch %d: %w", c.epoch, c.err))
			return
		case c.pruneErr != nil:
			n.ledger.fail(fmt.Errorf("prune the events below epoch %d: %w", c.epoch-keep, c.pruneErr))
		}
		n.snapCommit = c.commit
		n.stats.SnapshotBytes = uint64(c.size)
		if next := n.queued; next != nil && !n.ledger.faulted {
			n.queued = nil
			n.store1(next)
		}
	}
	if n.cfg.Background == nil {
		work()
		done()
		return
	}
	n.cfg.Background.Go(work, done)
}

func (n *Node) onEvidence(ev graph.Evidence) {
	if h := n.userHooks.Evidence; h != nil {
		h(ev)
	}
	key := [2]uint64{ev.First.Epoch, uint64(ev.Creator())}
	if n.evidence[key] || !n.state.IsMember(n.self) {
		return
	}
	n.evidence[key] = true
	n.own(&tx.Tx{Kind: tx.KindEvidence, Evidence: ev.Encode()})
}

// tick runs the controller's periodic duties: resubmitting what did not
// commit, votes, and reconciling the host with the cluster state.
func (n *Node) tick() {
	if n.stopped || n.ledger.faulted {
		return
	}
	n.expirePending()
	now := n.clock.Now()
	for _, id := range n.pendOrder {
		if p, ok := n.pending[id]; ok && !p.confirm && now-p.submitted >= int64(n.cfg.ResubmitAfter) {
			n.stats.Resubmits++
			n.enqueue(id, p)
		}
	}
	if n.cfg.AutoApprove && n.state.IsMember(n.self) {
		for _, op := range n.state.Operators() {
			if op.Status == cluster.OperatorPending && !n.approved[op.Key] && !slices.Contains(op.Approvals, n.self) {
				n.approved[op.Key] = true
				n.own(&tx.Tx{Kind: tx.KindOperatorApprove, Operator: op.Key})
			}
		}
	}
	n.reconcile()
	n.timer = n.clock.AfterFunc(n.cfg.ReconcileEvery, n.tick)
}

// operator, and reports their states: level-triggered, so a missed commit,
// a restart or a crashed guest all converge the same way.
func (n *Node) reconcile() {
	if n.prov == nil {
		return
	}
	want := n.state.PlacedOn(n.self)
	doms, err := n.prov.List()
	if err != nil {
		for _, v := range want {
			n.report(v, tx.VMFailed, fmt.Sprintf("host unavailable: %v", err))
		}
		return
	}
	have := make(map[string]provision.Domain, len(doms))
	for _, d := range doms {
		have[d.ID] = d
	}
	for _, v := range want {
		id := v.ID.String()
		d, ok := have[id]
		delete(have, id)
		if !ok {
			err := n.prov.Define(SpecOf(v))
			if err == nil {
				err = n.prov.Start(id)
			}
			switch {
			case errors.Is(err, provision.ErrBusy):
				// The host's queue is full: a transient refusal, tried
				// again next tick, not a failure of the VM.
			case err != nil:
				_ = n.prov.Destroy(id)
				n.report(v, tx.VMFailed, err.Error())
			}
			continue
		}
		switch d.State {
		case provision.StateRunning:
			n.reportAccess(v, tx.Access{Host: d.Access.Host, Port: d.Access.Port})
		case provision.StateBooting:
			n.report(v, tx.VMProvisioning, "")
		case provision.StateDefined:
			if err := n.prov.Start(id); err != nil && !errors.Is(err, provision.ErrBusy) {
				n.report(v, tx.VMFailed, err.Error())
			}
		case provision.StateCrashed, provision.StateFailed:
			reason := d.Reason
			if reason == "" {
				reason = "guest " + d.State.String()
			}
			_ = n.prov.Destroy(id)
			n.report(v, tx.VMFailed, reason)
		}
	}
	for _, d := range doms {
		if _, stray := have[d.ID]; stray {
			_ = n.prov.Destroy(d.ID)
		}
	}
}

// report sends a vm-status when the state changed or the last report is
// getting old.
func (n *Node) report(v cluster.VM, st tx.VMState, reason string) {
	n.send(v, st, reason, tx.Access{})
}

// reportAccess reports v running, reachable at a (zero while the host
// publishes no access for it): a report also when the access changed. An
// access the cluster would refuse (a host address that is not an IP
// address or a DNS name) is left out, and the VM is reported running
// without it, rather than not at all.
func (n *Node) reportAccess(v cluster.VM, a tx.Access) {
	if a.Check() != nil {
		a = tx.Access{}
	}
	n.send(v, tx.VMRunning, "", a)
}

func (n *Node) send(v cluster.VM, st tx.VMState, reason string, a tx.Access) {
	now := n.clock.Now()
	last, ok := n.reports[v.ID]
	if ok && last.state == st && last.host == v.Host && last.access == a && now-last.at < int64(n.cfg.ReportEvery) {
		return
	}
	if st == tx.VMProvisioning && v.State == cluster.VMProvisioning && now-v.Updated < int64(n.cfg.ReportEvery) && !ok {
		return
	}
	n.reports[v.ID] = report{state: st, at: now, host: v.Host, access: a}
	n.own(&tx.Tx{Kind: tx.KindVMStatus, VM: v.ID, State: st, Reason: reason, Access: a})
	if len(n.reports) > 4*MaxPendingTxs {
		clear(n.reports) // only a hint against repeating reports
	}
}

// SpecOf is the provisioner's view of a VM.
func SpecOf(v cluster.VM) provision.Spec {
	return provision.Spec{ID: v.ID.String(), VCPU: v.Spec.VCPU, MemoryMiB: v.Spec.MemoryMiB, DiskGiB: v.Spec.DiskGiB,
		Image: v.Spec.Image, SSHKey: v.Spec.SSHKey}
}
