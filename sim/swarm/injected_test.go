//go:build daggerbug

package swarm_test

import (
	"context"
	"testing"
	"time"

	"dagger/sim/swarm"
)

// TestInjectedBugIsFoundAndShrunk runs with the daggerbug tag, which
// breaks the linearizer's deduplication (graph/bug_on.go): a generated
// campaign must find the bug (integrity fails) and the shrinker must cut
// the failing scenario down to a small file that still fails integrity.
func TestInjectedBugIsFoundAndShrunk(t *testing.T) {
	start := time.Now()
	var found *swarm.Result
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	swarm.Campaign(ctx, swarm.Seeds{From: 1, To: 40}, swarm.Options{}, 2, func(r swarm.Result) {
		runs++
		for _, c := range r.Failed() {
			if c == "integrity" && found == nil {
				found = &r
				cancel()
			}
		}
	})
	if found == nil {
		t.Fatalf("a campaign of %d runs did not find the injected bug", runs)
	}
	t.Logf("found by seed %d after %d runs in %v", found.Seed, runs, time.Since(start).Round(time.Second))
	start = time.Now()
	res, err := swarm.Shrink(found.Case.Scenario, swarm.ShrinkOptions{Jobs: 2, MaxRuns: 200, Check: "integrity"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Check != "integrity" {
		t.Fatalf("shrunk while %s kept failing, want integrity", res.Check)
	}
	t.Logf("shrunk in %d runs and %v: %s -> %s", res.Runs, time.Since(start).Round(time.Second), res.Before, res.After)
	for _, s := range res.Steps {
		t.Logf("  %s", s)
	}
	t.Logf("%s", res.File)
	if res.After.Nodes > 4 || res.After.Faults > 2 || res.After.Byzantine > 1 {
		t.Errorf("the minimal scenario is not small: %s", res.After)
	}
}
