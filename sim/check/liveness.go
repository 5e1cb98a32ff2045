package check

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"dagger/graph"
)

// Submit records that a client submitted tx to node at virtual time now.
// Only submissions to honest nodes inside the liveness window are
// required to commit; the others are not kept.
func (c *Checker) Submit(node int, tx graph.Hash, now int64) {
	n := c.node(node)
	if c.cfg.LivenessDisabled || !n.honest || now < c.cfg.LivenessAfter || now > c.cfg.LivenessDeadline {
		return
	}
	if _, ok := n.pending[tx]; ok {
		return // submitted again while waiting: the first submission stands
	}
	c.required++
	// A duplicate of a transaction this node already delivered is not
	// delivered again within the window: it counts as committed.
	if first, ok := c.firstTx[tx]; ok && first < n.next {
		return
	}
	n.pending[tx] = now
}

// Down tells the checker that node went down (crashed, or stopped by its
// store) and will not answer the transactions submitted to it that it has
// not committed yet: they are no longer required of it. Its clients got no
// answer, which is what a node that is down owes them; while it is down the
// simulator submits nothing to it.
func (c *Checker) Down(node int) {
	n := c.node(node)
	n.down = true
	if len(n.pending) == 0 {
		return
	}
	c.excused += uint64(len(n.pending))
	clear(n.pending)
}

// satisfy marks the required transactions an honest node's commit
// delivers.
func (c *Checker) satisfy(n *nodeState, cm *graph.Commit) {
	if len(n.pending) == 0 {
		return
	}
	for i := range cm.Txs {
		delete(n.pending, cm.Txs[i].Hash)
	}
}

func (c *Checker) livenessResult() Result {
	const name = "liveness"
	if c.cfg.LivenessDisabled {
		return Result{Name: name, Pass: true, Detail: "disabled"}
	}
	window := fmt.Sprintf("[%v, %v]", time.Duration(c.cfg.LivenessAfter), time.Duration(c.cfg.LivenessDeadline))
	type miss struct {
		at   int64
		node int
		tx   graph.Hash
	}
	var missing []miss
	for i, n := range c.nodes {
		for tx, at := range n.pending {
			missing = append(missing, miss{at, i, tx})
		}
	}
	excused := ""
	if c.excused > 0 {
		excused = fmt.Sprintf(" (%d more excused: their node went down before committing them)", c.excused)
	}
	// Progress: every honest node that is up at the end still delivers
	// commits in the window's last stretch (from LivenessDeadline on), load
	// or no load, as a transaction submitted at the deadline must commit
	// before the end. Without it a cluster that stopped for good passes
	// whenever nothing was submitted in the window (a workload that ended
	// before it), and one that crawls passes if it committed once.
	var still []string
	for i, n := range c.nodes {
		if !n.honest || n.down || n.delivered && n.lastCommitAt >= c.cfg.LivenessDeadline {
			continue
		}
		last := "none since it started"
		if n.delivered {
			last = fmt.Sprintf("its last at %v", time.Duration(n.lastCommitAt))
		}
		still = append(still, fmt.Sprintf("node %d (%s)", i, last))
	}
	stalled := ""
	if len(still) > 0 {
		stalled = fmt.Sprintf("; honest nodes up at the end that delivered no commit from %v on: %s",
			time.Duration(c.cfg.LivenessDeadline), strings.Join(still, ", "))
	}
	if len(missing) == 0 {
		if stalled != "" {
			return Result{Name: name, Detail: fmt.Sprintf("%d of %d transactions submitted to honest nodes in %s committed%s%s",
				c.required-c.excused, c.required-c.excused, window, excused, stalled)}
		}
		return Result{Name: name, Pass: true,
			Detail: fmt.Sprintf("%d of %d transactions submitted to honest nodes in %s committed%s", c.required-c.excused, c.required-c.excused, window, excused)}
	}
	slices.SortFunc(missing, func(a, b miss) int {
		if x := cmp.Compare(a.at, b.at); x != 0 {
			return x
		}
		if x := cmp.Compare(a.node, b.node); x != 0 {
			return x
		}
		return bytes.Compare(a.tx[:], b.tx[:])
	})
	var v violations
	for _, m := range missing {
		v.add(0, 0, 0, func() string {
			return fmt.Sprintf("node %d tx %s submitted at %v", m.node, m.tx, time.Duration(m.at))
		})
	}
	return Result{Name: name, Detail: fmt.Sprintf("%d of %d transactions submitted to honest nodes in %s not committed%s: %s%s",
		len(missing), c.required-c.excused, window, excused, v.list(), stalled)}
}
