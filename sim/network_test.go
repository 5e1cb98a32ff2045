package sim

import (
	"testing"
	"time"

	"dagger/sim/scenario"
)

// Partitions decide per endpoint: a node and its twins are apart only where
// a partition lists them apart; isolation and one-way blocks name nodes and
// hold for both instances.
func TestPartitionsSeparateTwinsOnlyWhereListed(t *testing.T) {
	nw := newNetwork(&scenario.Scenario{Nodes: 4, Weights: []uint64{1, 1, 1, 1}})
	node := func(i int) int { return nw.slot(i, false) }
	twin := func(i int) int { return nw.slot(i, true) }
	type link struct {
		name     string
		from, to int
		blocked  bool
	}
	expect := func(what string, links []link) {
		t.Helper()
		for _, l := range links {
			if got := nw.blocked(l.from, l.to); got != l.blocked {
				t.Errorf("%s: %s blocked = %v, want %v", what, l.name, got, l.blocked)
			}
			if got := nw.blocked(l.to, l.from); got != l.blocked {
				t.Errorf("%s: %s (reverse) blocked = %v, want %v", what, l.name, got, l.blocked)
			}
		}
	}
	ep := func(n int, tw bool) scenario.Endpoint { return scenario.Endpoint{Node: n, Twin: tw} }

	expect("no fault", []link{{"0-twin0", node(0), twin(0), false}, {"twin0-3", twin(0), node(3), false}})

	// Not listed, the twin follows its node; node 3 is in the group of
	// the unlisted.
	nw.partition([][]scenario.Endpoint{{ep(0, false), ep(1, false)}, {ep(2, false)}})
	expect("twins not listed", []link{
		{"0-1", node(0), node(1), false}, {"twin0-1", twin(0), node(1), false}, {"0-twin0", node(0), twin(0), false},
		{"twin0-2", twin(0), node(2), true}, {"0-3", node(0), node(3), true}, {"2-3", node(2), node(3), true},
	})

	// The classic Twins split: each instance of 0 and 1 on one side.
	nw.partition([][]scenario.Endpoint{{ep(0, false), ep(1, false), ep(2, false)}, {ep(0, true), ep(1, true), ep(3, false)}})
	expect("twins apart", []link{
		{"0-2", node(0), node(2), false}, {"twin0-3", twin(0), node(3), false}, {"twin0-twin1", twin(0), twin(1), false},
		{"0-twin0", node(0), twin(0), true}, {"0-3", node(0), node(3), true}, {"twin0-2", twin(0), node(2), true},
		{"2-3", node(2), node(3), true}, {"1-twin0", node(1), twin(0), true},
	})

	// A Byzantine node in two groups reaches both; the groups do not
	// reach each other.
	nw.partition([][]scenario.Endpoint{{ep(0, false), ep(1, false)}, {ep(0, false), ep(2, false)}, {ep(3, false), ep(0, true)}})
	expect("node in two groups", []link{
		{"0-1", node(0), node(1), false}, {"0-2", node(0), node(2), false}, {"1-2", node(1), node(2), true},
		{"0-3", node(0), node(3), true}, {"twin0-3", twin(0), node(3), false}, {"0-twin0", node(0), twin(0), true},
	})

	// Isolation names a node: both instances are cut off from the others,
	// not from each other.
	nw.heal()
	nw.isolated[0] = true
	expect("isolated", []link{{"0-1", node(0), node(1), true}, {"twin0-1", twin(0), node(1), true}, {"0-twin0", node(0), twin(0), false}})
	nw.heal()
	expect("healed", []link{{"0-1", node(0), node(1), false}, {"twin0-3", twin(0), node(3), false}, {"2-3", node(2), node(3), false}})
}

// An uplink under a bandwidth limit keeps a queue per peer, as the live
// transport does, and serves the peers in turn: a large message to one peer
// does not hold back a small one to another, and each peer's backlog is its
// own. In one peer's queue, a bulk message waits behind the others, queued
// before or after it, once the message being sent has left.
func TestUplinkServesPeersInTurnAndBulkLast(t *testing.T) {
	const doc = "name: t\nduration: 10s\nnodes: 4\ncrypto: fast\n" +
		"network: {bandwidth: 8Mbps, latency: {dist: constant, value: 10ms}}\n"
	s := newTestSim(t, doc)
	ep := s.eps[0]
	msg := func(tag byte, size int) *packet {
		b := make([]byte, size)
		b[0] = tag
		return newPacket(b)
	}
	// 8 Mbit/s: 1 MB takes 1 s, 1 KB 1 ms.
	s.sendClass(ep, 1, msg('A', 1_000_000), false) // a large message to peer 1
	s.sendClass(ep, 1, msg('S', 1_000_000), true)  // a bulk one behind it
	s.sendClass(ep, 1, msg('B', 1000), false)      // queued after the bulk one, sent before it
	s.sendClass(ep, 2, msg('C', 1000), false)      // to another peer
	if w := (*simTransport)(ep).Backlog(1); w != 0 {
		t.Fatalf("least backlogged peer waits %v, want 0 (peer 3 has nothing queued)", w)
	}
	arrived := map[byte]int64{}
	checked := false
	for s.agenda.len() > 0 {
		it := s.agenda.pop()
		s.now = it.at
		switch it.kind {
		case itemDeliver:
			arrived[it.pkt.data[0]] = it.at
		case itemLink:
			s.linkSent(s.eps[it.to])
		}
		if !checked && s.now >= int64(500e6) {
			checked = true
			if w := (*simTransport)(ep).Backlog(3); w < 500*time.Millisecond || w > 600*time.Millisecond {
				t.Fatalf("most backlogged peer waits %v half a second in, want the large message's wait", w)
			}
			if w := (*simTransport)(ep).Backlog(1); w != 0 {
				t.Fatalf("least backlogged peer waits %v half a second in, want 0", w)
			}
		}
	}
	if !checked {
		t.Fatal("the run ended before half a second")
	}
	ms := func(c byte) float64 { return float64(arrived[c]) / 1e6 }
	if len(arrived) != 4 {
		t.Fatalf("arrived %v, want 4 messages", arrived)
	}
	if ms('C') > 50 {
		t.Fatalf("the small message to peer 2 arrived after %.1f ms, behind the large one to peer 1", ms('C'))
	}
	if !(ms('A') < ms('B') && ms('B') < ms('S')) {
		t.Fatalf("peer 1 got A at %.1f ms, B at %.1f, the bulk S at %.1f: want A, B, S", ms('A'), ms('B'), ms('S'))
	}
	// The link is never idle while something waits: 2,002,000 bytes leave
	// in about 2 s.
	if last := ms('S'); last < 2000 || last > 2030 {
		t.Fatalf("the last message arrived at %.1f ms, want about 2012", last)
	}
}
