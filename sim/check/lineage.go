package check

import (
	"slices"

	"dagger/graph"
)

// The integrity checker's windows (the events and transactions a node
// committed within GC depth) are a function of the commits the node
// delivered since it started. Honest nodes that started at the same index
// and delivered the agreed sequence since hold equal windows, so they
// share one: a lineage. Whichever member first delivers an index (the
// front) checks that commit against the lineage's windows and records what
// the windows' checks found; a member delivering an index the front passed
// replays that record instead of reading the windows, and finds what the
// front found. A 100-node run so keeps one pair of windows instead of a
// hundred, and looks transactions up once per commit instead of once per
// node. Every other part of the integrity check still runs at every node.
//
// A member leaves its lineage (detach) with a copy of the windows as they
// stood at its position when it can no longer share them: it delivered
// something other than the agreed sequence, or a commit whose
// transactions do not all sit where they claim (which changes what enters
// the windows), or it fell too far behind the front. The windows keep
// what a member behind the front still sees (entries are stamped with the
// commit that added them and their round), and forget it once every
// member's cutoff passed it.

// lineage is one pair of windows and the nodes that share them.
type lineage struct {
	// start is the index the members started from; next is the index of
	// the next commit the windows take.
	start, next uint64
	events      histWindow
	txs         histWindow
	members     []int
	// found holds, by index, what the front's checks of the windows found
	// in a commit that members behind it have yet to deliver (only where
	// they found something).
	found map[uint64]*found
}

// found is what the windows' checks found in one commit: the events and
// the transactions (by position in the commit) delivered again, with the
// index that delivered them first, and how many transactions were not
// where they claimed to be.
type found struct {
	events, txs   []dupAt
	invalidPlaces int
}

type dupAt struct {
	pos   int
	first uint64
}

// eventDup and txDup return the index that first delivered the event or
// the transaction at pos, if it was delivered again. f may be nil: nothing
// was found.
func (f *found) eventDup(pos int) (uint64, bool) {
	if f == nil {
		return 0, false
	}
	return dup(f.events, pos)
}

func (f *found) txDup(pos int) (uint64, bool) {
	if f == nil {
		return 0, false
	}
	return dup(f.txs, pos)
}

func dup(list []dupAt, pos int) (uint64, bool) {
	for _, d := range list {
		if d.pos == pos {
			return d.first, true
		}
	}
	return 0, false
}

// notJoinable is the start of a lineage made by detach: no restarted node
// joins it.
const notJoinable = ^uint64(0)

// maxLag is how many commits (in GC depths) a member may fall behind the
// front before it detaches: it bounds what a lineage keeps for members
// behind its front to a few windows.
const maxLag = 2

// entry is what a window holds of a key: the commit that added it and the
// round it belongs to.
type entry struct {
	index, round uint64
}

// histWindow is a window of a lineage: keys by round, as window holds
// them, each stamped with the commit that added it. A key the front no
// longer sees may be added again while members behind it still see the
// older entry: that one is kept apart, in older, until its round is
// forgotten.
type histWindow struct {
	m      map[graph.Hash]entry
	older  map[graph.Hash][]entry // oldest first
	rounds map[uint64][]graph.Hash
	low    uint64 // no key is below it
}

func newHistWindow() histWindow {
	return histWindow{m: make(map[graph.Hash]entry), rounds: make(map[uint64][]graph.Hash)}
}

// get returns k's entry if it is at or above round cut: the window as seen
// by a member whose cutoff is cut. Older entries lie below the newest.
func (w *histWindow) get(k graph.Hash, cut uint64) (entry, bool) {
	e, ok := w.m[k]
	if !ok || e.round < cut {
		return entry{}, false
	}
	return e, true
}

// put adds k's entry, which must be of a later commit and round than any
// entry k has.
func (w *histWindow) put(k graph.Hash, e entry) {
	if len(w.rounds) == 0 || e.round < w.low {
		w.low = e.round
	}
	if old, ok := w.m[k]; ok {
		if w.older == nil {
			w.older = make(map[graph.Hash][]entry)
		}
		w.older[k] = append(w.older[k], old)
	}
	w.m[k] = e
	w.rounds[e.round] = append(w.rounds[e.round], k)
}

// prune forgets every key below round cutoff.
func (w *histWindow) prune(cutoff uint64) {
	if cutoff <= w.low || len(w.rounds) == 0 {
		return
	}
	if cutoff-w.low <= uint64(len(w.rounds)) {
		for r := w.low; r < cutoff; r++ {
			w.dropRound(r)
		}
	} else {
		for r := range w.rounds {
			if r < cutoff {
				w.dropRound(r)
			}
		}
	}
	w.low = cutoff
}

func (w *histWindow) dropRound(r uint64) {
	ks, ok := w.rounds[r]
	if !ok {
		return
	}
	for _, k := range ks {
		if w.m[k].round == r {
			// The newest entry goes, and the older ones, of lower rounds,
			// with it.
			delete(w.m, k)
			delete(w.older, k)
			continue
		}
		if old := slices.DeleteFunc(w.older[k], func(e entry) bool { return e.round == r }); len(old) > 0 {
			w.older[k] = old
		} else {
			delete(w.older, k)
		}
	}
	delete(w.rounds, r)
}

// asOf returns a copy of the window as a member at position pos (the index
// of the next commit it delivers) with cutoff cut sees it.
func (w *histWindow) asOf(pos, cut uint64) histWindow {
	c := newHistWindow()
	c.low = cut
	rs := make([]uint64, 0, len(w.rounds))
	for r := range w.rounds {
		if r >= cut {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	for _, r := range rs {
		for _, k := range w.rounds[r] {
			e := w.m[k]
			if e.round != r {
				i := slices.IndexFunc(w.older[k], func(o entry) bool { return o.round == r })
				if i < 0 {
					continue
				}
				e = w.older[k][i]
			}
			if e.index < pos {
				c.put(k, e)
			}
		}
	}
	return c
}

// join puts an honest node that starts delivering at index from into a
// lineage: one of the nodes that started there, if its windows are still
// empty, or a new one.
func (c *Checker) join(node int, from uint64) {
	n := c.nodes[node]
	for _, l := range c.lineages {
		if c.share && l.start == from && l.next == from && len(l.members) > 0 {
			l.members = append(l.members, node)
			n.lin = l
			return
		}
	}
	l := &lineage{start: from, next: from, events: newHistWindow(), txs: newHistWindow(), members: []int{node}}
	c.lineages = append(c.lineages, l)
	n.lin = l
}

// leave takes node out of its lineage. A lineage left with one member
// behind its front is handed to that member as it stood at its position.
func (c *Checker) leave(node int) {
	n := c.nodes[node]
	l := n.lin
	if l == nil {
		return
	}
	n.lin = nil
	l.members = slices.DeleteFunc(l.members, func(m int) bool { return m == node })
	switch {
	case len(l.members) == 0:
		c.lineages = slices.DeleteFunc(c.lineages, func(x *lineage) bool { return x == l })
	case len(l.members) == 1 && c.nodes[l.members[0]].next < l.next:
		c.detach(l.members[0], c.nodes[l.members[0]].next)
	}
}

// detach gives a member of a shared lineage its own lineage with the
// windows as they stand at its position pos.
func (c *Checker) detach(node int, pos uint64) {
	n := c.nodes[node]
	old := n.lin
	l := &lineage{start: notJoinable, next: pos, members: []int{node},
		events: old.events.asOf(pos, n.cutoff), txs: old.txs.asOf(pos, n.txCutoff)}
	c.leave(node)
	c.lineages = append(c.lineages, l)
	n.lin = l
}

// settle is called after a member delivered a commit: members that fell
// too far behind the front detach, the windows forget what no member sees
// any longer, and so do the records.
func (c *Checker) settle(l *lineage) {
	if len(l.members) > 1 {
		var lagging []int
		for _, m := range l.members {
			if c.nodes[m].next+maxLag*c.depth < l.next {
				lagging = append(lagging, m)
			}
		}
		for _, m := range lagging {
			c.detach(m, c.nodes[m].next)
		}
	}
	if len(l.members) == 0 {
		return
	}
	cut, txCut, pos := ^uint64(0), ^uint64(0), ^uint64(0)
	for _, m := range l.members {
		n := c.nodes[m]
		cut, txCut, pos = min(cut, n.cutoff), min(txCut, n.txCutoff), min(pos, n.next)
	}
	l.events.prune(cut)
	l.txs.prune(txCut)
	for i := range l.found {
		if i < pos {
			delete(l.found, i)
		}
	}
}
