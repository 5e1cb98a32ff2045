package p2p

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// An inbound connection that has not finished its secure handshake holds a
// file descriptor and a share of the resource manager's transient budget,
// which the host's own dials and its peers' handshakes draw on too. Before
// the handshake nobody knows whose it is, so handshakes bounds what
// strangers can hold: few at a time from one address, fewer in all than the
// transient budget, and none for longer than the handshake timeout.
//
// A connection whose source is a known TCP address of an allowed peer is
// let through whatever the counts: libp2p dials from its listening port,
// so a member reconnecting from its configured address is recognised
// before it is authenticated. The kernel allows one live connection per
// address pair, so these are bounded by the number of known addresses.
// The handshake still proves the peer's key.
//
// QUIC finishes its handshake before libp2p sees the connection, so the
// gater's accept and secured hooks follow each other at once and the
// bounds only matter for TCP.

// ipv6PrefixBits groups IPv6 sources as libp2p's own per-subnet limits
// do: a host commonly holds a whole /64 or more.
const ipv6PrefixBits = 56

// handshakes tracks inbound connections from accept to the end of their
// secure handshake. Its methods are safe for concurrent use.
type handshakes struct {
	timeout  time.Duration
	maxPerIP int
	max      int

	mu sync.Mutex
	// pending holds the unfinished connections. Every libp2p transport
	// hands the gater a pointer, so connections compare by identity.
	pending map[network.ConnMultiaddrs]*handshake
	// perIP and counted count the pending connections not from a known
	// address, by source and in all.
	perIP   map[netip.Prefix]int
	counted int
	known   map[netip.AddrPort]bool
	closed  bool

	refused  uint64
	timedOut uint64
}

type handshake struct {
	source  netip.Prefix
	counted bool
	timer   *time.Timer
}

func newHandshakes(timeout time.Duration, maxPerIP, maxTotal int) *handshakes {
	return &handshakes{
		timeout:  timeout,
		maxPerIP: maxPerIP,
		max:      maxTotal,
		pending:  map[network.ConnMultiaddrs]*handshake{},
		perIP:    map[netip.Prefix]int{},
		known:    map[netip.AddrPort]bool{},
	}
}

// accept admits an inbound connection whose handshake has not begun, or
// refuses it (the caller closes it) when its source already has maxPerIP
// unfinished handshakes or the host has max.
func (hs *handshakes) accept(c network.ConnMultiaddrs) bool {
	ip, err := manet.ToIP(c.RemoteMultiaddr())
	if err != nil {
		// Not an IP transport: nothing reaches the host that way.
		return true
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return true
	}
	addr = addr.Unmap()
	source := sourceOf(addr)
	port, isTCP := tcpPort(c.RemoteMultiaddr())

	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return false
	}
	counted := !isTCP || !hs.known[netip.AddrPortFrom(addr, port)]
	if counted && (hs.perIP[source] >= hs.maxPerIP || hs.counted >= hs.max) {
		hs.refused++
		return false
	}
	e := &handshake{source: source, counted: counted}
	hs.pending[c] = e
	if counted {
		hs.perIP[source]++
		hs.counted++
	}
	e.timer = time.AfterFunc(hs.timeout, func() { hs.expire(c) })
	return true
}

// secured ends the pending state of a connection whose handshake finished,
// whether or not its peer is allowed.
func (hs *handshakes) secured(c network.ConnMultiaddrs) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if e := hs.pending[c]; e != nil {
		e.timer.Stop()
		hs.releaseLocked(c, e)
	}
}

// expire closes a connection whose handshake outlived the timeout. A
// connection whose handshake failed earlier is already closed and holds
// its slot until now: a source that sends garbage gets no faster retries
// than one that sends nothing.
func (hs *handshakes) expire(c network.ConnMultiaddrs) {
	hs.mu.Lock()
	e := hs.pending[c]
	if e != nil {
		hs.releaseLocked(c, e)
	}
	hs.mu.Unlock()
	if e == nil {
		return
	}
	closer, ok := c.(io.Closer)
	if !ok {
		return
	}
	// Closing fails if libp2p closed the connection first.
	if closer.Close() == nil {
		hs.mu.Lock()
		hs.timedOut++
		hs.mu.Unlock()
	}
}

func (hs *handshakes) releaseLocked(c network.ConnMultiaddrs, e *handshake) {
	delete(hs.pending, c)
	if !e.counted {
		return
	}
	hs.counted--
	if hs.perIP[e.source]--; hs.perIP[e.source] == 0 {
		delete(hs.perIP, e.source)
	}
}

// setKnown replaces the TCP addresses exempt from the counts.
func (hs *handshakes) setKnown(known map[netip.AddrPort]bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.known = known
}

// counts returns the refusals and timeouts so far, and the connections
// pending now.
func (hs *handshakes) counts() (refused, timedOut uint64, pending int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.refused, hs.timedOut, len(hs.pending)
}

// close stops the timers and refuses connections from now on; libp2p
// closes the pending connections with the host.
func (hs *handshakes) close() {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.closed = true
	for c, e := range hs.pending {
		e.timer.Stop()
		hs.releaseLocked(c, e)
	}
}

// sourceOf is the address range counted as one source.
func sourceOf(addr netip.Addr) netip.Prefix {
	bits := 32
	if addr.Is6() {
		bits = ipv6PrefixBits
	}
	p, _ := addr.Prefix(bits)
	return p
}

// tcpPort returns the TCP port of a, if a is a TCP address.
func tcpPort(a ma.Multiaddr) (uint16, bool) {
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return 0, false
	}
	tcp, ok := na.(*net.TCPAddr)
	if !ok || tcp.Port <= 0 || tcp.Port > 0xffff {
		return 0, false
	}
	return uint16(tcp.Port), true
}

// tcpAddrPort returns the IP and port of a if a is a dialable TCP address.
func tcpAddrPort(a ma.Multiaddr) (netip.AddrPort, bool) {
	port, ok := tcpPort(a)
	if !ok {
		return netip.AddrPort{}, false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return netip.AddrPort{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok || addr.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), port), true
}
