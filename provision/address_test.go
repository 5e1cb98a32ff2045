package provision_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"

	"dagger/provision"
)

// The test driver has no DHCP server: it makes an address up for every
// running domain, whatever the source asked (lease, agent or ARP). With
// libvirt 9.0 it is 192.168.122.3 plus 20 for each domain id after the
// first, counted as one 32-bit number (id 14 is 192.168.123.7), so a
// domain that restarts, and gets a new id, changes address as a guest
// whose lease expired would. A domain that is not running has none.
func TestGuestAddress_IsTheLeaseOfARunningDomain(t *testing.T) {
	conn := needLibvirtd(t)
	lv := newLibvirt(t, "dgt-addr-", nil)
	mustDo(t, "define", lv.Define(spec("a", 1, 1024, 10)))
	_, err := lv.GuestAddress("a")
	wantErr(t, "address of a defined VM", err, provision.ErrNoAddress)

	mustDo(t, "start", lv.Start("a"))
	first, err := lv.GuestAddress("a")
	mustDo(t, "address of a running VM", err)
	if want := leased(t, conn, "dgt-addr-a"); first != want {
		t.Fatalf("address %v, want %v, the lease libvirt reports", first, want)
	}
	if !netip.MustParsePrefix("192.168.0.0/16").Contains(first) {
		t.Fatalf("address %v: want the test driver's made-up 192.168.x.y", first)
	}
	again, err := lv.GuestAddress("a")
	if err != nil || again != first {
		t.Fatalf("asked again: %v, %v; want %v", again, err, first)
	}

	mustDo(t, "stop", lv.Stop("a"))
	_, err = lv.GuestAddress("a")
	wantErr(t, "address of a stopped VM", err, provision.ErrNoAddress)
	mustDo(t, "start again", lv.Start("a"))
	second, err := lv.GuestAddress("a")
	mustDo(t, "address after a restart", err)
	if want := leased(t, conn, "dgt-addr-a"); second != want || second == first {
		t.Fatalf("address after a restart %v, want %v (the new domain id's), not %v", second, want, first)
	}
}

// leased is what libvirt itself answers for the domain's leases.
func leased(t *testing.T, conn *golibvirt.Libvirt, name string) netip.Addr {
	t.Helper()
	d, err := conn.DomainLookupByName(name)
	mustDo(t, "lookup "+name, err)
	ifaces, err := conn.DomainInterfaceAddresses(d, uint32(golibvirt.DomainInterfaceAddressesSrcLease), 0)
	mustDo(t, "interface addresses of "+name, err)
	if len(ifaces) != 1 || len(ifaces[0].Addrs) != 1 {
		t.Fatalf("interfaces of %s: %+v, want one with one address", name, ifaces)
	}
	return netip.MustParseAddr(ifaces[0].Addrs[0].Addr)
}

func TestGuestAddress_Errors(t *testing.T) {
	needLibvirtd(t)
	lv := newLibvirt(t, "dgt-addrerr-", nil)
	_, err := lv.GuestAddress("x")
	wantErr(t, "address of an unknown VM", err, provision.ErrNotFound)
	_, err = lv.GuestAddress("../x")
	wantErr(t, "address of an id no domain can have", err, provision.ErrInvalid)
	if errors.Is(err, provision.ErrNoAddress) {
		t.Fatalf("%v: an invalid id is not a guest without an address", err)
	}
}

func TestGuestAddress_HostDown(t *testing.T) {
	lv, err := provision.NewLibvirt(provision.LibvirtConfig{
		URI: "test:///default", Socket: filepath.Join(t.TempDir(), "none"), Capacity: testHost,
	})
	mustDo(t, "new", err)
	_, err = lv.GuestAddress("a")
	wantErr(t, "address without a daemon", err, provision.ErrHostDown)
	mustDo(t, "close", lv.Close())
}
