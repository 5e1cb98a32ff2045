package paymenttest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"dagger/node/payment"
	"dagger/node/payment/paymenttest"
)

func listen(t *testing.T) *paymenttest.Server {
	t.Helper()
	s, err := paymenttest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// post sends one JSON-RPC request and returns the HTTP status and body.
func post(t *testing.T, url, method string, params ...any) (int, []byte) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// shape replaces every value of a JSON document with its kind, keeping
// object keys and array lengths: two answers of the same shape differ only
// in their numbers and strings.
func shape(t *testing.T, doc []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			m := make(map[string]any, len(v))
			for k, x := range v {
				m[k] = walk(x)
			}
			return m
		case []any:
			a := make([]any, len(v))
			for i, x := range v {
				a[i] = walk(x)
			}
			return a
		case nil:
			return "null"
		}
		return reflect.TypeOf(v).String()
	}
	return walk(v)
}

func recorded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "rpc", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnswersHaveTheRecordedShapes(t *testing.T) {
	s := listen(t)
	sig := payment.Signature{1, 2, 3}
	for st, file := range map[paymenttest.State]string{
		paymenttest.NotFound:  "status_not_found.json",
		paymenttest.Processed: "status_processed.json",
		paymenttest.Confirmed: "status_confirmed.json",
		paymenttest.Finalized: "status_finalized.json",
		paymenttest.Failed:    "status_failed.json",
	} {
		s.Set(sig, st)
		code, body := post(t, s.URL(), "getSignatureStatuses", []string{sig.String()}, map[string]bool{"searchTransactionHistory": true})
		if want := shape(t, recorded(t, file)); code != 200 || !reflect.DeepEqual(shape(t, body), want) {
			t.Errorf("state %d: HTTP %d %s\nwant the shape of %s", st, code, body, file)
		}
	}

	code, body := post(t, s.URL(), "getLatestBlockhash", map[string]string{"commitment": "finalized"})
	if code != 200 || !reflect.DeepEqual(shape(t, body), shape(t, recorded(t, "latest_blockhash.json"))) {
		t.Errorf("getLatestBlockhash: HTTP %d %s", code, body)
	}

	wire, _ := pay(t, "dagger:vm-request:1")
	code, body = post(t, s.URL(), "sendTransaction", base64.StdEncoding.EncodeToString(wire), map[string]any{"encoding": "base64"})
	if code != 200 || !reflect.DeepEqual(shape(t, body), shape(t, recorded(t, "send_transaction.json"))) {
		t.Errorf("sendTransaction: HTTP %d %s", code, body)
	}

	s.SetOutage(http.StatusTooManyRequests)
	code, body = post(t, s.URL(), "getLatestBlockhash")
	if code != 429 || !reflect.DeepEqual(shape(t, body), shape(t, recorded(t, "http_429.json"))) {
		t.Errorf("outage: HTTP %d %s", code, body)
	}
}

func TestRejectsBadRequests(t *testing.T) {
	s := listen(t)
	wire, _ := pay(t, "dagger:vm-request:1")
	forged := append([]byte(nil), wire...)
	forged[len(forged)-1] ^= 1
	for name, c := range map[string]struct {
		method string
		params []any
	}{
		"unknown method":      {"getBalance", nil},
		"no signatures":       {"getSignatureStatuses", nil},
		"bad signature":       {"getSignatureStatuses", []any{[]string{"not-base58"}}},
		"base58 transaction":  {"sendTransaction", []any{"3xyz"}},
		"not a transaction":   {"sendTransaction", []any{"AQID", map[string]string{"encoding": "base64"}}},
		"forged transaction":  {"sendTransaction", []any{base64.StdEncoding.EncodeToString(forged), map[string]string{"encoding": "base64"}}},
		"too many signatures": {"getSignatureStatuses", []any{make([]string, 257)}},
	} {
		code, body := post(t, s.URL(), c.method, c.params...)
		var resp struct {
			Error *struct{ Code int } `json:"error"`
		}
		if code != 200 || json.Unmarshal(body, &resp) != nil || resp.Error == nil {
			t.Errorf("%s: HTTP %d %s, want a JSON-RPC error", name, code, body)
		}
	}
	if len(s.Sent()) != 0 {
		t.Errorf("landed %d bad transactions", len(s.Sent()))
	}
}

var treasury = payment.Address{7}

func pay(t *testing.T, memo string) ([]byte, payment.Signature) {
	t.Helper()
	wire, sig, err := payment.Build(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), treasury, 1_000_000, memo, paymenttest.Blockhash)
	if err != nil {
		t.Fatal(err)
	}
	return wire, sig
}

func newRPC(t *testing.T, url, commitment string) *payment.RPC {
	t.Helper()
	c, err := payment.NewRPC(payment.RPCConfig{Endpoint: url, Commitment: commitment})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPaysAndConfirmsThroughRPC is the client's and the node's path: fetch
// a blockhash, build, send, and follow the payment as the chain moves on.
func TestPaysAndConfirmsThroughRPC(t *testing.T) {
	s := listen(t)
	chain := newRPC(t, s.URL(), "")
	ctx := context.Background()
	hash, err := chain.LatestBlockhash(ctx)
	if err != nil || hash != paymenttest.Blockhash {
		t.Fatalf("blockhash %x %v", hash, err)
	}
	s.LandSent(paymenttest.Processed)
	wire, want := pay(t, "dagger:vm-request:1")
	sig, err := chain.Send(ctx, wire)
	if err != nil || sig != want || len(s.Sent()) != 1 || !bytes.Equal(s.Sent()[0], wire) {
		t.Fatalf("send: %s %v, want %s", sig, err, want)
	}
	confirmed := newRPC(t, s.URL(), payment.CommitmentConfirmed)
	for _, step := range []struct {
		st        paymenttest.State
		finalized payment.Status
		confirmed payment.Status
	}{
		{paymenttest.Processed, payment.StatusPending, payment.StatusPending},
		{paymenttest.Confirmed, payment.StatusPending, payment.StatusFinalized},
		{paymenttest.Finalized, payment.StatusFinalized, payment.StatusFinalized},
		{paymenttest.Failed, payment.StatusFailed, payment.StatusFailed},
		{paymenttest.NotFound, payment.StatusNotFound, payment.StatusNotFound},
	} {
		if step.st != paymenttest.Processed {
			s.Set(sig, step.st)
		}
		for _, c := range []struct {
			chain *payment.RPC
			want  payment.Status
		}{{chain, step.finalized}, {confirmed, step.confirmed}} {
			if got, err := c.chain.Status(sig); err != nil || got != c.want {
				t.Errorf("state %d: %v %v, want %v", step.st, got, err, c.want)
			}
		}
	}
	if n := s.Calls("getSignatureStatuses"); n != 10 {
		t.Errorf("%d status calls, want 10", n)
	}

	s.SetOutage(http.StatusServiceUnavailable)
	var he *payment.HTTPStatusError
	if _, err := chain.Status(sig); !errors.As(err, &he) || he.Code != 503 {
		t.Errorf("during an outage: %v", err)
	}
	s.SetOutage(0)
	if _, err := chain.Status(sig); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

// TestAsyncChainOverRPC is how a live node asks: through an AsyncChain
// over RPC, polling until the answer arrives.
func TestAsyncChainOverRPC(t *testing.T) {
	s := listen(t)
	_, sig := pay(t, "dagger:vm-request:2")
	s.Set(sig, paymenttest.Finalized)
	a := payment.NewAsyncChain(newRPC(t, s.URL(), ""), payment.AsyncConfig{})
	defer a.Close()
	if _, err := a.Status(sig); !errors.Is(err, payment.ErrNotYetKnown) {
		t.Fatalf("first ask: %v, want %v", err, payment.ErrNotYetKnown)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := a.Status(sig)
		if err == nil && st == payment.StatusFinalized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer: %v %v", st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := a.Stats(); s.Queries != 1 || s.Errors != 0 {
		t.Errorf("stats %+v", s)
	}
}
