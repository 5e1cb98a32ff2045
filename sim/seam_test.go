package sim_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSeam pins the layout to the architecture (see go doc ./node): the
// graph imports nothing of the project but its binary codec, and neither the simulator nor the
// code both runtimes share reaches anything under node/live.
func TestSeam(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var own []string
		for _, p := range strings.Fields(string(out)) {
			if p == "dagger" || strings.HasPrefix(p, "dagger/") {
				own = append(own, p)
			}
		}
		return own
	}
	for _, p := range deps("dagger/graph") {
		if p != "dagger/graph" && p != "dagger/graph/codec" {
			t.Errorf("graph imports %s; it must stay pure", p)
		}
	}
	for _, pkg := range []string{"dagger/sim/...", "dagger/node", "dagger/node/cluster", "dagger/node/tx", "dagger/node/payment"} {
		for _, p := range deps(pkg) {
			if strings.HasPrefix(p, "dagger/node/live") || strings.HasPrefix(p, "dagger/graph/graphtest") {
				t.Errorf("%s reaches %s, which only the live node (or the graph's tests) may use", pkg, p)
			}
		}
	}
}
