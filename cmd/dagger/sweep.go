package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"

	"dagger/sim"
	"dagger/sim/scenario"
)

const maxSweepRuns = 100_000

// cell is one run of a sweep: a seed and one value for every swept key.
type cell struct {
	seed uint64
	sets []string // key=value, in the order the keys were given
}

func runSimSweep(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.String("seeds", "1-10", "seeds to run, A-B inclusive")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "runs at a time")
	out := fs.String("out", "", "JSON lines file, one report per run (default: <scenario name>-sweep.jsonl)")
	var sets setFlags
	fs.Var(&sets, "set", "sweep a setting over values, key=v1,v2,... (repeatable; the grid is every combination)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger sim sweep FILE --seeds A-B [--set key=v1,v2 ...] [--jobs N] [--out PATH]")
		fmt.Fprintln(stderr, "Runs a scenario for every seed and combination of settings, in parallel, and lists the replay command of each failure.")
		fmt.Fprintln(stderr, "Exit status: 0 every run passed, 1 a run failed, 2 invalid scenario or arguments.")
		fs.PrintDefaults()
	}
	file, code, ok := parseFileArgs(fs, args, stderr)
	if !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dagger sim sweep: %v\n", err)
		return 2
	}
	lo, hi, err := parseSeeds(*seeds)
	if err != nil {
		return fail(err)
	}
	if *jobs < 1 {
		return fail(fmt.Errorf("--jobs must be at least 1"))
	}
	grid := []cell{{}}
	for _, s := range sets {
		key, values, ok := strings.Cut(s, "=")
		if !ok || key == "" || values == "" {
			return fail(fmt.Errorf("--set %q: want key=v1,v2 (any number of values)", s))
		}
		var next []cell
		for _, c := range grid {
			for _, v := range strings.Split(values, ",") {
				next = append(next, cell{sets: append(append([]string(nil), c.sets...), key+"="+v)})
			}
		}
		grid = next
	}
	var cells []cell
	for _, c := range grid {
		for seed := lo; seed <= hi; seed++ {
			cells = append(cells, cell{seed: seed, sets: c.sets})
		}
	}
	if len(cells) > maxSweepRuns {
		return fail(fmt.Errorf("%d runs, at most %d", len(cells), maxSweepRuns))
	}
	// Every cell's scenario is loaded before anything runs, so a bad value
	// is reported at once rather than after an hour of runs.
	scs := make([]*scenario.Scenario, len(cells))
	for i, c := range cells {
		overrides, err := parseOverrides(append(append([]string(nil), c.sets...), fmt.Sprintf("seed=%d", c.seed)))
		if err != nil {
			return fail(err)
		}
		if scs[i], err = scenario.Load(file, overrides...); err != nil {
			return fail(err)
		}
	}
	if *out == "" {
		*out = scs[0].Name + "-sweep.jsonl"
	}
	f, err := os.Create(*out)
	if err != nil {
		return fail(err)
	}
	defer f.Close()

	reports := make([]*sim.Report, len(cells))
	errs := make([]error, len(cells))
	work := make(chan int)
	done := make(chan int)
	var wg sync.WaitGroup
	for range min(*jobs, len(cells)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				reports[i], errs[i] = sim.Run(scs[i], sim.Options{})
				done <- i
			}
		}()
	}
	go func() {
		for i := range cells {
			work <- i
		}
		close(work)
		wg.Wait()
		close(done)
	}()
	failed := 0
	finished := 0
	for i := range done {
		finished++
		if errs[i] != nil || !reports[i].Pass() {
			failed++
		}
		progress(stderr, finished, len(cells), failed)
	}
	fmt.Fprintln(stderr)

	w := bufio.NewWriter(f)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "seed\tsettings\tverdict\tcommits\ttx/s\tp50 ms\tp99 ms\tfailed checks")
	var replays []string
	for i, c := range cells {
		if errs[i] != nil {
			fmt.Fprintf(tw, "%d\t%s\terror\t\t\t\t\t%v\n", c.seed, strings.Join(c.sets, " "), errs[i])
			replays = append(replays, replayCommand(file, c.seed, c.sets))
			continue
		}
		r := reports[i]
		r.Overrides = c.sets
		b, _ := json.Marshal(r)
		w.Write(append(b, '\n'))
		var bad []string
		for _, ch := range r.Checks {
			if !ch.Pass {
				bad = append(bad, ch.Name)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.1f\t%.0f\t%.0f\t%s\n", c.seed, strings.Join(c.sets, " "), r.Verdict,
			r.Commits, r.CommitTPS, r.LatencyMS.P50, r.LatencyMS.P99, strings.Join(bad, ","))
		if !r.Pass() {
			replays = append(replays, replayCommand(file, c.seed, c.sets))
		}
	}
	tw.Flush()
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%d runs, %d failed; reports in %s\n", len(cells), failed, *out)
	if failed > 0 {
		fmt.Fprintln(stdout, "replay the failures with:")
		for _, r := range replays {
			fmt.Fprintf(stdout, "  %s\n", r)
		}
		return 1
	}
	return 0
}

func progress(w io.Writer, done, total, failed int) {
	const width = 30
	n := done * width / total
	fmt.Fprintf(w, "\r[%s%s] %d/%d runs, %d failed", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, failed)
}
