package check

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
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
	if len(missing) == 0 {
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
	return Result{Name: name, Detail: fmt.Sprintf("%d of %d transactions submitted to honest nodes in %s not committed%s: %s",
		len(missing), c.required-c.excused, window, excused, v.list())}
}
