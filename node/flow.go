package node

import (
	"time"

	"dagger/transport"
)

// Flow control. A node's events must reach a quorum of its peers while
// the rounds they belong to are still open: an event that arrives after
// the others moved past its round is never referenced, falls below the
// horizon and gives its transactions back to the queue (requeueBelow), so
// the next event carries them again, larger still. A node whose uplink
// cannot carry its events, say one that comes back from a partition with
// a backlog of tens of thousands of transactions on a slow link, would
// otherwise make events of many megabytes that always arrive late, and
// commit none of them.
//
// So the ledger sizes the transactions of its events by how long its
// messages wait to leave (transport.Backlogger) for the least backlogged
// peers it needs for a quorum; the others may lag, as a crashed or
// partitioned peer's queue does. No node knows its links' rates, but it
// sees that wait. At most once per flowInterval (a quarter of the leader
// timeout) the budget is cut, from the size of the last event, while the
// wait exceeds a leader timeout: by half, or by the wait's multiple of the
// leader timeout when that is more. It doubles while the wait is below
// flowInterval and the last event filled at least half of it, until it no
// longer limits anything. A shorter threshold reacted to what is not the
// events' doing: a sync batch of 4 MiB holds a 50 Mbit/s uplink for 0.7 s,
// and cutting the events for it starved a node's queue until its
// transactions waited longer than the liveness bound (fuzz seed 1960).
// Transactions the budget leaves out wait in the queue for the next
// events; the queue's bounds tell clients to slow down. A link that keeps
// up never waits long, so the budget stays off: runs of the simulator on
// links fast enough for their load are unchanged.

// minFlowBudget is the least transaction bytes flow control lets an
// event carry: a congested node still moves its queue forward.
const minFlowBudget = 1 << 10

// flow is the ledger's flow-control state.
type flow struct {
	// budget is the transaction bytes the next event may carry; 0 is no
	// limit.
	budget int
	// at is when the budget was last reconsidered.
	at int64
	// last is the transaction bytes of the last event made.
	last int
}

// FlowBudget returns the transaction bytes flow control lets the next
// event carry; 0 is no limit.
func (l *Ledger) FlowBudget() int { return l.flow.budget }

// proposalBudget returns the transaction bytes the next event may carry
// (0: no limit): the flow budget, within MaxEventTxBytes; flow says
// whether the flow budget is the one in force.
func (l *Ledger) proposalBudget() (budget int, flow bool) {
	b, limit := l.flowBudget(), l.cfg.MaxEventTxBytes
	if limit > 0 && (b == 0 || b > limit) {
		return limit, false
	}
	return b, b > 0
}

// flowInterval is how often the budget is reconsidered, and the wait
// below which it may grow: a quarter of the leader timeout.
func (l *Ledger) flowInterval() time.Duration { return l.cfg.LeaderTimeout / 4 }

// flowBudget returns the transaction bytes the next event may carry (0:
// no limit), reconsidering the budget if flowInterval has passed.
func (l *Ledger) flowBudget() int {
	b, ok := l.tr.(transport.Backlogger)
	if !ok {
		return 0
	}
	iv := l.flowInterval()
	now := l.clock.Now()
	if l.flow.at != 0 && now-l.flow.at < int64(iv) {
		return l.flow.budget
	}
	l.flow.at = now
	// The peers this node needs for a quorum, counting members as equals:
	// a heuristic of speed, not of safety.
	k := l.g.Committee().Size() * 2 / 3
	if k == 0 {
		return 0
	}
	wait := b.Backlog(k)
	switch {
	case wait > l.cfg.LeaderTimeout:
		base := l.flow.budget
		if base == 0 || l.flow.last > 0 && l.flow.last < base {
			base = l.flow.last
		}
		cut := max(2, int(wait/l.cfg.LeaderTimeout))
		l.flow.budget = max(minFlowBudget, base/cut)
		l.stats.FlowCuts++
	case wait < iv && l.flow.budget != 0 && l.flow.last >= l.flow.budget/2:
		// Only a budget that the last event filled grows: one that a short
		// queue never tested says nothing about the link.
		l.flow.budget *= 2
		if l.flow.budget >= l.lim.MaxEventBytes {
			l.flow.budget = 0
		}
	}
	return l.flow.budget
}

// fitBudget returns the longest prefix of txs whose bytes fit budget (at
// least one transaction), and whether it left any out.
func fitBudget(txs [][]byte, budget int) ([][]byte, bool) {
	n, sum := 0, 0
	for n < len(txs) && (n == 0 || sum+len(txs[n]) <= budget) {
		sum += len(txs[n])
		n++
	}
	return txs[:n], n < len(txs)
}

// txBytes sums the sizes of txs.
func txBytes(txs [][]byte) int {
	n := 0
	for _, tx := range txs {
		n += len(tx)
	}
	return n
}
