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
// one line per series (system, payload and committee size). It returns
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

	tp := plot.New()
	tp.Title.Text = "Committed against offered load"
	tp.X.Label.Text = "offered tx/s"
	tp.Y.Label.Text = "committed tx/s"
	lat := plot.New()
	lat.Title.Text = "Latency against throughput (p50 solid, p99 dashed)"
	lat.X.Label.Text = "committed tx/s"
	lat.Y.Label.Text = "latency (ms)"
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

	cdf := plot.New()
	cdf.Title.Text = "Latency distribution"
	cdf.X.Label.Text = "latency (ms)"
	cdf.Y.Label.Text = "fraction committed within"
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
	return files, nil
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
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// mkdir makes dir for the sweep's files.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
