package provision_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"dagger/provision"
)

// A controller defines and starts a VM, then polls its state on later
// ticks of its loop instead of waiting for the boot.
func ExampleSim() {
	var now int64 // the runtime's virtual clock
	hv, err := provision.NewSim(provision.SimConfig{
		Capacity: provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100},
		BootTime: 30 * time.Second,
		Now:      func() int64 { return now },
	})
	if err != nil {
		panic(err)
	}
	var p provision.Host = hv

	spec := provision.Spec{ID: "3f2a", VCPU: 2, MemoryMiB: 4096, DiskGiB: 40, Image: "debian-12"}
	if err := p.Define(spec); err != nil {
		panic(err)
	}
	if err := p.Start(spec.ID); err != nil {
		panic(err)
	}
	for range 3 {
		d, _ := hv.State(spec.ID)
		fmt.Printf("t=%ds %s\n", now/int64(time.Second), d.State)
		now += int64(15 * time.Second)
	}

	_, free, _ := p.Capacity()
	fmt.Println("free:", free)
	err = p.Define(provision.Spec{ID: "77c1", VCPU: 4, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12"})
	fmt.Println("too big:", errors.Is(err, provision.ErrCapacity))

	if err := p.Destroy(spec.ID); err != nil {
		panic(err)
	}
	_, free, _ = p.Capacity()
	fmt.Println("free:", free)
	// Output:
	// t=0s booting
	// t=15s booting
	// t=30s running
	// free: 2 vCPU, 4096 MiB memory, 60 GiB disk
	// too big: true
	// free: 4 vCPU, 8192 MiB memory, 100 GiB disk
}

// The simulator injects faults: a boot that fails, a host that dies.
// Random boot failures (BootFailure) draw from the runtime's seeded
// source, so a seed replays them.
func ExampleSim_FailNextBoots() {
	var now int64
	hv, err := provision.NewSim(provision.SimConfig{
		Capacity:    provision.Capacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100},
		BootTime:    time.Second,
		Now:         func() int64 { return now },
		Rand:        rand.New(rand.NewPCG(1, 1)),
		BootFailure: 0.01,
	})
	if err != nil {
		panic(err)
	}
	hv.FailNextBoots(1)
	spec := provision.Spec{ID: "3f2a", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12"}
	_ = hv.Define(spec)
	_ = hv.Start(spec.ID)
	now += int64(time.Second)
	d, _ := hv.State(spec.ID)
	fmt.Println(d.State, "-", d.Reason)

	hv.Kill()
	_, err = hv.List()
	fmt.Println(errors.Is(err, provision.ErrHostDown))
	hv.Revive()
	doms, _ := hv.List()
	fmt.Println(len(doms), "domains after revive")
	// Output:
	// failed - boot failed (simulated)
	// true
	// 0 domains after revive
}
