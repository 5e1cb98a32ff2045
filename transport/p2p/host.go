package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"dagger/transport"
)

// ProtocolID names the wire format described in the package comment.
const ProtocolID protocol.ID = "/dagger/1.0.0"

// refusalReportInterval spaces the log lines counting refused connections,
// so a flood of strangers shows at info level without a line each.
const refusalReportInterval = 10 * time.Second

// protectTag marks members' and trusted peers' connections in libp2p's
// connection manager, which then never trims them.
const protectTag = "dagger-peer"

var _ transport.Transport = (*Host)(nil)

// Host is a libp2p host carrying a node's messages. Its methods are safe
// for concurrent use.
type Host struct {
	cfg     Config
	log     *slog.Logger
	deliver func(transport.PeerID, []byte)
	host    host.Host
	self    transport.PeerID
	sub     event.Subscription
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.RWMutex
	closed  bool
	members map[peer.ID]bool
	pending map[peer.ID]bool
	trusted map[peer.ID]bool
	// remotes holds every allowed peer: members, pending and trusted.
	remotes map[peer.ID]*remote
	byName  map[transport.PeerID]*remote
	// connected lists the connected remotes, sorted.
	connected []transport.PeerID
	// allowlisted are the resource manager's allowlist entries of allowed
	// peers' addresses, by string.
	allowlisted map[string]ma.Multiaddr
	// wg counts every goroutine the host started, so Close can wait.
	wg sync.WaitGroup

	handshakes *handshakes
	allowlist  *rcmgr.Allowlist
	n          counters
}

type counters struct {
	bytesIn, bytesOut, msgsIn, msgsOut, dropped, limited, invalid, peersRefused atomic.Uint64
}

// Stats are the host's counters since New.
type Stats struct {
	// BytesIn and BytesOut count frames, headers included, received and
	// written to a stream.
	BytesIn, BytesOut uint64
	// MessagesIn counts messages delivered; MessagesOut messages written to
	// a stream.
	MessagesIn, MessagesOut uint64
	// Dropped counts outgoing messages lost before reaching a stream: the
	// peer was unknown or not connected, its queue was full, or its stream
	// failed.
	Dropped uint64
	// Limited counts incoming messages from pending peers dropped by their
	// rate limit.
	Limited uint64
	// Invalid counts incoming frames that broke the wire format.
	Invalid uint64
	// HandshakesRefused counts inbound connections closed on arrival
	// because their source, or all sources together, had too many
	// unfinished handshakes (Config.MaxHandshakesPerIP, MaxHandshakes).
	HandshakesRefused uint64
	// HandshakesTimedOut counts inbound connections closed because their
	// handshake outlived Config.HandshakeTimeout.
	HandshakesTimedOut uint64
	// PeersRefused counts connections closed after the handshake because
	// the peer is not allowed.
	PeersRefused uint64
	// Peers is the number of connected allowed peers.
	Peers int
}

// PeerIDOf returns the peer id of the node whose consensus key is pub.
func PeerIDOf(pub ed25519.PublicKey) (transport.PeerID, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "", err
	}
	return transport.PeerID(id.String()), nil
}

// New starts a host listening on cfg.Listen. It allows only cfg.Trusted
// until SetAllowed and SetPending name more peers. deliver receives every
// incoming message; calls for one peer are sequential and in order, calls
// for different peers may be concurrent, and none happens after Close
// returns.
func New(cfg Config, deliver func(from transport.PeerID, msg []byte)) (*Host, error) {
	if deliver == nil {
		return nil, errors.New("nil deliver function")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	sk, err := crypto.UnmarshalEd25519PrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	boot, err := parseAddrs(cfg.Peers)
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	trusted, err := decodeIDs(cfg.Trusted)
	if err != nil {
		return nil, fmt.Errorf("trusted peers: %w", err)
	}
	rm, err := cfg.resourceManager()
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	h := &Host{
		cfg:     cfg,
		log:     cfg.Logger,
		deliver: deliver,
		members: map[peer.ID]bool{},
		pending: map[peer.ID]bool{},
		trusted: trusted,
		remotes: map[peer.ID]*remote{},
		byName:  map[transport.PeerID]*remote{},

		allowlisted: map[string]ma.Multiaddr{},
		handshakes:  newHandshakes(cfg.HandshakeTimeout, cfg.MaxHandshakesPerIP, cfg.MaxHandshakes),
		allowlist:   rcmgr.GetAllowlist(rm),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	lh, err := libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater((*gater)(h)),
		libp2p.WithDialTimeout(cfg.DialTimeout),
		libp2p.SwarmOpts(swarm.WithDialRanker(preferTCP)),
		// The node exports its own metrics; libp2p's would register on the
		// global Prometheus registry.
		libp2p.DisableMetrics(),
		// Operators reach each other directly; nobody relays for them.
		libp2p.DisableRelay(),
		libp2p.UserAgent("dagger"),
	)
	if err != nil {
		rm.Close()
		h.cancel()
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	h.host = lh
	h.self = transport.PeerID(lh.ID().String())
	// Connectedness events arrive in order on one goroutine; the buffer
	// absorbs a burst of peers (dis)connecting at once.
	h.sub, err = lh.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.BufSize(256))
	if err != nil {
		lh.Close()
		h.cancel()
		return nil, fmt.Errorf("connectedness events: %w", err)
	}
	for _, ai := range boot {
		lh.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	}
	lh.Network().Notify(&network.NotifyBundle{ConnectedF: h.checkConn})
	lh.SetStreamHandler(ProtocolID, h.handleStream)
	h.wg.Add(2)
	go h.watch()
	go h.reportRefusals()
	h.mu.Lock()
	h.updateLocked()
	h.mu.Unlock()
	h.log.Info("p2p host started", "id", h.self, "addrs", h.Addrs())
	return h, nil
}

// ID is the host's own peer id.
func (h *Host) ID() transport.PeerID { return h.self }

// Addrs returns the host's dialable multiaddrs, each ending in /p2p/<id>.
func (h *Host) Addrs() []string {
	info := peer.AddrInfo{ID: h.host.ID(), Addrs: h.host.Addrs()}
	mas, err := peer.AddrInfoToP2pAddrs(&info)
	if err != nil {
		return nil
	}
	out := make([]string, len(mas))
	for i, a := range mas {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

// Send queues msg for peer to, or drops it if that peer is not connected or
// its queue is full.
func (h *Host) Send(to transport.PeerID, msg []byte) {
	h.mu.RLock()
	r := h.byName[to]
	h.mu.RUnlock()
	h.enqueue(r, msg, false)
}

// SendBulk implements transport.BulkSender: msg waits in the peer's queue
// behind the messages Send queued, before and after it, and is written on
// its own.
func (h *Host) SendBulk(to transport.PeerID, msg []byte) {
	h.mu.RLock()
	r := h.byName[to]
	h.mu.RUnlock()
	h.enqueue(r, msg, true)
}

// Broadcast queues msg for every peer Peers lists.
func (h *Host) Broadcast(msg []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, id := range h.connected {
		h.enqueue(h.byName[id], msg, false)
	}
}

func (h *Host) enqueue(r *remote, msg []byte, bulk bool) {
	if len(msg) == 0 || len(msg) > h.cfg.MaxMessageBytes {
		h.log.Warn("message not sent: size out of bounds", "bytes", len(msg), "max_bytes", h.cfg.MaxMessageBytes)
		h.n.dropped.Add(1)
		return
	}
	if r == nil || !r.enqueue(msg, bulk, h.cfg.MaxQueueMessages, h.cfg.MaxQueueBytes) {
		h.n.dropped.Add(1)
	}
}

// Backlog implements transport.Backlogger: how long the oldest message not
// yet written to the k-th least backlogged connected peer has waited (the
// most backlogged one's when fewer than k are connected).
func (h *Host) Backlog(k int) time.Duration {
	now := time.Now()
	h.mu.RLock()
	waits := make([]time.Duration, 0, len(h.connected))
	for _, id := range h.connected {
		if r := h.byName[id]; r != nil {
			waits = append(waits, r.backlog(now))
		}
	}
	h.mu.RUnlock()
	if len(waits) == 0 || k < 1 {
		return 0
	}
	slices.Sort(waits)
	return waits[min(k, len(waits))-1]
}

// Peers lists the connected allowed peers, sorted: members, pending
// operators (which need the graph to catch up) and trusted peers.
func (h *Host) Peers() []transport.PeerID {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Clone(h.connected)
}

// Stats returns the host's counters.
func (h *Host) Stats() Stats {
	h.mu.RLock()
	peers := len(h.connected)
	h.mu.RUnlock()
	refused, timedOut, _ := h.handshakes.counts()
	return Stats{
		BytesIn:            h.n.bytesIn.Load(),
		BytesOut:           h.n.bytesOut.Load(),
		MessagesIn:         h.n.msgsIn.Load(),
		MessagesOut:        h.n.msgsOut.Load(),
		Dropped:            h.n.dropped.Load(),
		Limited:            h.n.limited.Load(),
		Invalid:            h.n.invalid.Load(),
		HandshakesRefused:  refused,
		HandshakesTimedOut: timedOut,
		PeersRefused:       h.n.peersRefused.Load(),
		Peers:              peers,
	}
}

// AddPeerAddr adds addresses of peer id, with or without its /p2p/ suffix.
// The host dials them while id is allowed.
func (h *Host) AddPeerAddr(id transport.PeerID, addrs []string) error {
	pid, err := peer.Decode(string(id))
	if err != nil {
		return fmt.Errorf("peer id %q: %w", id, err)
	}
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("address %q: %w", s, err)
		}
		transportAddr, p := peer.SplitAddr(a)
		if p != "" && p != pid {
			return fmt.Errorf("address %q names peer %s, not %s", s, p, id)
		}
		if transportAddr == nil {
			return fmt.Errorf("address %q has no transport part", s)
		}
		mas = append(mas, transportAddr)
	}
	h.host.Peerstore().AddAddrs(pid, mas, peerstore.PermanentAddrTTL)
	h.mu.Lock()
	if r := h.remotes[pid]; r != nil {
		h.trustAddrsLocked()
		r.kickDialer()
	}
	h.mu.Unlock()
	return nil
}

// Close disconnects from every peer and stops the host's goroutines.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, r := range h.remotes {
		r.stop(&h.n)
	}
	h.remotes, h.byName, h.connected = nil, nil, nil
	h.mu.Unlock()
	h.cancel()
	h.handshakes.close()
	h.host.RemoveStreamHandler(ProtocolID)
	h.sub.Close()
	// Closing the host resets every stream, which ends the readers and
	// unblocks writers stuck on a slow peer.
	err := h.host.Close()
	h.wg.Wait()
	h.log.Info("p2p host closed", "id", h.self)
	return err
}

// watch follows connectedness changes until the host closes.
func (h *Host) watch() {
	defer h.wg.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case e, ok := <-h.sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			up := ev.Connectedness == network.Connected
			h.mu.Lock()
			if r := h.remotes[ev.Peer]; r != nil && r.setConnected(up, &h.n) {
				h.sortConnectedLocked()
				h.log.Debug("peer connectedness", "peer", r.name, "connected", up)
			}
			h.mu.Unlock()
		}
	}
}

// checkConn closes a new connection of a peer that is not allowed: one
// that passed the gater just before its peer was removed and joined the
// swarm after the removal's disconnect. The swarm reports every
// connection here, unlike connectedness events, which skip a peer that
// loses one connection and gains another at once.
func (h *Host) checkConn(_ network.Network, c network.Conn) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || h.remotes[c.RemotePeer()] != nil {
		return
	}
	h.log.Debug("closing connection of a peer no longer allowed", "peer", c.RemotePeer())
	// Closing waits on the network, and the swarm calls this in line.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		c.Close()
	}()
}

// reportRefusals logs, once per refusalReportInterval at most, what the
// connections refused since the last line add up to.
func (h *Host) reportRefusals() {
	defer h.wg.Done()
	t := time.NewTicker(refusalReportInterval)
	defer t.Stop()
	var last Stats
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		st := h.Stats()
		if st.HandshakesRefused == last.HandshakesRefused && st.HandshakesTimedOut == last.HandshakesTimedOut && st.PeersRefused == last.PeersRefused {
			continue
		}
		_, _, pending := h.handshakes.counts()
		h.log.Info("connections refused before joining",
			"period", refusalReportInterval,
			"handshakes_refused", st.HandshakesRefused-last.HandshakesRefused,
			"handshakes_timed_out", st.HandshakesTimedOut-last.HandshakesTimedOut,
			"unknown_peers", st.PeersRefused-last.PeersRefused,
			"handshakes_pending", pending)
		last = st
	}
}

func (h *Host) sortConnectedLocked() {
	h.connected = h.connected[:0]
	for name, r := range h.byName {
		if r.isConnected() {
			h.connected = append(h.connected, name)
		}
	}
	slices.Sort(h.connected)
}

func parseAddrs(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, len(addrs))
	for i, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		if _, id := peer.SplitAddr(a); id == "" {
			return nil, fmt.Errorf("address %q lacks /p2p/<peer id>", s)
		}
		mas[i] = a
	}
	return peer.AddrInfosFromP2pAddrs(mas...)
}

func decodeIDs(ids []transport.PeerID) (map[peer.ID]bool, error) {
	out := make(map[peer.ID]bool, len(ids))
	for _, s := range ids {
		id, err := peer.Decode(string(s))
		if err != nil {
			return nil, fmt.Errorf("peer id %q: %w", s, err)
		}
		out[id] = true
	}
	return out, nil
}
