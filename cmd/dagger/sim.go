package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"dagger/sim"
	"dagger/sim/scenario"
)

func newSimCmd() *cobra.Command {
	c := group("sim", "run scenarios in the deterministic simulator (sim run|sweep|fuzz|shrink|merge)", "")
	c.PersistentPreRun = func(*cobra.Command, []string) { prepareSimHeap(1) }
	c.AddCommand(newSimRunCmd(), newSimSweepCmd(), newSimFuzzCmd(), newSimShrinkCmd(), newSimMergeCmd())
	return c
}

// simMemoryLimit is the soft memory limit of one simulation (GOMEMLIMIT
// overrides it): the collector keeps its default pace, and works harder
// as the process nears the limit, which keeps the largest scenario,
// scale-100, under a gigabyte.
const simMemoryLimit = 768 << 20

// prepareSimHeap sets the soft memory limit for runs simulations at a
// time, and asks for huge pages for the first simHugeHeap bytes of heap.
func prepareSimHeap(runs int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(runs) * simMemoryLimit)
	}
	adviseHugeHeap(simHugeHeap)
}

// simHugeHeap is how much of the heap adviseHugeHeap covers: a quick start
// peaks near 70 MiB of heap, and memory advised but never touched costs
// nothing.
const simHugeHeap = 256 << 20

// oneScenario is the one scenario file a sim command takes.
func oneScenario(args []string) (string, error) {
	if len(args) != 1 {
		return "", usageErr("want exactly one scenario file, got %d", len(args))
	}
	return args[0], nil
}

func parseOverrides(sets []string) ([]scenario.Override, error) {
	var out []scenario.Override
	for _, s := range sets {
		o, err := scenario.ParseOverride(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func newSimRunCmd() *cobra.Command {
	var o simRunOpts
	c := &cobra.Command{
		Use:   "run FILE [--seed N] [--set key=value ...] [--json PATH] [--trace PATH] [--check-determinism] [--cpuprofile PATH] [--memprofile PATH]",
		Short: "run one scenario and check it",
		Long: `Runs a scenario in the deterministic simulator and checks agreement, integrity, liveness and evidence.
Exit status: 0 every check passed, 1 a check failed, 2 invalid scenario or arguments.

The Go collector works to keep a run under 768 MiB (a soft limit; set GOMEMLIMIT
to choose another).

--cpuprofile and --memprofile write Go profiles of the run (of the first run with
--check-determinism) for 'go tool pprof': where the simulator spends its time, and
what it holds when simulated time ends (inuse_space) and allocated in all
(alloc_space), e.g.
  dagger sim run scenarios/scale-100.yaml --cpuprofile cpu.out --memprofile mem.out
  go tool pprof -top cpu.out; go tool pprof -sample_index=inuse_space -top mem.out`,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := oneScenario(args)
			if err != nil {
				return err
			}
			return simRun(cmd.OutOrStdout(), cmd.ErrOrStderr(), file, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.seed, "seed", "", "seed to run with (default: the scenario's)")
	f.StringVar(&o.jsonPath, "json", "", "write the JSON report to this file ('-' for stdout)")
	f.StringVar(&o.tracePath, "trace", "", "write every delivered message and fault as JSON lines to this file")
	f.BoolVar(&o.determinism, "check-determinism", false, "run twice and fail unless both runs have the same fingerprint")
	f.StringArrayVar(&o.sets, "set", nil, "override a scenario setting, `key=value` (repeatable), e.g. --set network.drop=0.05")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&o.memProfile, "memprofile", "", "write a heap profile, taken when simulated time ends, to this file")
	return c
}

// simRunOpts are the flags of sim run.
type simRunOpts struct {
	seed, jsonPath, tracePath string
	cpuProfile, memProfile    string
	determinism               bool
	sets                      []string
}

// loadScenario loads a scenario file with --seed and --set applied; its
// errors are bad usage (exit status 2).
func loadScenario(file, seed string, sets []string) (*scenario.Scenario, error) {
	if seed != "" {
		sets = append(sets, "seed="+seed)
	}
	overrides, err := parseOverrides(sets)
	if err != nil {
		return nil, failf(2, "%v", err)
	}
	sc, err := scenario.Load(file, overrides...)
	if err != nil {
		return nil, failf(2, "%v", err)
	}
	return sc, nil
}

func simRun(stdout, stderr io.Writer, file string, o simRunOpts) error {
	jsonPath, sets := o.jsonPath, o.sets
	sc, err := loadScenario(file, o.seed, sets)
	if err != nil {
		return err
	}
	opt := sim.Options{}
	if o.tracePath != "" {
		f, err := os.Create(o.tracePath)
		if err != nil {
			return failf(2, "%v", err)
		}
		defer f.Close()
		opt.Trace = f
	}
	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return failf(2, "%v", err)
		}
		defer f.Close()
		opt.HeapProfile = f
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return failf(2, "%v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return failf(2, "--cpuprofile: %v", err)
		}
	}
	rep, err := sim.Run(sc, opt)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return failf(2, "%v", err)
	}
	rep.Overrides = sets
	if o.determinism {
		again, err := sim.Run(sc, sim.Options{})
		if err != nil {
			return failf(2, "%v", err)
		}
		c := sim.Check{Name: "determinism", Pass: again.Fingerprint == rep.Fingerprint,
			Detail: "two runs of the same seed have fingerprint " + rep.Fingerprint[:16]}
		if !c.Pass {
			c.Detail = fmt.Sprintf("two runs of the same seed differ: fingerprints %s and %s", rep.Fingerprint[:16], again.Fingerprint[:16])
			rep.Verdict = "fail"
		}
		rep.Checks = append(rep.Checks, c)
	}
	rep.Summary(stdout)
	if jsonPath != "" {
		if err := writeJSON(jsonPath, rep, stdout); err != nil {
			return failf(2, "%v", err)
		}
	}
	if rep.LinearizableFailed() {
		path := historyPath(jsonPath, sc.Name, sc.Seed)
		if err := rep.WriteHistoryHTML(path); err != nil {
			fmt.Fprintf(stderr, "dagger sim run: write the history's visualization: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "history: %s (open in a browser)\n", path)
		}
	}
	if !rep.Pass() {
		fmt.Fprintf(stdout, "replay: %s\n", replayCommand(file, sc.Seed, sets))
		return exitCode(1)
	}
	return nil
}

// historyPath is where the visualization of a failed linearizability
// check goes: next to the JSON report, or in the working directory.
func historyPath(jsonPath, name string, seed uint64) string {
	if jsonPath != "" && jsonPath != "-" {
		return strings.TrimSuffix(jsonPath, filepath.Ext(jsonPath)) + ".history.html"
	}
	return fmt.Sprintf("%s-seed%d.history.html", name, seed)
}

// replayCommand is the command line that reruns exactly one run.
func replayCommand(file string, seed uint64, sets []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dagger sim run %s --seed %d", shellQuote(file), seed)
	for _, s := range sets {
		if !strings.HasPrefix(s, "seed=") {
			fmt.Fprintf(&b, " --set %s", shellQuote(s))
		}
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ',' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeJSON(path string, v any, stdout io.Writer) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// parseSeeds reads "A-B" or "A".
func parseSeeds(s string) (uint64, uint64, error) {
	a, b, found := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("--seeds %q: want A-B, e.g. 1-20", s)
	}
	hi := lo
	if found {
		if hi, err = strconv.ParseUint(b, 10, 64); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("--seeds %q: want A-B with A <= B, e.g. 1-20", s)
		}
	}
	if hi-lo >= maxSweepRuns {
		return 0, 0, fmt.Errorf("--seeds %q: at most %d seeds", s, maxSweepRuns)
	}
	return lo, hi, nil
}
