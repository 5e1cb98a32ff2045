package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"dagger/node/tx"
)

// Every decoder of the API is fuzzed here: bodies, query strings, path
// parameters, and the client's reading of error responses.

func FuzzSubmitBody(f *testing.F) {
	data, _ := vmCreate(f, 1)
	f.Add("application/json", jsonTx(data))
	f.Add("application/octet-stream", data)
	f.Add("application/json", []byte(`{"tx":""}`))
	f.Add("application/json; charset=utf-8", []byte(`{"tx":"REdSAQ=="}`))
	f.Add("text/plain", []byte("x"))
	f.Add("application/json", []byte(`{"tx":"AA=="}{"tx":"AA=="}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		fb := newFake()
		rec := request(serve(fb, Options{MaxBodyBytes: 4096}), "POST", "/v1/txs", contentType, body)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted:
			var res SubmitResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatalf("status %d with a body that is not a SubmitResult: %v", rec.Code, err)
			}
			if len(fb.submitted) != 1 {
				t.Fatalf("status %d, but the backend took %d transactions", rec.Code, len(fb.submitted))
			}
			tr, err := tx.Decode(fb.submitted[0])
			if err != nil || tr.ID().String() != res.ID {
				t.Fatalf("admitted %x as %s: %v", fb.submitted[0], res.ID, err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			checkError(t, rec.Code, rec.Body.Bytes())
			if len(fb.submitted) != 0 {
				t.Fatalf("status %d, but the backend took the transaction", rec.Code)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func FuzzBatchBody(f *testing.F) {
	data, _ := vmCreate(f, 1)
	good, _ := json.Marshal(BatchBody{Txs: []string{string(jsonTx(data)[7 : len(jsonTx(data))-2]), "AA==", "*"}})
	f.Add(good)
	f.Add([]byte(`{"txs":[]}`))
	f.Add([]byte(`{"txs":null}`))
	f.Add([]byte(`{"txs":["", "", ""]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fb := newFake()
		rec := request(serve(fb, Options{MaxBatchTxs: 8}), "POST", "/v1/txs/batch", "application/json", body)
		switch rec.Code {
		case http.StatusOK:
			var res BatchResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatalf("a 200 that is not a BatchResult: %v", err)
			}
			if n := len(res.Results); n == 0 || n > 8 || res.Admitted+res.Refused != n || res.Admitted != len(fb.submitted) {
				t.Fatalf("result %+v for a backend that took %d", res, len(fb.submitted))
			}
			for i, it := range res.Results {
				if (it.Error == "") == (it.Reason != "") || (it.Error == "" && it.ID == "") {
					t.Fatalf("item %d is %+v: an admitted item has an id, a refused one a code and a reason", i, it)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			checkError(t, rec.Code, rec.Body.Bytes())
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzParameters sends arbitrary path segments and query strings to the
// routes that read them: every answer is a success or a 400/404 in JSON.
func FuzzParameters(f *testing.F) {
	id := tx.ID{1}.String()
	f.Add(id, "owner="+tx.Key{2}.String())
	f.Add(id, "from=3&limit=10")
	f.Add("zz", "wait=commit&timeout=1ms")
	f.Add(id, "owner=11111111111111111111111111111111")
	f.Add("%2F", "limit=-1&limit=2")
	f.Fuzz(func(t *testing.T, segment, rawQuery string) {
		h := serve(newFake(), Options{MaxWait: 5_000_000})
		seg := url.PathEscape(segment)
		data, _ := vmCreate(t, 1)
		for _, target := range []string{"/v1/txs/" + seg, "/v1/vms/" + seg, "/v1/events/" + seg, "/v1/vms", "/v1/commits"} {
			rec := requestQuery(h, "GET", target, rawQuery, nil)
			if !slices.Contains([]int{200, 400, 404}, rec.Code) {
				t.Fatalf("GET %s?%s: %d %s", target, rawQuery, rec.Code, rec.Body)
			}
			if rec.Code != 200 {
				checkError(t, rec.Code, rec.Body.Bytes())
			}
		}
		rec := requestQuery(h, "POST", "/v1/txs", rawQuery, data)
		if !slices.Contains([]int{200, 202, 400}, rec.Code) {
			t.Fatalf("POST /v1/txs?%s: %d %s", rawQuery, rec.Code, rec.Body)
		}
	})
}

// requestQuery sends a request with a raw query that need not be one a
// client would send (spaces, bad escapes), as a hostile client can.
func requestQuery(h http.Handler, method, path, rawQuery string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.URL.RawQuery = rawQuery
	req.Header.Set("Content-Type", "application/octet-stream")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkError(t *testing.T, status int, body []byte) {
	t.Helper()
	var e Error
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Reason == "" {
		t.Fatalf("status %d with a body that is not an error: %q (%v)", status, body, err)
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(422, []byte(`{"error":"rejected","reason":"expired"}`))
	f.Add(502, []byte("<html>Bad Gateway</html>"))
	f.Add(503, []byte(""))
	f.Add(500, []byte(strings.Repeat("é", 300)))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		if e.Status != status || e.Reason == "" && e.Code == "" && http.StatusText(status) != "" {
			t.Fatalf("decodeError(%d, %q) = %+v", status, body, e)
		}
		if e.Code == "" && len(e.Reason) > errorBodyBytesMax+len("...") {
			t.Fatalf("a foreign body is quoted in %d bytes", len(e.Reason))
		}
		_ = e.Error()
	})
}
