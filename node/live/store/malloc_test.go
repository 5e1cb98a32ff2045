//go:build linux && cgo

package store

import (
	"testing"

	"dagger/node/live/store/internal/cmem"
)

// TestLargeCAllocationsGoBackToTheSystem: after a store is opened, large C
// allocations freed do not stay in malloc's arenas, even after the blocks
// of pebble's first memtables have come and gone (which, with glibc's
// adjusting thresholds, raise the mmap threshold to the largest of them
// up to 32 MiB, send every later block below it to the arenas and let each
// keep a free top of up to twice that).
func TestLargeCAllocationsGoBackToTheSystem(t *testing.T) {
	d := open(t, t.TempDir(), Pebble)
	defer d.Close()
	cmem.AllocFree(16<<20, 1) // a memtable of the ramp, freed
	before := cmem.Held()
	cmem.AllocFree(2<<20, 8) // cache fills of a 2 MiB record, evicted
	after := cmem.Held()
	if grown := int64(after) - int64(before); grown > mallocTrimThreshold {
		t.Fatalf("malloc's arenas hold %d bytes more after 16 MiB of 2 MiB blocks were freed; want at most %d", grown, mallocTrimThreshold)
	}
}
