package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
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
	"dagger/node/payment"
	"dagger/node/tx"
)

func serve(f *fakeBackend, opt Options) http.Handler { return NewServer(f, opt) }

// request sends one request to h; a body of nil sends none.
func request(h http.Handler, method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonTx(data []byte) []byte {
	b, _ := json.Marshal(TxBody{Tx: base64.StdEncoding.EncodeToString(data)})
	return b
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, rec.Body)
	}
	var v T
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body does not decode as %T: %v", v, err)
	}
	return v
}

// wantError checks an error response's status and code, and that its
// reason mentions hint.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, hint string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	e := decode[Error](t, rec)
	if e.Code != code || !strings.Contains(e.Reason, hint) {
		t.Fatalf("error %q reason %q, want %q with a reason mentioning %q", e.Code, e.Reason, code, hint)
	}
}

func TestSubmitTakesJSONAndRawBytes(t *testing.T) {
	f := newFake()
	f.pendingPolls = 1
	h := serve(f, Options{})
	data, id := vmCreate(t, 1)
	for _, c := range []struct {
		contentType string
		body        []byte
	}{
		{"application/json", jsonTx(data)},
		{"application/json; charset=utf-8", jsonTx(data)},
		{"application/octet-stream", data},
	} {
		f.polls = map[tx.ID]int{}
		rec := request(h, "POST", "/v1/txs", c.contentType, c.body)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s: status %d, want 202; body %s", c.contentType, rec.Code, rec.Body)
		}
		res := decode[SubmitResult](t, rec)
		if res.ID != id.String() || res.Status.State != "pending" || res.VM != "" {
			t.Fatalf("%s: result %+v, want id %s pending", c.contentType, res, id)
		}
	}
	if len(f.submitted) != 3 || !bytes.Equal(f.submitted[0], data) || !bytes.Equal(f.submitted[2], data) {
		t.Fatalf("the backend got %d submissions, not the transaction three times", len(f.submitted))
	}
}

func TestSubmitWaitsForTheCommit(t *testing.T) {
	f := newFake()
	f.pendingPolls = 3
	h := serve(f, Options{})
	data, id := vmCreate(t, 1)
	rec := request(h, "POST", "/v1/txs?wait=commit&timeout=5s", "application/octet-stream", data)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 once committed; body %s", rec.Code, rec.Body)
	}
	st := decode[SubmitResult](t, rec).Status
	if st.State != "committed" || st.CommitIndex != 7 || st.Event != (graph.Hash{9}).Hex() || st.Position != 3 ||
		st.Outcome == nil || st.Outcome.Kind != "vm-create" || !st.Outcome.OK || st.ID != id.String() {
		t.Fatalf("status %+v (outcome %+v), want committed at commit 7, position 3", st, st.Outcome)
	}
}

func TestSubmitWaitReportsRejection(t *testing.T) {
	f := newFake()
	f.decide = func(*tx.Tx) node.TxStatus {
		return node.TxStatus{State: node.TxRejected, Reason: "payment failed on chain"}
	}
	data, _ := vmCreate(t, 1)
	rec := request(serve(f, Options{}), "POST", "/v1/txs?wait=commit", "application/octet-stream", data)
	st := decode[SubmitResult](t, rec).Status
	if rec.Code != http.StatusOK || st.State != "rejected" || st.Reason != "payment failed on chain" || st.Outcome != nil {
		t.Fatalf("status %d %+v, want 200 rejected with the reason", rec.Code, st)
	}
}

func TestSubmitWaitIsBounded(t *testing.T) {
	f := newFake()
	f.pendingPolls = 1 << 30
	data, _ := vmCreate(t, 1)
	start := time.Now()
	rec := request(serve(f, Options{}), "POST", "/v1/txs?wait=commit&timeout=60ms", "application/octet-stream", data)
	took := time.Since(start)
	if rec.Code != http.StatusAccepted || decode[SubmitResult](t, rec).Status.State != "pending" {
		t.Fatalf("status %d, want 202 pending after the wait; body %s", rec.Code, rec.Body)
	}
	if took < 60*time.Millisecond || took > 2*time.Second {
		t.Fatalf("the wait took %v, want about 60ms", took)
	}
}

func TestSubmitErrors(t *testing.T) {
	data, _ := vmCreate(t, 1)
	forged := bytes.Clone(data)
	forged[len(forged)-1] ^= 1
	const small = 100
	cases := []struct {
		name        string
		target      string
		contentType string
		body        []byte
		backendErr  error
		opt         Options
		status      int
		code        string
		hint        string
	}{
		{"no content type", "/v1/txs", "", data, nil, Options{}, 415, CodeUnsupportedMediaType, "application/json or application/octet-stream"},
		{"form", "/v1/txs", "application/x-www-form-urlencoded", data, nil, Options{}, 415, CodeUnsupportedMediaType, "not taken here"},
		{"bad content type", "/v1/txs", "application/", data, nil, Options{}, 415, CodeUnsupportedMediaType, "does not parse"},
		{"not JSON", "/v1/txs", "application/json", []byte("{"), nil, Options{}, 400, CodeBadRequest, "not the JSON"},
		{"unknown field", "/v1/txs", "application/json", []byte(`{"tx":"AA==","fee":1}`), nil, Options{}, 400, CodeBadRequest, "unknown field"},
		{"two values", "/v1/txs", "application/json", []byte(`{"tx":"AA=="} {}`), nil, Options{}, 400, CodeBadRequest, "more than one"},
		{"not base64", "/v1/txs", "application/json", []byte(`{"tx":"*"}`), nil, Options{}, 400, CodeBadRequest, "base64"},
		{"empty JSON", "/v1/txs", "application/json", []byte(`{}`), nil, Options{}, 400, CodeBadRequest, "no transaction"},
		{"empty body", "/v1/txs", "application/octet-stream", []byte{}, nil, Options{}, 400, CodeBadRequest, "no transaction"},
		{"not a transaction", "/v1/txs", "application/octet-stream", []byte("hello"), nil, Options{}, 422, CodeRejected, "malformed transaction"},
		{"forged", "/v1/txs", "application/octet-stream", forged, nil, Options{}, 422, CodeRejected, "signature"},
		{"busy", "/v1/txs", "application/octet-stream", data, node.ErrBusy, Options{}, 503, CodeBusy, "retry"},
		{"unavailable", "/v1/txs", "application/octet-stream", data, ErrUnavailable, Options{}, 503, CodeUnavailable, "another node"},
		{"internal", "/v1/txs", "application/octet-stream", data, errors.New("disk on fire"), Options{}, 500, CodeInternal, "disk on fire"},
		{"too large", "/v1/txs", "application/octet-stream", data, nil, Options{MaxBodyBytes: small}, 413, CodeTooLarge, "100"},
		{"larger than any transaction", "/v1/txs", "application/octet-stream", make([]byte, maxTxBodyBytes+1), nil, Options{}, 413, CodeTooLarge, "at most"},
		{"wait for what", "/v1/txs?wait=forever", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "commit"},
		{"timeout alone", "/v1/txs?timeout=1s", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "wait=commit"},
		{"timeout not a duration", "/v1/txs?wait=commit&timeout=10", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "10s"},
		{"negative timeout", "/v1/txs?wait=commit&timeout=-1s", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "positive"},
		{"timeout over the bound", "/v1/txs?wait=commit&timeout=2h", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "GET /v1/txs/{id}"},
		{"unknown parameter", "/v1/txs?wiat=commit", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, `"wiat"`},
		{"repeated parameter", "/v1/txs?wait=commit&wait=commit", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "2 times"},
		{"bad query", "/v1/txs?wait=%zz", "application/octet-stream", data, nil, Options{}, 400, CodeBadRequest, "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.err = c.backendErr
			rec := request(serve(f, c.opt), "POST", c.target, c.contentType, c.body)
			wantError(t, rec, c.status, c.code, c.hint)
			if c.code == CodeBusy && rec.Header().Get("Retry-After") != "1" {
				t.Fatalf("a busy answer has no Retry-After")
			}
		})
	}
}

func TestBodyLimitHoldsWithoutContentLength(t *testing.T) {
	f := newFake()
	req := httptest.NewRequest("POST", "/v1/txs", io.MultiReader(bytes.NewReader(make([]byte, 1000))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/octet-stream")
	rec := httptest.NewRecorder()
	serve(f, Options{MaxBodyBytes: 100}).ServeHTTP(rec, req)
	wantError(t, rec, 413, CodeTooLarge, "100")
	if len(f.submitted) != 0 {
		t.Fatal("an oversized body reached the backend")
	}
}

// TestBodyOfTheWrongLengthIsRefused: a body is read into a buffer of its
// Content-Length, and one shorter or longer than that is a bad request
// that reaches nothing.
func TestBodyOfTheWrongLengthIsRefused(t *testing.T) {
	data, _ := vmCreate(t, 1)
	for _, c := range []struct {
		name   string
		length int64
		want   string
	}{{"short", int64(len(data)) + 10, "unexpected EOF"}, {"long", int64(len(data)) - 10, "longer than its Content-Length"}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			req := httptest.NewRequest("POST", "/v1/txs", io.MultiReader(bytes.NewReader(data)))
			req.ContentLength = c.length
			req.Header.Set("Content-Type", "application/octet-stream")
			rec := httptest.NewRecorder()
			serve(f, Options{}).ServeHTTP(rec, req)
			wantError(t, rec, 400, CodeBadRequest, c.want)
			if len(f.submitted) != 0 {
				t.Fatal("a body of the wrong length reached the backend")
			}
		})
	}
	f := newFake()
	if rec := request(serve(f, Options{}), "POST", "/v1/txs", "application/octet-stream", data); rec.Code/100 != 2 || len(f.submitted) != 1 {
		t.Fatalf("a body of its length: %d, %d submitted", rec.Code, len(f.submitted))
	}
}

func TestBackendTimeoutIs504(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	h := serve(f, Options{RequestTimeout: 20 * time.Millisecond})
	data, id := vmCreate(t, 1)
	wantError(t, request(h, "POST", "/v1/txs", "application/octet-stream", data), 504, CodeTimeout, "20ms")
	wantError(t, request(h, "GET", "/v1/txs/"+id.String(), "", nil), 504, CodeTimeout, "did not answer")
	wantError(t, request(h, "GET", "/v1/params", "", nil), 504, CodeTimeout, "did not answer")
}

func TestCanceledRequest(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	req := httptest.NewRequest("GET", "/v1/params", nil)
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	serve(f, Options{}).ServeHTTP(rec, req.WithContext(ctx))
	wantError(t, rec, 503, CodeUnavailable, "canceled")
}

func TestBatch(t *testing.T) {
	f := newFake()
	h := serve(f, Options{MaxBatchTxs: 4})
	a, aid := vmCreate(t, 1)
	b, bid := vmCreate(t, 2)
	forged := bytes.Clone(b)
	forged[len(forged)-1] ^= 1
	body, _ := json.Marshal(BatchBody{Txs: []string{
		base64.StdEncoding.EncodeToString(a), "%%%", base64.StdEncoding.EncodeToString(forged), base64.StdEncoding.EncodeToString(b),
	}})
	rec := request(h, "POST", "/v1/txs/batch", "application/json", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d; body %s", rec.Code, rec.Body)
	}
	res := decode[BatchResult](t, rec)
	want := []BatchItem{
		{ID: aid.String()},
		{Error: CodeBadRequest, Reason: "transaction 1 is not standard base64"},
		{ID: bid.String(), Error: CodeRejected, Reason: "signature"},
		{ID: bid.String()},
	}
	if res.Admitted != 2 || res.Refused != 2 || len(res.Results) != len(want) {
		t.Fatalf("result %+v, want 2 admitted and 2 refused of 4", res)
	}
	for i, w := range want {
		g := res.Results[i]
		if g.ID != w.ID || g.Error != w.Error || !strings.Contains(g.Reason, w.Reason) {
			t.Fatalf("item %d is %+v, want %+v", i, g, w)
		}
	}

	f.err = node.ErrBusy
	rec = request(h, "POST", "/v1/txs/batch", "application/json", body)
	if res := decode[BatchResult](t, rec); res.Refused != 4 || res.Results[0].Error != CodeBusy {
		t.Fatalf("with a busy node: %+v, want every item refused as busy", res)
	}

	five, _ := json.Marshal(BatchBody{Txs: []string{"AA==", "AA==", "AA==", "AA==", "AA=="}})
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/json", five), 413, CodeTooLarge, "at most 4")
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/json", []byte(`{"txs":[]}`)), 400, CodeBadRequest, "empty")
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/json", []byte(`{"txs":"AA=="}`)), 400, CodeBadRequest, "JSON")
	wantError(t, request(h, "POST", "/v1/txs/batch", "text/plain", a), 415, CodeUnsupportedMediaType, "application/json or application/octet-stream")
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/octet-stream", a), 400, CodeBadRequest, "at most")
	wantError(t, request(h, "POST", "/v1/txs/batch?wait=commit", "application/json", body), 400, CodeBadRequest, "takes none")
	wantError(t, request(serve(newFake(), Options{MaxBodyBytes: 64}), "POST", "/v1/txs/batch", "application/json", body), 413, CodeTooLarge, "64")

	// The same as raw bytes, length-prefixed: each item on its own.
	f.err = nil
	c, cid := vmCreate(t, 3)
	rec = request(h, "POST", "/v1/txs/batch", "application/octet-stream", frames(c, forged))
	if res := decode[BatchResult](t, rec); rec.Code != http.StatusOK || res.Admitted != 1 || res.Refused != 1 ||
		res.Results[0].ID != cid.String() || res.Results[1].Error != CodeRejected {
		t.Fatalf("framed: %d %+v", rec.Code, res)
	}
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/octet-stream", frames(c, c, c, c, c)), 413, CodeTooLarge, "more than 4")
	wantError(t, request(h, "POST", "/v1/txs/batch", "application/octet-stream", frames(c)[:10]), 400, CodeBadRequest, "transaction")
}

func TestBatchSharesOneDeadline(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	var txs []string
	for i := range 50 {
		data, _ := vmCreate(t, uint64(i+1))
		txs = append(txs, base64.StdEncoding.EncodeToString(data))
	}
	body, _ := json.Marshal(BatchBody{Txs: txs})
	start := time.Now()
	rec := request(serve(f, Options{RequestTimeout: 20 * time.Millisecond}), "POST", "/v1/txs/batch", "application/json", body)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a batch to a stuck node took %v: each transaction waited for its own timeout", took)
	}
	if res := decode[BatchResult](t, rec); res.Refused != 50 || res.Results[49].Error != CodeTimeout {
		t.Fatalf("result %+v, want every item timed out", res.Results[49])
	}
}

func TestGetTx(t *testing.T) {
	f := newFake()
	h := serve(f, Options{})
	data, id := vmCreate(t, 1)
	vm := cluster.VM{ID: id, Owner: walletKey(), State: cluster.VMPending, Spec: tx.Spec{VCPU: 1, MemoryMiB: 512, DiskGiB: 1, Image: "i", Region: "r"}}
	f.decide = func(t *tx.Tx) node.TxStatus {
		return node.TxStatus{State: node.TxCommitted, Commit: 0, Event: graph.Hash{1}, Position: 0,
			Outcome: cluster.Outcome{ID: t.ID(), Kind: t.Kind, OK: true, VM: id, View: vm}}
	}
	request(h, "POST", "/v1/txs", "application/octet-stream", data)
	rec := request(h, "GET", "/v1/txs/"+id.String(), "", nil)
	st := decode[TxStatus](t, rec)
	if rec.Code != 200 || st.State != "committed" || st.Event != (graph.Hash{1}).Hex() || st.Outcome.VM != id.String() ||
		st.Outcome.View == nil || st.Outcome.View.State != "pending" || st.Outcome.View.Tried == nil {
		t.Fatalf("status %d %+v, want committed with the VM's view", rec.Code, st)
	}

	wantError(t, request(h, "GET", "/v1/txs/"+tx.ID{1}.String(), "", nil), 404, CodeNotFound, "knows nothing")
	wantError(t, request(h, "GET", "/v1/txs/abc", "", nil), 400, CodeBadRequest, "64 hex digits")
	wantError(t, request(h, "GET", "/v1/txs/"+id.String()+"?verbose=1", "", nil), 400, CodeBadRequest, "takes none")
}

func TestTxStatusOfAnOldCommit(t *testing.T) {
	f := newFake()
	data, id := vmCreate(t, 1)
	f.decide = func(*tx.Tx) node.TxStatus {
		return node.TxStatus{State: node.TxCommitted, Commit: 12, Reason: "committed before this node kept its outcome"}
	}
	h := serve(f, Options{})
	request(h, "POST", "/v1/txs", "application/octet-stream", data)
	st := decode[TxStatus](t, request(h, "GET", "/v1/txs/"+id.String(), "", nil))
	if st.State != "committed" || st.CommitIndex != 12 || st.Event != "" || st.Outcome != nil || st.Reason == "" {
		t.Fatalf("status %+v, want committed at commit 12 with no event and no outcome", st)
	}
}

// TestTxStatusShowsTheCommitIndexWhenKnown: commit_index is in the JSON
// exactly when the node knows it, whether or not it kept the event, and 0
// is an index like any other.
func TestTxStatusShowsTheCommitIndexWhenKnown(t *testing.T) {
	for _, c := range []struct {
		name  string
		polls int
		st    node.TxStatus
		want  any // commit_index as JSON decodes it; nil: absent
	}{
		{"committed before the snapshot", 0, node.TxStatus{State: node.TxCommitted, Commit: 12, Reason: "committed before this node kept its outcome"}, 12.0},
		{"committed in commit 0", 0, node.TxStatus{State: node.TxCommitted, Commit: 0, Event: graph.Hash{1}, Position: 2}, 0.0},
		{"pending", 1 << 30, node.TxStatus{}, nil},
		{"rejected", 0, node.TxStatus{State: node.TxRejected, Reason: "payment failed on chain"}, nil},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			f := newFake()
			f.pendingPolls = c.polls
			f.decide = func(*tx.Tx) node.TxStatus { return c.st }
			h := serve(f, Options{})
			data, id := vmCreate(t, 1)
			request(h, "POST", "/v1/txs", "application/octet-stream", data)
			rec := request(h, "GET", "/v1/txs/"+id.String(), "", nil)
			body := rec.Body.String()
			got, present := decode[map[string]any](t, rec)["commit_index"]
			if rec.Code != 200 || present != (c.want != nil) || present && got != c.want {
				t.Fatalf("status %d %s: want commit_index %v", rec.Code, body, c.want)
			}
		})
	}
}

func TestVMSubmissionRoutes(t *testing.T) {
	f := newFake()
	f.pendingPolls = 1 << 30
	h := serve(f, Options{})
	create, vm := vmCreate(t, 1)
	del, delID := vmDelete(t, vm)
	renew, renewID := vmRenew(t, vm)
	other := tx.ID{7}
	otherDel, _ := vmDelete(t, other)

	for _, c := range []struct {
		method, target string
		body           []byte
		id             tx.ID
	}{
		{"POST", "/v1/vms", create, vm},
		{"DELETE", "/v1/vms/" + vm.String(), del, delID},
		{"POST", "/v1/vms/" + vm.String() + "/renew", renew, renewID},
	} {
		rec := request(h, c.method, c.target, "application/json", jsonTx(c.body))
		res := decode[SubmitResult](t, rec)
		if rec.Code != http.StatusAccepted || res.ID != c.id.String() || res.VM != vm.String() {
			t.Fatalf("%s %s: %d %+v, want 202 with tx %s about VM %s", c.method, c.target, rec.Code, res, c.id, vm)
		}
	}

	wantError(t, request(h, "POST", "/v1/vms", "application/octet-stream", del), 422, CodeRejected, "takes a signed vm-create; this is a vm-delete")
	wantError(t, request(h, "POST", "/v1/vms", "application/octet-stream", []byte("junk")), 422, CodeRejected, "malformed")
	wantError(t, request(h, "DELETE", "/v1/vms/"+vm.String(), "application/octet-stream", renew), 422, CodeRejected, "vm-delete")
	wantError(t, request(h, "DELETE", "/v1/vms/"+vm.String(), "application/octet-stream", otherDel), 422, CodeRejected, "not VM")
	wantError(t, request(h, "POST", "/v1/vms/"+other.String()+"/renew", "application/octet-stream", renew), 422, CodeRejected, "not VM")
	wantError(t, request(h, "DELETE", "/v1/vms/xyz", "application/octet-stream", del), 400, CodeBadRequest, "VM id")
	wantError(t, request(h, "DELETE", "/v1/vms/"+vm.String(), "", del), 415, CodeUnsupportedMediaType, "Content-Type")
	wantError(t, request(h, "POST", "/v1/vms?wait=commit&timeout=x", "application/octet-stream", create), 400, CodeBadRequest, "timeout")
}

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

func TestVMReads(t *testing.T) {
	f := newFake()
	h := serve(f, Options{})
	owner := walletKey()
	host := tx.Key{5}
	a := cluster.VM{ID: tx.ID{1}, Owner: owner, Spec: tx.Spec{VCPU: 2, MemoryMiB: 4096, DiskGiB: 40, Image: "debian-12", Region: "eu-west", SSHKey: testSSHKey},
		State: cluster.VMRunning, Host: host, Created: 10, LeaseEnd: 20, Updated: 15, PlacedAt: 11, Paid: 999, Tried: []tx.Key{{6}},
		Access: tx.Access{Host: "203.0.113.7", Port: 22001}, RanNs: 3e9, RunningSince: 12,
		History: []cluster.VMEvent{{Time: 10, Kind: cluster.VMEventCreated, State: cluster.VMPending, Reason: "paid"},
			{Time: 11, Kind: cluster.VMEventPlaced, State: cluster.VMProvisioning, Host: host, Reason: "placed"}}}
	b := cluster.VM{ID: tx.ID{2}, Owner: owner, State: cluster.VMDeleted, Host: host}
	f.vms[a.ID], f.vms[b.ID] = a, b
	f.vms[tx.ID{3}] = cluster.VM{ID: tx.ID{3}, Owner: tx.Key{9}}

	rec := request(h, "GET", "/v1/vms/"+a.ID.String(), "", nil)
	v := decode[VM](t, rec)
	want := VM{ID: a.ID.String(), Owner: owner.String(), OwnerAddress: payment.Address(owner).String(), VCPU: 2, MemoryMiB: 4096,
		DiskGiB: 40, Image: "debian-12", Region: "eu-west", SSHKey: testSSHKey, State: "running", Host: host.String(),
		CreatedUnixNs: 10, LeaseEndUnixNs: 20, UpdatedUnixNs: 15, PlacedUnixNs: 11, PaidLamports: 999, Tried: []string{tx.Key{6}.String()},
		LeaseEnd: "1970-01-01T00:00:00Z", LeaseLeft: "0s", RanSeconds: 3,
		Access: &Access{Host: "203.0.113.7", Port: 22001, User: "dagger", SSH: "ssh -p 22001 dagger@203.0.113.7"}}
	if rec.Code != 200 || !equalJSON(v, want) {
		t.Fatalf("GET vm: %d %+v, want %+v", rec.Code, v, want)
	}
	evs := decode[VMEvents](t, request(h, "GET", "/v1/vms/"+a.ID.String()+"/events", "", nil))
	wantEvs := VMEvents{VM: a.ID.String(), State: "running", Events: []VMEvent{
		{Time: "1970-01-01T00:00:00.00000001Z", TimeUnixNs: 10, Kind: "created", State: "pending", Reason: "paid"},
		{Time: "1970-01-01T00:00:00.000000011Z", TimeUnixNs: 11, Kind: "placed", State: "provisioning", Host: host.String(), Reason: "placed"}}}
	if !equalJSON(evs, wantEvs) {
		t.Fatalf("GET vm events: %+v, want %+v", evs, wantEvs)
	}
	if rec := request(h, "GET", "/v1/vms/"+tx.ID{7}.String()+"/events", "", nil); rec.Code != 404 {
		t.Fatalf("events of no VM: %d", rec.Code)
	}
	if v.Spec() != a.Spec {
		t.Fatalf("Spec() = %+v, want %+v", v.Spec(), a.Spec)
	}

	for _, owner := range []string{owner.String(), payment.Address(owner).String()} {
		l := decode[VMList](t, request(h, "GET", "/v1/vms?owner="+owner, "", nil))
		if len(l.VMs) != 2 || l.VMs[0].ID != a.ID.String() || l.VMs[1].Host != "" {
			t.Fatalf("list by %s: %+v, want the owner's two VMs, the deleted one without a host", owner, l.VMs)
		}
	}
	if l := decode[VMList](t, request(h, "GET", "/v1/vms?owner="+tx.Key{8}.String(), "", nil)); l.VMs == nil || len(l.VMs) != 0 {
		t.Fatalf("an owner without VMs: %+v, want an empty list", l)
	}

	wantError(t, request(h, "GET", "/v1/vms/"+tx.ID{4}.String(), "", nil), 404, CodeNotFound, "no VM")
	wantError(t, request(h, "GET", "/v1/vms/1234", "", nil), 400, CodeBadRequest, "VM id")
	wantError(t, request(h, "GET", "/v1/vms", "", nil), 400, CodeBadRequest, "owner is required")
	wantError(t, request(h, "GET", "/v1/vms?owner=0xabc", "", nil), 400, CodeBadRequest, "base58")
	wantError(t, request(h, "GET", "/v1/vms?owner="+owner.String()+"&state=running", "", nil), 400, CodeBadRequest, "takes owner")
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestOperatorsAndParams(t *testing.T) {
	f := newFake()
	f.ops = []cluster.Operator{{Key: tx.Key{1}, PeerID: "12D3KooW", Region: "eu-west", Capacity: tx.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 500},
		Used: tx.Capacity{VCPU: 2}, Payout: [32]byte{2}, Weight: 1, Status: cluster.OperatorActive, Approvals: []tx.Key{{3}}, Since: 4,
		HostedNs: int64(90 * time.Minute), Earned: 4200}}
	f.params = cluster.Params{Treasury: treasury, Price: cluster.Price{VCPUHour: 1, MemoryGiBHour: 2, DiskGiBHour: 3},
		EpochLength: 30 * time.Second, StatusTimeout: time.Minute, MaxAttempts: 3, PendingTimeout: 15 * time.Minute}
	h := serve(f, Options{})

	ops := decode[OperatorList](t, request(h, "GET", "/v1/operators", "", nil)).Operators
	wantOp := Operator{Key: tx.Key{1}.String(), PeerID: "12D3KooW", Region: "eu-west", Capacity: Capacity{8, 16384, 500},
		Used: Capacity{VCPU: 2}, Payout: payment.Address{2}.String(), Weight: 1, Status: "active",
		Approvals: []string{tx.Key{3}.String()}, Removals: []string{}, SinceEpoch: 4,
		HostedVMHours: 1.5, HostedVMNs: int64(90 * time.Minute), EarnedLamports: 4200}
	if len(ops) != 1 || !equalJSON(ops[0], wantOp) {
		t.Fatalf("operators %+v, want %+v", ops, wantOp)
	}
	for _, id := range []string{tx.Key{1}.String(), payment.Address{1}.String()} {
		if op := decode[Operator](t, request(h, "GET", "/v1/operators/"+id, "", nil)); !equalJSON(op, wantOp) {
			t.Fatalf("GET operator %s: %+v, want %+v", id, op, wantOp)
		}
	}
	wantError(t, request(h, "GET", "/v1/operators/"+tx.Key{7}.String(), "", nil), 404, CodeNotFound, "no operator")
	wantError(t, request(h, "GET", "/v1/operators/nope", "", nil), 400, CodeBadRequest, "public key")

	p := decode[Params](t, request(h, "GET", "/v1/params", "", nil))
	if p.Treasury != treasury.String() || p.Price.LamportsPerMemoryGiBHour != 2 || p.EpochLengthNs != int64(30*time.Second) || p.MaxAttempts != 3 {
		t.Fatalf("params %+v", p)
	}
	back, err := p.Cluster()
	if err != nil || back != f.params {
		t.Fatalf("Params.Cluster() = %+v, %v; want %+v", back, err, f.params)
	}
	if _, err := (Params{Treasury: "0x0"}).Cluster(); err == nil {
		t.Fatal("Params.Cluster accepted a treasury that is not base58")
	}
	wantError(t, request(h, "GET", "/v1/operators?all=1", "", nil), 400, CodeBadRequest, "takes none")
}

func TestEvents(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	layers := b.Layered(2, 3, 16)
	e := layers[1][2]
	enc := e.Encode()
	f := newFake()
	f.events[e.Hash()] = enc
	f.events[graph.Hash{1}] = []byte("not an event")
	h := serve(f, Options{})

	rec := request(h, "GET", "/v1/events/"+e.Hash().Hex(), "", nil)
	v := decode[Event](t, rec)
	if rec.Code != 200 || v.Hash != e.Hash().Hex() || v.Round != 1 || v.Creator != 2 || len(v.Parents) != 4 || v.TxCount != 3 ||
		v.TxBytes != 48 || v.TxRoot != e.TxRoot.Hex() || v.TimeUnixNs != e.Time || len(v.Signature) != 128 {
		t.Fatalf("event %d %+v", rec.Code, v)
	}
	if got, _ := base64.StdEncoding.DecodeString(v.Encoding); !bytes.Equal(got, enc) {
		t.Fatal("the encoding does not round-trip")
	}
	if p := v.Parents[0]; p.Round != 0 || p.Hash != e.Parents[0].Hash.Hex() {
		t.Fatalf("parent %+v, want %v", p, e.Parents[0])
	}
	wantError(t, request(h, "GET", "/v1/events/"+graph.Hash{2}.Hex(), "", nil), 404, CodeNotFound, "no event")
	wantError(t, request(h, "GET", "/v1/events/zz", "", nil), 400, CodeBadRequest, "event hash")
	wantError(t, request(h, "GET", "/v1/events/"+graph.Hash{1}.Hex(), "", nil), 500, CodeInternal, "does not decode")
	f.events[graph.Hash{3}] = enc
	wantError(t, request(h, "GET", "/v1/events/"+graph.Hash{3}.Hex(), "", nil), 500, CodeInternal, "decodes to an event with hash")
}

func TestCommits(t *testing.T) {
	f := newFake()
	for i := range 300 {
		f.commits = append(f.commits, Commit{Index: uint64(i), Leader: "ab", StateHash: "cd"})
	}
	h := serve(f, Options{})
	if l := decode[CommitList](t, request(h, "GET", "/v1/commits", "", nil)); len(l.Commits) != DefaultCommitsLimit || l.Commits[0].Index != 0 {
		t.Fatalf("default page: %d commits from %d", len(l.Commits), l.Commits[0].Index)
	}
	if l := decode[CommitList](t, request(h, "GET", "/v1/commits?from=290&limit=1000", "", nil)); len(l.Commits) != 10 || l.Commits[0].Index != 290 {
		t.Fatalf("last page: %+v", l.Commits)
	}
	if l := decode[CommitList](t, request(h, "GET", "/v1/commits?from=1000", "", nil)); l.Commits == nil || len(l.Commits) != 0 {
		t.Fatalf("past the end: %+v, want an empty list", l)
	}
	wantError(t, request(h, "GET", "/v1/commits?from=-1", "", nil), 400, CodeBadRequest, "from")
	wantError(t, request(h, "GET", "/v1/commits?limit=0", "", nil), 400, CodeBadRequest, "1 to 1000")
	wantError(t, request(h, "GET", "/v1/commits?limit=1001", "", nil), 400, CodeBadRequest, "1 to 1000")
	wantError(t, request(h, "GET", "/v1/commits?to=3", "", nil), 400, CodeBadRequest, "takes from, limit")
}

func TestStatusAndHealth(t *testing.T) {
	f := newFake()
	f.status = Status{NodeID: "12D3KooW", Epoch: 2, CommitIndex: 40}
	h := serve(f, Options{Version: "v1.2.3"})
	st := decode[Status](t, request(h, "GET", "/v1/status", "", nil))
	if st.NodeID != "12D3KooW" || st.CommitIndex != 40 || st.Version != "v1.2.3" {
		t.Fatalf("status %+v, want the backend's with the server's version", st)
	}
	f.status.Version = "v9"
	if st := decode[Status](t, request(h, "GET", "/v1/status", "", nil)); st.Version != "v9" {
		t.Fatalf("version %q, want the backend's own", st.Version)
	}

	rec := request(h, "GET", "/v1/health", "", nil)
	if hl := decode[Health](t, rec); rec.Code != 200 || !hl.OK || hl.Error != "" {
		t.Fatalf("health %d %+v, want 200 ok", rec.Code, hl)
	}
	f.status.Fault = "store: disk full"
	rec = request(h, "GET", "/v1/health", "", nil)
	if hl := decode[Health](t, rec); rec.Code != 503 || hl.OK || hl.Error != CodeUnavailable || !strings.Contains(hl.Reason, "disk full") {
		t.Fatalf("health %d %+v, want 503 with the fault", rec.Code, hl)
	}
	if st := decode[Status](t, request(h, "GET", "/v1/status", "", nil)); st.Fault != "store: disk full" {
		t.Fatalf("status of a stopped node %+v, want its fault", st)
	}
	f.err = ErrUnavailable
	rec = request(h, "GET", "/v1/health", "", nil)
	if hl := decode[Health](t, rec); rec.Code != 503 || hl.OK || hl.Error != CodeUnavailable {
		t.Fatalf("health %d %+v, want 503", rec.Code, hl)
	}
	wantError(t, request(h, "GET", "/v1/status", "", nil), 503, CodeUnavailable, "node unavailable")
	wantError(t, request(h, "GET", "/v1/health?deep=1", "", nil), 400, CodeBadRequest, "takes none")
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	h := serve(newFake(), Options{})
	wantError(t, request(h, "GET", "/v2/txs", "", nil), 404, CodeNotFound, "openapi.yaml")
	wantError(t, request(h, "GET", "/metrics", "", nil), 404, CodeNotFound, "no route")
	rec := request(h, "PUT", "/v1/txs", "application/json", []byte("{}"))
	wantError(t, rec, 405, CodeMethodNotAllowed, "POST")
	if rec.Header().Get("Allow") != "POST" {
		t.Fatalf("Allow %q, want POST", rec.Header().Get("Allow"))
	}
	rec = request(h, "PATCH", "/v1/vms/"+tx.ID{}.String(), "", nil)
	wantError(t, rec, 405, CodeMethodNotAllowed, "DELETE")
}

func TestMetricsIsMounted(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dagger_up 1\n") })
	rec := request(serve(newFake(), Options{Metrics: metrics}), "GET", "/metrics", "", nil)
	if rec.Code != 200 || rec.Body.String() != "dagger_up 1\n" {
		t.Fatalf("/metrics: %d %q", rec.Code, rec.Body)
	}
}

func TestSnapshotServesTheNewestStoredBytes(t *testing.T) {
	f := newFake()
	h := serve(f, Options{})
	wantError(t, request(h, "GET", "/v1/snapshot", "", nil), 404, CodeNotFound, "no state snapshot yet")

	data := []byte("dagger/cluster-snapshot/v1\x00 and the state")
	f.snapshot = &node.Snapshot{Epoch: 7, Commit: 1234, Data: data}
	rec := request(h, "GET", "/v1/snapshot", "", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for k, want := range map[string]string{"Content-Type": "application/octet-stream", HeaderSnapshotEpoch: "7",
		HeaderSnapshotCommit: "1234", "Content-Length": strconv.Itoa(len(data)), "X-Content-Type-Options": "nosniff"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("header %s: %q, want %q", k, got, want)
		}
	}
	if !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("body %q, want the snapshot's bytes %q", rec.Body.Bytes(), data)
	}
	wantError(t, request(h, "GET", "/v1/snapshot?epoch=3", "", nil), 400, CodeBadRequest, "takes none")
	wantError(t, request(h, "POST", "/v1/snapshot", "application/json", []byte("{}")), 405, CodeMethodNotAllowed, "GET")
	f.err = ErrUnavailable
	wantError(t, request(h, "GET", "/v1/snapshot", "", nil), 503, CodeUnavailable, "node unavailable")
}

// BenchmarkReadBulkBody reads a bulk submission's body (4,096
// length-prefixed transactions of 256 bytes) as a handler does.
func BenchmarkReadBulkBody(b *testing.B) {
	body := make([]byte, 4096*(256+4))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/opaque", bytes.NewReader(body))
		if _, err := readBody(httptest.NewRecorder(), req, 8<<20); err != nil {
			b.Fatal(err)
		}
	}
}
