package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"dagger/sim"
	"dagger/sim/scenario"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func runSim(args []string, stdout, stderr io.Writer) int {
	// A run allocates at a high rate and keeps little: trading memory for
	// fewer collections makes large runs markedly faster.
	debug.SetGCPercent(400)
	if len(args) > 0 {
		switch args[0] {
		case "run":
			return runSimRun(args[1:], stdout, stderr)
		case "sweep":
			return runSimSweep(args[1:], stdout, stderr)
		case "fuzz":
			return runSimFuzz(args[1:], stdout, stderr)
		case "shrink":
			return runSimShrink(args[1:], stdout, stderr)
		case "merge":
			return runSimMerge(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: dagger sim run FILE [flags]     run one scenario and check it")
	fmt.Fprintln(stderr, "       dagger sim sweep FILE [flags]   run a grid of seeds and settings in parallel")
	fmt.Fprintln(stderr, "       dagger sim fuzz [flags]         generate adversarial scenarios from seeds, run and shrink failures")
	fmt.Fprintln(stderr, "       dagger sim shrink FILE [flags]  reduce a failing scenario to a minimal one")
	fmt.Fprintln(stderr, "       dagger sim merge FILE...        combine the JSON lines of a campaign's shards")
	fmt.Fprintln(stderr, "Run 'dagger sim <command> -h' for the flags.")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}

// parseFileArgs parses a sim command's flags, which may come before or after
// its one scenario file. On a usage error or -h it reports and returns the
// exit code, with ok false.
func parseFileArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (file string, code int, ok bool) {
	file, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return "", 0, false
	case err != nil:
		fmt.Fprintf(stderr, "dagger %s: %v\n", fs.Name(), err)
		fs.Usage()
		return "", 2, false
	}
	return file, 0, true
}

func parseInterleaved(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("want exactly one scenario file, got %d", len(pos))
	}
	return pos[0], nil
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

func runSimRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.String("seed", "", "seed to run with (default: the scenario's)")
	jsonPath := fs.String("json", "", "write the JSON report to this file ('-' for stdout)")
	tracePath := fs.String("trace", "", "write every delivered message and fault as JSON lines to this file")
	determinism := fs.Bool("check-determinism", false, "run twice and fail unless both runs have the same fingerprint")
	var sets setFlags
	fs.Var(&sets, "set", "override a scenario setting, key=value (repeatable), e.g. --set network.drop=0.05")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger sim run FILE [--seed N] [--set key=value ...] [--json PATH] [--trace PATH] [--check-determinism]")
		fmt.Fprintln(stderr, "Runs a scenario in the deterministic simulator and checks agreement, integrity, liveness and evidence.")
		fmt.Fprintln(stderr, "Exit status: 0 every check passed, 1 a check failed, 2 invalid scenario or arguments.")
		fs.PrintDefaults()
	}
	file, code, ok := parseFileArgs(fs, args, stderr)
	if !ok {
		return code
	}
	if *seed != "" {
		sets = append(sets, "seed="+*seed)
	}
	overrides, err := parseOverrides(sets)
	if err != nil {
		fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
		return 2
	}
	sc, err := scenario.Load(file, overrides...)
	if err != nil {
		fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
		return 2
	}
	opt := sim.Options{}
	if *tracePath != "" {
		f, err := os.Create(*tracePath)
		if err != nil {
			fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
			return 2
		}
		defer f.Close()
		opt.Trace = f
	}
	rep, err := sim.Run(sc, opt)
	if err != nil {
		fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
		return 2
	}
	rep.Overrides = sets
	if *determinism {
		again, err := sim.Run(sc, sim.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
			return 2
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
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, rep, stdout); err != nil {
			fmt.Fprintf(stderr, "dagger sim run: %v\n", err)
			return 2
		}
	}
	if rep.LinearizableFailed() {
		path := historyPath(*jsonPath, sc.Name, sc.Seed)
		if err := rep.WriteHistoryHTML(path); err != nil {
			fmt.Fprintf(stderr, "dagger sim run: write the history's visualization: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "history: %s (open in a browser)\n", path)
		}
	}
	if !rep.Pass() {
		fmt.Fprintf(stdout, "replay: %s\n", replayCommand(file, sc.Seed, sets))
		return 1
	}
	return 0
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
