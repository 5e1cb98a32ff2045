package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dagger/node/live"
	"dagger/node/payment"
)

func newGenesisCmd() *cobra.Command {
	var treasury, out string
	var epoch, status time.Duration
	var vcpu, mem, disk uint64
	c := &cobra.Command{
		Use:   "genesis --treasury ADDR [--out FILE] [flags] MEMBER.json...",
		Short: "assemble a cluster's genesis file from its operators' member.json files",
		Long: `Assembles the cluster's genesis file from the founding operators' member.json files
(written by 'dagger node init'), in the order given: that order is the first committee's.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || treasury == "" {
				return failf(2, "--treasury and at least one member.json are required")
			}
			price := live.GenesisPrice{VCPUHour: vcpu, MemoryGiBHour: mem, DiskGiBHour: disk}
			return genesis(cmd.OutOrStdout(), treasury, out, epoch, status, price, args)
		},
	}
	f := c.Flags()
	f.StringVar(&treasury, "treasury", "", "the Solana address VM payments go to (base58)")
	f.StringVar(&out, "out", "genesis.json", "where to write the genesis file (never overwritten)")
	f.DurationVar(&epoch, "epoch-length", 30*time.Second, "consensus time between epoch boundaries")
	f.DurationVar(&status, "status-timeout", 30*time.Second, "a VM whose host reports nothing for this long is moved")
	f.Uint64Var(&vcpu, "price-vcpu-hour", live.DefaultVCPUHour, "lamports per vCPU-hour")
	f.Uint64Var(&mem, "price-memory-gib-hour", live.DefaultMemoryGiBHour, "lamports per GiB-hour of memory")
	f.Uint64Var(&disk, "price-disk-gib-hour", live.DefaultDiskGiBHour, "lamports per GiB-hour of disk")
	return c
}

func genesis(stdout io.Writer, treasury, out string, epoch, status time.Duration, price live.GenesisPrice, memberFiles []string) error {
	addr, err := payment.ParseAddress(treasury)
	if err != nil {
		return failf(2, "--treasury: %v", err)
	}
	var members []live.GenesisMember
	for _, path := range memberFiles {
		m, err := live.LoadMember(path)
		if err != nil {
			return failf(1, "%v", err)
		}
		members = append(members, m)
	}
	gf := live.NewGenesisFile(time.Now(), addr, members)
	gf.EpochLength, gf.StatusTimeout = epoch.String(), status.String()
	gf.Price = price
	if _, err := gf.Genesis(); err != nil {
		return failf(1, "%v", err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return failf(1, "%v", err)
	}
	if _, err := f.Write(gf.Encode()); err != nil {
		f.Close()
		return failf(1, "%v", err)
	}
	if err := f.Close(); err != nil {
		return failf(1, "%v", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d operators, treasury %s\n", out, len(members), addr)
	return nil
}
