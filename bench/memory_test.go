package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
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
