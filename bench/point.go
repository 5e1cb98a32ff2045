package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Point is one measured point of a sweep: one system, one committee size,
// one offered rate. Its JSON form is a line of results.jsonl.
type Point struct {
	// System is what ran: "dagger-sim" (the simulator), "dagger" (live
	// node processes) or another system compared with it.
	System string `json:"system"`
	// Payload is "opaque" (bytes the ledger orders and no state machine
	// interprets) or "signed" (the cluster's signed transactions).
	Payload string `json:"payload"`
	Nodes   int    `json:"nodes"`
	TxSize  int    `json:"tx_size"`
	// OfferedTPS is the rate transactions were scheduled at (open loop);
	// CommittedTPS those committed over the load window, per second.
	OfferedTPS   float64 `json:"offered_tps"`
	CommittedTPS float64 `json:"committed_tps"`
	// Submitted and Committed count transactions; Uncommitted those
	// submitted and not committed after the drain; Refused those a node
	// would not take.
	Submitted   uint64 `json:"submitted"`
	Committed   uint64 `json:"committed"`
	Uncommitted uint64 `json:"uncommitted"`
	Refused     uint64 `json:"refused"`
	// LatencyMS summarises each committed transaction's latency from its
	// scheduled send to its commit.
	LatencyMS Quantiles `json:"latency_ms"`
	// SampleEvery, above 1, says that a long live run kept one committed
	// transaction in every SampleEvery (LoadResult.SampleEvery): LatencyMS
	// and the pictures summarise that uniform sample, and CommittedTPS is
	// estimated from it.
	SampleEvery uint64 `json:"sample_every,omitempty"`
	// LoadSeconds is the load window; the run then drains.
	LoadSeconds float64 `json:"load_seconds"`
	// SteadySeconds is the steady window of a live run: the load window
	// after its warmup. CommittedTPS counts the commits seen in it, and
	// LatencyMS the transactions scheduled in it.
	SteadySeconds float64 `json:"steady_seconds,omitempty"`
	// Refusals counts the refused transactions by reason.
	Refusals map[string]uint64 `json:"refusals,omitempty"`
	// CPUPercent is the CPU the run used (100 is one core): in the
	// simulator, the simulating process over its wall time; live, the
	// nodes together over the steady window. RSSMiB is the peak resident
	// memory: of the simulating process while the point ran, or of the
	// largest node. Processes has each process of a live run, the load
	// generator's too.
	CPUPercent float64 `json:"cpu_percent"`
	RSSMiB     float64 `json:"rss_mib"`
	// RSSStartMiB and RSSEndMiB say whether a live run's memory stayed
	// flat: one node's resident memory (the node largest at the end),
	// averaged over the first and over the last tenth of the load window,
	// at most 30 s each (MemoryTimeline.NodeDrift).
	RSSStartMiB float64 `json:"rss_start_mib,omitempty"`
	RSSEndMiB   float64 `json:"rss_end_mib,omitempty"`
	Processes   []Proc  `json:"processes,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
	// Per second of the run (simulated time in the simulator): events
	// created, commits, bytes sent.
	EventsPerSec  float64 `json:"events_per_sec"`
	CommitsPerSec float64 `json:"commits_per_sec"`
	BytesPerSec   float64 `json:"bytes_per_sec"`

	// The simulator's: the constant network latency δ, and latencies in
	// units of δ: each transaction's, and each leader's from its creation
	// to its commit at each honest node.
	DeltaMS     float64    `json:"delta_ms,omitempty"`
	LatencyD    *Quantiles `json:"latency_delta,omitempty"`
	LeaderD     *Quantiles `json:"leader_commit_delta,omitempty"`
	Seed        uint64     `json:"seed,omitempty"`
	Scenario    string     `json:"scenario,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	// Failed names the checks the run failed (a simulated run is checked
	// for agreement, integrity, liveness and evidence like any other).
	Failed []string `json:"failed_checks,omitempty"`
	// Errors are the first few failures a live run's load generator met
	// (requests, the commit watch).
	Errors []string `json:"errors,omitempty"`

	// latencies are the samples LatencyMS summarises, in milliseconds,
	// and commitAt when each committed, in seconds from the start, and
	// memory a live run's processes' memory over time, for the pictures
	// and memory.csv; they are not written.
	latencies, commitAt []float64
	memory              MemoryTimeline
}

// weight is how many committed transactions each of the point's samples
// stands for.
func (p *Point) weight() uint64 { return max(1, p.SampleEvery) }

// Memory is the memory of a live run's processes over time, from the
// start of its load; empty for a point read back from results.jsonl or
// measured in the simulator.
func (p *Point) Memory() MemoryTimeline { return p.memory }

// Quantiles summarises a sample.
type Quantiles struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Summarize returns the sample's mean and quantiles (the empirical
// quantile: the smallest value with at least that fraction of the sample
// at or below it), rounded to three decimals. An empty sample gives zeros.
func Summarize(sample []float64) Quantiles {
	if len(sample) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(sample)
	slices.Sort(s)
	q := func(p float64) float64 { return round3(stat.Quantile(p, stat.Empirical, s, nil)) }
	return Quantiles{N: len(s), Mean: round3(stat.Mean(s, nil)), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: round3(s[len(s)-1])}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteJSONL writes one JSON object per point.
func WriteJSONL(w io.Writer, points []Point) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range points {
		if err := enc.Encode(&points[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJSONL reads what WriteJSONL wrote. A line that is not a point is an
// error naming its number.
func ReadJSONL(r io.Reader) ([]Point, error) {
	var out []Point
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var p Point
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}
