package provision

import (
	"net/netip"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
)

func TestGuestAddressFromLeases_PicksTheFirstUsableIPv4(t *testing.T) {
	v4 := int32(golibvirt.IPAddrTypeIpv4)
	v6 := int32(golibvirt.IPAddrTypeIpv6)
	iface := func(addrs ...golibvirt.DomainIPAddr) golibvirt.DomainInterface {
		return golibvirt.DomainInterface{Name: "vnet0", Addrs: addrs}
	}
	for _, tc := range []struct {
		name   string
		ifaces []golibvirt.DomainInterface
		want   string // empty: none
	}{
		{"no interface", nil, ""},
		{"an interface without a lease", []golibvirt.DomainInterface{iface()}, ""},
		{"a lease", []golibvirt.DomainInterface{iface(golibvirt.DomainIPAddr{Type: v4, Addr: "192.168.122.7", Prefix: 24})}, "192.168.122.7"},
		{"IPv6 before IPv4", []golibvirt.DomainInterface{iface(
			golibvirt.DomainIPAddr{Type: v6, Addr: "fd00::7", Prefix: 64},
			golibvirt.DomainIPAddr{Type: v4, Addr: "192.168.122.7", Prefix: 24})}, "192.168.122.7"},
		{"only IPv6", []golibvirt.DomainInterface{iface(golibvirt.DomainIPAddr{Type: v6, Addr: "fd00::7", Prefix: 64})}, ""},
		{"an IPv6 address typed IPv4", []golibvirt.DomainInterface{iface(golibvirt.DomainIPAddr{Type: v4, Addr: "fd00::7"})}, ""},
		{"garbage, then an address", []golibvirt.DomainInterface{
			iface(golibvirt.DomainIPAddr{Type: v4, Addr: "not an address"}),
			iface(golibvirt.DomainIPAddr{Type: v4, Addr: "10.0.0.9"})}, "10.0.0.9"},
		{"loopback, unspecified, link-local, multicast, broadcast", []golibvirt.DomainInterface{iface(
			golibvirt.DomainIPAddr{Type: v4, Addr: "127.0.0.1"},
			golibvirt.DomainIPAddr{Type: v4, Addr: "0.0.0.0"},
			golibvirt.DomainIPAddr{Type: v4, Addr: "169.254.1.1"},
			golibvirt.DomainIPAddr{Type: v4, Addr: "224.0.0.1"},
			golibvirt.DomainIPAddr{Type: v4, Addr: "255.255.255.255"})}, ""},
		{"two interfaces", []golibvirt.DomainInterface{
			iface(golibvirt.DomainIPAddr{Type: v4, Addr: "192.168.122.7"}),
			iface(golibvirt.DomainIPAddr{Type: v4, Addr: "192.168.122.8"})}, "192.168.122.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := leasedIPv4(tc.ifaces)
			switch {
			case tc.want == "" && ok:
				t.Fatalf("got %v, want none", got)
			case tc.want != "" && (!ok || got != netip.MustParseAddr(tc.want)):
				t.Fatalf("got %v, %v; want %s", got, ok, tc.want)
			}
		})
	}
}
