package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dagger/node/live/api"
)

// startDevnet runs 'dagger devnet' and waits for its table of nodes.
func startDevnet(t *testing.T, dir string, n int, extra ...string) (*proc, []int, []*client) {
	t.Helper()
	base := freeBase(t, n)
	args := append([]string{bin, "devnet", "--nodes", fmt.Sprint(n), "--base-port", fmt.Sprint(base), "--dir", dir}, extra...)
	logPath := filepath.Join(t.TempDir(), "devnet.log")
	dn := start(t, "devnet", logPath, args...)
	var out string
	waitFor(t, 90*time.Second, "devnet up", func() (bool, string) {
		data, _ := os.ReadFile(logPath)
		out = string(data)
		if dn.exited() {
			t.Fatalf("devnet exited:\n%s", out)
		}
		return strings.Contains(out, "Ctrl-C stops the devnet"), "no table yet"
	})
	pids, addrs := devnetNodes(out)
	t.Cleanup(func() {
		// The devnet's nodes run in process groups of their own: a test
		// that fails before stopping the devnet must not leave them running.
		if t.Failed() {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if len(pids) != n {
		t.Fatalf("devnet printed %d nodes, want %d:\n%s", len(pids), n, out)
	}
	clients := make([]*client, n)
	for i, a := range addrs {
		clients[i] = newClient(a)
	}
	return dn, pids, clients
}

// TestKillNineAndRestart: under load, one of four nodes is killed with
// SIGKILL and restarted from its store: from the snapshot of the state at
// its last epoch start (epochs are 2 s long here), replaying only the
// events since. Every transaction a node acknowledged as committed is
// committed at the same place on every node, the nodes' sequences agree,
// and the restarted node catches up and keeps signing without
// equivocating. Restarted with keep_epochs = 2, it prunes the events of
// older epochs from its store.
func TestKillNineAndRestart(t *testing.T) {
	dir := t.TempDir()
	dn, pids, clients := startDevnet(t, dir, 4, "--provision", "none", "--epoch-length", "2s")
	waitFor(t, 30*time.Second, "first commits", func() (bool, string) {
		s, err := clients[0].status()
		return err == nil && s.CommitIndex > 2, fmt.Sprint(s, err)
	})

	ctx, cancel := context.WithCancel(context.Background())
	var l loader
	loadDone := make(chan struct{})
	go func() {
		l.run(ctx, t, clients, 20*time.Millisecond)
		close(loadDone)
	}()
	time.Sleep(4 * time.Second)

	const victim = 2
	if err := syscall.Kill(pids[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	before, err := clients[0].status()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, fmt.Sprintf("node-%d", victim), "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "keep_epochs = 120\n") {
		t.Fatalf("%s sets no keep_epochs = 120", cfgPath)
	}
	cfg = []byte(strings.Replace(string(cfg), "keep_epochs = 120\n", "keep_epochs = 2\n", 1))
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	restarted := start(t, "restarted node", filepath.Join(dir, fmt.Sprintf("node-%d", victim), "restart.log"),
		bin, "node", "run", "--config", filepath.Join(dir, fmt.Sprintf("node-%d", victim), "config.toml"))
	time.Sleep(5 * time.Second)
	cancel()
	<-loadDone

	// The restarted node catches up with the others.
	var target uint64
	for i, c := range clients {
		if i == victim {
			continue
		}
		s, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		target = max(target, s.CommitIndex)
	}
	waitFor(t, 60*time.Second, "restarted node catches up", func() (bool, string) {
		s, err := clients[victim].status()
		return err == nil && s.CommitIndex >= target, fmt.Sprintf("at %d, want %d (%v)", s.CommitIndex, target, err)
	})
	// It keeps signing: it made events after the restart.
	created, err := clients[victim].metric("dagger_events_created_total")
	if err != nil {
		t.Fatal(err)
	}
	if created == 0 {
		t.Fatal("the restarted node signed no event")
	}
	s, err := clients[victim].status()
	if err != nil {
		t.Fatal(err)
	}
	if s.Epoch < before.Epoch || s.Epoch == before.Epoch && s.Round <= before.Round {
		t.Fatalf("restarted node at epoch %d round %d, the others were at epoch %d round %d before it restarted",
			s.Epoch, s.Round, before.Epoch, before.Round)
	}
	if s.FirstCommit == 0 || s.SnapshotCommit <= s.FirstCommit {
		t.Fatalf("restarted node: first commit %d, newest snapshot %d: want a start from a snapshot and newer snapshots since",
			s.FirstCommit, s.SnapshotCommit)
	}
	t.Logf("restarted node started from its snapshot at commit %d (epoch %d before the kill: %d); it is at epoch %d, commit %d",
		s.FirstCommit, before.Epoch, before.CommitIndex, s.Epoch, s.CommitIndex)

	l.mu.Lock()
	ackd := append([]acked(nil), l.acked...)
	t.Logf("load: %d sent, %d acknowledged as committed, %d not", l.sent, len(ackd), l.refused)
	l.mu.Unlock()
	if len(ackd) < 100 {
		t.Fatalf("only %d transactions acknowledged as committed", len(ackd))
	}
	pruned := 0
	for _, a := range ackd {
		for i, c := range clients {
			var st api.TxStatus
			if err := c.get("/v1/txs/"+a.id, &st); err != nil {
				t.Fatalf("node %d: tx %s: %v", i, a.id, err)
			}
			if i == victim && a.commit < s.FirstCommit {
				// Applied as part of the snapshot: committed, with no
				// recorded place on this node.
				if st.State != "committed" || st.CommitIndex != a.commit {
					t.Fatalf("tx %s acknowledged at commit %d, below the restarted node's snapshot at %d; it says %+v",
						a.id, a.commit, s.FirstCommit, st)
				}
				var ev map[string]any
				switch err := c.get("/v1/events/"+a.event, &ev); {
				case err != nil && strings.Contains(err.Error(), "404"):
					pruned++
				case err != nil:
					t.Fatalf("restarted node: event %s: %v", a.event, err)
				}
				continue
			}
			if st.State != "committed" || st.CommitIndex != a.commit || st.Event != a.event || st.Position != a.pos {
				t.Fatalf("tx %s acknowledged at commit %d event %s position %d; node %d says %+v",
					a.id, a.commit, a.event, a.pos, i, st)
			}
		}
	}
	// keep_epochs = 2: the restarted node pruned the early epochs' events,
	// which the others still serve.
	if pruned == 0 {
		t.Fatal("the restarted node still serves every event of the acknowledged transactions below its snapshot")
	}
	t.Logf("the restarted node pruned %d events of acknowledged transactions", pruned)
	for i, c := range clients {
		if i == victim {
			continue
		}
		var ev map[string]any
		if err := c.get("/v1/events/"+ackd[0].event, &ev); err != nil {
			t.Fatalf("node %d: event %s: %v", i, ackd[0].event, err)
		}
		st, err := c.status()
		if err != nil || st.SnapshotCommit == 0 {
			t.Fatalf("node %d stored no snapshot: %+v %v", i, st, err)
		}
	}
	checkAgreement(t, clients)
	for i, c := range clients {
		eq, err := c.metric("dagger_equivocations_total")
		if err != nil {
			t.Fatal(err)
		}
		if eq != 0 {
			t.Fatalf("node %d saw %v equivocations", i, eq)
		}
	}
	restarted.stop(20 * time.Second)
	dn.stop(30 * time.Second)
}
