package provision

// The XML that Libvirt sends and the metadata it reads back: no daemon
// needed.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func xmlSpec() Spec {
	return Spec{ID: "3f2a", VCPU: 2, MemoryMiB: 4096, DiskGiB: 40, Image: "debian-12", SSHKey: testSSHKey + " op@host"}
}

func newTestLibvirt(t *testing.T, cfg LibvirtConfig) *Libvirt {
	t.Helper()
	cfg.Capacity = Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 100}
	l, err := NewLibvirt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./provision/ -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what is generated:\n%s", path, got)
	}
}

func TestLibvirtXMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  LibvirtConfig
		xml  func(*Libvirt, Spec) []byte
	}{
		{"libvirt-domain-kvm.xml", LibvirtConfig{}, (*Libvirt).domainXML},
		{"libvirt-domain-test.xml", LibvirtConfig{URI: "test:///default", Pool: "default-pool", Prefix: "t-"}, (*Libvirt).domainXML},
		{"libvirt-volume.xml", LibvirtConfig{ImageDir: "/srv/images"}, (*Libvirt).volumeXML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, tc.xml(newTestLibvirt(t, tc.cfg), xmlSpec()))
		})
	}
}

func TestLibvirtDomainXML(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     LibvirtConfig
		mod     func(*Spec)
		want    []string
		notWant []string
	}{
		{"qemu is kvm", LibvirtConfig{}, nil,
			[]string{`<domain type="kvm">`, `<name>dagger-3f2a</name>`, `<source pool="default" volume="dagger-3f2a.qcow2">`,
				`<source network="default">`, `<acpi>`, `<source file="/var/lib/dagger/seeds/dagger-3f2a-seed.iso">`}, nil},
		{"the test driver is test", LibvirtConfig{URI: "test:///default"}, nil, []string{`<domain type="test">`}, nil},
		{"an explicit type wins", LibvirtConfig{URI: "test:///default", DomainType: "qemu"}, nil, []string{`<domain type="qemu">`}, nil},
		{"prefix, pool, network and seeds", LibvirtConfig{Prefix: "n2_", Pool: "vms", Network: "dagger", SeedDir: "/srv/seeds"}, nil,
			[]string{`<name>n2_3f2a</name>`, `<source pool="vms" volume="n2_3f2a.qcow2">`, `<source network="dagger">`,
				`<source file="/srv/seeds/n2_3f2a-seed.iso">`}, nil},
		{"memory and vCPU", LibvirtConfig{}, func(s *Spec) { s.MemoryMiB, s.VCPU = 512, 3 },
			[]string{`<memory unit="MiB">512</memory>`, `<vcpu>3</vcpu>`, `<memory_mib>512</memory_mib>`}, nil},
		{"the SSH key is escaped", LibvirtConfig{}, func(s *Spec) { s.SSHKey = testSSHKey + ` </vm><x a="1">&amp;` },
			[]string{`<ssh_key>` + testSSHKey + ` &lt;/vm&gt;&lt;x a=&#34;1&#34;&gt;&amp;amp;</ssh_key>`}, []string{`<x a=`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := xmlSpec()
			if tc.mod != nil {
				tc.mod(&s)
			}
			got := string(newTestLibvirt(t, tc.cfg).domainXML(s))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("no %s in\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%s in\n%s", w, got)
				}
			}
			// The document parses, and its metadata gives the spec back
			// in DAGGER's namespace.
			var d libvirtxml.Domain
			if err := d.Unmarshal(got); err != nil {
				t.Fatal(err)
			}
			if d.Metadata == nil {
				t.Fatal("no metadata")
			}
			var vm vmXML
			if err := xml.Unmarshal([]byte(d.Metadata.XML), &vm); err != nil {
				t.Fatal(err)
			}
			back, err := decodeMetadata([]byte(d.Metadata.XML))
			if err != nil || vm.XMLName.Space != MetadataNamespace || back != s {
				t.Fatalf("metadata %+v (%v) in namespace %q, want %+v in %q", back, err, vm.XMLName.Space, s, MetadataNamespace)
			}
		})
	}
}

// The guest boots from its disk and reads its seed from a read-only CD-ROM
// on a bus that both q35 and pc machines have.
func TestLibvirtDomainHasTheSeedAsAReadOnlyCDROM(t *testing.T) {
	l := newTestLibvirt(t, LibvirtConfig{SeedDir: "/srv/seeds"})
	var d libvirtxml.Domain
	if err := d.Unmarshal(string(l.domainXML(xmlSpec()))); err != nil {
		t.Fatal(err)
	}
	if d.Devices == nil || len(d.Devices.Disks) != 2 {
		t.Fatalf("devices %+v, want a disk and a CD-ROM", d.Devices)
	}
	disk, cd := d.Devices.Disks[0], d.Devices.Disks[1]
	if disk.Device != "disk" || disk.Source.Volume == nil || disk.ReadOnly != nil {
		t.Fatalf("first disk %+v, want the VM's writable volume", disk)
	}
	switch {
	case cd.Device != "cdrom":
		t.Fatalf("second disk is a %q, want a cdrom", cd.Device)
	case cd.Source == nil || cd.Source.File == nil || cd.Source.File.File != "/srv/seeds/dagger-3f2a-seed.iso":
		t.Fatalf("CD-ROM source %+v, want the seed file", cd.Source)
	case cd.ReadOnly == nil:
		t.Fatal("the CD-ROM is writable")
	case cd.Target == nil || cd.Target.Bus != "sata" || cd.Target.Dev != "sda":
		t.Fatalf("CD-ROM target %+v, want sda on sata", cd.Target)
	case cd.Driver == nil || cd.Driver.Type != "raw":
		t.Fatalf("CD-ROM driver %+v, want raw", cd.Driver)
	}
	if len(d.OS.BootDevices) != 1 || d.OS.BootDevices[0].Dev != "hd" {
		t.Fatalf("boot devices %+v, want the disk only", d.OS.BootDevices)
	}
}

// The UUID is a function of the domain's name: the same VM keeps its
// identity when defined again, two prefixes on one host do not collide.
func TestDomainUUID(t *testing.T) {
	a, b, c := domainUUID("dagger-3f2a"), domainUUID("dagger-3f2a"), domainUUID("other-3f2a")
	if a != b {
		t.Fatalf("two UUIDs for one name: %s %s", a, b)
	}
	if a == c {
		t.Fatalf("one UUID for two names: %s", a)
	}
	if len(a) != 36 || a[14] != '8' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Fatalf("%s is not a version 8, RFC 9562 variant UUID", a)
	}
}

func TestDecodeMetadata(t *testing.T) {
	good := string(encodeMetadata(xmlSpec()))
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"what Define writes", good, true},
		{"as libvirt returns it, without a namespace", strings.Replace(good, ` xmlns="urn:dagger:vm:1"`, "", 1), true},
		{"with a prefix", `<d:vm xmlns:d="urn:dagger:vm:1"><d:id>a</d:id><d:vcpu>1</d:vcpu><d:memory_mib>1</d:memory_mib>` +
			`<d:disk_gib>1</d:disk_gib><d:image>i</d:image></d:vm>`, true},
		{"unknown elements are ignored", strings.Replace(good, "<id>", "<future>x</future><id>", 1), true},
		{"empty", "", false},
		{"not XML", "vm", false},
		{"another element", strings.ReplaceAll(good, "vm", "vmx"), false},
		{"truncated", good[:len(good)-3], false},
		{"a negative vCPU", strings.Replace(good, "<vcpu>2", "<vcpu>-2", 1), false},
		{"an invalid spec", strings.Replace(good, "<vcpu>2", "<vcpu>0", 1), false},
		{"an id no domain can have", strings.Replace(good, "<id>3f2a", "<id>../x", 1), false},
		{"oversized", strings.Replace(good, "<ssh_key>", "<ssh_key>"+strings.Repeat(" ", maxMetadataBytes), 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := decodeMetadata([]byte(tc.in))
			if tc.ok != (err == nil) {
				t.Fatalf("%+v, %v; want ok %v", s, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v, want ErrInvalid", err)
			}
		})
	}
}

// FuzzDecodeMetadata: the decoder never panics, accepts only specs Define
// would accept, and what it accepts survives encoding and decoding again.
func FuzzDecodeMetadata(f *testing.F) {
	f.Add(encodeMetadata(xmlSpec()))
	f.Add([]byte(`<vm><id>a</id><vcpu>1</vcpu><memory_mib>1</memory_mib><disk_gib>1</disk_gib><image>i</image><ssh_key>&#xD;&#x9;</ssh_key></vm>`))
	f.Add([]byte(`<vm><id>a</id><vcpu>4294967296</vcpu></vm>`))
	f.Add([]byte(`<vm xmlns="x"><vm><id>a</id></vm></vm>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeMetadata(b)
		if err != nil {
			return
		}
		if err := checkSpec(s); err != nil {
			t.Fatalf("accepted an invalid spec %+v: %v", s, err)
		}
		back, err := decodeMetadata(encodeMetadata(s))
		if err != nil || back != s {
			t.Fatalf("%+v came back as %+v, %v", s, back, err)
		}
	})
}

func TestStateOf(t *testing.T) {
	for _, tc := range []struct {
		st     golibvirt.DomainState
		reason int32
		want   State
		why    string
	}{
		{golibvirt.DomainRunning, int32(golibvirt.DomainRunningBooted), StateRunning, ""},
		{golibvirt.DomainBlocked, 0, StateRunning, ""},
		{golibvirt.DomainShutdown, 0, StateRunning, ""},
		{golibvirt.DomainPmsuspended, 0, StateRunning, ""},
		{golibvirt.DomainNostate, 0, StateBooting, ""},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedStartingUp), StateBooting, ""},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedIoerror), StateBooting, ""},
		{golibvirt.DomainPaused, int32(golibvirt.DomainPausedCrashed), StateCrashed, "guest crashed (paused by libvirt)"},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffShutdown), StateDefined, ""},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffDestroyed), StateDefined, ""},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffCrashed), StateCrashed, "guest crashed"},
		{golibvirt.DomainShutoff, int32(golibvirt.DomainShutoffFailed), StateFailed, "libvirt could not start the domain"},
		{golibvirt.DomainCrashed, int32(golibvirt.DomainCrashedPanicked), StateCrashed, "guest kernel panicked"},
		{golibvirt.DomainCrashed, 0, StateCrashed, "guest crashed"},
		{99, 0, StateFailed, "unknown libvirt domain state 99"},
	} {
		if got, why := stateOf(tc.st, tc.reason); got != tc.want || why != tc.why {
			t.Errorf("state %d reason %d: %s %q, want %s %q", tc.st, tc.reason, got, why, tc.want, tc.why)
		}
	}
}

func TestLibvirtFreeSaturates(t *testing.T) {
	l := newTestLibvirt(t, LibvirtConfig{})
	l.reserved["a"] = Spec{ID: "a", VCPU: ^uint32(0), MemoryMiB: ^uint64(0), DiskGiB: 1}
	l.reserved["b"] = Spec{ID: "b", VCPU: ^uint32(0), MemoryMiB: ^uint64(0), DiskGiB: 1}
	if got, want := l.free(), (Capacity{DiskGiB: 98}); got != want {
		t.Fatalf("free %v, want %v", got, want)
	}
}
