package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/tx"
)

func newClient(t *testing.T, f *fakeBackend, opt Options) *Client {
	t.Helper()
	srv := httptest.NewServer(NewServer(f, opt))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/", 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientSubmissions(t *testing.T) {
	f := newFake()
	f.pendingPolls = 1
	c := newClient(t, f, Options{})
	ctx := context.Background()

	create, vm := vmCreate(t, 1)
	res, err := c.CreateVM(ctx, create, 0)
	if err != nil || res.ID != vm.String() || res.VM != vm.String() || res.Status.State != "pending" {
		t.Fatalf("CreateVM: %+v, %v", res, err)
	}
	del, delID := vmDelete(t, vm)
	if res, err = c.DeleteVM(ctx, vm, del, 5*time.Second); err != nil || res.ID != delID.String() || res.Status.State != "committed" {
		t.Fatalf("DeleteVM with a wait: %+v, %v; want committed", res, err)
	}
	renew, renewID := vmRenew(t, vm)
	if res, err = c.RenewVM(ctx, vm, renew, 0); err != nil || res.ID != renewID.String() || res.VM != vm.String() {
		t.Fatalf("RenewVM: %+v, %v", res, err)
	}
	other, otherID := vmCreate(t, 2)
	if res, err = c.Submit(ctx, other, 0); err != nil || res.ID != otherID.String() || res.VM != "" {
		t.Fatalf("Submit: %+v, %v", res, err)
	}
	st, err := c.TxStatus(ctx, otherID)
	if err != nil || st.State != "committed" || st.Outcome == nil || st.Outcome.Kind != "vm-create" {
		t.Fatalf("TxStatus: %+v, %v", st, err)
	}
	third, thirdID := vmCreate(t, 3)
	batch, err := c.SubmitBatch(ctx, [][]byte{third, []byte("junk")})
	if err != nil || batch.Admitted != 1 || batch.Results[0].ID != thirdID.String() || batch.Results[1].Error != CodeRejected {
		t.Fatalf("SubmitBatch: %+v, %v", batch, err)
	}
}

func TestClientErrorsCarryTheServersReason(t *testing.T) {
	f := newFake()
	c := newClient(t, f, Options{})
	ctx := context.Background()
	data, _ := vmCreate(t, 1)
	forged := append([]byte(nil), data...)
	forged[len(forged)-1] ^= 1

	_, err := c.Submit(ctx, forged, 0)
	var e *Error
	if !errors.As(err, &e) || e.Status != 422 || e.Code != CodeRejected || !strings.Contains(e.Reason, "signature does not verify") {
		t.Fatalf("Submit of a forged transaction: %v", err)
	}
	if !strings.Contains(err.Error(), "rejected (HTTP 422): transaction rejected: transaction signature does not verify") {
		t.Fatalf("error text %q", err)
	}
	if _, err := c.TxStatus(ctx, tx.ID{1}); CodeOf(err) != CodeNotFound {
		t.Fatalf("TxStatus of an unknown id: %v, want not_found", err)
	}
	if _, err := c.VM(ctx, tx.ID{1}); CodeOf(err) != CodeNotFound {
		t.Fatalf("VM of an unknown id: %v, want not_found", err)
	}
	if _, err := c.Submit(ctx, data, 2*time.Hour); CodeOf(err) != CodeBadRequest {
		t.Fatalf("a wait over the server's bound: %v, want bad_request", err)
	}
	f.err = node.ErrBusy
	if _, err := c.Submit(ctx, data, 0); CodeOf(err) != CodeBusy {
		t.Fatalf("Submit to a busy node: %v, want busy", err)
	}
	if CodeOf(errors.New("plain")) != "" {
		t.Fatal("CodeOf found a code in a plain error")
	}
}

func TestClientReads(t *testing.T) {
	f := newFake()
	owner := walletKey()
	f.vms[tx.ID{1}] = cluster.VM{ID: tx.ID{1}, Owner: owner, State: cluster.VMRunning, Spec: tx.Spec{VCPU: 1}}
	f.ops = []cluster.Operator{{Key: tx.Key{1}, Status: cluster.OperatorActive, Region: "eu-west"}}
	f.params = cluster.Params{Treasury: treasury, Price: cluster.Price{VCPUHour: 10}}
	f.status = Status{NodeID: "n", CommitIndex: 4}
	f.commits = []Commit{{Index: 0}, {Index: 1}, {Index: 2}}
	e := graphtest.NewBuilder(4, 2).Event(0, 0, nil, []byte("a"))
	f.events[e.Hash()] = e.Encode()
	c := newClient(t, f, Options{Version: "v0"})
	ctx := context.Background()

	if v, err := c.VM(ctx, tx.ID{1}); err != nil || v.State != "running" || v.VCPU != 1 {
		t.Fatalf("VM: %+v, %v", v, err)
	}
	if vs, err := c.VMsByOwner(ctx, owner); err != nil || len(vs) != 1 {
		t.Fatalf("VMsByOwner: %+v, %v", vs, err)
	}
	if ops, err := c.Operators(ctx); err != nil || len(ops) != 1 || ops[0].Region != "eu-west" {
		t.Fatalf("Operators: %+v, %v", ops, err)
	}
	if p, err := c.Params(ctx); err != nil || p.Treasury != treasury.String() || p.Price.LamportsPerVCPUHour != 10 {
		t.Fatalf("Params: %+v, %v", p, err)
	}
	if ev, err := c.Event(ctx, e.Hash()); err != nil || ev.TxCount != 1 || ev.Hash != e.Hash().Hex() {
		t.Fatalf("Event: %+v, %v", ev, err)
	}
	if _, err := c.Event(ctx, graph.Hash{7}); CodeOf(err) != CodeNotFound {
		t.Fatalf("Event of an unknown hash: %v", err)
	}
	if cs, err := c.Commits(ctx, 1, 0); err != nil || len(cs) != 2 || cs[0].Index != 1 {
		t.Fatalf("Commits from 1: %+v, %v", cs, err)
	}
	if cs, err := c.Commits(ctx, 0, 1); err != nil || len(cs) != 1 {
		t.Fatalf("Commits limit 1: %+v, %v", cs, err)
	}
	if st, err := c.Status(ctx); err != nil || st.CommitIndex != 4 || st.Version != "v0" {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health of a running node: %v", err)
	}
	f.status.Fault = "graph: invariant broken"
	if err := c.Health(ctx); CodeOf(err) != CodeUnavailable || !strings.Contains(err.Error(), "invariant broken") {
		t.Fatalf("Health of a stopped node: %v, want unavailable with the fault", err)
	}
}

func TestClientQuotesForeignErrors(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>upstream connect error</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	c, err := NewClient(proxy.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || !strings.Contains(e.Reason, "upstream connect error") {
		t.Fatalf("a proxy's error page: %v", err)
	}
	if err.Error() != "HTTP 502: <html>upstream connect error</html>" {
		t.Fatalf("error text %q", err)
	}
}

func TestClientRejectsNonJSONSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	c, _ := NewClient(srv.URL, 0)
	if _, err := c.Params(context.Background()); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Fatalf("a success that is not JSON: %v", err)
	}
}

func TestClientTimeout(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	srv := httptest.NewServer(NewServer(f, Options{RequestTimeout: time.Minute}))
	defer srv.Close()
	defer close(f.block)
	c, _ := NewClient(srv.URL, 50*time.Millisecond)
	start := time.Now()
	_, err := c.Status(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("a stuck node: %v after %v, want the client's deadline", err, time.Since(start))
	}
}

func TestNewClientChecksTheURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8700", "ftp://host", "http://", "http://host/?x=1", "http://host/#f", "::"} {
		if _, err := NewClient(u, 0); err == nil {
			t.Errorf("NewClient(%q) accepted it", u)
		}
	}
	c, err := NewClient("https://node.example/api/", 0)
	if err != nil || c.URL() != "https://node.example/api" {
		t.Fatalf("NewClient with a path: %v, %v", c, err)
	}
}

func TestClientSnapshot(t *testing.T) {
	f := newFake()
	c := newClient(t, f, Options{})
	ctx := context.Background()
	if _, err := c.Snapshot(ctx); CodeOf(err) != CodeNotFound || !strings.Contains(err.Error(), "next epoch boundary") {
		t.Fatalf("Snapshot of a node without one: %v, want not_found", err)
	}
	want := node.Snapshot{Epoch: 3, Commit: 99, Data: bytes.Repeat([]byte{0xab}, 1<<20)}
	f.snapshot = &want
	got, err := c.Snapshot(ctx)
	if err != nil || got.Epoch != 3 || got.Commit != 99 || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("Snapshot: epoch %d commit %d, %d bytes, %v; want epoch 3 commit 99, %d bytes", got.Epoch, got.Commit, len(got.Data), err, len(want.Data))
	}
}

func TestClientSnapshotIsBoundedAndChecked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter)
		want   string
	}{
		{"too large", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set(HeaderSnapshotEpoch, "1")
			w.Header().Set(HeaderSnapshotCommit, "2")
			w.Header().Set("Content-Length", strconv.Itoa(MaxSnapshotBytes+1))
			w.WriteHeader(200)
		}, "more than the 268435456 this client reads"},
		{"too large, no length", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set(HeaderSnapshotEpoch, "1")
			w.Header().Set(HeaderSnapshotCommit, "2")
			w.WriteHeader(200)
			chunk := make([]byte, 1<<20)
			for range MaxSnapshotBytes>>20 + 1 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "exceeds the 268435456 bytes"},
		{"no headers", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("x"))
		}, "header Dagger-Snapshot-Epoch is \"\""},
		{"not a snapshot", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, "not a snapshot"},
		{"a proxy's error", func(w http.ResponseWriter) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}, "HTTP 502: bad gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handle(w) }))
			defer srv.Close()
			c, _ := NewClient(srv.URL, 0)
			if _, err := c.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Snapshot: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
