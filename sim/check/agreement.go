package check

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
	checked bool
	commitSummary
}

// commitSummary is what a report says of one commit: enough to tell it
// from another commit at its index, and to find it in a trace.
type commitSummary struct {
	node        int // the honest node that delivered it
	index       uint64
	leader      graph.EventRef
	time        int64 // consensus time
	at          int64 // virtual time of the delivery
	events, txs int
	firstTx     graph.Hash // zero without transactions
	digest      digest
}

func summarize(node int, cm *graph.Commit, d digest, now int64) commitSummary {
	s := commitSummary{node: node, index: cm.Index, leader: cm.Leader, time: cm.Time, at: now,
		events: len(cm.Events), txs: len(cm.Txs), digest: d}
	if len(cm.Txs) > 0 {
		s.firstTx = cm.Txs[0].Hash
	}
	return s
}

// String describes the commit on one line.
func (s *commitSummary) String() string {
	txs := fmt.Sprintf("%d txs", s.txs)
	if s.txs > 0 {
		txs += fmt.Sprintf(" (first %s)", s.firstTx)
	}
	return fmt.Sprintf("leader %s, %d events, %s, consensus time %s, delivered at %v, digest %s",
		s.leader, s.events, txs, time.Unix(0, s.time).UTC().Format("15:04:05.000000000"),
		time.Duration(s.at).Round(time.Millisecond), s.digest.all)
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
func (c *Checker) agree(node int, n *nodeState, cm *graph.Commit, d digest, now int64) *agreed {
	n.reached = max(n.reached, cm.Index+1)
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
		a = &agreed{commitSummary: summarize(node, cm, d, now)}
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
	if n.fork == nil || cm.Index < n.fork.index {
		sum := summarize(node, cm, d, now)
		n.fork = &sum
	}
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
	r := c.agreement.result("agreement", pass)
	if fork := c.forkDetail(); fork != "" {
		r.Detail = fork + ". " + r.Detail
	}
	return r
}

// forkDetail describes where the honest nodes' sequences first part: the
// lowest index at which some honest node delivered a commit other than the
// agreed one, and, per distinct commit delivered there, the commit and the
// nodes that delivered it. It is empty when no two honest nodes delivered
// different commits at one index.
func (c *Checker) forkDetail() string {
	var at uint64
	found := false
	for _, n := range c.nodes {
		if n.honest && n.fork != nil && (!found || n.fork.index < at) {
			at, found = n.fork.index, true
		}
	}
	if !found {
		return ""
	}
	// One side per commit delivered at the fork, in the order of the
	// lowest node on it.
	type side struct {
		commit *commitSummary
		nodes  []int
	}
	agreedAt := &c.agreed[at].commitSummary
	sides := []*side{{commit: agreedAt}}
	var behind []int
	for i, n := range c.nodes {
		if !n.honest {
			continue
		}
		commit := agreedAt
		switch {
		case n.fork != nil && n.fork.index == at:
			commit = n.fork
		case n.reached <= at:
			behind = append(behind, i)
			continue
		}
		k := slices.IndexFunc(sides, func(s *side) bool { return s.commit.digest.all == commit.digest.all })
		if k < 0 {
			k = len(sides)
			sides = append(sides, &side{commit: commit})
		}
		sides[k].nodes = append(sides[k].nodes, i)
	}
	if len(sides[0].nodes) == 0 {
		// Its first deliverer restarted and delivered another commit
		// there since: it stands on both sides.
		sides[0].nodes = []int{agreedAt.node}
	}
	slices.SortStableFunc(sides, func(a, b *side) int { return cmp.Compare(a.nodes[0], b.nodes[0]) })

	var b strings.Builder
	if at == 0 {
		b.WriteString("fork at commit 0 (no commit agrees)")
	} else {
		fmt.Fprintf(&b, "fork at commit %d (commits 0 to %d agree)", at, at-1)
	}
	for k, s := range sides {
		sep := "; "
		if k == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%sside %d (%s) committed %s", sep, k+1, nodeList(s.nodes), s.commit)
	}
	switch len(behind) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "; node %d has not reached commit %d", behind[0], at)
	default:
		fmt.Fprintf(&b, "; %s have not reached commit %d", nodeList(behind), at)
	}
	first := sides[0].commit
	for k, s := range sides[1:] {
		other := s.commit
		var parts []string
		if other.leader != first.leader {
			parts = append(parts, "leader")
		}
		if other.time != first.time {
			parts = append(parts, "consensus time")
		}
		if other.digest.events != first.digest.events {
			parts = append(parts, "events")
		}
		if other.digest.txs != first.digest.txs {
			parts = append(parts, "transactions")
		}
		fmt.Fprintf(&b, "; side %d differs from side 1 in %s", k+2, andList(parts))
		if l, f := other.leader, first.leader; l.Round == f.Round && l.Creator == f.Creator && l.Hash != f.Hash {
			fmt.Fprintf(&b, " (two blocks of leader slot r%d/c%d: its creator equivocated)", l.Round, l.Creator)
		}
	}
	return b.String()
}

// andList joins words as a sentence does: "a", "a and b", "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// nodeList names a few nodes: "node 3", "nodes 2, 5".
func nodeList(nodes []int) string {
	if len(nodes) == 1 {
		return fmt.Sprintf("node %d", nodes[0])
	}
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = strconv.Itoa(n)
	}
	return "nodes " + strings.Join(s, ", ")
}
