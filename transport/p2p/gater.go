package p2p

import (
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"dagger/transport"
)

// SetAllowed replaces the committee: the peers allowed besides the pending
// and trusted ones. Peers no longer allowed are disconnected; new ones are
// dialed if an address is known. Invalid ids are logged and skipped.
func (h *Host) SetAllowed(members []transport.PeerID) {
	ids := h.decodeValid(members)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members = ids
	h.updateLocked()
}

// SetPending replaces the operators awaiting approval: allowed to connect,
// but what they send is rate-limited by Config.Pending unless they are also
// members or trusted.
func (h *Host) SetPending(pending []transport.PeerID) {
	ids := h.decodeValid(pending)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = ids
	h.updateLocked()
}

func (h *Host) decodeValid(names []transport.PeerID) map[peer.ID]bool {
	ids := make(map[peer.ID]bool, len(names))
	for _, s := range names {
		id, err := peer.Decode(string(s))
		if err != nil {
			h.log.Warn("invalid peer id ignored", "peer", s, "err", err)
			continue
		}
		ids[id] = true
	}
	return ids
}

// updateLocked brings the remotes in line with the allowed sets: it starts
// the goroutines of newly allowed peers, sets or lifts rate limits, and
// stops and disconnects peers no longer allowed.
func (h *Host) updateLocked() {
	if h.closed {
		return
	}
	self := h.host.ID()
	now := time.Now()
	allowed := make(map[peer.ID]bool, len(h.members)+len(h.pending)+len(h.trusted))
	for _, set := range []map[peer.ID]bool{h.members, h.pending, h.trusted} {
		for id := range set {
			if id != self {
				allowed[id] = true
			}
		}
	}
	for id := range allowed {
		r := h.remotes[id]
		if r == nil {
			r = newRemote(id, h.host.Network().Connectedness(id) == network.Connected)
			h.remotes[id] = r
			h.byName[r.name] = r
			h.wg.Add(2)
			go h.writeLoop(r)
			go h.dialLoop(r)
		}
		r.setLimit(h.pending[id] && !h.members[id] && !h.trusted[id], h.cfg.Pending, now)
	}
	for id, r := range h.remotes {
		if allowed[id] {
			continue
		}
		delete(h.remotes, id)
		delete(h.byName, r.name)
		r.stop(&h.n)
		h.log.Info("peer no longer allowed, disconnecting", "peer", r.name)
		h.disconnectLocked(id)
	}
	h.sortConnectedLocked()
}

// disconnectLocked closes the connections of a peer that is not allowed.
// Closing may wait on the network while the caller holds the lock or is
// the node's loop, so it runs on its own goroutine, which skips a peer
// allowed again meanwhile.
func (h *Host) disconnectLocked(id peer.ID) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if !h.allowed(id) {
			h.host.Network().ClosePeer(id)
		}
	}()
}

func (h *Host) allowed(id peer.ID) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.remotes[id] != nil
}

// gater refuses connections of peers that are not allowed. It checks once
// the secure handshake has authenticated the remote's id, and before
// dialing, so the host neither accepts nor makes such connections.
type gater Host

func (g *gater) InterceptPeerDial(id peer.ID) bool { return (*Host)(g).allowed(id) }

func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *gater) InterceptSecured(dir network.Direction, id peer.ID, addrs network.ConnMultiaddrs) bool {
	h := (*Host)(g)
	if h.allowed(id) {
		return true
	}
	h.log.Debug("refused connection of unknown peer", "peer", id, "direction", dir, "addr", addrs.RemoteMultiaddr())
	return false
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
