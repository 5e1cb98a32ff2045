// Package transport defines how a node reaches its peers: a Transport sends
// opaque messages to peers named by PeerID, and the runtime hands incoming
// messages to the node's Receive. The node encodes its messages itself
// (node/wire.go), so a transport only moves bytes: the simulator's moves
// them over a modelled network on virtual time, the live one over libp2p.
package transport
