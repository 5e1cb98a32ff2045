package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dagger/sim/swarm"
)

func newSimShrinkCmd() *cobra.Command {
	var seed, out, check string
	var maxRuns, jobs int
	var sets []string
	c := &cobra.Command{
		Use:   "shrink FILE [--check NAME] [--seed N] [--set key=value ...] [--out PATH] [--max-runs N] [--jobs N]",
		Short: "reduce a failing scenario to a minimal one",
		Long: `Reduces a failing scenario while the same check keeps failing: drops faults, Byzantine entries and nodes,
shortens the run, lowers rates, simplifies the network and parameters, tries smaller seeds; writes the result.
Exit status: 0 shrunk and written, 1 the scenario does not fail (nothing to shrink), 2 invalid scenario or arguments.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := oneScenario(args)
			if err != nil {
				return err
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			sc, err := loadScenario(file, seed, sets)
			if err != nil {
				return err
			}
			if out == "" {
				out = minPath(file)
			}
			prepareSimHeap(max(jobs, 1))
			start := time.Now()
			res, err := swarm.Shrink(sc, swarm.ShrinkOptions{MaxRuns: maxRuns, Jobs: jobs, Check: check,
				Progress: func(step string) { fmt.Fprintf(stderr, "  %s\n", step) }})
			if err != nil {
				if strings.Contains(err.Error(), "nothing to shrink") {
					return failf(1, "%v", err)
				}
				return failf(2, "%v", err)
			}
			if err := os.WriteFile(out, res.File, 0o644); err != nil {
				return failf(2, "%v", err)
			}
			reportShrunk(stdout, res, out, time.Since(start))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&seed, "seed", "", "seed to run with (default: the scenario's)")
	f.StringVar(&out, "out", "", "where to write the minimal scenario (default: FILE with .min.yaml for .yaml)")
	f.IntVar(&maxRuns, "max-runs", swarm.DefaultShrinkRuns, "at most this many simulator runs")
	f.IntVar(&jobs, "jobs", runtime.GOMAXPROCS(0), "candidates run at a time (the result does not depend on it)")
	f.StringVar(&check, "check", "", "the check that must keep failing (default: the first that fails)")
	f.StringArrayVar(&sets, "set", nil, "override a scenario setting before shrinking, `key=value` (repeatable)")
	return c
}

// minPath is where the minimal form of a scenario file goes.
func minPath(file string) string {
	return strings.TrimSuffix(file, filepath.Ext(file)) + ".min.yaml"
}

func reportShrunk(w io.Writer, res *swarm.Shrunk, path string, took time.Duration) {
	fmt.Fprintf(w, "shrunk while %s kept failing, in %d runs (%v):\n", res.Check, res.Runs, took.Round(time.Second))
	fmt.Fprintf(w, "  before: %s\n  after:  %s\n", res.Before, res.After)
	for _, s := range res.Steps {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	detail := res.Detail
	if i := strings.IndexByte(detail, '\n'); i >= 0 {
		detail = detail[:i]
	}
	fmt.Fprintf(w, "  %s: %s\n", res.Check, detail)
	fmt.Fprintf(w, "wrote %s; replay: dagger sim run %s\n", path, shellQuote(path))
}

// shrinkFailures shrinks the first max failures of a campaign, writing
// each next to the failing scenario.
func shrinkFailures(stdout, stderr io.Writer, failures []swarm.Result, dir string, max int) {
	n := 0
	for _, r := range failures {
		if r.Case == nil || max > 0 && n >= max {
			continue
		}
		n++
		fmt.Fprintf(stdout, "shrinking seed %d (%s):\n", r.Seed, strings.Join(r.Failed(), ","))
		start := time.Now()
		res, err := swarm.Shrink(r.Case.Scenario, swarm.ShrinkOptions{Jobs: runtime.GOMAXPROCS(0)})
		if err != nil {
			fmt.Fprintf(stdout, "  could not shrink: %v\n", err)
			continue
		}
		path := filepath.Join(dir, r.Case.Scenario.Name+".min.yaml")
		if err := os.WriteFile(path, res.File, 0o644); err != nil {
			fmt.Fprintf(stderr, "dagger sim fuzz: %v\n", err)
			continue
		}
		reportShrunk(stdout, res, path, time.Since(start))
	}
	if skipped := len(failures) - n; skipped > 0 && max > 0 {
		fmt.Fprintf(stdout, "%d more failures not shrunk (--shrink-max %d); dagger sim shrink FILE shrinks one\n", skipped, max)
	}
}
