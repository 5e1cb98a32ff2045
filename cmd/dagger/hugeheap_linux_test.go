package main

import (
	"os"
	"os/exec"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vmaOf returns the /proc/self/smaps entry of the mapping that holds
// address a: its header line and its fields, such as "AnonHugePages" (in
// KiB) and "VmFlags".
func vmaOf(t *testing.T, a uintptr) map[string]string {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	var cur map[string]string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				if cur != nil {
					return cur
				}
				if uint64(a) >= l && uint64(a) < h {
					cur = map[string]string{"range": f[0]}
				}
				continue
			}
		}
		if cur != nil && strings.HasSuffix(f[0], ":") {
			cur[strings.TrimSuffix(f[0], ":")] = strings.Join(f[1:], " ")
		}
	}
	if cur == nil {
		t.Fatalf("no mapping holds %#x", a)
	}
	return cur
}

var hugeSink []byte

// In a fresh process, as a simulation command starts, adviseHugeHeapNow
// makes the heap's next allocations land in memory advised for huge pages,
// and the kernel backs them with huge pages. The advised block must be
// collected at once: counted live, it would double the heap's next goal and
// the run would grow the heap past it, in small pages.
func TestAdviseHugeHeapBacksTheNextAllocationsWithHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("this kernel grants no transparent huge pages (%q, %v)", mode, err)
	}
	if os.Getenv("DAGGER_HUGEHEAP_CHILD") == "" {
		// The check needs a heap that earlier tests have not used.
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Env = append(os.Environ(), "DAGGER_HUGEHEAP_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a fresh process: %v\n%s", err, out)
		}
		return
	}
	adviseHugeHeapNow(64 << 20)
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	if metrics.Read(goal); goal[0].Value.Uint64() >= 32<<20 {
		t.Fatalf("heap goal %d bytes after advising a 64 MiB block: the block was counted live", goal[0].Value.Uint64())
	}
	hugeSink = make([]byte, 32<<20)
	for i := range hugeSink {
		hugeSink[i] = 1
	}
	// The block's advice starts at its first 2 MiB boundary; look in the
	// middle of what was written.
	vma := vmaOf(t, uintptr(unsafe.Pointer(&hugeSink[len(hugeSink)/2])))
	if !strings.Contains(" "+vma["VmFlags"]+" ", " hg ") {
		t.Fatalf("the allocation after adviseHugeHeapNow is in %s, not advised for huge pages (VmFlags %q)", vma["range"], vma["VmFlags"])
	}
	// 8 MiB of the 32 written leaves room for blocks the kernel could not
	// find whole.
	kib, _ := strconv.Atoi(strings.TrimSuffix(vma["AnonHugePages"], " kB"))
	if kib < 8<<10 {
		t.Fatalf("%s: %d KiB in huge pages after writing 32 MiB, want at least 8 MiB", vma["range"], kib)
	}
}
