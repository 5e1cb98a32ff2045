package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
)

// Link shaping of the p2p network: modest delay and loss on every link,
// and total loss on a cut node's link, both ways.
const (
	netemHealthy = "delay 5ms loss 1%"
	netemCut     = "loss 100%"
)

// netns is the network of a partition test: a bridge namespace joining
// one namespace per node (the p2p network), and a point-to-point link
// from the root namespace to each node namespace that carries only the
// HTTP API, so that every node stays observable while it is cut off.
type netns struct {
	t      *testing.T
	bridge string
	nodes  []string
	// ports are the bridge's ends of the nodes' p2p links.
	ports []string
	// roots are the root namespace's ends of the API links.
	roots []string
	p2pIP []string
	apiIP []string
	// netem says the kernel has sch_netem. Without it the links are not
	// shaped, and a cut disables the node's bridge port instead: its
	// frames are dropped just as silently, with both links still up.
	netem bool
}

// mustRun runs a command and fails the test on error.
func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// needNetns skips the test unless it can build namespaces, or fails it
// if DAGGER_E2E_NETNS=1 says the machine must be able to.
func needNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "tc", "bridge"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("network namespaces need %s", strings.Join(missing, ", "))
	if os.Getenv("DAGGER_E2E_NETNS") == "1" {
		t.Fatalf("%s, and DAGGER_E2E_NETNS=1 requires them", msg)
	}
	t.Skipf("%s (set DAGGER_E2E_NETNS=1 to make this a failure)", msg)
}

// apiBlock picks a free /28 of 10.232.0.0/16 in the root namespace for
// the API links, starting from one derived from the pid: concurrent runs
// start apart, and a block someone else uses is passed over.
func apiBlock(t *testing.T) [4]byte {
	t.Helper()
	for i := range 4096 {
		b := (os.Getpid() + i) % 4096 * 16
		prefix := [4]byte{10, 232, byte(b >> 8), byte(b)}
		out, err := exec.Command("ip", "-4", "-o", "addr", "show", "to",
			fmt.Sprintf("%d.%d.%d.%d/28", prefix[0], prefix[1], prefix[2], prefix[3])).Output()
		if err != nil {
			t.Fatalf("ip addr show: %v", err)
		}
		if len(strings.TrimSpace(string(out))) == 0 {
			return prefix
		}
	}
	t.Fatal("no free /28 in 10.232.0.0/16 for the API links")
	return [4]byte{}
}

// newNetns builds the network for n nodes; t.Cleanup deletes the
// namespaces, and with them every link in them.
func newNetns(t *testing.T, n int) *netns {
	t.Helper()
	// The pid keeps concurrent runs apart, the random part a run from one
	// that was killed before its cleanup and had the same pid; the
	// longest name, dga<i>-<id>, stays within an interface name's 15
	// characters.
	id := fmt.Sprintf("%x%04x", os.Getpid(), rand.N(1<<16))
	nw := &netns{t: t, bridge: "dgbr-" + id}
	t.Cleanup(func() {
		// A namespace is dismantled in the background once deleted: the
		// root namespace's links go first, so that none outlives the test.
		for _, l := range nw.roots {
			if out, err := exec.Command("ip", "link", "del", l).CombinedOutput(); err != nil {
				t.Errorf("ip link del %s: %v\n%s", l, err, out)
			}
		}
		for _, ns := range append([]string{nw.bridge}, nw.nodes...) {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		}
	})
	mustRun(t, "ip", "netns", "add", nw.bridge)
	mustRun(t, "ip", "-n", nw.bridge, "link", "add", "br0", "type", "bridge")
	mustRun(t, "ip", "-n", nw.bridge, "link", "set", "br0", "up")
	// The bridge namespace's own lo carries nothing: a harmless place to
	// find out whether netem exists.
	out, err := exec.Command("tc", "-n", nw.bridge, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms").CombinedOutput()
	nw.netem = err == nil
	if !nw.netem {
		t.Logf("no netem (%v: %s): the p2p links are not shaped, and the cut disables a bridge port", err, bytes.TrimSpace(out))
	}
	block := apiBlock(t)
	for i := range n {
		ns := fmt.Sprintf("dgn%d-%s", i, id)
		mustRun(t, "ip", "netns", "add", ns)
		nw.nodes = append(nw.nodes, ns)
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")

		// The p2p link: "p2p" in the node's namespace, a bridge port on
		// the other end; each end shapes what it sends.
		port := fmt.Sprintf("n%d", i)
		nw.ports = append(nw.ports, port)
		nw.p2pIP = append(nw.p2pIP, fmt.Sprintf("10.231.0.%d", i+1))
		mustRun(t, "ip", "-n", nw.bridge, "link", "add", port, "type", "veth", "peer", "name", "p2p", "netns", ns)
		mustRun(t, "ip", "-n", nw.bridge, "link", "set", port, "master", "br0", "up")
		mustRun(t, "ip", "-n", ns, "addr", "add", nw.p2pIP[i]+"/24", "dev", "p2p")
		mustRun(t, "ip", "-n", ns, "link", "set", "p2p", "up")
		if nw.netem {
			nw.shape(i, "add", netemHealthy)
		}

		// The API link: its root end is the only name this test puts in
		// the root namespace, so it carries the run's id.
		root := fmt.Sprintf("dga%d-%s", i, id)
		hostIP := fmt.Sprintf("%d.%d.%d.%d", block[0], block[1], block[2], int(block[3])+4*i+1)
		nodeIP := fmt.Sprintf("%d.%d.%d.%d", block[0], block[1], block[2], int(block[3])+4*i+2)
		nw.apiIP = append(nw.apiIP, nodeIP)
		mustRun(t, "ip", "link", "add", root, "type", "veth", "peer", "name", "api", "netns", ns)
		nw.roots = append(nw.roots, root)
		mustRun(t, "ip", "addr", "add", hostIP+"/30", "dev", root)
		mustRun(t, "ip", "link", "set", root, "up")
		mustRun(t, "ip", "-n", ns, "addr", "add", nodeIP+"/30", "dev", "api")
		mustRun(t, "ip", "-n", ns, "link", "set", "api", "up")
	}
	return nw
}

// shape sets the netem of both ends of node i's p2p link; op is add or
// change.
func (nw *netns) shape(i int, op, netem string) {
	nw.t.Helper()
	for _, end := range []struct{ ns, dev string }{{nw.nodes[i], "p2p"}, {nw.bridge, nw.ports[i]}} {
		mustRun(nw.t, append([]string{"tc", "-n", end.ns, "qdisc", op, "dev", end.dev, "root", "netem"}, strings.Fields(netem)...)...)
	}
}

// slow limits node i's p2p link, both ways, to rate (tc's notation, such
// as 8mbit) with a token bucket (tbf), which replaces its netem if any.
func (nw *netns) slow(i int, rate string) {
	nw.t.Helper()
	for _, end := range []struct{ ns, dev string }{{nw.nodes[i], "p2p"}, {nw.bridge, nw.ports[i]}} {
		mustRun(nw.t, "tc", "-n", end.ns, "qdisc", "replace", "dev", end.dev, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms")
	}
}

// cut drops everything node i sends or is sent on the p2p network.
func (nw *netns) cut(i int) {
	nw.t.Helper()
	if nw.netem {
		nw.shape(i, "change", netemCut)
		return
	}
	mustRun(nw.t, "bridge", "-n", nw.bridge, "link", "set", "dev", nw.ports[i], "state", "0")
}

// heal undoes cut.
func (nw *netns) heal(i int) {
	nw.t.Helper()
	if nw.netem {
		nw.shape(i, "change", netemHealthy)
		return
	}
	mustRun(nw.t, "bridge", "-n", nw.bridge, "link", "set", "dev", nw.ports[i], "state", "3")
}

// TestPartitionMajorityCommitsMinorityStalls: four nodes in their own
// network namespaces; one is cut off from the others with netem (or,
// on a kernel without it, at its bridge port). The
// three that remain are a quorum and keep committing; the one cut off
// cannot gather a quorum for a new round, so it commits nothing more.
// Once the link heals, it catches up, agrees with the others at every
// index and signs again.
func TestPartitionMajorityCommitsMinorityStalls(t *testing.T) {
	needNetns(t)
	const n, cut = 4, 3
	nw := newNetns(t, n)

	clients := startInNetns(t, nw, nil)

	statuses := func() ([]api.Status, error) {
		ss := make([]api.Status, n)
		for i, c := range clients {
			s, err := c.status()
			if err != nil {
				return nil, fmt.Errorf("node %d: %w", i, err)
			}
			ss[i] = s
		}
		return ss, nil
	}
	indexes := func() []uint64 {
		t.Helper()
		ss, err := statuses()
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]uint64, n)
		for i, s := range ss {
			idx[i] = s.CommitIndex
		}
		return idx
	}
	waitFor(t, 30*time.Second, "all four nodes commit", func() (bool, string) {
		ss, err := statuses()
		if err != nil {
			return false, err.Error()
		}
		for _, s := range ss {
			if s.CommitIndex < 3 {
				return false, fmt.Sprintf("%+v", ss)
			}
		}
		return true, ""
	})

	// Load on the majority only: what it acknowledges during the
	// partition must later be found at the same place on the cut node.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var l loader
	loadDone := make(chan struct{})
	go func() {
		l.run(ctx, t, clients[:cut], 50*time.Millisecond)
		close(loadDone)
	}()
	time.Sleep(2 * time.Second)

	cutAt := time.Now()
	nw.cut(cut)
	// Rounds in flight at the cut may still complete on the cut node;
	// after a second nothing it sent or received is still in flight.
	time.Sleep(time.Second)
	before := indexes()
	time.Sleep(5 * time.Second)
	after := indexes()
	t.Logf("partition: commit indexes %v -> %v over 5s (node %d cut off)", before, after, cut)
	// A round whose leader is the cut node waits leader_timeout (1s) for
	// it, so the majority is slower than a full cluster: 7 to 21 commits
	// in these 5s, where the cut node must make exactly none.
	for i := range cut {
		if after[i] < before[i]+3 {
			t.Fatalf("node %d committed %d in 5s of the partition, want at least 3", i, after[i]-before[i])
		}
	}
	if after[cut] != before[cut] {
		t.Fatalf("the cut node committed %d while it could reach no quorum", after[cut]-before[cut])
	}
	cancel()
	<-loadDone

	healed, err := clients[cut].status()
	if err != nil {
		t.Fatal(err)
	}
	createdAtHeal, err := clients[cut].metric("dagger_events_created_total")
	if err != nil {
		t.Fatal(err)
	}
	healAt := time.Now()
	nw.heal(cut)
	target := slices.Max(indexes()[:cut])
	waitFor(t, 40*time.Second, "the cut node catches up", func() (bool, string) {
		s, err := clients[cut].status()
		return err == nil && s.CommitIndex >= target, fmt.Sprintf("at %d, want %d (%v)", s.CommitIndex, target, err)
	})
	caughtUp := time.Since(healAt)
	// It signs again: it makes events, in rounds past the one it was
	// stuck at.
	waitFor(t, 10*time.Second, "the cut node signs again", func() (bool, string) {
		s, err := clients[cut].status()
		if err != nil {
			return false, err.Error()
		}
		created, err := clients[cut].metric("dagger_events_created_total")
		return err == nil && s.Round > healed.Round && created > createdAtHeal,
			fmt.Sprintf("round %d (%d at the heal), %v events created (%v at the heal), %v", s.Round, healed.Round, created, createdAtHeal, err)
	})
	final, err := statuses()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heal: cut node from commit %d epoch %d round %d to commit %d epoch %d round %d, caught up with commit %d in %v; partition lasted %v",
		healed.CommitIndex, healed.Epoch, healed.Round, final[cut].CommitIndex, final[cut].Epoch, final[cut].Round, target,
		caughtUp.Round(time.Millisecond), healAt.Sub(cutAt).Round(time.Millisecond))

	l.mu.Lock()
	ackd := append([]acked(nil), l.acked...)
	t.Logf("load: %d sent to the majority, %d acknowledged as committed, %d not", l.sent, len(ackd), l.refused)
	l.mu.Unlock()
	// Transactions committed past the cut node's last commit were
	// committed by the majority alone, during the partition.
	alone := 0
	for _, a := range ackd {
		if a.commit > before[cut] {
			alone++
		}
	}
	if alone == 0 {
		t.Fatal("the majority acknowledged no transaction during the partition")
	}
	t.Logf("load: %d of them committed by the majority alone", alone)
	for _, a := range ackd {
		var st api.TxStatus
		if err := clients[cut].get("/v1/txs/"+a.id, &st); err != nil {
			t.Fatalf("cut node: tx %s: %v", a.id, err)
		}
		if st.State != "committed" || st.CommitIndex != a.commit || st.Event != a.event || st.Position != a.pos {
			t.Fatalf("tx %s acknowledged at commit %d event %s position %d; the cut node says %+v",
				a.id, a.commit, a.event, a.pos, st)
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
}

// startInNetns starts one node per namespace of nw with a fresh genesis
// and returns their API clients. edit, if set, rewrites each node's
// config.toml before it starts.
func startInNetns(t *testing.T, nw *netns, edit func(cfg string) string) []*client {
	t.Helper()
	n := len(nw.nodes)
	dir := t.TempDir()
	var members []string
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("node-%d", i))
		mustRun(t, bin, "node", "init", "--dir", d, "--listen-ip", nw.p2pIP[i], "--advertise-ip", nw.p2pIP[i],
			"--p2p-port", "7700", "--api", nw.apiIP[i]+":8700", "--provision", "none")
		members = append(members, filepath.Join(d, "member.json"))
	}
	key, err := keyfile.New()
	if err != nil {
		t.Fatal(err)
	}
	var treasury payment.Address
	copy(treasury[:], key[32:])
	genesis := filepath.Join(dir, "genesis.json")
	mustRun(t, append([]string{bin, "genesis", "--treasury", treasury.String(), "--out", genesis}, members...)...)
	data, err := os.ReadFile(genesis)
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	clients := make([]*client, n)
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("node-%d", i))
		if err := os.WriteFile(filepath.Join(d, "genesis.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			cfg := filepath.Join(d, "config.toml")
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg, []byte(edit(string(b))), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		start(t, fmt.Sprintf("node %d", i), filepath.Join(logs, fmt.Sprintf("node-%d.log", i)),
			"ip", "netns", "exec", nw.nodes[i], bin, "node", "run", "--config", filepath.Join(d, "config.toml"))
		clients[i] = newClient(nw.apiIP[i] + ":8700")
	}
	return clients
}
