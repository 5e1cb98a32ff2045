package graph

import (
	"fmt"
	"slices"
)

// Wait says why Propose made no event, and so what the caller waits for.
type Wait int

const (
	// WaitNone: an event was made.
	WaitNone Wait = iota
	// WaitQuorum: the previous round lacks a quorum; more events must
	// arrive.
	WaitQuorum
	// WaitLeader: the previous round has a quorum but not its leader; the
	// caller arms its leader timer for NextRound()-1 and calls LeaderTimeout
	// when it fires.
	WaitLeader
	// WaitOwn: this node's own previous event is not in the graph; it must
	// be re-inserted from the store or fetched.
	WaitOwn
	// WaitObserver: this graph has no signer.
	WaitObserver
)

func (w Wait) String() string {
	switch w {
	case WaitNone:
		return "none"
	case WaitQuorum:
		return "quorum"
	case WaitLeader:
		return "leader"
	case WaitOwn:
		return "own-event"
	case WaitObserver:
		return "observer"
	}
	return fmt.Sprintf("wait(%d)", int(w))
}

// LeaderTimeout tells the graph that the caller stopped waiting for the
// leader of round r: Propose may then advance past round r without it.
func (g *Graph) LeaderTimeout(r uint64) {
	if r+1 > g.timedOut {
		g.timedOut = r + 1
		g.stats.LeaderTimeouts++
	}
}

// SetFloor tells the graph never to sign an event below round r: a node
// that lost its store and learned from its peers how far it may have
// gone sets it above every round it may have signed. The next event is
// then made at the highest round holding a quorum, once that is r-1 or
// above, referencing the node's latest own event; a node that knows none
// of its own events in the epoch cannot make one and signs again in the
// next epoch.
func (g *Graph) SetFloor(r uint64) { g.floor = max(g.floor, r) }

// NextRound returns the round of the next event this node would create.
func (g *Graph) NextRound() uint64 {
	if !g.hasOwn {
		return 0
	}
	return g.ownLast.Round + 1
}

// Waiting returns what Propose would wait for now, WaitNone if it would
// make an event. It changes nothing.
func (g *Graph) Waiting() Wait {
	if g.signer == nil {
		return WaitObserver
	}
	_, w := g.nextProposalRound()
	return w
}

// Propose makes this node's next event, if the round may advance, from the
// front of txs (it returns how many it took; the rest wait for the next
// event). hashes, if not nil, holds each transaction's hash (TxHash) as
// the caller computed it, at least as many as txs: the batch is then not
// hashed again. now is the node's clock in Unix nanoseconds. The event is signed,
// inserted, and reported in Ready.Inserted; the caller persists it, with
// its round as the last signed, before sending it. Propose never makes two
// events for one round, however often it is called.
//
// The round rule: a node at round k (its last event) makes its round-k+1
// event once it holds a quorum of round-k events and either round k's
// leader, a fired leader timeout for round k, or a quorum of round-k+1
// events (the others have moved on; waiting helps no leader). It never
// skips a round while its own previous event is in memory, so honest nodes
// vote in every round; only a node whose own last event fell below the
// horizon rejoins at the highest round holding a quorum.
func (g *Graph) Propose(now int64, txs [][]byte, hashes []Hash) (*Event, int, Wait) {
	if g.signer == nil {
		return nil, 0, WaitObserver
	}
	round, wait := g.nextProposalRound()
	if wait != WaitNone {
		return nil, 0, wait
	}
	e := &Event{Epoch: g.c.epoch, Round: round, Creator: g.self, Time: now}
	if round > 0 {
		e.Parents = g.chooseParents(round)
		if own := g.vertices[g.ownLast.Hash]; own != nil && own.ev.Time > e.Time {
			e.Time = own.ev.Time // a creator's clock never runs backwards in its own chain
		}
	}
	used, leaves := g.fillBatch(e, txs, hashes)
	if leaves != nil {
		e.TxRoot, e.txHashes = MerkleRoot(leaves), leaves
	} else {
		e.TxRoot, e.txHashes = BatchRoot(e.Txs)
	}
	e.Sig = g.signer.Sign(e.Hash())
	e.frame = e.appendFields(append(make([]byte, 0, len(g.prefix)+e.Size()), g.prefix...))
	e.enc = e.frame[len(g.prefix):]
	e.shareTxs()
	if err := g.c.checkRefs(e); err != nil {
		panic(fmt.Sprintf("graph: proposed an invalid event: %v", err))
	}
	e.verifiedBy, e.verifiedLim = g.c, g.lim
	later, missing, err := g.resolve(e, false)
	if err != nil || len(missing) > 0 {
		panic(fmt.Sprintf("graph: proposed event %s with unresolved parents (%d missing, %v)", e.Ref(), len(missing), err))
	}
	g.ownLast, g.hasOwn = e.Ref(), true
	g.insert(e, later)
	g.release(e.Hash())
	return e, used, WaitNone
}

// nextProposalRound applies the round rule.
func (g *Graph) nextProposalRound() (uint64, Wait) {
	if g.floor > 0 && (!g.hasOwn || g.ownLast.Round+1 < g.floor) {
		if !g.hasOwn {
			return 0, WaitOwn
		}
		p, ok := g.highestQuorumRound()
		if !ok || p+1 < g.floor {
			return 0, WaitQuorum
		}
		return p + 1, WaitNone
	}
	if !g.hasOwn {
		if g.horizon > 0 {
			return 0, WaitOwn // round 0 is gone; only a restored own event lets us in
		}
		return 0, WaitNone
	}
	k := g.ownLast.Round
	if k < g.horizon {
		// Rejoin after a long absence: the own previous event is collected,
		// so reference it by hash and enter at the frontier.
		p, ok := g.highestQuorumRound()
		if !ok || p < k {
			return 0, WaitQuorum
		}
		return p + 1, WaitNone
	}
	if _, ok := g.vertices[g.ownLast.Hash]; !ok {
		return 0, WaitOwn
	}
	ri := g.rounds[k]
	if ri == nil || !g.c.IsQuorum(ri.weight) {
		return 0, WaitQuorum
	}
	if len(ri.slots[g.leader(k)]) == 0 && g.timedOut <= k {
		if next := g.rounds[k+1]; next == nil || !g.c.IsQuorum(next.weight) {
			return 0, WaitLeader
		}
	}
	return k + 1, WaitNone
}

func (g *Graph) highestQuorumRound() (uint64, bool) {
	for r := g.top; ; r-- {
		if ri := g.rounds[r]; ri != nil && g.c.IsQuorum(ri.weight) {
			return r, true
		}
		if r == g.horizon || r == 0 {
			return 0, false
		}
	}
}

// chooseParents references, for round r: one event of every creator at
// round r-1 (the first inserted of its slot, and this node's own previous
// event in its own slot), then older events no inserted event references
// yet, oldest first, up to the parent limit, so that every event this node
// saw enters its causal history and can be committed.
func (g *Graph) chooseParents(r uint64) []EventRef {
	// The three kinds cannot repeat one another: the own event is the only
	// one of this node's, the previous round's are one per other creator,
	// and the older ones lie below it.
	ri := g.rounds[r-1]
	refs := make([]EventRef, 0, g.c.Size()+4)
	refs = append(refs, g.ownLast)
	if ri != nil {
		for c, slot := range ri.slots {
			if len(slot) > 0 && MemberID(c) != g.self {
				refs = append(refs, slot[0].ev.Ref())
			}
		}
	}
	var weak []*vertex
	for k := g.horizon; k+1 < r; k++ {
		ri := g.rounds[k]
		if ri == nil || ri.unreferenced == 0 {
			continue
		}
		for c, slot := range ri.slots {
			for _, v := range slot {
				if !v.referenced && MemberID(c) != g.self {
					weak = append(weak, v)
				}
			}
		}
	}
	slices.SortFunc(weak, cmpVertex)
	for _, v := range weak {
		if len(refs) >= g.lim.MaxParents {
			break
		}
		refs = append(refs, v.ev.Ref())
	}
	SortParents(refs)
	for i := 1; i < len(refs); i++ {
		if refs[i] == refs[i-1] {
			panic(fmt.Sprintf("graph: parent %s chosen twice", refs[i]))
		}
	}
	return refs
}

// fillBatch moves transactions from the front of txs into e within the
// limits on count, transaction size and event size, and returns how many
// it took, and their hashes from hashes if it is not nil. A transaction
// over the size limit can never be carried, so it is taken and dropped
// rather than left to block the queue.
func (g *Graph) fillBatch(e *Event, txs [][]byte, hashes []Hash) (int, []Hash) {
	size := e.Size()
	used := 0
	if len(txs) > 0 {
		e.Txs = make([][]byte, 0, min(len(txs), g.lim.MaxEventTxs))
	}
	for _, tx := range txs {
		if len(e.Txs) >= g.lim.MaxEventTxs || size+4+len(tx) > g.lim.MaxEventBytes {
			break
		}
		used++
		if len(tx) == 0 || len(tx) > g.lim.MaxTxBytes {
			continue
		}
		e.Txs = append(e.Txs, tx)
		size += 4 + len(tx)
	}
	if hashes == nil || len(e.Txs) == 0 {
		return used, nil
	}
	leaves := make([]Hash, 0, len(e.Txs))
	for i, tx := range txs[:used] {
		if len(tx) > 0 && len(tx) <= g.lim.MaxTxBytes {
			leaves = append(leaves, hashes[i])
		}
	}
	return used, leaves
}
