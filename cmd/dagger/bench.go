package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dagger/bench"
)

func newBenchCmd() *cobra.Command {
	c := group("bench", "measure consensus throughput and latency (bench live, sim, compare, load, report)", "")
	c.AddCommand(newBenchLiveCmd(), newBenchSimCmd(), newBenchCompareCmd(), newBenchLoadCmd(), newBenchReportCmd())
	return c
}

func newBenchReportCmd() *cobra.Command {
	var (
		out   string
		nodes int
	)
	c := &cobra.Command{
		Use:   "report --out DIR RESULTS.jsonl…",
		Short: "one table and one set of pictures from several sweeps' results",
		Long: `Reads the results.jsonl of sweeps ('dagger bench live', 'sim' and 'compare') and writes them together:
the markdown table to stdout and, with --out DIR, DIR/results.jsonl, DIR/table.md and the pictures,
every series on the same charts, so that the simulator's prediction and the real run, or two
systems, are read side by side. With more than one system, what each sustained and the ratios
follow the table.`,
		Example: `  dagger bench report --out docs/bench docs/bench/live/results.jsonl docs/bench/sim/results.jsonl`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var points []bench.Point
			systems := map[string]bool{}
			for _, a := range args {
				f, err := os.Open(a)
				if err != nil {
					return failf(1, "%v", err)
				}
				ps, err := bench.ReadJSONL(f)
				f.Close()
				if err != nil {
					return failf(1, "%s: %v", a, err)
				}
				for _, p := range ps {
					if nodes == 0 || p.Nodes == nodes {
						systems[p.System] = true
						points = append(points, p)
					}
				}
			}
			if len(points) == 0 {
				return failf(1, "no points in %s", strings.Join(args, ", "))
			}
			w := cmd.OutOrStdout()
			if err := bench.WriteTable(w, points); err != nil {
				return err
			}
			if len(systems) > 1 {
				fmt.Fprintln(w)
				if err := bench.WriteComparison(w, points); err != nil {
					return err
				}
			}
			if out != "" {
				return writeBenchOut(out, points)
			}
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "directory for results.jsonl, table.md and the pictures")
	c.Flags().IntVar(&nodes, "nodes", 0, "only the points of this committee size (default: all)")
	return c
}

func newBenchSimCmd() *cobra.Command {
	var (
		nodes, rates, crypto, out string
		delta, duration, drain    time.Duration
		txSize                    int
		seed                      uint64
	)
	c := &cobra.Command{
		Use:   "sim [--nodes N[,N…]] [--rates R[,R…]] [--delta D] [--duration D] [--tx-size B] [--out DIR]",
		Short: "a throughput and latency sweep in the simulator",
		Long: `Runs one simulated cluster per committee size and offered rate: an open-loop Poisson load of
opaque transactions on a network of constant latency δ, for --duration, then --drain for what is
in flight. Reports committed tx/s, latency from each transaction's scheduled send to its commit
(p50, p90, p99, max; gonum/stat over every transaction), the same in units of δ, and each leader's
commit latency in δ (the Mysticeti-C family commits a leader in about 3δ and a transaction in
about 4.5δ on average). Every run is checked for agreement, integrity, liveness and evidence.
The markdown table goes to stdout, progress to stderr. With --out DIR: DIR/results.jsonl (one
JSON object per point), DIR/table.md, the pictures (throughput, latency, cdf, and the last point's
run-throughput and run-latency per second; PNG and SVG) and
DIR/scenarios/, each point's scenario for 'dagger sim run'.
Exit status: 0 measured, 1 a run failed a safety check (anything but liveness, which an
overloaded point may fail), 2 invalid arguments.`,
		Example: `  dagger bench sim --nodes 4,10 --rates 1000,10000,50000 --delta 100ms --duration 30s --out bin/bench-sim`,
		Args:    flagsOnly,
		RunE: func(cmd *cobra.Command, _ []string) error {
			prepareSimHeap(1)
			cfg := bench.SimConfig{Delta: delta, Duration: duration, Drain: drain, TxSize: txSize, Crypto: crypto, Seed: seed, Dir: out}
			var err error
			if cfg.Nodes, err = parseList(nodes, "--nodes", strconv.Atoi); err != nil {
				return err
			}
			if cfg.Rates, err = parseList(rates, "--rates", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }); err != nil {
				return err
			}
			if !cmd.Flags().Changed("drain") {
				cfg.Drain = max(5*time.Second, 30*delta)
			}
			stderr := cmd.ErrOrStderr()
			points, err := bench.Sim(cfg, func(done, total int, p bench.Point) {
				fmt.Fprintf(stderr, "[%d/%d] %d nodes, %s tx/s offered: %.0f committed, p50 %.0f ms (%.2fδ), leader %.2fδ, %.1fs wall\n",
					done, total, p.Nodes, strconv.FormatFloat(p.OfferedTPS, 'f', -1, 64), p.CommittedTPS, p.LatencyMS.P50, p.LatencyD.P50, p.LeaderD.Mean, p.WallSeconds)
			})
			if err != nil {
				return failf(2, "%v", err)
			}
			if err := bench.WriteTable(cmd.OutOrStdout(), points); err != nil {
				return err
			}
			if out != "" {
				if err := writeBenchOut(out, points); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "results in %s\n", filepath.Join(out, "results.jsonl"))
			}
			for _, p := range points {
				for _, f := range p.Failed {
					if f != "liveness" {
						how := "rerun with --out DIR and 'dagger sim run' its scenario to see why"
						if out != "" {
							how = "'dagger sim run " + p.Scenario + "' shows why"
						}
						return failf(1, "%d nodes at %g tx/s failed the %s check: %s", p.Nodes, p.OfferedTPS, f, how)
					}
				}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&nodes, "nodes", "4", "committee sizes, comma-separated")
	f.StringVar(&rates, "rates", "1000,5000,20000", "offered loads in tx/s across the cluster, comma-separated")
	f.DurationVar(&delta, "delta", 100*time.Millisecond, "the network's constant one-way latency δ")
	f.DurationVar(&duration, "duration", 30*time.Second, "the load window of each point")
	f.DurationVar(&drain, "drain", 0, "time after the load for what is in flight to commit (default: 30δ, at least 5s)")
	f.IntVar(&txSize, "tx-size", 256, "bytes per transaction")
	f.StringVar(&crypto, "crypto", "fast", "signatures: fast (a cheap stand-in) or ed25519")
	f.Uint64Var(&seed, "seed", 1, "the simulations' seed")
	f.StringVar(&out, "out", "", "directory for results.jsonl, table.md, the pictures and the scenarios")
	return c
}

// parseList reads a comma-separated list of at most 100 values.
func parseList[T any](s, flag string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for part := range strings.SplitSeq(s, ",") {
		v, err := parse(strings.TrimSpace(part))
		if err != nil {
			return nil, usageErr("%s %q: %q is not a number", flag, s, part)
		}
		out = append(out, v)
	}
	if len(out) > 100 {
		return nil, usageErr("%s: %d values, at most 100", flag, len(out))
	}
	return out, nil
}

func writeBenchOut(dir string, points []bench.Point) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(*os.File) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("results.jsonl", func(f *os.File) error { return bench.WriteJSONL(f, points) }); err != nil {
		return err
	}
	if err := write("table.md", func(f *os.File) error { return bench.WriteTable(f, points) }); err != nil {
		return err
	}
	systems := map[string]bool{}
	for _, p := range points {
		systems[p.System] = true
	}
	if len(systems) > 1 {
		if err := write("compare.md", func(f *os.File) error { return bench.WriteComparison(f, points) }); err != nil {
			return err
		}
	}
	if m := points[len(points)-1].Memory(); len(m.Samples) > 0 {
		if err := write("memory.csv", func(f *os.File) error { return m.WriteCSV(f) }); err != nil {
			return err
		}
	}
	_, err := bench.WritePlots(dir, points)
	return err
}
