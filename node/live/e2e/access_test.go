package e2e

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"dagger/node/live/api"
)

// TestCustomerReachesTheirVM is a customer's path from a wallet to a shell
// on a devnet whose hosts are libvirtd's test driver: vm create with an SSH
// key; vm get prints the state, the lease left and an ssh line; the
// domain's seed CD-ROM holds the key; the host's forward reaches the guest
// (a network namespace the test made plays it, at the address the test
// driver leased); vm events tells the story; and when the host node is
// killed, the VM moves and the story says why.
//
// The nodes write their forwarding rules into a namespace the test made
// ("host"), which holds the address they publish and a link to the
// guest's namespace: nothing changes in the machine's own network.
func TestCustomerReachesTheirVM(t *testing.T) {
	if os.Getenv("DAGGER_LIBVIRT_TEST") != "1" {
		t.Skip("set DAGGER_LIBVIRT_TEST=1 with libvirtd running (.ci/libvirtd.sh starts it)")
	}
	needNetns(t)
	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(libvirtSocket), dialers.WithLocalTimeout(5*time.Second)))
	if err := lv.ConnectToURI("test:///default"); err != nil {
		t.Fatalf("libvirtd: %v (DAGGER_LIBVIRT_TEST=1 needs it running)", err)
	}
	defer lv.Disconnect()

	id := fmt.Sprintf("%x%04x", os.Getpid(), rand.N(1<<16))
	hostNS, guestNS := "dgah-"+id, "dgag-"+id
	for _, ns := range []string{hostNS, guestNS} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	const published = "10.233.0.1"
	mustRun(t, "ip", "-n", hostNS, "addr", "add", published+"/32", "dev", "lo")
	mustRun(t, "ip", "-n", hostNS, "link", "add", "tog", "type", "veth", "peer", "name", "eth0", "netns", guestNS)
	mustRun(t, "ip", "-n", hostNS, "link", "set", "tog", "up")
	mustRun(t, "ip", "-n", guestNS, "link", "set", "eth0", "up")

	dir := t.TempDir()
	dn, pids, clients := startDevnet(t, dir, 4, "--provision", "libvirt", "--publish", published,
		"--forward-netns", "/run/netns/"+hostNS)
	pubKey, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " customer@laptop"
	keyPath := filepath.Join(dir, "id_ed25519.pub")
	if err := os.WriteFile(keyPath, []byte(authorized+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := daggerStdout(t, "vm", "create", "--node", clients[1].base, "--key", filepath.Join(dir, "wallet.key"), "--ssh-key", keyPath,
		"--vcpu", "1", "--memory-mib", "512", "--disk-gib", "1", "--image", "debian-12", "--lease", "2h", "--wait", "--timeout", "30s", "--json")
	var res struct {
		VM     string       `json:"vm"`
		Status api.TxStatus `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status.State != "committed" {
		t.Fatalf("vm create: %v\n%s", err, out)
	}

	// Running, with access: the published address and a port of its host.
	var v api.VM
	waitFor(t, 60*time.Second, "VM running with access", func() (bool, string) {
		err := clients[0].get("/v1/vms/"+res.VM, &v)
		return err == nil && v.State == "running" && v.Access != nil, fmt.Sprintf("%+v %v", v, err)
	})
	host := nodeOf(t, clients, v.Host)
	lo := 22000 + 100*host
	if v.Access.Host != published || int(v.Access.Port) < lo || int(v.Access.Port) >= lo+100 || v.Access.User != "dagger" {
		t.Fatalf("access %+v: want %s and a port of node %d's range %d-%d", v.Access, published, host, lo, lo+99)
	}
	sshLine := fmt.Sprintf("ssh -p %d dagger@%s", v.Access.Port, published)
	got := daggerStdout(t, "vm", "get", "--node", clients[2].base, res.VM)
	for _, want := range []string{"state      running", "(ends in 1h", "access     " + sshLine} {
		if !strings.Contains(got, want) {
			t.Errorf("vm get lacks %q:\n%s", want, got)
		}
	}

	// The domain reads its seed, which holds the key, as a CD-ROM.
	dom, err := lv.DomainLookupByName(fmt.Sprintf("dagger-n%d-%s", host, res.VM))
	if err != nil {
		t.Fatal(err)
	}
	xml, err := lv.DomainGetXMLDesc(dom, 0)
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, fmt.Sprintf("node-%d", host), "seeds", fmt.Sprintf("dagger-n%d-%s-seed.iso", host, res.VM))
	if !strings.Contains(xml, "device='cdrom'") && !strings.Contains(xml, `device="cdrom"`) || !strings.Contains(xml, seed) {
		t.Fatalf("the domain has no CD-ROM reading %s:\n%s", seed, xml)
	}
	iso, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(iso, []byte("cidata")) || !bytes.Contains(iso, []byte(authorized)) || !bytes.Contains(iso, []byte("name: dagger")) {
		t.Fatalf("the seed (%d bytes) lacks the label, the key or the account", len(iso))
	}

	// The guest, at the address the test driver leased it, answers on
	// port 22 through the host's forward.
	ifaces, err := lv.DomainInterfaceAddresses(dom, uint32(libvirt.DomainInterfaceAddressesSrcLease), 0)
	if err != nil || len(ifaces) == 0 || len(ifaces[0].Addrs) == 0 {
		t.Fatalf("the guest's lease: %+v, %v", ifaces, err)
	}
	guest := netip.MustParseAddr(ifaces[0].Addrs[0].Addr)
	gw := netip.AddrFrom4([4]byte{guest.As4()[0], guest.As4()[1], guest.As4()[2], 254})
	mustRun(t, "ip", "-n", hostNS, "addr", "add", gw.String()+"/24", "dev", "tog")
	mustRun(t, "ip", "-n", guestNS, "addr", "add", guest.String()+"/24", "dev", "eth0")
	mustRun(t, "ip", "-n", guestNS, "route", "add", "default", "via", gw.String())
	ln := listenIn(t, guestNS, ":22")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "SSH-2.0-guest %s\r\n", guest)
			c.Close()
		}
	}()
	banner := dialIn(t, hostNS, netip.AddrPortFrom(netip.MustParseAddr(published), v.Access.Port))
	if want := "SSH-2.0-guest " + guest.String(); !strings.HasPrefix(banner, want) {
		t.Fatalf("through %s:%d the test read %q, want %q", published, v.Access.Port, banner, want)
	}

	story := daggerStdout(t, "vm", "events", "--node", clients[3].base, res.VM)
	for _, want := range []string{"created", "placed", "reachable at " + published} {
		if !strings.Contains(story, want) {
			t.Errorf("vm events lacks %q:\n%s", want, story)
		}
	}

	// The host node dies: the VM moves to another host, which publishes
	// it on a port of its own, and the story says why and what of the disk.
	if err := syscall.Kill(pids[host], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	other := clients[(host+1)%4]
	waitFor(t, 120*time.Second, "VM moved and running again", func() (bool, string) {
		err := other.get("/v1/vms/"+res.VM, &v)
		return err == nil && v.State == "running" && v.Access != nil && nodeOf(t, clients, v.Host) != host, fmt.Sprintf("%+v %v", v, err)
	})
	story = daggerStdout(t, "vm", "events", "--node", other.base, res.VM)
	for _, want := range []string{"left-host", "stopped reporting", "does not move with the VM"} {
		if !strings.Contains(story, want) {
			t.Errorf("vm events after the host died lacks %q:\n%s", want, story)
		}
	}
	dn.stop(30 * time.Second)
}

// daggerStdout runs the CLI, fails the test unless it exits 0, and returns
// its standard output alone.
func daggerStdout(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("dagger %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// nodeOf returns the index of the devnet node whose key is key; a
// stopped node's index is found by elimination.
func nodeOf(t *testing.T, clients []*client, key string) int {
	t.Helper()
	down := -1
	for i, c := range clients {
		s, err := c.status()
		if err != nil {
			down = i
			continue
		}
		if s.Key == key {
			return i
		}
	}
	return down
}

// inNetns runs fn on a thread moved into the namespace ns; the thread is
// thrown away afterwards, so no other goroutine runs in ns.
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter %s: %v", ns, err)
	}
}

// listenIn opens a TCP listener in the namespace ns.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	inNetns(t, ns, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialIn connects from the namespace ns and reads what the other end says.
func dialIn(t *testing.T, ns string, to netip.AddrPort) string {
	t.Helper()
	var got []byte
	var err error
	inNetns(t, ns, func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", to.String(), 5*time.Second); err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got, err = io.ReadAll(c)
	})
	if err != nil {
		t.Fatalf("connect to %s from %s: %v", to, ns, err)
	}
	return string(got)
}
