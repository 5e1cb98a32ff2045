package live

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dagger/node"
	"dagger/node/live/api"
)

// TestDescriptorExhaustionThroughTheAPIIsSurvived: with a descriptor limit
// of 512, another process opens 1,200 connections to the API that send a
// request's headers and then its body a byte at a time. The API holds at
// most a quarter of the limit; the rest wait in the kernel's listen queue
// or are refused, the store never runs out of descriptors, and the node
// keeps committing. Before the cap, 1,250 such requests under a limit of
// 1,200 made the store fail with "too many open files" and the node stop.
func TestDescriptorExhaustionThroughTheAPIIsSurvived(t *testing.T) {
	if addr := os.Getenv("DAGGER_TEST_FLOOD_ADDR"); addr != "" {
		t.Skip("the flood's own process: see floodAPI")
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = 512
	if old.Cur < low.Cur {
		t.Skipf("the descriptor limit is already %d", old.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)

	cfg, _, _ := newNodeDir(t, false)
	if v := os.Getenv("DAGGER_TEST_MAX_CONNS"); v != "" { // to see the test fail without the cap
		cfg.API.MaxConnections, _ = strconv.Atoi(v)
	}
	svc, err := Open(cfg, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	before, err := svc.rt.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}

	flood := exec.Command(os.Args[0], "-test.run=^TestFloodAPIHelper$", "-test.v")
	flood.Env = append(os.Environ(), "DAGGER_TEST_FLOOD_ADDR="+svc.APIAddr(), "DAGGER_TEST_FLOOD_CONNS=1200")
	out, err := flood.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { flood.Process.Kill(); flood.Wait() }()
	// The flood says how many connections it holds once it opened them.
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "connections open") {
	}
	t.Logf("flood: %s", sc.Text())

	// The store needs new files while the flood lasts: a write larger than
	// its write buffer starts a new log and a new table.
	var putErr error
	if err := svc.rt.do(ctx, func() {
		putErr = svc.db.PutSnapshot(node.Snapshot{Epoch: 1 << 30, Commit: 1 << 40, Data: make([]byte, 40<<20)})
	}); err != nil {
		t.Fatal(err)
	}
	if putErr != nil {
		t.Fatalf("the store failed during the flood: %v", putErr)
	}
	// The node keeps committing, which it does only after storing the
	// events it commits: wait for commitsDuring more commits after the
	// store made its new files, while the flood goes on.
	const commitsDuring = 10
	mid, err := svc.rt.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	// A loop stuck in the store does not answer: the deadline bounds that.
	during, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var after api.Status
	for {
		if after, err = svc.rt.Status(during); err != nil {
			t.Fatalf("status during the flood: %v", err)
		}
		if after.Fault != "" {
			t.Fatalf("the node stopped during the flood: %s", after.Fault)
		}
		if after.CommitIndex >= mid.CommitIndex+commitsDuring {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit index %d during the flood, %d after the store's new files: the node stopped committing", after.CommitIndex, mid.CommitIndex)
		}
		time.Sleep(20 * time.Millisecond)
	}
	flood.Process.Kill()
	flood.Wait()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get("http://" + svc.APIAddr() + "/v1/health")
	if err != nil {
		t.Fatalf("health after the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health after the flood: %s", resp.Status)
	}
	t.Logf("commit index %d before the flood, %d after the store's new files, %d at the end of it", before.CommitIndex, mid.CommitIndex, after.CommitIndex)
}

// TestFloodAPIHelper is the flood of TestDescriptorExhaustionThroughTheAPIIsSurvived,
// run in its own process so that its descriptors do not count against the
// node's.
func TestFloodAPIHelper(t *testing.T) {
	addr := os.Getenv("DAGGER_TEST_FLOOD_ADDR")
	if addr == "" {
		t.Skip("run by TestDescriptorExhaustionThroughTheAPIIsSurvived")
	}
	n, _ := strconv.Atoi(os.Getenv("DAGGER_TEST_FLOOD_CONNS"))
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue // the listen queue is full: refused, as it should be
		}
		fmt.Fprintf(c, "POST /v1/txs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n", addr)
		conns = append(conns, c)
	}
	fmt.Printf("%d of %d connections open\n", len(conns), n)
	for {
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			c.Write([]byte{0})
		}
		time.Sleep(500 * time.Millisecond)
	}
}
