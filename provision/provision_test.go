package provision_test

import (
	"math"
	"testing"

	"dagger/provision"
)

func TestCapacityFits(t *testing.T) {
	host := provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}
	for _, tc := range []struct {
		name string
		spec provision.Spec
		want bool
	}{
		{"smaller", provision.Spec{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}, true},
		{"exactly the host", provision.Spec{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}, true},
		{"one vCPU too many", provision.Spec{VCPU: 5, MemoryMiB: 1, DiskGiB: 1}, false},
		{"one MiB too many", provision.Spec{VCPU: 1, MemoryMiB: 8193, DiskGiB: 1}, false},
		{"one GiB too many", provision.Spec{VCPU: 1, MemoryMiB: 1, DiskGiB: 101}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := host.Fits(tc.spec); got != tc.want {
				t.Fatalf("%v fits %v: %v, want %v", host, provision.SpecCapacity(tc.spec), got, tc.want)
			}
		})
	}
}

func TestCapacitySubAddRoundTrip(t *testing.T) {
	host := provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}
	s := provision.Spec{VCPU: 3, MemoryMiB: 2048, DiskGiB: 100}
	left := host.Sub(s)
	if want := (provision.Capacity{VCPU: 1, MemoryMiB: 6144, DiskGiB: 0}); left != want {
		t.Fatalf("Sub: %v, want %v", left, want)
	}
	if back := left.Add(s); back != host {
		t.Fatalf("Add after Sub: %v, want %v", back, host)
	}
	if got := provision.SpecCapacity(s); got != (provision.Capacity{VCPU: 3, MemoryMiB: 2048, DiskGiB: 100}) {
		t.Fatalf("SpecCapacity: %v", got)
	}
}

// A capacity that wrapped around would admit every VM, so misuse panics.
func TestCapacityMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Sub of what does not fit", func() {
			provision.Capacity{VCPU: 1, MemoryMiB: 1, DiskGiB: 1}.Sub(provision.Spec{VCPU: 1, MemoryMiB: 2, DiskGiB: 1})
		}},
		{"Add that overflows memory", func() {
			provision.Capacity{MemoryMiB: math.MaxUint64}.Add(provision.Spec{MemoryMiB: 1})
		}},
		{"Add that overflows vCPU", func() {
			provision.Capacity{VCPU: math.MaxUint32}.Add(provision.Spec{VCPU: 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestStateString(t *testing.T) {
	for _, tc := range []struct {
		s    provision.State
		want string
	}{
		{provision.StateDefined, "defined"},
		{provision.StateBooting, "booting"},
		{provision.StateRunning, "running"},
		{provision.StateCrashed, "crashed"},
		{provision.StateFailed, "failed"},
		{0, "State(0)"},
		{provision.StateFailed + 1, "State(6)"},
		{-1, "State(-1)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tc.s), got, tc.want)
		}
	}
}

func TestCapacityString(t *testing.T) {
	got := provision.Capacity{VCPU: 2, MemoryMiB: 4096, DiskGiB: 40}.String()
	if want := "2 vCPU, 4096 MiB memory, 40 GiB disk"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
