//go:build !linux || !cgo

package store

// pinMallocThresholds does nothing where pebble does not allocate with
// glibc's malloc.
func pinMallocThresholds() {}
