//go:build !linux

package main

// adviseHugeHeap is Linux's; elsewhere the heap keeps the platform's pages.
func adviseHugeHeap(int) {}
