package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dagger/bench"
	"dagger/node/cluster"
)

// liveSystem is a system `dagger bench live` and `dagger bench compare`
// start afresh for every point.
type liveSystem interface {
	// label names the system in results ("dagger", "cometbft"); kind is
	// what the load generator's --system calls it.
	label() string
	// start runs a fresh network with its files in dir.
	start(ctx context.Context, dir string, stderr io.Writer) (*liveNet, error)
}

// liveNet is a running network of one point.
type liveNet struct {
	targets []string
	watch   string
	procs   []bench.Watched
	stop    func() error
}

// liveOptions are what every point of a live sweep shares.
type liveOptions struct {
	nodes                   int
	basePort                int
	duration, warmup, drain time.Duration
	txSize                  int
	payload                 string
	out, workDir            string
	keep                    bool
	// pprof: the nodes serve Go's profiles at /debug/pprof/.
	pprof bool
}

func (o *liveOptions) flags(c *cobra.Command, base int) {
	f := c.Flags()
	f.IntVar(&o.nodes, "nodes", 4, "nodes of each network (node processes on this machine)")
	f.IntVar(&o.basePort, "base-port", base, "the networks' first port on 127.0.0.1")
	f.DurationVar(&o.duration, "duration", 60*time.Second, "the load window of each point")
	f.DurationVar(&o.warmup, "warmup", 0, "the start of the load window left out of the steady window (default: a fifth of --duration, at most 10s)")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "time after the load for what is in flight to commit")
	f.IntVar(&o.txSize, "tx-size", 256, "bytes per opaque transaction")
	f.StringVar(&o.out, "out", "", "directory for results.jsonl, table.md and the pictures")
	f.StringVar(&o.workDir, "dir", "", "where the networks' files go (default: a new temporary directory, removed at the end unless --keep)")
	f.BoolVar(&o.keep, "keep", false, "keep the networks' files and logs")
	f.BoolVar(&o.pprof, "pprof", false, "DAGGER's nodes serve Go's profiles at http://127.0.0.1:(base-port+i)/debug/pprof/ during the run")
}

func (o *liveOptions) check() error {
	switch {
	case o.nodes < 1 || o.nodes > devnetMaxNodes:
		return usageErr("--nodes %d: want 1 to %d", o.nodes, devnetMaxNodes)
	case o.basePort < 1024 || o.basePort+devnetP2POffset+o.nodes > 65535:
		return usageErr("--base-port %d: want 1024 to %d", o.basePort, 65535-devnetP2POffset-o.nodes)
	case o.duration < time.Second || o.duration > bench.MaxLoadDuration:
		return usageErr("--duration %v: want 1s to %v", o.duration, bench.MaxLoadDuration)
	case o.drain < 0:
		return usageErr("--drain %v: want a positive time", o.drain)
	}
	return nil
}

func newBenchLiveCmd() *cobra.Command {
	var (
		o     liveOptions
		rates string
	)
	c := &cobra.Command{
		Use:   "live [--nodes N] [--rates R[,R…]] [--duration D] [--tx-size B] [--payload opaque|signed] [--out DIR]",
		Short: "a throughput and latency sweep of real node processes",
		Long: `For each offered rate, starts a fresh devnet of --nodes real node processes on loopback and a load
generator in a process of its own ('dagger bench load'), offers the rate open loop for --duration,
then waits --drain for what is in flight. Latency runs from each transaction's scheduled send to
the moment the first node's commit stream shows it committed, so a node that falls behind shows
its backlog in the latency. Reports committed tx/s over the steady window (the load window
after --warmup), p50, p90, p99 and max latency of the transactions scheduled in it (gonum/stat
over every transaction, or over a uniform sample of 8 Mi of them in a longer run, whose
committed tx/s is then estimated from the sample and whose sample_every says so), transactions
refused (by reason) and not committed after the drain, CPU, peak memory and minor page faults a
second of each process (the nodes' CPU summed: 100 is one core), and events, commits and bytes sent per second (the nodes'
/metrics).
The devnets keep 10 epochs of events (store.keep_epochs, 5 minutes; 120 by default), so that a
long run prunes as a node in service does and its stores fit on one disk.
--payload opaque sends application transactions to POST /v1/opaque (consensus alone, as
CometBFT's kvstore measures it); signed sends the cluster's signed vm-get transactions to
POST /v1/txs/batch (signed before the run).
Every process's resident memory and each node's last snapshot size (dagger_snapshot_bytes) are
sampled every second; a point's rss_start_mib and rss_end_mib are the resident memory of the node
largest at the end, averaged over the first and over the last tenth of the load window (at most
30 s each): equal figures mean the memory stayed flat, which is what a long run (make bench-soak)
is for.
The markdown table goes to stdout, progress to stderr. With --out DIR: DIR/results.jsonl (one JSON
object per point), DIR/table.md and the pictures (throughput, latency, cdf, and the last point's
run-throughput and run-latency per second, run-memory and run-snapshot over time; PNG and SVG),
and DIR/memory.csv, the last point's samples, one row per process a second
(t_s,process,role,rss_mib,snapshot_bytes,cpu_percent,minor_faults_per_s).
Exit status: 0 measured, 1 a network failed to start or the generator failed, 2 invalid
arguments.`,
		Example: `  dagger bench live --nodes 4 --rates 10000,30000,50000 --duration 60s --tx-size 256 --payload opaque --out bin/bench-live`,
		Args:    flagsOnly,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := parseList(rates, "--rates", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			if err != nil {
				return err
			}
			if o.payload != bench.PayloadOpaque && o.payload != bench.PayloadSigned {
				return usageErr("--payload %q: want opaque or signed", o.payload)
			}
			return benchLive(cmd, o, []liveSweep{{sys: &daggerNet{o: &o}, rates: rs}})
		},
	}
	o.flags(c, devnetBasePort)
	c.Flags().StringVar(&rates, "rates", "1000,5000,20000", "offered loads in tx/s across the nodes, comma-separated")
	c.Flags().StringVar(&o.payload, "payload", "opaque", "opaque (application transactions) or signed (the cluster's signed transactions)")
	return c
}

// liveSweep is one system over its rates.
type liveSweep struct {
	sys   liveSystem
	rates []float64
}

// benchLive measures the sweeps' points, interleaved (the first rate of
// each system, then the second...) so that a machine that drifts during
// the run affects them alike, and reports them.
func benchLive(cmd *cobra.Command, o liveOptions, sweeps []liveSweep) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := cmd.ErrOrStderr()
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "dagger-bench-")
		if err != nil {
			return failf(1, "%v", err)
		}
		o.workDir = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	}
	type job struct {
		sys  liveSystem
		rate float64
	}
	var jobs []job
	for i := 0; ; i++ {
		more := false
		for _, s := range sweeps {
			if i < len(s.rates) {
				jobs = append(jobs, job{s.sys, s.rates[i]})
				more = true
			}
		}
		if !more {
			break
		}
	}
	var points []bench.Point
	for i, j := range jobs {
		p, err := livePoint(ctx, o, j.sys, j.rate, fmt.Sprintf("[%d/%d] %s %s n=%d @ %s tx/s", i+1, len(jobs), j.sys.label(), o.payload, o.nodes, fmtRate(j.rate)), stderr)
		if err != nil {
			if len(points) > 0 && o.out != "" {
				_ = writeBenchOut(o.out, points) // what was measured is kept
			}
			return failf(1, "%s at %s tx/s: %v (files in %s)", j.sys.label(), fmtRate(j.rate), err, o.workDir)
		}
		points = append(points, p)
		fmt.Fprintf(stderr, "[%d/%d] %s n=%d @ %s tx/s: %s committed/s, p50 %.0f ms, p99 %.0f ms, %d refused, %d uncommitted, nodes' CPU %.0f%%\n",
			i+1, len(jobs), p.System, p.Nodes, fmtRate(p.OfferedTPS), fmtRate(p.CommittedTPS), p.LatencyMS.P50, p.LatencyMS.P99, p.Refused, p.Uncommitted, p.CPUPercent)
		for _, e := range p.Errors {
			fmt.Fprintf(stderr, "    %s\n", e)
		}
	}
	if err := bench.WriteTable(cmd.OutOrStdout(), points); err != nil {
		return err
	}
	if len(sweeps) > 1 {
		fmt.Fprintln(cmd.OutOrStdout())
		if err := bench.WriteComparison(cmd.OutOrStdout(), points); err != nil {
			return err
		}
	}
	if o.out != "" {
		if err := writeBenchOut(o.out, points); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "results in %s\n", filepath.Join(o.out, "results.jsonl"))
	}
	if o.keep {
		fmt.Fprintf(stderr, "the networks' files are in %s\n", o.workDir)
	}
	return nil
}

func fmtRate(r float64) string { return bench.FormatNumber(r) }

// livePoint measures one point: a fresh network, the generator's process,
// and the sampler beside them.
func livePoint(ctx context.Context, o liveOptions, sys liveSystem, rate float64, title string, stderr io.Writer) (bench.Point, error) {
	dir := filepath.Join(o.workDir, fmt.Sprintf("%s-r%g", sys.label(), rate))
	if err := os.RemoveAll(dir); err != nil {
		return bench.Point{}, err
	}
	fmt.Fprintf(stderr, "%s: starting %d nodes\n", title, o.nodes)
	net, err := sys.start(ctx, dir, stderr)
	if err != nil {
		return bench.Point{}, err
	}
	defer func() {
		if err := net.stop(); err != nil {
			fmt.Fprintf(stderr, "%s: stopping the network: %v\n", title, err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return bench.Point{}, err
	}
	lo := loadOptions{system: sys.label(), targets: strings.Join(net.targets, ","), watch: net.watch, rate: rate,
		duration: o.duration, warmup: o.warmup, drain: o.drain, txSize: o.txSize, payload: o.payload,
		out: filepath.Join(dir, "load.json")}
	gen := exec.CommandContext(ctx, exe, append([]string{"bench", "load"}, lo.args()...)...)
	gen.Stdout = io.Discard
	progress, err := gen.StderrPipe()
	if err != nil {
		return bench.Point{}, err
	}
	started := time.Now()
	if err := gen.Start(); err != nil {
		return bench.Point{}, err
	}
	procs := append(append([]bench.Watched{}, net.procs...), bench.Watched{Name: "load", Role: bench.RoleLoad, PID: gen.Process.Pid})
	sampler := bench.NewSampler(procs)
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sampler.Run(sctx, time.Second)
	}()
	showProgress(progress, stderr, title, (o.duration + o.drain).Seconds())
	werr := gen.Wait()
	stopSampling()
	<-sampled
	if werr != nil {
		return bench.Point{}, fmt.Errorf("the load generator: %v", werr)
	}
	b, err := os.ReadFile(lo.out)
	if err != nil {
		return bench.Point{}, err
	}
	var res bench.LoadResult
	if err := json.Unmarshal(b, &res); err != nil {
		return bench.Point{}, fmt.Errorf("the load generator's result %s: %v", lo.out, err)
	}
	p := bench.PointFromLoad(sys.label(), o.nodes, &res)
	start := time.Unix(0, res.StartUnixNs)
	w, err := sampler.Window(start.Add(time.Duration(res.WarmupSeconds*float64(time.Second))), start.Add(time.Duration(res.LoadSeconds*float64(time.Second))))
	if err != nil {
		p.Errors = append(p.Errors, fmt.Sprintf("process samples: %v", err))
	} else {
		w.Apply(&p)
	}
	sampler.Memory(start).Apply(&p)
	p.WallSeconds = time.Since(started).Round(time.Millisecond).Seconds()
	return p, nil
}

// showProgress reads the generator's stderr: its progress lines become a
// bar (redrawn in place on a terminal, a line every 10 s otherwise), and
// anything else is passed on.
func showProgress(r io.Reader, stderr io.Writer, title string, total float64) {
	tty := false
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	sc := bufio.NewScanner(r)
	last := -10.0
	drawn := false
	for sc.Scan() {
		line := sc.Text()
		var el float64
		var sched, committed, inflight, refused uint64
		if _, err := fmt.Sscanf(line, "progress elapsed=%f scheduled=%d committed=%d inflight=%d refused=%d", &el, &sched, &committed, &inflight, &refused); err != nil {
			if drawn {
				fmt.Fprintln(stderr)
				drawn = false
			}
			fmt.Fprintln(stderr, line)
			continue
		}
		const width = 30
		done := min(width, max(0, int(el/total*width)))
		bar := fmt.Sprintf("%s %s%s %3.0f/%.0f s  committed %s, in flight %s, refused %s", title,
			strings.Repeat("█", done), strings.Repeat("░", width-done), el, total, fmtRate(float64(committed)), fmtRate(float64(inflight)), fmtRate(float64(refused)))
		switch {
		case tty:
			fmt.Fprintf(stderr, "\r\033[K%s", bar)
			drawn = true
		case el-last >= 10:
			fmt.Fprintln(stderr, bar)
			last = el
		}
	}
	if drawn {
		fmt.Fprintln(stderr)
	}
}

// daggerNet starts devnets.
type daggerNet struct{ o *liveOptions }

// benchKeepEpochs is the store.keep_epochs of a benchmark's devnet: ten
// epochs, 5 minutes at the default 30 s. The default, 120 epochs, is an
// hour: an hour's soak would never prune, so it would measure nodes whose
// stores only grow, and its events (20,000 tx/s of 256 bytes, 5 MB/s on
// every node) would take 4 × 18 GB before compression on the one disk.
// Ten epochs hold about 1.7 GB a node, pruning runs at every epoch from
// the fifth minute on, and no node of a benchmark falls minutes behind.
const benchKeepEpochs = 10

func (d *daggerNet) label() string { return "dagger" }

func (d *daggerNet) start(ctx context.Context, dir string, stderr io.Writer) (*liveNet, error) {
	nodes, err := devnetPrepare(devnetOptions{n: d.o.nodes, base: d.o.basePort, dir: dir, prov: "none",
		epochLength: cluster.DefaultEpochLength, opaque: true, pprof: d.o.pprof, keepEpochs: benchKeepEpochs}, "none")
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	stop := func() error {
		if code := devnetStop(nodes, stderr); code != 0 {
			return fmt.Errorf("a node did not stop cleanly: see the logs in %s", dir)
		}
		return nil
	}
	for _, nd := range nodes {
		if err := nd.start(exe); err != nil {
			_ = stop()
			return nil, err
		}
	}
	if err := devnetWaitHealthy(ctx, nodes); err != nil {
		_ = stop()
		return nil, err
	}
	net := &liveNet{stop: stop}
	for i, nd := range nodes {
		u := "http://" + nd.api
		net.targets = append(net.targets, u)
		net.procs = append(net.procs, bench.Watched{Name: fmt.Sprintf("node-%d", i), Role: bench.RoleNode, PID: nd.cmd.Process.Pid, Metrics: u + "/metrics"})
	}
	net.watch = net.targets[0]
	// The load starts once the network commits.
	if err := waitFor(ctx, 60*time.Second, func() (bool, error) {
		var st struct {
			CommitIndex uint64 `json:"commit_index"`
		}
		err := getJSON(ctx, net.watch+"/v1/status", &st)
		return err == nil && st.CommitIndex >= 2, nil
	}); err != nil {
		_ = stop()
		return nil, fmt.Errorf("the devnet did not commit within a minute: see the logs in %s", dir)
	}
	return net, nil
}

// waitFor polls ok every 100 ms until it says yes, fails, or within ends.
func waitFor(ctx context.Context, within time.Duration, ok func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		done, err := ok()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getJSON(ctx context.Context, url string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out)
}
