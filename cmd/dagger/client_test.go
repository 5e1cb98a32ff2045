package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gagliardetto/solana-go"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/node/tx"
)

// cliCluster is a Backend that applies transactions at once, as a cluster
// of one would: vm-create checks its payment against the price exactly as
// nodes do, so the tests see whether the CLI pays what the cluster asks.
type cliCluster struct {
	mu      sync.Mutex
	params  cluster.Params
	ops     []cluster.Operator
	vms     map[tx.ID]cluster.VM
	status  map[tx.ID]node.TxStatus
	busy    bool
	payment []byte // the last payment submitted
	// snapshot is what GET /v1/snapshot serves; commits what GET
	// /v1/commits lists.
	snapshot *node.Snapshot
	commits  []api.Commit
	sent     *tx.Tx // the last transaction submitted
}

func newCLICluster(t *testing.T, regions ...string) *cliCluster {
	treasury := payment.Address(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	c := &cliCluster{vms: map[tx.ID]cluster.VM{}, status: map[tx.ID]node.TxStatus{},
		params: cluster.Params{Treasury: treasury, Price: cluster.Price{VCPUHour: 1000, MemoryGiBHour: 100, DiskGiBHour: 10}}}
	for i, r := range regions {
		c.ops = append(c.ops, cluster.Operator{Key: tx.Key{byte(i + 1)}, Region: r, Status: cluster.OperatorActive, Weight: 1})
	}
	return c
}

// SubmitOpaque: the CLI submits no application transactions.
func (c *cliCluster) SubmitOpaque(context.Context, [][]byte) (int, error) {
	return 0, fmt.Errorf("%w: not served here", node.ErrRejected)
}

func (c *cliCluster) SubmitMany(ctx context.Context, txs [][]byte) ([]tx.ID, []error, error) {
	ids, errs := make([]tx.ID, len(txs)), make([]error, len(txs))
	for i, data := range txs {
		ids[i], errs[i] = c.Submit(ctx, data)
	}
	return ids, errs, nil
}

func (c *cliCluster) Submit(ctx context.Context, data []byte) (tx.ID, error) {
	t, err := tx.Decode(data)
	if err != nil {
		return tx.ID{}, fmt.Errorf("%w: %v", node.ErrRejected, err)
	}
	if err := t.VerifySignature(); err != nil {
		return t.ID(), fmt.Errorf("%w: %v", node.ErrRejected, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy {
		return tx.ID{}, node.ErrBusy
	}
	c.sent = t
	id := t.ID()
	o := cluster.Outcome{ID: id, Kind: t.Kind, VM: t.VM, OK: true}
	switch t.Kind {
	case tx.KindVMCreate, tx.KindVMRenew:
		c.payment = t.Payment
		spec := t.Spec
		if t.Kind == tx.KindVMCreate {
			o.VM = id
		} else {
			spec = c.vms[t.VM].Spec
		}
		price, _ := c.params.PriceOf(spec, t.Lease)
		if _, err := payment.Verify(t.Payment, payment.Requirement{Treasury: c.params.Treasury, Lamports: price, Memo: t.Memo()}); err != nil {
			return id, fmt.Errorf("%w: payment rejected: %v", node.ErrRejected, err)
		}
		if t.Kind == tx.KindVMCreate {
			c.vms[id] = cluster.VM{ID: id, Owner: t.Author, Spec: t.Spec, State: cluster.VMRunning, Host: tx.Key{1},
				LeaseEnd: int64(t.Lease), Paid: price}
		} else {
			v := c.vms[t.VM]
			v.LeaseEnd += int64(t.Lease)
			c.vms[t.VM] = v
		}
	case tx.KindOperatorJoin, tx.KindOperatorApprove, tx.KindOperatorRemove, tx.KindOperatorLeave:
		o = c.operatorTx(t, o)
	case tx.KindVMDelete:
		v, ok := c.vms[t.VM]
		switch {
		case !ok:
			o.OK, o.Reason = false, "no VM "+t.VM.Short()
		case v.Owner != t.Author:
			o.OK, o.Reason = false, "only the owner may delete VM "+t.VM.Short()
		default:
			v.State = cluster.VMDeleted
			c.vms[t.VM] = v
		}
	}
	c.status[id] = node.TxStatus{State: node.TxCommitted, Commit: 1, Event: graph.Hash{1}, Position: 0, Outcome: o}
	return id, nil
}

func (c *cliCluster) TxStatus(ctx context.Context, id tx.ID) (node.TxStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status[id], nil
}

func (c *cliCluster) VM(ctx context.Context, id tx.ID) (cluster.VM, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vms[id]
	return v, ok, nil
}

func (c *cliCluster) VMsByOwner(ctx context.Context, owner tx.Key) ([]cluster.VM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cluster.VM
	for _, v := range c.vms {
		if v.Owner == owner {
			out = append(out, v)
		}
	}
	return out, nil
}

func (c *cliCluster) Operators(ctx context.Context) ([]cluster.Operator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ops), nil
}
func (c *cliCluster) Params(ctx context.Context) (cluster.Params, error) { return c.params, nil }
func (c *cliCluster) Event(ctx context.Context, h graph.Hash) ([]byte, bool, error) {
	return nil, false, nil
}
func (c *cliCluster) Status(ctx context.Context) (api.Status, error) { return api.Status{}, nil }
func (c *cliCluster) Commits(ctx context.Context, from uint64, limit int) ([]api.Commit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []api.Commit
	for _, cm := range c.commits {
		if cm.Index >= from && len(out) < limit {
			out = append(out, cm)
		}
	}
	return out, nil
}

func (c *cliCluster) WatchCommits(ctx context.Context) (api.Watch, error) {
	return api.Watch{}, api.ErrUnavailable
}

func (c *cliCluster) Snapshot(ctx context.Context) (node.Snapshot, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snapshot == nil {
		return node.Snapshot{}, false, nil
	}
	return *c.snapshot, true, nil
}

// startNode serves c's API and returns its URL.
func startNode(t *testing.T, c *cliCluster) string {
	t.Helper()
	srv := httptest.NewServer(api.NewServer(c, api.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// writeWallet writes a wallet key file and returns its path and key.
func writeWallet(t *testing.T, seed byte) (string, ed25519.PrivateKey) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	k := ed25519.NewKeyFromSeed(s)
	p := filepath.Join(t.TempDir(), "wallet.json")
	if err := keyfile.Save(p, k); err != nil {
		t.Fatal(err)
	}
	return p, k
}

func createArgs(nodeURL, wallet string, extra ...string) []string {
	return append([]string{"vm", "create", "--node", nodeURL, "--key", wallet, "--vcpu", "2", "--memory-mib", "2048",
		"--disk-gib", "20", "--image", "debian-12", "--lease", "1h"}, extra...)
}

func wantRun(t *testing.T, args []string, code int, stdout, stderr string) (string, string) {
	t.Helper()
	got, out, errs := runCLI(args...)
	if got != code || !strings.Contains(out, stdout) || !strings.Contains(errs, stderr) {
		t.Fatalf("dagger %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout containing %q and stderr containing %q",
			strings.Join(args, " "), got, code, out, errs, stdout, stderr)
	}
	return out, errs
}

func TestVMCreateOfflinePaysTheClusterPrice(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	wallet, _ := writeWallet(t, 1)
	// 2 vCPU × 1000 + 2 GiB × 100 + 20 GiB × 10 lamports per hour, for one hour.
	out, errs := wantRun(t, createArgs(nodeURL, wallet, "--wait"), 0, "payment  2400 lamports to "+c.params.Treasury.String(), "was not sent to Solana")
	if !strings.Contains(out, "vm state running") || !strings.Contains(out, "status   committed") || !strings.Contains(out, "(not sent to Solana)") {
		t.Fatalf("output lacks the VM's state:\n%s", out)
	}
	if strings.Count(errs, "\n") != 1 {
		t.Fatalf("stderr holds more than the note:\n%s", errs)
	}
	if len(c.vms) != 1 {
		t.Fatalf("%d VMs, want 1", len(c.vms))
	}
	for id, v := range c.vms {
		if !strings.Contains(out, "vm       "+id.String()) || v.Spec.Region != "eu-west" || v.Spec.Image != "debian-12" {
			t.Fatalf("VM %s %+v; output:\n%s", id, v, out)
		}
	}
}

func TestVMCreateJSON(t *testing.T) {
	c := newCLICluster(t, "eu-west", "us-east")
	nodeURL := startNode(t, c)
	wallet, key := writeWallet(t, 1)
	sshKey := filepath.Join(t.TempDir(), "id.pub")
	os.WriteFile(sshKey, []byte(testSSHKey+" me@host\n"), 0o644)
	out, _ := wantRun(t, createArgs(nodeURL, wallet, "--region", "us-east", "--ssh-key", sshKey, "--json"), 0, `"tx"`, "")
	var res submitted
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, out)
	}
	id, _ := tx.ParseID(res.VM)
	v := c.vms[id]
	if res.Tx != res.VM || res.Payment == nil || res.Payment.Lamports != 2400 || res.Payment.Sent || res.View != nil ||
		v.Spec.Region != "us-east" || v.Spec.SSHKey != testSSHKey+" me@host" || v.Owner != tx.Key(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("result %+v, VM %+v", res, v)
	}
}

// fakeSolana answers getLatestBlockhash and records sendTransaction.
type fakeSolana struct {
	blockhash solana.Hash
	sent      [][]byte
	fail      string
	answer    string // the signature sendTransaction answers; the transaction's own if empty
}

func (f *fakeSolana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	if f.fail != "" {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":%q}}`, f.fail)
		return
	}
	switch req.Method {
	case "getLatestBlockhash":
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":1},"value":{"blockhash":%q,"lastValidBlockHeight":9}}}`, f.blockhash)
	case "sendTransaction":
		var b64 string
		json.Unmarshal(req.Params[0], &b64)
		wire, _ := base64.StdEncoding.DecodeString(b64)
		f.sent = append(f.sent, wire)
		sig := f.answer
		if stx, err := solana.TransactionFromBytes(wire); err == nil && len(stx.Signatures) > 0 && sig == "" {
			sig = stx.Signatures[0].String()
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":%q}`, sig)
	default:
		http.Error(w, "unknown method", 400)
	}
}

func TestVMCreateWithSolanaRPC(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	wallet, _ := writeWallet(t, 1)
	sol := &fakeSolana{blockhash: solana.Hash{1, 2, 3}}
	rpc := httptest.NewServer(sol)
	defer rpc.Close()
	out, errs := wantRun(t, createArgs(nodeURL, wallet, "--solana-rpc", rpc.URL), 0, "(sent to Solana)", "")
	if errs != "" {
		t.Fatalf("stderr %q, want nothing", errs)
	}
	if len(sol.sent) != 1 || string(sol.sent[0]) != string(c.payment) {
		t.Fatalf("Solana got %d transactions; want the one the node got\n%s", len(sol.sent), out)
	}
	stx, err := solana.TransactionFromBytes(sol.sent[0])
	if err != nil || stx.Message.RecentBlockhash != sol.blockhash {
		t.Fatalf("the payment's blockhash is %v (%v), want the RPC's %v", stx.Message.RecentBlockhash, err, sol.blockhash)
	}

	// A node that answers another transaction's signature is not believed.
	sol.answer = solana.Signature{9}.String()
	wantRun(t, createArgs(nodeURL, wallet, "--solana-rpc", rpc.URL), 1, "", "node answered signature")
	sol.answer = ""

	sol.fail = "Blockhash not found"
	wantRun(t, createArgs(nodeURL, wallet, "--solana-rpc", rpc.URL), 1, "", "Blockhash not found")
	if len(c.vms) != 1 {
		t.Fatal("a request whose payment could not be prepared reached the node")
	}
}

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

// A .pub file's line end is not part of the key, whichever system wrote it.
func TestReadSSHKeyCutsOneLineEnd(t *testing.T) {
	for _, content := range []string{testSSHKey, testSSHKey + "\n", testSSHKey + "\r\n"} {
		path := filepath.Join(t.TempDir(), "id.pub")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if k, err := readSSHKey(path); err != nil || k != testSSHKey {
			t.Errorf("%q: %q, %v", content, k, err)
		}
	}
}

func TestVMCreateUsage(t *testing.T) {
	c := newCLICluster(t, "eu-west", "us-east")
	nodeURL := startNode(t, c)
	wallet, _ := writeWallet(t, 1)
	keyFile := func(content string) string {
		path := filepath.Join(t.TempDir(), "id.pub")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	withKey := func(content string) []string {
		return createArgs(nodeURL, wallet, "--region", "eu-west", "--ssh-key", keyFile(content))
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"two regions to choose from", createArgs(nodeURL, wallet), 2, "--region is required: the operators serve eu-west, us-east"},
		{"fractional lease", createArgs(nodeURL, wallet, "--region", "eu-west", "--lease", "90500ms"), 2, "whole seconds"},
		{"no image", []string{"vm", "create", "--key", wallet, "--vcpu", "1", "--memory-mib", "1", "--disk-gib", "1", "--lease", "1h"}, 2, "--image is required"},
		{"no key", []string{"vm", "create", "--vcpu", "1", "--memory-mib", "1", "--disk-gib", "1", "--image", "x", "--lease", "1h"}, 2, "--key is required"},
		{"zero vcpu", createArgs(nodeURL, wallet, "--region", "eu-west", "--vcpu", "0"), 2, "vcpu 0"},
		{"bad region", createArgs(nodeURL, wallet, "--region", "EU West"), 2, "lower-case"},
		{"missing wallet", createArgs(nodeURL, filepath.Join(t.TempDir(), "none.json")), 1, "no such file"},
		{"missing ssh key", createArgs(nodeURL, wallet, "--region", "eu-west", "--ssh-key", "/nonexistent/id.pub"), 1, "--ssh-key"},
		{"not an ssh key", withKey("ssh-ed25519 AAAAC3Nza me@host\n"), 1, "ssh key: not an OpenSSH public key line"},
		{"an empty key file", withKey(""), 1, "ssh key: not an OpenSSH public key line: empty"},
		{"two ssh keys", withKey(testSSHKey + "\n" + testSSHKey + "\n"), 1, "line break"},
		{"a key and a blank line", withKey(testSSHKey + "\n\n"), 1, "line break"},
		{"a key with options", withKey("no-pty " + testSSHKey + "\n"), 1, "options"},
		{"a private key", withKey("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"), 1, "pass the .pub file"},
		{"stray argument", createArgs(nodeURL, wallet, "extra"), 2, "unexpected argument"},
		{"bad node URL", createArgs("localhost:8700", wallet, "--region", "eu-west"), 2, "--node"},
		{"unknown flag", createArgs(nodeURL, wallet, "--cpu", "1"), 2, "flag provided but not defined"},
		{"help", []string{"vm", "create", "-h"}, 0, "Exit status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantRun(t, tc.args, tc.code, "", tc.stderr) })
	}
	if len(c.vms) != 0 {
		t.Fatal("a refused command created a VM")
	}
}

func TestVMCommandsAgainstANode(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	wallet, key := writeWallet(t, 1)
	otherWallet, _ := writeWallet(t, 2)
	out, _ := wantRun(t, append(createArgs(nodeURL, wallet), "--json"), 0, "", "")
	var res submitted
	json.Unmarshal([]byte(out), &res)
	vm := res.VM

	wantRun(t, []string{"vm", "get", "--node", nodeURL, vm}, 0, "state      running", "")
	wantRun(t, []string{"vm", "get", "--node", nodeURL, "--json", vm}, 0, `"lease_end_unix_ns": 3600000000000`, "")
	wantRun(t, []string{"vm", "renew", "--node", nodeURL, "--key", otherWallet, "--lease", "2h", vm, "--wait"}, 0, "payment  4800 lamports", "")
	wantRun(t, []string{"vm", "get", "--node", nodeURL, "--json", vm}, 0, `"lease_end_unix_ns": 10800000000000`, "")

	address := payment.Address(key.Public().(ed25519.PublicKey)).String()
	wantRun(t, []string{"vm", "list", "--node", nodeURL, "--owner", address}, 0, vm, "")
	wantRun(t, []string{"vm", "list", "--node", nodeURL, "--key", wallet, "--json"}, 0, `"id": "`+vm, "")
	wantRun(t, []string{"vm", "list", "--node", nodeURL, "--key", otherWallet}, 0, "no VMs owned by", "")
	wantRun(t, []string{"vm", "list", "--node", nodeURL}, 2, "", "give one of --owner and --key")
	wantRun(t, []string{"vm", "list", "--node", nodeURL, "--owner", "0xabc"}, 2, "", "base58")

	wantRun(t, []string{"vm", "delete", "--node", nodeURL, "--key", otherWallet, "--wait", vm}, 1, "status   committed", "committed without effect: only the owner may delete")
	out, _ = wantRun(t, []string{"vm", "delete", "--node", nodeURL, "--key", wallet, "--wait", vm}, 0, "vm state deleted", "")
	txID := strings.Fields(strings.Split(out, "tx       ")[1])[0]

	wantRun(t, []string{"tx", "status", "--node", nodeURL, txID}, 0, "outcome  vm-delete, took effect", "")
	wantRun(t, []string{"tx", "status", "--node", nodeURL, "--json", txID}, 0, `"state": "committed"`, "")
	wantRun(t, []string{"tx", "status", "--node", nodeURL, tx.ID{9}.String()}, 1, "", "not_found (HTTP 404): this node knows nothing")
	wantRun(t, []string{"tx", "status", "--node", nodeURL, "xyz"}, 2, "", "64 hex digits")
	wantRun(t, []string{"tx", "status", "--node", nodeURL}, 2, "", "want one id")
	wantRun(t, []string{"vm", "get", "--node", nodeURL, tx.ID{9}.String()}, 1, "", "no VM")
	wantRun(t, []string{"vm", "renew", "--node", nodeURL, "--key", wallet, vm}, 2, "", "--lease is required")
	wantRun(t, []string{"vm", "delete", "--node", nodeURL, vm}, 2, "", "--key is required")
}

func TestClientCommandsSayWhatToDoNext(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	wallet, _ := writeWallet(t, 1)
	c.busy = true
	wantRun(t, createArgs(nodeURL, wallet), 1, "", "next: the node has too many pending transactions")

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	wantRun(t, []string{"vm", "get", "--node", deadURL, tx.ID{1}.String()}, 1, "", "next: check --node: is a node's API listening at "+deadURL)
}

func TestClientCommandUsage(t *testing.T) {
	wantRun(t, []string{"vm"}, 2, "", "usage: dagger vm create")
	wantRun(t, []string{"vm", "help"}, 0, "", "usage: dagger vm create")
	wantRun(t, []string{"vm", "stop"}, 2, "", "usage: dagger vm create")
	wantRun(t, []string{"tx"}, 2, "", "usage: dagger tx status")
	wantRun(t, []string{"tx", "-h"}, 0, "", "usage: dagger tx status")
	wantRun(t, []string{"tx", "status", "-h"}, 0, "", "Exit status")
	if tx.DefaultValidity >= tx.MaxValidity {
		t.Fatalf("tx.DefaultValidity %v: the cluster refuses expiries more than %v ahead", tx.DefaultValidity, tx.MaxValidity)
	}
	if defaultWait > api.DefaultMaxWait {
		t.Fatalf("--timeout's default %v exceeds what a node waits, %v", defaultWait, api.DefaultMaxWait)
	}
}

// TestVMCreateSolanaRPCErrors: an endpoint that is not a Solana node, or
// that answers nonsense, stops vm create before anything is signed or sent,
// saying what answered.
func TestVMCreateSolanaRPCErrors(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	wallet, _ := writeWallet(t, 1)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>rate limited</html>")
	}))
	defer html.Close()
	wantRun(t, createArgs(nodeURL, wallet, "--solana-rpc", html.URL), 1, "", "--solana-rpc: ")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":1},"value":{"blockhash":"0OIl","lastValidBlockHeight":1}}}`)
	}))
	defer bad.Close()
	wantRun(t, createArgs(nodeURL, wallet, "--solana-rpc", bad.URL), 1, "", "--solana-rpc: ")
	if len(c.vms) != 0 {
		t.Fatalf("%d VMs created without a payment", len(c.vms))
	}
}

// TestVMAccessLeaseAndStory: what a customer reads of a running VM: the
// lease left, the ssh line ready to paste, its story, and the list of a
// wallet's VMs with both.
func TestVMAccessLeaseAndStory(t *testing.T) {
	c := newCLICluster(t, "eu-west")
	nodeURL := startNode(t, c)
	owner := tx.Key{7}
	host, other := tx.Key{1}, tx.Key{2}
	now := time.Now().UnixNano()
	id := tx.ID{0x4f, 0x2a}
	c.vms[id] = cluster.VM{ID: id, Owner: owner, Spec: tx.Spec{VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12", Region: "eu-west"},
		State: cluster.VMRunning, Host: host, Created: now - int64(time.Hour), LeaseEnd: now + int64(3*time.Hour+12*time.Minute+30*time.Second),
		Paid: 5000, Access: tx.Access{Host: "203.0.113.7", Port: 22001},
		History: []cluster.VMEvent{
			{Time: now - int64(time.Hour), Kind: cluster.VMEventCreated, State: cluster.VMPending, Reason: "paid 5000 lamports"},
			{Time: now - int64(time.Hour), Kind: cluster.VMEventPlaced, State: cluster.VMProvisioning, Host: other, Reason: "placed on 02000000"},
			{Time: now - int64(30*time.Minute), Kind: cluster.VMEventLeft, State: cluster.VMPending, Host: other,
				Reason: "host 02000000 stopped reporting; the guest's disk stays on that host: it does not move with the VM"},
			{Time: now - int64(30*time.Minute), Kind: cluster.VMEventPlaced, State: cluster.VMProvisioning, Host: host, Reason: "placed on 01000000"},
			{Time: now - int64(29*time.Minute), Kind: cluster.VMEventRunning, State: cluster.VMRunning, Host: host,
				Reason: "01000000 reports it running, reachable at 203.0.113.7:22001"}}}
	vm := id.String()
	wantRun(t, []string{"vm", "get", "--node", nodeURL, vm}, 0, "access     ssh -p 22001 dagger@203.0.113.7", "")
	wantRun(t, []string{"vm", "get", "--node", nodeURL, vm}, 0, "(ends in 3h12m)", "")
	wantRun(t, []string{"vm", "get", "--node", nodeURL, "--json", vm}, 0, `"ssh": "ssh -p 22001 dagger@203.0.113.7"`, "")
	out, _ := wantRun(t, []string{"vm", "events", "--node", nodeURL, vm}, 0, "left-host", "")
	for _, want := range []string{"created", "stopped reporting", "does not move with the VM", "reachable at 203.0.113.7:22001"} {
		if !strings.Contains(out, want) {
			t.Errorf("vm events lacks %q:\n%s", want, out)
		}
	}
	wantRun(t, []string{"vm", "events", "--node", nodeURL, "--json", vm}, 0, `"kind": "left-host"`, "")
	wantRun(t, []string{"vm", "events", "--node", nodeURL, tx.ID{9}.String()}, 1, "", "no VM")
	out, _ = wantRun(t, []string{"vm", "list", "--node", nodeURL, "--owner", owner.String()}, 0, "ssh -p 22001 dagger@203.0.113.7", "")
	if !strings.Contains(out, "3h12m") || !strings.Contains(out, "LEASE LEFT") {
		t.Errorf("vm list lacks the lease left:\n%s", out)
	}
}
