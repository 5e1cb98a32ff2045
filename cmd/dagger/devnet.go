package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"dagger/node/cluster"
	"dagger/node/live"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
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

func runDevnet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("nodes", 4, "how many nodes (the committee)")
	base := fs.Int("base-port", devnetBasePort, "node i serves HTTP on 127.0.0.1:(P+i) and libp2p on 127.0.0.1:(P+1000+i)")
	dir := fs.String("dir", "", "the devnet's directory; an existing devnet there is restarted with its keys and stores (default: a new temporary directory)")
	load := fs.Float64("load", 0, "submit this many transactions per second across the nodes (0: none)")
	prov := fs.String("provision", "auto", "\"libvirt\", \"none\", or \"auto\": libvirt when libvirtd's socket exists")
	uri := fs.String("libvirt-uri", "test:///default", "libvirt's URI for the nodes' hosts")
	epochLength := fs.Duration("epoch-length", cluster.DefaultEpochLength, "a new devnet's consensus time between epoch boundaries (each stores a state snapshot)")
	solanaRPC := fs.String("solana-rpc", "", "Solana JSON-RPC endpoint the nodes confirm payments with (default: none, payments are checked offline only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger devnet [--nodes N] [--base-port P] [--dir D] [--load RATE] [--provision auto|libvirt|none] [--epoch-length D]")
		fmt.Fprintln(stderr, "Starts N real node processes on loopback with a fresh committee and runs until SIGINT or")
		fmt.Fprintln(stderr, "SIGTERM, then stops them cleanly. Each node's files and log are in D/node-<i>/.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "dagger devnet: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *n < 1 || *n > devnetMaxNodes:
		fmt.Fprintf(stderr, "dagger devnet: --nodes %d: want 1 to %d\n", *n, devnetMaxNodes)
		return 2
	case *base < 1024 || *base+devnetP2POffset+*n > 65535:
		fmt.Fprintf(stderr, "dagger devnet: --base-port %d: want 1024 to %d\n", *base, 65535-devnetP2POffset-*n)
		return 2
	case *load < 0:
		fmt.Fprintln(stderr, "dagger devnet: --load must not be negative")
		return 2
	case *epochLength < time.Second:
		fmt.Fprintf(stderr, "dagger devnet: --epoch-length %v: want at least 1s\n", *epochLength)
		return 2
	}
	driver := *prov
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
		fmt.Fprintf(stderr, "dagger devnet: --provision %q: want auto, libvirt or none\n", *prov)
		return 2
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "dagger-devnet-")
		if err != nil {
			fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
			return 1
		}
		*dir = d
	}
	nodes, err := devnetPrepare(*dir, *n, *base, driver, *uri, *solanaRPC, *epochLength)
	if err != nil {
		fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
		return 1
	}
	for _, nd := range nodes {
		if err := nd.start(exe); err != nil {
			fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
			devnetStop(nodes, stderr)
			return 1
		}
	}
	if err := devnetWaitHealthy(ctx, nodes); err != nil {
		fmt.Fprintf(stderr, "dagger devnet: %v\n", err)
		devnetStop(nodes, stderr)
		return 1
	}
	fmt.Fprintf(stdout, "devnet of %d nodes in %s (provision: %s)\n", len(nodes), *dir, driver)
	fmt.Fprintf(stdout, "%-6s %-8s %-28s %-36s %s\n", "node", "pid", "api", "metrics", "log")
	for i, nd := range nodes {
		fmt.Fprintf(stdout, "%-6d %-8d %-28s %-36s %s\n", i, nd.cmd.Process.Pid, "http://"+nd.api, "http://"+nd.api+"/metrics", nd.log.Name())
	}
	fmt.Fprintf(stdout, "customer wallet for 'dagger vm create --key': %s\n", filepath.Join(*dir, "wallet.key"))
	fmt.Fprintln(stdout, "Ctrl-C stops the devnet.")
	if *load > 0 {
		go devnetLoad(ctx, nodes, *load, stdout, stderr)
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
			return devnetStop(nodes, stderr)
		case i := <-exited:
			running--
			fmt.Fprintf(stderr, "devnet: node %d exited (%v); see %s\n", i, nodes[i].cmd.ProcessState, nodes[i].log.Name())
		}
	}
	fmt.Fprintln(stderr, "devnet: every node exited")
	return 1
}

// devnetPrepare makes (or reuses) the devnet's directory: one node
// directory per node, a shared genesis file, a treasury and a customer
// wallet.
func devnetPrepare(dir string, n, base int, driver, uri, solanaRPC string, epochLength time.Duration) ([]*devnetNode, error) {
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
		m, err := live.Init(live.InitOptions{Dir: nd.dir, ListenIP: "127.0.0.1", AdvertiseIP: "127.0.0.1",
			P2PPort: base + devnetP2POffset + i, APIListen: nd.api, Driver: driver, URI: uri,
			DomainPrefix: fmt.Sprintf("dagger-n%d-", i), Genesis: "../genesis.json", SolanaRPC: solanaRPC,
			Capacity: live.GenesisCapacity{VCPU: 16, MemoryMiB: 32768, DiskGiB: 500}})
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
	gf.EpochLength = epochLength.String()
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
