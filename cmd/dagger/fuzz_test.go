package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"dagger/sim/scenario"
	"dagger/sim/swarm"
)

// TestSimFuzzShardsMergeIntoOneRun: two shards of a campaign run every
// seed of it once between them, write their JSON lines and coverage, and
// merge combines them (and refuses them twice over).
func TestSimFuzzShardsMergeIntoOneRun(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, shard := range []string{"0/2", "1/2"} {
		code, out, errs := runCLI("sim", "fuzz", "--seeds", "1-2", "--shard", shard, "--jobs", "1", "--out", dir)
		if code != 0 {
			t.Fatalf("shard %s: exit %d\n%s\n%s", shard, code, out, errs)
		}
		if !strings.Contains(out, "coverage point") || !strings.Contains(out, "1 generated runs, 0 failed") {
			t.Fatalf("shard %s output:\n%s", shard, out)
		}
		files = append(files, filepath.Join(dir, "results-shard"+shard[:1]+".jsonl"))
	}
	merged := filepath.Join(dir, "merged.jsonl")
	code, out, errs := runCLI(append([]string{"sim", "merge", "--out", merged}, files...)...)
	if code != 0 || !strings.Contains(out, "2 runs from 2 files (seeds 1 to 2, 0 missing in between), 0 failed") {
		t.Fatalf("merge: exit %d\n%s\n%s", code, out, errs)
	}
	f, err := os.Open(merged)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := swarm.ReadLines(f, merged)
	if err != nil || len(lines) != 2 || lines[0].Seed != 1 || lines[1].Seed != 2 || lines[0].Report == nil {
		t.Fatalf("merged lines: %+v %v", lines, err)
	}
	if code, _, errs := runCLI("sim", "merge", files[0], files[0]); code != 2 || !strings.Contains(errs, "overlap") {
		t.Fatalf("the same shard twice: exit %d, %q", code, errs)
	}
}

func TestSimMergeReadsATruncatedCampaignWithAClearError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.jsonl")
	os.WriteFile(p, []byte(`{"seed":1,"scenario":"fuzz-1","verdict":"pass","wall_seconds":1}`+"\n"+`{"seed":2,"scen`), 0o644)
	if code, _, errs := runCLI("sim", "merge", p); code != 2 || !strings.Contains(errs, "r.jsonl:2") || !strings.Contains(errs, "truncated") {
		t.Fatalf("exit %d, %q", code, errs)
	}
	os.WriteFile(p, []byte(`{"seed":1,"scenario":"fuzz-1","verdict":"fail","failed":["integrity"],"wall_seconds":1}`+"\n"), 0o644)
	if code, out, _ := runCLI("sim", "merge", p); code != 1 || !strings.Contains(out, "integrity failed in 1 runs") {
		t.Fatalf("a failed run: exit %d\n%s", code, out)
	}
}

func TestSimShrinkWritesASmallerScenarioThatStillFails(t *testing.T) {
	file := writeScenario(t, `name: mute-beyond
duration: 12s
nodes: 5
crypto: fast
network: {latency: {dist: uniform, min: 10ms, max: 30ms}, drop: 0.01}
workload: {rate: 100, tx_size: 64}
byzantine:
  - {node: 2, behavior: mute}
  - {node: 3, behavior: mute}
faults:
  - {at: 2s, clock_skew: {node: 0, offset: 1s}}
`)
	code, out, errs := runCLI("sim", "shrink", file, "--max-runs", "40", "--jobs", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	min := strings.TrimSuffix(file, ".yaml") + ".min.yaml"
	sc, err := scenario.Load(min)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "shrunk while liveness kept failing") || len(sc.Faults) != 0 || sc.Network.Drop != 0 {
		t.Fatalf("shrunk to %d faults, drop %v:\n%s", len(sc.Faults), sc.Network.Drop, out)
	}
	if code, out, _ := runCLI("sim", "run", min); code != 1 || !strings.Contains(out, "FAIL liveness") {
		t.Fatalf("the minimal scenario does not fail liveness: exit %d\n%s", code, out)
	}
	pass := writeScenario(t, smallScenario)
	if code, _, errs := runCLI("sim", "shrink", pass); code != 1 || !strings.Contains(errs, "nothing to shrink") {
		t.Fatalf("a passing scenario: exit %d, %q", code, errs)
	}
}

// TestTheFuzzJobManifestRunsACampaign: the Kubernetes Indexed Job in
// docs/deploy runs `dagger sim fuzz` with arguments the command accepts,
// taking its shard from JOB_COMPLETION_INDEX.
func TestTheFuzzJobManifestRunsACampaign(t *testing.T) {
	b, err := os.ReadFile("../../docs/deploy/fuzz-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var job struct {
		Kind string
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Template       struct {
				Spec struct {
					Containers []struct {
						Command, Args []string
					}
				}
			}
		}
	}
	for job.Kind != "Job" {
		if err := dec.Decode(&job); err != nil {
			t.Fatalf("no Job in the manifest: %v", err)
		}
	}
	c := job.Spec.Template.Spec.Containers[0]
	if job.Spec.CompletionMode != "Indexed" || len(c.Args) < 2 || c.Args[0] != "sim" || c.Args[1] != "fuzz" {
		t.Fatalf("job: %+v", job)
	}
	args := append([]string(nil), c.Args...)
	for i := range args {
		if args[i] == "--seeds" {
			args[i+1] = "1-1" // one seed is enough to see the arguments work
		}
		if args[i] == "--out" {
			args[i+1] = t.TempDir()
		}
	}
	t.Setenv("JOB_COMPLETION_INDEX", "0")
	if code, out, errs := runCLI(args...); code != 0 || !strings.Contains(out, "1 generated runs") {
		t.Fatalf("%q: exit %d\n%s\n%s", args, code, out, errs)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "")
	if code, _, errs := runCLI(args...); code != 2 || !strings.Contains(errs, "JOB_COMPLETION_INDEX") {
		t.Fatalf("without the index: exit %d, %q", code, errs)
	}
}
