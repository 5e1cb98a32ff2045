package sim

import (
	"testing"

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
