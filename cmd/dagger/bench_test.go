package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
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

// TestMain lets the test binary stand in for dagger: the node and load
// generator processes that 'dagger bench live' starts are this binary,
// run as the CLI when asTheCLI is set in their environment.
func TestMain(m *testing.M) {
	if os.Getenv(asTheCLI) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const asTheCLI = "DAGGER_TEST_AS_CLI"

// TestBenchLiveWritesItsResults: a short sweep of real node processes and
// a generator process prints its table and writes one result per point
// whose figures add up: every transaction offered was refused, committed
// or left uncommitted, the quantiles are in order, every process was
// measured, the pictures are drawn. Its speed is not checked.
func TestBenchLiveWritesItsResults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	t.Setenv(asTheCLI, "1")
	dir := t.TempDir()
	code, stdout, stderr := runCLI("bench", "live", "--nodes", "4", "--rates", "200,400", "--duration", "3s", "--drain", "10s",
		"--base-port", "18700", "--payload", "opaque", "--dir", filepath.Join(dir, "nets"), "--out", filepath.Join(dir, "out"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "| dagger | opaque | 4 | 200 |") || !strings.Contains(stdout, "| dagger | opaque | 4 | 400 |") {
		t.Fatalf("table:\n%s", stdout)
	}
	if !strings.Contains(stderr, "[2/2] dagger n=4 @ 400 tx/s") {
		t.Fatalf("progress:\n%s", stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out", "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	points, err := bench.ReadJSONL(f)
	if err != nil || len(points) != 2 {
		t.Fatalf("results %+v, %v", points, err)
	}
	for _, p := range points {
		q := p.LatencyMS
		switch {
		case p.System != "dagger" || p.Payload != "opaque" || p.Nodes != 4 || p.TxSize != 256:
			t.Errorf("labels %+v", p)
		case p.Submitted+p.Refused != uint64(p.OfferedTPS*3):
			t.Errorf("%v tx/s for 3 s offered %d", p.OfferedTPS, p.Submitted+p.Refused)
		case p.Committed+p.Uncommitted != p.Submitted:
			t.Errorf("committed %d + uncommitted %d != submitted %d", p.Committed, p.Uncommitted, p.Submitted)
		case p.Committed == 0 || q.N == 0 || q.P50 <= 0 || q.P50 > q.P90 || q.P90 > q.P99 || q.P99 > q.Max:
			t.Errorf("latency %+v of %d committed", q, p.Committed)
		case len(p.Processes) != 5 || p.Processes[4].Role != bench.RoleLoad || p.CPUPercent <= 0 || p.RSSMiB <= 0:
			t.Errorf("processes %+v, CPU %v, RSS %v", p.Processes, p.CPUPercent, p.RSSMiB)
		case p.EventsPerSec <= 0 || p.CommitsPerSec <= 0 || p.BytesPerSec <= 0:
			t.Errorf("rates: events %v, commits %v, bytes %v", p.EventsPerSec, p.CommitsPerSec, p.BytesPerSec)
		case p.SteadySeconds <= 0 || p.SteadySeconds >= p.LoadSeconds:
			t.Errorf("steady window %v of %v", p.SteadySeconds, p.LoadSeconds)
		case p.RSSStartMiB <= 0 || p.RSSEndMiB <= 0 || p.RSSEndMiB > p.RSSMiB:
			t.Errorf("a node's memory from %v to %v MiB, peak %v", p.RSSStartMiB, p.RSSEndMiB, p.RSSMiB)
		}
	}
	for _, name := range []string{"table.md", "throughput.png", "latency.svg", "cdf.png", "run-throughput.svg", "run-latency.png",
		"run-memory.png", "run-snapshot.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "out", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The last point's memory, every second: every process's resident
	// memory, the nodes' snapshot sizes (0 before the first epoch ends),
	// none for the generator.
	mf, err := os.Open(filepath.Join(dir, "out", "memory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	rows, err := csv.NewReader(mf).ReadAll()
	if err != nil || len(rows) < 1+5*3 || strings.Join(rows[0], ",") != "t_s,process,role,rss_mib,snapshot_bytes,cpu_percent,minor_faults_per_s" {
		t.Fatalf("memory.csv: %d rows, %v: want a header and 3 s or more of 5 processes", len(rows), err)
	}
	sized, busy := 0, 0
	for _, r := range rows[1:] {
		rss, err := strconv.ParseFloat(r[3], 64)
		if cpu, err := strconv.ParseFloat(r[5], 64); err == nil && cpu > 0 && r[2] == bench.RoleNode {
			busy++
		}
		switch {
		case err != nil || rss <= 0:
			t.Errorf("memory.csv row %q: no resident memory", r)
		case r[2] == bench.RoleLoad && r[4] != "":
			t.Errorf("memory.csv row %q: the generator has no snapshot", r)
		case r[2] == bench.RoleNode && r[4] != "":
			sized++
		}
	}
	if sized == 0 {
		t.Error("memory.csv has no node's snapshot size")
	}
	if busy == 0 {
		t.Error("memory.csv has no second in which a node used CPU")
	}
	// The report command puts it beside another sweep.
	code, stdout, stderr = runCLI("bench", "report", "--out", filepath.Join(dir, "both"), filepath.Join(dir, "out", "results.jsonl"), filepath.Join(dir, "out", "results.jsonl"))
	if code != 0 || strings.Count(stdout, "| dagger | opaque | 4 |") != 4 {
		t.Fatalf("report: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestBenchLiveAndLoadRefuseBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "live", "--rates", "fast"},
		{"bench", "live", "--payload", "json"},
		{"bench", "live", "--nodes", "0"},
		{"bench", "live", "--duration", "0s"},
		{"bench", "live", "extra"},
		{"bench", "load", "--rate", "0"},
		{"bench", "load", "--system", "etcd"},
		{"bench", "load", "--system", "cometbft", "--payload", "signed"},
		{"bench", "load", "--targets", "ftp://x"},
		{"bench", "load", "--tx-size", "4"},
		{"bench", "compare", "cometbft", "--cometbft-rates", "x"},
		{"bench", "report"},
	} {
		if code, _, stderr := runCLI(args...); code == 0 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
