package swarm_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"dagger/sim/swarm"
)

func FuzzReadLines(f *testing.F) {
	f.Add([]byte(`{"seed":1,"scenario":"fuzz-1","verdict":"pass","wall_seconds":1}` + "\n"))
	f.Add([]byte(`{"seed":2,"verdict":"fail","failed":["liveness"],"file":"x.yaml","replay":"dagger sim run x.yaml","wall_seconds":0.5,"report":{"scenario":"x","checks":[{"name":"liveness","pass":false,"detail":"d"}],"coverage":{"sync":3}}}` + "\n\n"))
	f.Add([]byte(`{"seed":3,"verdict":"maybe"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := swarm.ReadLines(bytes.NewReader(data), "f.jsonl")
		if err != nil && !strings.HasPrefix(err.Error(), "f.jsonl") {
			t.Fatalf("error does not name the file: %v", err)
		}
		for _, l := range lines {
			switch l.Verdict {
			case "pass", "fail", "error":
			default:
				t.Fatalf("accepted verdict %q", l.Verdict)
			}
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			again, err := swarm.ReadLines(bytes.NewReader(b), "again")
			if err != nil || len(again) != 1 {
				t.Fatalf("a line read back does not read again: %v", err)
			}
		}
	})
}
