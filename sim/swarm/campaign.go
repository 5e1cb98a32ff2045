package swarm

import (
	"context"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"dagger/sim"
)

// Seeds is the part of the seed space a campaign runs: From to To
// inclusive (To 0: no end, for a campaign bounded by time), of which
// shard Shard of Shards takes every Shards-th seed starting at
// From+Shard. The shards of one range cover it exactly, without overlap.
type Seeds struct {
	From, To      uint64
	Shard, Shards uint64
}

// Next returns the seed after seed in the shard (the first one for
// seed 0), and false past the end.
func (s Seeds) Next(seed uint64) (uint64, bool) {
	shards := max(s.Shards, 1)
	next := s.From + s.Shard
	if seed >= next {
		next = seed + shards
	}
	if s.To != 0 && next > s.To || next < seed {
		return 0, false
	}
	return next, true
}

// Count is how many seeds the shard holds, or 0 for an endless range.
func (s Seeds) Count() uint64 {
	if s.To == 0 || s.To < s.From+s.Shard {
		return 0
	}
	return (s.To-s.From-s.Shard)/max(s.Shards, 1) + 1
}

// Result is one run of a campaign.
type Result struct {
	Seed     uint64
	Case     *Case // nil if the generator failed
	Report   *sim.Report
	Err      string // the generator's error or the simulator's panic
	Duration time.Duration
}

// Failed lists what failed: the failed checks' names, or "error".
func (r *Result) Failed() []string {
	if r.Err != "" {
		return []string{"error"}
	}
	var out []string
	for _, c := range r.Report.Checks {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// Pass says whether the run passed every check.
func (r *Result) Pass() bool { return len(r.Failed()) == 0 }

// RunCase runs one generated case, turning a panic of the simulator into
// an error: a campaign reports it as a failure and goes on.
func RunCase(c *Case) (rep *sim.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("simulator panic: %v\n%s", p, debug.Stack())
		}
	}()
	return sim.Run(c.Scenario, sim.Options{})
}

// Campaign runs the generated scenarios of a seed range on jobs workers
// until the range or the context ends (a timed campaign cancels the
// context), and hands each result to done, in the order they finish, on
// one goroutine. A run in progress when the context ends is finished.
func Campaign(ctx context.Context, seeds Seeds, opt Options, jobs int, done func(Result)) {
	work := make(chan uint64)
	results := make(chan Result)
	var wg sync.WaitGroup
	for range max(jobs, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range work {
				results <- runSeed(seed, opt)
			}
		}()
	}
	go func() {
		defer close(work)
		for seed, ok := seeds.Next(0); ok; seed, ok = seeds.Next(seed) {
			select {
			case <-ctx.Done():
				return
			case work <- seed:
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	for r := range results {
		done(r)
	}
}

func runSeed(seed uint64, opt Options) Result {
	start := time.Now()
	r := Result{Seed: seed}
	c, err := Generate(seed, opt)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Case = c
	r.Report, err = RunCase(c)
	if err != nil {
		r.Err = err.Error()
	}
	r.Duration = time.Since(start)
	return r
}

// CoverageTally sums the coverage of a campaign's runs.
type CoverageTally struct {
	Runs   int
	Points []PointTally
}

// PointTally is one coverage point over a campaign: in how many runs it
// was reached, and how often in all.
type PointTally struct {
	Name  string
	What  string
	Runs  int
	Count uint64
}

// NewCoverageTally returns an empty tally of every point sim.Coverage
// lists.
func NewCoverageTally() *CoverageTally {
	t := &CoverageTally{}
	for _, p := range sim.Coverage {
		t.Points = append(t.Points, PointTally{Name: p.Name, What: p.What})
	}
	return t
}

// Add counts one run's coverage.
func (t *CoverageTally) Add(cov map[string]uint64) {
	t.Runs++
	for i := range t.Points {
		if n := cov[t.Points[i].Name]; n > 0 {
			t.Points[i].Runs++
			t.Points[i].Count += n
		}
	}
}

// Missed lists the points no run reached.
func (t *CoverageTally) Missed() []string {
	var out []string
	for _, p := range t.Points {
		if p.Runs == 0 {
			out = append(out, p.Name)
		}
	}
	return out
}

// CheckCount is how many runs failed one check.
type CheckCount struct {
	Check string
	Runs  int
}

// FailureCounts counts, per failed check, the runs that failed it, sorted
// by check name.
func FailureCounts(failed [][]string) []CheckCount {
	m := map[string]int{}
	for _, f := range failed {
		for _, c := range f {
			m[c]++
		}
	}
	var out []CheckCount
	for _, c := range slices.Sorted(maps.Keys(m)) {
		out = append(out, CheckCount{c, m[c]})
	}
	return out
}
