package sim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
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
		"byz-run-ahead.yaml":         {2},
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

// TestTwinsBeyondTheFaultBoundForkAndTheForkIsReported: with f+1
// Byzantine nodes of 3f+1, each with a twin on the other side of a split
// of the honest nodes, both sides hold a quorum of keys: the honest nodes
// commit different sequences, and agreement reports the fork with each
// side's commit and nodes.
func TestTwinsBeyondTheFaultBoundForkAndTheForkIsReported(t *testing.T) {
	r := run(t, "beyond-bound/twins-fork-f1-of-4.yaml", 1)
	a := check(r, "agreement")
	if a.Pass || !strings.HasPrefix(a.Detail, "fork at commit ") {
		t.Fatalf("agreement must report a fork: %+v", a)
	}
	for _, want := range []string{"side 1 (node 2) committed leader r", "; side 2 (node 3) committed leader r", "; side 2 differs from side 1 in "} {
		if !strings.Contains(a.Detail, want) {
			t.Errorf("agreement detail does not say %q: %s", want, a.Detail)
		}
	}
	if check(r, "state-agreement").Pass {
		t.Errorf("the sides' cluster states must differ too: %+v", r.Checks)
	}
}

// TestTwinsWithinTheFaultBoundCannotFork: with f Byzantine nodes whose
// twins sit on the other side of a split of the honest nodes, only one
// side holds a quorum; every check passes. The trace shows the split held:
// nothing crossed it while it lasted, and the twins talked to their side.
func TestTwinsWithinTheFaultBoundCannotFork(t *testing.T) {
	const file = "twins-split-f2-of-7.yaml"
	sc, err := scenario.Load(filepath.Join("../scenarios", file))
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	r, err := sim.Run(sc, sim.Options{Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pass() {
		t.Fatalf("failed; replay: dagger sim run scenarios/%s%s", file, failures(r))
	}
	if strings.Contains(check(r, "evidence").Detail, "no equivocation") {
		t.Errorf("the twins' equivocations were not seen: %+v", r.Checks)
	}
	// The split is in force from 3 s to the heal at 11 s; give messages
	// sent just before it a moment to land.
	side := map[string]int{"n0": 1, "n1": 1, "n2": 1, "n3": 1, "n4": 1, "n0-twin7": 2, "n1-twin8": 2, "n5": 2, "n6": 2}
	var crossed, twinsToSide int
	lines := bufio.NewScanner(&trace)
	for lines.Scan() {
		var m struct {
			T        int64 `json:"t_us"`
			Type     string
			From, To string
		}
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "deliver" || m.T < 3_500_000 || m.T >= 11_000_000 {
			continue
		}
		if side[m.From] != side[m.To] {
			crossed++
		}
		if strings.Contains(m.From, "twin") && (m.To == "n5" || m.To == "n6") {
			twinsToSide++
		}
	}
	if crossed > 0 || twinsToSide == 0 {
		t.Errorf("during the split %d messages crossed it and the twins sent %d to nodes 5 and 6", crossed, twinsToSide)
	}
}
