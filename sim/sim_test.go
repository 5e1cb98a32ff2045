package sim_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dagger/sim"
	"dagger/sim/scenario"
)

func run(t *testing.T, file string, seed uint64) *sim.Report {
	t.Helper()
	return runFile(t, filepath.Join("../scenarios", file), []scenario.Override{{Key: "seed", Value: fmt.Sprint(seed)}})
}

func runFile(t *testing.T, path string, overrides []scenario.Override) *sim.Report {
	t.Helper()
	sc, err := scenario.Load(path, overrides...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sim.Run(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func check(r *sim.Report, name string) sim.Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return sim.Check{Name: name, Detail: "missing"}
}

func failures(r *sim.Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		if !c.Pass {
			fmt.Fprintf(&b, "\n  %s: %s", c.Name, c.Detail)
		}
	}
	return b.String()
}

// TestLibrarySelectionPassesUnderSeveralSeeds runs a fast selection of the
// scenario library, covering each fault and behaviour, with seeds other
// than the defaults `make scenarios` runs.
func TestLibrarySelectionPassesUnderSeveralSeeds(t *testing.T) {
	selection := map[string][]uint64{
		"quickstart.yaml":            {2, 3},
		"byz-equivocate.yaml":        {2, 3},
		"byz-twin.yaml":              {2},
		"byz-bad-parents.yaml":       {2},
		"byz-invalid-signature.yaml": {2},
		"byz-flood.yaml":             {2},
		"byz-replay.yaml":            {2},
		"byz-lazy.yaml":              {2},
		"byz-withhold.yaml":          {2},
		"byz-mute.yaml":              {2},
		"crash-restart.yaml":         {2},
		"crash-lose-state.yaml":      {2, 3},
		"partition-no-quorum.yaml":   {2},
		"one-way.yaml":               {2},
		"slow-node.yaml":             {2},
		"edge-f1-of-4.yaml":          {2, 3},
	}
	for file, seeds := range selection {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", file, seed), func(t *testing.T) {
				t.Parallel()
				if r := run(t, file, seed); !r.Pass() {
					t.Fatalf("failed; replay: dagger sim run scenarios/%s --seed %d%s", file, seed, failures(r))
				}
			})
		}
	}
}

func TestSameSeedSameRunOtherSeedOtherRun(t *testing.T) {
	a, b, c := run(t, "byz-twin.yaml", 4), run(t, "byz-twin.yaml", 4), run(t, "byz-twin.yaml", 5)
	a.WallSeconds, b.WallSeconds = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("one seed, two reports:\n%+v\n%+v", a, b)
	}
	if a.Fingerprint == c.Fingerprint {
		t.Fatal("two seeds, one fingerprint")
	}
}

func TestBehavioursHaveTheirEffect(t *testing.T) {
	for _, tc := range []struct {
		file string
		want func(*sim.Report) bool
		what string
	}{
		{"byz-invalid-signature.yaml", func(r *sim.Report) bool { return r.Invalid > 0 }, "honest nodes reject its events"},
		{"byz-bad-parents.yaml", func(r *sim.Report) bool { return r.Invalid > 0 }, "honest nodes reject its events"},
		{"byz-flood.yaml", func(r *sim.Report) bool { return r.Invalid > 0 }, "honest nodes reject the garbage"},
		{"byz-equivocate.yaml", func(r *sim.Report) bool { return !strings.Contains(check(r, "evidence").Detail, "no equivocation") }, "equivocations are seen"},
		{"byz-twin.yaml", func(r *sim.Report) bool { return !strings.Contains(check(r, "evidence").Detail, "no equivocation") }, "equivocations are seen"},
		{"byz-mute.yaml", func(r *sim.Report) bool { return r.Commits > 0 }, "the others commit without it"},
		{"crash-restart.yaml", func(r *sim.Report) bool { return r.SnapshotStarts == 1 }, "the node restarts from its snapshot"},
		{"crash-lose-state.yaml", func(r *sim.Report) bool { return r.SnapshotStarts == 0 }, "a node that lost its store has no snapshot"},
	} {
		r := run(t, tc.file, 1)
		if !tc.want(r) {
			t.Errorf("%s: expected %s; report %+v", tc.file, tc.what, *r)
		}
	}
}

// TestBeyondTheFaultBoundFailuresAreReported: with f+1 Byzantine nodes of
// 3f+1 the checkers still judge, and what breaks is reported.
func TestBeyondTheFaultBoundFailuresAreReported(t *testing.T) {
	r := run(t, "beyond-bound/mute-f1-of-4.yaml", 1)
	if r.Pass() || check(r, "liveness").Pass || r.Commits != 0 {
		t.Fatalf("two mute nodes of four: want no commit and a failed liveness check, got %+v", r.Checks)
	}
	r = run(t, "beyond-bound/equivocate-f1-of-4.yaml", 1)
	if !check(r, "evidence").Pass || strings.Contains(check(r, "evidence").Detail, "no equivocation") {
		t.Fatalf("two equivocators of four: every equivocation seen must be reported: %+v", r.Checks)
	}
}
