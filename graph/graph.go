package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Config configures one node's graph for one epoch.
type Config struct {
	Committee *Committee
	// Verifier checks signatures; nil means Ed25519.
	Verifier Verifier
	// Limits bound events; all honest nodes of an epoch use the same.
	Limits Limits
	// Signer is this node's key. Nil makes an observer that inserts and
	// commits but never creates events. A signer whose key is not in the
	// committee is an error.
	Signer Signer
	// LastSigned is the last event this node signed before a restart. The
	// graph never signs at or below its round again, and references it as
	// the node's own previous event. The caller persists the event itself
	// (and re-inserts it) before sending it, or the node cannot continue
	// until the event is garbage-collected by the others.
	LastSigned *EventRef
	// GCDepth is how many rounds below the last committed leader stay in
	// memory. 0 means DefaultGCDepth; it must be at least MinGCDepth.
	GCDepth uint64
	// MaxPending bounds the events waiting for parents; each creator may
	// hold MaxPending/n of them (at least MinPendingPerCreator). 0 means
	// DefaultMaxPending.
	MaxPending int
	// MaxSlotEvents bounds how many events of one slot are stored: beyond
	// it, further equivocations are refused unless a buffered event waits
	// for them. 0 means DefaultMaxSlotEvents.
	MaxSlotEvents int
	// StartTime is the consensus time before the first commit, in Unix
	// nanoseconds (the epoch's start).
	StartTime int64
	// Window is the replay window the previous epoch handed over
	// (WindowAt of its last commit): its transactions are not delivered
	// again until they expire. Empty for the first epoch.
	Window TxWindow
	// FramePrefix, if set, is written in front of the encoding of every
	// event this graph proposes, in the same allocation: Event.Framed with
	// the same prefix then returns the framed message without copying the
	// event (the node frames an event as a wire message this way).
	FramePrefix []byte
}

// Defaults for Config.
const (
	DefaultGCDepth       = 50
	MinGCDepth           = 3
	DefaultMaxPending    = 16384
	MinPendingPerCreator = 64
	DefaultMaxSlotEvents = 4
)

// Status says what Insert did with a valid event.
type Status int

const (
	// Inserted: the event is in the graph (and so are any buffered
	// descendants it unblocked; see Ready.Inserted).
	Inserted Status = iota
	// Buffered: parents are missing; Ready.Missing names the new ones.
	Buffered
	// Duplicate: the event was already inserted or buffered.
	Duplicate
)

func (s Status) String() string {
	switch s {
	case Inserted:
		return "inserted"
	case Buffered:
		return "buffered"
	case Duplicate:
		return "duplicate"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Rejection names a buffered event that was dropped after Insert accepted
// it for buffering: a parent turned out to disagree with its reference, an
// ancestor was rejected, or its round fell below the horizon.
type Rejection struct {
	Event EventRef
	Err   error
}

// Ready is the graph's output since the previous call of Ready, in the
// order it happened. The caller persists Inserted, fetches Missing from the
// peers that sent the children, gossips Evidence, and applies Commits.
type Ready struct {
	Inserted []*Event
	Missing  []EventRef
	Evidence []Evidence
	Rejected []Rejection
	Commits  []Commit
}

// vertex is an inserted event with what the graph derived from it.
//
// Its parents are not stored as pointers (n of them per event, n events
// per round, in every node's graph: the bulk of a graph's memory): every
// parent reference at or above the horizon names an inserted event, which
// the round index finds by round and creator, first in its slot unless
// the creator equivocated there. Only those that are not first in their
// slot are kept, in later; see parent.
type vertex struct {
	ev   *Event
	hash Hash
	// later links the parent references (by index into ev.Parents, in
	// increasing order) whose events are not the first of their slot.
	later []parentLink
	// vote is the block of the previous round's leader slot this event
	// supports: its first parent at that slot. nil means a blame.
	vote *vertex
	// certifies is the leader block two rounds down for which a quorum of
	// this event's parents vote, nil if none.
	certifies *vertex
	committed bool
	// referenced is set once an inserted event names this one as a parent;
	// unreferenced vertices are the tips the proposer links to (see
	// roundIndex.unreferenced).
	referenced bool
	// first is set if the vertex is the first of its slot.
	first bool
	mark  uint64 // traversal stamp, see Graph.stamp
}

// parentLink is a parent reference of a vertex whose event is not the
// first of its slot, and that event's vertex.
type parentLink struct {
	i int
	v *vertex
}

// parent returns the vertex of v's i-th parent reference, nil if that lies
// below the horizon (collected, or already below it when v was inserted).
// ri carries the round index between calls: parents are sorted by round,
// so a walk over them looks each round up once.
func (g *Graph) parent(v *vertex, i int, ri **roundIndex) *vertex {
	p := &v.ev.Parents[i]
	if p.Round < g.horizon {
		return nil
	}
	if *ri == nil || (*ri).round != p.Round {
		*ri = g.rounds[p.Round]
	}
	for _, l := range v.later {
		if l.i == i {
			return l.v
		}
	}
	return (*ri).slots[p.Creator][0]
}

// certTally counts the creators whose events certify one leader block.
type certTally struct {
	block  *vertex
	weight uint64
	seen   []bool
}

// roundIndex holds one round's events by creator and the tallies of the
// round's leader slot.
type roundIndex struct {
	round uint64
	slots [][]*vertex // by creator, in insertion order
	// Of the first vertex of each slot, by creator: its hash, its vote,
	// and whether it is committed and referenced (bitsets). Walks over
	// parents read these rather than visit every parent's vertex.
	firstHash       []Hash
	firstVote       []*vertex
	firstCommitted  bitset
	firstReferenced bitset
	// unreferenced counts the round's vertices no inserted event
	// references yet: the tips the proposer links to. committed counts
	// those committed: a walk passes over the references to a round all
	// of whose vertices are committed.
	unreferenced int
	committed    int
	weight       uint64 // weight of creators with at least one event
	count        int
	// Tallies for this round's leader slot, from the next two rounds.
	blamers     []bool
	blameWeight uint64
	certs       []certTally
}

// findIn returns the vertex with hash h in a slot, nil if there is none.
func findIn(slot []*vertex, h *Hash) *vertex {
	for _, v := range slot {
		if v.hash.equal(h) {
			return v
		}
	}
	return nil
}

// bitset is a set of small integers (members).
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i MemberID) bool { return b[i/64]&(1<<(i%64)) != 0 }

func (b bitset) add(i MemberID) { b[i/64] |= 1 << (i % 64) }

// setCommitted marks v, of the round indexed by ri, committed.
func setCommitted(v *vertex, ri *roundIndex) {
	v.committed = true
	ri.committed++
	if v.first {
		ri.firstCommitted.add(v.ev.Creator)
	}
}

// sameRound returns the index after the references from i on that are of
// the same round as refs[i]. References are sorted by round, newest first:
// a binary search finds it.
func sameRound(refs []EventRef, i int) int {
	r := refs[i].Round
	lo, hi := i+1, len(refs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if refs[m].Round == r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// pendingEvent is a verified event waiting for parents.
type pendingEvent struct {
	ev      *Event
	missing int
}

// Graph is one node's view of the ShadowGraph for one epoch. It is not safe
// for concurrent use: the caller drives it from one goroutine.
type Graph struct {
	c       *Committee
	v       Verifier
	lim     Limits
	signer  Signer
	self    MemberID
	depth   uint64
	perPend int
	maxSlot int
	prefix  []byte // Config.FramePrefix

	vertices map[Hash]*vertex
	rounds   map[uint64]*roundIndex
	top      uint64 // highest round holding an event
	horizon  uint64 // lowest round kept in memory
	stamp    uint64

	pending        map[Hash]*pendingEvent
	waiters        map[Hash][]Hash // missing or pending parent -> children waiting
	missing        map[Hash]EventRef
	missingByRound map[uint64][]Hash
	pendingBy      []int // pending events per creator

	// own chain and the proposer's state
	ownLast  EventRef
	hasOwn   bool
	timedOut uint64 // highest round whose leader timer fired, +1 (0: none)
	floor    uint64 // the lowest round Propose may sign (SetFloor)
	// leaders caches the leader schedule of recent rounds, by round
	// modulo its size: a few windows' worth.
	leaders [leaderCacheSize]leaderAt

	// commit sequence
	nextSlot     uint64 // lowest undecided leader slot
	lastLeader   uint64 // round of the last committed leader
	hasCommitted bool
	commitIndex  uint64
	commitTime   int64
	// The replay window: every transaction delivered and not yet expired,
	// and the same hashes by the leader round after whose commit they
	// expire; expNext is the lowest expiry not yet pruned.
	delivered      hashSet
	deliveredByExp map[uint64][]Hash
	expNext        uint64
	// logs describe the commits of the batch the last Ready returned.
	logs []commitLog
	// spare holds the emptied hash lists of expiry groups that left the
	// window, for reuse by later commits; walk and stack are the
	// linearizer's scratch space.
	spare       [][]Hash
	walk, stack []*vertex
	stats       Stats
	fault       error
	// grown is set by every insertion; without one, the commit rule has
	// nothing new to decide.
	grown bool

	out Ready
}

// Release tells the graph its caller is done with it (a node whose epoch
// ended and whose next graph runs): the memory it would keep until the
// collector took it is reused by later graphs. The graph must not be used
// after; its replay window panics if it is.
func (g *Graph) Release() { g.delivered.release() }

// New returns an empty graph for cfg's epoch.
func New(cfg Config) (*Graph, error) {
	if cfg.Committee == nil {
		return nil, errors.New("graph: config has no committee")
	}
	c := cfg.Committee
	g := &Graph{
		c: c, v: cfg.Verifier, lim: cfg.Limits.withDefaults(), signer: cfg.Signer,
		depth: cfg.GCDepth, maxSlot: cfg.MaxSlotEvents, prefix: slices.Clone(cfg.FramePrefix),
		rounds:  make(map[uint64]*roundIndex),
		pending: make(map[Hash]*pendingEvent), waiters: make(map[Hash][]Hash), missing: make(map[Hash]EventRef),
		missingByRound: make(map[uint64][]Hash), pendingBy: make([]int, c.Size()),
		delivered:      newHashSet(len(cfg.Window)),
		deliveredByExp: make(map[uint64][]Hash), commitTime: cfg.StartTime,
	}
	if g.v == nil {
		g.v = Ed25519{}
	}
	if g.depth == 0 {
		g.depth = DefaultGCDepth
	}
	if g.depth < MinGCDepth {
		return nil, fmt.Errorf("graph: GC depth %d is below the minimum %d", g.depth, MinGCDepth)
	}
	// Room for the events of GC depth rounds and a few above: a map that
	// grows from empty in every epoch copies itself over and over.
	g.vertices = make(map[Hash]*vertex, c.Size()*int(min(g.depth+4, 1<<10)))
	maxPend := cfg.MaxPending
	if maxPend <= 0 {
		maxPend = DefaultMaxPending
	}
	g.perPend = max(maxPend/c.Size(), MinPendingPerCreator)
	if g.maxSlot <= 0 {
		g.maxSlot = DefaultMaxSlotEvents
	}
	if cfg.Signer != nil {
		id, ok := c.MemberByKey(cfg.Signer.PublicKey())
		if !ok {
			return nil, errors.New("graph: signer's key is not in the committee")
		}
		g.self = id
	}
	// One array holds every expiry's list; each list's capacity ends where
	// it does, so that filing more under its expiry copies it first.
	all := make([]Hash, len(cfg.Window))
	for i := 0; i < len(cfg.Window); {
		// A window comes grouped by expiry: one list per expiry.
		from, k := i, cfg.Window[i].Expires
		for ; i < len(cfg.Window) && cfg.Window[i].Expires == k; i++ {
			t := &cfg.Window[i]
			if t.Expires > g.depth || !g.delivered.add(t.Hash) {
				return nil, fmt.Errorf("graph: window entry %s expiring at round %d is repeated or beyond GC depth %d", t.Hash, t.Expires, g.depth)
			}
			all[i] = t.Hash
		}
		g.file(k, all[from:i:i])
	}
	if cfg.LastSigned != nil {
		if cfg.Signer == nil || cfg.LastSigned.Creator != g.self {
			return nil, fmt.Errorf("graph: last signed event %s is not this node's", cfg.LastSigned)
		}
		g.ownLast, g.hasOwn = *cfg.LastSigned, true
	}
	return g, nil
}

// Committee returns the graph's committee.
func (g *Graph) Committee() *Committee { return g.c }

// Limits returns the event limits in force (defaults filled in).
func (g *Graph) Limits() Limits { return g.lim }

// Verifier returns the signature scheme in force.
func (g *Graph) Verifier() Verifier { return g.v }

// Round returns the highest round holding an event.
func (g *Graph) Round() uint64 { return g.top }

// Horizon returns the lowest round kept in memory; events below it are
// rejected with ErrBelowHorizon.
func (g *Graph) Horizon() uint64 { return g.horizon }

// Len returns the number of events in memory.
func (g *Graph) Len() int { return len(g.vertices) }

// PendingLen returns the number of events waiting for parents.
func (g *Graph) PendingLen() int { return len(g.pending) }

// Get returns an inserted event.
func (g *Graph) Get(h Hash) (*Event, bool) {
	if v, ok := g.vertices[h]; ok {
		return v.ev, true
	}
	return nil, false
}

// Has reports whether the event is inserted or buffered.
func (g *Graph) Has(h Hash) bool {
	_, ok := g.vertices[h]
	_, pend := g.pending[h]
	return ok || pend
}

// hasEvent is Has(h) for the event e whose hash is h: an inserted event
// is in the slot its header names.
func (g *Graph) hasEvent(e *Event, h *Hash) bool {
	if _, pend := g.pending[*h]; pend {
		return true
	}
	if e.Round < g.horizon || int(e.Creator) >= g.c.Size() {
		return false
	}
	ri := g.rounds[e.Round]
	if ri == nil || len(ri.slots[e.Creator]) == 0 {
		return false
	}
	return ri.firstHash[e.Creator].equal(h) || findIn(ri.slots[e.Creator][1:], h) != nil
}

// EventsAt returns the inserted events of a round, by creator and then in
// insertion order.
func (g *Graph) EventsAt(round uint64) []*Event {
	ri := g.rounds[round]
	if ri == nil {
		return nil
	}
	out := make([]*Event, 0, ri.count)
	for _, slot := range ri.slots {
		for _, v := range slot {
			out = append(out, v.ev)
		}
	}
	return out
}

// Missing returns every parent still missing, oldest round first, so a
// caller can retry fetches that went unanswered.
func (g *Graph) Missing() []EventRef {
	out := make([]EventRef, 0, len(g.missing))
	for _, r := range g.missing {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b EventRef) int { return -parentOrder(a, b) })
	return out
}

// Vouched says whether the missing event h is an ancestor of buffered
// events whose creators hold more than a third of the weight. An honest
// member signs an event only over parents it holds, so an event named, at
// first or second hand, by that much weight exists and an honest member
// can serve it. One named by less may not exist at all: a Byzantine member
// can sign an event over a parent nobody has, which fetches never find and
// syncs from the peers' stores, each costing them rounds of events, would
// look for in vain.
func (g *Graph) Vouched(h Hash) bool {
	var weight uint64
	counted := make([]bool, g.c.Size())
	seen := map[Hash]bool{h: true}
	queue := []Hash{h}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, ch := range g.waiters[x] {
			pe := g.pending[ch]
			if pe == nil || seen[ch] {
				continue
			}
			seen[ch] = true
			queue = append(queue, ch)
			if c := pe.ev.Creator; !counted[c] {
				counted[c] = true
				if weight += g.c.Weight(c); g.c.IsValidity(weight) {
					return true
				}
			}
		}
	}
	return false
}

// AheadVouched says whether buffered events at round or above come from
// members holding more than a third of the weight: at least one honest
// member is that far on, so this node is behind. Events that far ahead
// from fewer members may be a Byzantine member's, which can sign events
// for any round over parents nobody has.
func (g *Graph) AheadVouched(round uint64) bool {
	var weight uint64
	counted := make([]bool, g.c.Size())
	for _, pe := range g.pending {
		if c := pe.ev.Creator; pe.ev.Round >= round && !counted[c] {
			counted[c] = true
			if weight += g.c.Weight(c); g.c.IsValidity(weight) {
				return true
			}
		}
	}
	return false
}

// LatestOf returns the inserted event of creator at the highest round the
// graph holds (the first of its slot if it equivocated there).
func (g *Graph) LatestOf(creator MemberID) (*Event, bool) {
	if int(creator) >= g.c.Size() {
		return nil, false
	}
	for r := g.top; ; r-- {
		if ri := g.rounds[r]; ri != nil && len(ri.slots[creator]) > 0 {
			if v := ri.slots[creator][0]; v.ev != nil {
				return v.ev, true
			}
		}
		if r == g.horizon || r == 0 {
			return nil, false
		}
	}
}

// LastSigned returns the latest event of this node known to the graph: the
// last one it signed, or one of its own learned from peers after a restart.
func (g *Graph) LastSigned() (EventRef, bool) { return g.ownLast, g.hasOwn }

// leaderAt is a cached entry of the leader schedule; round+1, so that the
// zero value is empty.
type leaderAt struct {
	roundPlus1 uint64
	id         MemberID
}

const leaderCacheSize = 256

func (g *Graph) leader(round uint64) MemberID {
	c := &g.leaders[round%leaderCacheSize]
	if c.roundPlus1 != round+1 {
		c.roundPlus1, c.id = round+1, g.c.Leader(round)
	}
	return c.id
}

func (g *Graph) round(r uint64) *roundIndex {
	ri := g.rounds[r]
	if ri == nil {
		n := g.c.Size()
		ri = &roundIndex{round: r, slots: make([][]*vertex, n), blamers: make([]bool, n), firstHash: make([]Hash, n),
			firstVote: make([]*vertex, n), firstCommitted: newBitset(n), firstReferenced: newBitset(n)}
		g.rounds[r] = ri
	}
	return ri
}

// Insert verifies e (unless Committee.Verify already did) and inserts it, or
// buffers it until its parents arrive. An invalid event is rejected with an
// error wrapping one of the Err values of this package and changes nothing.
func (g *Graph) Insert(e *Event) (Status, error) { return g.insertChecked(e, false) }

// Restore re-inserts an event this node stored when it first inserted it,
// after a restart. The event is checked like any other, but for the bound
// on events per slot: an equivocating event beyond it was let in because a
// buffered descendant waited for it, and on a replay in store order that
// descendant comes later. What Restore takes is bounded by what Insert
// took before.
func (g *Graph) Restore(e *Event) (Status, error) { return g.insertChecked(e, true) }

func (g *Graph) insertChecked(e *Event, stored bool) (Status, error) {
	if err := g.c.Verify(e, g.v, g.lim); err != nil {
		return 0, err
	}
	h := e.Hash()
	if g.hasEvent(e, &h) {
		return Duplicate, nil
	}
	if e.Round < g.horizon {
		return 0, fmt.Errorf("%w: event %s, horizon %d", ErrBelowHorizon, e.Ref(), g.horizon)
	}
	_, wanted := g.waiters[h]
	if ri := g.rounds[e.Round]; ri != nil && len(ri.slots[e.Creator]) >= g.maxSlot && !wanted && !stored {
		return 0, fmt.Errorf("%w: slot r%d/c%d holds %d events", ErrSlotFull, e.Round, e.Creator, g.maxSlot)
	}
	later, missing, err := g.resolve(e, stored)
	if err != nil {
		return 0, err
	}
	if len(missing) == 0 {
		g.insert(e, later)
		g.release(h)
		return Inserted, nil
	}
	if g.pendingBy[e.Creator] >= g.perPend {
		return 0, fmt.Errorf("%w: member %d has %d events waiting", ErrBufferFull, e.Creator, g.pendingBy[e.Creator])
	}
	g.pending[h] = &pendingEvent{ev: e}
	g.pendingBy[e.Creator]++
	delete(g.missing, h) // held now, even if not insertable yet
	g.await(h, missing)
	return Buffered, nil
}

// await makes buffered event h wait for the given parents and reports the
// ones neither inserted, buffered nor asked for already as missing.
func (g *Graph) await(h Hash, missing []EventRef) {
	g.pending[h].missing = len(missing)
	for _, p := range missing {
		g.waiters[p.Hash] = append(g.waiters[p.Hash], h)
		if _, pend := g.pending[p.Hash]; pend {
			continue
		}
		if _, known := g.missing[p.Hash]; !known {
			g.missing[p.Hash] = p
			g.missingByRound[p.Round] = append(g.missingByRound[p.Round], p.Hash)
			g.out.Missing = append(g.out.Missing, p)
		}
	}
}

// resolve looks up e's parents. It returns the links of the parents that
// are not the first event of their slot (see vertex), the references not
// inserted yet, and an error if an inserted parent disagrees with its
// reference. Parents below the horizon count as present.
//
// For a stored event (Restore), a reference naming an inserted parent by a
// lower round than the parent's counts as below the horizon too: Insert let
// it in unchecked when that round was below the horizon (a Byzantine
// creator may name any collected round), and a replay in store order,
// round by round, may hold the parent. Refusing it there would stop the
// node on its own store.
func (g *Graph) resolve(e *Event, stored bool) ([]parentLink, []EventRef, error) {
	var later []parentLink
	var missing []EventRef
	var ri *roundIndex
	for i := range e.Parents {
		p := &e.Parents[i]
		if p.Round < g.horizon {
			continue
		}
		// The hints find the slot at the cost of one small-integer lookup per
		// round (parents are sorted by round); the hash map is consulted only
		// when the slot does not hold the hash.
		if i == 0 || e.Parents[i-1].Round != p.Round {
			ri = g.rounds[p.Round]
		}
		if ri != nil {
			if slot := ri.slots[p.Creator]; len(slot) > 0 && ri.firstHash[p.Creator].equal(&p.Hash) {
				continue
			} else if v := findIn(slot, &p.Hash); v != nil {
				later = append(later, parentLink{i: i, v: v})
				continue
			}
		}
		v, ok := g.vertices[p.Hash]
		if !ok {
			missing = append(missing, *p)
			continue
		}
		if v.ev.Round == p.Round && v.ev.Creator == p.Creator {
			panic(fmt.Sprintf("graph: event %s is not in its slot", p)) // insert files every vertex in its slot
		}
		if stored && p.Round < v.ev.Round {
			continue
		}
		return nil, nil, fmt.Errorf("%w: event %s names %s, which is r%d/c%d", ErrParentMismatch, e.Ref(), p, v.ev.Round, v.ev.Creator)
	}
	return later, missing, nil
}

// release inserts, in order, the buffered events that were waiting only for
// the given events, and so on down the line.
func (g *Graph) release(hs ...Hash) {
	queue := hs
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		children := g.waiters[h]
		delete(g.waiters, h)
		for _, ch := range children {
			pe := g.pending[ch]
			if pe == nil {
				continue // dropped meanwhile
			}
			pe.missing--
			if pe.missing > 0 {
				continue
			}
			later, missing, err := g.resolve(pe.ev, false)
			if err != nil {
				g.reject(pe.ev, err)
				continue
			}
			if len(missing) > 0 {
				// Two events named one hash with different rounds, and the
				// horizon passed only one of them: wait for the event itself
				// to show which reference lies.
				g.await(ch, missing)
				continue
			}
			g.unbuffer(ch)
			g.insert(pe.ev, later)
			queue = append(queue, ch)
		}
	}
}

func (g *Graph) unbuffer(h Hash) {
	if pe := g.pending[h]; pe != nil {
		g.pendingBy[pe.ev.Creator]--
		delete(g.pending, h)
	}
}

// reject drops a buffered event and, transitively, everything buffered
// that waits for it.
func (g *Graph) reject(e *Event, err error) {
	queue := []*Event{e}
	errs := []error{err}
	for len(queue) > 0 {
		e, err := queue[0], errs[0]
		queue, errs = queue[1:], errs[1:]
		h := e.Hash()
		g.unbuffer(h)
		g.out.Rejected = append(g.out.Rejected, Rejection{Event: e.Ref(), Err: err})
		children := g.waiters[h]
		delete(g.waiters, h)
		for _, ch := range children {
			if pe := g.pending[ch]; pe != nil {
				queue = append(queue, pe.ev)
				errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidAncestor, e.Ref()))
			}
		}
	}
}

// insert adds a valid event whose parents are all present (or below the
// horizon) and derives its vote, certificate and equivocation evidence.
func (g *Graph) insert(e *Event, later []parentLink) {
	h := e.Hash()
	v := &vertex{ev: e, hash: h, later: later}
	g.vertices[h] = v
	g.grown = true
	delete(g.missing, h)
	ri := g.round(e.Round)
	slot := ri.slots[e.Creator]
	if len(slot) == 0 {
		ri.weight += g.c.Weight(e.Creator)
		ri.firstHash[e.Creator] = h
		v.first = true
	} else {
		g.out.Evidence = append(g.out.Evidence, Evidence{First: slot[0].ev.Header(), Second: e.Header()})
	}
	ri.slots[e.Creator] = append(slot, v)
	ri.count++
	ri.unreferenced++
	if e.Round > g.top {
		g.top = e.Round
	}
	var pri *roundIndex
	for i := 0; i < len(e.Parents); i++ {
		ref := &e.Parents[i]
		if ref.Round < g.horizon {
			continue
		}
		if pri == nil || pri.round != ref.Round {
			pri = g.rounds[ref.Round]
			if pri.unreferenced == 0 {
				i = sameRound(e.Parents, i) - 1 // all of that round are referenced
				continue
			}
		}
		if len(later) == 0 && pri.firstReferenced.has(ref.Creator) {
			continue // every parent is the first of its slot
		}
		if p := g.parent(v, i, &pri); p != nil && !p.referenced {
			p.referenced = true
			pri.unreferenced--
			if p.first {
				pri.firstReferenced.add(p.ev.Creator)
			}
		}
	}
	if e.Creator == g.self && g.signer != nil && (!g.hasOwn || e.Round > g.ownLast.Round) {
		// Our own event came back (after a restart that lost it): never
		// sign in its slot again.
		g.ownLast, g.hasOwn = e.Ref(), true
	}
	// Votes and certificates only ever decide slots not decided yet: an
	// event of a round that votes on or certifies a decided slot (one that
	// arrived after the quorum that decided it) counts for nothing.
	if e.Round >= 1 && e.Round-1 >= g.nextSlot {
		g.tallyVote(v)
		if v.first {
			ri.firstVote[e.Creator] = v.vote
		}
	}
	if e.Round >= 2 && e.Round-2 >= g.nextSlot {
		g.tallyCertificate(v)
	}
	g.out.Inserted = append(g.out.Inserted, e)
}

// tallyVote records whether v (round R+1) votes for a block of the leader
// slot of round R, or blames it.
func (g *Graph) tallyVote(v *vertex) {
	r := v.ev.Round - 1
	leader := g.leader(r)
	// The previous round's references come first, by creator.
	for i := range v.ev.Parents {
		p := &v.ev.Parents[i]
		if p.Round != r || p.Creator > leader {
			break
		}
		if p.Creator == leader {
			var ri *roundIndex
			v.vote = g.parent(v, i, &ri)
			break
		}
	}
	if v.vote != nil || r < g.horizon {
		return
	}
	ri := g.round(r)
	if !ri.blamers[v.ev.Creator] {
		ri.blamers[v.ev.Creator] = true
		ri.blameWeight += g.c.Weight(v.ev.Creator)
	}
}

// tallyCertificate records whether v (round R+2) certifies a block of the
// leader slot of round R: whether its parents at R+1 hold votes for one
// block from a quorum of creators.
func (g *Graph) tallyCertificate(v *vertex) {
	r := v.ev.Round - 2
	if r < g.horizon {
		return
	}
	type count struct {
		block  *vertex
		weight uint64
		last   MemberID
	}
	var counts []count
	pri := g.rounds[r+1]
	for i := range v.ev.Parents {
		ref := &v.ev.Parents[i]
		if ref.Round != r+1 {
			break // the previous round's references come first
		}
		var vote *vertex
		if len(v.later) == 0 {
			vote = pri.firstVote[ref.Creator] // every parent is the first of its slot
		} else if p := g.parent(v, i, &pri); p != nil {
			vote = p.vote
		}
		if vote == nil {
			continue
		}
		i := 0
		if len(counts) == 0 || counts[0].block != vote {
			i = slices.IndexFunc(counts, func(c count) bool { return c.block == vote })
		}
		if i < 0 {
			counts = append(counts, count{block: vote, weight: g.c.Weight(ref.Creator), last: ref.Creator})
			continue
		}
		// Parents are sorted by creator within a round: a creator's
		// equivocating votes are adjacent and count once.
		if counts[i].last != ref.Creator {
			counts[i].weight += g.c.Weight(ref.Creator)
			counts[i].last = ref.Creator
		}
	}
	for _, c := range counts {
		if g.c.IsQuorum(c.weight) {
			v.certifies = c.block
			break
		}
	}
	if v.certifies == nil {
		return
	}
	ri := g.round(r)
	i := slices.IndexFunc(ri.certs, func(t certTally) bool { return t.block == v.certifies })
	if i < 0 {
		ri.certs = append(ri.certs, certTally{block: v.certifies, seen: make([]bool, g.c.Size())})
		i = len(ri.certs) - 1
	}
	t := &ri.certs[i]
	if !t.seen[v.ev.Creator] {
		t.seen[v.ev.Creator] = true
		t.weight += g.c.Weight(v.ev.Creator)
	}
}

// Ready runs the commit rule over everything inserted so far and returns
// the output accumulated since the last call.
func (g *Graph) Ready() Ready {
	for i := range g.logs {
		for _, p := range g.logs[i].pruned {
			if len(g.spare) < maxSpare {
				g.spare = append(g.spare, p.hashes[:0])
			}
		}
	}
	g.logs = g.logs[:0]
	g.commit()
	out := g.out
	g.out = Ready{}
	return out
}

// Fault returns the safety violation that stopped the commit rule, if any:
// evidence that more than a third of the weight is Byzantine. Once set,
// the graph commits nothing more.
func (g *Graph) Fault() error { return g.fault }

// gc advances the horizon to h: rounds below it leave memory, buffered
// events below it are dropped, and parents below it count as present.
func (g *Graph) gc(h uint64) {
	if h <= g.horizon {
		return
	}
	var freed []Hash
	for r := g.horizon; r < h; r++ {
		if ri := g.rounds[r]; ri != nil {
			for _, slot := range ri.slots {
				for _, v := range slot {
					delete(g.vertices, v.hash)
					// Kept events may still point here; cut this vertex's
					// own links so that nothing older stays reachable.
					v.ev, v.later, v.vote, v.certifies = nil, nil, nil, nil
				}
			}
			delete(g.rounds, r)
		}
		for _, mh := range g.missingByRound[r] {
			if _, still := g.missing[mh]; still {
				delete(g.missing, mh)
				freed = append(freed, mh)
			}
		}
		delete(g.missingByRound, r)
	}
	g.horizon = h
	// Buffered events below the horizon will never be needed, and no event
	// waits on them any longer.
	var old []*Event
	for _, pe := range g.pending {
		if pe.ev.Round < h {
			old = append(old, pe.ev)
		}
	}
	slices.SortFunc(old, func(a, b *Event) int { return parentOrder(b.Ref(), a.Ref()) })
	for _, e := range old {
		g.unbuffer(e.Hash())
		g.stats.BufferedDropped++
		g.out.Rejected = append(g.out.Rejected, Rejection{Event: e.Ref(), Err: fmt.Errorf("%w: horizon %d", ErrBelowHorizon, h)})
		freed = append(freed, e.Hash())
	}
	// Events waiting for parents below the horizon, missing or just
	// dropped, now count them as present.
	g.release(freed...)
}

// cmpVertex is the linear order of a commit: round, creator, hash.
func cmpVertex(a, b *vertex) int {
	if c := cmp.Compare(a.ev.Round, b.ev.Round); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ev.Creator, b.ev.Creator); c != 0 {
		return c
	}
	return a.hash.Compare(b.hash)
}
