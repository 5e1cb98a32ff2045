package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"dagger/transport"
)

// Defaults of Config.
const (
	// DefaultMaxMessageBytes leaves room for the largest ledger message
	// (node.MaxMessageBytes: an event of graph.DefaultMaxEventBytes, 32 MiB,
	// plus 64 KiB of header) with a margin, so a node never refuses a
	// message its peer was allowed to build.
	DefaultMaxMessageBytes = 33 << 20
	// DefaultMaxQueueMessages and DefaultMaxQueueBytes bound one peer's
	// outbound queue: 64 MiB is about five seconds of a 50,000 tx/s
	// cluster's event traffic at 256 bytes a transaction, and fits one
	// message of the largest size with room to spare.
	DefaultMaxQueueMessages = 4096
	DefaultMaxQueueBytes    = 64 << 20
	// DefaultMaxMemoryBytes bounds all memory libp2p reserves through its
	// resource manager: muxer and QUIC windows and incoming frames.
	DefaultMaxMemoryBytes = 1 << 30
	// DefaultMaxConns bounds connections (and the file descriptors they
	// use); a committee of a hundred operators needs at most two each.
	DefaultMaxConns = 256
	// DefaultMaxStreams bounds streams of every protocol together.
	DefaultMaxStreams = 4096
	DefaultRedialMin  = 250 * time.Millisecond
	DefaultRedialMax  = 30 * time.Second
	// DefaultDialTimeout bounds one dial and one stream opening.
	DefaultDialTimeout = 10 * time.Second
	// DefaultFrameTimeout bounds how long writing or reading one frame may
	// take: a 33 MiB frame at 1 MiB/s still passes.
	DefaultFrameTimeout = 60 * time.Second
	// DefaultHandshakeTimeout bounds an inbound connection's secure
	// handshake: a few round trips, under a second across the world even on
	// a busy host. libp2p's own bound, 15 s, let a few dozen connections
	// that never spoke hold the handshake budget for good.
	DefaultHandshakeTimeout = 4 * time.Second
	// DefaultMaxHandshakesPerIP bounds the unfinished inbound handshakes of
	// one source: a peer needs one, a few restarting peers behind one
	// address a few more. Strangers' connections that never finish then
	// cost a source at most 2 a second (8 per 4 s).
	DefaultMaxHandshakesPerIP = 8
)

// DefaultPending is the rate a peer awaiting approval may send at: enough
// for sync and fetch requests and its own transactions, far below what it
// would take to slow the committee down.
var DefaultPending = RateLimit{
	MessagesPerSecond: 50,
	BurstMessages:     200,
	BytesPerSecond:    256 << 10,
	BurstBytes:        1 << 20,
}

// DefaultListen listens on every IPv4 interface on ports the system picks,
// over TCP and QUIC. A node that others dial from a genesis file sets fixed
// ports instead.
var DefaultListen = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

// Config configures a Host. Zero values mean the defaults above.
type Config struct {
	// Key is the node's consensus key and libp2p identity.
	Key ed25519.PrivateKey
	// Listen are the multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/9000
	// and /ip4/0.0.0.0/udp/9000/quic-v1.
	Listen []string
	// Peers are multiaddrs ending in /p2p/<id> to dial once their ids are
	// allowed. Listing a peer here does not allow it.
	Peers []string
	// Trusted peers are always allowed besides the committee and the
	// pending operators: the bootstrap peers a joining node talks to before
	// it knows the committee.
	Trusted []transport.PeerID

	MaxMessageBytes  int
	MaxQueueMessages int // per peer
	MaxQueueBytes    int // per peer
	// Pending limits what each peer awaiting approval may send.
	Pending RateLimit

	// Fixed limits of the libp2p resource manager.
	MaxMemoryBytes int64
	MaxConns       int
	MaxStreams     int

	// RedialMin and RedialMax bound the backoff between dials of an allowed
	// peer that is not connected.
	RedialMin    time.Duration
	RedialMax    time.Duration
	DialTimeout  time.Duration
	FrameTimeout time.Duration

	// HandshakeTimeout bounds how long an inbound connection may take to
	// finish its secure handshake; MaxHandshakesPerIP and MaxHandshakes
	// bound how many may be unfinished at once from one source (an IPv4
	// address, an IPv6 /56) and in all. Connections from a known TCP
	// address of an allowed peer are not counted. MaxHandshakes defaults to
	// MaxConns/8, half the resource manager's budget for connections not
	// yet attributed to a peer, so strangers leave the other half to the
	// host's dials and its peers' handshakes.
	HandshakeTimeout   time.Duration
	MaxHandshakesPerIP int
	MaxHandshakes      int

	// Logger receives connection and protocol events; nil discards them.
	Logger *slog.Logger
}

// withDefaults fills zero values and checks the result.
func (c Config) withDefaults() (Config, error) {
	if len(c.Key) != ed25519.PrivateKeySize {
		return c, fmt.Errorf("key of %d bytes, want an ed25519 private key of %d", len(c.Key), ed25519.PrivateKeySize)
	}
	if len(c.Listen) == 0 {
		c.Listen = DefaultListen
	}
	setDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&c.MaxQueueMessages, DefaultMaxQueueMessages)
	setDefault(&c.MaxQueueBytes, DefaultMaxQueueBytes)
	if c.Pending == (RateLimit{}) {
		c.Pending = DefaultPending
	}
	setDefault(&c.MaxMemoryBytes, DefaultMaxMemoryBytes)
	setDefault(&c.MaxConns, DefaultMaxConns)
	setDefault(&c.MaxStreams, DefaultMaxStreams)
	setDefault(&c.RedialMin, DefaultRedialMin)
	setDefault(&c.RedialMax, DefaultRedialMax)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.FrameTimeout, DefaultFrameTimeout)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.MaxHandshakesPerIP, DefaultMaxHandshakesPerIP)
	setDefault(&c.MaxHandshakes, max(c.MaxConns/8, 1))
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	var errs []error
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > 1<<31 {
		errs = append(errs, fmt.Errorf("MaxMessageBytes %d out of range 1..2 GiB", c.MaxMessageBytes))
	}
	if c.MaxQueueBytes < c.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("MaxQueueBytes %d is below MaxMessageBytes %d, so the largest message could never be sent: raise it", c.MaxQueueBytes, c.MaxMessageBytes))
	}
	// Every allowed peer may have a frame in flight, so the memory limit
	// must at least hold a few of the largest.
	if c.MaxMemoryBytes < 4*int64(c.MaxMessageBytes) {
		errs = append(errs, fmt.Errorf("MaxMemoryBytes %d holds fewer than 4 messages of MaxMessageBytes %d: raise it", c.MaxMemoryBytes, c.MaxMessageBytes))
	}
	p := c.Pending
	if p.MessagesPerSecond <= 0 || p.BytesPerSecond <= 0 || p.BurstMessages < 1 || p.BurstBytes < 1 {
		errs = append(errs, fmt.Errorf("pending rate limit %+v: every field must be positive", p))
	}
	if c.RedialMin > c.RedialMax {
		errs = append(errs, fmt.Errorf("RedialMin %v above RedialMax %v", c.RedialMin, c.RedialMax))
	}
	if c.MaxQueueMessages < 0 || c.MaxConns < 0 || c.MaxStreams < 0 || c.RedialMin < 0 || c.DialTimeout < 0 || c.FrameTimeout < 0 ||
		c.HandshakeTimeout < 0 || c.MaxHandshakesPerIP < 0 || c.MaxHandshakes < 0 {
		errs = append(errs, errors.New("negative limit or duration"))
	}
	return c, errors.Join(errs...)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// resourceManager builds libp2p's resource manager with fixed limits. The
// libp2p defaults, scaled to MaxMemoryBytes, cover its own protocols
// (identify, ping); the system, peer, connection and stream scopes and this
// protocol's scopes are set from the config.
func (c Config) resourceManager() (network.ResourceManager, error) {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(c.MaxMemoryBytes, c.MaxConns)

	msg := int64(c.MaxMessageBytes)
	// windowBytes is what one peer's muxer and QUIC flow-control windows
	// may grow to: a few streams of yamux's 16 MiB window.
	const windowBytes = 64 << 20
	system := rcmgr.ResourceLimits{
		Conns: rcmgr.LimitVal(c.MaxConns), ConnsInbound: rcmgr.LimitVal(c.MaxConns), ConnsOutbound: rcmgr.LimitVal(c.MaxConns),
		Streams: rcmgr.LimitVal(c.MaxStreams), StreamsInbound: rcmgr.LimitVal(c.MaxStreams), StreamsOutbound: rcmgr.LimitVal(c.MaxStreams),
		FD:     rcmgr.LimitVal(c.MaxConns),
		Memory: rcmgr.LimitVal64(c.MaxMemoryBytes),
	}
	// Transient covers connections and streams not yet attributed to a peer
	// or protocol: handshakes and protocol negotiation.
	transient := rcmgr.ResourceLimits{
		Conns: rcmgr.LimitVal(c.MaxConns / 4), ConnsInbound: rcmgr.LimitVal(c.MaxConns / 4), ConnsOutbound: rcmgr.LimitVal(c.MaxConns / 4),
		Streams: 256, StreamsInbound: 128, StreamsOutbound: 128,
		FD:     rcmgr.LimitVal(c.MaxConns / 4),
		Memory: 64 << 20,
	}
	// A peer may hold a TCP and a QUIC connection from each side's dial,
	// one frame in flight on its current stream and one on a stream being
	// replaced, and its muxer windows.
	perPeer := rcmgr.ResourceLimits{
		Conns: 8, ConnsInbound: 8, ConnsOutbound: 8,
		Streams: 256, StreamsInbound: 128, StreamsOutbound: 128,
		FD:     8,
		Memory: rcmgr.LimitVal64(2*msg + windowBytes),
	}
	partial := rcmgr.PartialLimitConfig{
		System:               system,
		Transient:            transient,
		AllowlistedSystem:    system,
		AllowlistedTransient: transient,
		PeerDefault:          perPeer,
		Conn:                 rcmgr.ResourceLimits{Conns: 1, ConnsInbound: 1, ConnsOutbound: 1, FD: 1, Memory: windowBytes},
		Stream:               rcmgr.ResourceLimits{Streams: 1, StreamsInbound: 1, StreamsOutbound: 1, Memory: rcmgr.LimitVal64(msg)},
		Protocol: map[protocol.ID]rcmgr.ResourceLimits{ProtocolID: {
			Streams: rcmgr.LimitVal(2 * c.MaxConns), StreamsInbound: rcmgr.LimitVal(c.MaxConns), StreamsOutbound: rcmgr.LimitVal(c.MaxConns),
			Memory: rcmgr.LimitVal64(c.MaxMemoryBytes),
		}},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{ProtocolID: {
			Streams: 8, StreamsInbound: 4, StreamsOutbound: 4,
			Memory: rcmgr.LimitVal64(2 * msg),
		}},
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(base)))
}
