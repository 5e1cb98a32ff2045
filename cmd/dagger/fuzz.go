package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"dagger/sim/swarm"
)

type fuzzOptions struct {
	seeds           string
	budget          time.Duration
	jobs            int
	out             string
	shard           string
	shards          uint64
	beyond          bool
	noShrink        bool
	shrinkMax       int
	requireCoverage bool
}

func newSimFuzzCmd() *cobra.Command {
	var o fuzzOptions
	c := &cobra.Command{
		Use:   "fuzz [--seeds A-B | --time D] [--jobs N] [--out DIR] [--shard I/N] [--beyond-bound] [--no-shrink]",
		Short: "generate adversarial scenarios from seeds, run and shrink failures",
		Long: `Generates a scenario from each seed (swarm testing within the fault bound, ending with a liveness phase),
runs them in parallel, writes one JSON line per run to DIR/results.jsonl as it finishes, writes each
failing scenario to DIR and shrinks it to DIR/<name>.min.yaml, and reports coverage.
Exit status: 0 every run passed, 1 a run failed (or, with --require-coverage, a point was never reached), 2 bad arguments.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return failf(2, "unexpected argument %q: fuzz generates its scenarios; to run a file use dagger sim run", args[0])
			}
			return simFuzz(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.seeds, "seeds", "", "seeds to generate and run, A-B inclusive (default 1-100 unless --time)")
	f.DurationVar(&o.budget, "time", 0, "run seeds from the first of --seeds (default 1) upward for this long, e.g. 10m")
	f.IntVar(&o.jobs, "jobs", runtime.GOMAXPROCS(0), "runs at a time")
	f.StringVar(&o.out, "out", "fuzz-out", "directory for results.jsonl and the failing scenarios")
	f.StringVar(&o.shard, "shard", "", "I/N: run only the I-th of N interleaved shares of the seeds (0 <= I < N); default from JOB_COMPLETION_INDEX with --shards")
	f.Uint64Var(&o.shards, "shards", 0, "N, with the shard index taken from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	f.BoolVar(&o.beyond, "beyond-bound", false, "cross the fault bound on purpose: the checkers must report what breaks")
	f.BoolVar(&o.noShrink, "no-shrink", false, "do not shrink the failures")
	f.IntVar(&o.shrinkMax, "shrink-max", 0, "shrink at most this many failures, the first ones found (0: every failure)")
	f.BoolVar(&o.requireCoverage, "require-coverage", false, "fail (exit 1) if a coverage point was never reached")
	return c
}

func simFuzz(stdout, stderr io.Writer, o fuzzOptions) error {
	fail := func(err error) error { return failf(2, "%v", err) }
	if o.jobs < 1 {
		return fail(fmt.Errorf("--jobs must be at least 1"))
	}
	// A campaign runs for long and holds its runs' state at once: the
	// collector works to keep it near 3 GiB a job (a soft limit) instead
	// of the single run's generous setting.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(int64(o.jobs) * 3 << 30)
	rng := swarm.Seeds{From: 1, To: 100}
	if o.seeds != "" {
		lo, hi, err := parseSeeds(o.seeds)
		if err != nil {
			return fail(err)
		}
		rng = swarm.Seeds{From: lo, To: hi}
	}
	if o.budget > 0 {
		if o.seeds != "" && strings.Contains(o.seeds, "-") {
			return fail(fmt.Errorf("--time runs from one seed upward: give --seeds A (the first seed) or nothing"))
		}
		rng.To = 0
	}
	if rng.From == 0 {
		return fail(fmt.Errorf("seeds start at 1"))
	}
	var err error
	if rng.Shard, rng.Shards, err = parseShard(o.shard, o.shards); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fail(err)
	}
	resultsPath := filepath.Join(o.out, "results.jsonl")
	if rng.Shards > 1 {
		resultsPath = filepath.Join(o.out, fmt.Sprintf("results-shard%d.jsonl", rng.Shard))
	}
	f, err := os.Create(resultsPath)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.budget)
		defer cancel()
	}
	opt := swarm.Options{BeyondBound: o.beyond}
	start := time.Now()
	total := rng.Count()
	tally := swarm.NewCoverageTally()
	var failures []swarm.Result
	var failedChecks [][]string
	var writeErr error
	runs := 0
	swarm.Campaign(ctx, rng, opt, o.jobs, func(r swarm.Result) {
		runs++
		file := ""
		if !r.Pass() {
			failures = append(failures, r)
			failedChecks = append(failedChecks, r.Failed())
			if r.Case != nil {
				file = filepath.Join(o.out, r.Case.Scenario.Name+".yaml")
				if err := os.WriteFile(file, r.Case.File, 0o644); err != nil && writeErr == nil {
					writeErr = err
				}
			}
		}
		if r.Report != nil {
			tally.Add(r.Report.Coverage)
		}
		b, err := json.Marshal(r.Line(file))
		if err == nil {
			_, err = w.Write(append(b, '\n'))
		}
		if err == nil {
			err = w.Flush() // an interrupted campaign keeps every finished run
		}
		if err != nil && writeErr == nil {
			writeErr = err
		}
		fuzzProgress(stderr, runs, total, len(failures), time.Since(start), o.budget)
	})
	fmt.Fprintln(stderr)
	if writeErr != nil {
		return fail(fmt.Errorf("write results: %w", writeErr))
	}
	interrupted := ctx.Err() != nil && (o.budget == 0 || time.Since(start) < o.budget)
	wall := time.Since(start).Round(time.Second)

	printFailures(stdout, failures)
	printCoverage(stdout, tally)
	missed := tally.Missed()
	what := "generated runs"
	if o.beyond {
		what = "runs beyond the fault bound"
	}
	fmt.Fprintf(stdout, "%d %s, %d failed, in %v on %d jobs; results in %s\n", runs, what, len(failures), wall, o.jobs, resultsPath)
	if interrupted {
		fmt.Fprintln(stdout, "interrupted: the results above are the runs that finished")
	}
	for _, c := range swarm.FailureCounts(failedChecks) {
		fmt.Fprintf(stdout, "  %s failed in %d runs\n", c.Check, c.Runs)
	}
	if len(missed) > 0 {
		fmt.Fprintf(stdout, "coverage: %d points never reached: %s\n", len(missed), strings.Join(missed, ", "))
	}
	if len(failures) > 0 && !o.noShrink && !interrupted {
		shrinkFailures(stdout, stderr, failures, o.out, o.shrinkMax)
	}
	if len(failures) > 0 {
		fmt.Fprintln(stdout, "replay the failures with:")
		for _, r := range failures {
			if r.Case != nil {
				fmt.Fprintf(stdout, "  dagger sim run %s\n", shellQuote(filepath.Join(o.out, r.Case.Scenario.Name+".yaml")))
			} else {
				fmt.Fprintf(stdout, "  seed %d: %s\n", r.Seed, r.Err)
			}
		}
	}
	switch {
	case len(failures) > 0 && !o.beyond:
		return exitCode(1)
	case o.beyond && hasErrors(failures):
		return exitCode(1)
	case o.requireCoverage && len(missed) > 0:
		return exitCode(1)
	}
	return nil
}

// hasErrors says whether a run errored (generator or simulator bug),
// which even a campaign beyond the bound must not do.
func hasErrors(rs []swarm.Result) bool {
	for _, r := range rs {
		if r.Err != "" {
			return true
		}
	}
	return false
}

// parseShard reads --shard I/N, or takes I from JOB_COMPLETION_INDEX
// when only --shards N is given.
func parseShard(shard string, shards uint64) (uint64, uint64, error) {
	if shard != "" {
		a, b, ok := strings.Cut(shard, "/")
		i, err1 := strconv.ParseUint(a, 10, 64)
		n, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || n == 0 || i >= n {
			return 0, 0, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 3/8", shard)
		}
		if shards != 0 && shards != n {
			return 0, 0, fmt.Errorf("--shard %s and --shards %d disagree", shard, shards)
		}
		return i, n, nil
	}
	if shards == 0 {
		return 0, 1, nil
	}
	env := os.Getenv("JOB_COMPLETION_INDEX")
	i, err := strconv.ParseUint(env, 10, 64)
	if err != nil || i >= shards {
		return 0, 0, fmt.Errorf("--shards %d needs JOB_COMPLETION_INDEX between 0 and %d (set by a Kubernetes Indexed Job), or --shard I/N; it is %q", shards, shards-1, env)
	}
	return i, shards, nil
}

func fuzzProgress(w io.Writer, done int, total uint64, failed int, elapsed, budget time.Duration) {
	const width = 30
	frac := 0.0
	switch {
	case total > 0:
		frac = float64(done) / float64(total)
	case budget > 0:
		frac = min(1, float64(elapsed)/float64(budget))
	}
	n := int(frac * width)
	of := ""
	if total > 0 {
		of = fmt.Sprintf("/%d", total)
	}
	fmt.Fprintf(w, "\r[%s%s] %d%s runs, %d failed, %v", strings.Repeat("#", n), strings.Repeat(".", width-n), done, of, failed, elapsed.Round(time.Second))
}

func printFailures(w io.Writer, failures []swarm.Result) {
	if len(failures) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "seed\tnodes\tbyz\tfailed checks\tdetail")
	for _, r := range failures {
		nodes, byz, detail := "", "", r.Err
		if r.Case != nil {
			nodes, byz = fmt.Sprint(r.Case.Scenario.Nodes), fmt.Sprint(r.Case.Scenario.ByzantineCount())
		}
		if r.Report != nil {
			for _, c := range r.Report.Checks {
				if !c.Pass {
					detail = c.Detail
					break
				}
			}
		}
		if i := strings.IndexByte(detail, '\n'); i >= 0 {
			detail = detail[:i]
		}
		if len(detail) > 100 {
			detail = detail[:97] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Seed, nodes, byz, strings.Join(r.Failed(), ","), detail)
	}
	tw.Flush()
}

func printCoverage(w io.Writer, t *swarm.CoverageTally) {
	if t.Runs == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "coverage point\truns\tcount\t")
	for _, p := range t.Points {
		flag := ""
		if p.Runs == 0 {
			flag = "NEVER REACHED: " + p.What
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", p.Name, p.Runs, p.Count, flag)
	}
	tw.Flush()
}
