package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"dagger/node/tx"
)

// frames encodes transactions as POST /v1/opaque takes them.
func frames(txs ...[]byte) []byte { return AppendFrames(nil, txs) }

type refusals map[string]int

func (r refusals) count(reason string, n int) { r[reason] += n }

// TestOpaqueQueuesInOrderAndSaysSlowDown: the transactions of a request
// reach the node in order; when its queue fills, the answer is 503 with
// Retry-After and how many were queued, and the refusal is counted.
func TestOpaqueQueuesInOrderAndSaysSlowDown(t *testing.T) {
	f := newFake()
	seen := refusals{}
	h := serve(f, Options{Opaque: true, OpaqueRefused: seen.count})
	rec := request(h, "POST", "/v1/opaque", "application/octet-stream", frames([]byte("a"), []byte("bb"), []byte("ccc")))
	var res OpaqueResult
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &res) != nil || res.Accepted != 3 || res.Refused != 0 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !slices.EqualFunc(f.opaque, [][]byte{[]byte("a"), []byte("bb"), []byte("ccc")}, bytes.Equal) {
		t.Fatalf("queued %q", f.opaque)
	}

	f.opaqueRoom = 4
	rec = request(h, "POST", "/v1/opaque", "application/octet-stream", frames([]byte("d"), []byte("e"), []byte("f")))
	res = OpaqueResult{}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("a full queue: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if res.Accepted != 1 || res.Refused != 2 || res.Error != CodeBusy || res.Reason == "" {
		t.Fatalf("a full queue: %+v", res)
	}
	if seen["busy"] != 2 || len(f.opaque) != 4 {
		t.Fatalf("refusals %v, queued %d", seen, len(f.opaque))
	}
}

// TestOpaqueRefusesWhatItMustNot: off unless enabled, only octet-stream,
// whole frames, no empty transaction, none that claims to be a cluster
// transaction, at most MaxOpaqueTxs; each refusal is counted and nothing
// of a refused request reaches the node.
func TestOpaqueRefusesWhatItMustNot(t *testing.T) {
	cases := []struct {
		name    string
		opt     Options
		ct      string
		body    []byte
		status  int
		reason  string
		message string
	}{
		{"disabled", Options{}, "application/octet-stream", frames([]byte("a")), 404, "disabled", "opaque = true"},
		{"json", Options{Opaque: true}, "application/json", frames([]byte("a")), 415, "malformed", "application/octet-stream"},
		{"cut short", Options{Opaque: true}, "application/octet-stream", frames([]byte("abc"))[:5], 400, "malformed", "truncated"},
		{"empty body", Options{Opaque: true}, "application/octet-stream", []byte{}, 400, "malformed", "no transactions"},
		{"empty tx", Options{Opaque: true}, "application/octet-stream", frames([]byte("a"), nil), 400, "malformed", "transaction 1 is empty"},
		{"cluster prefix", Options{Opaque: true}, "application/octet-stream", frames([]byte(tx.Magic + "x")), 400, "malformed", "POST /v1/txs"},
		{"too many", Options{Opaque: true, MaxOpaqueTxs: 2}, "application/octet-stream", frames([]byte("a"), []byte("b"), []byte("c")), 413, "too_large", "more than 2"},
		{"huge length", Options{Opaque: true}, "application/octet-stream", binary.BigEndian.AppendUint32(nil, 1<<31), 400, "malformed", "at most"},
	}
	for _, c := range cases {
		f := newFake()
		seen := refusals{}
		c.opt.OpaqueRefused = seen.count
		rec := request(serve(f, c.opt), "POST", "/v1/opaque", c.ct, c.body)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.message) {
			t.Errorf("%s: %d %s, want %d mentioning %q", c.name, rec.Code, rec.Body, c.status, c.message)
		}
		if seen[c.reason] == 0 || len(f.opaque) != 0 {
			t.Errorf("%s: refusals %v, queued %d", c.name, seen, len(f.opaque))
		}
	}
}

// FuzzDecodeOpaque: any body either splits into transactions that frame
// back to exactly it, or is refused; never a panic.
func FuzzDecodeOpaque(f *testing.F) {
	f.Add(frames([]byte("a"), []byte("bc")))
	f.Add([]byte{0, 0, 0, 9, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		txs, err := decodeOpaque(body, 1000)
		if err != nil {
			return
		}
		if !bytes.Equal(frames(txs...), body) {
			t.Fatalf("%x split into %q", body, txs)
		}
		for _, x := range txs {
			if len(x) == 0 || tx.IsCluster(x) {
				t.Fatalf("accepted %q", x)
			}
		}
	})
}
