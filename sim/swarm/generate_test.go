package swarm_test

import (
	"testing"

	"dagger/sim/scenario"
	"dagger/sim/swarm"
)

// TestGeneratedScenariosAreValidAndWithinTheBound: every seed gives a
// scenario that parses back from its file to itself and keeps the faulty
// weight below a third; with BeyondBound, one that crosses it.
func TestGeneratedScenariosAreValidAndWithinTheBound(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		for _, beyond := range []bool{false, true} {
			c, err := swarm.Generate(seed, swarm.Options{BeyondBound: beyond})
			if err != nil {
				t.Fatal(err)
			}
			sc := c.Scenario
			if b := swarm.Audit(sc); b.Within() == beyond {
				t.Fatalf("seed %d beyond=%v: %s", seed, beyond, b)
			}
			enc, err := swarm.Encode(sc)
			if err != nil {
				t.Fatal(err)
			}
			again, err := scenario.Parse(enc, "again.yaml")
			if err != nil {
				t.Fatalf("seed %d: its file does not parse: %v\n%s", seed, err, enc)
			}
			enc2, _ := swarm.Encode(again)
			if string(enc2) != string(enc) {
				t.Fatalf("seed %d: the file is not stable:\n%s\n---\n%s", seed, enc, enc2)
			}
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for i := range b.N {
		if _, err := swarm.Generate(uint64(i%50+1), swarm.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
