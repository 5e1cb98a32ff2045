package main

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugeHeap asks the kernel to back the next n bytes of the Go heap
// with transparent huge pages. Go's runtime does not ask for them, and a
// kernel set to grant them only to memory that asks ("madvise", Debian's
// default) otherwise faults a simulation's heap in 4 KiB at a time: a
// cold quick start spent a third of its wall time on page faults and TLB
// misses. A block of n bytes is allocated and advised, then dropped and
// collected at once (were the collector to count it live, the heap's next
// goal would be twice its size, and the run would grow the heap past it
// in small pages). The heap's later allocations reuse its pages from the
// lowest address up, so a run touches only what it uses, in 2 MiB steps.
// Where the kernel grants no huge pages, or GODEBUG=disablethp=1 asks the
// runtime to refuse them, the heap keeps small pages. Only a process's
// first call does anything.
func adviseHugeHeap(n int) {
	hugeHeapOnce.Do(func() {
		if !strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
			adviseHugeHeapNow(n)
		}
	})
}

var hugeHeapOnce sync.Once

func adviseHugeHeapNow(n int) {
	adviseBlock(n)
	runtime.GC()
}

// adviseBlock allocates n bytes of heap and advises huge pages for them;
// nothing refers to the block once it returns.
//
//go:noinline
func adviseBlock(n int) {
	const huge = 2 << 20
	b := make([]byte, n)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	beg := (p + huge - 1) &^ (huge - 1)
	end := (p + uintptr(n)) &^ (huge - 1)
	if beg < end {
		// An error (EINVAL where the kernel has no THP) leaves the heap as
		// it was: correct, only slower.
		_ = unix.Madvise(b[beg-p:end-p], unix.MADV_HUGEPAGE)
	}
}
