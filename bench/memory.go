package bench

import (
	"encoding/csv"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// MemoryTimeline is the memory of a live run's processes over time, one
// sample a second: what shows whether a long run's nodes stay flat.
type MemoryTimeline struct {
	// Procs are the processes, in the order of each sample's figures.
	Procs   []Watched
	Samples []MemorySample
}

// MemorySample is one sample of a MemoryTimeline.
type MemorySample struct {
	// Seconds is the sample's time from the timeline's start.
	Seconds float64
	// RSSMiB is each process's resident memory; 0 if it could not be
	// read (the process had ended).
	RSSMiB []float64
	// SnapshotBytes is each process's dagger_snapshot_bytes (the size of
	// the last state snapshot its node stored), or NoSnapshot where that
	// is not known: a process that serves no metrics, a failed scrape.
	SnapshotBytes []int64
	// CPUPercent and MinorFaultsPerSec are each process's CPU (100 is one
	// core) and minor page faults a second since the sample before; NaN
	// for the first sample or where they could not be read.
	CPUPercent, MinorFaultsPerSec []float64
}

// NoSnapshot is a MemorySample's SnapshotBytes where the size is not known.
const NoSnapshot = -1

// Memory returns the memory timeline of the samples taken at or after
// start, their time counted from it.
func (s *Sampler) Memory(start time.Time) MemoryTimeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := MemoryTimeline{Procs: slices.Clone(s.procs)}
	for k, sm := range s.samples {
		if sm.at.Before(start) {
			continue
		}
		n := len(s.procs)
		ms := MemorySample{Seconds: sm.at.Sub(start).Seconds(), RSSMiB: make([]float64, n), SnapshotBytes: make([]int64, n),
			CPUPercent: make([]float64, n), MinorFaultsPerSec: make([]float64, n)}
		for i := range s.procs {
			ms.CPUPercent[i], ms.MinorFaultsPerSec[i] = math.NaN(), math.NaN()
			if k > 0 {
				if cpu, faults, ok := procRates(s.samples[k-1], sm, i); ok {
					ms.CPUPercent[i], ms.MinorFaultsPerSec[i] = cpu, faults
				}
			}
			ms.RSSMiB[i] = float64(sm.rss[i]) / (1 << 20)
			ms.SnapshotBytes[i] = NoSnapshot
			if v, ok := sm.metrics[i]["dagger_snapshot_bytes"]; ok {
				ms.SnapshotBytes[i] = int64(v)
			}
		}
		m.Samples = append(m.Samples, ms)
	}
	return m
}

// driftWindowMaxSeconds bounds each end of the load window NodeDrift
// averages over: long enough to smooth the garbage collector's sawtooth,
// short enough that a soak's first half hour is not its "start".
const driftWindowMaxSeconds = 30

// NodeDrift says how far a node's resident memory moved while the load
// ran, over [0, loadSeconds] of the timeline: the resident memory of the
// node largest at the end, averaged over the first and over the last
// tenth of the load window (at most 30 s each; where no sample falls in
// one, the load window's first or last sample stands for it). It is one
// node's, so that a node that grows is not hidden behind another that was
// large all along at one end. ok is false without a node or without a
// sample in the load window.
func (m MemoryTimeline) NodeDrift(loadSeconds float64) (startMiB, endMiB float64, ok bool) {
	var in []MemorySample
	for _, s := range m.Samples {
		if s.Seconds <= loadSeconds {
			in = append(in, s)
		}
	}
	if len(in) == 0 {
		return 0, 0, false
	}
	w := min(loadSeconds/10, driftWindowMaxSeconds)
	within := func(from, to float64) []MemorySample {
		var out []MemorySample
		for _, s := range in {
			if s.Seconds >= from && s.Seconds <= to {
				out = append(out, s)
			}
		}
		return out
	}
	head, tail := within(0, w), within(loadSeconds-w, loadSeconds)
	if len(head) == 0 {
		head = in[:1]
	}
	if len(tail) == 0 {
		tail = in[len(in)-1:]
	}
	mean := func(ss []MemorySample, proc int) float64 {
		sum := 0.0
		for _, s := range ss {
			sum += s.RSSMiB[proc]
		}
		return sum / float64(len(ss))
	}
	node := -1
	for i, p := range m.Procs {
		if p.Role == RoleNode && (node < 0 || mean(tail, i) > mean(tail, node)) {
			node = i
		}
	}
	if node < 0 {
		return 0, 0, false
	}
	return mean(head, node), mean(tail, node), true
}

// Apply keeps the timeline in p, for the pictures and memory.csv, and
// puts into p its NodeDrift over p's load window.
func (m MemoryTimeline) Apply(p *Point) {
	p.memory = m
	if start, end, ok := m.NodeDrift(p.LoadSeconds); ok {
		p.RSSStartMiB, p.RSSEndMiB = round3(start), round3(end)
	}
}

// WriteCSV writes the timeline in long form, a row per process per
// sample: t_s (seconds from the start), process, role, rss_mib,
// snapshot_bytes, cpu_percent and minor_faults_per_s (each empty where not
// known).
func (m MemoryTimeline) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"t_s", "process", "role", "rss_mib", "snapshot_bytes", "cpu_percent", "minor_faults_per_s"}); err != nil {
		return err
	}
	rate := func(v []float64, i int) string {
		if i >= len(v) || math.IsNaN(v[i]) {
			return ""
		}
		return strconv.FormatFloat(round3(v[i]), 'f', -1, 64)
	}
	for _, s := range m.Samples {
		for i, p := range m.Procs {
			snapshot := ""
			if s.SnapshotBytes[i] != NoSnapshot {
				snapshot = strconv.FormatInt(s.SnapshotBytes[i], 10)
			}
			row := []string{strconv.FormatFloat(round3(s.Seconds), 'f', -1, 64), p.Name, p.Role,
				strconv.FormatFloat(round3(s.RSSMiB[i]), 'f', -1, 64), snapshot, rate(s.CPUPercent, i), rate(s.MinorFaultsPerSec, i)}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
