package sim_test

import (
	"path/filepath"
	"testing"
)

// TestRegressionsPass runs every scenario in scenarios/regressions with
// its own seed: each is a failure a generated campaign or a report found,
// shrunk to a small file, kept so that the bug stays fixed.
func TestRegressionsPass(t *testing.T) {
	files, err := filepath.Glob("../scenarios/regressions/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no regression scenarios found")
	}
	for _, path := range files {
		file, _ := filepath.Rel("../scenarios", path)
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			r := runFile(t, path, nil)
			if !r.Pass() {
				t.Fatalf("failed; replay: dagger sim run scenarios/%s%s", file, failures(r))
			}
		})
	}
}
