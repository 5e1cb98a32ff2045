package live

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"dagger/node"
	"dagger/node/live/keyfile"
	"dagger/node/live/metrics"
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
// descriptors) until one closes. The API runs in a bubble over in-memory
// connections, so "not served" is checked once everything is idle rather
// than after a guess at how long serving takes.
func TestAPIConnectionsAreCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newRTNode(t)
		n.start()
		defer n.rt.Close()
		ln := newPipeListener()
		svc := &Service{log: slog.New(slog.DiscardHandler), rt: n.rt, ln: ln, httpErr: make(chan error, 1)}
		svc.serveAPI(APISection{MaxConnections: 3}, metrics.New(), "test")
		defer func() {
			if err := svc.srv.Close(); err != nil {
				t.Error(err)
			}
			if err := <-svc.httpErr; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("the server stopped with %v", err)
			}
		}()
		alone := get(ln.dial())
		synctest.Wait()
		if !alone.served() {
			t.Fatalf("a client alone was not served: %v", alone.err)
		}
		var idle []net.Conn
		for range 3 {
			c := ln.dial()
			defer c.Close()
			idle = append(idle, c)
		}
		fourth := get(ln.dial())
		synctest.Wait()
		if fourth.served() {
			t.Fatal("a fourth connection was served beside three idle ones, with max_connections = 3")
		}
		idle[0].Close()
		synctest.Wait()
		if !fourth.served() {
			t.Fatal("the waiting client was not served after an idle connection closed")
		}
	})
}

// pipeListener is a listener of in-memory connections, with a listen
// queue: dial returns at once, whether or not the server accepts.
type pipeListener struct {
	queue chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{queue: make(chan net.Conn, 64), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	server, client := net.Pipe()
	l.queue <- server
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// request is a health check sent on its own connection.
type request struct {
	done chan struct{}
	resp *http.Response
	err  error
}

func get(c net.Conn) *request {
	r := &request{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer c.Close()
		if _, r.err = io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); r.err != nil {
			return
		}
		if r.resp, r.err = http.ReadResponse(bufio.NewReader(c), nil); r.err == nil {
			_, r.err = io.Copy(io.Discard, r.resp.Body)
		}
	}()
	return r
}

// served says, without waiting, whether the request was answered with 200.
func (r *request) served() bool {
	select {
	case <-r.done:
		return r.err == nil && r.resp.StatusCode == http.StatusOK
	default:
		return false
	}
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

// TestPprofServesProfilesBesideTheAPI: with api.pprof on, /debug/pprof/
// serves Go's profiles and every other path still reaches the API.
func TestPprofServesProfilesBesideTheAPI(t *testing.T) {
	apiCalls := 0
	h := withPprof(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls++
		w.WriteHeader(http.StatusTeapot)
	}))
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/cmdline": "", "/debug/pprof/heap?debug=1": "heap profile"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %.100s", path, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/status", nil))
	if rec.Code != http.StatusTeapot || apiCalls != 1 {
		t.Fatalf("/v1/status: %d, %d API calls", rec.Code, apiCalls)
	}
}

// TestConfigReachesTheLedger: what the node section sets is what the
// ledger runs with, defaults included.
func TestConfigReachesTheLedger(t *testing.T) {
	cfg, err := ParseConfig([]byte("[node]\nleader_timeout = \"2s\"\nmin_round_interval = \"20ms\"\nmax_event_tx_bytes = 65536\nmax_queue_bytes = 1048576\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := nodeConfig(cfg, true).Ledger
	if l.LeaderTimeout != 2*time.Second || l.MinRoundInterval != 20*time.Millisecond || l.MaxEventTxBytes != 65536 ||
		l.MaxQueueBytes != 1<<20 || !l.Rejoin {
		t.Fatalf("ledger config %+v", l)
	}
	if cfg, err = ParseConfig(nil); err != nil {
		t.Fatal(err)
	}
	if l := nodeConfig(cfg, false).Ledger; l.MaxEventTxBytes != DefaultMaxEventTxBytes || l.MaxQueueBytes != DefaultMaxQueueBytes || l.Rejoin {
		t.Fatalf("default ledger config %+v", l)
	}
}
