package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagger/bench"
)

// TestBenchSimWritesItsResults: a short sweep prints its table, writes
// results.jsonl with one line per point, table.md, the pictures and the
// scenarios, and exits 0.
func TestBenchSimWritesItsResults(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI("bench", "sim", "--nodes", "4", "--rates", "300,600", "--delta", "20ms", "--duration", "2s", "--drain", "1s", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "| dagger-sim | opaque | 4 | 300 |") || !strings.Contains(stdout, "| dagger-sim | opaque | 4 | 600 |") {
		t.Fatalf("table:\n%s", stdout)
	}
	if !strings.Contains(stderr, "[2/2] 4 nodes, 600 tx/s offered") {
		t.Fatalf("progress:\n%s", stderr)
	}
	f, err := os.Open(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	points, err := bench.ReadJSONL(f)
	if err != nil || len(points) != 2 || points[1].OfferedTPS != 600 || points[1].Committed == 0 {
		t.Fatalf("results %+v, %v", points, err)
	}
	for _, name := range []string{"table.md", "throughput.png", "throughput.svg", "latency.png", "latency.svg", "cdf.png", "cdf.svg", "run-throughput.png", "run-latency.svg", "scenarios/n4-r300.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBenchSimRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "sim", "--rates", "fast"},
		{"bench", "sim", "--nodes", "4,x"},
		{"bench", "sim", "--nodes", "0"},
		{"bench", "sim", "--delta", "0s"},
		{"bench", "sim", "extra"},
	} {
		if code, _, stderr := runCLI(args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
