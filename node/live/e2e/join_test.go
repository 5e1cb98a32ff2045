package e2e

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/tx"
)

// dagger runs the CLI to completion and returns its exit code and output.
func dagger(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("dagger %s: %v", strings.Join(args, " "), err)
		}
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// mustDagger runs the CLI and fails the test unless it exits 0 with
// output that holds every one of want.
func mustDagger(t *testing.T, want []string, args ...string) string {
	t.Helper()
	code, out := dagger(t, args...)
	if code != 0 {
		t.Fatalf("dagger %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("dagger %s: output lacks %q\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

// bootstrapped reads the epoch and commit of the snapshot node bootstrap
// stored.
func bootstrapped(t *testing.T, out string) (epoch, commit uint64) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "snapshot    epoch %d, commit %d,", &epoch, &commit); err == nil {
			return epoch, commit
		}
	}
	t.Fatalf("bootstrap printed no snapshot line:\n%s", out)
	return 0, 0
}

// TestJoinARunningClusterFromASnapshot: a fifth operator joins a running
// four-node devnet the way an operator would, through the CLI only. The
// devnet has passed a few epochs (2 s each), so the newcomer bootstraps
// from two nodes' state snapshot, asks to join, three of the four
// operators approve, and it runs: it becomes an active member from the
// next epoch boundary, starts from the snapshot (not genesis), catches up,
// signs events, and its commit sequence agrees with the others'. It is
// started two epochs after the snapshot, so it catches up across epoch
// boundaries, the one that admits it among them.
func TestJoinARunningClusterFromASnapshot(t *testing.T) {
	began := time.Now()
	dir := t.TempDir()
	dn, _, clients := startDevnet(t, dir, 4, "--provision", "none", "--epoch-length", "2s")
	nodeURL := func(i int) string { return clients[i].base }

	// The newcomer's directory, with the cluster's genesis file.
	newDir := filepath.Join(dir, "new")
	base := freeBase(t, 1)
	mustDagger(t, []string{"operator key"}, "node", "init", "--dir", newDir, "--listen-ip", "127.0.0.1", "--advertise-ip", "127.0.0.1",
		"--p2p-port", fmt.Sprint(base+1000), "--api", fmt.Sprintf("127.0.0.1:%d", base))
	cfgPath := filepath.Join(newDir, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "\ngenesis = \"genesis.json\"\n") {
		t.Fatalf("%s does not name genesis.json next to it:\n%s", cfgPath, cfg)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, "genesis.json"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.Load(filepath.Join(newDir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	self := tx.Key(key.Public().(ed25519.PublicKey)).String()

	// The cluster has moved on a few epochs: the newcomer starts from their
	// snapshot, not from genesis.
	waitFor(t, 30*time.Second, "devnet at epoch 3", func() (bool, string) {
		s, err := clients[0].status()
		return err == nil && s.Epoch >= 3 && s.SnapshotCommit > 0, fmt.Sprintf("epoch %d, snapshot at %d (%v)", s.Epoch, s.SnapshotCommit, err)
	})
	out := mustDagger(t, []string{"state hash", "confirmed the state hash", "Next: dagger node run --config " + cfgPath,
		"This operator is not in the cluster yet"},
		"node", "bootstrap", "--config", cfgPath, "--from", nodeURL(0), "--from", nodeURL(1))
	if strings.Contains(out, "could not confirm") {
		t.Fatalf("a source could not confirm the snapshot's state hash:\n%s", out)
	}
	t.Logf("bootstrap:\n%s", out)
	snapEpoch, snapCommit := bootstrapped(t, out)
	// Again: nothing to do, or, if an epoch boundary passed meanwhile, the
	// newer snapshot replaces the stored one.
	out = mustDagger(t, nil, "node", "bootstrap", "--config", cfgPath, "--from", nodeURL(1))
	if !strings.Contains(out, "nothing to do") {
		if e, c := bootstrapped(t, out); c <= snapCommit {
			t.Fatalf("a second bootstrap stored the snapshot at commit %d, not above the stored %d:\n%s", c, snapCommit, out)
		} else {
			snapEpoch, snapCommit = e, c
		}
	}

	mustDagger(t, []string{"status   committed", "operator " + self + " pending, approved by weight 0 of 4", "dagger node approve"},
		"node", "join", "--config", cfgPath, "--node", nodeURL(0), "--wait")
	for i := range 3 {
		out := mustDagger(t, []string{"status   committed"},
			"node", "approve", "--key", filepath.Join(dir, fmt.Sprintf("node-%d", i), "node.key"), "--node", nodeURL(i), "--wait", self)
		want := []string{fmt.Sprintf("more votes are needed (weight %d of 4 so far", i+1)}
		if i == 2 {
			// Unless the commit that holds the vote also ended the epoch.
			want = []string{"enough votes (weight 3 of 4): the operator is admitted at the next epoch boundary",
				"the operator is active already"}
		}
		if !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(out, w) }) {
			t.Fatalf("approval %d: the output has none of %q:\n%s", i+1, want, out)
		}
	}

	// Two epochs later it starts: it catches up across epoch boundaries,
	// the one that admitted it among them, from the snapshot on.
	waitFor(t, 20*time.Second, "the devnet two epochs past the snapshot", func() (bool, string) {
		s, err := clients[0].status()
		return err == nil && s.Epoch >= snapEpoch+2, fmt.Sprintf("epoch %d (%v)", s.Epoch, err)
	})
	newcomer := start(t, "new node", filepath.Join(newDir, "node.log"), bin, "node", "run", "--config", cfgPath)
	nc := newClient(fmt.Sprintf("127.0.0.1:%d", base))
	waitFor(t, 20*time.Second, "the newcomer's API", func() (bool, string) {
		if newcomer.exited() {
			t.Fatal("the newcomer exited")
		}
		_, err := nc.status()
		return err == nil, fmt.Sprint(err)
	})
	// The store is the running node's: a bootstrap now is refused.
	if code, out := dagger(t, "node", "bootstrap", "--config", cfgPath, "--from", nodeURL(0)); code != 1 || !strings.Contains(out, "stop it first") {
		t.Fatalf("bootstrap while the node runs: exit %d\n%s", code, out)
	}
	waitFor(t, 30*time.Second, "the newcomer is an active operator", func() (bool, string) {
		var l api.OperatorList
		if err := clients[0].get("/v1/operators", &l); err != nil {
			return false, err.Error()
		}
		for _, o := range l.Operators {
			if o.Key == self {
				return o.Status == "active", o.Status
			}
		}
		return false, "not listed"
	})

	waitFor(t, 30*time.Second, "the newcomer is a member and signs", func() (bool, string) {
		s, err := nc.status()
		if err != nil {
			return false, err.Error()
		}
		created, _ := nc.metric("dagger_events_created_total")
		return s.Member && created > 0, fmt.Sprintf("member %v, epoch %d, commit %d, %v events created, fault %q", s.Member, s.Epoch, s.CommitIndex, created, s.Fault)
	})
	var target uint64
	for _, c := range clients {
		s, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		target = max(target, s.CommitIndex)
	}
	waitFor(t, 20*time.Second, "the newcomer catches up", func() (bool, string) {
		s, err := nc.status()
		return err == nil && s.CommitIndex >= target, fmt.Sprintf("at %d, want %d (%v)", s.CommitIndex, target, err)
	})
	s, err := nc.status()
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstCommit != snapCommit {
		t.Fatalf("the newcomer's first commit is %d, not the bootstrapped snapshot's %d (%+v)", s.FirstCommit, snapCommit, s)
	}
	t.Logf("the newcomer started from the snapshot at commit %d; it is at epoch %d, commit %d, %d peers", s.FirstCommit, s.Epoch, s.CommitIndex, s.Peers)

	checkAgreement(t, append(clients, nc))
	for i, c := range append(clients, nc) {
		eq, err := c.metric("dagger_equivocations_total")
		if err != nil {
			t.Fatal(err)
		}
		if eq != 0 {
			t.Fatalf("node %d saw %v equivocations", i, eq)
		}
	}
	newcomer.stop(20 * time.Second)
	dn.stop(30 * time.Second)
	t.Logf("wall time %v", time.Since(began).Round(time.Millisecond))
}
