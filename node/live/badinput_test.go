package live

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"dagger/node/live/api"
	"dagger/node/tx"
)

// badRequest is one request of the bad-input corpus.
type badRequest struct {
	name, method, path, contentType string
	body                            []byte
}

// badInputCorpus is what an attacker or a broken client sends: broken,
// nested and huge JSON, wrong content types, bad base64, truncated and
// flipped transactions, odd expiries, path traversal, oversized ids, odd
// queries and methods.
func badInputCorpus(t *testing.T) []badRequest {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(x tx.Tx) []byte {
		x.Nonce = 1
		x.Sign(key)
		return x.Encode()
	}
	var vm tx.ID
	vm[0] = 7
	valid := sign(tx.Tx{Kind: tx.KindVMGet, VM: vm, Expiry: time.Now().Add(time.Minute).UnixNano()})
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const ct = "application/json"
	var c []badRequest
	add := func(name, method, path, contentType string, body []byte) {
		c = append(c, badRequest{name, method, path, contentType, body})
	}
	for i, s := range []string{`{`, `{"tx":`, `[`, `null`, `"tx"`, `1e999`, `{"tx":1}`, `{"tx":null}`, `{"tx":["AA=="]}`,
		`{"tx":{"a":1}}`, `{"tx":"AA==","tx":"AA=="}`, `{"tx":"AA=="} trailing`, "\xef\xbb\xbf{\"tx\":\"AA==\"}", `{"TX":"AA=="}`,
		`{"tx":"AA==","extra":true}`, "{\"tx\":\"\xff\xfe\"}", `{}`, ``} {
		add(fmt.Sprintf("broken JSON %d %q", i, s), "POST", "/v1/txs", ct, []byte(s))
	}
	add("nested arrays", "POST", "/v1/txs", ct, []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)))
	add("nested objects", "POST", "/v1/txs", ct, []byte(strings.Repeat(`{"tx":`, 50000)+`"AA=="`+strings.Repeat("}", 50000)))
	add("huge JSON string", "POST", "/v1/txs", ct, []byte(`{"tx":"`+strings.Repeat("A", 9<<20)+`"}`))
	add("huge raw body", "POST", "/v1/txs", "application/octet-stream", bytes.Repeat([]byte{1}, 9<<20))
	for _, typ := range []string{"", "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
		"application/json; charset=utf-16", "application/", "*/*", strings.Repeat("a", 5000)} {
		add("content type "+typ[:min(len(typ), 40)], "POST", "/v1/txs", typ, js(api.TxBody{Tx: b64(valid)}))
	}
	for _, s := range []string{"*", "AA=", "AAA", "-_-_", "AA ==", "\u00e9", strings.Repeat("=", 8), b64(valid)[:len(b64(valid))-3]} {
		add("bad base64 "+s[:min(len(s), 20)], "POST", "/v1/txs", ct, js(api.TxBody{Tx: s}))
	}
	for _, n := range []int{1, 2, 4, 8, 16, 40, len(valid) / 2, len(valid) - 64, len(valid) - 1} {
		add(fmt.Sprintf("truncated to %d bytes", n), "POST", "/v1/txs", "application/octet-stream", valid[:n])
	}
	add("one byte too many", "POST", "/v1/txs", "application/octet-stream", append(bytes.Clone(valid), 0))
	for _, at := range []int{0, 3, 8, 20, 40, len(valid) / 2, len(valid) - 65, len(valid) - 33, len(valid) - 1} {
		flipped := bytes.Clone(valid)
		flipped[at] ^= 0x20
		add(fmt.Sprintf("byte %d flipped", at), "POST", "/v1/txs", "application/octet-stream", flipped)
	}
	for name, exp := range map[string]int64{"zero": 0, "negative": -1, "past": time.Now().Add(-time.Hour).UnixNano(),
		"far future": time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), "max": 1<<63 - 1,
		"beyond the window": time.Now().Add(tx.MaxValidity + time.Minute).UnixNano()} {
		add("expiry "+name, "POST", "/v1/txs", "application/octet-stream", sign(tx.Tx{Kind: tx.KindVMGet, VM: vm, Expiry: exp}))
	}
	add("vote by a stranger", "POST", "/v1/txs", "application/octet-stream",
		sign(tx.Tx{Kind: tx.KindOperatorApprove, Operator: tx.Key{9}, Expiry: time.Now().Add(time.Minute).UnixNano()}))
	for i, s := range []string{`{"txs":[]}`, `{"txs":null}`, `{"txs":"AA=="}`, `{"txs":[1]}`, `{"txs":["*"]}`, `{`,
		`{"txs":["` + b64(valid) + `"],"more":1}`} {
		add(fmt.Sprintf("batch %d", i), "POST", "/v1/txs/batch", ct, []byte(s))
	}
	add("batch too long", "POST", "/v1/txs/batch", ct, js(api.BatchBody{Txs: slicesRepeat(b64(valid), 100000)}))
	for _, p := range []string{"/v1/vms/../../etc/passwd", "/v1/txs/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/v1/txs/..%2f..%2f",
		"/v1/events/zz", "/v1/events/" + strings.Repeat("g", 64), "/v1/events/" + strings.Repeat("a", 63),
		"/v1/txs/" + strings.Repeat("ab", 1000), "/v1/vms/" + strings.Repeat("f", 65), "/v1/vms/%00", "/v1/txs/%ff",
		"/v1/commits?from=-1", "/v1/commits?from=abc", "/v1/commits?limit=-5", "/v1/commits?limit=1e9", "/v1/commits?from=1&from=2",
		"/v1/status?x=1", "/v1/vms?owner=zz", "/v1/nothing", "/etc/passwd", "/v1/snapshot?x=%zz"} {
		add("GET "+p[:min(len(p), 50)], "GET", p, "", nil)
	}
	for _, m := range []string{"PUT", "PATCH", "DELETE", "TRACE"} {
		add(m+" /v1/txs", m, "/v1/txs", ct, js(api.TxBody{Tx: b64(valid)}))
	}
	add("DELETE a VM that is not a VM id", "DELETE", "/v1/vms/xyz", ct, nil)
	add("renew garbage", "POST", "/v1/vms/"+strings.Repeat("0", 64)+"/renew", ct, []byte(`{"tx":"*"}`))
	return c
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestBadInputCorpusOverTheRealServer sends the bad-input corpus to a
// running node's API: every request gets a 4xx with a JSON error saying
// why (a batch: a 200 whose every transaction is refused with a reason),
// none a 5xx, and afterwards the node is healthy, still admits a
// good transaction, and its store opens again.
func TestBadInputCorpusOverTheRealServer(t *testing.T) {
	cfg, _, _ := newNodeDir(t, false)
	svc, err := Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			svc.Close()
		}
	}()
	base := "http://" + svc.APIAddr()
	client := &http.Client{Timeout: 30 * time.Second}
	corpus := badInputCorpus(t)
	for _, c := range corpus {
		req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader(c.body))
		if err != nil {
			// A path Go's client refuses to send never reaches the node.
			t.Logf("%s: not sent: %v", c.name, err)
			continue
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && c.path == "/v1/txs/batch" {
			// A batch answers per transaction: each must be refused.
			var r api.BatchResult
			if err := json.Unmarshal(body, &r); err != nil || r.Admitted != 0 || len(r.Results) == 0 {
				t.Errorf("%s: batch answer %.200s (%v), want every transaction refused", c.name, body, err)
			}
			for i, e := range r.Results {
				if e.Error == "" || e.Reason == "" {
					t.Errorf("%s: transaction %d of the batch not refused with a reason: %+v", c.name, i, e)
				}
			}
			continue
		}
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("%s: status %d, want 4xx; body %.200s", c.name, resp.StatusCode, body)
			continue
		}
		var e api.Error
		if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Reason == "" {
			t.Errorf("%s: status %d with a body that is not a JSON error (%v): %.200s", c.name, resp.StatusCode, err, body)
		}
	}
	t.Logf("%d bad requests, each answered with a 4xx JSON error", len(corpus))

	resp, err := client.Get(base + "/v1/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("health after the corpus: %v %v", resp, err)
	}
	resp.Body.Close()
	closed = true
	if err := svc.Close(); err != nil {
		t.Fatalf("close after the corpus: %v", err)
	}
	svc, err = Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatalf("the node does not open again after the corpus: %v", err)
	}
	svc.Close()
}
