package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the points as a markdown table, in the order given.
// The δ columns appear when any point has them.
func WriteTable(w io.Writer, points []Point) error {
	delta := false
	for _, p := range points {
		delta = delta || p.LatencyD != nil
	}
	head := []string{"system", "payload", "nodes", "offered tx/s", "committed tx/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "uncommitted", "CPU %", "RSS MiB"}
	if delta {
		head = append(head, "δ ms", "tx mean δ", "tx p50 δ", "tx p99 δ", "leader mean δ")
	}
	head = append(head, "checks")
	var b strings.Builder
	row := func(cells []string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	row(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	row(sep)
	for _, p := range points {
		cells := []string{p.System, p.Payload, fmt.Sprint(p.Nodes), num(p.OfferedTPS), num(p.CommittedTPS),
			ms(p.LatencyMS.P50), ms(p.LatencyMS.P90), ms(p.LatencyMS.P99), ms(p.LatencyMS.Max),
			fmt.Sprint(p.Uncommitted), fmt.Sprintf("%.0f", p.CPUPercent), fmt.Sprintf("%.0f", p.RSSMiB)}
		if delta {
			if p.LatencyD != nil && p.LeaderD != nil {
				cells = append(cells, ms(p.DeltaMS), dl(p.LatencyD.Mean), dl(p.LatencyD.P50), dl(p.LatencyD.P99), dl(p.LeaderD.Mean))
			} else {
				cells = append(cells, "", "", "", "", "")
			}
		}
		checks := "pass"
		if p.Fingerprint == "" {
			checks = "–" // a live run: the simulator's checks are not run
		}
		if len(p.Failed) > 0 {
			checks = "failed: " + strings.Join(p.Failed, ", ")
		}
		row(append(cells, checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	// thousands separators
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func dl(v float64) string { return fmt.Sprintf("%.2f", v) }

// FormatNumber is v rounded to a whole number, with thousands separators.
func FormatNumber(v float64) string { return num(v) }

// KeptUp reports whether a point's system kept up with its offered load:
// it committed at least 95% of the offered rate over the steady window,
// and refused or left uncommitted at most 1% of what was offered.
func KeptUp(p Point) bool {
	offered := p.Submitted + p.Refused
	return p.CommittedTPS >= 0.95*p.OfferedTPS && float64(p.Refused+p.Uncommitted) <= 0.01*float64(offered)
}

// Sustained is, of a series' points, the one at the highest offered rate
// the system kept up with; false if it kept up with none.
func Sustained(points []Point) (Point, bool) {
	var best Point
	found := false
	for _, p := range points {
		if KeptUp(p) && (!found || p.OfferedTPS > best.OfferedTPS) {
			best, found = p, true
		}
	}
	return best, found
}

// WriteComparison writes what each series (system, payload, committee
// size) sustained, and each series' ratio to every other that sustained
// something: the comparison that holds on a noisy machine is the one made
// side by side in one run.
func WriteComparison(w io.Writer, points []Point) error {
	var b strings.Builder
	type sus struct {
		name string
		p    Point
		ok   bool
	}
	var all []sus
	for _, s := range seriesOf(points) {
		p, ok := Sustained(s.points)
		all = append(all, sus{s.name, p, ok})
	}
	fmt.Fprintln(&b, "| series | sustained tx/s | at offered tx/s | p50 ms | p99 ms |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, s := range all {
		if !s.ok {
			fmt.Fprintf(&b, "| %s | none of its points kept up | | | |\n", s.name)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", s.name, num(s.p.CommittedTPS), num(s.p.OfferedTPS), ms(s.p.LatencyMS.P50), ms(s.p.LatencyMS.P99))
	}
	for i, x := range all {
		for _, y := range all[i+1:] {
			if x.ok && y.ok && y.p.CommittedTPS > 0 {
				fmt.Fprintf(&b, "\n%s sustains %.1f× what %s sustains.\n", x.name, x.p.CommittedTPS/y.p.CommittedTPS, y.name)
			}
		}
	}
	fmt.Fprintln(&b, "\nA series keeps up with a rate when it commits at least 95% of it over the steady window and refuses or leaves uncommitted at most 1% of the transactions offered.")
	_, err := io.WriteString(w, b.String())
	return err
}
