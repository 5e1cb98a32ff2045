//go:build !linux || !cgo

package store

// limitMallocArenas does nothing where pebble does not allocate with
// glibc's malloc.
func limitMallocArenas() {}
