// Package transport defines how nodes exchange events and fetch requests,
// and will hold the libp2p implementation used by the live node (the
// simulator provides its own). Nothing is implemented here yet.
package transport
