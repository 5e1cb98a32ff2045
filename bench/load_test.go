package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"dagger/node/live/keyfile"
	"dagger/node/tx"
)

// fakeTarget commits what it takes after delay, in commits every tick;
// it takes at most capacity transactions a second (per second of its
// clock), refusing the rest as "busy".
type fakeTarget struct {
	endpoints int
	delay     time.Duration
	capacity  int
	// lose, if set, makes it never commit transaction seq (by its hash).
	lose func(tx []byte) bool

	mu      sync.Mutex
	pending []pendingTx
	second  time.Time
	taken   int
	batches map[int]int // per endpoint
}

type pendingTx struct {
	at time.Time
	h  [32]byte
}

func (f *fakeTarget) Endpoints() int          { return f.endpoints }
func (f *fakeTarget) Hash(tx []byte) [32]byte { return sha256.Sum256(tx) }

func (f *fakeTarget) Submit(ctx context.Context, i int, txs [][]byte) ([]bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batches == nil {
		f.batches = map[int]int{}
	}
	f.batches[i]++
	now := time.Now()
	if now.Sub(f.second) >= time.Second {
		f.second, f.taken = now, 0
	}
	took := make([]bool, len(txs))
	reason := ""
	for j, t := range txs {
		if f.capacity > 0 && f.taken >= f.capacity {
			reason = "busy"
			continue
		}
		f.taken++
		took[j] = true
		if f.lose == nil || !f.lose(t) {
			f.pending = append(f.pending, pendingTx{at: now.Add(f.delay), h: f.Hash(t)})
		}
	}
	return took, reason, nil
}

func (f *fakeTarget) Watch(ctx context.Context, seen func([][32]byte)) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			f.mu.Lock()
			var due [][32]byte
			rest := f.pending[:0]
			for _, p := range f.pending {
				if !p.at.After(now) {
					due = append(due, p.h)
				} else {
					rest = append(rest, p)
				}
			}
			f.pending = rest
			f.mu.Unlock()
			if len(due) > 0 {
				seen(append(due, [32]byte{1})) // and one the generator did not send
			}
		}
	}
}

// TestLoadTimesEveryTransactionFromItsSchedule: an open-loop run against a
// system that commits everything 200 ms after taking it sees every
// transaction committed once, each with a latency of at least 200 ms from
// its scheduled send and at most that plus a tick and the watch's period;
// the batches go to every endpoint in turn.
func TestLoadTimesEveryTransactionFromItsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTarget{endpoints: 3, delay: 200 * time.Millisecond}
		var ticks int
		res, err := Load(context.Background(), f, LoadConfig{Rate: 1000, Duration: 2 * time.Second, TxSize: 64}, func(LoadProgress) { ticks++ })
		if err != nil {
			t.Fatal(err)
		}
		if res.Scheduled != 2000 || res.Submitted != 2000 || res.Committed != 2000 || res.Uncommitted != 0 || res.Refused != 0 {
			t.Fatalf("counts: %+v", res)
		}
		if res.Foreign == 0 {
			t.Fatal("a commit the generator did not send was not counted as foreign")
		}
		if len(res.Latency) != 2000 || len(res.Sched) != 2000 {
			t.Fatalf("%d latencies, %d schedules", len(res.Latency), len(res.Sched))
		}
		for i, l := range res.Latency {
			if l < 200 || l > 200+10+5+1 {
				t.Fatalf("transaction %d: latency %.1f ms, want 200 to 216", i, l)
			}
			if s := res.Sched[i]; s < 0 || s >= 2 {
				t.Fatalf("transaction %d scheduled at %.3f s", i, s)
			}
		}
		for i := range 3 {
			if f.batches[i] == 0 {
				t.Fatalf("endpoint %d got no batch: %v", i, f.batches)
			}
		}
		if ticks < 2 {
			t.Fatalf("progress heard %d times in a 2 s run", ticks)
		}
		if res.WarmupSeconds != 0.4 || res.LoadSeconds != 2 || res.TxSize != 64 {
			t.Fatalf("windows: %+v", res)
		}
	})
}

// TestLoadCountsRefusalsAndLosses: what the system refuses is counted by
// its reason and not retried; what it takes and never commits is
// uncommitted after the drain; neither has a latency.
func TestLoadCountsRefusalsAndLosses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := 0
		f := &fakeTarget{endpoints: 1, delay: 50 * time.Millisecond, capacity: 600,
			lose: func(tx []byte) bool {
				if strings.HasSuffix(string(tx[:33]), "7") {
					lost++
					return true
				}
				return false
			}}
		res, err := Load(context.Background(), f, LoadConfig{Rate: 1000, Duration: 3 * time.Second, TxSize: 40, Drain: time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Refused == 0 || res.Refusals["busy"] != res.Refused {
			t.Fatalf("refusals %v of %d", res.Refusals, res.Refused)
		}
		if res.Uncommitted != uint64(lost) || lost == 0 {
			t.Fatalf("uncommitted %d, lost %d", res.Uncommitted, lost)
		}
		if res.Scheduled != 3000 || res.Submitted != res.Scheduled-res.Refused || res.Committed+res.Uncommitted != res.Submitted {
			t.Fatalf("counts do not add up: %+v", res)
		}
		if uint64(len(res.Latency)) != res.Committed {
			t.Fatalf("%d latencies for %d committed", len(res.Latency), res.Committed)
		}
	})
}

// TestLoadKeepsAUniformSampleOfALongRun: a run that schedules more than
// MaxSamples transactions counts every one but describes one in each
// block of SampleEvery consecutive ones, each with its own schedule and
// latency.
func TestLoadKeepsAUniformSampleOfALongRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeTarget{endpoints: 3, delay: 200 * time.Millisecond}
		res, err := Load(context.Background(), f, LoadConfig{Rate: 1000, Duration: 2 * time.Second, TxSize: 64, MaxSamples: 150}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 2000 scheduled, at most 150 kept: one in every 14.
		if res.Scheduled != 2000 || res.Committed != 2000 || res.SampleEvery != 14 {
			t.Fatalf("counts: %d scheduled, %d committed, sample every %d", res.Scheduled, res.Committed, res.SampleEvery)
		}
		blocks := map[int]int{}
		for i, s := range res.Sched {
			seq := int(math.Round(float64(s) * 1000))
			blocks[seq/14]++
			if l := res.Latency[i]; l < 200 || l > 200+10+5+1 {
				t.Fatalf("transaction %d: latency %.1f ms, want 200 to 216", seq, l)
			}
		}
		// 142 whole blocks and the 12 transactions of a last one, which
		// has its sample unless it was drawn past the end.
		if n := len(res.Sched); n != len(res.Latency) || n < 142 || n > 143 || len(blocks) != n {
			t.Fatalf("%d samples in %d blocks, want one in each of the 142 or 143", n, len(blocks))
		}
		for b, n := range blocks {
			if n != 1 || b > 142 {
				t.Fatalf("block %d has %d samples", b, n)
			}
		}
	})
}

// TestLoadSignedPayloadIsValidTransactions: a signed load sends the
// cluster's transactions, each one signed, distinct and within the
// validity window.
func TestLoadSignedPayloadIsValidTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key, err := keyfile.New()
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[tx.ID]bool{}
		f := &fakeTarget{endpoints: 2, delay: 10 * time.Millisecond, lose: func(b []byte) bool {
			c, err := tx.Decode(b)
			if err != nil {
				t.Errorf("not a transaction: %v", err)
				return true
			}
			if err := c.VerifySignature(); err != nil {
				t.Errorf("signature: %v", err)
			}
			if d := time.Until(time.Unix(0, c.Expiry)); d <= 0 || d > tx.MaxValidity {
				t.Errorf("expiry %v ahead, want within %v", d, tx.MaxValidity)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[c.ID()] {
				t.Errorf("transaction %s sent twice", c.ID())
			}
			seen[c.ID()] = true
			return false
		}}
		res, err := Load(context.Background(), f, LoadConfig{Rate: 200, Duration: time.Second, Payload: PayloadSigned, Key: key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Committed != 200 || len(seen) != 200 || res.Payload != PayloadSigned || res.TxSize == 0 {
			t.Fatalf("%+v, %d distinct", res, len(seen))
		}
	})
}

func TestLoadRefusesWhatItCannotRun(t *testing.T) {
	f := &fakeTarget{endpoints: 1}
	for _, c := range []LoadConfig{
		{Rate: 0, Duration: time.Second, TxSize: 64},
		{Rate: math.Inf(1), Duration: time.Second, TxSize: 64},
		{Rate: 10, Duration: 0, TxSize: 64},
		{Rate: 10, Duration: time.Second, TxSize: 8},
		{Rate: 10, Duration: time.Second, TxSize: 64, Payload: "json"},
		{Rate: 10, Duration: time.Second, Payload: PayloadSigned},
		{Rate: 10, Duration: time.Second, TxSize: 64, Warmup: 2 * time.Second},
		{Rate: 10, Duration: time.Second, TxSize: 64, MaxSamples: -1},
	} {
		if _, err := Load(context.Background(), f, c, nil); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := Load(context.Background(), &fakeTarget{}, LoadConfig{Rate: 10, Duration: time.Second, TxSize: 64}, nil); err == nil {
		t.Error("no endpoints: no error")
	}
}

// TestPointFromLoadUsesTheSteadyWindow: committed tx/s counts the commits
// seen in the steady window, and the latency summary the transactions
// scheduled in it.
func TestPointFromLoadUsesTheSteadyWindow(t *testing.T) {
	res := &LoadResult{Payload: PayloadOpaque, Rate: 100, TxSize: 256, LoadSeconds: 10, WarmupSeconds: 2, DrainSeconds: 5,
		Scheduled: 6, Submitted: 5, Refused: 1, Committed: 4, Uncommitted: 1, Refusals: map[string]uint64{"busy": 1},
		// scheduled at 1, 3, 5, 9.9 s; seen at 1.5, 3.1, 5.9, 10.9 s
		Sched: []float32{1, 3, 5, 9.9}, Latency: []float32{500, 100, 900, 1000}}
	p := PointFromLoad("dagger", 4, res)
	if p.CommittedTPS != round3(2.0/8) {
		t.Fatalf("committed tx/s %v, want 2 commits seen in 8 s", p.CommittedTPS)
	}
	if p.LatencyMS.N != 3 || p.LatencyMS.Max != 1000 || p.LatencyMS.P50 != 900 {
		t.Fatalf("latency %+v, want the 3 scheduled from 2 s to 10 s", p.LatencyMS)
	}
	if p.SteadySeconds != 8 || p.Refused != 1 || p.Uncommitted != 1 || p.Refusals["busy"] != 1 || p.Nodes != 4 || p.System != "dagger" {
		t.Fatalf("%+v", p)
	}
	if len(p.latencies) != 4 || len(p.commitAt) != 4 || p.commitAt[0] != 1.5 {
		t.Fatalf("the pictures' samples: %v %v", p.latencies, p.commitAt)
	}
	// The same samples, as one in every ten of a longer run's.
	res.SampleEvery = 10
	p = PointFromLoad("dagger", 4, res)
	if !near(p.CommittedTPS, 20.0/8, 0.001) || p.SampleEvery != 10 || p.LatencyMS.N != 3 || p.Committed != 4 {
		t.Fatalf("from a sample of one in ten: %v committed tx/s (want 2 samples × 10 in 8 s), %+v", p.CommittedTPS, p)
	}
}

// TestSamplerWindow: a window's CPU and memory come from /proc, its rates
// from the counters at /metrics, between the first and last samples in it.
func TestSamplerWindow(t *testing.T) {
	var mu sync.Mutex
	events := 0.0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "# TYPE dagger_events_created_total counter\ndagger_events_created_total %g\n", events)
		fmt.Fprintf(w, "# TYPE dagger_commits_total counter\ndagger_commits_total %g\n", events/2)
		fmt.Fprintf(w, "# TYPE dagger_network_sent_bytes_total counter\ndagger_network_sent_bytes_total %g\n", events*100)
	}))
	defer srv.Close()
	s := NewSampler([]Watched{{Name: "self", Role: RoleNode, PID: os.Getpid(), Metrics: srv.URL}, {Name: "load", Role: RoleLoad, PID: os.Getpid()}})
	ctx := context.Background()
	from := time.Now()
	s.Sample(ctx)
	busy := time.Now().Add(200 * time.Millisecond)
	for x := 0; time.Now().Before(busy); x++ { // some CPU to measure
		_ = fmt.Sprint(x)
	}
	// Pages touched for the first time: fresh anonymous memory faults in
	// on its first write, whatever the heap did before.
	fresh, err := syscall.Mmap(-1, 0, 8<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(fresh); i += 4096 {
		fresh[i] = 1
	}
	if err := syscall.Munmap(fresh); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	events = 1000
	mu.Unlock()
	s.Sample(ctx)
	w, err := s.Window(from, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Procs) != 2 || w.Procs[0].CPUPercent <= 0 || w.Procs[0].RSSMiB <= 0 || w.Procs[0].MinorFaultsPerSec <= 0 || w.Procs[1].Role != RoleLoad {
		t.Fatalf("processes %+v", w.Procs)
	}
	// The timeline has them per second too, from the second sample on.
	m := s.Memory(from)
	if len(m.Samples) != 2 || !math.IsNaN(m.Samples[0].CPUPercent[0]) || !math.IsNaN(m.Samples[0].MinorFaultsPerSec[0]) ||
		m.Samples[1].CPUPercent[0] <= 0 || m.Samples[1].MinorFaultsPerSec[0] <= 0 {
		t.Fatalf("timeline %+v", m.Samples)
	}
	// Each rate is rounded to 3 decimals on its own, so the halved counter's
	// rate may differ from half the other's by the rounding.
	if w.EventsPerSec <= 0 || math.Abs(w.CommitsPerSec*2-w.EventsPerSec) > 0.002 || w.BytesPerSec <= w.EventsPerSec {
		t.Fatalf("rates %+v", w)
	}
	var p Point
	w.Apply(&p)
	if p.CPUPercent != w.Procs[0].CPUPercent || len(p.Processes) != 2 {
		t.Fatalf("applied %+v: the nodes' CPU only", p)
	}
	if _, err := s.Window(time.Now(), time.Now().Add(time.Second)); err == nil {
		t.Fatal("a window without samples has no figures")
	}
}

// TestSustainedAndComparison: a series sustains the highest rate it kept
// up with; the comparison gives the ratio.
func TestSustainedAndComparison(t *testing.T) {
	pt := func(sys string, offered, committed float64, refused uint64) Point {
		return Point{System: sys, Payload: "opaque", Nodes: 4, OfferedTPS: offered, CommittedTPS: committed,
			Submitted: uint64(offered * 10), Committed: uint64(committed * 10), Refused: refused}
	}
	points := []Point{pt("a", 1000, 1000, 0), pt("a", 5000, 4990, 0), pt("a", 9000, 6000, 0),
		pt("b", 100, 100, 0), pt("b", 200, 199, 500)}
	if p, ok := Sustained(points[:3]); !ok || p.OfferedTPS != 5000 {
		t.Fatalf("a sustains %+v %v", p, ok)
	}
	if p, ok := Sustained(points[3:]); !ok || p.OfferedTPS != 100 {
		t.Fatalf("b sustains %+v %v: a point that refused a quarter did not keep up", p, ok)
	}
	var b strings.Builder
	if err := WriteComparison(&b, points); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "a opaque n=4 sustains 49.9× what b opaque n=4 sustains") {
		t.Fatalf("comparison:\n%s", b.String())
	}
}
