package api

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"dagger/node"
)

// TestSnapshotDownloadsAreCappedAndCutOff: clients that ask for the
// snapshot and never read it hold at most MaxSnapshotDownloads copies, each
// only until its write time is up; meanwhile further downloads are refused
// with 503 and Retry-After, and afterwards they are served again.
func TestSnapshotDownloadsAreCappedAndCutOff(t *testing.T) {
	f := newFake()
	data := bytes.Repeat([]byte("snapshot"), 8<<20) // 64 MiB: far more than the sockets buffer
	f.snapshot = &node.Snapshot{Epoch: 3, Commit: 40, Data: data}
	srv := httptest.NewServer(NewServer(f, Options{MaxSnapshotDownloads: 2, SnapshotWriteTime: 3 * time.Second, SnapshotMinRate: 1 << 30}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	stalled := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /v1/snapshot HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		return c // and never read
	}
	get := func() *http.Response {
		resp, err := http.Get(srv.URL + "/v1/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	a, b := stalled(), stalled()
	defer a.Close()
	defer b.Close()
	time.Sleep(200 * time.Millisecond) // let the server take both requests
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := get()
		resp.Body.Close() // a 200 here is dropped unread: the server's write fails at once
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("a refused download has no Retry-After")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two stalled downloads did not fill the cap: got %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The stalled writes are cut off when their time is up; the tokens
	// come back and a client that reads gets the whole snapshot.
	for {
		resp := get()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if !bytes.Equal(body, data) {
				t.Fatalf("the snapshot came back as %d bytes, want %d", len(body), len(data))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled downloads still hold the cap after their write time: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
