package provision_test

// Tests of Libvirt. Those that need a daemon drive a real libvirtd with its
// test:///default driver, an in-memory hypervisor that behaves like qemu's
// for definitions and states; .ci/libvirtd.sh starts one.

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"dagger/provision"
)

const libvirtTestSocket = provision.DefaultLibvirtSocket

// needLibvirtd skips the test unless DAGGER_LIBVIRT_TEST=1, and then fails
// it if the daemon does not answer: a CI run that asked for the
// integration tests must not pass without them.
//
// It returns a connection held open for the whole test, because the test
// driver forgets every domain when its last connection closes, and a test
// of adoption needs the domains to outlive one Libvirt.
func needLibvirtd(t *testing.T) *golibvirt.Libvirt {
	t.Helper()
	if os.Getenv("DAGGER_LIBVIRT_TEST") != "1" {
		t.Skip("needs libvirtd: run .ci/libvirtd.sh, then DAGGER_LIBVIRT_TEST=1 go test ./provision/")
	}
	c := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(libvirtTestSocket)))
	if err := c.ConnectToURI(golibvirt.TestDefault); err != nil {
		t.Fatalf("DAGGER_LIBVIRT_TEST=1 but libvirtd does not answer at %s: %v (start it with .ci/libvirtd.sh)", libvirtTestSocket, err)
	}
	t.Cleanup(func() { _ = c.Disconnect() })
	return c
}

// newLibvirt returns a Libvirt on the test driver owning the domains named
// prefix+id, with its seeds in a new directory, and destroys them when the
// test ends.
func newLibvirt(t *testing.T, prefix string, mod func(*provision.LibvirtConfig)) *provision.Libvirt {
	t.Helper()
	cfg := provision.LibvirtConfig{
		URI:      string(golibvirt.TestDefault),
		Socket:   libvirtTestSocket,
		Capacity: testHost,
		Prefix:   prefix,
		Pool:     "default-pool",
		SeedDir:  t.TempDir(),
	}
	if mod != nil {
		mod(&cfg)
	}
	lv, err := provision.NewLibvirt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if doms, err := lv.List(); err == nil {
			for _, d := range doms {
				_ = lv.Destroy(d.ID)
			}
		}
		if err := lv.Close(); err != nil {
			t.Error(err)
		}
	})
	return lv
}

// seedFiles lists the files in dir, seeds and temporary files alike.
func seedFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func listed(t *testing.T, p provision.Provisioner) []string {
	t.Helper()
	doms, err := p.List()
	mustDo(t, "list", err)
	out := make([]string, len(doms))
	for i, d := range doms {
		out[i] = d.ID + ":" + d.State.String()
	}
	return out
}

func wantState(t *testing.T, p interface {
	State(id string) (provision.Domain, error)
}, id string, want provision.State) provision.Domain {
	t.Helper()
	d, err := p.State(id)
	mustDo(t, "state "+id, err)
	if d.State != want || d.ID != id {
		t.Fatalf("state of %s: %+v, want %s", id, d, want)
	}
	return d
}

func TestLibvirtLifecycle(t *testing.T) {
	conn := needLibvirtd(t)
	lv := newLibvirt(t, "dgt-life-", nil)
	s := spec("a", 2, 2048, 20)
	mustDo(t, "define", lv.Define(s))
	if d := wantState(t, lv, "a", provision.StateDefined); d.Spec != s {
		t.Fatalf("spec %+v, want %+v", d.Spec, s)
	}
	mustDo(t, "start", lv.Start("a"))
	wantState(t, lv, "a", provision.StateRunning)
	mustDo(t, "start of a running VM", lv.Start("a"))
	if got := listed(t, lv); !slices.Equal(got, []string{"a:running"}) {
		t.Fatalf("list %v", got)
	}
	mustDo(t, "stop", lv.Stop("a"))
	wantState(t, lv, "a", provision.StateDefined)
	mustDo(t, "stop of a stopped VM", lv.Stop("a"))
	mustDo(t, "start after stop", lv.Start("a"))
	wantState(t, lv, "a", provision.StateRunning)

	pool, err := conn.StoragePoolLookupByName("default-pool")
	mustDo(t, "pool", err)
	_, err = conn.StorageVolLookupByName(pool, "dgt-life-a.qcow2")
	mustDo(t, "the VM's disk", err)

	mustDo(t, "destroy of a running VM", lv.Destroy("a"))
	wantErr(t, "state after destroy", func() error { _, err := lv.State("a"); return err }(), provision.ErrNotFound)
	if _, err := conn.StorageVolLookupByName(pool, "dgt-life-a.qcow2"); err == nil {
		t.Fatal("destroy left the VM's disk")
	}
	if got := listed(t, lv); len(got) != 0 {
		t.Fatalf("list after destroy %v", got)
	}
}

// Each VM's cloud-init seed is there from its Define to its Destroy, and
// its domain reads it as a read-only CD-ROM.
func TestLibvirtSeedLivesAsLongAsItsDomain(t *testing.T) {
	conn := needLibvirtd(t)
	dir := t.TempDir()
	lv := newLibvirt(t, "dgt-seed-", func(c *provision.LibvirtConfig) { c.SeedDir = dir })
	s := spec("a", 1, 1024, 10)
	mustDo(t, "define", lv.Define(s))
	path := filepath.Join(dir, "dgt-seed-a-seed.iso")
	if got := seedFiles(t, dir); !slices.Equal(got, []string{"dgt-seed-a-seed.iso"}) {
		t.Fatalf("seed directory holds %v after a define", got)
	}
	_, user, err := provision.ReadSeed(path)
	mustDo(t, "read the seed", err)
	if !strings.Contains(string(user), testSSHKey+" op@host") {
		t.Fatalf("user-data without the VM's key:\n%s", user)
	}
	d, err := conn.DomainLookupByName("dgt-seed-a")
	mustDo(t, "lookup", err)
	desc, err := conn.DomainGetXMLDesc(d, 0)
	mustDo(t, "domain XML", err)
	for _, want := range []string{`<disk type='file' device='cdrom'>`, `<source file='` + path + `'/>`, `<readonly/>`, `bus='sata'`} {
		if !strings.Contains(desc, want) {
			t.Errorf("libvirt's domain has no %s:\n%s", want, desc)
		}
	}

	// A seed lost while the VM was stopped is built again from the
	// domain's metadata when it starts.
	mustDo(t, "remove the seed", os.Remove(path))
	mustDo(t, "start without a seed", lv.Start("a"))
	meta, _, err := provision.ReadSeed(path)
	mustDo(t, "read the rebuilt seed", err)
	if !strings.Contains(string(meta), `instance-id: "a"`) {
		t.Fatalf("rebuilt meta-data:\n%s", meta)
	}

	mustDo(t, "destroy", lv.Destroy("a"))
	if got := seedFiles(t, dir); len(got) != 0 {
		t.Fatalf("seed directory holds %v after a destroy", got)
	}
	// A seed whose domain is gone, as an interrupted destroy leaves it,
	// goes with the next destroy of its id.
	mustDo(t, "leave a seed", os.WriteFile(filepath.Join(dir, "dgt-seed-b-seed.iso"), []byte("left"), 0o644))
	wantErr(t, "destroy of a VM with only a seed", lv.Destroy("b"), provision.ErrNotFound)
	if got := seedFiles(t, dir); len(got) != 0 {
		t.Fatalf("seed directory holds %v after a destroy of a gone VM", got)
	}
}

// A Define that fails leaves neither seed nor disk nor domain behind.
func TestLibvirtFailedDefineLeavesNoSeed(t *testing.T) {
	conn := needLibvirtd(t)
	pool, err := conn.StoragePoolLookupByName("default-pool")
	mustDo(t, "pool", err)
	notADir := filepath.Join(t.TempDir(), "file")
	mustDo(t, "write a file", os.WriteFile(notADir, nil, 0o644))
	for _, tc := range []struct {
		name string
		mod  func(*provision.LibvirtConfig)
		want string
	}{
		{"libvirt refuses the domain", func(c *provision.LibvirtConfig) { c.DomainType = "bogus" }, "bogus"},
		{"the seed cannot be written", func(c *provision.LibvirtConfig) { c.SeedDir = filepath.Join(notADir, "seeds") }, "seed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lv := newLibvirt(t, "dgt-fail-", func(c *provision.LibvirtConfig) { c.SeedDir = dir; tc.mod(c) })
			err := lv.Define(spec("a", 1, 1024, 10))
			if err == nil || errors.Is(err, provision.ErrHostDown) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("define: %v, want an error naming %q, the host up", err, tc.want)
			}
			if got := seedFiles(t, dir); len(got) != 0 {
				t.Errorf("seed directory holds %v", got)
			}
			if _, err := conn.StorageVolLookupByName(pool, "dgt-fail-a.qcow2"); err == nil {
				t.Error("the VM's disk remains")
			}
			if got := listed(t, lv); len(got) != 0 {
				t.Errorf("list %v", got)
			}
			if _, free, err := lv.Capacity(); err != nil || free != testHost {
				t.Errorf("free %v, %v: a failed define reserves nothing", free, err)
			}
		})
	}
}

func TestLibvirtErrors(t *testing.T) {
	needLibvirtd(t)
	lv := newLibvirt(t, "dgt-err-", nil)
	mustDo(t, "define", lv.Define(spec("a", 1, 1024, 10)))
	wantErr(t, "define twice", lv.Define(spec("a", 1, 1024, 10)), provision.ErrExists)
	wantErr(t, "start", lv.Start("x"), provision.ErrNotFound)
	wantErr(t, "stop", lv.Stop("x"), provision.ErrNotFound)
	wantErr(t, "destroy", lv.Destroy("x"), provision.ErrNotFound)
	_, err := lv.State("x")
	wantErr(t, "state", err, provision.ErrNotFound)
	wantErr(t, "start of an id no domain can have", lv.Start("../a"), provision.ErrInvalid)
	mustDo(t, "destroy", lv.Destroy("a"))
	wantErr(t, "destroy twice", lv.Destroy("a"), provision.ErrNotFound)
	mustDo(t, "define again", lv.Define(spec("a", 1, 1024, 10)))
}

// A host that lists the images it offers refuses any other, naming them.
func TestLibvirtOffersItsImagesOnly(t *testing.T) {
	needLibvirtd(t)
	lv := newLibvirt(t, "dgt-img-", func(c *provision.LibvirtConfig) { c.Images = []string{"ubuntu-24.04", "alpine-3"} })
	s := spec("a", 1, 512, 10)
	err := lv.Define(s)
	wantErr(t, "define of an image not offered", err, provision.ErrNoImage)
	if !strings.Contains(err.Error(), "ubuntu-24.04, alpine-3") {
		t.Fatalf("the error does not say what the host offers: %v", err)
	}
	s.Image = "alpine-3"
	mustDo(t, "define of an offered image", lv.Define(s))
}

func TestLibvirtCapacity(t *testing.T) {
	needLibvirtd(t)
	lv := newLibvirt(t, "dgt-cap-", nil)
	free := func() provision.Capacity {
		t.Helper()
		total, free, err := lv.Capacity()
		mustDo(t, "capacity", err)
		if total != testHost {
			t.Fatalf("total %v, want %v", total, testHost)
		}
		return free
	}
	if got := free(); got != testHost {
		t.Fatalf("free %v on an empty host", got)
	}
	mustDo(t, "define a", lv.Define(spec("a", 4, 8192, 50)))
	mustDo(t, "define b", lv.Define(spec("b", 4, 8192, 50)))
	mustDo(t, "start a", lv.Start("a"))
	if got := free(); got != (provision.Capacity{}) {
		t.Fatalf("free %v, want none", got)
	}
	wantErr(t, "define beyond capacity", lv.Define(spec("c", 1, 1, 1)), provision.ErrCapacity)
	// A stopped VM keeps its reservation.
	mustDo(t, "stop a", lv.Stop("a"))
	wantErr(t, "define after a stop", lv.Define(spec("c", 1, 1, 1)), provision.ErrCapacity)
	mustDo(t, "destroy a", lv.Destroy("a"))
	mustDo(t, "define c", lv.Define(spec("c", 1, 1, 1)))
	if got, want := free(), (provision.Capacity{VCPU: 3, MemoryMiB: 8191, DiskGiB: 49}); got != want {
		t.Fatalf("free %v, want %v", got, want)
	}
	if got := listed(t, lv); !slices.Equal(got, []string{"b:defined", "c:defined"}) {
		t.Fatalf("list %v", got)
	}
}

// defineForeign defines a domain behind DAGGER's back, as another tool on
// the host would.
func defineForeign(t *testing.T, conn *golibvirt.Libvirt, name string) golibvirt.Domain {
	t.Helper()
	d, err := conn.DomainDefineXML(`<domain type="test"><name>` + name + `</name><memory unit="MiB">64</memory>` +
		`<os><type>hvm</type></os></domain>`)
	mustDo(t, "define "+name, err)
	t.Cleanup(func() {
		_ = conn.DomainDestroy(d)
		_ = conn.DomainUndefine(d)
	})
	return d
}

// The host's other domains are not DAGGER's: never listed, so the
// controller never destroys them as strays, and unreachable by ID.
func TestLibvirtForeignDomainsAreUntouched(t *testing.T) {
	conn := needLibvirtd(t)
	lv := newLibvirt(t, "dgt-own-", nil)
	other := defineForeign(t, conn, "other-a")
	mustDo(t, "start other-a", conn.DomainCreate(other))
	// The prefix and something no ID can be: not made by Define.
	defineForeign(t, conn, "dgt-own-a.b")
	mustDo(t, "define a", lv.Define(spec("a", 1, 1024, 10)))

	if got := listed(t, lv); !slices.Equal(got, []string{"a:defined"}) {
		t.Fatalf("list %v, want only DAGGER's domain", got)
	}
	// What a controller does with every VM it does not want.
	doms, err := lv.List()
	mustDo(t, "list", err)
	for _, d := range doms {
		mustDo(t, "destroy "+d.ID, lv.Destroy(d.ID))
	}
	wantErr(t, "destroy by the foreign name", lv.Destroy("other-a"), provision.ErrNotFound)
	wantErr(t, "destroy by an escaping id", lv.Destroy("../other-a"), provision.ErrInvalid)

	for _, name := range []string{"other-a", "dgt-own-a.b", "test"} {
		if _, err := conn.DomainLookupByName(name); err != nil {
			t.Errorf("foreign domain %s: %v", name, err)
		}
	}
	if st, _, err := conn.DomainGetState(other, 0); err != nil || golibvirt.DomainState(st) != golibvirt.DomainRunning {
		t.Errorf("foreign domain other-a: state %d, %v; want it still running", st, err)
	}
	if _, free, err := lv.Capacity(); err != nil || free != testHost {
		t.Errorf("free %v, %v: foreign domains must not reserve DAGGER's capacity", free, err)
	}
}

// A domain with the prefix that lost its metadata cannot be adopted: it is
// listed failed, reserving nothing, so the controller destroys it.
func TestLibvirtUnreadableDomainIsFailed(t *testing.T) {
	conn := needLibvirtd(t)
	lv := newLibvirt(t, "dgt-bad-", nil)
	defineForeign(t, conn, "dgt-bad-z")
	d := wantState(t, lv, "z", provision.StateFailed)
	if !strings.Contains(d.Reason, "no dagger metadata") {
		t.Fatalf("reason %q", d.Reason)
	}
	if _, free, err := lv.Capacity(); err != nil || free != testHost {
		t.Fatalf("free %v, %v", free, err)
	}
	mustDo(t, "destroy", lv.Destroy("z"))
	if got := listed(t, lv); len(got) != 0 {
		t.Fatalf("list %v", got)
	}
}

// A node that restarts adopts the domains it runs: a new Libvirt lists
// them with their Specs and counts their reservations.
func TestLibvirtAdoption(t *testing.T) {
	needLibvirtd(t)
	before := newLibvirt(t, "dgt-adopt-", nil)
	a, b := spec("a", 4, 8192, 50), spec("b", 2, 1024, 30)
	b.SSHKey = testSSHKey + " <op@host> & \"friends\""
	mustDo(t, "define a", before.Define(a))
	mustDo(t, "define b", before.Define(b))
	mustDo(t, "start a", before.Start("a"))
	mustDo(t, "close", before.Close())

	after := newLibvirt(t, "dgt-adopt-", nil)
	doms, err := after.List()
	mustDo(t, "list", err)
	want := []provision.Domain{
		{ID: "a", State: provision.StateRunning, Spec: a},
		{ID: "b", State: provision.StateDefined, Spec: b},
	}
	if !slices.Equal(doms, want) {
		t.Fatalf("adopted %+v, want %+v", doms, want)
	}
	if _, free, err := after.Capacity(); err != nil || free != (provision.Capacity{VCPU: 2, MemoryMiB: 7168, DiskGiB: 20}) {
		t.Fatalf("free %v, %v", free, err)
	}
	wantErr(t, "define beyond what is adopted", after.Define(spec("c", 3, 1, 1)), provision.ErrCapacity)

	// A fresh instance learns the reservations before its first Define,
	// without a List.
	third := newLibvirt(t, "dgt-adopt-", nil)
	wantErr(t, "define before any list", third.Define(spec("c", 3, 1, 1)), provision.ErrCapacity)
	wantErr(t, "define of an adopted id", third.Define(a), provision.ErrExists)
}

// Calls from many goroutines, as Async's and a test's or an operator
// tool's, keep the reservations exact.
func TestLibvirtConcurrentUse(t *testing.T) {
	needLibvirtd(t)
	lv := newLibvirt(t, "dgt-conc-", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 2*testHost.VCPU)
	for i := range testHost.VCPU + 4 { // 4 more VMs than there are vCPU
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('a' + i))
			if err := lv.Define(spec(id, 1, 1024, 10)); err != nil {
				errs <- err
				return
			}
			if err := lv.Start(id); err != nil {
				errs <- err
			}
			if _, err := lv.List(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if !errors.Is(err, provision.ErrCapacity) {
			t.Fatal(err)
		}
		refused++
	}
	if got := listed(t, lv); len(got) != int(testHost.VCPU) || refused != 4 {
		t.Fatalf("%d refused, list %v: want the host's %d vCPU full and 4 refused", refused, got, testHost.VCPU)
	}
	if _, free, err := lv.Capacity(); err != nil || free.VCPU != 0 {
		t.Fatalf("free %v, %v", free, err)
	}
}

// proxy forwards a unix socket to the daemon's, and can be cut and
// restored: a daemon that goes away and comes back.
type proxy struct {
	path string
	mu   sync.Mutex
	ln   net.Listener
	cs   []net.Conn
}

func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", p.path)
	mustDo(t, "listen", err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", libvirtTestSocket)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.cs = append(p.cs, c, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.cs {
		c.Close()
	}
	p.cs = nil
}

func TestLibvirtHostDownAndBack(t *testing.T) {
	needLibvirtd(t)
	p := &proxy{path: filepath.Join(t.TempDir(), "libvirt-sock")}
	t.Cleanup(p.down)
	lv := newLibvirt(t, "dgt-down-", func(c *provision.LibvirtConfig) { c.Socket = p.path })

	_, err := lv.List()
	wantErr(t, "list before the daemon is up", err, provision.ErrHostDown)
	p.up(t)
	mustDo(t, "define once the daemon is up", lv.Define(spec("a", 1, 1024, 10)))

	p.down()
	wantErr(t, "start while the daemon is away", lv.Start("a"), provision.ErrHostDown)
	_, _, err = lv.Capacity()
	wantErr(t, "capacity while the daemon is away", err, provision.ErrHostDown)
	wantErr(t, "define while the daemon is away", lv.Define(spec("b", 1, 1024, 10)), provision.ErrHostDown)

	p.up(t)
	mustDo(t, "start once the daemon is back", lv.Start("a"))
	if got := listed(t, lv); !slices.Equal(got, []string{"a:running"}) {
		t.Fatalf("list %v", got)
	}
}

// What a Libvirt refuses before it talks to the daemon, so these run
// without one.
func TestLibvirtOffline(t *testing.T) {
	lv, err := provision.NewLibvirt(provision.LibvirtConfig{
		URI: "test:///default", Socket: filepath.Join(t.TempDir(), "none"), Capacity: testHost,
	})
	mustDo(t, "new", err)
	bad := spec("a", 1, 1024, 10)
	bad.Image = "../../etc/passwd"
	wantErr(t, "an image outside the image directory", lv.Define(bad), provision.ErrInvalid)
	bad.Image = ".hidden"
	wantErr(t, "a hidden image", lv.Define(bad), provision.ErrInvalid)
	bad = spec("a", 1, 1024, 10)
	bad.SSHKey = "ssh-ed25519 \xff"
	wantErr(t, "a key XML cannot carry", lv.Define(bad), provision.ErrInvalid)
	bad.SSHKey = "ssh-ed25519 \x00"
	wantErr(t, "a key with a NUL", lv.Define(bad), provision.ErrInvalid)
	bad.SSHKey = testSSHKey + "\n" + testSSHKey
	wantErr(t, "a key of two lines", lv.Define(bad), provision.ErrInvalid)
	wantErr(t, "an invalid spec", lv.Define(spec("a", 0, 1024, 10)), provision.ErrInvalid)

	_, err = lv.List()
	wantErr(t, "list without a daemon", err, provision.ErrHostDown)
	if !strings.Contains(err.Error(), "is libvirtd running?") {
		t.Errorf("%q does not say what to check", err)
	}
	wantErr(t, "define without a daemon", lv.Define(spec("a", 1, 1024, 10)), provision.ErrHostDown)
	_, _, err = lv.Capacity()
	wantErr(t, "capacity without a daemon", err, provision.ErrHostDown)
	mustDo(t, "close", lv.Close())
}

func TestNewLibvirtValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*provision.LibvirtConfig)
		ok   bool
	}{
		{"defaults", func(*provision.LibvirtConfig) {}, true},
		{"no capacity", func(c *provision.LibvirtConfig) { c.Capacity = provision.Capacity{} }, false},
		{"no disk", func(c *provision.LibvirtConfig) { c.Capacity.DiskGiB = 0 }, false},
		{"a prefix with a space", func(c *provision.LibvirtConfig) { c.Prefix = "my vms" }, false},
		{"a prefix with a slash", func(c *provision.LibvirtConfig) { c.Prefix = "a/" }, false},
		{"a relative image directory", func(c *provision.LibvirtConfig) { c.ImageDir = "images" }, false},
		{"a relative seed directory", func(c *provision.LibvirtConfig) { c.SeedDir = "seeds" }, false},
		{"a negative dial timeout", func(c *provision.LibvirtConfig) { c.DialTimeout = -1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := provision.LibvirtConfig{Capacity: testHost}
			tc.mod(&cfg)
			lv, err := provision.NewLibvirt(cfg)
			if tc.ok != (err == nil) || (lv == nil) == tc.ok {
				t.Fatalf("NewLibvirt: %v, %v; want ok %v", lv, err, tc.ok)
			}
		})
	}
}
