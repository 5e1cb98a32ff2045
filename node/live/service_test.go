package live

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dagger/node"
	"dagger/node/live/keyfile"
	"dagger/node/live/store"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/transport/p2p"
)

// newNodeDir makes a node directory with a one-operator genesis: the node
// itself, or (joiner) another operator.
func newNodeDir(t *testing.T, joiner bool) (*Config, Genesis, tx.Key) {
	t.Helper()
	dir := t.TempDir()
	m, err := Init(InitOptions{Dir: dir, P2PPort: 7811, APIListen: "127.0.0.1:0", Driver: "none", Genesis: "genesis.json",
		Capacity: GenesisCapacity{VCPU: 6, MemoryMiB: 4096, DiskGiB: 50}})
	if err != nil {
		t.Fatal(err)
	}
	founder := m
	if joiner {
		other := t.TempDir()
		if founder, err = Init(InitOptions{Dir: other, P2PPort: 7812, APIListen: "127.0.0.1:0", Driver: "none",
			Capacity: GenesisCapacity{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	gf := NewGenesisFile(time.Unix(1_800_000_000, 0), payment.Address{1}, []GenesisMember{founder})
	if err := os.WriteFile(filepath.Join(dir, "genesis.json"), gf.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	gen, err := LoadGenesis(cfg.Path(cfg.Node.Genesis))
	if err != nil {
		t.Fatal(err)
	}
	self, err := tx.ParseKey(m.Key)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, gen, self
}

// TestHostCapacityOfFoundersAndJoiners: a founder's capacity comes from
// the genesis file, a joiner's from its member.json; a member.json of
// another operator is refused.
func TestHostCapacityOfFoundersAndJoiners(t *testing.T) {
	cfg, gen, self := newNodeDir(t, false)
	if c, err := hostCapacity(cfg, gen, self); err != nil || c.VCPU != 6 || c.MemoryMiB != 4096 || c.DiskGiB != 50 {
		t.Fatalf("founder: %+v, %v", c, err)
	}
	cfg, gen, self = newNodeDir(t, true)
	if c, err := hostCapacity(cfg, gen, self); err != nil || c.VCPU != 6 || c.MemoryMiB != 4096 || c.DiskGiB != 50 {
		t.Fatalf("joiner: %+v, %v", c, err)
	}
	if _, err := hostCapacity(cfg, gen, tx.Key{9}); err == nil || !strings.Contains(err.Error(), "describes operator") {
		t.Fatalf("member.json of another operator: %v", err)
	}
	if err := os.Remove(cfg.Path("member.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := hostCapacity(cfg, gen, self); err == nil || !strings.Contains(err.Error(), "not in the genesis file") {
		t.Fatalf("no member.json: %v", err)
	}
}

// TestOpenFailsCleanly: a node whose store is in use does not start, and
// says why, with nothing left running.
func TestOpenFailsCleanly(t *testing.T) {
	cfg, _, _ := newNodeDir(t, false)
	key, err := keyfile.Load(cfg.Path(cfg.Node.Key))
	if err != nil {
		t.Fatal(err)
	}
	dataDir := cfg.Path(cfg.Node.DataDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dataDir, store.Options{Key: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := Open(cfg, OpenOptions{})
	if err == nil || svc != nil {
		t.Fatalf("Open with the store in use: %v, %v", svc, err)
	}
}

// TestAPIConnectionsAreCapped: clients that open connections and send
// nothing hold at most api.max_connections of them; the next client waits
// in the listen queue (it is not served, and the node does not run out of
// descriptors) until one closes.
func TestAPIConnectionsAreCapped(t *testing.T) {
	cfg, _, _ := newNodeDir(t, false)
	cfg.API.MaxConnections = 3
	svc, err := Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	url := "http://" + svc.APIAddr() + "/v1/health"
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := client.Get(url); err != nil {
		t.Fatalf("before the idle connections: %v", err)
	} else {
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", svc.APIAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	if resp, err := client.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("a fourth connection was served beside three idle ones, with max_connections = 3")
	}
	idle[0].Close()
	client.Timeout = 5 * time.Second
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("after an idle connection closed: %v", err)
	}
	resp.Body.Close()
}

func TestAPIConnectionCapDefaultsToAQuarterOfTheDescriptors(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	want := int(max(16, min(DefaultMaxAPIConnections, lim.Cur/4)))
	if got := apiConnections(0); got != want {
		t.Fatalf("apiConnections(0) = %d with a descriptor limit of %d, want %d", got, lim.Cur, want)
	}
	if got := apiConnections(7); got != 7 {
		t.Fatalf("a configured cap: %d", got)
	}
}

// TestMetricsCountRefusedHandshakes: connections to the p2p port that
// never start a handshake, past the per-address bound, show in /metrics.
func TestMetricsCountRefusedHandshakes(t *testing.T) {
	cfg, _, _ := newNodeDir(t, false)
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	svc, err := Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var p2pAddr string
	for _, a := range svc.host.Addrs() {
		if rest, ok := strings.CutPrefix(a, "/ip4/127.0.0.1/tcp/"); ok {
			p2pAddr = "127.0.0.1:" + rest[:strings.Index(rest, "/")]
		}
	}
	const extra = 3
	for range p2p.DefaultMaxHandshakesPerIP + extra {
		c, err := net.Dial("tcp", p2pAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	want := fmt.Sprintf("dagger_network_handshakes_refused_total %d", extra)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + svc.APIAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), want+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", want, grepLines(string(body), "dagger_network_"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSnapshotDownloadsShareOneCopy: every download of the same snapshot
// is served from one copy of its bytes, so the memory the API holds for
// downloads does not grow with its clients (a per-request copy of a 7 MB
// snapshot pinned 14 MB per stalled client).
func TestSnapshotDownloadsShareOneCopy(t *testing.T) {
	cfg, _, _ := newNodeDir(t, false)
	svc, err := Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("state"), 1<<16)
	var putErr error
	if err := svc.rt.do(ctx, func() { putErr = svc.db.PutSnapshot(node.Snapshot{Epoch: 7, Commit: 1 << 40, Data: data}) }); err != nil || putErr != nil {
		t.Fatal(err, putErr)
	}
	var first []byte
	for i := range 3 {
		sn, ok, err := svc.rt.Snapshot(ctx)
		if err != nil || !ok || sn.Commit != 1<<40 || !bytes.Equal(sn.Data, data) {
			t.Fatalf("download %d: commit %d, %d bytes, %v, %v", i, sn.Commit, len(sn.Data), ok, err)
		}
		if i == 0 {
			first = sn.Data
		} else if &sn.Data[0] != &first[0] {
			t.Fatalf("download %d got its own copy of the snapshot", i)
		}
	}
}
