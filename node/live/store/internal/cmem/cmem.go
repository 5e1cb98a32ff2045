//go:build linux && cgo

// Package cmem lets the store's tests allocate with C's allocator and read
// what it holds, which test files cannot do themselves (they cannot use
// cgo).
package cmem

/*
#include <malloc.h>
#include <stdlib.h>
*/
import "C"

import "unsafe"

// Held returns the bytes glibc's malloc holds in its arenas (the main one
// and the others), not counting blocks it mapped on their own.
func Held() uint64 { return uint64(C.mallinfo2().arena) }

// AllocFree allocates n blocks of size bytes with calloc, touches them, and
// frees them all, as pebble fills and evicts its cache.
func AllocFree(size, n int) {
	ps := make([]unsafe.Pointer, n)
	for i := range ps {
		ps[i] = C.calloc(C.size_t(size), 1)
		b := unsafe.Slice((*byte)(ps[i]), size)
		for j := 0; j < size; j += 4096 {
			b[j] = 1
		}
	}
	for _, p := range ps {
		C.free(p)
	}
}
