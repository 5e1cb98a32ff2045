package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/sim"
	"dagger/sim/scenario"
)

// TestSummarizeIsTheEmpiricalQuantile: the p-quantile is the smallest
// value with at least a fraction p of the sample at or below it, whatever
// the sample's order.
func TestSummarizeIsTheEmpiricalQuantile(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- { // 100 … 1, unsorted on purpose
		s = append(s, float64(i))
	}
	got := Summarize(s)
	want := Quantiles{N: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
	if s[0] != 100 {
		t.Fatal("Summarize reordered its input")
	}
	if (Summarize(nil) != Quantiles{}) {
		t.Fatal("an empty sample must summarise to zeros")
	}
	if got := Summarize([]float64{7}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 || got.Mean != 7 {
		t.Fatalf("one value: %+v", got)
	}
}

// TestResultsLineHasTheDocumentedFields: a line of results.jsonl carries
// the fields the README promises, and reads back to the same point.
func TestResultsLineHasTheDocumentedFields(t *testing.T) {
	p := Point{System: "dagger-sim", Payload: "opaque", Nodes: 4, OfferedTPS: 1000, CommittedTPS: 998.5,
		LatencyMS: Quantiles{N: 3, P50: 1, P90: 2, P99: 3, Max: 4}, Uncommitted: 2, CPUPercent: 99, RSSMiB: 50,
		LatencyD: &Quantiles{N: 3, Mean: 4.5}}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, []Point{p, p}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"system", "payload", "offered_tps", "committed_tps", "latency_ms", "uncommitted", "cpu_percent", "rss_mib"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, lines[0])
		}
	}
	lat := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("no latency_ms.%s", k)
		}
	}
	back, err := ReadJSONL(&buf)
	if err != nil || len(back) != 2 || back[0].CommittedTPS != 998.5 || back[0].LatencyD.Mean != 4.5 {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if _, err := ReadJSONL(strings.NewReader("{\"system\":\"x\"}\n{\"nope\":1}\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("an unknown field: %v", err)
	}
}

// TestSimSweepMeasuresAndReproduces runs a small sweep: every point is
// measured over every transaction, nothing is lost after the drain, the
// latencies in δ are those of the protocol on a constant-latency network,
// and each point's scenario file reproduces its run bit for bit.
func TestSimSweepMeasuresAndReproduces(t *testing.T) {
	dir := t.TempDir()
	cfg := SimConfig{Nodes: []int{4, 7}, Rates: []float64{200, 800}, Delta: 50 * time.Millisecond,
		Duration: 3 * time.Second, Drain: 2 * time.Second, TxSize: 64, Seed: 3, Dir: dir}
	var seen int
	points, err := Sim(cfg, func(done, total int, _ Point) {
		seen++
		if done != seen || total != 4 {
			t.Errorf("progress %d/%d after %d points", done, total, seen)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 4 {
		t.Fatalf("%d points, want 4", len(points))
	}
	for i, p := range points {
		wantN, wantR := cfg.Nodes[i/2], cfg.Rates[i%2]
		if p.Nodes != wantN || p.OfferedTPS != wantR || p.System != "dagger-sim" || p.Payload != "opaque" {
			t.Fatalf("point %d is %d nodes at %v tx/s, want %d at %v", i, p.Nodes, p.OfferedTPS, wantN, wantR)
		}
		if len(p.Failed) > 0 {
			t.Errorf("point %d failed %v", i, p.Failed)
		}
		if p.Submitted == 0 || p.Committed != p.Submitted || p.Uncommitted != 0 || p.LatencyMS.N != int(p.Committed) {
			t.Errorf("point %d: %d submitted, %d committed, %d uncommitted, %d latencies", i, p.Submitted, p.Committed, p.Uncommitted, p.LatencyMS.N)
		}
		if p.CommittedTPS != round3(float64(p.Committed)/3) {
			t.Errorf("point %d: %v committed tx/s for %d in 3 s", i, p.CommittedTPS, p.Committed)
		}
		// A leader commits two rounds after its own, a round being one
		// message delay: 3δ from its creation. A transaction waits for
		// the next event and then its leader: between 3δ and 7δ.
		if l := p.LeaderD; l.N == 0 || l.Mean < 2.9 || l.Mean > 3.5 {
			t.Errorf("point %d: leader commit %+v δ, want about 3", i, *l)
		}
		if d := p.LatencyD; d.P50 < 3 || d.P99 > 8 || d.Mean < 3.5 || d.Mean > 6 {
			t.Errorf("point %d: transaction latency %+v δ", i, *d)
		}
		if p.LatencyMS.P50 != round3(p.LatencyD.P50*50) && p.LatencyMS.P50-p.LatencyD.P50*50 > 0.01 {
			t.Errorf("point %d: p50 %v ms is not %v δ of 50 ms", i, p.LatencyMS.P50, p.LatencyD.P50)
		}
		sc, err := scenario.Load(p.Scenario)
		if err != nil {
			t.Fatalf("point %d's scenario: %v", i, err)
		}
		r, err := sim.Run(sc, sim.Options{})
		if err != nil || r.Fingerprint != p.Fingerprint {
			t.Fatalf("point %d rerun from %s: fingerprint %s, want %s (%v)", i, p.Scenario, r.Fingerprint, p.Fingerprint, err)
		}
	}
	if !strings.HasPrefix(points[0].Scenario, filepath.Join(dir, "scenarios")) {
		t.Fatalf("scenario kept at %s", points[0].Scenario)
	}

	files, err := WritePlots(dir, points)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 10 {
		t.Fatalf("pictures %v, want throughput, latency, cdf, run-throughput and run-latency as PNG and SVG", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, points); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(table.String(), "\n"); rows != 2+len(points) || !strings.Contains(table.String(), "leader mean δ") {
		t.Fatalf("table:\n%s", table.String())
	}
}

// TestPerSecondBucketsEveryCommit: each commit lands in the second it
// happened in, empty seconds included, and each second's latencies are
// summarised on their own.
func TestPerSecondBucketsEveryCommit(t *testing.T) {
	at := []float64{0.1, 0.9, 2.5, 2.6, 2.7}
	lat := []float64{10, 20, 100, 300, 200}
	got := perSecond(at, lat)
	if len(got) != 3 || got[0].n != 2 || got[1].n != 0 || got[2].n != 3 {
		t.Fatalf("buckets %+v", got)
	}
	if got[0].q.Max != 20 || got[2].q.P50 != 200 || got[1].q != (Quantiles{}) || got[2].t != 2 {
		t.Fatalf("summaries %+v", got)
	}
	if perSecond(nil, nil) != nil {
		t.Fatal("no commits, no seconds")
	}
}

func TestSimRefusesWhatItCannotRun(t *testing.T) {
	ok := SimConfig{Nodes: []int{4}, Rates: []float64{100}, Delta: time.Millisecond, Duration: time.Second, Drain: time.Second, TxSize: 64}
	if _, err := Sim(ok, nil); err != nil {
		t.Fatalf("the valid config: %v", err)
	}
	for name, mut := range map[string]func(*SimConfig){
		"no sizes":      func(c *SimConfig) { c.Nodes = nil },
		"no rates":      func(c *SimConfig) { c.Rates = nil },
		"zero nodes":    func(c *SimConfig) { c.Nodes = []int{0} },
		"too many":      func(c *SimConfig) { c.Nodes = []int{MaxSimNodes + 1} },
		"zero rate":     func(c *SimConfig) { c.Rates = []float64{0} },
		"no delta":      func(c *SimConfig) { c.Delta = 0 },
		"no duration":   func(c *SimConfig) { c.Duration = 0 },
		"no drain":      func(c *SimConfig) { c.Drain = 0 },
		"tiny txs":      func(c *SimConfig) { c.TxSize = 4 },
		"huge sweep":    func(c *SimConfig) { c.Rates = make([]float64, MaxSimPoints+1) },
		"unknown crypt": func(c *SimConfig) { c.Crypto = "rot13" },
	} {
		c := ok
		mut(&c)
		if _, err := Sim(c, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
