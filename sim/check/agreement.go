package check

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"dagger/graph"
)

// digest condenses one commit: everything a consumer applies, in order.
// The events and the transactions have digests of their own so that a
// disagreement can say which part differs.
type digest struct {
	all, events, txs graph.Hash
}

// agreed is what the first honest node to deliver an index delivered.
type agreed struct {
	// checked says a synced node ran the parent check on this commit.
	checked     bool
	node        int
	leader      graph.EventRef
	time        int64
	events, txs int
	digest      digest
}

func (c *Checker) digest(cm *graph.Commit) digest {
	var d digest
	b := c.buf[:0]
	for _, e := range cm.Events {
		h := e.Hash()
		b = append(b, h[:]...)
	}
	d.events = sha256.Sum256(b)
	b = b[:0]
	for i := range cm.Txs {
		tx := &cm.Txs[i]
		b = append(b, tx.Hash[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(tx.Event))
		b = binary.BigEndian.AppendUint64(b, uint64(tx.Index))
	}
	d.txs = sha256.Sum256(b)
	b = b[:0]
	b = binary.BigEndian.AppendUint64(b, cm.Index)
	b = binary.BigEndian.AppendUint64(b, cm.Leader.Round)
	b = binary.BigEndian.AppendUint32(b, uint32(cm.Leader.Creator))
	b = append(b, cm.Leader.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(cm.Time))
	b = append(b, d.events[:]...)
	b = append(b, d.txs[:]...)
	d.all = sha256.Sum256(b)
	c.buf = b
	return d
}

// agree checks that an honest node delivers its indexes in sequence and
// that each commit equals the one the cluster agreed on at its index.
func (c *Checker) agree(node int, n *nodeState, cm *graph.Commit, d digest) *agreed {
	if cm.Index != n.next {
		n.synced = false
		want := n.next
		c.agreement.add(cm.Index, node, 0, func() string {
			return fmt.Sprintf("node %d delivered commit %d when commit %d was due", node, cm.Index, want)
		})
	}
	n.next = cm.Index + 1
	c.longest = max(c.longest, n.next)
	a, ok := c.agreed[cm.Index]
	if !ok {
		a = &agreed{node: node, leader: cm.Leader, time: cm.Time,
			events: len(cm.Events), txs: len(cm.Txs), digest: d}
		c.agreed[cm.Index] = a
		if !c.cfg.LivenessDisabled {
			for i := range cm.Txs {
				if _, seen := c.firstTx[cm.Txs[i].Hash]; !seen {
					c.firstTx[cm.Txs[i].Hash] = cm.Index
				}
			}
		}
		return a
	}
	if a.digest.all == d.all {
		return a
	}
	n.synced = false
	c.agreement.add(cm.Index, node, 0, func() string {
		var diffs []string
		if cm.Leader != a.leader {
			diffs = append(diffs, fmt.Sprintf("leader %s vs %s", cm.Leader, a.leader))
		}
		if cm.Time != a.time {
			diffs = append(diffs, fmt.Sprintf("time %d vs %d", cm.Time, a.time))
		}
		if d.events != a.digest.events {
			diffs = append(diffs, fmt.Sprintf("%d events %s vs %d events %s", len(cm.Events), d.events, a.events, a.digest.events))
		}
		if d.txs != a.digest.txs {
			diffs = append(diffs, fmt.Sprintf("%d txs %s vs %d txs %s", len(cm.Txs), d.txs, a.txs, a.digest.txs))
		}
		return fmt.Sprintf("node %d commit %d differs from node %d's: %s", node, cm.Index, a.node, strings.Join(diffs, ", "))
	})
	return a
}

// Fault tells the checker that node stopped with a fault. An honest node's
// fault fails agreement: a safety fault (graph.ErrSafety) means its graph
// proved more than f of the weight Byzantine, which the run's assumptions
// rule out, and any other fault is a broken invariant. A store that failed
// is an operating error, not a fault: the simulator reports that node as
// Down instead.
func (c *Checker) Fault(node int, err error) {
	n := c.node(node)
	if !n.honest {
		return
	}
	at := n.next
	c.agreement.add(at, node, 0, func() string {
		return fmt.Sprintf("node %d stopped with a fault after %d commits: %v", node, at, err)
	})
}

func (c *Checker) agreementResult() Result {
	honest := 0
	var shortest uint64
	for _, n := range c.nodes {
		if !n.honest {
			continue
		}
		if honest == 0 || n.next < shortest {
			shortest = n.next
		}
		honest++
	}
	pass := "no honest node"
	if honest > 0 {
		pass = fmt.Sprintf("%d honest nodes, longest sequence %d commits, shortest %d, prefix-consistent", honest, c.longest, shortest)
	}
	return c.agreement.result("agreement", pass)
}
