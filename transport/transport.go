package transport

import "time"

// PeerID names one network endpoint. The live transport uses libp2p peer
// ids; the simulator uses short names. A node never parses it.
type PeerID string

// Transport moves a node's messages. Its methods are called from the
// node's goroutine and never block: a message that cannot be sent (peer
// gone, queue full) is dropped, because the protocol recovers lost
// messages by fetching and retrying, never by waiting on the network.
// Implementations may keep msg after returning and may share it among
// recipients, so the caller must not modify it afterwards.
type Transport interface {
	// Send queues msg for one peer.
	Send(to PeerID, msg []byte)
	// Broadcast queues msg for every peer.
	Broadcast(msg []byte)
	// Peers lists the peers messages can be sent to now, in a stable order.
	Peers() []PeerID
}

// Backlogger is a Transport that knows how long its messages wait before
// they leave. The ledger sizes its events by it (flow control): a node
// whose links cannot carry its events in time makes smaller ones, rather
// than events that arrive after the others have moved on. A Transport
// without it is taken to be never congested.
type Backlogger interface {
	// Backlog returns how long a message queued now for the k-th least
	// backlogged peer (k from 1) would wait before it leaves, or for the
	// most backlogged when fewer than k peers are connected.
	Backlog(k int) time.Duration
}
