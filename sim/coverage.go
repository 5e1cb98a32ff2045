package sim

import (
	"dagger/node"
	"dagger/node/cluster"
)

// CoveragePoint is something a run may or may not reach: a fault or
// behaviour that took effect, or a code path of the node that ran. A
// campaign that never reached one explored less than it seems to, so
// `dagger sim fuzz` reports every point's count and flags the zeros (the
// "sometimes" assertions of simulation testing).
type CoveragePoint struct {
	Name string
	What string
}

// Coverage lists the points a Report counts, in the order reports show
// them.
var Coverage = []CoveragePoint{
	{"fault:partition", "a partition split the nodes"},
	{"fault:one_way", "a one-way block took effect"},
	{"fault:isolate", "a node was isolated"},
	{"fault:degrade", "a link was degraded"},
	{"fault:heal", "the network healed"},
	{"fault:crash", "a node crashed"},
	{"fault:crash-lose-unsynced", "a node's machine crashed and lost its unsynced writes"},
	{"fault:store-write-error", "a write to a node's store failed"},
	{"fault:store-corrupt", "a record in a node's store was corrupted"},
	{"fault:store-torn", "a node crashed in the middle of a write"},
	{"fault:restart", "a crashed node restarted with its store"},
	{"fault:restart-lose-state", "a crashed node restarted with an empty store and rejoined"},
	{"fault:backup", "a copy of a node's store was taken"},
	{"fault:restore-backup", "a crashed node restarted on its older backup, without rejoining"},
	{"fault:clock_skew", "a node's clock was skewed"},
	{"fault:slow", "a node was slowed down"},
	{"fault:join", "an observer asked to join"},
	{"fault:leave", "a member asked to leave"},
	{"fault:remove", "the members voted one out"},
	{"fault:host_down", "a host died with its VMs"},
	{"fault:host_up", "a host came back empty"},
	{"fault:vm_crash", "a guest crashed"},
	{"byz:equivocate", "an equivocating second version was sent"},
	{"byz:withhold", "an event was withheld from a target"},
	{"byz:mute", "a mute node swallowed a message"},
	{"byz:invalid-signature", "an event went out with a bad signature"},
	{"byz:bad-parents", "an event went out with bad parents"},
	{"byz:flood", "a flood of extra events and garbage went out"},
	{"byz:replay", "old events were replayed"},
	{"byz:run-ahead", "an event rounds ahead, over parents nobody has, went out"},
	{"byz:twin", "a twin ran beside its node"},
	{"byz:lazy", "a lazy node saw a leader only after its timeout"},
	{"epoch-switch", "a node moved its graph to the next epoch"},
	{"sync", "a node asked a peer for a sync (restart, rejoin, far behind)"},
	{"fetch", "a node fetched missing parents"},
	{"fetch-retry", "a node asked again for parents still missing"},
	{"announce", "a stalled node announced its latest event to its peers"},
	{"round-ask", "a stalled node asked a peer for the events of its round it lacked"},
	{"unvouched-hole", "a node fetched, and did not sync for, missing parents that less than a third of the weight named"},
	{"flow-limit", "a node left queued transactions out of an event because its links were congested"},
	{"leader-timeout", "a leader timer fired"},
	{"indirect-commit", "a leader was committed through a later anchor"},
	{"direct-skip", "a leader slot was skipped by a quorum of blames"},
	{"indirect-skip", "a leader slot was skipped through a later anchor"},
	{"buffered-event-gc", "a buffered event fell below the horizon and was dropped"},
	{"duplicate-tx-dropped", "a transaction already delivered was left out of a commit"},
	{"requeue", "transactions of an own event that can no longer commit were queued again"},
	{"observer-forward", "a node that does not sign forwarded transactions to a member"},
	{"resubmit", "the node queued an admitted transaction again after it did not commit"},
	{"payment-wait", "an admitted payment was polled again until finalized"},
	{"invalid-rejected", "an honest node rejected a message or event as invalid"},
	{"evidence-applied", "equivocation evidence flagged an operator"},
	{"restart-from-snapshot", "a node restarted from its snapshot of an epoch start"},
	{"learn-behind", "a starting node learned from its peers that its store is older than what its key signed"},
	{"store-stop", "a node stopped because its store failed"},
	{"store-refused-start", "a node refused to start on a damaged store"},
	{"store-lost-events", "a machine crash lost events not yet synced"},
	{"async-provision", "a host call ran through the asynchronous provisioner"},
	{"async-payment", "a payment query ran through the asynchronous chain"},
	{"vm-moved", "a VM failed on a host and moved to another"},
	{"vm-expired", "a VM's lease ended"},
	{"vm-waited", "a paid VM waited for a host with room"},
	{"payment-fault", "a customer's payment bounced, came late, was replayed or underpaid"},
}

// hit counts n occurrences of a coverage point.
func (s *Sim) hit(point string, n uint64) { s.cov[point] += n }

// coverNode counts what a ledger and a node reached into cov.
func coverNode(cov map[string]uint64, st node.LedgerStats, ns node.NodeStats) {
	for _, c := range []struct {
		point string
		n     uint64
	}{
		{"epoch-switch", st.Epochs},
		{"sync", st.SyncsSent},
		{"fetch", st.FetchesSent},
		{"fetch-retry", st.FetchRetries},
		{"announce", st.Announcements},
		{"round-ask", st.RoundAsks},
		{"unvouched-hole", st.UnvouchedHoles},
		{"requeue", st.TxsRequeued},
		{"flow-limit", st.FlowLimited},
		{"observer-forward", st.TxsForwarded},
		{"leader-timeout", st.Graph.LeaderTimeouts},
		{"indirect-commit", st.Graph.IndirectCommits},
		{"direct-skip", st.Graph.DirectSkips},
		{"indirect-skip", st.Graph.IndirectSkips},
		{"buffered-event-gc", st.Graph.BufferedDropped},
		{"duplicate-tx-dropped", st.Graph.DuplicateTxs},
		{"resubmit", ns.Resubmits},
		{"payment-wait", ns.PaymentPolls},
	} {
		cov[c.point] += c.n
	}
}

// coverage returns the run's coverage counts, every point listed: what
// the run counted as it went (faults, behaviours, nodes that crashed)
// and what the running nodes and the cluster state show at the end.
func (s *Sim) coverage() map[string]uint64 {
	out := make(map[string]uint64, len(Coverage))
	for _, p := range Coverage {
		out[p.Name] = 0
	}
	for k, v := range s.cov {
		out[k] += v
	}
	for _, ep := range s.eps {
		if ep.nd != nil && ep.up {
			coverNode(out, ep.ledger.Stats(), ep.nd.Stats())
		}
	}
	out["invalid-rejected"] += s.stats.invalid
	out["restart-from-snapshot"] += s.stats.snapshotStarts
	out["store-stop"] += s.stats.store.Stops
	out["store-refused-start"] += s.stats.store.RefusedStarts
	out["store-lost-events"] += s.stats.store.LostEvents
	async := s.cluster.asyncStats()
	out["async-provision"] += async.ProvisionCalls
	out["async-payment"] += async.PaymentQueries
	out["payment-fault"] += uint64(s.cluster.vm.stats.PaymentFlaw)
	if ref := s.cluster.reference(); ref != nil {
		st := ref.nd.State()
		for _, op := range st.Operators() {
			if op.Equivocated {
				out["evidence-applied"]++
			}
		}
		for _, v := range st.LiveVMs() {
			if len(v.Tried) > 0 {
				out["vm-moved"]++
			}
		}
		out["vm-expired"] += uint64(st.CountVMs()[cluster.VMExpired])
	}
	return out
}
