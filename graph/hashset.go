package graph

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
)

// hashSet is the replay window's set of transaction hashes: open
// addressing with linear probing, the hashes stored in the slots
// themselves, and deletion by shifting the rest of a run back (no
// tombstones). The window changes on every commit, a batch of adds and a
// batch of deletes, and a lookup then touches one slot's cache line where
// a map of 32-byte keys touches a control word and a slot, and leaves
// tombstones that make it copy itself over and over.
//
// A hash's first slot comes from its first 8 bytes (a SHA-256 output,
// uniform unless ground) by multiply-shift hashing with an odd multiplier
// drawn for the set, as Go's maps draw their seeds: transactions ground to
// share a run of slots would need the multiplier, and ones ground to share
// their first 8 bytes cost 2^32 hashes a pair. Only membership is ever
// read, never an order, so the draw reaches no output. The zero hash,
// which marks an empty slot, is kept apart.
type hashSet struct {
	slots   []setSlot
	n       int // hashes held, the zero hash included
	mul     uint64
	shift   uint8
	hasZero bool
}

// setSlot is a hash as four words, compared without a call.
type setSlot [4]uint64

func slotOf(h *Hash) setSlot {
	return setSlot{binary.LittleEndian.Uint64(h[0:]), binary.LittleEndian.Uint64(h[8:]),
		binary.LittleEndian.Uint64(h[16:]), binary.LittleEndian.Uint64(h[24:])}
}

func (s *setSlot) empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }

// minSetSlots is the smallest table; it doubles when half full.
const minSetSlots = 64

func newHashSet(hint int) hashSet {
	s := hashSet{mul: maphash.Comparable(maphash.MakeSeed(), uint64(0)) | 1}
	s.alloc(max(minSetSlots, 1<<bits.Len(uint(2*hint))))
	return s
}

func (s *hashSet) alloc(size int) {
	s.slots = takeTable(size)
	s.shift = uint8(64 - bits.TrailingZeros(uint(len(s.slots))))
}

// tables holds emptied tables for reuse, by the log2 of their size: a
// graph's table is sized for the window it starts with and each epoch
// starts a graph, so fresh tables were a steady stream of memory the
// process touched for the first time (in the simulator, a page fault per
// 128 slots).
var tables [40]sync.Pool

func takeTable(size int) []setSlot {
	// A table twice the size serves as well: an epoch's window is about
	// the size of the last one's, whose table may have grown once more.
	c := bits.TrailingZeros(uint(size))
	for _, c := range []int{c, c + 1} {
		if c < len(tables) {
			if t, ok := tables[c].Get().(*[]setSlot); ok {
				clear(*t)
				return *t
			}
		}
	}
	return make([]setSlot, size)
}

func (s *hashSet) check() {
	if s.slots == nil {
		panic("graph: replay window used after Release")
	}
}

// release gives the set's table back for reuse; the set is empty after.
func (s *hashSet) release() {
	if t := s.slots; len(t) > 0 {
		tables[bits.TrailingZeros(uint(len(t)))].Put(&t)
	}
	*s = hashSet{}
}

// home is a hash's first slot.
func (s *hashSet) home(k *setSlot) int { return int(k[0] * s.mul >> s.shift) }

func (s *hashSet) len() int { return s.n }

// has reports whether h is in the set.
func (s *hashSet) has(h Hash) bool {
	s.check()
	k := slotOf(&h)
	if k.empty() {
		return s.hasZero
	}
	mask := len(s.slots) - 1
	for i := s.home(&k); ; i = (i + 1) & mask {
		if s.slots[i] == k {
			return true
		}
		if s.slots[i].empty() {
			return false
		}
	}
}

// add puts h in the set and reports whether it was absent.
func (s *hashSet) add(h Hash) bool {
	s.check()
	k := slotOf(&h)
	if k.empty() {
		if s.hasZero {
			return false
		}
		s.hasZero, s.n = true, s.n+1
		return true
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	i := s.home(&k)
	for ; !s.slots[i].empty(); i = (i + 1) & mask {
		if s.slots[i] == k {
			return false
		}
	}
	s.slots[i] = k
	s.n++
	return true
}

// del removes h, if the set holds it.
func (s *hashSet) del(h Hash) {
	s.check()
	k := slotOf(&h)
	if k.empty() {
		if s.hasZero {
			s.hasZero, s.n = false, s.n-1
		}
		return
	}
	mask := len(s.slots) - 1
	i := s.home(&k)
	for ; s.slots[i] != k; i = (i + 1) & mask {
		if s.slots[i].empty() {
			return
		}
	}
	s.n--
	// Close the gap: a later hash of the run moves into it unless its home
	// lies cyclically in (gap, its slot], where it is found without
	// crossing the gap.
	for j := i; ; {
		j = (j + 1) & mask
		if s.slots[j].empty() {
			break
		}
		if home := s.home(&s.slots[j]); (j-home)&mask < (j-i)&mask {
			continue
		}
		s.slots[i] = s.slots[j]
		i = j
	}
	s.slots[i] = setSlot{}
}

func (s *hashSet) grow() {
	old := s.slots
	defer tables[bits.TrailingZeros(uint(len(old)))].Put(&old)
	s.alloc(2 * len(old))
	mask := len(s.slots) - 1
	for j := range old {
		if old[j].empty() {
			continue
		}
		i := s.home(&old[j])
		for !s.slots[i].empty() {
			i = (i + 1) & mask
		}
		s.slots[i] = old[j]
	}
}
