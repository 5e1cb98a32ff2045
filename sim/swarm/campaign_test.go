package swarm_test

import (
	"slices"
	"testing"

	"dagger/sim/swarm"
)

func seedsOf(s swarm.Seeds, limit int) []uint64 {
	var out []uint64
	for seed, ok := s.Next(0); ok && len(out) < limit; seed, ok = s.Next(seed) {
		out = append(out, seed)
	}
	return out
}

// TestShardsCoverTheSeedsOfOneRunExactly: N shards of a range run every
// seed of it once, and Count says how many each runs.
func TestShardsCoverTheSeedsOfOneRunExactly(t *testing.T) {
	for _, r := range []struct{ from, to uint64 }{{1, 1}, {1, 100}, {7, 23}, {5, 5}} {
		all := seedsOf(swarm.Seeds{From: r.from, To: r.to}, 1000)
		if uint64(len(all)) != r.to-r.from+1 || all[0] != r.from || all[len(all)-1] != r.to {
			t.Fatalf("%d-%d unsharded: %v", r.from, r.to, all)
		}
		for _, n := range []uint64{1, 2, 3, 8, 150} {
			var union []uint64
			for i := range n {
				s := swarm.Seeds{From: r.from, To: r.to, Shard: i, Shards: n}
				got := seedsOf(s, 1000)
				if uint64(len(got)) != s.Count() {
					t.Fatalf("%d-%d shard %d/%d: %d seeds, Count says %d", r.from, r.to, i, n, len(got), s.Count())
				}
				union = append(union, got...)
			}
			slices.Sort(union)
			if !slices.Equal(union, all) {
				t.Fatalf("%d-%d in %d shards: %v, want %v", r.from, r.to, n, union, all)
			}
		}
	}
	// An endless range (a timed campaign) is split the same way.
	a := seedsOf(swarm.Seeds{From: 1, Shard: 0, Shards: 3}, 4)
	b := seedsOf(swarm.Seeds{From: 1, Shard: 2, Shards: 3}, 4)
	if !slices.Equal(a, []uint64{1, 4, 7, 10}) || !slices.Equal(b, []uint64{3, 6, 9, 12}) {
		t.Fatalf("endless shards: %v %v", a, b)
	}
}
