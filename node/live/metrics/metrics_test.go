package metrics

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func sample() *Snapshot {
	return &Snapshot{Epoch: 1, Round: 42, LastCommittedRound: 40, Commits: 39, EventsCreated: 43, EventsReceived: 120,
		CommittedTxs: 1000, PendingTxs: 3, SnapshotBytes: 5120, FlowCuts: 7, FlowLimited: 12, FlowBudget: 65536, Peers: 3, BytesReceived: 1 << 20, BytesSent: 1 << 19, Member: true,
		ProvisionOps: map[string]uint64{"define": 2, "start": 2}, ProvisionFails: map[string]uint64{"start": 1},
		VMs: map[string]int{"running": 2}, Operators: map[string]int{"active": 4}}
}

// TestScrapeShowsTheSnapshot: what the node published is what a scrape
// reads, under the documented names.
func TestScrapeShowsTheSnapshot(t *testing.T) {
	m := New()
	m.Publish(sample())
	m.ObserveCommitLatency(0.12)
	m.ObserveTxLatency(0.2)
	out := scrape(t, m)
	for _, want := range []string{
		"dagger_round 42\n", "dagger_last_committed_round 40\n", "dagger_committed_txs_total 1000\n",
		"dagger_pending_txs 3\n", "dagger_peers 3\n", "dagger_network_received_bytes_total 1.048576e+06\n",
		`dagger_provision_operations_total{operation="start"} 2` + "\n", `dagger_provision_failures_total{operation="start"} 1` + "\n",
		`dagger_vms{state="running"} 2` + "\n", `dagger_operators{status="active"} 4` + "\n",
		"dagger_commit_latency_seconds_count 1\n", "dagger_tx_commit_latency_seconds_count 1\n",
		"dagger_events_created_total 43\n", "dagger_equivocations_total 0\n", "dagger_committee_member 1\n",
		"dagger_snapshot_bytes 5120\n", "dagger_flow_cuts_total 7\n", "dagger_flow_limited_events_total 12\n",
		"dagger_flow_budget_bytes 65536\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

// TestPromtoolAcceptsTheOutput runs Prometheus' own linter over a scrape.
// CI installs promtool and sets DAGGER_PROMTOOL=1, which makes its absence
// a failure.
func TestPromtoolAcceptsTheOutput(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("DAGGER_PROMTOOL") == "1" {
			t.Fatal("DAGGER_PROMTOOL=1 but promtool is not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	m := New()
	m.Publish(sample())
	m.ObserveCommitLatency(0.12)
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, m))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Fatalf("promtool check metrics has remarks:\n%s", s)
	}
}
