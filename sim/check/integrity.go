package check

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"weak"

	"dagger/graph"
)

// verified is what the memo keeps of an event found valid. The event hash
// covers neither the signature nor the batch bytes (only their Merkle
// root), so another event under the same hash is taken as verified only
// if its signature and a checksum of its batch match too, or if it is the
// very event verified: the nodes of a run share decoded events, and an
// event is never modified once decoded. The memo does not keep that event
// alive (nor the message it was decoded from) once the nodes let it go.
type verified struct {
	ev     weak.Pointer[graph.Event]
	sig    graph.Signature
	body   uint32
	leaves []graph.Hash
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bodySum checksums a batch. It guards against a batch altered under a
// valid header, which only a bug can produce, not against an adversary
// crafting collisions, so a fast checksum serves.
func bodySum(txs [][]byte) uint32 {
	var sum uint32
	var n [4]byte
	for _, tx := range txs {
		binary.BigEndian.PutUint32(n[:], uint32(len(tx)))
		sum = crc32.Update(sum, castagnoli, n[:])
		sum = crc32.Update(sum, castagnoli, tx)
	}
	return sum
}

// verify validates e against the committee and returns its transactions'
// leaf hashes.
func (c *Checker) verify(e *graph.Event) ([]graph.Hash, error) {
	h := e.Hash()
	m, known := c.memo.get(h)
	if known && m.ev.Value() == e {
		return m.leaves, nil
	}
	body := bodySum(e.Txs)
	if known && m.sig == e.Sig && m.body == body {
		return m.leaves, nil
	}
	com := c.committee(e.Epoch)
	if com == nil {
		return nil, fmt.Errorf("epoch %d never started", e.Epoch)
	}
	// Check, not Verify: the checker judges the event itself, trusting no
	// verdict a node's graph recorded in it.
	leaves, err := com.Check(e, c.verifier, c.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if !known {
		c.memo.put(Round(e.Epoch, e.Round), h, verified{ev: weak.Make(e), sig: e.Sig, body: body, leaves: leaves})
		c.checked.verified++
	}
	return leaves, nil
}

// memoSpan is how many GC depths below the most advanced honest node the
// memo reaches. A node further behind (crashed, cut off, restarted)
// verifies events again, which costs time but not correctness; without
// the bound a stalled node would pin every event of the run.
const memoSpan = 4

// checkIntegrity checks that one honest node's commit could come from a
// correct linearizer given the node's earlier commits: valid events in
// canonical order, each once, none below the GC cutoff, parents first,
// the leader last and in its slot, leader rounds increasing, and each
// transaction delivered from its place in the batch, once within the
// window.
//
// The parent check is the costly one (a lookup per parent reference), and
// its outcome is a function of the sequence alone: a node whose every
// commit so far matched the agreed one skips it when another such node
// already ran it on this index. The checks against the windows of what
// the node committed before are made once per lineage (lineage.go); pos
// is the index the node was due to deliver.
func (c *Checker) checkIntegrity(node int, n *nodeState, cm *graph.Commit, a *agreed, pos uint64) {
	idx := cm.Index
	bad := func(msg func() string) { c.integrity.add(idx, node, 0, msg) }
	lead := cm.Leader
	epoch := uint64(0)
	if k := len(cm.Events); k > 0 {
		epoch = cm.Events[k-1].Epoch
	}
	leadRound := Round(epoch, lead.Round)
	cutoff := uint64(0)
	if leadRound > c.depth {
		cutoff = leadRound - c.depth
	}
	txRound := c.txRound(n, epoch, lead.Round)
	txCutoff := uint64(0)
	if txRound > c.depth {
		txCutoff = txRound - c.depth
	}
	if n.hasLeader && leadRound <= n.lastLeader {
		prev := n.lastLeader
		bad(func() string {
			return fmt.Sprintf("node %d commit %d: leader %s does not follow leader round %d", node, idx, lead, prev)
		})
	}
	if com := c.committee(epoch); com == nil {
		bad(func() string {
			return fmt.Sprintf("node %d commit %d: leader %s of epoch %d, which never started", node, idx, lead, epoch)
		})
	} else if want := com.Leader(lead.Round); lead.Creator != want {
		bad(func() string {
			return fmt.Sprintf("node %d commit %d: leader %s is not in slot r%d/c%d", node, idx, lead, lead.Round, want)
		})
	}
	if k := len(cm.Events); k == 0 || cm.Events[k-1].Ref() != lead {
		bad(func() string {
			return fmt.Sprintf("node %d commit %d: leader %s is not the last of its %d events", node, idx, lead, len(cm.Events))
		})
	}

	causal := !n.synced || !a.checked
	lin, rec, front := c.role(node, n, cm, causal, pos)
	var rf *found // what this node, the front, finds
	if front && len(lin.members) > 1 {
		rf = &found{invalidPlaces: invalidPlaces(cm)}
	}
	leaves := c.leaves[:0]
	var prev *graph.Event
	for i, e := range cm.Events {
		ref := e.Ref()
		l, err := c.verify(e)
		leaves = append(leaves, l)
		if err != nil {
			bad(func() string { return fmt.Sprintf("node %d commit %d: event %s is invalid: %v", node, idx, ref, err) })
		}
		if prev != nil && !canonicalBefore(prev, e) {
			p := prev.Ref()
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: event %s is out of order after %s", node, idx, ref, p)
			})
		}
		prev = e
		if Round(e.Epoch, e.Round) < cutoff {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: event %s is below cutoff round %d of leader %s", node, idx, ref, cutoff, lead)
			})
			continue
		}
		if !front {
			if first, dup := rec.eventDup(i); dup {
				bad(func() string {
					return fmt.Sprintf("node %d commit %d: event %s committed again (first in commit %d)", node, idx, ref, first)
				})
			}
			continue
		}
		if first, dup := lin.events.get(ref.Hash, n.cutoff); dup {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: event %s committed again (first in commit %d)", node, idx, ref, first.index)
			})
			if rf != nil {
				rf.events = append(rf.events, dupAt{pos: i, first: first.index})
			}
			continue
		}
		if causal {
			for _, p := range e.Parents {
				if Round(e.Epoch, p.Round) < cutoff {
					continue
				}
				if _, ok := lin.events.get(p.Hash, n.cutoff); !ok {
					bad(func() string {
						return fmt.Sprintf("node %d commit %d: event %s committed before its parent %s", node, idx, ref, p)
					})
				}
			}
		}
		lin.events.put(ref.Hash, entry{index: idx, round: Round(e.Epoch, e.Round)})
	}
	if causal && n.synced {
		a.checked = true
	}

	lastEvent, lastIndex := -1, -1
	for i := range cm.Txs {
		tx := &cm.Txs[i]
		if !placed(cm, tx) {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: tx %s at event %d #%d: no such place", node, idx, tx.Hash, tx.Event, tx.Index)
			})
			continue
		}
		if tx.Event < lastEvent || tx.Event == lastEvent && tx.Index <= lastIndex {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: tx %s at event %d #%d is out of order", node, idx, tx.Hash, tx.Event, tx.Index)
			})
		}
		lastEvent, lastIndex = tx.Event, tx.Index
		if l := leaves[tx.Event]; l != nil && tx.Hash != l[tx.Index] {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: tx %s at event %d #%d has leaf hash %s", node, idx, tx.Hash, tx.Event, tx.Index, l[tx.Index])
			})
		}
		if !front {
			if first, dup := rec.txDup(i); dup {
				bad(func() string {
					return fmt.Sprintf("node %d commit %d: tx %s delivered again (first in commit %d)", node, idx, tx.Hash, first)
				})
			}
			continue
		}
		if first, dup := lin.txs.get(tx.Hash, n.txCutoff); dup {
			bad(func() string {
				return fmt.Sprintf("node %d commit %d: tx %s delivered again (first in commit %d)", node, idx, tx.Hash, first.index)
			})
			if rf != nil {
				rf.txs = append(rf.txs, dupAt{pos: i, first: first.index})
			}
			continue
		}
		lin.txs.put(tx.Hash, entry{index: idx, round: txRound})
	}

	// The graph forgets delivered transactions and events below the cutoff
	// after this commit, not before: pruning afterwards keeps the windows
	// exactly as wide as the graph's.
	n.hasLeader, n.lastLeader = true, max(n.lastLeader, leadRound)
	n.cutoff = max(n.cutoff, cutoff)
	n.txCutoff = max(n.txCutoff, txCutoff)
	if front {
		lin.next = idx + 1
		if rf != nil && (len(rf.events) > 0 || len(rf.txs) > 0 || rf.invalidPlaces > 0) {
			if lin.found == nil {
				lin.found = make(map[uint64]*found)
			}
			lin.found[idx] = rf
		}
	}
	c.settle(lin)
	clear(leaves)
	c.leaves = leaves[:0]
	c.checked.commits++
	c.checked.events += uint64(len(cm.Events))
	c.checked.txs += uint64(len(cm.Txs))
	c.pruneMemos()
}

// placed reports whether tx names a place in cm's batches.
func placed(cm *graph.Commit, tx *graph.CommittedTx) bool {
	return tx.Event >= 0 && tx.Event < len(cm.Events) && tx.Index >= 0 && tx.Index < len(cm.Events[tx.Event].Txs)
}

// invalidPlaces counts cm's transactions that name no place in its
// batches: they do not enter the transactions window.
func invalidPlaces(cm *graph.Commit) int {
	n := 0
	for i := range cm.Txs {
		if !placed(cm, &cm.Txs[i]) {
			n++
		}
	}
	return n
}

// role decides how node's commit is checked against the windows of what
// it committed before. It returns the node's lineage, and whether the node
// checks the commit against the lineage's windows and adds to them (the
// front, or a node alone in its lineage); if not, rec is what the front
// found at this index, which the node replays. A node that can no longer
// share its lineage's windows detaches with its own copy first; causal
// says the node checks parents against the windows.
func (c *Checker) role(node int, n *nodeState, cm *graph.Commit, causal bool, pos uint64) (l *lineage, rec *found, front bool) {
	l = n.lin
	if len(l.members) == 1 {
		return l, nil, true
	}
	if n.synced && cm.Index == pos {
		switch {
		case cm.Index == l.next:
			return l, nil, true
		case cm.Index < l.next && !causal:
			rec = l.found[cm.Index]
			if (rec == nil || rec.invalidPlaces == 0) && invalidPlaces(cm) == 0 {
				return l, rec, false
			}
		}
	}
	c.detach(node, pos)
	return n.lin, nil, true
}

// txRound places the leader round of node's commit of epoch on the axis
// that chains epochs: an epoch's round 0 follows the round of the last
// leader its predecessor committed. The graph's transaction replay window
// (graph.TxWindow) spans GC depth rounds of this axis, across epochs.
func (c *Checker) txRound(n *nodeState, epoch, leader uint64) uint64 {
	if n.hasLeader && epoch > n.txEpoch {
		base := c.epochBase[n.txEpoch] + n.txLeader + 1
		for e := n.txEpoch + 1; e <= epoch; e++ {
			if _, known := c.epochBase[e]; !known {
				c.epochBase[e] = base
			}
		}
	}
	n.txEpoch, n.txLeader = epoch, leader
	return c.epochBase[epoch] + leader
}

// canonicalBefore reports whether a precedes b in a commit's order: round,
// creator, hash.
func canonicalBefore(a, b *graph.Event) bool {
	switch {
	case a.Round != b.Round:
		return a.Round < b.Round
	case a.Creator != b.Creator:
		return a.Creator < b.Creator
	}
	return a.Hash().Less(b.Hash())
}

// pruneMemos forgets verified events and evidence below every honest
// node's cutoff, but never keeps more than memoSpan GC depths.
func (c *Checker) pruneMemos() {
	var lo, hi uint64
	first := true
	for _, n := range c.nodes {
		if !n.honest {
			continue
		}
		if first || n.cutoff < lo {
			lo = n.cutoff
		}
		hi = max(hi, n.cutoff)
		first = false
	}
	if span := memoSpan * c.depth; hi > span {
		lo = max(lo, hi-span)
	}
	c.memo.prune(lo)
	c.evMemo.prune(lo)
}

func (c *Checker) integrityResult() Result {
	honest := 0
	for _, n := range c.nodes {
		if n.honest {
			honest++
		}
	}
	pass := fmt.Sprintf("%d commits, %d events, %d txs checked at %d honest nodes; %d distinct events verified",
		c.checked.commits, c.checked.events, c.checked.txs, honest, c.checked.verified)
	return c.integrity.result("integrity", pass)
}
