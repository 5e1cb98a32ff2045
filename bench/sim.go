package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"dagger/sim"
	"dagger/sim/scenario"
)

// SimConfig is a sweep in the simulator.
type SimConfig struct {
	// Nodes are the committee sizes, Rates the offered loads (tx/s across
	// the cluster); every pair is a point.
	Nodes []int
	Rates []float64
	// Delta is the constant one-way network latency.
	Delta time.Duration
	// Duration is the load window; Drain the time after it in which what
	// was submitted may still commit. The liveness check asks every
	// transaction to commit within Drain of its submission.
	Duration, Drain time.Duration
	TxSize          int
	// Crypto is the scenario's crypto: "ed25519", or "fast" for a cheap
	// stand-in that lets large committees run quickly.
	Crypto string
	Seed   uint64
	// Dir, when set, receives each point's scenario file
	// (scenarios/n<N>-r<R>.yaml) so that `dagger sim run` reproduces it.
	Dir string
}

// Limits on a simulated sweep, so that a typo does not run for days.
const (
	MaxSimPoints = 200
	MaxSimNodes  = 200
)

func (c *SimConfig) check() error {
	switch {
	case len(c.Nodes) == 0 || len(c.Rates) == 0:
		return fmt.Errorf("a sweep needs at least one committee size and one rate")
	case len(c.Nodes)*len(c.Rates) > MaxSimPoints:
		return fmt.Errorf("%d points (%d sizes × %d rates), at most %d", len(c.Nodes)*len(c.Rates), len(c.Nodes), len(c.Rates), MaxSimPoints)
	case c.Delta <= 0:
		return fmt.Errorf("delta %v: want a positive latency", c.Delta)
	case c.Duration <= 0 || c.Drain <= 0:
		return fmt.Errorf("duration %v and drain %v: want both positive", c.Duration, c.Drain)
	case c.TxSize < 8:
		return fmt.Errorf("tx size %d: at least 8 bytes (each transaction starts with its sequence number)", c.TxSize)
	}
	for _, n := range c.Nodes {
		if n < 1 || n > MaxSimNodes {
			return fmt.Errorf("%d nodes: want 1..%d", n, MaxSimNodes)
		}
	}
	for _, r := range c.Rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("rate %v: want a positive number of tx/s", r)
		}
	}
	return nil
}

// scenarioYAML is the scenario of one point: n honest nodes, a constant
// latency, an open-loop load of opaque transactions for the load window,
// then the drain. The run is checked like any other.
func (c *SimConfig) scenarioYAML(n int, rate float64) string {
	return fmt.Sprintf(`name: bench-n%d-r%s
description: dagger bench sim, %d nodes at %s tx/s with a constant latency of %v
seed: %d
duration: %s
nodes: %d
crypto: %s
network:
  latency: {dist: constant, value: %s}
workload: {rate: %s, tx_size: %d, until: %s}
expect:
  liveness: {within: %s}
`, n, rateName(rate), n, rateName(rate), c.Delta, c.Seed, c.Duration+c.Drain, n, c.Crypto, c.Delta,
		rateName(rate), c.TxSize, c.Duration, c.Drain)
}

func rateName(r float64) string { return fmt.Sprintf("%g", r) }

// Sim runs the sweep: committee sizes in order, each over the rates in
// order. progress, if set, hears each point as it is measured. A point
// whose run fails a check is reported with the names of the checks; only
// a scenario the simulator refuses is an error.
func Sim(cfg SimConfig, progress func(done, total int, p Point)) ([]Point, error) {
	if cfg.Crypto == "" {
		cfg.Crypto = scenario.CryptoFast
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Dir != "" {
		if err := mkdir(filepath.Join(cfg.Dir, "scenarios")); err != nil {
			return nil, err
		}
	}
	total := len(cfg.Nodes) * len(cfg.Rates)
	var out []Point
	for _, n := range cfg.Nodes {
		for _, rate := range cfg.Rates {
			p, err := cfg.point(n, rate)
			if err != nil {
				return out, err
			}
			out = append(out, p)
			if progress != nil {
				progress(len(out), total, p)
			}
		}
	}
	return out, nil
}

func (c *SimConfig) point(n int, rate float64) (Point, error) {
	doc := c.scenarioYAML(n, rate)
	name := fmt.Sprintf("n%d-r%s.yaml", n, rateName(rate))
	if c.Dir != "" {
		path := filepath.Join(c.Dir, "scenarios", name)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			return Point{}, err
		}
		name = path
	}
	sc, err := scenario.Parse([]byte(doc), name)
	if err != nil {
		return Point{}, err
	}
	resetPeakRSS()
	before := usage()
	start := time.Now()
	r, err := sim.Run(sc, sim.Options{})
	if err != nil {
		return Point{}, err
	}
	wall := time.Since(start)
	after := usage()

	tx, at := r.TxLatencies(), r.TxCommitTimes()
	lat := make([]float64, len(tx))
	commitAt := make([]float64, len(at))
	for i, v := range at {
		commitAt[i] = v.Seconds()
	}
	latD := make([]float64, len(tx))
	d := float64(c.Delta)
	for i, v := range tx {
		lat[i] = float64(v) / 1e6
		latD[i] = float64(v) / d
	}
	var leaderD []float64
	for _, v := range r.LeaderLatencies() {
		leaderD = append(leaderD, float64(v)/d)
	}
	load := c.Duration.Seconds()
	p := Point{
		System: "dagger-sim", Payload: "opaque", Nodes: n, TxSize: c.TxSize,
		OfferedTPS: rate, CommittedTPS: round3(float64(r.CommittedTxs) / load),
		Submitted: r.SubmittedTxs, Committed: r.CommittedTxs, Uncommitted: r.SubmittedTxs - min(r.CommittedTxs, r.SubmittedTxs),
		LatencyMS: Summarize(lat), LoadSeconds: load,
		WallSeconds: round3(wall.Seconds()), RSSMiB: round3(float64(after.maxRSSKiB) / 1024),
		CPUPercent:    round3(100 * (after.cpu - before.cpu).Seconds() / wall.Seconds()),
		EventsPerSec:  round3(float64(r.Events) / r.SimSeconds),
		CommitsPerSec: round3(float64(r.Commits) / r.SimSeconds),
		BytesPerSec:   round3(float64(r.Bytes) / r.SimSeconds),
		DeltaMS:       float64(c.Delta) / 1e6,
		Seed:          r.Seed, Scenario: name, Fingerprint: r.Fingerprint,
		latencies: lat, commitAt: commitAt,
	}
	ld, lead := Summarize(latD), Summarize(leaderD)
	p.LatencyD, p.LeaderD = &ld, &lead
	for _, ch := range r.Checks {
		if !ch.Pass {
			p.Failed = append(p.Failed, ch.Name)
		}
	}
	return p, nil
}

// resetPeakRSS returns what the last run no longer needs to the system
// and restarts the kernel's count of peak resident memory (VmHWM), so
// that each point reports its own peak. Where that cannot be done the
// peak is the process's so far.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSKiB is VmHWM from /proc/self/status, or 0.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

type rusage struct {
	cpu       time.Duration
	maxRSSKiB int64
}

// usage is this process's CPU time so far and its peak resident memory.
func usage() rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return rusage{}
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	u := rusage{cpu: tv(ru.Utime) + tv(ru.Stime), maxRSSKiB: ru.Maxrss}
	if hwm := peakRSSKiB(); hwm > 0 {
		u.maxRSSKiB = hwm
	}
	return u
}
