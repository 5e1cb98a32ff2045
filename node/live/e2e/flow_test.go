package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"dagger/node/live/api"
)

// TestSlowUplinkCommitsItsBacklog: four nodes in their own network
// namespaces; one has an 8 Mbit/s link (tc's token bucket) and takes a
// burst of 15 MB of transactions at once. Events that large reach the
// others, on fast links, after they moved past their rounds: never
// referenced, their transactions go back to the queue and out again in
// another such event. Without flow control a third of the burst committed
// in two minutes and the rest never did; with it, the node sees its
// messages wait to leave, makes smaller events, and all of it commits
// (about 100 s; three copies of 15 MB need 45 s of that link). A burst
// of 5 MB commits either way: the kernel's socket buffers take most of
// it at once, so the node's own queues never wait.
func TestSlowUplinkCommitsItsBacklog(t *testing.T) {
	needNetns(t)
	const n, slow, burst = 4, 3, 60000
	nw := newNetns(t, n)
	clients := startInNetns(t, nw, func(cfg string) string {
		// The burst comes from one client, not from loopback: no per-client limit.
		cfg = strings.Replace(cfg, "client_rate = 0", "client_rate = -1", 1)
		return strings.Replace(cfg, "opaque = false", "opaque = true", 1)
	})
	waitFor(t, 30*time.Second, "all four nodes commit", func() (bool, string) {
		for i, c := range clients {
			s, err := c.status()
			if err != nil || s.CommitIndex < 3 {
				return false, fmt.Sprintf("node %d: %+v %v", i, s, err)
			}
		}
		return true, ""
	})
	nw.slow(slow, "8mbit")
	before, err := clients[0].metric("dagger_committed_txs_total")
	if err != nil {
		t.Fatal(err)
	}
	txs := make([][]byte, burst)
	for i := range txs {
		txs[i] = make([]byte, 256)
		binary.BigEndian.PutUint64(txs[i], uint64(i))
		copy(txs[i][8:], "flow-control e2e")
	}
	ac, err := api.NewClient(clients[slow].base, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	submitted := time.Now()
	for i := 0; i < burst; i += 20000 { // a request holds at most 8 MiB
		part := txs[i:min(i+20000, burst)]
		res, err := ac.SubmitOpaque(context.Background(), part)
		if err != nil || res.Accepted != len(part) {
			t.Fatalf("submit %d opaque transactions: %+v %v", len(part), res, err)
		}
	}
	waitFor(t, 4*time.Minute, "the burst commits", func() (bool, string) {
		got, err := clients[0].metric("dagger_committed_txs_total")
		return err == nil && got >= before+burst, fmt.Sprintf("%v of %d committed (%v)", got-before, burst, err)
	})
	took := time.Since(submitted)
	cuts, err := clients[slow].metric("dagger_flow_cuts_total")
	if err != nil {
		t.Fatal(err)
	}
	limited, err := clients[slow].metric("dagger_flow_limited_events_total")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d transactions of 256 bytes on an 8 Mbit/s uplink committed in %v; the slow node cut its budget %v times and limited %v events",
		burst, took.Round(time.Millisecond), cuts, limited)
	if cuts == 0 || limited == 0 {
		t.Fatalf("flow control never acted (%v cuts, %v limited events): the link was not the bottleneck", cuts, limited)
	}
	checkAgreement(t, clients)
}
