package swarm_test

import (
	"context"
	"strings"
	"testing"

	"dagger/sim/swarm"
)

// TestShortCampaignPasses runs a short fixed-seed campaign of generated
// scenarios within the fault bound: every run must pass every check.
// `make fuzz-sim` and `dagger sim fuzz` run long ones.
func TestShortCampaignPasses(t *testing.T) {
	seeds := swarm.Seeds{From: 1, To: 12}
	if testing.Short() {
		seeds.To = 4
	}
	tally := swarm.NewCoverageTally()
	swarm.Campaign(context.Background(), seeds, swarm.Options{}, 2, func(r swarm.Result) {
		if r.Report != nil {
			tally.Add(r.Report.Coverage)
		}
		if !r.Pass() {
			detail := r.Err
			if r.Report != nil {
				for _, c := range r.Report.Checks {
					if !c.Pass {
						detail += "\n  " + c.Name + ": " + c.Detail
					}
				}
			}
			t.Errorf("seed %d failed %s; replay: dagger sim fuzz --seeds %d-%d%s", r.Seed, strings.Join(r.Failed(), ","), r.Seed, r.Seed, detail)
		}
	})
	if tally.Runs != int(seeds.Count()) {
		t.Fatalf("%d runs, want %d", tally.Runs, seeds.Count())
	}
}
