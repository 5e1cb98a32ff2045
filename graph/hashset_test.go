package graph

import (
	"math/rand/v2"
	"testing"
)

// TestHashSetAgreesWithAMap drives the replay window's set and a map with
// the same random adds and deletes, from a pool small enough that hashes
// come back, the zero hash among them, through growth and long runs of
// occupied slots, and compares membership of the whole pool as it goes.
func TestHashSetAgreesWithAMap(t *testing.T) {
	for _, poolSize := range []int{3, 40, 700, 5000} {
		rng := rand.New(rand.NewPCG(uint64(poolSize), 1))
		pool := make([]Hash, poolSize)
		for i := 1; i < len(pool); i++ { // pool[0] stays the zero hash
			for j := range pool[i] {
				pool[i][j] = byte(rng.Uint32())
			}
		}
		s := newHashSet(0)
		model := make(map[Hash]bool)
		for step := range 40_000 {
			h := pool[rng.IntN(len(pool))]
			// Lean towards adding until the set holds most of the pool,
			// so the table grows and fills to its limit.
			if rng.IntN(3) > 0 {
				if added := s.add(h); added == model[h] {
					t.Fatalf("pool %d step %d: add(%s) reported %v with the hash held: %v", poolSize, step, h, added, model[h])
				}
				model[h] = true
			} else {
				s.del(h)
				delete(model, h)
			}
			if s.len() != len(model) {
				t.Fatalf("pool %d step %d: len %d, want %d", poolSize, step, s.len(), len(model))
			}
			if step%97 == 0 {
				for _, p := range pool {
					if s.has(p) != model[p] {
						t.Fatalf("pool %d step %d: has(%s) = %v, want %v", poolSize, step, p, s.has(p), model[p])
					}
				}
			}
		}
		if 2*s.len() > len(s.slots) {
			t.Fatalf("pool %d: %d hashes in %d slots", poolSize, s.len(), len(s.slots))
		}
	}
}

// TestHashSetKeepsRunsWhole fills a small table so that every hash shares
// a run with others, then deletes them one by one in a random order:
// every hash not yet deleted must still be found, wherever the deletions
// moved it.
func TestHashSetKeepsRunsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		s := newHashSet(0)
		hs := make([]Hash, len(s.slots)/2)
		for i := range hs {
			hs[i][0], hs[i][1], hs[i][2] = byte(round), byte(i), byte(i>>8)
			hs[i][31] = 1
			if !s.add(hs[i]) {
				t.Fatalf("add of a new hash reported it held")
			}
		}
		rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
		for i, h := range hs {
			s.del(h)
			if s.has(h) {
				t.Fatalf("round %d: %s found after its delete", round, h)
			}
			for _, rest := range hs[i+1:] {
				if !s.has(rest) {
					t.Fatalf("round %d: %s lost after deleting %d others", round, rest, i+1)
				}
			}
		}
		if s.len() != 0 {
			t.Fatalf("round %d: %d left", round, s.len())
		}
	}
}

func BenchmarkReplayWindowSet(b *testing.B) {
	const window = 3000
	hs := make([]Hash, 1<<16)
	for i := range hs {
		hs[i] = TxHash([]byte{byte(i), byte(i >> 8), 1})
	}
	s := newHashSet(0)
	for i := 0; b.Loop(); i++ {
		s.add(hs[i%len(hs)])
		if i >= window {
			s.del(hs[(i-window)%len(hs)])
		}
	}
}

// BenchmarkReplayWindowMap is the same churn on a map of hashes, the
// structure hashSet replaced: compare the two in one run.
func BenchmarkReplayWindowMap(b *testing.B) {
	const window = 3000
	hs := make([]Hash, 1<<16)
	for i := range hs {
		hs[i] = TxHash([]byte{byte(i), byte(i >> 8), 1})
	}
	s := map[Hash]struct{}{}
	for i := 0; b.Loop(); i++ {
		if _, ok := s[hs[i%len(hs)]]; !ok {
			s[hs[i%len(hs)]] = struct{}{}
		}
		if i >= window {
			delete(s, hs[(i-window)%len(hs)])
		}
	}
}

// A released table comes back empty to the next set of its size, and the
// released set refuses to be used.
func TestHashSetReleaseReusesAnEmptyTable(t *testing.T) {
	var hs []Hash
	for i := range 100 {
		hs = append(hs, TxHash([]byte{byte(i), 2}))
	}
	// full is a set of a fresh table of size slots holding hs, whatever
	// other tests left in the pool.
	const size = 256
	full := func() hashSet {
		s := hashSet{mul: 0x9e3779b97f4a7c15, slots: make([]setSlot, size), shift: 64 - 8}
		for _, h := range hs {
			s.add(h)
		}
		if len(s.slots) != size {
			t.Fatalf("100 hashes grew a table of %d slots", size)
		}
		return s
	}
	// reused releases a full set and takes a set for hint until that gets a
	// released table: a sync.Pool keeps what is put on the processor that
	// put it, and drops it at a collection, so one try may miss.
	reused := func(hint int) hashSet {
		for range 100 {
			old := full()
			old.release()
			if s := newHashSet(hint); len(s.slots) == size {
				return s
			}
		}
		t.Fatalf("a set for %d never got a released table of %d slots in 100 tries", hint, size)
		return hashSet{}
	}
	s := reused(100)
	if s.len() != 0 {
		t.Fatalf("new set: %d held; want 0", s.len())
	}
	for _, h := range hs {
		if s.has(h) {
			t.Fatalf("a reused table still holds %s", h)
		}
	}
	for _, h := range hs {
		if !s.add(h) {
			t.Fatalf("add of %s into a reused table reported it held", h)
		}
	}
	// A table twice the size a set asks for serves it, at its own size.
	half := reused(50)
	if half.len() != 0 {
		t.Fatalf("a set for half as many: %d held; want 0", half.len())
	}
	for i, h := range hs {
		if !half.add(h) || !half.has(h) || half.len() != i+1 {
			t.Fatalf("add %d of %s into a larger reused table", i, h)
		}
	}
	old := full()
	old.release()
	defer func() {
		if recover() == nil {
			t.Fatal("a released set took an add")
		}
	}()
	old.add(hs[0])
}
