package sim_test

import (
	"testing"

	"dagger/sim"
	"dagger/sim/scenario"
)

// benchScenario runs a scenario of the library once per iteration and
// reports simulated seconds per wall second.
func benchScenario(b *testing.B, file string, overrides ...scenario.Override) {
	sc, err := scenario.Load("../scenarios/"+file, overrides...)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := sim.Run(sc, sim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !r.Pass() {
			b.Fatalf("%s failed: %+v", file, r.Checks)
		}
	}
	b.ReportMetric(sc.Duration.D().Seconds()*float64(b.N)/b.Elapsed().Seconds(), "sim-s/s")
}

// BenchmarkQuickstart is 4 nodes, 60 simulated seconds, 1000 tx/s, ed25519.
func BenchmarkQuickstart(b *testing.B) { benchScenario(b, "quickstart.yaml") }

// BenchmarkScale100 is 100 nodes, 60 simulated seconds, fast crypto.
func BenchmarkScale100(b *testing.B) { benchScenario(b, "scale-100.yaml") }

// BenchmarkScale100Short is scale-100 for 10 simulated seconds: the
// per-event and per-commit work of 100 nodes (graph insertion and commit,
// the checkers, the stores) without a minute's wait per iteration.
func BenchmarkScale100Short(b *testing.B) {
	benchScenario(b, "scale-100.yaml", scenario.Override{Key: "duration", Value: "10s"})
}
