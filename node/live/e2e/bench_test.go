package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCompareCometBFT: 'dagger bench compare cometbft' installs the
// pinned CometBFT (once, into the user's cache), runs a point of each
// system with the same load generator, and reports both in one table
// with what each sustained and the ratio. The figures are not checked,
// only that both systems were measured the same way.
func TestBenchCompareCometBFT(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "bench", "compare", "cometbft", "--nodes", "4", "--rates", "300", "--cometbft-rates", "300",
		"--duration", "4s", "--drain", "15s", "--base-port", "19700", "--cometbft-base-port", "19200", "--dir", filepath.Join(dir, "nets"), "--out", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	text := string(b)
	for _, want := range []string{"| dagger | opaque | 4 | 300 |", "| cometbft | opaque | 4 | 300 |", "| series | sustained tx/s |"} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %q in:\n%s", want, text)
		}
	}
	f, err := os.Open(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	systems := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p struct {
			System    string  `json:"system"`
			Committed uint64  `json:"committed"`
			Submitted uint64  `json:"submitted"`
			CPU       float64 `json:"cpu_percent"`
			Latency   struct {
				N   int     `json:"n"`
				P50 float64 `json:"p50"`
			} `json:"latency_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		systems[p.System] = true
		if p.Committed == 0 || p.Submitted == 0 || p.Latency.N == 0 || p.Latency.P50 <= 0 || p.CPU <= 0 {
			t.Errorf("%s: %+v", p.System, p)
		}
	}
	if !systems["dagger"] || !systems["cometbft"] || len(systems) != 2 {
		t.Fatalf("systems %v", systems)
	}
	for _, name := range []string{"compare.md", "throughput.png", "latency.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}
