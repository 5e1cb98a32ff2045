package transport

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
