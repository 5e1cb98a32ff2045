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

	"dagger/node/api"
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
// SIGKILL and restarted from its store. Every transaction a node
// acknowledged as committed is committed at the same place on every node,
// the nodes' sequences agree, and the restarted node catches up and keeps
// signing without equivocating.
func TestKillNineAndRestart(t *testing.T) {
	dir := t.TempDir()
	dn, pids, clients := startDevnet(t, dir, 4, "--provision", "none")
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
	if s.Round <= before.Round {
		t.Fatalf("restarted node at round %d, the others were at %d before it restarted", s.Round, before.Round)
	}

	l.mu.Lock()
	ackd := append([]acked(nil), l.acked...)
	t.Logf("load: %d sent, %d acknowledged as committed, %d not", l.sent, len(ackd), l.refused)
	l.mu.Unlock()
	if len(ackd) < 100 {
		t.Fatalf("only %d transactions acknowledged as committed", len(ackd))
	}
	for _, a := range ackd {
		for i, c := range clients {
			var st api.TxStatus
			if err := c.get("/v1/txs/"+a.id, &st); err != nil {
				t.Fatalf("node %d: tx %s: %v", i, a.id, err)
			}
			if st.State != "committed" || st.CommitIndex != a.commit || st.Event != a.event || st.Position != a.pos {
				t.Fatalf("tx %s acknowledged at commit %d event %s position %d; node %d says %+v",
					a.id, a.commit, a.event, a.pos, i, st)
			}
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
