package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Commit is one step of the agreed order: a leader and the part of its
// causal history no earlier commit delivered.
type Commit struct {
	// Index is the commit's position in the sequence, from 0.
	Index uint64
	// Leader is the committed leader event.
	Leader EventRef
	// Time is the consensus time in Unix nanoseconds: the weighted median
	// of the creation times of the leader's previous-round parents, never
	// below the previous commit's time.
	Time int64
	// Events are the newly ordered events, by round, then creator, then
	// hash: parents always come before their children, and the leader last.
	Events []*Event
	// Txs are the events' transactions in that order, each delivered once:
	// a transaction whose hash a commit within the last GC depth of leader
	// rounds delivered already is left out.
	Txs []CommittedTx
}

// CommittedTx is one delivered transaction: its hash and where it was
// ordered. Its bytes are its event's (Commit.TxData): a commit lists its
// transactions without a pointer, so the list costs the collector
// nothing and a node's copy of a busy commit is 48 bytes a transaction.
type CommittedTx struct {
	Hash  Hash
	Event int // index into Commit.Events
	Index int // position in that event's batch
}

// TxData returns the bytes of the commit's i-th transaction (Txs[i]),
// those of its event: the caller must not modify them.
func (c *Commit) TxData(i int) []byte {
	t := &c.Txs[i]
	return c.Events[t.Event].Txs[t.Index]
}

// ErrSafety is the fault the commit rule stops with when the graph holds
// proof that more than a third of the weight is Byzantine.
var ErrSafety = errors.New("safety violated: more than f Byzantine weight")

type decisionKind uint8

const (
	undecided decisionKind = iota
	decidedCommit
	decidedSkip
)

type decision struct {
	kind   decisionKind
	block  *vertex
	direct bool
}

// commit decides every leader slot it can, lowest round first, and emits a
// Commit for each committed leader until the first undecided slot.
func (g *Graph) commit() {
	if !g.grown || g.fault != nil || g.top < 2 || g.top-2 < g.nextSlot {
		return
	}
	g.grown = false
	lo, hi := g.nextSlot, g.top-2
	ds := make([]decision, hi-lo+1)
	// Top down: an indirect decision reads the decisions of the slots above.
	for r := hi; ; r-- {
		d := g.decideDirect(r)
		d.direct = d.kind != undecided
		if d.kind == undecided && g.fault == nil {
			d = g.decideIndirect(r, ds[r-lo+1:])
		}
		if g.fault != nil {
			return
		}
		ds[r-lo] = d
		if r == lo {
			break
		}
	}
	for i, d := range ds {
		if d.kind == undecided {
			return
		}
		g.nextSlot = lo + uint64(i) + 1
		g.stats.count(d)
		if d.kind == decidedCommit {
			g.linearize(d.block)
		}
	}
}

// decideDirect applies the direct rules to the leader slot of round r:
// a quorum of blames at r+1 skips it, a quorum of certificates at r+2 for
// one block commits that block.
func (g *Graph) decideDirect(r uint64) decision {
	ri := g.rounds[r]
	if ri == nil {
		return decision{}
	}
	var d decision
	for _, t := range ri.certs {
		if !g.c.IsQuorum(t.weight) {
			continue
		}
		if d.block != nil {
			g.fault = fmt.Errorf("%w: two blocks of slot r%d/c%d certified by a quorum", ErrSafety, r, g.leader(r))
			return decision{}
		}
		d = decision{kind: decidedCommit, block: t.block}
	}
	if g.c.IsQuorum(ri.blameWeight) {
		if d.block != nil {
			g.fault = fmt.Errorf("%w: slot r%d/c%d both blamed and certified by a quorum", ErrSafety, r, g.leader(r))
			return decision{}
		}
		d = decision{kind: decidedSkip}
	}
	return d
}

// decideIndirect decides the slot of round r from the first committed
// leader at round r+3 or above (skipped slots are passed over, an undecided
// one leaves r undecided): r's block is committed if an ancestor of that
// anchor at round r+2 certifies it, and skipped otherwise. above[k] is the
// decision of the slot at round r+1+k.
func (g *Graph) decideIndirect(r uint64, above []decision) decision {
	var anchor *vertex
	for k := 2; k < len(above) && anchor == nil; k++ {
		switch above[k].kind {
		case undecided:
			return decision{}
		case decidedCommit:
			anchor = above[k].block
		}
	}
	if anchor == nil {
		return decision{}
	}
	var block *vertex
	for _, a := range g.ancestorsAt(anchor, r+2) {
		if a.certifies == nil {
			continue
		}
		if block != nil && block != a.certifies {
			g.fault = fmt.Errorf("%w: anchor %s sees certificates for two blocks of slot r%d", ErrSafety, anchor.ev.Ref(), r)
			return decision{}
		}
		block = a.certifies
	}
	if block == nil {
		return decision{kind: decidedSkip}
	}
	return decision{kind: decidedCommit, block: block}
}

// ancestorsAt returns the ancestors of v at the given round.
func (g *Graph) ancestorsAt(v *vertex, round uint64) []*vertex {
	g.stamp++
	stamp := g.stamp
	var out []*vertex
	stack := []*vertex{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var ri *roundIndex
		for i, ref := range x.ev.Parents {
			if ref.Round < round {
				continue
			}
			p := g.parent(x, i, &ri)
			if p == nil || p.mark == stamp {
				continue
			}
			p.mark = stamp
			if p.ev.Round == round {
				out = append(out, p)
			} else {
				stack = append(stack, p)
			}
		}
	}
	return out
}

// linearize emits the commit of leader block l: its ancestors that no
// earlier commit delivered, down to GC depth below l's round.
func (g *Graph) linearize(l *vertex) {
	if l.committed {
		panic(fmt.Sprintf("graph: leader %s committed twice", l.ev.Ref()))
	}
	cutoff := uint64(0)
	if l.ev.Round > g.depth {
		cutoff = l.ev.Round - g.depth
	}
	events := g.walk[:0]
	setCommitted(l, g.rounds[l.ev.Round])
	stack := append(g.stack[:0], l)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		events = append(events, x)
		var ri *roundIndex
		refs := x.ev.Parents
		for i := 0; i < len(refs); i++ {
			ref := &refs[i]
			if ref.Round < cutoff {
				break // the rest are older still
			}
			if ri == nil || ri.round != ref.Round {
				ri = g.rounds[ref.Round]
				if ri.committed == ri.count {
					i = sameRound(refs, i) - 1 // all of that round are committed
					continue
				}
			}
			if len(x.later) == 0 && ri.firstCommitted.has(ref.Creator) {
				continue // every parent is the first of its slot
			}
			p := g.parent(x, i, &ri)
			if p == nil || p.committed {
				continue
			}
			setCommitted(p, ri)
			stack = append(stack, p)
		}
	}
	clear(stack[:cap(stack)])
	g.stack = stack[:0]
	slices.SortFunc(events, cmpVertex)
	c := Commit{Index: g.commitIndex, Leader: l.ev.Ref(), Time: g.consensusTime(l), Events: make([]*Event, len(events))}
	ntx := 0
	for i, v := range events {
		c.Events[i] = v.ev
		ntx += len(v.ev.Txs)
	}
	c.Txs = make([]CommittedTx, 0, ntx)
	round := l.ev.Round
	log := commitLog{index: g.commitIndex, leader: round, added: round + g.depth + 1}
	added := g.bucket(ntx)
	for i, v := range events {
		for j := range v.ev.Txs {
			h := v.ev.txHashes[j]
			if !g.delivered.add(h) && !injectedDedupBug {
				g.stats.DuplicateTxs++
				continue
			}
			added = append(added, h)
			c.Txs = append(c.Txs, CommittedTx{Hash: h, Event: i, Index: j})
		}
	}
	clear(events)
	g.walk = events[:0]
	g.file(log.added, added)
	g.pruneDelivered(round, &log)
	g.logs = append(g.logs, log)
	g.commitIndex++
	g.commitTime = c.Time
	g.lastLeader, g.hasCommitted = round, true
	g.out.Commits = append(g.out.Commits, c)
	g.gc(cutoff)
}

// consensusTime is the weighted median of the times of l's parents at the
// previous round (one per creator), clamped to be monotone. Those parents
// are a quorum, so Byzantine creators hold less than half of their weight
// and cannot move the median outside the honest creators' times.
func (g *Graph) consensusTime(l *vertex) int64 {
	type sample struct {
		t int64
		w uint64
	}
	var samples []sample
	var total uint64
	var ri *roundIndex
	for i, p := range l.ev.Parents {
		if p.Round+1 != l.ev.Round {
			break // previous-round parents come first
		}
		if i > 0 && l.ev.Parents[i-1].Creator == p.Creator {
			continue
		}
		v := g.parent(l, i, &ri)
		if v == nil {
			continue
		}
		w := g.c.Weight(p.Creator)
		samples = append(samples, sample{v.ev.Time, w})
		total += w
	}
	t := g.commitTime
	if len(samples) > 0 {
		slices.SortFunc(samples, func(a, b sample) int { return cmp.Compare(a.t, b.t) })
		var acc uint64
		for _, s := range samples {
			acc += s.w
			if 2*acc >= total {
				t = max(t, s.t)
				break
			}
		}
	}
	return t
}

// Stats counts what a graph did, for reports and coverage: how its leader
// slots were decided, timeouts, buffered events dropped below the horizon
// and transactions left out of commits as already delivered.
type Stats struct {
	DirectCommits   uint64
	IndirectCommits uint64
	DirectSkips     uint64
	IndirectSkips   uint64
	LeaderTimeouts  uint64
	BufferedDropped uint64
	DuplicateTxs    uint64
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.DirectCommits += o.DirectCommits
	s.IndirectCommits += o.IndirectCommits
	s.DirectSkips += o.DirectSkips
	s.IndirectSkips += o.IndirectSkips
	s.LeaderTimeouts += o.LeaderTimeouts
	s.BufferedDropped += o.BufferedDropped
	s.DuplicateTxs += o.DuplicateTxs
}

func (s *Stats) count(d decision) {
	switch {
	case d.kind == decidedCommit && d.direct:
		s.DirectCommits++
	case d.kind == decidedCommit:
		s.IndirectCommits++
	case d.direct:
		s.DirectSkips++
	default:
		s.IndirectSkips++
	}
}

// Stats returns the graph's counters.
func (g *Graph) Stats() Stats { return g.stats }

// LastCommitted returns the round of the last committed leader.
func (g *Graph) LastCommitted() (round uint64, ok bool) { return g.lastLeader, g.hasCommitted }

// CommitCount returns how many commits the graph has emitted.
func (g *Graph) CommitCount() uint64 { return g.commitIndex }

// NextSlot returns the round of the lowest leader slot not yet decided.
func (g *Graph) NextSlot() uint64 { return g.nextSlot }
