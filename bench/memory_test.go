package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// near reports whether a and b agree within tol.
func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestSamplerMemoryTimeline: each sample of the timeline has its time from
// the start, every process's resident memory from /proc and, for a
// process that serves metrics, the snapshot size it served then; samples
// before the start are left out.
func TestSamplerMemoryTimeline(t *testing.T) {
	var mu sync.Mutex
	snapshot := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "# TYPE dagger_commits_total counter\ndagger_commits_total 7\n")
		fmt.Fprintf(w, "# TYPE dagger_snapshot_bytes gauge\ndagger_snapshot_bytes %d\n", snapshot)
	}))
	defer srv.Close()
	s := NewSampler([]Watched{{Name: "node-0", Role: RoleNode, PID: os.Getpid(), Metrics: srv.URL}, {Name: "load", Role: RoleLoad, PID: os.Getpid()}})
	ctx := context.Background()
	s.Sample(ctx) // before the start
	start := time.Now()
	s.Sample(ctx)
	mu.Lock()
	snapshot = 5000
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	s.Sample(ctx)
	elapsed := time.Since(start).Seconds()

	m := s.Memory(start)
	if len(m.Procs) != 2 || m.Procs[0].Name != "node-0" || m.Procs[1].Role != RoleLoad {
		t.Fatalf("processes %+v", m.Procs)
	}
	if len(m.Samples) != 2 {
		t.Fatalf("%d samples from the start, want the 2 taken after it", len(m.Samples))
	}
	a, b := m.Samples[0], m.Samples[1]
	if a.Seconds < 0 || b.Seconds < a.Seconds+0.05-1e-9 || b.Seconds > elapsed {
		t.Fatalf("sample times %v and %v s, want 0 ≤ first, second ≥ first + 0.05 and ≤ %v", a.Seconds, b.Seconds, elapsed)
	}
	for _, sm := range m.Samples {
		// Both are this process: the same memory, within what a few
		// allocations between the reads move it.
		if sm.RSSMiB[0] <= 0 || !near(sm.RSSMiB[0], sm.RSSMiB[1], 16) {
			t.Fatalf("resident memory %v MiB", sm.RSSMiB)
		}
		if sm.SnapshotBytes[1] != NoSnapshot {
			t.Fatalf("the load process serves no metrics, yet has a snapshot of %d bytes", sm.SnapshotBytes[1])
		}
	}
	if a.SnapshotBytes[0] != 0 || b.SnapshotBytes[0] != 5000 {
		t.Fatalf("snapshot sizes %d then %d, want what was served: 0 then 5000", a.SnapshotBytes[0], b.SnapshotBytes[0])
	}
	if got := s.Memory(time.Now().Add(time.Second)); len(got.Samples) != 0 || len(got.Procs) != 2 {
		t.Fatalf("a start after every sample: %+v", got)
	}
}

// TestSamplerMemoryWithoutMetrics: a scrape that fails leaves the
// snapshot size unknown, not zero.
func TestSamplerMemoryWithoutMetrics(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	s := NewSampler([]Watched{{Name: "node-0", Role: RoleNode, PID: os.Getpid(), Metrics: srv.URL}})
	start := time.Now()
	s.Sample(context.Background())
	m := s.Memory(start)
	if len(m.Samples) != 1 || m.Samples[0].SnapshotBytes[0] != NoSnapshot || m.Samples[0].RSSMiB[0] <= 0 {
		t.Fatalf("%+v", m.Samples)
	}
}

// TestNodeDriftIsOneNodesStartAndEnd: the drift is that of the node
// largest at the end of the load window, averaged over the window's first
// and last tenth (at most 30 s); the load generator and the drain are left
// out, and a window too short to hold a sample at an end uses the nearest.
func TestNodeDriftIsOneNodesStartAndEnd(t *testing.T) {
	procs := []Watched{{Name: "node-0", Role: RoleNode}, {Name: "node-1", Role: RoleNode}, {Name: "load", Role: RoleLoad}}
	// node-0 is flat at 500 MiB; node-1 grows 10 MiB a second from 480;
	// the generator is larger than both; the drain (after 100 s) doubles
	// everything.
	grow := func(s float64) float64 { return 480 + 10*s }
	timeline := func(seconds []float64, load float64) MemoryTimeline {
		m := MemoryTimeline{Procs: procs}
		for _, s := range seconds {
			rss := []float64{500, grow(s), 5000}
			if s > load {
				for i := range rss {
					rss[i] *= 2
				}
			}
			m.Samples = append(m.Samples, MemorySample{Seconds: s, RSSMiB: rss, SnapshotBytes: []int64{0, 0, NoSnapshot}})
		}
		return m
	}
	var every []float64
	for s := range 111 {
		every = append(every, float64(s))
	}
	var hour []float64
	for s := 0; s <= 3600; s += 5 {
		hour = append(hour, float64(s))
	}
	for _, c := range []struct {
		name               string
		seconds            []float64
		load               float64
		wantStart, wantEnd float64
	}{
		// A tenth of 100 s: the samples at 0…10 s and at 90…100 s.
		{"a tenth", every, 100, grow(5), grow(95)},
		// 30 s of an hour: the samples at 0…30 s and at 3570…3600 s.
		{"at most 30 s", hour, 3600, grow(15), grow(3585)},
		// A tenth of 3 s holds no sample: the first and the last stand in.
		{"no sample in a tenth", []float64{0.5, 1.5, 2.5, 4}, 3, grow(0.5), grow(2.5)},
	} {
		start, end, ok := timeline(c.seconds, c.load).NodeDrift(c.load)
		if !ok || !near(start, c.wantStart, 1e-9) || !near(end, c.wantEnd, 1e-9) {
			t.Errorf("%s: drift %v → %v MiB (%v), want node-1's %v → %v", c.name, start, end, ok, c.wantStart, c.wantEnd)
		}
	}
	if _, _, ok := (MemoryTimeline{Procs: procs}).NodeDrift(100); ok {
		t.Error("a drift without samples")
	}
	loadOnly := timeline(every, 100)
	loadOnly.Procs = []Watched{{Name: "a", Role: RoleLoad}, {Name: "b", Role: RoleLoad}, {Name: "c", Role: RoleLoad}}
	if _, _, ok := loadOnly.NodeDrift(100); ok {
		t.Error("a drift without a node")
	}
}

// soakTimeline is an hour of a 4-node run sampled every second: the nodes
// flat at 600 to 900 MiB, their snapshots growing from 0 by 1 KiB an
// epoch of 30 s, the generator at 300 MiB without a snapshot.
func soakTimeline() MemoryTimeline {
	m := MemoryTimeline{Procs: []Watched{{Name: "node-0", Role: RoleNode}, {Name: "node-1", Role: RoleNode},
		{Name: "node-2", Role: RoleNode}, {Name: "node-3", Role: RoleNode}, {Name: "load", Role: RoleLoad}}}
	for s := range 3611 {
		snap := int64(s/30) * 1024
		ms := MemorySample{Seconds: float64(s) + 0.0004,
			RSSMiB:            []float64{600, 700, 800, 900 + float64(s%7), 300},
			SnapshotBytes:     []int64{snap, snap, snap, snap, NoSnapshot},
			CPUPercent:        []float64{30, 31, 32, 33 + float64(s%5), 20},
			MinorFaultsPerSec: []float64{1000, 1100, 1200, 1300, 50}}
		if s == 0 {
			nan := math.NaN()
			ms.CPUPercent = []float64{nan, nan, nan, nan, nan}
			ms.MinorFaultsPerSec = ms.CPUPercent
		}
		m.Samples = append(m.Samples, ms)
	}
	return m
}

// TestMemoryTimelineWritesItsCSV: memory.csv has a row per process per
// sample, in long form, the snapshot size empty where it is not known.
func TestMemoryTimelineWritesItsCSV(t *testing.T) {
	m := soakTimeline()
	var buf bytes.Buffer
	if err := m.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(m.Samples)*len(m.Procs) {
		t.Fatalf("%d rows, want a header and %d×%d", len(rows), len(m.Samples), len(m.Procs))
	}
	if got := strings.Join(rows[0], ","); got != "t_s,process,role,rss_mib,snapshot_bytes,cpu_percent,minor_faults_per_s" {
		t.Fatalf("header %q", got)
	}
	if first := rows[1]; first[5] != "" || first[6] != "" {
		t.Fatalf("the first sample's row %q: want no CPU or faults, which need a sample before", first)
	}
	// Sample 61 (61.0004 s): node-3 at 900 + 61 mod 7 MiB, snapshots of 2 epochs.
	row := rows[1+61*len(m.Procs)+3]
	ts, err1 := strconv.ParseFloat(row[0], 64)
	rss, err2 := strconv.ParseFloat(row[3], 64)
	if err1 != nil || err2 != nil || !near(ts, 61.0004, 0.001) || row[1] != "node-3" || row[2] != RoleNode || !near(rss, 905, 0.001) || row[4] != "2048" ||
		row[5] != "34" || row[6] != "1300" {
		t.Fatalf("row %q", row)
	}
	if load := rows[1+61*len(m.Procs)+4]; load[1] != "load" || load[2] != RoleLoad || load[4] != "" {
		t.Fatalf("the generator's row %q: want no snapshot size", load)
	}
}

// TestMemoryPictures: a live run's last point gets run-memory and
// run-snapshot pictures, and its drift; a run whose nodes serve no
// snapshot size gets no run-snapshot picture.
func TestMemoryPictures(t *testing.T) {
	dir := t.TempDir()
	p := Point{System: "dagger", Payload: PayloadOpaque, Nodes: 4, OfferedTPS: 20000, LoadSeconds: 3600}
	soakTimeline().Apply(&p)
	// node-3's sawtooth of 900…906 MiB averages to about 903 over 30 s.
	if !near(p.RSSStartMiB, 903, 0.5) || !near(p.RSSEndMiB, 903, 0.5) {
		t.Fatalf("drift %v → %v MiB, want node-3's, about 903 at both ends", p.RSSStartMiB, p.RSSEndMiB)
	}
	if len(p.Memory().Samples) != 3611 {
		t.Fatalf("the point keeps %d samples", len(p.Memory().Samples))
	}
	files, err := WritePlots(dir, []Point{{System: "dagger", OfferedTPS: 1000}, p})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, name := range []string{"run-memory.png", "run-memory.svg", "run-snapshot.png", "run-snapshot.svg"} {
		want[filepath.Join(dir, name)] = true
	}
	for _, f := range files {
		if !want[f] {
			continue
		}
		delete(want, f)
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if len(want) > 0 {
		t.Fatalf("not drawn: %v (files %v)", want, files)
	}

	dir = t.TempDir()
	m := soakTimeline()
	for _, s := range m.Samples {
		for i := range s.SnapshotBytes {
			s.SnapshotBytes[i] = NoSnapshot
		}
	}
	q := Point{System: "cometbft", LoadSeconds: 3600}
	m.Apply(&q)
	files, err = WritePlots(dir, []Point{q})
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]bool{}
	for _, f := range files {
		drawn[filepath.Base(f)] = true
	}
	if !drawn["run-memory.svg"] || drawn["run-snapshot.png"] || drawn["run-snapshot.svg"] {
		t.Fatalf("pictures %v, want run-memory and no run-snapshot", files)
	}
}
