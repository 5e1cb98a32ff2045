package swarm_test

import (
	"reflect"
	"slices"
	"testing"

	"dagger/sim/scenario"
	"dagger/sim/swarm"
)

// TestGeneratedScenariosAreValidAndWithinTheBound: every seed gives a
// scenario that parses back from its file to itself and keeps the faulty
// weight below a third; with BeyondBound, one that crosses it.
func TestGeneratedScenariosAreValidAndWithinTheBound(t *testing.T) {
	seeds := []uint64{
		2291, // a twin listed twice put its twin endpoint in a partition group twice
	}
	for seed := uint64(1); seed <= 150; seed++ {
		seeds = append(seeds, seed)
	}
	for _, seed := range seeds {
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

// TestEncodeKeepsBackupsAndRestores: a scenario's backups and restarts on
// a backup survive Encode, which leaves out only what Parse fills in.
func TestEncodeKeepsBackupsAndRestores(t *testing.T) {
	const doc = `name: t
duration: 30s
nodes: 4
faults:
  - {at: 2s, backup: [1, 3]}
  - {at: 5s, crash: [1]}
  - {at: 6s, restart: [1], restore_backup: true}
  - {at: 7s, backup: [1]}
  - {at: 8s, crash: [3]}
  - {at: 9s, restart: [3]}
`
	sc, err := scenario.Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := swarm.Encode(sc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := scenario.Parse(enc, "again.yaml")
	if err != nil {
		t.Fatalf("its file does not parse: %v\n%s", err, enc)
	}
	if !reflect.DeepEqual(again, sc) {
		t.Fatalf("the file parses to another scenario:\n%s", enc)
	}
	if f := again.Faults; !slices.Equal(f[0].Backup, []int{1, 3}) || !f[2].RestoreBackup || f[5].RestoreBackup {
		t.Fatalf("faults %+v", f)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for i := range b.N {
		if _, err := swarm.Generate(uint64(i%50+1), swarm.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
