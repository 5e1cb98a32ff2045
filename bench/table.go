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
