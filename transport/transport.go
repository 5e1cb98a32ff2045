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

// BulkSender is a Transport that can queue a message behind the others
// waiting for the same peer. The ledger sends the answers that help a peer
// catch up (sync batches, of up to megabytes) this way, so they do not hold
// back the events and requests consensus needs now. A Transport without it
// sends everything in order.
type BulkSender interface {
	// SendBulk queues msg for one peer, behind the messages Send queued.
	SendBulk(to PeerID, msg []byte)
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
