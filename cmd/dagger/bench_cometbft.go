package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"dagger/bench"
)

// The CometBFT the comparison runs: pinned, installed with go install.
const (
	cometModule  = "github.com/cometbft/cometbft/cmd/cometbft"
	cometVersion = "v0.38.17"
	// cometBasePort: node i serves RPC on 127.0.0.1:(P+i) and P2P on
	// 127.0.0.1:(P+100+i).
	cometBasePort = 26600
)

func newBenchCompareCmd() *cobra.Command {
	c := group("compare", "run DAGGER side by side with another system (compare cometbft)", "")
	c.AddCommand(newBenchCompareCometCmd())
	return c
}

func newBenchCompareCometCmd() *cobra.Command {
	var (
		o                        liveOptions
		rates, cometRates, cache string
		cometBase                int
	)
	c := &cobra.Command{
		Use:   "cometbft [--nodes N] [--rates R[,R…]] [--cometbft-rates R[,R…]] [--duration D] [--out DIR]",
		Short: "DAGGER and CometBFT under the same load, measured the same way, in one run",
		Long: `Installs CometBFT ` + cometVersion + ` with 'go install' (pinned; once, into --cache) and measures it
beside DAGGER: for each rate a fresh network of --nodes validators on loopback running the kvstore
application, in CometBFT's best configuration for throughput (timeout_commit = 0s, the indexer
off, a mempool of 200,000 transactions and 1 GiB, logging at error level), driven by the same
load generator with the same opaque transactions and timed the same way as 'dagger bench live'
does DAGGER (CometBFT's commits are read block by block from its RPC as soon as its height
says they are there, every 10 ms: a commit is seen up to 10 ms late). DAGGER's points (--rates)
and CometBFT's (--cometbft-rates) run interleaved, so that a machine that drifts during the run
affects both alike. Prints both systems' table, what each sustained (the highest rate it kept
up with) and the ratio; with --out DIR, results.jsonl, table.md, compare.md and the pictures,
both systems' curves on each chart.
Needs the go command on PATH the first time (the module proxy must be reachable).`,
		Example: `  dagger bench compare cometbft --rates 10000,30000,50000 --cometbft-rates 1000,1500,2000 --duration 60s --out bin/bench-compare`,
		Args:    flagsOnly,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := parseList(rates, "--rates", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			if err != nil {
				return err
			}
			crs, err := parseList(cometRates, "--cometbft-rates", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			if err != nil {
				return err
			}
			if cometBase < 1024 || cometBase+100+o.nodes > 65535 {
				return usageErr("--cometbft-base-port %d: want 1024 to %d", cometBase, 65535-100-o.nodes)
			}
			o.payload = bench.PayloadOpaque
			bin, err := installComet(cmd.Context(), cache, cmd.ErrOrStderr())
			if err != nil {
				return failf(1, "%v", err)
			}
			return benchLive(cmd, o, []liveSweep{
				{sys: &daggerNet{o: &o}, rates: rs},
				{sys: &cometNet{bin: bin, n: o.nodes, base: cometBase}, rates: crs},
			})
		},
	}
	o.flags(c, devnetBasePort)
	f := c.Flags()
	f.StringVar(&rates, "rates", "10000,30000,50000", "DAGGER's offered loads in tx/s, comma-separated")
	f.StringVar(&cometRates, "cometbft-rates", "1000,1500,2000", "CometBFT's offered loads in tx/s, comma-separated")
	f.IntVar(&cometBase, "cometbft-base-port", cometBasePort, "CometBFT node i serves RPC on 127.0.0.1:(P+i) and P2P on 127.0.0.1:(P+100+i)")
	f.StringVar(&cache, "cache", "", "where CometBFT is installed (default: dagger/cometbft-"+cometVersion+" in the user's cache directory)")
	return c
}

// installComet returns the pinned CometBFT binary, installing it into
// cache first if it is not there.
func installComet(ctx context.Context, cache string, stderr io.Writer) (string, error) {
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory (set --cache): %v", err)
		}
		cache = filepath.Join(d, "dagger", "cometbft-"+cometVersion)
	}
	bin := filepath.Join(cache, "cometbft")
	if out, err := exec.CommandContext(ctx, bin, "version").Output(); err == nil && strings.TrimSpace(string(out)) == strings.TrimPrefix(cometVersion, "v") {
		return bin, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	gobin, err := filepath.Abs(cache)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "installing CometBFT %s into %s (go install, once)\n", cometVersion, gobin)
	inst := exec.CommandContext(ctx, "go", "install", cometModule+"@"+cometVersion)
	// Its own module, whatever the directory's: GOFLAGS and GOWORK of a
	// checkout must not reach it.
	inst.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=", "GOWORK=off")
	inst.Dir = os.TempDir()
	var out bytes.Buffer
	inst.Stdout, inst.Stderr = &out, &out
	if err := inst.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %v\n%s", cometModule, cometVersion, err, out.String())
	}
	return bin, nil
}

// cometNet starts CometBFT testnets.
type cometNet struct {
	bin     string
	n, base int
}

func (c *cometNet) label() string { return "cometbft" }

func (c *cometNet) start(ctx context.Context, dir string, stderr io.Writer) (*liveNet, error) {
	args := []string{"testnet", "--v", strconv.Itoa(c.n), "--o", dir, "--populate-persistent-peers"}
	for range c.n {
		args = append(args, "--hostname", "127.0.0.1")
	}
	if out, err := exec.CommandContext(ctx, c.bin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cometbft testnet: %v\n%s", err, out)
	}
	var peers []string
	for i := range c.n {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		out, err := exec.CommandContext(ctx, c.bin, "show-node-id", "--home", home).Output()
		if err != nil {
			return nil, fmt.Errorf("cometbft show-node-id: %v", err)
		}
		peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", strings.TrimSpace(string(out)), c.base+100+i))
	}
	type proc struct {
		cmd    *exec.Cmd
		log    *os.File
		exited chan struct{}
	}
	var procs []*proc
	stop := func() error {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM) // it may have exited
		}
		var errs []string
		for i, p := range procs {
			select {
			case <-p.exited:
			case <-time.After(devnetStopWait):
				_ = p.cmd.Process.Kill()
				<-p.exited
				errs = append(errs, fmt.Sprintf("node %d did not stop within %v", i, devnetStopWait))
			}
			p.log.Close()
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
	net := &liveNet{stop: stop}
	for i := range c.n {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if err := cometConfig(filepath.Join(home, "config", "config.toml"), c.base+i, c.base+100+i, peers, i); err != nil {
			_ = stop()
			return nil, err
		}
		log, err := os.Create(filepath.Join(home, "node.log"))
		if err != nil {
			_ = stop()
			return nil, err
		}
		cmd := exec.Command(c.bin, "node", "--home", home)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			log.Close()
			_ = stop()
			return nil, err
		}
		p := &proc{cmd: cmd, log: log, exited: make(chan struct{})}
		go func() {
			_ = cmd.Wait() // its state is read from ProcessState
			close(p.exited)
		}()
		procs = append(procs, p)
		u := fmt.Sprintf("http://127.0.0.1:%d", c.base+i)
		net.targets = append(net.targets, u)
		net.procs = append(net.procs, bench.Watched{Name: fmt.Sprintf("node-%d", i), Role: bench.RoleNode, PID: cmd.Process.Pid})
	}
	net.watch = net.targets[0]
	t, err := bench.NewCometBFT(net.targets, net.watch)
	if err != nil {
		_ = stop()
		return nil, err
	}
	if err := waitFor(ctx, 60*time.Second, func() (bool, error) {
		for i, p := range procs {
			select {
			case <-p.exited:
				return false, fmt.Errorf("cometbft node %d exited: see %s", i, p.log.Name())
			default:
			}
		}
		h, err := t.Height(ctx)
		return err == nil && h >= 2, nil
	}); err != nil {
		_ = stop()
		return nil, fmt.Errorf("the CometBFT network did not commit within a minute: %v", err)
	}
	return net, nil
}

// cometConfig sets a testnet node's ports, peers and the configuration
// that gives CometBFT its best throughput.
func cometConfig(path string, rpcPort, p2pPort int, peers []string, self int) error {
	var cfg map[string]any
	if _, err := toml.DecodeFile(path, &cfg); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	section := func(name string) map[string]any {
		s, ok := cfg[name].(map[string]any)
		if !ok {
			s = map[string]any{}
			cfg[name] = s
		}
		return s
	}
	var others []string
	for i, p := range peers {
		if i != self {
			others = append(others, p)
		}
	}
	cfg["proxy_app"] = "kvstore"
	cfg["log_level"] = "error"
	rpc := section("rpc")
	rpc["laddr"] = fmt.Sprintf("tcp://127.0.0.1:%d", rpcPort)
	rpc["max_body_bytes"] = int64(256 << 20)
	rpc["max_request_batch_size"] = int64(0) // no bound on a JSON-RPC batch
	rpc["max_open_connections"] = int64(0)
	p2p := section("p2p")
	p2p["laddr"] = fmt.Sprintf("tcp://127.0.0.1:%d", p2pPort)
	p2p["persistent_peers"] = strings.Join(others, ",")
	p2p["addr_book_strict"] = false
	p2p["allow_duplicate_ip"] = true
	section("consensus")["timeout_commit"] = "0s"
	section("tx_index")["indexer"] = "null"
	mp := section("mempool")
	mp["size"] = int64(200000)
	mp["max_txs_bytes"] = int64(1 << 30)
	mp["cache_size"] = int64(200000)
	section("instrumentation")["prometheus"] = false
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
