package p2p

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestPeersWithTCPAddressesAreDialedOverTCPOnly(t *testing.T) {
	addrs := []ma.Multiaddr{
		ma.StringCast("/ip4/10.0.0.1/udp/9000/quic-v1"),
		ma.StringCast("/ip4/10.0.0.1/tcp/9000"),
		ma.StringCast("/ip4/203.0.113.7/udp/9000/quic-v1"),
		ma.StringCast("/ip4/203.0.113.7/tcp/9000"),
	}
	ranked := preferTCP(addrs)
	if len(ranked) != 2 {
		t.Fatalf("ranked %v, want the two TCP addresses", ranked)
	}
	for _, d := range ranked {
		if !isTCP(d.Addr) {
			t.Errorf("ranked %v, want TCP addresses only", d.Addr)
		}
	}
	if ranked[0].Delay != 0 {
		t.Errorf("first dial after %v, want at once", ranked[0].Delay)
	}

	// A peer with QUIC addresses only is dialed over QUIC, at once.
	quicOnly := preferTCP([]ma.Multiaddr{addrs[0], addrs[2]})
	if len(quicOnly) != 2 || quicOnly[0].Delay != 0 || isTCP(quicOnly[0].Addr) {
		t.Errorf("QUIC-only peer ranked %v, want its QUIC addresses, the first at once", quicOnly)
	}
	if isTCP(ma.StringCast("/ip4/10.0.0.1/tcp/443/ws")) {
		t.Error("a websocket address counted as plain TCP")
	}
}

// TestHostsListeningOnBothConnectOverTCP: hosts that listen on TCP and QUIC
// and know both of each other's addresses end up with a TCP connection.
func TestHostsListeningOnBothConnectOverTCP(t *testing.T) {
	both := []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	a, b, _, addrsB := connectedPair(t, both)
	if len(addrsB) < 2 {
		t.Fatalf("b listens on %v, want TCP and QUIC", addrsB)
	}
	id, err := peer.Decode(string(b.ID()))
	if err != nil {
		t.Fatal(err)
	}
	conns := a.host.Network().ConnsToPeer(id)
	if len(conns) == 0 {
		t.Fatal("a has no connection to b")
	}
	for _, c := range conns {
		if !isTCP(c.RemoteMultiaddr()) {
			t.Errorf("a reached b over %v, want TCP", c.RemoteMultiaddr())
		}
	}
}
