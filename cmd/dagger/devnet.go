package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dagger/node/cluster"
	"dagger/node/live"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/provision"
)

// Defaults of the devnet. Node i serves its API and /metrics on
// 127.0.0.1:(base+i) and listens for peers on 127.0.0.1:(base+p2pOffset+i).
const (
	devnetBasePort  = 8700
	devnetP2POffset = 1000
	devnetMaxNodes  = 64
	// devnetStopWait is how long a node gets to stop after SIGTERM.
	devnetStopWait = 15 * time.Second
)

type devnetNode struct {
	dir string
	api string
	cmd *exec.Cmd
	log *os.File
	// exited is closed when the process exits.
	exited chan struct{}
}

type devnetOptions struct {
	n, base     int
	dir         string
	load        float64
	prov, uri   string
	epochLength time.Duration
	solanaRPC   string
	opaque      bool
	// pprof: the nodes serve Go's profiles at /debug/pprof/.
	pprof bool
	// keepEpochs is the nodes' store.keep_epochs; 0 is the default.
	keepEpochs int
	// publish is the address the nodes publish their VMs at (their
	// [provision] advertise), forwardNetNS the namespace of the forwards.
	publish, forwardNetNS string
}

func newDevnetCmd() *cobra.Command {
	var o devnetOptions
	c := &cobra.Command{
		Use:   "devnet [--nodes N] [--base-port P] [--dir D] [--load RATE] [--provision auto|libvirt|none] [--epoch-length D] [--opaque] [--publish ADDRESS]",
		Short: "run a cluster of real node processes on this machine",
		Long: `Starts N real node processes on loopback with a fresh committee and runs until SIGINT or
SIGTERM, then stops them cleanly. Each node's files and log are in D/node-<i>/.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return failf(2, "unexpected argument %q", args[0])
			}
			return devnet(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.n, "nodes", 4, "how many nodes (the committee)")
	f.IntVar(&o.base, "base-port", devnetBasePort, "node i serves HTTP on 127.0.0.1:(P+i) and libp2p on 127.0.0.1:(P+1000+i)")
	f.StringVar(&o.dir, "dir", "", "the devnet's directory; an existing devnet there is restarted with its keys and stores (default: a new temporary directory)")
	f.Float64Var(&o.load, "load", 0, "submit this many transactions per second across the nodes (0: none)")
	f.StringVar(&o.prov, "provision", "auto", "\"libvirt\", \"none\", or \"auto\": libvirt when libvirtd's socket exists")
	f.StringVar(&o.uri, "libvirt-uri", "test:///default", "libvirt's URI for the nodes' hosts")
	f.DurationVar(&o.epochLength, "epoch-length", cluster.DefaultEpochLength, "a new devnet's consensus time between epoch boundaries (each stores a state snapshot)")
	f.BoolVar(&o.opaque, "opaque", false, "a new devnet's nodes take application transactions in bulk at POST /v1/opaque (benchmarks)")
	f.BoolVar(&o.pprof, "pprof", false, "a new devnet's nodes serve Go's profiles at /debug/pprof/ on their HTTP address")
	f.StringVar(&o.solanaRPC, "solana-rpc", "", "Solana JSON-RPC endpoint the nodes confirm payments with (default: none, payments are checked offline only)")
	f.StringVar(&o.publish, "publish", "", "a new devnet's nodes publish their running VMs at this address of the machine: node i forwards ports "+
		fmt.Sprintf("%d+%d*i and up to its guests' SSH with nftables, in the table dagger-n<i> (needs root)", provision.DefaultPortMin, devnetPortsPerNode))
	f.StringVar(&o.forwardNetNS, "forward-netns", "", "with --publish, the network namespace (/run/netns/NAME) that holds the forwards (default: the machine's own)")
	return c
}

// devnetPortsPerNode is how many forwarded ports each devnet node has.
const devnetPortsPerNode = 100

func devnet(stdout, stderr io.Writer, o devnetOptions) error {
	switch {
	case o.n < 1 || o.n > devnetMaxNodes:
		return failf(2, "--nodes %d: want 1 to %d", o.n, devnetMaxNodes)
	case o.base < 1024 || o.base+devnetP2POffset+o.n > 65535:
		return failf(2, "--base-port %d: want 1024 to %d", o.base, 65535-devnetP2POffset-o.n)
	case o.load < 0:
		return failf(2, "--load must not be negative")
	case o.epochLength < time.Second:
		return failf(2, "--epoch-length %v: want at least 1s", o.epochLength)
	}
	driver := o.prov
	switch driver {
	case "auto":
		driver = "none"
		if _, err := os.Stat("/var/run/libvirt/libvirt-sock"); err == nil {
			driver = "libvirt"
		} else {
			fmt.Fprintln(stderr, "devnet: libvirtd is not running, so the nodes host no VMs (install and start it: see the README)")
		}
	case "libvirt", "none":
	default:
		return failf(2, "--provision %q: want auto, libvirt or none", o.prov)
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "dagger-devnet-")
		if err != nil {
			return failf(1, "%v", err)
		}
		o.dir = d
	}
	nodes, err := devnetPrepare(o, driver)
	if err != nil {
		return failf(1, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return failf(1, "%v", err)
	}
	for _, nd := range nodes {
		if err := nd.start(exe); err != nil {
			fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
			devnetStop(nodes, stderr)
			return exitCode(1)
		}
	}
	if err := devnetWaitHealthy(ctx, nodes); err != nil {
		fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
		devnetStop(nodes, stderr)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "devnet of %d nodes in %s (provision: %s)\n", len(nodes), o.dir, driver)
	fmt.Fprintf(stdout, "%-6s %-8s %-28s %-36s %s\n", "node", "pid", "api", "metrics", "log")
	for i, nd := range nodes {
		fmt.Fprintf(stdout, "%-6d %-8d %-28s %-36s %s\n", i, nd.cmd.Process.Pid, "http://"+nd.api, "http://"+nd.api+"/metrics", nd.log.Name())
	}
	fmt.Fprintf(stdout, "customer wallet for 'dagger vm create --key': %s\n", filepath.Join(o.dir, "wallet.key"))
	fmt.Fprintln(stdout, "Ctrl-C stops the devnet.")
	if o.load > 0 {
		go devnetLoad(ctx, nodes, o.load, stdout, stderr)
	}
	exited := make(chan int, len(nodes))
	for i, nd := range nodes {
		go func() {
			<-nd.exited
			exited <- i
		}()
	}
	for running := len(nodes); running > 0; {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "devnet: stopping the nodes")
			if code := devnetStop(nodes, stderr); code != 0 {
				return exitCode(code)
			}
			return nil
		case i := <-exited:
			running--
			fmt.Fprintf(stderr, "devnet: node %d exited (%v); see %s\n", i, nodes[i].cmd.ProcessState, nodes[i].log.Name())
		}
	}
	fmt.Fprintln(stderr, "devnet: every node exited")
	return exitCode(1)
}

// devnetPrepare makes (or reuses) the devnet's directory: one node
// directory per node, a shared genesis file, a treasury and a customer
// wallet.
func devnetPrepare(o devnetOptions, driver string) ([]*devnetNode, error) {
	dir, n, base := o.dir, o.n, o.base
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	genesisPath := filepath.Join(dir, "genesis.json")
	_, statErr := os.Stat(genesisPath)
	fresh := errors.Is(statErr, os.ErrNotExist)
	nodes := make([]*devnetNode, n)
	var members []live.GenesisMember
	for i := range nodes {
		nd := &devnetNode{dir: filepath.Join(dir, fmt.Sprintf("node-%d", i)), api: fmt.Sprintf("127.0.0.1:%d", base+i)}
		nodes[i] = nd
		if !fresh {
			if _, err := os.Stat(filepath.Join(nd.dir, "config.toml")); err != nil {
				return nil, fmt.Errorf("%s holds a devnet but not node %d: use another --dir or the same --nodes", dir, i)
			}
			continue
		}
		// Each node keeps its VMs' seeds beside its store, not in the
		// host-wide default a developer may not write.
		seeds, err := filepath.Abs(filepath.Join(nd.dir, "seeds"))
		if err != nil {
			return nil, err
		}
		m, err := live.Init(live.InitOptions{Dir: nd.dir, ListenIP: "127.0.0.1", AdvertiseIP: "127.0.0.1", SeedDir: seeds,
			P2PPort: base + devnetP2POffset + i, APIListen: nd.api, Driver: driver, URI: o.uri,
			DomainPrefix: fmt.Sprintf("dagger-n%d-", i), Genesis: "../genesis.json", SolanaRPC: o.solanaRPC, Opaque: o.opaque, Pprof: o.pprof,
			// The nodes share this machine's cores: checking on the loops is faster.
			CheckWorkers: -1,
			KeepEpochs:   o.keepEpochs,
			Capacity:     live.GenesisCapacity{VCPU: 16, MemoryMiB: 32768, DiskGiB: 500},
			Publish:      o.publish, ForwardNetNS: o.forwardNetNS, ForwardTable: fmt.Sprintf("dagger-n%d", i),
			ForwardPorts: fmt.Sprintf("%d-%d", provision.DefaultPortMin+devnetPortsPerNode*i, provision.DefaultPortMin+devnetPortsPerNode*(i+1)-1)})
		if err != nil {
			return nil, err
		}
		members = append(members, m)
	}
	if !fresh {
		return nodes, nil
	}
	treasury, err := devnetKey(filepath.Join(dir, "treasury.key"))
	if err != nil {
		return nil, err
	}
	if _, err := devnetKey(filepath.Join(dir, "wallet.key")); err != nil {
		return nil, err
	}
	var addr payment.Address
	copy(addr[:], treasury[32:])
	gf := live.NewGenesisFile(time.Now(), addr, members)
	gf.EpochLength = o.epochLength.String()
	if _, err := gf.Genesis(); err != nil {
		return nil, err
	}
	return nodes, os.WriteFile(genesisPath, gf.Encode(), 0o644)
}

func devnetKey(path string) ([]byte, error) {
	k, err := keyfile.New()
	if err == nil {
		err = keyfile.Save(path, k)
	}
	return k, err
}

func (nd *devnetNode) start(exe string) error {
	f, err := os.OpenFile(filepath.Join(nd.dir, "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	nd.log = f
	nd.cmd = exec.Command(exe, "node", "run", "--config", filepath.Join(nd.dir, "config.toml"))
	nd.cmd.Stdout, nd.cmd.Stderr = f, f
	// A node of its own process group is not killed by the terminal's
	// Ctrl-C before the devnet asks it to stop cleanly.
	nd.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := nd.cmd.Start(); err != nil {
		return fmt.Errorf("start node in %s: %w", nd.dir, err)
	}
	nd.exited = make(chan struct{})
	go func() {
		_ = nd.cmd.Wait() // the state is read from cmd.ProcessState
		close(nd.exited)
	}()
	return nil
}

func devnetWaitHealthy(ctx context.Context, nodes []*devnetNode) error {
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for _, nd := range nodes {
		for {
			resp, err := client.Get("http://" + nd.api + "/v1/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-nd.exited:
				return fmt.Errorf("node in %s exited at start: see %s", nd.dir, nd.log.Name())
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node in %s is not healthy after 60s: see %s", nd.dir, nd.log.Name())
			}
		}
	}
	return nil
}

// devnetStop sends SIGTERM to every node still running and waits; one
// that does not stop in time is killed. It returns the exit code.
func devnetStop(nodes []*devnetNode, stderr io.Writer) int {
	code := 0
	for _, nd := range nodes {
		if nd.cmd != nil && nd.cmd.Process != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		}
	}
	for i, nd := range nodes {
		if nd.exited == nil {
			continue
		}
		select {
		case <-nd.exited:
		case <-time.After(devnetStopWait):
			fmt.Fprintf(stderr, "devnet: node %d did not stop within %v: killing it\n", i, devnetStopWait)
			_ = nd.cmd.Process.Kill()
			<-nd.exited
			code = 1
		}
		if !nd.cmd.ProcessState.Success() {
			if ws, ok := nd.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				fmt.Fprintf(stderr, "devnet: node %d: %v; see %s\n", i, nd.cmd.ProcessState, nd.log.Name())
				code = 1
			}
		}
		nd.log.Close()
	}
	return code
}
