package provision

// How the host learns the address of a guest it runs, so that a port of the
// host can be forwarded to it (see Forwarder).

import (
	"errors"
	"fmt"
	"net/netip"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// ErrNoAddress says a guest has no IPv4 address yet: it is not running, or
// has not asked the network's DHCP server for one. It is a state to poll
// again, not a failure.
var ErrNoAddress = errors.New("provision: guest has no address yet")

// GuestAddress returns the IPv4 address that the libvirt network's DHCP
// server leased to the VM's interface. It returns ErrNoAddress while there
// is none (the domain is not running, or its guest has not finished
// booting), ErrNotFound for a VM this node does not own and ErrHostDown when
// the daemon cannot be reached.
//
// The lease is the only source asked. It is what the host itself handed
// out on the network DAGGER attaches the VM to, so the address is routable
// from the host. The guest agent would report every address of every
// interface inside the guest (its loopback, its own bridges) and needs an
// agent in the image; the ARP table lags and holds whatever address the
// guest chose to use. A guest with a static address on a NAT network is
// not one DAGGER defines.
func (l *Libvirt) GuestAddress(id string) (netip.Addr, error) {
	const op = "guest address"
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d, err := l.lookup(op, id)
	if err != nil {
		return netip.Addr{}, err
	}
	ifaces, err := c.DomainInterfaceAddresses(d, uint32(golibvirt.DomainInterfaceAddressesSrcLease), 0)
	switch {
	case hasCode(err, golibvirt.ErrOperationInvalid):
		return netip.Addr{}, fmt.Errorf("%s %s: %w: the domain is not running", op, id, ErrNoAddress)
	case golibvirt.IsNotFound(err):
		return netip.Addr{}, fmt.Errorf("%s %s: %w", op, id, ErrNotFound)
	case err != nil:
		return netip.Addr{}, l.fail(op, id, err)
	}
	addr, ok := leasedIPv4(ifaces)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%s %s: %w: no DHCP lease on network %q", op, id, ErrNoAddress, l.cfg.Network)
	}
	return addr, nil
}

// leasedIPv4 picks the first usable IPv4 address in libvirt's answer, in
// libvirt's order: the domain has one interface, and its lease one address.
// What does not parse, or could not be a guest's unicast address, is
// skipped rather than trusted.
func leasedIPv4(ifaces []golibvirt.DomainInterface) (netip.Addr, bool) {
	for _, iface := range ifaces {
		for _, a := range iface.Addrs {
			if golibvirt.IPAddrType(a.Type) != golibvirt.IPAddrTypeIpv4 {
				continue
			}
			addr, err := netip.ParseAddr(a.Addr)
			if err != nil || !addr.Is4() || !addr.IsGlobalUnicast() {
				continue
			}
			return addr, true
		}
	}
	return netip.Addr{}, false
}
