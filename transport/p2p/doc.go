// Package p2p is the live transport.Transport: it carries a node's opaque
// messages between operators over libp2p, on TCP and QUIC.
//
// # Identity
//
// A node's libp2p identity is its ed25519 consensus key, so a peer id
// (12D3KooW…) names an operator's key and genesis files can list peers by
// key (PeerIDOf). The secure channel (Noise or TLS on TCP, TLS in QUIC)
// proves the key, so a message received from a peer id was sent by that
// operator's node.
//
// # Wire format
//
// Messages travel on one long-lived stream per direction and peer, under
// protocol ProtocolID. A stream is a sequence of frames:
//
//	frame: length u32 (big-endian) | length bytes of message, 1 ≤ length ≤ MaxMessageBytes
//
// A frame of length 0 or over the receiver's MaxMessageBytes is invalid: the
// receiver resets the stream and counts it in Stats.Invalid; the sender
// opens a new stream for its next message. The default limit leaves room
// for the largest ledger message, a batch holding one event of the graph's
// default maximum size.
//
// # Sending
//
// Send and Broadcast never block: each connected peer has a bounded
// outbound queue (MaxQueueMessages, MaxQueueBytes) drained by a writer
// goroutine. A message for a peer that is unknown, not connected, or whose
// queue is full is dropped and counted in Stats.Dropped; the protocol
// recovers lost messages by fetching and syncing, never by waiting.
// SendBulk (transport.BulkSender) queues a message behind every message Send
// queues for the peer, before or after it, and the writer writes such a
// message on its own: a sync answer of megabytes to a peer that is catching
// up then holds back neither the events it needs now nor, beyond the one
// being written, anything queued after it.
//
// # Receiving
//
// Frames of one peer are delivered in order and one at a time, from the
// transport's goroutines. Each frame's bytes are reserved with the libp2p
// resource manager before they are read, so the memory held by incoming
// frames is bounded by its fixed limits (MaxMemoryBytes and the per-peer
// and per-stream shares derived from MaxMessageBytes).
//
// # Gater policy
//
// Only three kinds of peers may hold a connection, in either direction:
// the committee (SetAllowed), operators awaiting approval (SetPending) and
// the configured Trusted peers. Anyone else is refused once the secure
// handshake has proven its id, before any stream is opened; a peer removed
// from every set is disconnected. Pending peers are rate-limited: their
// incoming messages pass a token bucket (Config.Pending) and what exceeds
// it is dropped and counted in Stats.Limited.
//
// Before the handshake nobody knows whose a connection is, so strangers'
// connections that never finish it are bounded instead: a few per source
// (MaxHandshakesPerIP), half the resource manager's budget for
// unattributed connections in all (MaxHandshakes), each for at most
// HandshakeTimeout. A connection from a known TCP address of an allowed
// peer is not counted, and those addresses are on the resource manager's
// allowlist, so a flood of strangers leaves members room to reconnect.
// Refusals and timeouts are counted in Stats and logged at info level, one
// line per ten seconds at most.
//
// # Connections
//
// The host keeps dialing every allowed peer it knows an address for
// (Config.Peers, AddPeerAddr, addresses learned by identify), with
// exponential backoff between RedialMin and RedialMax and random jitter,
// so a peer that restarts is reconnected to without help. A connection
// that drops within RedialMax counts as a failed dial, so a peer that
// refuses this node is not redialed in a tight loop.
package p2p
