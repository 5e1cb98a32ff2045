package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
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

	"dagger/sim/swarm"
)

func runSimFuzz(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim fuzz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.String("seeds", "", "seeds to generate and run, A-B inclusive (default 1-100 unless --time)")
	budget := fs.Duration("time", 0, "run seeds from the first of --seeds (default 1) upward for this long, e.g. 10m")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "runs at a time")
	out := fs.String("out", "fuzz-out", "directory for results.jsonl and the failing scenarios")
	shard := fs.String("shard", "", "I/N: run only the I-th of N interleaved shares of the seeds (0 <= I < N); default from JOB_COMPLETION_INDEX with --shards")
	shards := fs.Uint64("shards", 0, "N, with the shard index taken from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	beyond := fs.Bool("beyond-bound", false, "cross the fault bound on purpose: the checkers must report what breaks")
	noShrink := fs.Bool("no-shrink", false, "do not shrink the failures")
	shrinkMax := fs.Int("shrink-max", 0, "shrink at most this many failures, the first ones found (0: every failure)")
	requireCoverage := fs.Bool("require-coverage", false, "fail (exit 1) if a coverage point was never reached")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger sim fuzz [--seeds A-B | --time D] [--jobs N] [--out DIR] [--shard I/N] [--beyond-bound] [--no-shrink]")
		fmt.Fprintln(stderr, "Generates a scenario from each seed (swarm testing within the fault bound, ending with a liveness phase),")
		fmt.Fprintln(stderr, "runs them in parallel, writes one JSON line per run to DIR/results.jsonl as it finishes, writes each")
		fmt.Fprintln(stderr, "failing scenario to DIR and shrinks it to DIR/<name>.min.yaml, and reports coverage.")
		fmt.Fprintln(stderr, "Exit status: 0 every run passed, 1 a run failed (or, with --require-coverage, a point was never reached), 2 bad arguments.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dagger sim fuzz: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q: fuzz generates its scenarios; to run a file use dagger sim run", fs.Arg(0)))
	}
	if *jobs < 1 {
		return fail(fmt.Errorf("--jobs must be at least 1"))
	}
	// A campaign runs for long and holds its runs' state at once: the
	// collector works to keep it near 3 GiB a job (a soft limit) instead
	// of the single run's generous setting.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(int64(*jobs) * 3 << 30)
	rng := swarm.Seeds{From: 1, To: 100}
	if *seeds != "" {
		lo, hi, err := parseSeeds(*seeds)
		if err != nil {
			return fail(err)
		}
		rng = swarm.Seeds{From: lo, To: hi}
	}
	if *budget > 0 {
		if *seeds != "" && strings.Contains(*seeds, "-") {
			return fail(fmt.Errorf("--time runs from one seed upward: give --seeds A (the first seed) or nothing"))
		}
		rng.To = 0
	}
	if rng.From == 0 {
		return fail(fmt.Errorf("seeds start at 1"))
	}
	var err error
	if rng.Shard, rng.Shards, err = parseShard(*shard, *shards); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail(err)
	}
	resultsPath := filepath.Join(*out, "results.jsonl")
	if rng.Shards > 1 {
		resultsPath = filepath.Join(*out, fmt.Sprintf("results-shard%d.jsonl", rng.Shard))
	}
	f, err := os.Create(resultsPath)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *budget)
		defer cancel()
	}
	opt := swarm.Options{BeyondBound: *beyond}
	start := time.Now()
	total := rng.Count()
	tally := swarm.NewCoverageTally()
	var failures []swarm.Result
	var failedChecks [][]string
	var writeErr error
	runs := 0
	swarm.Campaign(ctx, rng, opt, *jobs, func(r swarm.Result) {
		runs++
		file := ""
		if !r.Pass() {
			failures = append(failures, r)
			failedChecks = append(failedChecks, r.Failed())
			if r.Case != nil {
				file = filepath.Join(*out, r.Case.Scenario.Name+".yaml")
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
		fuzzProgress(stderr, runs, total, len(failures), time.Since(start), *budget)
	})
	fmt.Fprintln(stderr)
	if writeErr != nil {
		return fail(fmt.Errorf("write results: %w", writeErr))
	}
	interrupted := ctx.Err() != nil && (*budget == 0 || time.Since(start) < *budget)
	wall := time.Since(start).Round(time.Second)

	printFailures(stdout, failures)
	printCoverage(stdout, tally)
	missed := tally.Missed()
	what := "generated runs"
	if *beyond {
		what = "runs beyond the fault bound"
	}
	fmt.Fprintf(stdout, "%d %s, %d failed, in %v on %d jobs; results in %s\n", runs, what, len(failures), wall, *jobs, resultsPath)
	if interrupted {
		fmt.Fprintln(stdout, "interrupted: the results above are the runs that finished")
	}
	for _, c := range swarm.FailureCounts(failedChecks) {
		fmt.Fprintf(stdout, "  %s failed in %d runs\n", c.Check, c.Runs)
	}
	if len(missed) > 0 {
		fmt.Fprintf(stdout, "coverage: %d points never reached: %s\n", len(missed), strings.Join(missed, ", "))
	}
	if len(failures) > 0 && !*noShrink && !interrupted {
		shrinkFailures(stdout, stderr, failures, *out, *shrinkMax)
	}
	if len(failures) > 0 {
		fmt.Fprintln(stdout, "replay the failures with:")
		for _, r := range failures {
			if r.Case != nil {
				fmt.Fprintf(stdout, "  dagger sim run %s\n", shellQuote(filepath.Join(*out, r.Case.Scenario.Name+".yaml")))
			} else {
				fmt.Fprintf(stdout, "  seed %d: %s\n", r.Seed, r.Err)
			}
		}
	}
	switch {
	case len(failures) > 0 && !*beyond:
		return 1
	case *beyond && hasErrors(failures):
		return 1
	case *requireCoverage && len(missed) > 0:
		return 1
	}
	return 0
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
