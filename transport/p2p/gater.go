package p2p

import (
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

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
		if h.members[id] || h.trusted[id] {
			h.host.ConnManager().Protect(id, protectTag)
		} else {
			h.host.ConnManager().Unprotect(id, protectTag)
		}
	}
	for id, r := range h.remotes {
		if allowed[id] {
			continue
		}
		delete(h.remotes, id)
		delete(h.byName, r.name)
		r.stop(&h.n)
		h.host.ConnManager().Unprotect(id, protectTag)
		h.log.Info("peer no longer allowed, disconnecting", "peer", r.name)
		h.disconnectLocked(id)
	}
	h.sortConnectedLocked()
	h.trustAddrsLocked()
}

// trustAddrsLocked keeps the known addresses of allowed peers out of the
// budgets strangers can fill: their TCP addresses are exempt from the
// handshake counts, and their IPs, tied to their ids, are on the resource
// manager's allowlist, whose own transient budget takes a peer's dials and
// handshakes when strangers have used up the common one. An address seen
// only from identify joins at the next change of the allowed sets.
func (h *Host) trustAddrsLocked() {
	known := map[netip.AddrPort]bool{}
	entries := map[string]ma.Multiaddr{}
	for id := range h.remotes {
		for _, a := range h.host.Peerstore().Addrs(id) {
			if ap, ok := tcpAddrPort(a); ok {
				known[ap] = true
			}
			ip, err := manet.ToIP(a)
			if err != nil || ip.IsUnspecified() {
				continue
			}
			ipPart, err := manet.FromIP(ip)
			if err != nil {
				continue
			}
			e, err := ma.NewMultiaddr(ipPart.String() + "/p2p/" + id.String())
			if err != nil {
				continue
			}
			entries[e.String()] = e
		}
	}
	h.handshakes.setKnown(known)
	if h.allowlist == nil {
		return
	}
	for k, e := range h.allowlisted {
		if _, ok := entries[k]; !ok {
			if err := h.allowlist.Remove(e); err != nil {
				h.log.Warn("allowlist entry not removed", "addr", e, "err", err)
			}
		}
	}
	for k, e := range entries {
		if _, ok := h.allowlisted[k]; !ok {
			if err := h.allowlist.Add(e); err != nil {
				h.log.Warn("allowlist entry not added", "addr", e, "err", err)
			}
		}
	}
	h.allowlisted = entries
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

// InterceptAccept bounds the inbound connections whose handshake has not
// finished; see handshakes.
func (g *gater) InterceptAccept(addrs network.ConnMultiaddrs) bool {
	return (*Host)(g).handshakes.accept(addrs)
}

func (g *gater) InterceptSecured(dir network.Direction, id peer.ID, addrs network.ConnMultiaddrs) bool {
	h := (*Host)(g)
	if dir == network.DirInbound {
		h.handshakes.secured(addrs)
	}
	if h.allowed(id) {
		return true
	}
	h.n.peersRefused.Add(1)
	h.log.Debug("refused connection of unknown peer", "peer", id, "direction", dir, "addr", addrs.RemoteMultiaddr())
	return false
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
