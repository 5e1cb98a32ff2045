package swarm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"dagger/sim"
)

// Line is one run of a campaign as `dagger sim fuzz` writes it to its
// JSON lines file, the moment the run finishes; `dagger sim merge` reads
// the lines of several shards back.
type Line struct {
	Seed     uint64   `json:"seed"`
	Scenario string   `json:"scenario"`
	Verdict  string   `json:"verdict"` // pass, fail or error
	Failed   []string `json:"failed,omitempty"`
	Error    string   `json:"error,omitempty"`
	Features []string `json:"features,omitempty"`
	// File is where the failing scenario was written, Replay the command
	// that runs it again.
	File        string      `json:"file,omitempty"`
	Replay      string      `json:"replay,omitempty"`
	WallSeconds float64     `json:"wall_seconds"`
	Report      *sim.Report `json:"report,omitempty"`
}

// Line describes the result; file is where a failing scenario was
// written ("" if none).
func (r *Result) Line(file string) Line {
	l := Line{Seed: r.Seed, Verdict: "pass", Failed: r.Failed(), Error: r.Err, File: file,
		WallSeconds: r.Duration.Seconds(), Report: r.Report}
	if r.Case != nil {
		l.Scenario, l.Features = r.Case.Scenario.Name, r.Case.Features
	}
	switch {
	case r.Err != "":
		l.Verdict = "error"
	case len(l.Failed) > 0:
		l.Verdict = "fail"
	}
	if file != "" {
		l.Replay = "dagger sim run " + file
	}
	return l
}

// MaxLineBytes bounds one line of a campaign file.
const MaxLineBytes = 16 << 20

// ReadLines reads a campaign's JSON lines. Blank lines are skipped; a
// line that is not a campaign result is an error naming its number. A
// last line cut short (a campaign killed while writing) is reported as
// truncated, and the lines before it are returned with the error.
func ReadLines(r io.Reader, name string) ([]Line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	var out []Line
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var l Line
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, fmt.Errorf("%s:%d: not a JSON object (%v); a campaign killed while writing leaves its last line truncated", name, n, err)
			}
			return out, fmt.Errorf("%s:%d: not a campaign result: %v", name, n, err)
		}
		switch l.Verdict {
		case "pass", "fail", "error":
		default:
			return out, fmt.Errorf("%s:%d: verdict %q, want pass, fail or error", name, n, l.Verdict)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
