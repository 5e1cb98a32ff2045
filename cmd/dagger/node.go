package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"dagger/node/live"
)

func runNode(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "init":
			return runNodeInit(args[1:], stdout, stderr)
		case "run":
			return runNodeRun(args[1:], stdout, stderr)
		case "bootstrap":
			return runNodeBootstrap(args[1:], stdout, stderr)
		case "join":
			return runNodeJoin(args[1:], stdout, stderr)
		case "approve":
			return runNodeApprove(args[1:], stdout, stderr)
		case "remove":
			return runNodeRemove(args[1:], stdout, stderr)
		case "leave":
			return runNodeLeave(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: dagger node init --dir D [flags]                    prepare a node: key, config.toml, member.json")
	fmt.Fprintln(stderr, "       dagger node run --config F [--rejoin]               run a node until SIGINT or SIGTERM")
	fmt.Fprintln(stderr, "       dagger node bootstrap --config F --from URL ...     start a stopped node from its peers' state snapshot")
	fmt.Fprintln(stderr, "       dagger node join --config F --node URL [--wait]     ask a running cluster to admit this operator")
	fmt.Fprintln(stderr, "       dagger node approve --key K --node URL OPERATOR     a committee member votes to admit an operator")
	fmt.Fprintln(stderr, "       dagger node remove --key K --node URL OPERATOR      a committee member votes to remove an operator")
	fmt.Fprintln(stderr, "       dagger node leave --config F --node URL [--wait]    this operator leaves at the next epoch boundary")
	fmt.Fprintln(stderr, "Run 'dagger node <command> -h' for a command's flags.")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}

func runNodeInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o live.InitOptions
	fs.StringVar(&o.Dir, "dir", "", "the node's directory (created if missing)")
	fs.StringVar(&o.ListenIP, "listen-ip", "0.0.0.0", "the IP libp2p listens on")
	fs.StringVar(&o.AdvertiseIP, "advertise-ip", "127.0.0.1", "the IP the other operators dial, written to member.json")
	fs.IntVar(&o.P2PPort, "p2p-port", live.DefaultP2PPort, "libp2p's TCP and UDP (QUIC) port")
	fs.StringVar(&o.APIListen, "api", live.DefaultAPIListen, "the HTTP API and /metrics address")
	fs.StringVar(&o.Driver, "provision", "none", "\"libvirt\" to host VMs, \"none\" to host nothing")
	fs.StringVar(&o.URI, "libvirt-uri", live.DefaultLibvirt, "libvirt's URI")
	fs.StringVar(&o.SolanaRPC, "solana-rpc", "", "Solana JSON-RPC endpoint that confirms payments (empty: offline checks only)")
	fs.StringVar(&o.Region, "region", "local", "the region the host is in")
	var vcpu uint
	fs.UintVar(&vcpu, "vcpu", 8, "vCPUs the host offers")
	fs.Uint64Var(&o.Capacity.MemoryMiB, "memory-mib", 16384, "memory the host offers, MiB")
	fs.Uint64Var(&o.Capacity.DiskGiB, "disk-gib", 200, "disk the host offers, GiB")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger node init --dir D [flags]")
		fmt.Fprintln(stderr, "Writes D/node.key (kept if present), a commented D/config.toml and D/member.json, this")
		fmt.Fprintln(stderr, "operator's entry for the cluster's genesis file (see 'dagger genesis').")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.Dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dagger node init: --dir is required and there are no arguments")
		return 2
	}
	if vcpu == 0 || vcpu > 1<<31 {
		fmt.Fprintln(stderr, "dagger node init: --vcpu must be 1 or more")
		return 2
	}
	o.Capacity.VCPU = uint32(vcpu)
	m, err := live.Init(o)
	if err != nil {
		fmt.Fprintf(stderr, "dagger node init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "operator key   %s\n", m.Key)
	fmt.Fprintf(stdout, "config         %s\n", filepath.Join(o.Dir, "config.toml"))
	fmt.Fprintf(stdout, "genesis entry  %s\n", filepath.Join(o.Dir, "member.json"))
	fmt.Fprintln(stdout, "Next: collect every founding operator's member.json, run 'dagger genesis' once, put")
	fmt.Fprintf(stdout, "genesis.json into %s, then 'dagger node run --config %s'.\n", o.Dir, filepath.Join(o.Dir, "config.toml"))
	return 0
}

func runNodeRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the node's config.toml")
	rejoin := fs.Bool("rejoin", false, "the node lost its store: learn its own events from peers before signing again")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger node run --config F [--rejoin]")
		fmt.Fprintln(stderr, "Runs a node until SIGINT or SIGTERM, then stops it cleanly. Exit status 1 if it")
		fmt.Fprintln(stderr, "cannot start or stops on a fault (the log says why).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dagger node run: --config is required and there are no arguments")
		return 2
	}
	cfg, err := live.LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "dagger node run: %v\n", err)
		return 2
	}
	log, err := live.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dagger node run: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := live.Open(cfg, live.OpenOptions{Rejoin: *rejoin, Logger: log, Version: version})
	if err != nil {
		log.Error("node did not start", "err", err)
		return 1
	}
	err = svc.Wait(ctx)
	if cerr := svc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Error("node stopped", "err", err)
		return 1
	}
	log.Info("node stopped")
	return 0
}
