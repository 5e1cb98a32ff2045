package p2p

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"dagger/transport"
)

var listenOn = map[string][]string{
	"tcp":  {"/ip4/127.0.0.1/tcp/0"},
	"quic": {"/ip4/127.0.0.1/udp/0/quic-v1"},
}

// inbox records what a host delivers.
type inbox struct {
	mu   sync.Mutex
	msgs map[transport.PeerID][][]byte
	// hold, while locked by a test, stalls deliveries.
	hold sync.Mutex
}

func (b *inbox) deliver(from transport.PeerID, msg []byte) {
	b.hold.Lock()
	b.hold.Unlock() //lint:ignore SA2001 an empty critical section waits for a test's hold to end
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.msgs == nil {
		b.msgs = map[transport.PeerID][][]byte{}
	}
	b.msgs[from] = append(b.msgs[from], msg)
}

func (b *inbox) from(p transport.PeerID) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs[p])
}

type node struct {
	*Host
	in *inbox
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testConfig is fast to redial and logs nothing.
func testConfig(key ed25519.PrivateKey, listen []string) Config {
	return Config{Key: key, Listen: listen, RedialMin: 20 * time.Millisecond, RedialMax: 200 * time.Millisecond, DialTimeout: 2 * time.Second}
}

func start(t testing.TB, cfg Config) node {
	t.Helper()
	in := &inbox{}
	h, err := New(cfg, in.deliver)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return node{h, in}
}

// mesh starts n hosts that allow and know each other.
func mesh(t testing.TB, n int, listen []string) []node {
	t.Helper()
	nodes := make([]node, n)
	for i := range nodes {
		nodes[i] = start(t, testConfig(newKey(t), listen))
	}
	ids := make([]transport.PeerID, n)
	for i, nd := range nodes {
		ids[i] = nd.ID()
	}
	for i, nd := range nodes {
		for j, other := range nodes {
			if i != j {
				if err := nd.AddPeerAddr(other.ID(), other.Addrs()); err != nil {
					t.Fatal(err)
				}
			}
		}
		nd.SetAllowed(ids)
	}
	for _, nd := range nodes {
		waitFor(t, 5*time.Second, func() bool { return len(nd.Peers()) == n-1 }, "every host connected")
	}
	return nodes
}

func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msgOf(from transport.PeerID, i int) []byte { return fmt.Appendf(nil, "%s/%d", from, i) }

func TestPeerIDOfIsHostID(t *testing.T) {
	key := newKey(t)
	nd := start(t, testConfig(key, listenOn["tcp"]))
	id, err := PeerIDOf(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if id != nd.ID() || !strings.HasPrefix(string(id), "12D3KooW") {
		t.Fatalf("PeerIDOf = %s, host id %s", id, nd.ID())
	}
	if _, err := PeerIDOf(ed25519.PublicKey{1, 2, 3}); err == nil {
		t.Fatal("PeerIDOf accepted a 3-byte key")
	}
	for _, a := range nd.Addrs() {
		if !strings.HasSuffix(a, "/p2p/"+string(id)) {
			t.Fatalf("address %s does not end in /p2p/%s", a, id)
		}
	}
}

// TestMessagesFlowInOrder has four hosts broadcast and send to each other:
// every message arrives, in the order each sender queued it.
func TestMessagesFlowInOrder(t *testing.T) {
	const perSender = 200
	for _, tr := range []string{"tcp", "quic"} {
		t.Run(tr, func(t *testing.T) {
			nodes := mesh(t, 4, listenOn[tr])
			for _, nd := range nodes {
				want := make([]transport.PeerID, 0, 3)
				for _, other := range nodes {
					if other.ID() != nd.ID() {
						want = append(want, other.ID())
					}
				}
				slices.Sort(want)
				if got := nd.Peers(); !slices.Equal(got, want) {
					t.Fatalf("Peers() = %v, want %v", got, want)
				}
			}
			for i := range perSender {
				for _, nd := range nodes {
					if i%2 == 0 {
						nd.Broadcast(msgOf(nd.ID(), i))
						continue
					}
					for _, p := range nd.Peers() {
						nd.Send(p, msgOf(nd.ID(), i))
					}
				}
			}
			for _, nd := range nodes {
				for _, other := range nodes {
					if other.ID() == nd.ID() {
						continue
					}
					waitFor(t, 5*time.Second, func() bool { return len(nd.in.from(other.ID())) == perSender }, "all messages delivered")
					for i, m := range nd.in.from(other.ID()) {
						if want := msgOf(other.ID(), i); string(m) != string(want) {
							t.Fatalf("message %d from %s: %q, want %q", i, other.ID(), m, want)
						}
					}
				}
			}
			for _, nd := range nodes {
				st := nd.Stats()
				if st.MessagesIn != 3*perSender || st.MessagesOut != 3*perSender || st.Dropped != 0 || st.Invalid != 0 || st.Peers != 3 {
					t.Fatalf("stats %+v", st)
				}
				if st.BytesIn == 0 || st.BytesOut == 0 {
					t.Fatalf("stats count no bytes: %+v", st)
				}
			}
		})
	}
}

// TestGaterRefusesUnknownPeer: a host that is not allowed cannot connect,
// whichever side it knows.
func TestGaterRefusesUnknownPeer(t *testing.T) {
	for _, tr := range []string{"tcp", "quic"} {
		t.Run(tr, func(t *testing.T) {
			a := start(t, testConfig(newKey(t), listenOn[tr]))
			stranger := start(t, testConfig(newKey(t), listenOn[tr]))
			if err := stranger.AddPeerAddr(a.ID(), a.Addrs()); err != nil {
				t.Fatal(err)
			}
			stranger.SetAllowed([]transport.PeerID{a.ID()})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			aID, _ := peer.Decode(string(a.ID()))
			sID, _ := peer.Decode(string(stranger.ID()))
			if err := stranger.host.Connect(ctx, peer.AddrInfo{ID: aID}); err == nil {
				// A secure handshake may finish on the dialer's side before
				// the listener's gater closes the connection.
				waitFor(t, 2*time.Second, func() bool { return a.host.Network().Connectedness(sID) != network.Connected }, "refused connection closed")
			}
			waitFor(t, 5*time.Second, func() bool { return a.Stats().PeersRefused > 0 }, "a's gater refused the stranger")
			stranger.Send(a.ID(), []byte("let me in"))
			// The stranger is done with its message once it dropped it (no
			// connection) or wrote it to a stream a never accepted.
			waitFor(t, 5*time.Second, func() bool { st := stranger.Stats(); return st.Dropped+st.MessagesOut == 1 }, "the stranger sent or dropped its message")
			if len(a.Peers()) != 0 || a.Stats().MessagesIn != 0 || len(a.in.from(stranger.ID())) != 0 ||
				a.host.Network().Connectedness(sID) == network.Connected {
				t.Fatalf("unknown peer got through: peers %v, stats %+v, connectedness %v", a.Peers(), a.Stats(), a.host.Network().Connectedness(sID))
			}
		})
	}
}

// TestRemovedPeerDisconnected: a peer dropped from the committee loses its
// connection and is not dialed again.
func TestRemovedPeerDisconnected(t *testing.T) {
	nodes := mesh(t, 2, listenOn["tcp"])
	a, b := nodes[0], nodes[1]
	a.SetAllowed(nil)
	waitFor(t, 2*time.Second, func() bool { return len(a.Peers()) == 0 && len(b.Peers()) == 0 }, "removed peer disconnected")
	// b keeps redialing a, which refuses it each time: after two such
	// refusals a still has neither the peer nor a connection to it.
	refused := a.Stats().PeersRefused
	waitFor(t, 5*time.Second, func() bool { return a.Stats().PeersRefused >= refused+2 }, "b redialed and was refused twice")
	bID, _ := peer.Decode(string(b.ID()))
	if len(a.Peers()) != 0 || a.host.Network().Connectedness(bID) == network.Connected {
		t.Fatalf("removed peer reconnected: peers %v, connectedness %v", a.Peers(), a.host.Network().Connectedness(bID))
	}
}

// TestPendingPeerRateLimited: an operator awaiting approval gets its burst
// through and no more, until it joins the committee.
func TestPendingPeerRateLimited(t *testing.T) {
	cfg := testConfig(newKey(t), listenOn["tcp"])
	cfg.Pending = RateLimit{MessagesPerSecond: 5, BurstMessages: 10, BytesPerSecond: 1 << 20, BurstBytes: 1 << 20}
	a := start(t, cfg)
	joiner := start(t, testConfig(newKey(t), listenOn["tcp"]))
	a.SetPending([]transport.PeerID{joiner.ID()})
	joiner.SetAllowed([]transport.PeerID{a.ID()})
	if err := joiner.AddPeerAddr(a.ID(), a.Addrs()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(joiner.Peers()) == 1 && len(a.Peers()) == 1 }, "joiner connected")

	began := time.Now()
	const sent = 100
	for i := range sent {
		joiner.Send(a.ID(), msgOf(joiner.ID(), i))
	}
	waitFor(t, 5*time.Second, func() bool { st := a.Stats(); return st.MessagesIn+st.Limited == sent }, "every message read")
	allowed := 10 + 5*time.Since(began).Seconds()
	if got := len(a.in.from(joiner.ID())); float64(got) > allowed || got < 10 {
		t.Fatalf("pending peer delivered %d messages, want 10..%.0f", got, allowed)
	}
	if a.Stats().Limited == 0 {
		t.Fatal("no message counted as limited")
	}

	a.SetAllowed([]transport.PeerID{joiner.ID()})
	before := len(a.in.from(joiner.ID()))
	for i := range sent {
		joiner.Send(a.ID(), msgOf(joiner.ID(), sent+i))
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.in.from(joiner.ID())) == before+sent }, "member's messages all delivered")
}

// TestRestartedPeerReconnected: a host that restarts on the same address
// with the same key is dialed again by its peers, which know its address,
// and messages flow both ways.
func TestRestartedPeerReconnected(t *testing.T) {
	for _, tr := range []string{"tcp", "quic"} {
		t.Run(tr, func(t *testing.T) {
			a, b, keyB, addrsB := connectedPair(t, listenOn[tr])
			// Both writers hold a stream on the connection about to die.
			a.Send(b.ID(), []byte("hello"))
			b.Send(a.ID(), []byte("hi"))
			waitFor(t, 5*time.Second, func() bool {
				return len(b.in.from(a.ID())) == 1 && len(a.in.from(b.ID())) == 1
			}, "messages flow before the restart")

			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 0 }, "a sees b gone")
			// Let a's dials fail a few times, so reconnecting takes its backoff.
			time.Sleep(300 * time.Millisecond)

			listen := make([]string, len(addrsB))
			for i, s := range addrsB {
				listen[i] = strings.TrimSuffix(s, "/p2p/"+string(b.ID()))
			}
			b = start(t, testConfig(keyB, listen))
			b.SetAllowed([]transport.PeerID{a.ID(), b.ID()})
			waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 }, "a redialed restarted b")
			a.Send(b.ID(), []byte("welcome back"))
			b.Send(a.ID(), []byte("thanks"))
			waitFor(t, 5*time.Second, func() bool {
				return len(b.in.from(a.ID())) == 1 && len(a.in.from(b.ID())) == 2
			}, "the first message after the restart arrives")
		})
	}
}

// TestOversizedFrameRejected: a frame over the receiver's limit, or an
// empty one, resets the stream and counts as invalid; the sender's next
// stream works.
func TestOversizedFrameRejected(t *testing.T) {
	cfg := testConfig(newKey(t), listenOn["tcp"])
	cfg.MaxMessageBytes = 1 << 10
	cfg.MaxMemoryBytes = 64 << 20
	a := start(t, cfg)
	b := start(t, testConfig(newKey(t), listenOn["tcp"]))
	both := []transport.PeerID{a.ID(), b.ID()}
	a.SetAllowed(both)
	b.SetAllowed(both)
	if err := b.AddPeerAddr(a.ID(), a.Addrs()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 }, "connected")
	aID, _ := peer.Decode(string(a.ID()))

	for i, length := range []uint32{1<<10 + 1, 0, 0xffffffff} {
		s, err := b.host.NewStream(context.Background(), aID, ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(s)
		if err := binary.Write(w, binary.BigEndian, length); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Second, func() bool { return a.Stats().Invalid == uint64(i+1) }, "invalid frame counted")
		s.Reset()
	}

	// b allows larger messages than a: a rejects one, and b's writer opens
	// a fresh stream for the next.
	b.Send(a.ID(), make([]byte, 2<<10))
	waitFor(t, 2*time.Second, func() bool { return a.Stats().Invalid == 4 }, "over-limit message rejected")
	waitFor(t, 5*time.Second, func() bool {
		b.Send(a.ID(), []byte("small"))
		return len(a.in.from(b.ID())) > 0
	}, "messages flow after the rejected frame")
	if len(a.Peers()) != 1 {
		t.Fatal("rejecting a frame cost the connection")
	}
}

// TestSendNeverBlocks: sending to unknown, disconnected or stalled peers
// returns at once and drops what cannot be queued.
func TestSendNeverBlocks(t *testing.T) {
	cfg := testConfig(newKey(t), listenOn["tcp"])
	cfg.MaxQueueMessages = 64
	cfg.MaxQueueBytes = 1 << 20
	cfg.MaxMessageBytes = 256 << 10
	cfg.MaxMemoryBytes = 64 << 20
	a := start(t, cfg)
	b := start(t, testConfig(newKey(t), listenOn["tcp"]))
	down, err := PeerIDOf(newKey(t).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	a.SetAllowed([]transport.PeerID{b.ID(), down})
	b.SetAllowed([]transport.PeerID{a.ID()})
	if err := a.AddPeerAddr(b.ID(), b.Addrs()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 1 }, "connected")

	// b stops reading: its stream's flow control fills up, a's writer
	// blocks, and a's queue fills.
	b.in.hold.Lock()
	defer b.in.hold.Unlock()
	msg := make([]byte, 200<<10)
	began := time.Now()
	const sends = 2000
	for range sends {
		a.Send(b.ID(), msg)
		a.Send(down, msg)
		a.Send("not a peer id", msg)
		a.Broadcast(msg)
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("%d rounds of sends took %v", sends, took)
	}
	if st := a.Stats(); st.Dropped < 3*sends {
		t.Fatalf("dropped %d messages, want at least %d: %+v", st.Dropped, 3*sends, st)
	}
}

// TestCloseLeavesNoGoroutines: hosts that exchanged messages and closed
// leave no goroutines behind.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer verifyNoGoroutinesLeft(t, goleak.IgnoreCurrent())
	for _, tr := range []string{"tcp", "quic"} {
		nodes := make([]node, 3)
		for i := range nodes {
			in := &inbox{}
			h, err := New(testConfig(newKey(t), listenOn[tr]), in.deliver)
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = node{h, in}
		}
		for _, nd := range nodes {
			for _, other := range nodes {
				if other.ID() != nd.ID() {
					if err := nd.AddPeerAddr(other.ID(), other.Addrs()); err != nil {
						t.Fatal(err)
					}
				}
			}
			nd.SetAllowed([]transport.PeerID{nodes[0].ID(), nodes[1].ID(), nodes[2].ID()})
		}
		for _, nd := range nodes {
			waitFor(t, 5*time.Second, func() bool { return len(nd.Peers()) == 2 }, "connected")
			nd.Broadcast([]byte("bye"))
		}
		for _, nd := range nodes {
			if err := nd.Close(); err != nil {
				t.Fatal(err)
			}
			if err := nd.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			nd.Send(nodes[0].ID(), []byte("after close"))
			nd.SetAllowed(nil)
		}
	}
}

// verifyNoGoroutinesLeft fails t if goroutines other than those opts
// ignore are still running after a grace period: those of closed
// connections may take a moment to return. goleak retries for under half a
// second on its own.
func verifyNoGoroutinesLeft(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for goleak.Find(opts...) != nil && time.Now().Before(deadline) {
	}
	goleak.VerifyNone(t, opts...)
}

func TestConfigRejected(t *testing.T) {
	key := newKey(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no key", Config{}},
		{"queue smaller than a message", Config{Key: key, MaxMessageBytes: 2 << 20, MaxQueueBytes: 1 << 20}},
		{"memory for too few messages", Config{Key: key, MaxMemoryBytes: 64 << 20}},
		{"redial bounds reversed", Config{Key: key, RedialMin: time.Minute, RedialMax: time.Second}},
		{"negative handshake bound", Config{Key: key, MaxHandshakesPerIP: -1}},
		{"partial pending limit", Config{Key: key, Pending: RateLimit{MessagesPerSecond: 1}}},
		{"peer without id", Config{Key: key, Peers: []string{"/ip4/127.0.0.1/tcp/1"}}},
		{"bad listen address", Config{Key: key, Listen: []string{"/ip4/nowhere"}}},
		{"bad trusted id", Config{Key: key, Trusted: []transport.PeerID{"nobody"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(tc.cfg, func(transport.PeerID, []byte) {})
			if err == nil {
				h.Close()
				t.Fatal("New accepted the config")
			}
		})
	}
}

// connectedPair starts two hosts on listen that allow each other, with a
// dialing b, and waits until they are connected; it returns b's key and
// addresses for restarting it.
func connectedPair(t *testing.T, listen []string) (a, b node, keyB ed25519.PrivateKey, addrsB []string) {
	t.Helper()
	a = start(t, testConfig(newKey(t), listen))
	keyB = newKey(t)
	b = start(t, testConfig(keyB, listen))
	addrsB = b.Addrs()
	both := []transport.PeerID{a.ID(), b.ID()}
	a.SetAllowed(both)
	b.SetAllowed(both)
	if err := a.AddPeerAddr(b.ID(), addrsB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 }, "connected")
	return a, b, keyB, addrsB
}

// TestBacklogReportsThePeersItWaitsFor: Backlog tells how long the oldest
// unsent message has waited, for the k-th least backlogged peer. A peer
// that stops reading holds its messages back; the other does not.
func TestBacklogReportsThePeersItWaitsFor(t *testing.T) {
	cfg := testConfig(newKey(t), listenOn["tcp"])
	cfg.MaxQueueMessages = 64
	cfg.MaxQueueBytes = 4 << 20
	cfg.MaxMessageBytes = 256 << 10
	cfg.MaxMemoryBytes = 64 << 20
	a := start(t, cfg)
	b := start(t, testConfig(newKey(t), listenOn["tcp"]))
	c := start(t, testConfig(newKey(t), listenOn["tcp"]))
	a.SetAllowed([]transport.PeerID{b.ID(), c.ID()})
	b.SetAllowed([]transport.PeerID{a.ID()})
	c.SetAllowed([]transport.PeerID{a.ID()})
	for _, p := range []node{b, c} {
		if err := a.AddPeerAddr(p.ID(), p.Addrs()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 2 }, "connected")
	if w := a.Backlog(2); w != 0 {
		t.Fatalf("backlog %v before anything was sent", w)
	}

	// b stops reading: once its stream's windows are full, a's messages to
	// it wait; c keeps reading.
	b.in.hold.Lock()
	msg := make([]byte, 200<<10)
	held := time.Now()
	for time.Since(held) < 500*time.Millisecond {
		a.Broadcast(msg)
		time.Sleep(time.Millisecond)
	}
	if w := a.Backlog(2); w < 200*time.Millisecond {
		b.in.hold.Unlock()
		t.Fatalf("a peer that stopped reading for 500 ms: backlog %v", w)
	}
	waitFor(t, 5*time.Second, func() bool { return a.Backlog(1) < 200*time.Millisecond }, "the reading peer's backlog under 200 ms")
	if w := a.Backlog(3); w < 200*time.Millisecond {
		b.in.hold.Unlock()
		t.Fatalf("k beyond the peers: backlog %v, want the most backlogged peer's", w)
	}
	b.in.hold.Unlock()
	waitFor(t, 10*time.Second, func() bool { return a.Backlog(2) == 0 }, "the backlog drained once the peer reads again")
}

// TestBulkMessagesGoAfterTheOthers: messages sent with SendBulk reach the
// peer after the ones Send queued behind them, except those already being
// written; all arrive, the bulk ones in their order.
func TestBulkMessagesGoAfterTheOthers(t *testing.T) {
	nodes := mesh(t, 2, listenOn["tcp"])
	a, b := nodes[0], nodes[1]
	const bulk, urgent = 40, 20
	big := make([]byte, 1<<20)
	msgs := make([][]byte, bulk)
	for i := range msgs {
		msgs[i] = append(fmt.Appendf(nil, "bulk/%d/", i), big...)
	}
	// b stops reading, so the writer gets stuck once the stream's windows
	// are full, with bulk messages still queued.
	b.in.hold.Lock()
	for _, m := range msgs {
		a.SendBulk(b.ID(), m)
	}
	waitFor(t, 5*time.Second, func() bool { return a.Backlog(1) >= 100*time.Millisecond }, "the writer stuck behind a peer that does not read")
	for i := range urgent {
		a.Send(b.ID(), fmt.Appendf(nil, "urgent/%d", i))
	}
	b.in.hold.Unlock()
	waitFor(t, 20*time.Second, func() bool { return len(b.in.from(a.ID())) == bulk+urgent }, "all messages delivered")
	var order []string
	for _, m := range b.in.from(a.ID()) {
		kind, rest, _ := strings.Cut(string(m), "/")
		n, _, _ := strings.Cut(rest, "/")
		order = append(order, kind+n)
	}
	if last := slices.Index(order, fmt.Sprintf("bulk%d", bulk-1)); last < slices.Index(order, fmt.Sprintf("urgent%d", urgent-1)) {
		t.Fatalf("order %v: every bulk message went before the messages Send queued after them", order)
	}
	for i := 1; i < bulk; i++ {
		if slices.Index(order, fmt.Sprintf("bulk%d", i)) < slices.Index(order, fmt.Sprintf("bulk%d", i-1)) {
			t.Fatalf("order %v: bulk messages out of their order", order)
		}
	}
	if st := a.Stats(); st.Dropped != 0 {
		t.Fatalf("%d messages dropped", st.Dropped)
	}
}
