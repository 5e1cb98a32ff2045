package provision

// How a libvirt host publishes its VMs' access: the guest's address from
// its DHCP lease, a port of the host forwarded to its SSH, and the host's
// advertised address.

import (
	"errors"
	"net/netip"
)

// PublishConfig says how a Libvirt host makes its running VMs reachable.
type PublishConfig struct {
	// Advertise is the address customers reach the host at: an IP address
	// or a DNS name, which the cluster publishes with each VM's port.
	Advertise string
	// Forwarder forwards a port of the host to each running guest's SSH.
	Forwarder *Forwarder
	// OnError, if not nil, hears why a List could not publish some VMs
	// (the port range is full, nftables failed), and nil once a List
	// publishes every VM again: the operator's log. It is called only
	// when that changes, never with the Libvirt's lock held.
	OnError func(error)
}

// publish fills in the Access of the running domains of doms, forwarding a
// port of the host to each one whose guest has an address, and removes the
// forwards of VMs that are gone or no longer run. A guest without an
// address yet is published on a later List; one whose address cannot be
// read now keeps the forward it has. It returns why some VMs could not be
// published (the port range is full, nftables failed), with those VMs
// listed without access.
func (l *Libvirt) publish(doms []Domain) error {
	p := l.cfg.Publish
	had, err := p.Forwarder.Published()
	if err != nil {
		return err
	}
	want := make(map[string]netip.Addr)
	for _, d := range doms {
		if d.State != StateRunning {
			continue
		}
		addr, err := l.GuestAddress(d.ID)
		switch {
		case err == nil:
			want[d.ID] = addr
		case errors.Is(err, ErrNoAddress):
		default:
			if f, ok := had[d.ID]; ok {
				want[d.ID] = f.Guest.Addr()
			}
		}
	}
	ports, err := p.Forwarder.Reconcile(want)
	for i := range doms {
		if port, ok := ports[doms[i].ID]; ok {
			doms[i].Access = Access{Host: p.Advertise, Port: port}
		}
	}
	return err
}
