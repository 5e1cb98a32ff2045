package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/tx"
)

// bin is the dagger binary the tests run, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv("DAGGER_E2E") != "1" {
		fmt.Println("e2e: skipped: set DAGGER_E2E=1 (or run 'make e2e') to run the end-to-end tests")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "dagger-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "dagger")
	build := exec.Command("go", "build", "-o", bin, "dagger/cmd/dagger")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build dagger:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a process the test started; its output goes to a log file that
// the test prints when it fails.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string
	out  *os.File
	done chan struct{}
}

func start(t *testing.T, name, logPath string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, logPath, exec.Command(args[0], args[1:]...))
}

func startCmd(t *testing.T, name, logPath string, cmd *exec.Cmd) *proc {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // read through ProcessState
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			dumpLog(t, p.name, p.log)
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not stop within %v of SIGTERM", p.name, timeout)
	}
	if !p.cmd.ProcessState.Success() {
		p.t.Fatalf("%s exited with %v after SIGTERM", p.name, p.cmd.ProcessState)
	}
}

func dumpLog(t *testing.T, name, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if len(data) > 64<<10 {
		data = data[len(data)-64<<10:]
	}
	t.Logf("---- %s (%s), last %d bytes ----\n%s", name, path, len(data), data)
}

// freeBase finds a base port with n free TCP ports at base+i and n free
// TCP and UDP ports at base+1000+i.
func freeBase(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + os.Getpid()%2000*10; base < 60000; base += 37 {
		ok := true
		var closers []io.Closer
		for i := 0; i < n && ok; i++ {
			for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", base+i), fmt.Sprintf("127.0.0.1:%d", base+1000+i)} {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					ok = false
					break
				}
				closers = append(closers, l)
			}
			if ok {
				u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", base+1000+i))
				if err != nil {
					ok = false
				} else {
					closers = append(closers, u)
				}
			}
		}
		for _, c := range closers {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// client speaks to one node's API.
type client struct {
	base string
	http *http.Client
}

func newClient(addr string) *client {
	return &client{base: "http://" + addr, http: &http.Client{Timeout: 15 * time.Second}}
}

func (c *client) get(path string, v any) error {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

func (c *client) post(path string, body, v any) (int, error) {
	b, _ := json.Marshal(body)
	resp, err := c.http.Post(c.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("POST %s: %s: %s", path, resp.Status, data)
	}
	return resp.StatusCode, json.Unmarshal(data, v)
}

func (c *client) status() (api.Status, error) {
	var s api.Status
	return s, c.get("/v1/status", &s)
}

func (c *client) commits() ([]api.Commit, error) {
	var all []api.Commit
	for from := uint64(0); ; {
		var page api.CommitList
		if err := c.get(fmt.Sprintf("/v1/commits?from=%d&limit=1000", from), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Commits...)
		if len(page.Commits) < 1000 {
			return all, nil
		}
		from = page.Commits[len(page.Commits)-1].Index + 1
	}
}

// metric reads one unlabelled sample from /metrics.
func (c *client) metric(name string) (float64, error) {
	resp, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// readTx makes a vm-get of a random VM id: a cheap, valid transaction
// that commits through consensus like any other.
func readTx(key ed25519.PrivateKey, nonce uint64) []byte {
	t := &tx.Tx{Kind: tx.KindVMGet, Nonce: nonce, Expiry: time.Now().Add(tx.DefaultValidity).UnixNano()}
	copy(t.VM[:], fmt.Appendf(nil, "e2e-%d", nonce))
	t.Sign(key)
	return t.Encode()
}

// acked is a transaction a node acknowledged as committed, and where.
type acked struct {
	id     string
	commit uint64
	event  string
	pos    int
}

// loader submits transactions to the nodes round-robin and records the
// ones acknowledged as committed.
type loader struct {
	mu      sync.Mutex
	acked   []acked
	sent    int
	refused int
}

func (l *loader) run(ctx context.Context, t *testing.T, clients []*client, every time.Duration) {
	key, err := keyfile.New()
	if err != nil {
		t.Error(err)
		return
	}
	var wg sync.WaitGroup
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := uint64(1); ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		c := clients[int(n)%len(clients)]
		data := readTx(key, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res api.SubmitResult
			_, err := c.post("/v1/txs?wait=commit&timeout=20s", api.TxBody{Tx: base64.StdEncoding.EncodeToString(data)}, &res)
			l.mu.Lock()
			defer l.mu.Unlock()
			l.sent++
			if err != nil || res.Status.State != "committed" || res.Status.Event == "" {
				l.refused++
				return
			}
			l.acked = append(l.acked, acked{id: res.ID, commit: res.Status.CommitIndex, event: res.Status.Event, pos: res.Status.Position})
		}()
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v (last: %s)", what, timeout, last)
}

// checkAgreement checks that the nodes' commit sequences are prefix
// consistent (same leader and state hash at every index two nodes both
// applied) and returns the shortest sequence's length.
func checkAgreement(t *testing.T, clients []*client) {
	t.Helper()
	seqs := make([][]api.Commit, len(clients))
	for i, c := range clients {
		s, err := c.commits()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		seqs[i] = s
	}
	for i := 1; i < len(seqs); i++ {
		byIndex := map[uint64]api.Commit{}
		for _, c := range seqs[0] {
			byIndex[c.Index] = c
		}
		common := 0
		for _, c := range seqs[i] {
			o, ok := byIndex[c.Index]
			if !ok {
				continue
			}
			common++
			if o.Leader != c.Leader || o.StateHash != c.StateHash || o.Txs != c.Txs {
				t.Fatalf("commit %d: node 0 has leader %s state %s txs %d, node %d has leader %s state %s txs %d",
					c.Index, o.Leader, o.StateHash, o.Txs, i, c.Leader, c.StateHash, c.Txs)
			}
		}
		if common == 0 {
			t.Fatalf("nodes 0 and %d share no commit", i)
		}
	}
}

var pidLine = regexp.MustCompile(`(?m)^(\d+)\s+(\d+)\s+http://(\S+)\s`)

// devnetNodes parses the table devnet prints: node, pid, API address.
func devnetNodes(out string) (pids []int, addrs []string) {
	for _, m := range pidLine.FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[2])
		pids = append(pids, pid)
		addrs = append(addrs, m[3])
	}
	return pids, addrs
}
