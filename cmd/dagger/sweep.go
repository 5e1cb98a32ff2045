package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dagger/sim"
	"dagger/sim/scenario"
)

const maxSweepRuns = 100_000

// cell is one run of a sweep: a seed and one value for every swept key.
type cell struct {
	seed uint64
	sets []string // key=value, in the order the keys were given
}

func newSimSweepCmd() *cobra.Command {
	var seeds, out string
	var jobs int
	var sets []string
	c := &cobra.Command{
		Use:   "sweep FILE --seeds A-B [--set key=v1,v2 ...] [--jobs N] [--out PATH]",
		Short: "run a grid of seeds and settings in parallel",
		Long: `Runs a scenario for every seed and combination of settings, in parallel, and lists the replay command of each failure.
Exit status: 0 every run passed, 1 a run failed, 2 invalid scenario or arguments.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := oneScenario(args)
			if err != nil {
				return err
			}
			return simSweep(cmd.OutOrStdout(), cmd.ErrOrStderr(), file, seeds, jobs, out, sets)
		},
	}
	f := c.Flags()
	f.StringVar(&seeds, "seeds", "1-10", "seeds to run, A-B inclusive")
	f.IntVar(&jobs, "jobs", runtime.GOMAXPROCS(0), "runs at a time")
	f.StringVar(&out, "out", "", "JSON lines file, one report per run (default: <scenario name>-sweep.jsonl)")
	f.StringArrayVar(&sets, "set", nil, "sweep a setting over values, `key=v1,v2,...` (repeatable; the grid is every combination)")
	return c
}

func simSweep(stdout, stderr io.Writer, file, seeds string, jobs int, outPath string, sets []string) error {
	fail := func(err error) error { return failf(2, "%v", err) }
	lo, hi, err := parseSeeds(seeds)
	if err != nil {
		return fail(err)
	}
	if jobs < 1 {
		return fail(fmt.Errorf("--jobs must be at least 1"))
	}
	prepareSimHeap(jobs)
	// The grid's size is known before it is built: a sweep over too many
	// runs is refused before it takes any memory.
	type axis struct {
		key    string
		values []string
	}
	var axes []axis
	points := 1
	for _, s := range sets {
		key, values, ok := strings.Cut(s, "=")
		if !ok || key == "" || values == "" {
			return fail(fmt.Errorf("--set %q: want key=v1,v2 (any number of values)", s))
		}
		a := axis{key, strings.Split(values, ",")}
		if len(a.values) > maxSweepRuns/points {
			return fail(fmt.Errorf("the grid of --set values has more than %d points, at most %d runs", maxSweepRuns, maxSweepRuns))
		}
		points *= len(a.values)
		axes = append(axes, a)
	}
	nseeds := hi - lo + 1
	if nseeds == 0 || nseeds > uint64(maxSweepRuns/points) {
		return fail(fmt.Errorf("%d seeds of %d settings each: more than %d runs", nseeds, points, maxSweepRuns))
	}
	total := points * int(nseeds)
	// settingsAt returns the settings of grid point p, the first key
	// varying slowest.
	settingsAt := func(p int) []string {
		out := make([]string, len(axes))
		for k := len(axes) - 1; k >= 0; k-- {
			n := len(axes[k].values)
			out[k] = axes[k].key + "=" + axes[k].values[p%n]
			p /= n
		}
		return out
	}
	// cell i runs grid point i/nseeds with seed lo + i%nseeds.
	cellAt := func(i int) cell { return cell{seed: lo + uint64(i)%nseeds, sets: settingsAt(i / int(nseeds))} }
	load := func(c cell) (*scenario.Scenario, error) {
		overrides, err := parseOverrides(append(slices.Clone(c.sets), fmt.Sprintf("seed=%d", c.seed)))
		if err != nil {
			return nil, err
		}
		return scenario.Load(file, overrides...)
	}
	// Every grid point's scenario is loaded before anything runs, so a bad
	// value is reported at once rather than after an hour of runs.
	var first *scenario.Scenario
	for p := range points {
		sc, err := load(cell{seed: lo, sets: settingsAt(p)})
		if err != nil {
			return fail(err)
		}
		if first == nil {
			first = sc
		}
	}
	if outPath == "" {
		outPath = first.Name + "-sweep.jsonl"
	}
	f, err := os.Create(outPath)
	if err != nil {
		return fail(err)
	}
	defer f.Close()

	// Runs finish in any order; their results are written in the grid's
	// order as soon as every earlier one is in, so a run's report is held
	// only until then, never all of them to the end.
	type result struct {
		report *sim.Report
		err    error
	}
	work := make(chan int)
	done := make(chan struct {
		i int
		result
	})
	var wg sync.WaitGroup
	for range min(jobs, total) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var r result
				var sc *scenario.Scenario
				if sc, r.err = load(cellAt(i)); r.err == nil {
					r.report, r.err = sim.Run(sc, sim.Options{})
				}
				done <- struct {
					i int
					result
				}{i, r}
			}
		}()
	}
	go func() {
		for i := range total {
			work <- i
		}
		close(work)
		wg.Wait()
		close(done)
	}()

	w := bufio.NewWriter(f)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "seed\tsettings\tverdict\tcommits\ttx/s\tp50 ms\tp99 ms\tfailed checks")
	var replays []string
	emit := func(c cell, r result) {
		if r.err != nil {
			fmt.Fprintf(tw, "%d\t%s\terror\t\t\t\t\t%v\n", c.seed, strings.Join(c.sets, " "), r.err)
			replays = append(replays, replayCommand(file, c.seed, c.sets))
			return
		}
		rep := r.report
		rep.Overrides = c.sets
		b, _ := json.Marshal(rep)
		w.Write(append(b, '\n'))
		var bad []string
		for _, ch := range rep.Checks {
			if !ch.Pass {
				bad = append(bad, ch.Name)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.1f\t%.0f\t%.0f\t%s\n", c.seed, strings.Join(c.sets, " "), rep.Verdict,
			rep.Commits, rep.CommitTPS, rep.LatencyMS.P50, rep.LatencyMS.P99, strings.Join(bad, ","))
		if !rep.Pass() {
			replays = append(replays, replayCommand(file, c.seed, c.sets))
		}
	}
	waiting := map[int]result{}
	next, failed, finished := 0, 0, 0
	for d := range done {
		finished++
		if d.err != nil || !d.report.Pass() {
			failed++
		}
		progress(stderr, finished, total, failed)
		waiting[d.i] = d.result
		for r, ok := waiting[next]; ok; r, ok = waiting[next] {
			delete(waiting, next)
			emit(cellAt(next), r)
			next++
		}
	}
	fmt.Fprintln(stderr)
	tw.Flush()
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "%d runs, %d failed; reports in %s\n", total, failed, outPath)
	if failed > 0 {
		fmt.Fprintln(stdout, "replay the failures with:")
		for _, r := range replays {
			fmt.Fprintf(stdout, "  %s\n", r)
		}
		return exitCode(1)
	}
	return nil
}

func progress(w io.Writer, done, total, failed int) {
	const width = 30
	n := done * width / total
	fmt.Fprintf(w, "\r[%s%s] %d/%d runs, %d failed", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, failed)
}
