//go:build linux && cgo

package store

/*
#include <malloc.h>
*/
import "C"

import "sync"

// Pebble allocates its memtables and block cache with C's calloc. Glibc
// raises its mmap threshold to the size of each mapped block freed (up to
// 32 MiB) and its trim threshold to twice that, so once pebble's first
// memtables (grown from 256 KiB to 64 MiB) had been freed, every later
// block below 16 MiB came from malloc's arenas, and an arena kept a free
// top of up to 32 MiB resident. A node at 25,000 tx/s allocated 16 blocks
// of 0.5 MiB or more in 30 s, most about 2 MiB (the snapshot record, read
// into the cache); malloc_stats then showed 46 MiB held in 8 arenas, of
// which 0.3 MiB in use, and the arenas (up to eight per core) grew with
// the hour: 13 to 57 MiB (docs/bench/soak).
//
// Fixed thresholds turn the adjustment off: blocks from mallocMmapThreshold
// up are mapped and unmapped on their own, and an arena gives back a free
// top larger than mallocTrimThreshold.
const (
	mallocMmapThreshold = 512 << 10
	mallocTrimThreshold = 1 << 20
)

var pinMalloc sync.Once

// pinMallocThresholds sets glibc's thresholds, once per process, before
// pebble allocates.
func pinMallocThresholds() {
	pinMalloc.Do(func() {
		C.mallopt(C.M_MMAP_THRESHOLD, mallocMmapThreshold)
		C.mallopt(C.M_TRIM_THRESHOLD, mallocTrimThreshold)
	})
}
