package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"dagger/node/live/api"
	"dagger/node/payment/paymenttest"
)

const libvirtSocket = "/var/run/libvirt/libvirt-sock"

// TestVMLandsInLibvirt: a customer pays for a VM through the CLI, with the
// payment confirmed over Solana JSON-RPC (a server answering with recorded
// responses); the cluster places it, and the operator it was placed on
// defines and runs it in libvirtd's test driver.
func TestVMLandsInLibvirt(t *testing.T) {
	if os.Getenv("DAGGER_LIBVIRT_TEST") != "1" {
		t.Skip("set DAGGER_LIBVIRT_TEST=1 with libvirtd running (.ci/libvirtd.sh starts it)")
	}
	// The test driver resets when its last connection closes: hold one
	// for the whole test, and use it to look at the domains.
	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(libvirtSocket), dialers.WithLocalTimeout(5*time.Second)))
	if err := lv.ConnectToURI("test:///default"); err != nil {
		t.Fatalf("libvirtd: %v (DAGGER_LIBVIRT_TEST=1 needs it running)", err)
	}
	defer lv.Disconnect()

	chain, err := paymenttest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	chain.LandSent(paymenttest.Finalized)

	dir := t.TempDir()
	dn, _, clients := startDevnet(t, dir, 4, "--provision", "libvirt", "--solana-rpc", chain.URL())
	node := clients[1].base
	create := exec.Command(bin, "vm", "create", "--node", node, "--key", filepath.Join(dir, "wallet.key"),
		"--vcpu", "1", "--memory-mib", "512", "--disk-gib", "1", "--image", "debian-12", "--lease", "1h",
		"--solana-rpc", chain.URL(), "--wait", "--timeout", "30s", "--json")
	var out, errOut bytes.Buffer
	create.Stdout, create.Stderr = &out, &errOut
	if err := create.Run(); err != nil {
		t.Fatalf("vm create: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	var res struct {
		VM      string `json:"vm"`
		Payment struct {
			Sent bool `json:"sent"`
		} `json:"payment"`
		Status api.TxStatus `json:"status"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("vm create printed %q: %v", out.String(), err)
	}
	if res.Status.State != "committed" || res.VM == "" {
		t.Fatalf("vm create: %s", out.String())
	}
	if len(chain.Sent()) != 1 {
		t.Fatalf("the chain received %d transactions, want the one payment", len(chain.Sent()))
	}

	var v api.VM
	waitFor(t, 60*time.Second, "VM running", func() (bool, string) {
		err := clients[0].get("/v1/vms/"+res.VM, &v)
		return err == nil && v.State == "running", fmt.Sprintf("%+v %v", v, err)
	})
	// The host is the operator the cluster placed it on: find its node.
	host := -1
	for i, c := range clients {
		s, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		if s.Key == v.Host {
			host = i
		}
	}
	if host < 0 {
		t.Fatalf("VM placed on %s, which is no node of the devnet", v.Host)
	}
	name := fmt.Sprintf("dagger-n%d-%s", host, res.VM)
	dom, err := lv.DomainLookupByName(name)
	if err != nil {
		t.Fatalf("domain %s is not in libvirtd: %v", name, err)
	}
	state, _, err := lv.DomainGetState(dom, 0)
	if err != nil {
		t.Fatal(err)
	}
	if libvirt.DomainState(state) != libvirt.DomainRunning {
		t.Fatalf("domain %s is in state %d, want running", name, state)
	}
	// No other node runs it.
	doms, _, err := lv.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if strings.HasSuffix(d.Name, res.VM) && d.Name != name {
			t.Fatalf("domain %s also runs the VM", d.Name)
		}
	}

	// Deleting it through the CLI removes the domain.
	del := exec.Command(bin, "vm", "delete", "--node", node, "--key", filepath.Join(dir, "wallet.key"), "--wait", res.VM)
	if b, err := del.CombinedOutput(); err != nil {
		t.Fatalf("vm delete: %v\n%s", err, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, err := lv.DomainLookupByName(name); err != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("domain %s still defined 30s after the delete committed", name)
		case <-time.After(200 * time.Millisecond):
		}
	}
	dn.stop(30 * time.Second)
}
