package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"dagger/node/live"
	"dagger/node/payment"
)

func runGenesis(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genesis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	treasury := fs.String("treasury", "", "the Solana address VM payments go to (base58)")
	out := fs.String("out", "genesis.json", "where to write the genesis file (never overwritten)")
	epoch := fs.Duration("epoch-length", 30*time.Second, "consensus time between epoch boundaries")
	status := fs.Duration("status-timeout", 30*time.Second, "a VM whose host reports nothing for this long is moved")
	vcpu := fs.Uint64("price-vcpu-hour", live.DefaultVCPUHour, "lamports per vCPU-hour")
	mem := fs.Uint64("price-memory-gib-hour", live.DefaultMemoryGiBHour, "lamports per GiB-hour of memory")
	disk := fs.Uint64("price-disk-gib-hour", live.DefaultDiskGiBHour, "lamports per GiB-hour of disk")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger genesis --treasury ADDR [--out FILE] [flags] MEMBER.json...")
		fmt.Fprintln(stderr, "Assembles the cluster's genesis file from the founding operators' member.json files")
		fmt.Fprintln(stderr, "(written by 'dagger node init'), in the order given: that order is the first committee's.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 || *treasury == "" {
		fmt.Fprintln(stderr, "dagger genesis: --treasury and at least one member.json are required")
		return 2
	}
	addr, err := payment.ParseAddress(*treasury)
	if err != nil {
		fmt.Fprintf(stderr, "dagger genesis: --treasury: %v\n", err)
		return 2
	}
	var members []live.GenesisMember
	for _, path := range fs.Args() {
		m, err := live.LoadMember(path)
		if err != nil {
			fmt.Fprintf(stderr, "dagger genesis: %v\n", err)
			return 1
		}
		members = append(members, m)
	}
	gf := live.NewGenesisFile(time.Now(), addr, members)
	gf.EpochLength, gf.StatusTimeout = epoch.String(), status.String()
	gf.Price = live.GenesisPrice{VCPUHour: *vcpu, MemoryGiBHour: *mem, DiskGiBHour: *disk}
	if _, err := gf.Genesis(); err != nil {
		fmt.Fprintf(stderr, "dagger genesis: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "dagger genesis: %v\n", err)
		return 1
	}
	if _, err := f.Write(gf.Encode()); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "dagger genesis: %v\n", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "dagger genesis: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d operators, treasury %s\n", *out, len(members), addr)
	return 0
}
