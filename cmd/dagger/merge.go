package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dagger/sim/swarm"
)

func newSimMergeCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "merge FILE... [--out PATH]",
		Short: "combine the JSON lines of a campaign's shards",
		Long: `Combines the JSON lines of a campaign's shards (dagger sim fuzz --shard I/N) into one table,
one list of failures and one coverage report; a seed run by two shards is an error.
Exit status: 0 every run passed, 1 a run failed, 2 unreadable input or overlapping shards.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("want one or more JSON lines files")
			}
			return simMerge(cmd.OutOrStdout(), args, out)
		},
	}
	c.Flags().StringVar(&out, "out", "", "also write the merged runs, by seed, as one JSON lines file")
	return c
}

func simMerge(stdout io.Writer, files []string, out string) error {
	fail := func(err error) error { return failf(2, "%v", err) }
	var lines []swarm.Line
	from := map[uint64]string{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return fail(err)
		}
		ls, err := swarm.ReadLines(f, path)
		f.Close()
		if err != nil {
			return fail(err)
		}
		for _, l := range ls {
			if prev, dup := from[l.Seed]; dup {
				return fail(fmt.Errorf("seed %d is in %s and in %s: the shards overlap", l.Seed, prev, path))
			}
			from[l.Seed] = path
		}
		lines = append(lines, ls...)
	}
	slices.SortFunc(lines, func(a, b swarm.Line) int { return cmp.Compare(a.Seed, b.Seed) })
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return fail(err)
		}
		w := bufio.NewWriter(f)
		for _, l := range lines {
			b, err := json.Marshal(l)
			if err != nil {
				f.Close()
				return fail(err)
			}
			w.Write(append(b, '\n'))
		}
		err = w.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(err)
		}
	}

	tally := swarm.NewCoverageTally()
	var failed []swarm.Line
	var failedChecks [][]string
	var wall float64
	for _, l := range lines {
		wall += l.WallSeconds
		if l.Report != nil {
			tally.Add(l.Report.Coverage)
		}
		if l.Verdict != "pass" {
			failed = append(failed, l)
			failedChecks = append(failedChecks, l.Failed)
		}
	}
	if len(failed) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "seed\tscenario\tfailed checks\treplay")
		for _, l := range failed {
			replay := l.Replay
			if replay == "" {
				replay = l.Error
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.Seed, l.Scenario, strings.Join(l.Failed, ","), replay)
		}
		tw.Flush()
	}
	printCoverage(stdout, tally)
	lo, hi := uint64(0), uint64(0)
	if len(lines) > 0 {
		lo, hi = lines[0].Seed, lines[len(lines)-1].Seed
	}
	fmt.Fprintf(stdout, "%d runs from %d files (seeds %d to %d, %d missing in between), %d failed; %.0f s of run time\n",
		len(lines), len(files), lo, hi, hi-lo+1-uint64(len(lines)), len(failed), wall)
	for _, c := range swarm.FailureCounts(failedChecks) {
		fmt.Fprintf(stdout, "  %s failed in %d runs\n", c.Check, c.Runs)
	}
	if missed := tally.Missed(); len(missed) > 0 {
		fmt.Fprintf(stdout, "coverage: %d points never reached: %s\n", len(missed), strings.Join(missed, ", "))
	}
	if len(failed) > 0 {
		return exitCode(1)
	}
	return nil
}
