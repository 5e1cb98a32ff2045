package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/procfs"

	dto "github.com/prometheus/client_model/go"
)

// PointFromLoad summarises a load run of a live system: committed tx/s
// over the steady window (the load window after its warmup, by the time
// each commit was seen), the latency of the transactions scheduled in it,
// and what was refused or never committed over the whole run. From a run
// that kept a sample of its transactions, the committed tx/s is the
// sample's, scaled.
func PointFromLoad(system string, nodes int, res *LoadResult) Point {
	from, to := res.WarmupSeconds, res.LoadSeconds
	var lat, at, steady []float64
	inWindow := 0
	for i := range res.Latency {
		s, l := float64(res.Sched[i]), float64(res.Latency[i])
		seenAt := s + l/1000
		lat = append(lat, l)
		at = append(at, seenAt)
		if seenAt >= from && seenAt < to {
			inWindow++
		}
		if s >= from && s < to {
			steady = append(steady, l)
		}
	}
	p := Point{
		System: system, Payload: res.Payload, Nodes: nodes, TxSize: res.TxSize,
		OfferedTPS: res.Rate, Submitted: res.Submitted, Committed: res.Committed,
		Uncommitted: res.Uncommitted, Refused: res.Refused, Refusals: res.Refusals,
		LatencyMS: Summarize(steady), LoadSeconds: res.LoadSeconds, SteadySeconds: round3(to - from),
		SampleEvery: res.SampleEvery, Errors: res.Errors,
		latencies: lat, commitAt: at,
	}
	if to > from {
		p.CommittedTPS = round3(float64(inWindow) * float64(p.weight()) / (to - from))
	}
	return p
}

// Proc is one process of a live run: its CPU over the steady window (100
// is one core) and its peak resident memory.
type Proc struct {
	Name string `json:"name"`
	// Role is RoleNode (a node of the system under test) or RoleLoad (the
	// load generator).
	Role       string  `json:"role"`
	CPUPercent float64 `json:"cpu_percent"`
	RSSMiB     float64 `json:"rss_mib"`
	// MinorFaultsPerSec is the pages the process touched for the first
	// time a second (or again after giving them back), over the steady
	// window: a heap that grows under load pays one fault a page, about
	// 10 µs each on some virtual machines.
	MinorFaultsPerSec float64 `json:"minor_faults_per_sec"`
}

// Watched is a process a Sampler follows, with the Prometheus endpoint it
// serves, if any.
type Watched struct {
	Name, Role string
	PID        int
	Metrics    string // URL of its /metrics, or ""
}

// Sampler reads, every second, each watched process's CPU time and
// memory (peak and current) from /proc and the figures it serves at
// /metrics, so that a run can be summarised over any window of it, and
// its memory followed over time, afterwards.
type Sampler struct {
	procs []Watched
	http  *http.Client

	mu      sync.Mutex
	samples []sample
}

type sample struct {
	at      time.Time
	cpu     []float64 // seconds, per process
	faults  []uint64  // minor page faults so far, per process
	hwm     []uint64  // bytes, per process
	rss     []uint64  // bytes, per process
	metrics []map[string]float64
}

// Counters and gauges a Sampler reads from /metrics.
var sampledMetrics = []string{"dagger_events_created_total", "dagger_commits_total", "dagger_network_sent_bytes_total",
	"dagger_snapshot_bytes"}

// NewSampler follows procs.
func NewSampler(procs []Watched) *Sampler {
	return &Sampler{procs: procs, http: &http.Client{Timeout: 2 * time.Second}}
}

// Run samples every interval until ctx is done.
func (s *Sampler) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one sample now.
func (s *Sampler) Sample(ctx context.Context) {
	n := len(s.procs)
	sm := sample{at: time.Now(), cpu: make([]float64, n), faults: make([]uint64, n), hwm: make([]uint64, n), rss: make([]uint64, n),
		metrics: make([]map[string]float64, n)}
	for i, w := range s.procs {
		if p, err := procfs.NewProc(w.PID); err == nil {
			if st, err := p.Stat(); err == nil {
				sm.cpu[i], sm.faults[i] = st.CPUTime(), uint64(st.MinFlt)
			}
			if st, err := p.NewStatus(); err == nil {
				sm.hwm[i], sm.rss[i] = st.VmHWM, st.VmRSS
			}
		}
		if w.Metrics != "" {
			sm.metrics[i] = s.scrape(ctx, w.Metrics)
		}
	}
	s.mu.Lock()
	s.samples = append(s.samples, sm)
	s.mu.Unlock()
}

// scrape reads the sampled counters and gauges from a Prometheus text
// endpoint; what cannot be read is left out.
func (s *Sampler) scrape(ctx context.Context, url string) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	dec := expfmt.NewDecoder(io.LimitReader(resp.Body, 4<<20), expfmt.NewFormat(expfmt.TypeTextPlain))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		if !slices.Contains(sampledMetrics, mf.GetName()) || len(mf.Metric) != 1 {
			continue
		}
		switch m := mf.Metric[0]; {
		case m.Counter != nil:
			out[mf.GetName()] = m.Counter.GetValue()
		case m.Gauge != nil:
			out[mf.GetName()] = m.Gauge.GetValue()
		}
	}
	return out
}

// Roles of the processes of a live run.
const (
	RoleNode = "node"
	RoleLoad = "load"
)

// Window is what the samples say of [from, to]: each process's CPU and
// peak memory (the peak over its life until to), and the counters'
// rates. It uses the samples nearest inside the window.
type Window struct {
	Procs []Proc
	// Per second, summed over the processes: events created, bytes sent;
	// and the commits of the first process that serves metrics.
	EventsPerSec, CommitsPerSec, BytesPerSec float64
}

// Window summarises [from, to]; with fewer than two samples in it, it is
// empty.
func (s *Sampler) Window(from, to time.Time) (Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var in []sample
	for _, sm := range s.samples {
		if !sm.at.Before(from) && !sm.at.After(to) {
			in = append(in, sm)
		}
	}
	if len(in) < 2 {
		return Window{}, fmt.Errorf("%d samples in the window of %v, want two or more", len(in), to.Sub(from).Round(time.Millisecond))
	}
	a, b := in[0], in[len(in)-1]
	secs := b.at.Sub(a.at).Seconds()
	var w Window
	commitsFrom := -1
	for i, p := range s.procs {
		w.Procs = append(w.Procs, Proc{Name: p.Name, Role: p.Role, CPUPercent: round3(100 * (b.cpu[i] - a.cpu[i]) / secs), RSSMiB: round3(float64(b.hwm[i]) / (1 << 20)),
			MinorFaultsPerSec: round3(faultsPerSec(a, b, i))})
		if a.metrics[i] == nil || b.metrics[i] == nil {
			continue
		}
		rate := func(name string) float64 { return (b.metrics[i][name] - a.metrics[i][name]) / secs }
		w.EventsPerSec += rate("dagger_events_created_total")
		w.BytesPerSec += rate("dagger_network_sent_bytes_total")
		if commitsFrom < 0 {
			commitsFrom = i
			w.CommitsPerSec = rate("dagger_commits_total")
		}
	}
	w.EventsPerSec, w.CommitsPerSec, w.BytesPerSec = round3(w.EventsPerSec), round3(w.CommitsPerSec), round3(w.BytesPerSec)
	return w, nil
}

// procRates is process i's CPU (100 is one core) and minor page faults a
// second from sample a to b; ok is false where either sample could not
// read them (both come from one read of /proc/<pid>/stat).
func procRates(a, b sample, i int) (cpuPercent, faults float64, ok bool) {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 || a.faults[i] == 0 || b.faults[i] < a.faults[i] || b.cpu[i] < a.cpu[i] {
		return 0, 0, false
	}
	return 100 * (b.cpu[i] - a.cpu[i]) / secs, float64(b.faults[i]-a.faults[i]) / secs, true
}

// faultsPerSec is procRates's faults, 0 where they are not known.
func faultsPerSec(a, b sample, i int) float64 {
	_, f, _ := procRates(a, b, i)
	return f
}

// Apply puts the window's figures into p: every process, and the CPU the
// nodes used together and the largest peak memory of one node.
func (w Window) Apply(p *Point) {
	p.Processes = append(p.Processes, w.Procs...)
	p.CPUPercent, p.RSSMiB = 0, 0
	for _, pr := range p.Processes {
		if pr.Role != RoleNode {
			continue
		}
		p.CPUPercent += pr.CPUPercent
		p.RSSMiB = max(p.RSSMiB, pr.RSSMiB)
	}
	p.CPUPercent = round3(p.CPUPercent)
	p.EventsPerSec, p.CommitsPerSec, p.BytesPerSec = w.EventsPerSec, w.CommitsPerSec, w.BytesPerSec
}

// processCPU is this process's CPU time so far.
func processCPU() time.Duration { return usage().cpu }
