package provision_test

import (
	"errors"
	"net/netip"
	"testing"

	"dagger/provision"
)

// A libvirt host that publishes: a running VM comes with the advertised
// address and a port forwarded to its guest's SSH (the test driver leases
// a made-up address to every running domain), and the forward goes when
// the VM stops running or is destroyed. The forwards live in a network
// namespace the test made.
func TestLibvirtPublishesRunningVMs(t *testing.T) {
	needLibvirtd(t)
	n := newTestNet(t)
	f := newForwarder(t, n, nil)
	var heard []error
	lv := newLibvirt(t, "dgt-pub-", func(c *provision.LibvirtConfig) {
		c.Publish = &provision.PublishConfig{Advertise: "203.0.113.9", Forwarder: f,
			OnError: func(err error) { heard = append(heard, err) }}
	})
	mustDo(t, "define a", lv.Define(spec("a", 1, 512, 10)))
	mustDo(t, "define b", lv.Define(spec("b", 1, 512, 10)))
	mustDo(t, "start a", lv.Start("a"))
	doms, err := lv.List()
	mustDo(t, "list", err)
	mustDo(t, "publish", lv.PublishErr())
	guestA, err := lv.GuestAddress("a")
	mustDo(t, "guest address of a", err)
	for _, d := range doms {
		switch d.ID {
		case "a":
			if d.Access != (provision.Access{Host: "203.0.113.9", Port: provision.DefaultPortMin}) {
				t.Fatalf("running VM's access %+v", d.Access)
			}
		case "b":
			if d.Access != (provision.Access{}) {
				t.Fatalf("a VM that is not running has access %+v", d.Access)
			}
		}
	}
	fw, err := f.Published()
	mustDo(t, "published", err)
	if len(fw) != 1 || fw["a"].Port != provision.DefaultPortMin || fw["a"].Guest != netip.AddrPortFrom(guestA, 22) {
		t.Fatalf("forwards %+v, want a's port %d to %s:22", fw, provision.DefaultPortMin, guestA)
	}
	// Listed again, a keeps its port; b, started, gets the next one.
	mustDo(t, "start b", lv.Start("b"))
	doms, err = lv.List()
	mustDo(t, "list", err)
	if doms[0].Access.Port != provision.DefaultPortMin || doms[1].Access.Port != provision.DefaultPortMin+1 {
		t.Fatalf("access after b started: %+v, %+v", doms[0].Access, doms[1].Access)
	}
	// Stopped, a loses its forward; destroyed, b loses its own.
	mustDo(t, "stop a", lv.Stop("a"))
	mustDo(t, "destroy b", lv.Destroy("b"))
	if _, err := lv.List(); err != nil {
		t.Fatal(err)
	}
	if fw, err := f.Published(); err != nil || len(fw) != 0 {
		t.Fatalf("forwards after a stopped and b went: %+v, %v", fw, err)
	}
	if len(heard) != 0 {
		t.Fatalf("publishing worked, yet OnError heard %v", heard)
	}
}

// A host whose port range is full says so once, and again once every VM
// is published.
func TestLibvirtSaysWhenItCannotPublish(t *testing.T) {
	needLibvirtd(t)
	n := newTestNet(t)
	f := newForwarder(t, n, func(c *provision.ForwarderConfig) { c.PortMin, c.PortMax = 22000, 22000 })
	var heard []error
	lv := newLibvirt(t, "dgt-full-", func(c *provision.LibvirtConfig) {
		c.Publish = &provision.PublishConfig{Advertise: "203.0.113.9", Forwarder: f,
			OnError: func(err error) { heard = append(heard, err) }}
	})
	for _, id := range []string{"a", "b"} {
		mustDo(t, "define "+id, lv.Define(spec(id, 1, 512, 10)))
		mustDo(t, "start "+id, lv.Start(id))
	}
	for range 2 {
		if _, err := lv.List(); err != nil {
			t.Fatal(err)
		}
	}
	if len(heard) != 1 || !errors.Is(heard[0], provision.ErrPortsExhausted) || !errors.Is(lv.PublishErr(), provision.ErrPortsExhausted) {
		t.Fatalf("with one port for two VMs, OnError heard %v", heard)
	}
	mustDo(t, "destroy b", lv.Destroy("b"))
	if _, err := lv.List(); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 2 || heard[1] != nil {
		t.Fatalf("once every VM is published, OnError heard %v", heard)
	}
}
