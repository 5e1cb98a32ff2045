package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"dagger/node/live"
)

func newNodeCmd() *cobra.Command {
	c := group("node", "prepare, run and admit live nodes (node init|run|bootstrap|join|approve|remove|leave)", "")
	c.AddCommand(newNodeInitCmd(), newNodeRunCmd(), newNodeBootstrapCmd(), newNodeJoinCmd(),
		newNodeVoteCmd("approve"), newNodeVoteCmd("remove"), newNodeLeaveCmd())
	return c
}

func newNodeInitCmd() *cobra.Command {
	var o live.InitOptions
	var vcpu uint
	c := &cobra.Command{
		Use:   "init --dir D [flags]",
		Short: "prepare a node: key, config.toml, member.json",
		Long: `Writes D/node.key (kept if present), a commented D/config.toml and D/member.json, this
operator's entry for the cluster's genesis file (see 'dagger genesis').`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Dir == "" || len(args) > 0 {
				return failf(2, "--dir is required and there are no arguments")
			}
			if vcpu == 0 || vcpu > 1<<31 {
				return failf(2, "--vcpu must be 1 or more")
			}
			o.Capacity.VCPU = uint32(vcpu)
			m, err := live.Init(o)
			if err != nil {
				return failf(1, "%v", err)
			}
			stdout := cmd.OutOrStdout()
			fmt.Fprintf(stdout, "operator key   %s\n", m.Key)
			fmt.Fprintf(stdout, "config         %s\n", filepath.Join(o.Dir, "config.toml"))
			fmt.Fprintf(stdout, "genesis entry  %s\n", filepath.Join(o.Dir, "member.json"))
			fmt.Fprintln(stdout, "Next: collect every founding operator's member.json, run 'dagger genesis' once, put")
			fmt.Fprintf(stdout, "genesis.json into %s, then 'dagger node run --config %s'.\n", o.Dir, filepath.Join(o.Dir, "config.toml"))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Dir, "dir", "", "the node's directory (created if missing)")
	f.StringVar(&o.ListenIP, "listen-ip", "0.0.0.0", "the IP libp2p listens on")
	f.StringVar(&o.AdvertiseIP, "advertise-ip", "127.0.0.1", "the IP the other operators dial, written to member.json")
	f.IntVar(&o.P2PPort, "p2p-port", live.DefaultP2PPort, "libp2p's TCP and UDP (QUIC) port")
	f.StringVar(&o.APIListen, "api", live.DefaultAPIListen, "the HTTP API and /metrics address")
	f.StringVar(&o.Driver, "provision", "none", "\"libvirt\" to host VMs, \"none\" to host nothing")
	f.StringVar(&o.URI, "libvirt-uri", live.DefaultLibvirt, "libvirt's URI")
	f.StringVar(&o.SolanaRPC, "solana-rpc", "", "Solana JSON-RPC endpoint that confirms payments (empty: offline checks only)")
	f.StringVar(&o.Region, "region", "local", "the region the host is in")
	f.UintVar(&vcpu, "vcpu", 8, "vCPUs the host offers")
	f.Uint64Var(&o.Capacity.MemoryMiB, "memory-mib", 16384, "memory the host offers, MiB")
	f.Uint64Var(&o.Capacity.DiskGiB, "disk-gib", 200, "disk the host offers, GiB")
	return c
}

func newNodeRunCmd() *cobra.Command {
	var cfgPath string
	var rejoin bool
	c := &cobra.Command{
		Use:   "run --config F [--rejoin]",
		Short: "run a node until SIGINT or SIGTERM",
		Long: `Runs a node until SIGINT or SIGTERM, then stops it cleanly. Exit status 1 if it
cannot start or stops on a fault (the log says why).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgPath == "" || len(args) > 0 {
				return failf(2, "--config is required and there are no arguments")
			}
			cfg, err := live.LoadConfig(cfgPath)
			if err != nil {
				return failf(2, "%v", err)
			}
			log, err := live.NewLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return failf(2, "%v", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			svc, err := live.Open(cfg, live.OpenOptions{Rejoin: rejoin, Logger: log, Version: version})
			if err != nil {
				log.Error("node did not start", "err", err)
				return exitCode(1)
			}
			err = svc.Wait(ctx)
			if cerr := svc.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				log.Error("node stopped", "err", err)
				return exitCode(1)
			}
			log.Info("node stopped")
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "the node's config.toml")
	c.Flags().BoolVar(&rejoin, "rejoin", false, "the node lost its store: learn its own events from peers before signing again")
	return c
}
