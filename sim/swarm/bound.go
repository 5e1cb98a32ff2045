package swarm

import (
	"fmt"
	"slices"
	"time"

	"dagger/sim/scenario"
)

// RejoinSlack is the ledger's bound on clock skew for a node restored
// without its store, or on an older backup of it: it signs again at the
// latest in the first epoch whose consensus start time is this long after
// its restart.
const RejoinSlack = 5 * time.Second

// RecoveryGrace is how long a node that comes back (restarted, healed,
// back to normal speed) still counts as faulty: it is catching up and
// does not yet vote with the others.
const RecoveryGrace = 5 * time.Second

// Bound is a scenario's faulty weight at its worst instant, against the
// weight of the committee it starts with.
type Bound struct {
	// Total is the genesis committee's weight.
	Total uint64
	// Peak is the largest faulty weight at any instant, At the first
	// instant it is reached, and Nodes the faulty nodes then.
	Peak  uint64
	At    time.Duration
	Nodes []int
	// Unhealed are the nodes still crashed, cut off, slowed or stopped by
	// their store at expect.liveness.after: the liveness check cannot
	// fairly ask them to commit.
	Unhealed []int
}

// Within says whether the faulty weight stays below a third of the total.
func (b Bound) Within() bool { return 3*b.Peak < b.Total }

func (b Bound) String() string {
	rel := "<"
	if !b.Within() {
		rel = ">="
	}
	return fmt.Sprintf("faulty weight at most %d of %d (%s a third), nodes %v at %v", b.Peak, b.Total, rel, b.Nodes, b.At)
}

// span is a node counted faulty over [from, until). A transient fault
// (crashed, cut off, slowed, stopped by its store) ends at back, before
// the recovery grace; Byzantine nodes and nodes that left are not
// transient.
type span struct {
	node        int
	from, until time.Duration
	back        time.Duration
	transient   bool
}

// Audit computes a scenario's faulty weight over time, conservatively:
//
//   - a Byzantine node is faulty for the whole run, whatever its windows;
//   - a crashed node from its crash until RecoveryGrace after its restart,
//     and one restored without its store (lose_state) or on a backup
//     (restore_backup) for another epoch length and RejoinSlack: it may
//     sit out until the next epoch (a node on a backup may have signed
//     more than the backup says, and then waits as one without its store
//     does; whether it did, only its peers can tell, so it counts alike);
//   - a node with a store fault from the fault until RecoveryGrace after
//     its restart, which for a damaged (corrupt or torn) store must be
//     with lose_state, or on a backup taken before the damage: a restart
//     on a damaged store is refused;
//   - a node cut off until RecoveryGrace after the heal: isolated, on the
//     muted side of a one-way block (the lighter of its two sides), or
//     outside the heaviest group of a partition (a twin placed in a group
//     keeps its node faulty, being Byzantine already);
//   - a slowed node until RecoveryGrace after it is normal again;
//   - a node that leaves or is removed from then on: the committee shrinks
//     by its weight, which counting it faulty covers.
//
// A node that joins counts with weight 1 while it is faulty but never in
// the total. Lossy, duplicating, reordering or slow links, clock skew and
// host failures do not count: the protocol must live with them.
func Audit(sc *scenario.Scenario) Bound {
	genesis := sc.Cluster.Genesis
	b := Bound{}
	for i := range genesis {
		b.Total += sc.Weights[i]
	}
	end := sc.Duration.D()
	var spans []span
	for _, bz := range sc.Byzantine {
		spans = append(spans, span{node: bz.Node, until: end})
	}
	grace := func(t time.Duration) time.Duration { return min(end, t+RecoveryGrace) }
	// crashed holds the nodes down (crashed, or stopped or damaged by a
	// store fault) since when; damaged those whose store refuses a restart
	// that keeps it, and backupDamaged those whose newest backup copied a
	// damaged store.
	crashed := map[int]time.Duration{}
	damaged := map[int]bool{}
	backupDamaged := map[int]bool{}
	goDown := func(n int, t time.Duration) {
		if _, ok := crashed[n]; !ok {
			crashed[n] = t
		}
	}
	slow := map[int]time.Duration{}
	var cut []int // nodes cut off by the current network episode
	var cutSince []time.Duration
	cutOff := func(n int, t time.Duration) {
		if !slices.Contains(cut, n) {
			cut, cutSince = append(cut, n), append(cutSince, t)
		}
	}
	heal := func(t time.Duration) {
		for i, n := range cut {
			spans = append(spans, span{n, cutSince[i], grace(t), t, true})
		}
		cut, cutSince = nil, nil
	}
	weight := func(n int) uint64 {
		if n < genesis {
			return sc.Weights[n]
		}
		return 1
	}
	side := func(list []int) (uint64, []int) {
		if len(list) == 0 {
			list = make([]int, sc.Nodes)
			for i := range list {
				list[i] = i
			}
		}
		var w uint64
		for _, n := range list {
			w += weight(n)
		}
		return w, list
	}
	for _, f := range sc.Faults {
		t := f.At.D()
		switch {
		case len(f.Crash) > 0:
			for _, n := range f.Crash {
				goDown(n, t)
			}
		case f.StoreFault != nil:
			n := f.StoreFault.Node
			goDown(n, t) // a write-error stops it at its next write; corrupt data stops it at its next start
			damaged[n] = damaged[n] || f.StoreFault.Kind != scenario.StoreWriteError
		case len(f.Backup) > 0:
			for _, n := range f.Backup {
				backupDamaged[n] = damaged[n]
			}
		case len(f.Restart) > 0:
			for _, n := range f.Restart {
				from, ok := crashed[n]
				if !ok {
					continue
				}
				if f.RestoreBackup {
					damaged[n] = backupDamaged[n]
				}
				if damaged[n] && !f.LoseState {
					continue // a damaged store refuses the restart: still down
				}
				until := grace(t)
				if f.LoseState || f.RestoreBackup {
					// Restored empty or on an older copy, it may not sign
					// again before the first epoch that begins after its
					// restart (node.Ledger).
					until = min(end, until+sc.Cluster.EpochLength.D()+RejoinSlack)
				}
				spans = append(spans, span{n, from, until, t, true})
				delete(crashed, n)
				delete(damaged, n)
			}
		case f.Heal:
			heal(t)
		case f.Isolate != nil:
			cutOff(*f.Isolate, t)
		case f.OneWay != nil:
			wf, from := side(f.OneWay.From)
			wt, to := side(f.OneWay.To)
			muted := from
			if wt < wf {
				muted = to
			}
			for _, n := range muted {
				cutOff(n, t)
			}
		case len(f.Partition) > 0:
			for _, n := range partitionCut(sc, f.Partition, weight) {
				cutOff(n, t)
			}
		case f.Slow != nil:
			n := f.Slow.Node
			if from, ok := slow[n]; ok {
				spans = append(spans, span{n, from, grace(t), t, true})
				delete(slow, n)
			}
			if f.Slow.Delay > 0 {
				slow[n] = t
			}
		case f.Leave != nil:
			spans = append(spans, span{node: *f.Leave, from: t, until: end})
		case f.Remove != nil:
			spans = append(spans, span{node: *f.Remove, from: t, until: end})
		}
	}
	heal(end)
	for n, from := range crashed {
		spans = append(spans, span{n, from, end, end, true})
	}
	for n, from := range slow {
		spans = append(spans, span{n, from, end, end, true})
	}
	if lv := sc.Expect.Liveness; !lv.Disabled {
		for _, s := range spans {
			if s.transient && s.from <= lv.After.D() && s.back > lv.After.D() && !slices.Contains(b.Unhealed, s.node) {
				b.Unhealed = append(b.Unhealed, s.node)
			}
		}
		slices.Sort(b.Unhealed)
	}
	// The faulty weight changes only where a span starts.
	for _, s := range spans {
		t := s.from
		var nodes []int
		for _, o := range spans {
			if o.from <= t && t < o.until && !slices.Contains(nodes, o.node) {
				nodes = append(nodes, o.node)
			}
		}
		var w uint64
		for _, n := range nodes {
			w += weight(n)
		}
		slices.Sort(nodes)
		if w > b.Peak || w == b.Peak && t < b.At && w > 0 {
			b.Peak, b.At, b.Nodes = w, t, nodes
		}
	}
	return b
}

// partitionCut returns the honest nodes outside the heaviest group of a
// partition, weighing honest nodes only (the unlisted nodes form one more
// group; Byzantine nodes and twins, which may sit in several, are faulty
// already and may not help either side).
func partitionCut(sc *scenario.Scenario, groups [][]scenario.Endpoint, weight func(int) uint64) []int {
	group := make([]int, sc.Nodes)
	for i := range group {
		group[i] = len(groups)
	}
	for g, members := range groups {
		for _, e := range members {
			if !e.Twin && sc.Honest(e.Node) {
				group[e.Node] = g
			}
		}
	}
	w := make([]uint64, len(groups)+1)
	for n, g := range group {
		if sc.Honest(n) {
			w[g] += weight(n)
		}
	}
	heaviest := 0
	for g := range w {
		if w[g] > w[heaviest] {
			heaviest = g
		}
	}
	var cut []int
	for n, g := range group {
		if g != heaviest && sc.Honest(n) {
			cut = append(cut, n)
		}
	}
	return cut
}
