package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/live"
	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/live/store"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/transport/p2p"
)

// operatorTx applies a membership transaction to the fake cluster's
// operators as the state machine would, minus epochs: a join is pending,
// votes are recorded.
func (c *cliCluster) operatorTx(t *tx.Tx, o cluster.Outcome) cluster.Outcome {
	find := func(k tx.Key) int {
		return slices.IndexFunc(c.ops, func(op cluster.Operator) bool { return op.Key == k })
	}
	switch t.Kind {
	case tx.KindOperatorJoin:
		if find(t.Author) >= 0 {
			o.OK, o.Reason = false, "operator "+t.Author.Short()+" is already pending"
			return o
		}
		c.ops = append(c.ops, cluster.Operator{Key: t.Author, PeerID: t.PeerID, Region: t.Region, Capacity: t.Capacity,
			Payout: t.Payout, Weight: 1, Status: cluster.OperatorPending})
	case tx.KindOperatorApprove, tx.KindOperatorRemove:
		i := find(t.Operator)
		if i < 0 {
			o.OK, o.Reason = false, "no operator "+t.Operator.Short()
			return o
		}
		if t.Kind == tx.KindOperatorApprove {
			c.ops[i].Approvals = append(c.ops[i].Approvals, t.Author)
		} else {
			c.ops[i].Removals = append(c.ops[i].Removals, t.Author)
		}
	case tx.KindOperatorLeave:
		if i := find(t.Author); i >= 0 {
			c.ops[i].Leaving = true
		}
	}
	return o
}

// lastTx is the last transaction the fake cluster received, which must be
// of kind.
func (c *cliCluster) lastTx(t *testing.T, kind tx.Kind) *tx.Tx {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent == nil || c.sent.Kind != kind {
		t.Fatalf("the cluster received %+v, want a %s", c.sent, kind)
	}
	return c.sent
}

// newOperatorDir prepares a node directory as 'dagger node init' does and
// returns its config path and key.
func newOperatorDir(t *testing.T, region string) (string, ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	if _, err := live.Init(live.InitOptions{Dir: dir, Region: region, P2PPort: 7777,
		Capacity: live.GenesisCapacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 200}}); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.Load(filepath.Join(dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "config.toml"), key
}

func TestNodeJoinSubmitsTheOperatorsEntry(t *testing.T) {
	c := newCLICluster(t, "eu-west", "eu-west", "eu-west")
	nodeURL := startNode(t, c)
	cfg, key := newOperatorDir(t, "eu-west")
	self := tx.Key(key.Public().(ed25519.PublicKey))

	out, _ := wantRun(t, []string{"node", "join", "--config", cfg, "--node", nodeURL, "--wait"}, 0,
		"operator "+self.String()+" pending, approved by weight 0 of 3", "")
	for _, want := range []string{"status   committed", "dagger node approve --key <its node.key> --node " + nodeURL + " " + self.String(),
		"auto_approve = true", "first epoch boundary after that", "dagger node bootstrap --config " + cfg} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	j := c.lastTx(t, tx.KindOperatorJoin)
	id, _ := p2p.PeerIDOf(key.Public().(ed25519.PublicKey))
	if j.Author != self || j.PeerID != string(id) || j.Region != "eu-west" || j.Payout != [32]byte(self) ||
		j.Capacity != (tx.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 200}) {
		t.Fatalf("operator-join %+v", j)
	}
	if err := j.VerifySignature(); err != nil {
		t.Fatal(err)
	}

	// Again: the cluster says it is pending already, and the command fails.
	wantRun(t, []string{"node", "join", "--config", cfg, "--node", nodeURL, "--wait", "--json"}, 1,
		`"state": "committed"`, "committed without effect: operator "+self.Short()+" is already pending")
}

func TestNodeJoinRefusesAnotherOperatorsEntry(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	cfg, _ := newOperatorDir(t, "eu-west")
	other, _ := newOperatorDir(t, "eu-west")
	data, err := os.ReadFile(filepath.Join(filepath.Dir(other), "member.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "member.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	wantRun(t, []string{"node", "join", "--config", cfg, "--node", nodeURL}, 1, "", "but the node's key is")
	os.Remove(filepath.Join(filepath.Dir(cfg), "member.json"))
	wantRun(t, []string{"node", "join", "--config", cfg, "--node", nodeURL}, 1, "", "member.json")
	wantRun(t, []string{"node", "join", "--node", nodeURL}, 2, "", "--config is required")
	wantRun(t, []string{"node", "join", "--config", filepath.Join(t.TempDir(), "none.toml")}, 2, "", "no such file")
	if c.sent != nil {
		t.Fatalf("a refused join submitted %+v", c.sent)
	}
}

func TestNodeApproveAndRemoveVote(t *testing.T) {
	c := newCLICluster(t, "eu-west", "eu-west", "eu-west", "eu-west")
	nodeURL := startNode(t, c)
	// The members' keys: the fake cluster's operators are keyed 1..4; give
	// them real keys so that they can sign.
	var keys []string
	for i := range c.ops {
		p, k := writeWallet(t, byte(10+i))
		c.ops[i].Key = tx.Key(k.Public().(ed25519.PublicKey))
		keys = append(keys, p)
	}
	cfg, newKey := newOperatorDir(t, "eu-west")
	newcomer := tx.Key(newKey.Public().(ed25519.PublicKey))
	wantRun(t, []string{"node", "join", "--config", cfg, "--node", nodeURL}, 0, "status   committed", "")

	wantRun(t, []string{"node", "approve", "--key", keys[0], "--node", nodeURL, "--wait", newcomer.String()}, 0,
		"more votes are needed (weight 1 of 4 so far; more than 2/3, 3, is needed)", "")
	a := c.lastTx(t, tx.KindOperatorApprove)
	if a.Operator != newcomer || a.Author != c.ops[0].Key {
		t.Fatalf("operator-approve %+v", a)
	}
	// By base58 address too.
	address := payment.Address(newcomer).String()
	wantRun(t, []string{"node", "approve", "--key", keys[1], "--node", nodeURL, "--wait", address}, 0, "weight 2 of 4 so far", "")
	out, _ := wantRun(t, []string{"node", "approve", "--key", keys[2], "--node", nodeURL, "--wait", "--json", newcomer.String()}, 0, "", "")
	var res operatorSubmitted
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Operator == nil || len(res.Operator.Approvals) != 3 {
		t.Fatalf("approve --json: %v\n%s", err, out)
	}
	wantRun(t, []string{"node", "approve", "--key", keys[3], "--node", nodeURL, "--wait", newcomer.String()}, 0,
		"enough votes (weight 4 of 4): the operator is admitted at the next epoch boundary", "")

	wantRun(t, []string{"node", "remove", "--key", keys[0], "--node", nodeURL, "--wait", c.ops[3].Key.String()}, 0,
		"more votes are needed (weight 1 of 4 so far", "")
	if r := c.lastTx(t, tx.KindOperatorRemove); r.Operator != c.ops[3].Key {
		t.Fatalf("operator-remove %+v", r)
	}
	wantRun(t, []string{"node", "leave", "--config", cfg, "--node", nodeURL, "--wait"}, 0, "leaving at the next epoch boundary", "")
	if l := c.lastTx(t, tx.KindOperatorLeave); l.Author != newcomer {
		t.Fatalf("operator-leave %+v", l)
	}

	wantRun(t, []string{"node", "approve", "--node", nodeURL, newcomer.String()}, 2, "", "give one of --key")
	wantRun(t, []string{"node", "approve", "--key", keys[0], "--node", nodeURL}, 2, "", "want one OPERATOR")
	wantRun(t, []string{"node", "approve", "--key", keys[0], "--node", nodeURL, "xyz"}, 2, "", "base58")
	wantRun(t, []string{"node", "approve", "--key", keys[0], "--node", nodeURL, tx.Key{7}.String()}, 1, "", "no operator")
	wantRun(t, []string{"node", "-h"}, 0, "", "dagger node bootstrap --config F --from URL")
}

// snapshotFixture is a cluster of one genesis operator whose state has
// passed an epoch boundary: a genesis file in a node directory, and the
// snapshot of the state at the new epoch's start.
type snapshotFixture struct {
	cfg   string // the joining node's config
	key   ed25519.PrivateKey
	sn    node.Snapshot
	hash  string
	last  api.Commit
	nodes []*cliCluster
	urls  []string
}

func newSnapshotFixture(t *testing.T, sources int, treasury byte) *snapshotFixture {
	t.Helper()
	cfg, key := newOperatorDir(t, "eu-west")
	founder, _ := newOperatorDir(t, "eu-west")
	m, err := live.LoadMember(filepath.Join(filepath.Dir(founder), "member.json"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	gf := live.NewGenesisFile(start, payment.Address{treasury}, []live.GenesisMember{m})
	gf.EpochLength = "2s"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "genesis.json"), gf.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := gf.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	st, err := cluster.New(g.Cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &snapshotFixture{cfg: cfg, key: key}
	for i := uint64(0); ; i++ {
		res := st.Apply(cluster.Commit{Index: i, Time: start.UnixNano() + int64(i+1)*int64(time.Second)})
		h := st.Hash()
		f.last = api.Commit{Index: i, StateHash: hex.EncodeToString(h[:])}
		if res.Epoch != nil {
			break
		}
	}
	f.sn = node.Snapshot{Epoch: st.Epoch(), Commit: st.Commits(), Data: st.Snapshot()}
	f.hash = f.last.StateHash
	for range sources {
		c := newCLICluster(t, "eu-west")
		sn := f.sn
		c.snapshot = &sn
		c.commits = []api.Commit{f.last}
		f.nodes = append(f.nodes, c)
		f.urls = append(f.urls, startNode(t, c))
	}
	return f
}

func (f *snapshotFixture) args(extra ...string) []string {
	args := []string{"node", "bootstrap", "--config", f.cfg}
	for _, u := range f.urls {
		args = append(args, "--from", u)
	}
	return append(args, extra...)
}

// stored is the snapshot in the node's store.
func (f *snapshotFixture) stored(t *testing.T) (node.Snapshot, bool) {
	t.Helper()
	db, err := store.Open(filepath.Join(filepath.Dir(f.cfg), "data"), store.Options{Key: f.key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sn, ok, err := db.LatestSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return sn, ok
}

func TestNodeBootstrapStoresTheSnapshotTheSourcesAgreeOn(t *testing.T) {
	f := newSnapshotFixture(t, 2, 1)
	// The second source no longer lists the commit: it cannot confirm.
	f.nodes[1].commits = nil
	out, _ := wantRun(t, f.args(), 0, "state hash  "+f.hash, "")
	for _, want := range []string{
		"snapshot    epoch 1, commit " + itoa(f.sn.Commit),
		f.urls[0] + ": same snapshot; confirmed the state hash after commit " + itoa(f.sn.Commit-1),
		f.urls[1] + ": same snapshot; could not confirm the state hash: it no longer lists commit",
		"Next: dagger node run --config " + f.cfg,
		"This operator is not in the cluster yet: ask to join with 'dagger node join",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	sn, ok := f.stored(t)
	if !ok || sn.Epoch != f.sn.Epoch || sn.Commit != f.sn.Commit || string(sn.Data) != string(f.sn.Data) {
		t.Fatalf("stored %v epoch %d commit %d (%d bytes); want the sources' epoch %d commit %d", ok, sn.Epoch, sn.Commit, len(sn.Data), f.sn.Epoch, f.sn.Commit)
	}
	// The store now holds it: nothing to do.
	wantRun(t, f.args(), 0, "nothing to do", "")
	out, _ = wantRun(t, f.args("--json"), 0, `"stored": false`, "")
	var res bootstrapResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.StateHash != f.hash || len(res.Sources) != 2 || !res.Sources[0].Confirmed {
		t.Fatalf("--json: %v\n%s", err, out)
	}
}

func TestNodeBootstrapRefusesSourcesThatDisagree(t *testing.T) {
	f := newSnapshotFixture(t, 3, 1)
	forged := f.sn
	forged.Data = append([]byte(nil), f.sn.Data...)
	forged.Data[len(forged.Data)/2] ^= 1
	f.nodes[2].snapshot = &forged
	wantRun(t, f.args(), 1, "", "the sources disagree: "+f.urls[0]+" and "+f.urls[2]+" both serve a snapshot of epoch 1")

	// A source at another epoch, throughout.
	later := f.sn
	later.Epoch, later.Commit = 2, f.sn.Commit+1
	f.nodes[2].snapshot = &later
	_, errs := wantRun(t, f.args(), 1, "", "the sources serve snapshots of different epochs 5 times in a row")
	if !strings.Contains(errs, f.urls[2]+" at epoch 2") {
		t.Fatalf("the error does not name the source that differs:\n%s", errs)
	}

	// A source that lists another state hash after the snapshot's commit.
	f.nodes[2].snapshot = &f.sn
	f.nodes[2].commits = []api.Commit{{Index: f.last.Index, StateHash: strings.Repeat("0", 64)}}
	wantRun(t, f.args(), 1, "", f.urls[2]+" lists the state hash after commit "+itoa(f.last.Index))

	// A source without a snapshot.
	f.nodes[2].snapshot = nil
	wantRun(t, f.args(), 1, "", f.urls[2]+" has no snapshot yet")
	if _, ok := f.stored(t); ok {
		t.Fatal("a refused bootstrap stored a snapshot")
	}
}

func TestNodeBootstrapRefusesASnapshotOfAnotherCluster(t *testing.T) {
	f := newSnapshotFixture(t, 1, 1)
	other := newSnapshotFixture(t, 1, 2) // another treasury
	f.nodes[0].snapshot = &other.sn
	wantRun(t, f.args(), 1, "", "does not restore against this node's genesis")
}

func TestNodeBootstrapWhileTheNodeRuns(t *testing.T) {
	f := newSnapshotFixture(t, 1, 1)
	dataDir := filepath.Join(filepath.Dir(f.cfg), "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dataDir, store.Options{Key: f.key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantRun(t, f.args(), 1, "", "the node's store is in use, most likely by the node itself: stop it first")
}

func TestNodeBootstrapUsage(t *testing.T) {
	f := newSnapshotFixture(t, 1, 1)
	wantRun(t, []string{"node", "bootstrap", "--config", f.cfg}, 2, "", "--from is required")
	wantRun(t, []string{"node", "bootstrap", "--from", f.urls[0]}, 2, "", "--config is required")
	wantRun(t, []string{"node", "bootstrap", "--config", f.cfg, "--from", f.urls[0], "--from", f.urls[0]}, 2, "", "given twice")
	wantRun(t, []string{"node", "bootstrap", "--config", f.cfg, "--from", "localhost:1"}, 2, "", "--from")
	wantRun(t, []string{"node", "bootstrap", "-h"}, 0, "", "The node must")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
