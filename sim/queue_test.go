package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// The agenda pops items by time, and items of one time in the order they
// were pushed, however pushes and pops interleave.
func TestAgendaPopsByTimeThenPushOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a agenda
	type want struct {
		at  int64
		seq int32 // pushed as item.index
	}
	var ref []want
	pushed, now := int32(0), int64(0)
	for step := range 20000 {
		if r.IntN(3) != 0 || len(ref) == 0 {
			at := now + r.Int64N(50) // few distinct times: many ties
			a.push(item{at: at, index: pushed})
			ref = append(ref, want{at, pushed})
			pushed++
			continue
		}
		slices.SortStableFunc(ref, func(x, y want) int { return cmp.Compare(x.at, y.at) })
		if a.len() != len(ref) || a.peekAt() != ref[0].at {
			t.Fatalf("step %d: %d items, next at %d; want %d, at %d", step, a.len(), a.peekAt(), len(ref), ref[0].at)
		}
		it := a.pop()
		if it.at != ref[0].at || it.index != ref[0].seq {
			t.Fatalf("step %d: popped (%d, #%d), want (%d, #%d)", step, it.at, it.index, ref[0].at, ref[0].seq)
		}
		now = it.at
		ref = ref[1:]
	}
}
