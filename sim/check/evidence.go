package check

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"slices"

	"dagger/graph"
)

// slot is a (round, creator) pair in which a creator may equivocate.
type slot struct {
	round   uint64
	creator graph.MemberID
}

// What a node did about an equivocation.
const (
	seen uint8 = 1 << iota
	reported
)

// Equivocation records that node inserted a second distinct event in slot
// (round, creator). An honest node must report evidence for it.
// round is a global round (Round).
func (c *Checker) Equivocation(node int, creator graph.MemberID, round uint64) {
	n := c.node(node)
	if !n.honest {
		return
	}
	s := slot{round, creator}
	if n.slots[s]&seen == 0 {
		c.sightings++
		c.eqSlots[s] = struct{}{}
	}
	n.slots[s] |= seen
	c.checkCreator(node, s)
}

// checkCreator fails the evidence check if the creator of an
// equivocation is an honest node.
func (c *Checker) checkCreator(node int, s slot) {
	if c.byKey == nil {
		return
	}
	if _, done := c.honestEq[s]; done {
		return
	}
	com := c.committee(epochOf(s.round))
	if com == nil {
		return
	}
	m, ok := com.Member(s.creator)
	if !ok {
		return
	}
	if by, ok := c.byKey[m.Key]; ok && c.nodes[by].honest {
		c.honestEq[s] = struct{}{}
		c.evidence.add(s.round, by, uint64(s.creator), func() string {
			return fmt.Sprintf("honest node %d equivocated: two events in slot r%d/c%d (seen by node %d)", by, s.round, s.creator, node)
		})
	}
}

// Evidence records evidence node reported; an honest node's must be valid.
//
// The slots a node saw and reported are kept for the whole run rather
// than pruned by round: whether a slot was settled must not depend on the
// order in which the simulator reports one step's insertions, evidence
// and commits, and equivocations are few next to events.
func (c *Checker) Evidence(node int, ev graph.Evidence) {
	n := c.node(node)
	if !n.honest {
		return
	}
	s := slot{Round(ev.First.Epoch, ev.Round()), ev.Creator()}
	if err := c.verifyEvidence(&ev); err != nil {
		c.evidence.add(s.round, node, uint64(s.creator), func() string {
			return fmt.Sprintf("node %d reported invalid evidence against r%d/c%d: %v", node, s.round, s.creator, err)
		})
		return
	}
	n.slots[s] |= reported
}

// verifyEvidence checks ev once however many nodes report it.
func (c *Checker) verifyEvidence(ev *graph.Evidence) error {
	a, b := ev.First.Hash(), ev.Second.Hash()
	sa, sb := ev.First.Sig, ev.Second.Sig
	if b.Less(a) {
		a, b, sa, sb = b, a, sb, sa
	}
	buf := append(c.buf[:0], a[:]...)
	buf = append(buf, sa[:]...)
	buf = append(buf, b[:]...)
	buf = append(buf, sb[:]...)
	key := graph.Hash(sha256.Sum256(buf))
	c.buf = buf
	if _, ok := c.evMemo.get(key); ok {
		return nil
	}
	com := c.committee(ev.First.Epoch)
	if com == nil {
		return fmt.Errorf("evidence for epoch %d, which never started", ev.First.Epoch)
	}
	if err := ev.Verify(com, c.verifier); err != nil {
		return err
	}
	c.evMemo.put(Round(ev.First.Epoch, ev.Round()), key, struct{}{})
	return nil
}

func (c *Checker) evidenceResult() Result {
	// Finish may be called more than once: add to a copy.
	v := c.evidence
	v.shown = slices.Clone(v.shown)
	var unreported []slot
	for i, n := range c.nodes {
		unreported = unreported[:0]
		for s, st := range n.slots {
			if st == seen {
				unreported = append(unreported, s)
			}
		}
		slices.SortFunc(unreported, func(a, b slot) int {
			if x := cmp.Compare(a.round, b.round); x != 0 {
				return x
			}
			return cmp.Compare(a.creator, b.creator)
		})
		for _, s := range unreported {
			v.add(s.round, i, uint64(s.creator), func() string {
				return fmt.Sprintf("node %d saw r%d/c%d equivocate and reported no evidence", i, s.round, s.creator)
			})
		}
	}
	pass := "no equivocation seen"
	if c.sightings > 0 {
		pass = fmt.Sprintf("%d equivocations seen (%d slots), all reported", c.sightings, len(c.eqSlots))
	}
	return v.result("evidence", pass)
}
