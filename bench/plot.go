package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots draws the sweep into dir, each picture as PNG and SVG:
// throughput.* (committed against offered tx/s), latency.* (p50 and p99
// against committed tx/s) and cdf.* (each point's latency distribution),
// one line per series (system, payload and committee size); and, for the
// sweep's last point (its largest committee at its highest rate, as
// sweeps run), run-throughput.* and run-latency.* (committed tx/s and
// p50/p99 latency per second of the run) and, for a live run,
// run-memory.* (each process's resident memory over time) and
// run-snapshot.* (each node's last snapshot size over time). It returns
// the files written.
func WritePlots(dir string, points []Point) ([]string, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("no points to draw")
	}
	series := seriesOf(points)
	var files []string
	save := func(p *plot.Plot, name string) error {
		for _, ext := range []string{".png", ".svg"} {
			f := filepath.Join(dir, name+ext)
			if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, f); err != nil {
				return fmt.Errorf("draw %s: %w", f, err)
			}
			files = append(files, f)
		}
		return nil
	}

	tp := newPlot("Committed against offered load", "offered tx/s", "committed tx/s")
	lat := newPlot("Latency against throughput (p50 solid, p99 dashed)", "committed tx/s", "latency (ms)")
	for i, s := range series {
		var t, p50, p99 plotter.XYs
		for _, p := range s.points {
			t = append(t, plotter.XY{X: p.OfferedTPS, Y: p.CommittedTPS})
			p50 = append(p50, plotter.XY{X: p.CommittedTPS, Y: p.LatencyMS.P50})
			p99 = append(p99, plotter.XY{X: p.CommittedTPS, Y: p.LatencyMS.P99})
		}
		if err := addLine(tp, s.name, t, i, false); err != nil {
			return nil, err
		}
		if err := addLine(lat, s.name+" p50", p50, i, false); err != nil {
			return nil, err
		}
		if err := addLine(lat, s.name+" p99", p99, i, true); err != nil {
			return nil, err
		}
	}
	for _, p := range []*plot.Plot{tp, lat} {
		// From zero, with room above the lines for the legend.
		p.X.Min, p.Y.Min = 0, 0
		p.Y.Max *= 1.4
	}
	tp.Legend.Top, lat.Legend.Top = true, true
	tp.Legend.Left, lat.Legend.Left = true, true
	if err := save(tp, "throughput"); err != nil {
		return nil, err
	}
	if err := save(lat, "latency"); err != nil {
		return nil, err
	}

	cdf := newPlot("Latency distribution", "latency (ms)", "fraction committed within")
	n := 0
	for _, s := range series {
		for _, p := range s.points {
			if len(p.latencies) == 0 {
				continue
			}
			if err := addLine(cdf, fmt.Sprintf("%s @ %s tx/s", s.name, num(p.OfferedTPS)), cdfOf(p.latencies), n, false); err != nil {
				return nil, err
			}
			n++
		}
	}
	if n > 0 {
		cdf.X.Min = 0
		cdf.Legend.Top = false
		cdf.Legend.Left = false
		if err := save(cdf, "cdf"); err != nil {
			return nil, err
		}
	}
	last := points[len(points)-1]
	name := fmt.Sprintf("%s %s n=%d at %s tx/s", last.System, last.Payload, last.Nodes, num(last.OfferedTPS))
	if len(last.commitAt) > 0 {
		secs := perSecond(last.commitAt, last.latencies)
		rt := newPlot("Committed per second of one run: "+name, "time (s)", "committed tx/s")
		if w := last.weight(); w > 1 {
			rt.Y.Label.Text = fmt.Sprintf("committed tx/s (from a sample of 1 in %d)", w)
		}
		rl := newPlot("Latency per second of one run (p50 solid, p99 dashed)", "time of commit (s)", "latency (ms)")
		var tps, p50, p99 plotter.XYs
		for _, b := range secs {
			tps = append(tps, plotter.XY{X: b.t, Y: float64(b.n) * float64(last.weight())})
			if b.n > 0 {
				p50 = append(p50, plotter.XY{X: b.t, Y: b.q.P50})
				p99 = append(p99, plotter.XY{X: b.t, Y: b.q.P99})
			}
		}
		if err := addLine(rt, "committed", tps, 0, false); err != nil {
			return nil, err
		}
		if len(p50) > 0 {
			if err := addLine(rl, "p50", p50, 0, false); err != nil {
				return nil, err
			}
			if err := addLine(rl, "p99", p99, 0, true); err != nil {
				return nil, err
			}
		}
		for _, p := range []*plot.Plot{rt, rl} {
			p.X.Min, p.Y.Min = 0, 0
			p.Y.Max *= 1.3
			p.Legend.Top = true
		}
		if err := save(rt, "run-throughput"); err != nil {
			return nil, err
		}
		if err := save(rl, "run-latency"); err != nil {
			return nil, err
		}
	}
	if len(last.memory.Samples) > 0 {
		rss, snap, err := memoryPlots(last.memory, name)
		if err != nil {
			return nil, err
		}
		if err := save(rss, "run-memory"); err != nil {
			return nil, err
		}
		if snap != nil {
			if err := save(snap, "run-snapshot"); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// memoryPlots draws a run's memory over time: every process's resident
// memory (the load generator's dashed), and every node's last snapshot
// size; snap is nil if no node's is known.
func memoryPlots(m MemoryTimeline, name string) (rss, snap *plot.Plot, err error) {
	rss = newPlot("Resident memory over one run: "+name, "time from the start of the load (s)", "resident memory (MiB)")
	snap = newPlot("Size of each node's last state snapshot: "+name, "time from the start of the load (s)", "snapshot (KiB)")
	nodes := 0
	for i, p := range m.Procs {
		var mem, size plotter.XYs
		for _, s := range m.Samples {
			mem = append(mem, plotter.XY{X: s.Seconds, Y: s.RSSMiB[i]})
			if s.SnapshotBytes[i] != NoSnapshot {
				size = append(size, plotter.XY{X: s.Seconds, Y: float64(s.SnapshotBytes[i]) / 1024})
			}
		}
		if err := addLine(rss, p.Name, mem, i, p.Role != RoleNode); err != nil {
			return nil, nil, err
		}
		if p.Role == RoleNode && len(size) > 0 {
			if err := addLine(snap, p.Name, size, i, false); err != nil {
				return nil, nil, err
			}
			nodes++
		}
	}
	for _, p := range []*plot.Plot{rss, snap} {
		// From zero, so that a flat line looks flat; room above for the
		// legend, and a scale even when every size is still 0.
		p.X.Min, p.Y.Min = 0, 0
		p.Y.Max = max(p.Y.Max*1.3, 1)
		p.Legend.Top = true
	}
	if nodes == 0 {
		snap = nil
	}
	return rss, snap, nil
}

// second is one second of a run: how many committed in it and their
// latencies' summary.
type second struct {
	t float64 // the second's start
	n int
	q Quantiles
}

// perSecond buckets commits by the second they happened in, every second
// from 0 to the last commit, empty ones included.
func perSecond(at, lat []float64) []second {
	if len(at) == 0 {
		return nil
	}
	last := int(slices.Max(at))
	buckets := make([][]float64, last+1)
	for i, t := range at {
		b := int(t)
		buckets[b] = append(buckets[b], lat[i])
	}
	out := make([]second, len(buckets))
	for i, b := range buckets {
		out[i] = second{t: float64(i), n: len(b), q: Summarize(b)}
	}
	return out
}

// newPlot is an empty picture with its title and axis labels.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	return p
}

type series struct {
	name   string
	points []Point
}

// seriesOf groups the points by system, payload and committee size, each
// series in increasing offered rate, the series in the order first seen.
func seriesOf(points []Point) []series {
	var out []series
	idx := map[string]int{}
	for _, p := range points {
		name := fmt.Sprintf("%s %s n=%d", p.System, p.Payload, p.Nodes)
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, series{name: name})
		}
		out[i].points = append(out[i].points, p)
	}
	for i := range out {
		sort.SliceStable(out[i].points, func(a, b int) bool { return out[i].points[a].OfferedTPS < out[i].points[b].OfferedTPS })
	}
	return out
}

// cdfOf is the empirical distribution of sample, at most 500 steps.
func cdfOf(sample []float64) plotter.XYs {
	s := slices.Clone(sample)
	slices.Sort(s)
	step := max(1, len(s)/500)
	var xy plotter.XYs
	for i := 0; i < len(s); i += step {
		xy = append(xy, plotter.XY{X: s[i], Y: float64(i+1) / float64(len(s))})
	}
	return append(xy, plotter.XY{X: s[len(s)-1], Y: 1})
}

// maxGlyphs is the most points a line marks each of with a glyph: the
// thousands of a long run's per-second points would hide the line.
const maxGlyphs = 200

func addLine(p *plot.Plot, name string, xy plotter.XYs, i int, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xy)
	if err != nil {
		return fmt.Errorf("draw %s: %w", name, err)
	}
	c := plotutil.Color(i)
	l.Color, pts.Color = c, c
	pts.Shape = plotutil.Shape(i)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		pts.Color = color.Transparent
	}
	if len(xy) > maxGlyphs {
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// mkdir makes dir for the sweep's files.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
