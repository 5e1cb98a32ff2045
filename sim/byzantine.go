package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"dagger/graph"
	"dagger/node"
	"dagger/sim/scenario"
)

// byzantine is the behaviour hook of a Byzantine node. The node runs the
// honest ledger; the hook sits at the transport edge and rewrites, drops,
// delays or adds messages as the scenario's behaviours say while their
// windows are open.
type byzantine struct {
	s       *Sim
	ep      *endpoint
	entries []int // indexes into the scenario's byzantine list
	rng     *rand.Rand

	// own is the last own event decoded from an outgoing packet, so a
	// broadcast is decoded once, not once per peer.
	ownPkt  *packet
	own     *graph.Event
	variant map[graph.Hash]*packet // rewritten own events, by original hash
	twins   map[graph.Hash][]byte  // second versions sent, by their hash
	flooded *packet
	ranFrom *packet   // the own event the last run-ahead message went out with
	ran     int       // run-ahead messages sent
	junk    *packet   // the oversized garbage a flooder sends
	replays []*packet // recent incoming events, for replay
	next    int
}

const replayRing = 256

func newByzantine(s *Sim, ep *endpoint) *byzantine {
	return &byzantine{s: s, ep: ep, rng: newRand(s.sc.Seed, "byzantine", ep.id),
		variant: make(map[graph.Hash]*packet), twins: make(map[graph.Hash][]byte)}
}

// active returns the behaviours in force now.
func (b *byzantine) active() []*scenario.Byzantine {
	var out []*scenario.Byzantine
	for _, i := range b.entries {
		e := &b.s.sc.Byzantine[i]
		if b.s.now >= int64(e.From) && (e.Until == 0 || b.s.now < int64(e.Until)) {
			out = append(out, e)
		}
	}
	return out
}

// ownEvent decodes pkt if it pushes one of this node's events.
func (b *byzantine) ownEvent(pkt *packet) *graph.Event {
	if pkt != b.ownPkt {
		b.ownPkt, b.own = pkt, nil
		if len(pkt.data) > 0 && node.Kind(pkt.data[0]) == node.KindEvent {
			if e, err := graph.Decode(pkt.data[1:], b.s.limits); err == nil && e.Creator == graph.MemberID(b.ep.node) {
				b.own = e
			}
		}
	}
	return b.own
}

func (b *byzantine) outgoing(to int, pkt *packet, broadcast bool) {
	s := b.s
	dst := s.eps[to]
	acts := b.active()
	for _, a := range acts {
		switch a.Behavior {
		case "mute":
			s.hit("byz:mute", 1)
			return
		case "withhold":
			if slices.Contains(a.Targets, dst.node) {
				s.hit("byz:withhold", 1)
				return
			}
		}
	}
	own := b.ownEvent(pkt)
	for _, a := range acts {
		switch a.Behavior {
		case "equivocate":
			if own != nil && b.secondVersionGoesTo(a, dst.node) {
				pkt = b.rewrite(own, "equivocate", b.twin)
				s.hit("byz:equivocate", 1)
			}
		case "invalid-signature":
			if p := b.corruptSignatures(pkt, own); p != pkt {
				pkt = p
				s.hit("byz:invalid-signature", 1)
			}
		case "bad-parents":
			if own != nil {
				pkt = b.rewrite(own, "bad-parents", b.badParents)
				s.hit("byz:bad-parents", 1)
			}
		case "run-ahead":
			if len(pkt.data) > 0 && node.Kind(pkt.data[0]) == node.KindBatch {
				return // and serves no fetch or sync: whoever believed it waits
			}
			if own != nil && broadcast && b.ranFrom != b.ownPkt {
				b.ranFrom = b.ownPkt
				b.runAhead(own)
				s.hit("byz:run-ahead", 1)
			}
		case "flood":
			if own != nil && broadcast && b.flooded != b.ownPkt {
				b.flooded = b.ownPkt
				b.flood(own, a)
				s.hit("byz:flood", 1)
			}
		case "replay":
			if own != nil && broadcast && b.flooded != b.ownPkt && len(b.replays) > 0 {
				b.flooded = b.ownPkt
				b.replay(a)
				s.hit("byz:replay", 1)
			}
		}
	}
	s.send(b.ep, to, pkt)
}

// secondVersionGoesTo says who gets the equivocating twin: the targets, or
// by default the odd-indexed nodes.
func (b *byzantine) secondVersionGoesTo(a *scenario.Byzantine, n int) bool {
	if len(a.Targets) > 0 {
		return slices.Contains(a.Targets, n)
	}
	return n%2 == 1
}

// rewrite returns the packet of a rewritten own event, made once per event
// and behaviour.
func (b *byzantine) rewrite(e *graph.Event, what string, f func(*graph.Event) *graph.Event) *packet {
	key := graph.TxHash([]byte(what + e.Hash().Hex()))
	if p, ok := b.variant[key]; ok {
		return p
	}
	if len(b.variant) > 1024 {
		clear(b.variant)
	}
	x := f(e)
	p := newPacket(node.EncodeEvent(x.Encode()))
	b.variant[key] = p
	return p
}

func (b *byzantine) sign(x *graph.Event) *graph.Event {
	x.TxRoot, _ = graph.BatchRoot(x.Txs)
	x.Sig = b.ep.signer.Sign(x.Hash())
	return x
}

func (b *byzantine) twin(e *graph.Event) *graph.Event {
	x := &graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: e.Parents,
		Txs: append(slices.Clone(e.Txs), []byte(fmt.Sprintf("equivocation/%d/%d", e.Creator, e.Round)))}
	b.sign(x)
	if len(b.twins) > 1024 {
		clear(b.twins)
	}
	b.twins[x.Hash()] = x.Encode()
	return x
}

// badParents names a parent that does not exist or lies about a parent's
// round, alternating by round, and signs the result.
func (b *byzantine) badParents(e *graph.Event) *graph.Event {
	parents := slices.Clone(e.Parents)
	for i := range parents {
		if parents[i].Creator == e.Creator {
			continue
		}
		if e.Round%2 == 0 {
			binary.BigEndian.PutUint64(parents[i].Hash[:], b.rng.Uint64())
		} else if parents[i].Round > 0 {
			parents[i].Round--
		}
		break
	}
	graph.SortParents(parents)
	return b.sign(&graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: parents, Txs: e.Txs})
}

// corruptSignatures flips a signature bit of every own event in an event
// or batch message.
func (b *byzantine) corruptSignatures(pkt *packet, own *graph.Event) *packet {
	corrupt := func(e *graph.Event) *graph.Event {
		x := &graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: e.Parents,
			TxRoot: e.TxRoot, Txs: e.Txs, Sig: e.Sig}
		x.Sig[0] ^= 1
		return x
	}
	if own != nil {
		return b.rewrite(own, "invalid-signature", corrupt)
	}
	m, err := node.DecodeMessage(pkt.data)
	if err != nil || m.Kind != node.KindBatch {
		return pkt
	}
	changed := false
	for i, enc := range m.Events {
		if e, err := graph.Decode(enc, b.s.limits); err == nil && e.Creator == graph.MemberID(b.ep.node) {
			m.Events[i] = corrupt(e).Encode()
			changed = true
		}
	}
	if !changed {
		return pkt
	}
	return newPacket(m.Encode())
}

// flood sends, besides the node's event, count more signed events for the
// same round and one oversized message to everyone.
func (b *byzantine) flood(e *graph.Event, a *scenario.Byzantine) {
	count := a.Count
	if count == 0 {
		count = 8
	}
	size := a.Size
	if size == 0 {
		size = 1 << 20
	}
	for k := range count {
		x := b.sign(&graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: e.Parents,
			Txs: [][]byte{[]byte(fmt.Sprintf("flood/%d/%d/%d", e.Creator, e.Round, k))}})
		b.broadcastDirect(newPacket(node.EncodeEvent(x.Encode())))
	}
	if b.junk == nil || len(b.junk.data) != size {
		junk := make([]byte, size)
		for i := 0; i+8 <= len(junk); i += 8 {
			binary.LittleEndian.PutUint64(junk[i:], b.rng.Uint64())
		}
		junk[0] = byte(node.KindEvent)
		b.junk = newPacket(junk)
	}
	b.broadcastDirect(b.junk)
}

// runAhead sends, with each own event, in turn: a signed event 4 to 11
// rounds ahead of it over parents nobody has (one for every member in the
// round below, its own among them, so that it is well formed and waits for
// its parents); a signed event of the next epoch over such parents; and an
// announcement (have) of an event two epochs on. An honest node far behind
// syncs, and one whose peers moved to the next epoch follows them; one
// that is not behind must neither stop signing nor have its peers send it
// rounds of events because one member says so.
func (b *byzantine) runAhead(e *graph.Event) {
	b.ran++
	invented := func(round uint64) []graph.EventRef {
		var parents []graph.EventRef
		for _, p := range e.Parents {
			r := graph.EventRef{Round: round, Creator: p.Creator}
			binary.BigEndian.PutUint64(r.Hash[:], b.rng.Uint64())
			binary.BigEndian.PutUint64(r.Hash[8:], b.rng.Uint64())
			parents = append(parents, r)
		}
		graph.SortParents(parents)
		return parents
	}
	epoch, round := e.Epoch, e.Round+4+uint64(b.rng.IntN(8))
	switch b.ran % 3 {
	case 1:
		epoch, round = e.Epoch+1, 1+uint64(b.rng.IntN(4))
	case 2:
		var h graph.Hash
		binary.BigEndian.PutUint64(h[:], b.rng.Uint64())
		b.broadcastDirect(newPacket(node.EncodeHave(node.Position{Epoch: e.Epoch + 2, Round: uint64(b.rng.IntN(8))}, h)))
		return
	}
	x := b.sign(&graph.Event{Epoch: epoch, Round: round, Creator: e.Creator, Time: e.Time, Parents: invented(round - 1),
		Txs: [][]byte{[]byte(fmt.Sprintf("run-ahead/%d/%d/%d", e.Creator, epoch, round))}})
	b.broadcastDirect(newPacket(node.EncodeEvent(x.Encode())))
}

// replay resends count old events this node received.
func (b *byzantine) replay(a *scenario.Byzantine) {
	count := a.Count
	if count == 0 {
		count = 4
	}
	for range min(count, len(b.replays)) {
		b.broadcastDirect(b.replays[b.rng.IntN(len(b.replays))])
	}
}

func (b *byzantine) broadcastDirect(pkt *packet) {
	for _, o := range b.s.eps {
		if o != b.ep {
			b.s.send(b.ep, o.id, pkt)
		}
	}
}

// incoming sees a message before the node does; it reports true when it
// consumed the message.
func (b *byzantine) incoming(from int, pkt *packet) bool {
	if len(pkt.data) == 0 {
		return false
	}
	switch node.Kind(pkt.data[0]) {
	case node.KindEvent:
		if len(b.replays) < replayRing {
			b.replays = append(b.replays, pkt)
		} else {
			b.replays[b.next] = pkt
			b.next = (b.next + 1) % replayRing
		}
		for _, a := range b.active() {
			if a.Behavior != "lazy" {
				continue
			}
			// A lazy node sees every leader late: it times out on the
			// leader and never votes for it.
			if e, err := graph.Decode(pkt.data[1:], b.s.limits); err == nil && b.s.committee.Leader(e.Round) == e.Creator {
				b.s.agenda.push(item{at: b.s.now + int64(b.s.sc.Consensus.LeaderTimeout) + 1e6, kind: itemProcess,
					to: int32(b.ep.id), from: int32(from), pkt: pkt, index: int32(b.ep.gen), direct: true})
				b.s.hit("byz:lazy", 1)
				return true
			}
		}
	case node.KindFetch:
		if len(b.twins) == 0 {
			return false
		}
		m, err := node.DecodeMessage(pkt.data)
		if err != nil {
			return false
		}
		var out [][]byte
		for _, h := range m.Hashes {
			if enc, ok := b.twins[h]; ok {
				out = append(out, enc)
			}
		}
		if len(out) > 0 {
			b.s.send(b.ep, from, newPacket(node.EncodeBatch(out)))
		}
	}
	return false
}

// toggleTwin starts a twin at its window's start and stops it at its end.
func (s *Sim) toggleTwin(tw *endpoint, entry int) {
	if tw.up {
		s.crash(tw)
		return
	}
	s.start(tw, false) // a twin signs at once (SignAtOnce): it is the attack, not an honest node that lost its store
	s.hit("byz:twin", 1)
	s.traceEvent("twin-start", tw.id)
	if u := int64(s.sc.Byzantine[entry].Until); u > 0 {
		s.agenda.push(item{at: u, kind: itemTwin, to: int32(tw.id), index: int32(entry)})
	}
}
