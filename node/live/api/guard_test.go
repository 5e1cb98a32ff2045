package api

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestClientsOverTheirRateGet429: a client that submits faster than its
// rate is refused with 429 and Retry-After, another client is not, and a
// loopback client (the operator's own tools) is not limited.
func TestClientsOverTheirRateGet429(t *testing.T) {
	f := newFake()
	h := serve(f, Options{ClientRate: 1, ClientBurst: 3})
	data, _ := vmCreate(t, 1)
	send := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/txs", bytesReader(data))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := send("203.0.113.7:4000"); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	rec := send("203.0.113.7:4001")
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("the fourth request at once: %d, want 429", rec.Code)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if rec := send("198.51.100.9:4000"); rec.Code == http.StatusTooManyRequests {
		t.Fatal("another client was refused for the first one's rate")
	}
	for range 10 {
		if rec := send("127.0.0.1:5000"); rec.Code == http.StatusTooManyRequests {
			t.Fatal("a loopback client was limited")
		}
	}
	// A batch counts each of its transactions.
	batch := []byte(`{"txs": ["` + b64(data) + `", "` + b64(data) + `", "` + b64(data) + `", "` + b64(data) + `"]}`)
	req := httptest.NewRequest("POST", "/v1/txs/batch", bytesReader(batch))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.55:1"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a batch of 4 over a burst of 3: %d, want 429", rec.Code)
	}
}

// TestLoopbackAPIRefusesOtherHostNames: an API on loopback answers only
// requests addressed to a loopback address or localhost, so a page whose
// name a rebinding DNS server points at 127.0.0.1 cannot use it.
func TestLoopbackAPIRefusesOtherHostNames(t *testing.T) {
	h := serve(newFake(), Options{LoopbackOnly: true})
	for host, ok := range map[string]bool{
		"127.0.0.1:8700": true, "localhost:8700": true, "LOCALHOST": true, "[::1]:8700": true,
		"evil.example:8700": false, "evil.example": false, "10.0.0.1:8700": false,
	} {
		req := httptest.NewRequest("GET", "/v1/health", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if refused := rec.Code == http.StatusMisdirectedRequest; refused == ok {
			t.Errorf("Host %q: status %d", host, rec.Code)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
