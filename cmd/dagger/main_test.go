package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dagger/node/live"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeScenario writes a small scenario for the CLI tests.
func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const smallScenario = `name: small
duration: 8s
nodes: 4
crypto: fast
network: {latency: {dist: uniform, min: 10ms, max: 30ms}}
workload: {rate: 200, tx_size: 64}
`

// mute2of4 exceeds the fault bound: nothing can commit.
const mute2of4 = `name: mute-beyond
duration: 8s
nodes: 4
crypto: fast
workload: {rate: 100, tx_size: 64}
byzantine:
  - {node: 2, behavior: mute}
  - {node: 3, behavior: mute}
`

func TestSimRunPassesAndWritesTheReport(t *testing.T) {
	file := writeScenario(t, smallScenario)
	report := filepath.Join(t.TempDir(), "r.json")
	code, out, errs := runCLI("sim", "run", file, "--json", report, "--check-determinism")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "verdict PASS") || !strings.Contains(out, "determinism") {
		t.Fatalf("summary lacks the verdict or the determinism check:\n%s", out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "seed", "verdict", "checks", "sim_seconds", "wall_seconds", "events",
		"messages", "bytes", "commits", "committed_txs", "commit_tps", "latency_ms", "fingerprint"} {
		if _, ok := r[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r["verdict"] != "pass" || r["committed_txs"].(float64) == 0 {
		t.Fatalf("verdict %v, committed %v", r["verdict"], r["committed_txs"])
	}
	lat := r["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		if lat[k].(float64) <= 0 {
			t.Errorf("latency %s is %v", k, lat[k])
		}
	}
}

func TestSimRunWritesProfiles(t *testing.T) {
	file := writeScenario(t, smallScenario)
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	code, out, errs := runCLI("sim", "run", file, "--cpuprofile", cpu, "--memprofile", mem)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// pprof writes gzipped protocol buffers.
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not a pprof profile (%d bytes)", filepath.Base(p), len(b))
		}
	}
}

func TestSimRunIsReproducibleFromItsSeed(t *testing.T) {
	file := writeScenario(t, smallScenario)
	fingerprint := func(seed string) string {
		var r struct{ Fingerprint string }
		code, out, errs := runCLI("sim", "run", file, "--seed", seed, "--json", "-")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errs)
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
			t.Fatal(err)
		}
		return r.Fingerprint
	}
	a, b, c := fingerprint("5"), fingerprint("5"), fingerprint("6")
	if a != b {
		t.Fatal("one seed gave two fingerprints")
	}
	if a == c {
		t.Fatal("two seeds gave one fingerprint")
	}
}

func TestSimRunBeyondTheFaultBoundFailsAndPrintsTheReplay(t *testing.T) {
	file := writeScenario(t, mute2of4)
	code, out, _ := runCLI("sim", "run", file, "--seed", "3")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "FAIL liveness") {
		t.Fatalf("liveness failure not reported:\n%s", out)
	}
	if !strings.Contains(out, "replay: dagger sim run "+file+" --seed 3") {
		t.Fatalf("no replay command:\n%s", out)
	}
}

func TestSimRunOfStaleReadsFailsLinearizableAndWritesTheHistory(t *testing.T) {
	report := filepath.Join(t.TempDir(), "stale.json")
	code, out, errOut := runCLI("sim", "run", "../../scenarios/not-linearizable/stale-reads.yaml", "--json", report)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "FAIL linearizable") || !strings.Contains(out, "get") {
		t.Fatalf("the stale read is not reported:\n%s", out)
	}
	html := strings.TrimSuffix(report, ".json") + ".history.html"
	if !strings.Contains(out, "history: "+html) {
		t.Fatalf("the visualization's path is not printed:\n%s", out)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "<html") {
		t.Fatalf("visualization: %v", err)
	}
}

func TestSimSweepRunsTheGridAndListsFailures(t *testing.T) {
	file := writeScenario(t, mute2of4)
	jsonl := filepath.Join(t.TempDir(), "out.jsonl")
	code, out, errs := runCLI("sim", "sweep", file, "--seeds", "1-2", "--set", "network.drop=0,0.1", "--jobs", "2", "--out", jsonl)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "4/4 runs") {
		t.Fatalf("no progress on stderr: %q", errs)
	}
	if !strings.Contains(out, "--set network.drop=0.1") || strings.Count(out, "dagger sim run") != 4 {
		t.Fatalf("replay commands missing:\n%s", out)
	}
	b, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Fatalf("%d JSON lines, want 4", n)
	}

	pass := writeScenario(t, smallScenario)
	if code, out, errs := runCLI("sim", "sweep", pass, "--seeds", "1-2", "--out", jsonl); code != 0 {
		t.Fatalf("passing sweep exit %d\n%s\n%s", code, out, errs)
	}
}

// TestSimSweepRefusesAHugeGridBeforeBuildingIt: a grid of 10^9 runs is
// refused at once, by counting it, not by building it first.
func TestSimSweepRefusesAHugeGridBeforeBuildingIt(t *testing.T) {
	good := writeScenario(t, smallScenario)
	values := make([]string, 1000)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	list := strings.Join(values, ",")
	code, _, errs := runCLI("sim", "sweep", good, "--seeds", "1-1000", "--set", "network.drop="+list, "--set", "network.duplicate="+list)
	if code != 2 || !strings.Contains(errs, "at most 100000 runs") {
		t.Fatalf("exit %d, stderr %q; want 2 naming the bound", code, errs)
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	bad := writeScenario(t, "name: x\nduration: 5s\nnodes: 4\nnetwrk: {}\n")
	good := writeScenario(t, smallScenario)
	for _, args := range [][]string{
		nil,
		{"nosuch"},
		{"sim"},
		{"sim", "run"},
		{"sim", "run", "/nonexistent.yaml"},
		{"sim", "run", bad},
		{"sim", "run", good, "--set", "nodes=abc"},
		{"sim", "run", good, "--bogus"},
		{"sim", "sweep", good, "--seeds", "5-1"},
		{"sim", "sweep", good, "--set", "nodes"},
	} {
		if code, _, errs := runCLI(args...); code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
	if _, _, errs := runCLI("sim", "run", bad); !strings.Contains(errs, `unknown field "netwrk"`) {
		t.Errorf("unknown field not named: %q", errs)
	}
}

func TestVersionPrints(t *testing.T) {
	code, out, _ := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "dagger ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

// A devnet's nodes keep their VMs' seeds in their own directories, which a
// developer can write, not in the host-wide default.
func TestDevnetNodesKeepTheirSeedsInTheirDirectories(t *testing.T) {
	t.Chdir(t.TempDir())
	nodes, err := devnetPrepare(devnetOptions{n: 2, base: 18700, dir: "devnet", uri: "test:///default", epochLength: 30 * time.Second}, "libvirt")
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		cfg, err := live.LoadConfig(filepath.Join(nd.dir, "config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := filepath.Abs(filepath.Join(nd.dir, "seeds"))
		if cfg.Provision.SeedDir != want {
			t.Errorf("%s: seed_dir %q, want %q", nd.dir, cfg.Provision.SeedDir, want)
		}
	}
}
