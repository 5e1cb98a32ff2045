package provision_test

// Tests of Forwarder against the kernel's nftables. Each builds its own
// network namespaces, which stand for an operator's host, a guest behind
// it and a customer outside, and touches nothing outside them: the
// namespaces are linked only to each other, so their addresses clash with
// no one's.

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"dagger/provision"
)

// The test network. The host's link to the guest is a /29 so that the
// guest can hold two addresses, as a guest whose lease changed.
var (
	hostToGuest  = netip.MustParseAddr("10.77.0.1")
	guestAddr    = netip.MustParseAddr("10.77.0.2")
	guestAddr2   = netip.MustParseAddr("10.77.0.3")
	hostToClient = netip.MustParseAddr("10.77.0.9")
	clientAddr   = netip.MustParseAddr("10.77.0.10")
	dialTimeout  = 3 * time.Second
)

// forwardTestNS is where ip netns add puts a namespace.
const forwardTestNS = "/run/netns/"

// needNetns skips the test unless it can build namespaces, or fails it if
// DAGGER_E2E_NETNS=1 says the machine must be able to.
func needNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "ip")
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("network namespaces need %s", strings.Join(missing, ", "))
	if os.Getenv("DAGGER_E2E_NETNS") == "1" {
		t.Fatalf("%s, and DAGGER_E2E_NETNS=1 requires them", msg)
	}
	t.Skipf("%s (set DAGGER_E2E_NETNS=1 to make this a failure)", msg)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testNet is a host namespace linked to a guest namespace and to a client
// namespace.
type testNet struct {
	host, guest, client string
}

// newTestNet builds the namespaces; t.Cleanup deletes them, and with them
// their links and nftables, and then checks that the test's own namespace
// kept its tables and links.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	needNetns(t)
	tables, links := rootState(t)
	// The pid keeps concurrent runs apart, the random part a run from one
	// that was killed before its cleanup and had the same pid.
	id := fmt.Sprintf("%x%04x", os.Getpid(), rand.N(1<<16))
	n := &testNet{host: "dgfh-" + id, guest: "dgfg-" + id, client: "dgfc-" + id}
	var made []string
	t.Cleanup(func() {
		for _, ns := range made {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		}
		if tables2, links2 := rootState(t); !slices.Equal(tables, tables2) || !slices.Equal(links, links2) {
			t.Errorf("the test's own namespace changed: tables %v then %v, links %v then %v", tables, tables2, links, links2)
		}
	})
	for _, ns := range []string{n.host, n.guest, n.client} {
		run(t, "ip", "netns", "add", ns)
		made = append(made, ns)
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// Both ends of each link are made inside the namespaces.
	run(t, "ip", "-n", n.host, "link", "add", "tog", "type", "veth", "peer", "name", "eth0", "netns", n.guest)
	run(t, "ip", "-n", n.host, "link", "add", "toc", "type", "veth", "peer", "name", "eth0", "netns", n.client)
	run(t, "ip", "-n", n.host, "addr", "add", hostToGuest.String()+"/29", "dev", "tog")
	run(t, "ip", "-n", n.host, "addr", "add", hostToClient.String()+"/30", "dev", "toc")
	run(t, "ip", "-n", n.guest, "addr", "add", guestAddr.String()+"/29", "dev", "eth0")
	run(t, "ip", "-n", n.guest, "addr", "add", guestAddr2.String()+"/29", "dev", "eth0")
	run(t, "ip", "-n", n.client, "addr", "add", clientAddr.String()+"/30", "dev", "eth0")
	for _, l := range [][2]string{{n.host, "tog"}, {n.host, "toc"}, {n.guest, "eth0"}, {n.client, "eth0"}} {
		run(t, "ip", "-n", l[0], "link", "set", l[1], "up")
	}
	// The guest answers the client through the host, as a NAT guest
	// answers a customer through its gateway.
	run(t, "ip", "-n", n.guest, "route", "add", "default", "via", hostToGuest.String())
	run(t, "ip", "netns", "exec", n.host, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	return n
}

// rootState lists the tables and links of the test's own namespace.
func rootState(t *testing.T) (tables, links []string) {
	t.Helper()
	c, err := nftables.New()
	mustDo(t, "nftables", err)
	ts, err := c.ListTables()
	mustDo(t, "list tables", err)
	for _, tb := range ts {
		tables = append(tables, fmt.Sprintf("%d %s", tb.Family, tb.Name))
	}
	ifs, err := net.Interfaces()
	mustDo(t, "list links", err)
	for _, i := range ifs {
		links = append(links, i.Name)
	}
	slices.Sort(tables)
	slices.Sort(links)
	return tables, links
}

// inNetns runs fn on an OS thread moved into the namespace ns; sockets fn
// opens stay in it. A thread that cannot be moved back is never unlocked,
// so the runtime ends it rather than reuse it.
func inNetns(ns string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(forwardTestNS + ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter %s: %w", ns, err)
			return
		}
		err = fn()
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			done <- errors.Join(err, fmt.Errorf("leave %s: %w", ns, rerr))
			return
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// serveGuest listens on the guest's port 22 and answers each connection
// with the addresses it saw and the line it read: "to LOCAL from REMOTE:
// LINE".
func serveGuest(t *testing.T, n *testNet) {
	t.Helper()
	var ln net.Listener
	mustDo(t, "listen in the guest", inNetns(n.guest, func() (err error) {
		ln, err = net.Listen("tcp4", ":22")
		return err
	}))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(dialTimeout))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "to %s from %s: %s", c.LocalAddr(), c.RemoteAddr().(*net.TCPAddr).IP, line)
			}()
		}
	}()
}

// ask connects from the namespace ns to addr, sends a line and returns the
// answer.
func ask(ns string, addr netip.AddrPort) (string, error) {
	var c net.Conn
	if err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr.String(), dialTimeout)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := fmt.Fprintf(c, "hello\n"); err != nil {
		return "", err
	}
	answer, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(answer, "\n"), err
}

func wantAnswer(t *testing.T, ns string, addr netip.AddrPort, want string) {
	t.Helper()
	got, err := ask(ns, addr)
	if err != nil || got != want {
		t.Fatalf("from %s to %v: %q, %v; want %q", ns, addr, got, err, want)
	}
}

func wantRefused(t *testing.T, ns string, addr netip.AddrPort) {
	t.Helper()
	if got, err := ask(ns, addr); !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("from %s to %v: %q, %v; want the connection refused", ns, addr, got, err)
	}
}

func newForwarder(t *testing.T, n *testNet, mod func(*provision.ForwarderConfig)) *provision.Forwarder {
	t.Helper()
	cfg := provision.ForwarderConfig{NetNS: forwardTestNS + n.host}
	if mod != nil {
		mod(&cfg)
	}
	f, err := provision.NewForwarder(cfg)
	mustDo(t, "new forwarder", err)
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func guest(a netip.Addr) string { return netip.AddrPortFrom(a, 22).String() }

// A published port leads to the guest's SSH port, both for a customer
// outside the host and for the host itself, and follows the guest to a
// new address without changing.
func TestForward_ReachesTheGuest(t *testing.T) {
	n := newTestNet(t)
	serveGuest(t, n)
	f := newForwarder(t, n, nil)

	port, err := f.Publish("a", guestAddr)
	mustDo(t, "publish a", err)
	if port != provision.DefaultPortMin {
		t.Fatalf("port %d, want the lowest of the range, %d", port, provision.DefaultPortMin)
	}
	fromClient := netip.AddrPortFrom(hostToClient, port)
	fromHost := netip.AddrPortFrom(hostToGuest, port)
	wantAnswer(t, n.client, fromClient, fmt.Sprintf("to %s from %s: hello", guest(guestAddr), clientAddr))
	wantAnswer(t, n.host, fromHost, fmt.Sprintf("to %s from %s: hello", guest(guestAddr), hostToGuest))
	// The host's other address leads there too.
	wantAnswer(t, n.host, netip.AddrPortFrom(hostToClient, port), fmt.Sprintf("to %s from %s: hello", guest(guestAddr), hostToClient))
	// Loopback is not forwarded: refused at once rather than left to hang.
	wantRefused(t, n.host, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))

	again, err := f.Publish("a", guestAddr)
	if err != nil || again != port {
		t.Fatalf("publish a again: %d, %v; want %d", again, err, port)
	}
	moved, err := f.Publish("a", guestAddr2)
	if err != nil || moved != port {
		t.Fatalf("publish a at a new address: %d, %v; want the same port %d", moved, err, port)
	}
	wantAnswer(t, n.client, fromClient, fmt.Sprintf("to %s from %s: hello", guest(guestAddr2), clientAddr))

	portB, err := f.Publish("b", guestAddr)
	mustDo(t, "publish b", err)
	if portB != port+1 {
		t.Fatalf("port of b %d, want %d", portB, port+1)
	}
	wantAnswer(t, n.client, netip.AddrPortFrom(hostToClient, portB), fmt.Sprintf("to %s from %s: hello", guest(guestAddr), clientAddr))

	mustDo(t, "unpublish a", f.Unpublish("a"))
	wantRefused(t, n.client, fromClient)
	wantRefused(t, n.host, fromHost)
	mustDo(t, "unpublish a again", f.Unpublish("a"))
	got, err := f.Published()
	mustDo(t, "published", err)
	want := map[string]provision.Forward{"b": {ID: "b", Port: portB, Guest: netip.AddrPortFrom(guestAddr, 22)}}
	if !mapsEqual(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// publishHandles lists the handles of the rules of DAGGER's publish chain,
// to tell a rule kept from one rewritten.
func publishHandles(t *testing.T, n *testNet) []uint64 {
	t.Helper()
	ns, err := os.Open(forwardTestNS + n.host)
	mustDo(t, "open the host namespace", err)
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	mustDo(t, "nftables", err)
	table := &nftables.Table{Name: provision.DefaultForwardTable, Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(table, &nftables.Chain{Name: "publish", Table: table})
	mustDo(t, "rules", err)
	var out []uint64
	for _, r := range rules {
		out = append(out, r.Handle)
	}
	return out
}

// wantPorts fails the test unless got is want, naming the first few VMs
// that differ.
func wantPorts(t *testing.T, what string, got map[string]uint16, err error, want map[string]uint16) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var diff []string
	for id := range mapsKeys(got, want) {
		if g, w := got[id], want[id]; g != w {
			diff = append(diff, fmt.Sprintf("%s: port %d, want %d", id, g, w))
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Fatalf("%s: %d VMs differ: %s", what, len(diff), strings.Join(diff[:min(len(diff), 5)], "; "))
	}
}

func mapsKeys(a, b map[string]uint16) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// A node that restarts builds a new Forwarder on the same table: it adopts
// the forwards as they are, removes those of VMs it no longer runs, moves
// those whose guest changed, and hands out the freed ports lowest first.
func TestForward_ReconcileAdoptsReplacesAndRemoves(t *testing.T) {
	n := newTestNet(t)
	serveGuest(t, n)
	small := func(c *provision.ForwarderConfig) { c.PortMin, c.PortMax = 22000, 22002 }
	before := newForwarder(t, n, small)
	ports, err := before.Reconcile(map[string]netip.Addr{"b": guestAddr2, "a": guestAddr})
	wantPorts(t, "reconcile", ports, err, map[string]uint16{"a": 22000, "b": 22001})
	handles := publishHandles(t, n)

	after := newForwarder(t, n, small)
	got, err := after.Published()
	mustDo(t, "published after a restart", err)
	want := map[string]provision.Forward{
		"a": {ID: "a", Port: 22000, Guest: netip.AddrPortFrom(guestAddr, 22)},
		"b": {ID: "b", Port: 22001, Guest: netip.AddrPortFrom(guestAddr2, 22)},
	}
	if !mapsEqual(got, want) {
		t.Fatalf("published after a restart %v, want %v", got, want)
	}
	ports, err = after.Reconcile(map[string]netip.Addr{"a": guestAddr, "b": guestAddr2})
	wantPorts(t, "reconcile after a restart", ports, err, map[string]uint16{"a": 22000, "b": 22001})
	if h := publishHandles(t, n); !slices.Equal(h, handles) {
		t.Fatalf("rules %v after adoption, want %v kept as they were", h, handles)
	}

	// a is gone, b moved to the other address, c is new and takes a's
	// port, the lowest free.
	ports, err = after.Reconcile(map[string]netip.Addr{"b": guestAddr, "c": guestAddr2})
	wantPorts(t, "reconcile with a change", ports, err, map[string]uint16{"b": 22001, "c": 22000})
	wantAnswer(t, n.client, netip.AddrPortFrom(hostToClient, 22001), fmt.Sprintf("to %s from %s: hello", guest(guestAddr), clientAddr))
	wantAnswer(t, n.client, netip.AddrPortFrom(hostToClient, 22000), fmt.Sprintf("to %s from %s: hello", guest(guestAddr2), clientAddr))
	wantRefused(t, n.client, netip.AddrPortFrom(hostToClient, 22002))

	// Three ports, four VMs: the one last in order of id is left out.
	ports, err = after.Reconcile(map[string]netip.Addr{"b": guestAddr, "c": guestAddr2, "d": guestAddr, "e": guestAddr})
	if !errors.Is(err, provision.ErrPortsExhausted) || !strings.Contains(err.Error(), "(e)") {
		t.Fatalf("reconcile beyond the range: %v; want %v naming e", err, provision.ErrPortsExhausted)
	}
	wantPorts(t, "ports when the range is full", ports, nil, map[string]uint16{"b": 22001, "c": 22000, "d": 22002})
	_, err = after.Publish("e", guestAddr)
	wantErr(t, "publish when the range is full", err, provision.ErrPortsExhausted)

	ports, err = after.Reconcile(nil)
	wantPorts(t, "reconcile to nothing", ports, err, map[string]uint16{})
	if h := publishHandles(t, n); len(h) != 0 {
		t.Fatalf("rules %v left after reconciling to nothing", h)
	}
	wantRefused(t, n.client, netip.AddrPortFrom(hostToClient, 22000))
}

// Rules in DAGGER's publish chain without its label are someone else's:
// a Reconcile to nothing leaves them.
func TestForward_LeavesUnlabelledRules(t *testing.T) {
	n := newTestNet(t)
	f := newForwarder(t, n, nil)
	_, err := f.Publish("a", guestAddr)
	mustDo(t, "publish", err)
	ns, err := os.Open(forwardTestNS + n.host)
	mustDo(t, "open the host namespace", err)
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	mustDo(t, "nftables", err)
	table := &nftables.Table{Name: provision.DefaultForwardTable, Family: nftables.TableFamilyIPv4}
	publish := &nftables.Chain{Name: "publish", Table: table}
	c.AddRule(&nftables.Rule{Table: table, Chain: publish})
	c.AddRule(&nftables.Rule{Table: table, Chain: publish, UserData: []byte{0, 9, 'o', 'p', 'e', 'r', 'a', 't', 'o', 'r', 0}})
	mustDo(t, "add foreign rules", c.Flush())

	ports, err := f.Reconcile(nil)
	wantPorts(t, "reconcile", ports, err, map[string]uint16{})
	if h := publishHandles(t, n); len(h) != 2 {
		t.Fatalf("%d rules left, want the 2 foreign ones", len(h))
	}
	got, err := f.Published()
	if err != nil || len(got) != 0 {
		t.Fatalf("published %v, %v; want none", got, err)
	}
}

// Publish from many goroutines hands out distinct ports.
func TestForward_ConcurrentPublish(t *testing.T) {
	n := newTestNet(t)
	f := newForwarder(t, n, nil)
	const vms = 16
	var wg sync.WaitGroup
	ports := make([]uint16, vms)
	errs := make([]error, vms)
	for i := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ports[i], errs[i] = f.Publish(fmt.Sprintf("vm%d", i), guestAddr)
		}()
	}
	wg.Wait()
	mustDo(t, "publish", errors.Join(errs...))
	slices.Sort(ports)
	for i, p := range ports {
		if p != provision.DefaultPortMin+uint16(i) {
			t.Fatalf("ports %v, want %d to %d", ports, provision.DefaultPortMin, provision.DefaultPortMin+vms-1)
		}
	}
	got, err := f.Published()
	if err != nil || len(got) != vms {
		t.Fatalf("published %d, %v; want %d", len(got), err, vms)
	}
}

// A full default range goes through several netlink batches.
func TestForward_ReconcileAWholeRange(t *testing.T) {
	n := newTestNet(t)
	f := newForwarder(t, n, nil)
	want := map[string]netip.Addr{}
	wantPort := map[string]uint16{}
	for i := range provision.DefaultPortMax - provision.DefaultPortMin + 1 {
		id := fmt.Sprintf("vm%04d", i)
		want[id] = guestAddr
		wantPort[id] = provision.DefaultPortMin + uint16(i)
	}
	ports, err := f.Reconcile(want)
	wantPorts(t, "reconcile", ports, err, wantPort)
	for id := range want {
		want[id] = guestAddr2
	}
	ports, err = f.Reconcile(want)
	wantPorts(t, "reconcile every guest moved", ports, err, wantPort)
	got, err := f.Published()
	mustDo(t, "published", err)
	for id, fw := range got {
		if fw.Guest.Addr() != guestAddr2 || fw.Port != wantPort[id] {
			t.Fatalf("%s: %+v", id, fw)
		}
	}
	ports, err = f.Reconcile(nil)
	wantPorts(t, "reconcile to nothing", ports, err, map[string]uint16{})
}

// Published on a namespace where DAGGER never wrote reads no forward and
// creates nothing.
func TestForward_PublishedOnAFreshHost(t *testing.T) {
	n := newTestNet(t)
	f := newForwarder(t, n, nil)
	got, err := f.Published()
	if err != nil || len(got) != 0 {
		t.Fatalf("published %v, %v; want none", got, err)
	}
	mustDo(t, "unpublish on a fresh host", f.Unpublish("a"))
	ns, err := os.Open(forwardTestNS + n.host)
	mustDo(t, "open the host namespace", err)
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	mustDo(t, "nftables", err)
	if ts, err := c.ListTables(); err != nil || len(ts) != 0 {
		t.Fatalf("tables %v, %v; want none", ts, err)
	}
}

func TestForward_RefusesBadInput(t *testing.T) {
	f, err := provision.NewForwarder(provision.ForwarderConfig{})
	mustDo(t, "new", err)
	t.Cleanup(func() { _ = f.Close() })
	// Refused before any rule is read, so these need no root.
	_, err = f.Publish("../a", guestAddr)
	wantErr(t, "publish an invalid id", err, provision.ErrInvalid)
	for _, a := range []string{"::1", "fd00::1", "0.0.0.0", "127.0.0.1", "224.0.0.1"} {
		_, err = f.Publish("a", netip.MustParseAddr(a))
		wantErr(t, "publish to "+a, err, provision.ErrInvalid)
	}
	_, err = f.Publish("a", netip.Addr{})
	wantErr(t, "publish to no address", err, provision.ErrInvalid)
	_, err = f.Reconcile(map[string]netip.Addr{"a b": guestAddr})
	wantErr(t, "reconcile an invalid id", err, provision.ErrInvalid)
	wantErr(t, "unpublish an invalid id", f.Unpublish(""), provision.ErrInvalid)
	many := map[string]netip.Addr{}
	for i := range provision.MaxDomains + 1 {
		many[fmt.Sprint(i)] = guestAddr
	}
	_, err = f.Reconcile(many)
	wantErr(t, "reconcile more VMs than a host holds", err, provision.ErrInvalid)
}

func TestNewForwarder_Validates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  provision.ForwarderConfig
		ok   bool
	}{
		{"defaults", provision.ForwarderConfig{}, true},
		{"one port", provision.ForwarderConfig{PortMin: 2222, PortMax: 2222}, true},
		{"a range upside down", provision.ForwarderConfig{PortMin: 3000, PortMax: 2000}, false},
		{"a range from port 0", provision.ForwarderConfig{PortMin: 0, PortMax: 2000}, false},
		{"a table name with a space", provision.ForwarderConfig{Table: "my table"}, false},
		{"a missing namespace", provision.ForwarderConfig{NetNS: "/nonexistent/netns"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := provision.NewForwarder(tc.cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("NewForwarder: %v; want ok %v", err, tc.ok)
			}
			if f != nil {
				mustDo(t, "close", f.Close())
			}
		})
	}
}
