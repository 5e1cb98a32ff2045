package p2p

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"dagger/transport"
)

// tcpAddrOf returns a host's TCP address as host:port.
func tcpAddrOf(t testing.TB, nd node) string {
	t.Helper()
	for _, s := range nd.Addrs() {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			t.Fatal(err)
		}
		tr, _ := peer.SplitAddr(a)
		if na, err := manet.ToNetAddr(tr); err == nil && na.Network() == "tcp" {
			return na.String()
		}
	}
	t.Fatalf("host has no TCP address: %v", nd.Addrs())
	return ""
}

// flood keeps n raw TCP connections to addr that never send a byte, like a
// stranger crowding the host's accept path: each one the host closes is
// opened again after a pause. It stops, closing them all, when the test
// ends; opened counts the connections made.
func flood(t testing.TB, addr string, n int) (opened *atomic.Int64) {
	t.Helper()
	const pause = 250 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	opened = new(atomic.Int64)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d net.Dialer
			for ctx.Err() == nil {
				if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
					opened.Add(1)
					stop := context.AfterFunc(ctx, func() { c.Close() })
					// The host speaks first; read until it or the test
					// closes the connection.
					io.Copy(io.Discard, c)
					stop()
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return opened
}

// TestStrangersCannotCrowdOutMembers: connections from the members' own
// address that never start a handshake, 160 at a time and reopened as soon
// as they are closed, neither keep a restarted member from reconnecting
// nor take more than MaxHandshakesPerIP of the host's handshake budget.
func TestStrangersCannotCrowdOutMembers(t *testing.T) {
	const strangers = 160
	a, b, keyB, addrsB := connectedPair(t, listenOn["tcp"])

	opened := flood(t, tcpAddrOf(t, a), strangers)
	// Once refused connections come back, the flood is at full strength.
	waitFor(t, 10*time.Second, func() bool { return opened.Load() >= 2*strangers }, "strangers' connections reopened")
	var inbound int
	a.host.Network().ResourceManager().ViewTransient(func(s network.ResourceScope) error {
		inbound = s.Stat().NumConnsInbound
		return nil
	})
	// Connections closed at their timeout leave the transient scope a
	// moment later, while their successors already hold their slots.
	if inbound > 2*DefaultMaxHandshakesPerIP {
		t.Errorf("strangers hold %d of the transient connections, want at most %d", inbound, 2*DefaultMaxHandshakesPerIP)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(a.Peers()) == 0 }, "a sees b gone")
	listen := make([]string, len(addrsB))
	for i, s := range addrsB {
		listen[i] = strings.TrimSuffix(s, "/p2p/"+string(b.ID()))
	}
	restarted := time.Now()
	b = start(t, testConfig(keyB, listen))
	b.SetAllowed([]transport.PeerID{a.ID(), b.ID()})
	if err := b.AddPeerAddr(a.ID(), a.Addrs()); err != nil {
		t.Fatal(err)
	}
	// Reconnecting takes milliseconds; libp2p's old 15 s handshake timeout
	// kept b out for as long as the flood lasted.
	waitFor(t, 10*time.Second, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 }, "restarted b reconnected during the flood")
	t.Logf("b reconnected %v after its restart, %d strangers' connections opened so far", time.Since(restarted), opened.Load())

	waitFor(t, 3*DefaultHandshakeTimeout, func() bool { return a.Stats().HandshakesTimedOut > 0 }, "strangers' handshakes timed out")
	if st := a.Stats(); st.HandshakesRefused == 0 {
		t.Fatalf("no handshake refused: %+v", st)
	}
}

// TestUnfinishedHandshakesBounded: connections that never start their
// handshake are refused past MaxHandshakesPerIP, and those admitted are
// closed after HandshakeTimeout; each is counted.
func TestUnfinishedHandshakesBounded(t *testing.T) {
	const conns, perIP = 10, 4
	cfg := testConfig(newKey(t), listenOn["tcp"])
	cfg.MaxHandshakesPerIP = perIP
	// Long enough that every connection is accepted before the first
	// admitted one times out and frees its slot.
	cfg.HandshakeTimeout = time.Second
	a := start(t, cfg)
	addr := tcpAddrOf(t, a)

	closed := make(chan struct{}, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			io.Copy(io.Discard, c)
			closed <- struct{}{}
		}()
	}
	for i := range conns {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d connections still open", conns-i, conns)
		}
	}
	waitFor(t, 2*time.Second, func() bool { st := a.Stats(); return st.HandshakesRefused+st.HandshakesTimedOut == conns }, "every connection counted")
	if st := a.Stats(); st.HandshakesRefused != conns-perIP || st.HandshakesTimedOut != perIP {
		t.Fatalf("refused %d, timed out %d; want %d and %d", st.HandshakesRefused, st.HandshakesTimedOut, conns-perIP, perIP)
	}
}

// fakeConn is an accepted connection as the gater sees it.
type fakeConn struct{ remote ma.Multiaddr }

func (c *fakeConn) LocalMultiaddr() ma.Multiaddr  { return ma.StringCast("/ip4/10.0.0.1/tcp/9000") }
func (c *fakeConn) RemoteMultiaddr() ma.Multiaddr { return c.remote }

// TestHandshakeBudget: who counts against which bound, and what frees a
// slot.
func TestHandshakeBudget(t *testing.T) {
	conn := func(s string) *fakeConn { return &fakeConn{ma.StringCast(s)} }
	hs := newHandshakes(time.Hour, 2, 5)
	defer hs.close()
	member := conn("/ip4/192.0.2.1/tcp/9000")
	hs.setKnown(map[netip.AddrPort]bool{netip.MustParseAddrPort("192.0.2.1:9000"): true})

	first := conn("/ip4/192.0.2.1/tcp/40000")
	for _, c := range []*fakeConn{first, conn("/ip4/192.0.2.1/tcp/40001")} {
		if !hs.accept(c) {
			t.Fatalf("%s refused under the per-IP bound", c.remote)
		}
	}
	if hs.accept(conn("/ip4/192.0.2.1/tcp/40002")) {
		t.Fatal("third unfinished handshake of one address admitted")
	}
	if !hs.accept(member) {
		t.Fatal("a member's known address refused while strangers fill its IP's share")
	}
	if !hs.accept(conn("/ip6/2001:db8:0:1::1/tcp/40000")) || !hs.accept(conn("/ip6/2001:db8:0:2::1/tcp/40000")) {
		t.Fatal("IPv6 sources refused under the bounds")
	}
	if hs.accept(conn("/ip6/2001:db8:0:3::1/tcp/40000")) {
		t.Fatal("third unfinished handshake of one IPv6 /56 admitted")
	}
	if !hs.accept(conn("/ip4/198.51.100.1/tcp/40000")) {
		t.Fatal("a fresh address refused under the total bound")
	}
	if hs.accept(conn("/ip4/198.51.100.2/tcp/40000")) {
		t.Fatal("a fresh address admitted past the total bound")
	}
	hs.secured(first)
	if !hs.accept(conn("/ip4/198.51.100.2/tcp/40000")) {
		t.Fatal("a finished handshake did not free its slot")
	}
	if refused, timedOut, pending := hs.counts(); refused != 3 || timedOut != 0 || pending != 6 {
		t.Fatalf("refused %d, timed out %d, pending %d; want 3, 0, 6", refused, timedOut, pending)
	}
}
