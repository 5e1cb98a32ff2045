package live

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dagger/node"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
)

func TestInitWritesAConfigThatLoads(t *testing.T) {
	dir := t.TempDir()
	m, err := Init(InitOptions{Dir: dir, P2PPort: 7801, APIListen: "127.0.0.1:8801", Driver: "libvirt", URI: "test:///default",
		Capacity: GenesisCapacity{VCPU: 4, MemoryMiB: 8192, DiskGiB: 100}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("the config Init wrote does not load: %v", err)
	}
	if cfg.API.Listen != "127.0.0.1:8801" || cfg.Provision.Driver != "libvirt" || cfg.Provision.URI != "test:///default" ||
		cfg.Node.LeaderTimeout.Duration != time.Second || cfg.P2P.Listen[0] != "/ip4/0.0.0.0/tcp/7801" ||
		cfg.Node.MaxEventTxBytes != DefaultMaxEventTxBytes || cfg.Node.MaxQueueBytes != DefaultMaxQueueBytes {
		t.Fatalf("config = %+v", cfg)
	}
	if cfg.Provision.SeedDir != "/var/lib/dagger/seeds" || cfg.Provision.ImageDir != "/var/lib/dagger/images" {
		t.Fatalf("provision = %+v", cfg.Provision)
	}
	if got := cfg.Path(cfg.Node.Key); got != filepath.Join(dir, "node.key") {
		t.Fatalf("key path %s, want it next to the config", got)
	}
	key, err := keyfile.Load(cfg.Path(cfg.Node.Key))
	if err != nil {
		t.Fatal(err)
	}
	if m.Key != hexKey(key) {
		t.Fatalf("member key %s is not the node key", m.Key)
	}
	if _, err := Init(InitOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second init: %v, want a refusal", err)
	}
	if _, err := LoadMember(filepath.Join(dir, "member.json")); err != nil {
		t.Fatal(err)
	}
}

// TestInitKeepsTheEpochsItIsTold: store.keep_epochs is the default
// unless Init is given another number, as a benchmark's devnet is.
func TestInitKeepsTheEpochsItIsTold(t *testing.T) {
	for _, c := range []struct{ keep, want int }{{0, node.DefaultKeepEpochs}, {10, 10}, {-1, -1}} {
		dir := t.TempDir()
		if _, err := Init(InitOptions{Dir: dir, KeepEpochs: c.keep}); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(filepath.Join(dir, "config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Store.KeepEpochs != c.want {
			t.Errorf("Init with KeepEpochs %d: keep_epochs = %d, want %d", c.keep, cfg.Store.KeepEpochs, c.want)
		}
	}
}

func hexKey(k []byte) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for _, c := range k[32:] {
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

func TestConfigRejectsWhatItDoesNotKnow(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"unknown key", "[node]\nkye = \"x\"\n", "unknown key"},
		{"bad driver", "[provision]\ndriver = \"xen\"\n", "provision.driver"},
		{"relative seed dir", "[provision]\nseed_dir = \"seeds\"\n", "provision.seed_dir"},
		{"bad image", "[provision]\nimages = [\"../etc/passwd\"]\n", "provision.images"},
		{"bad advertise", "[provision]\nadvertise = \"my host\"\n", "provision.advertise"},
		{"bad port range", "[provision]\nadvertise = \"203.0.113.7\"\nforward_ports = \"23000-22000\"\n", "provision.forward_ports"},
		{"port range of one end", "[provision]\nadvertise = \"host.example\"\nforward_ports = \"22000\"\n", "provision.forward_ports"},
		{"bad commitment", "[solana]\ncommitment = \"processed\"\n", "solana.commitment"},
		{"bad duration", "[node]\nleader_timeout = \"soon\"\n", "duration"},
		{"bad level", "[log]\nlevel = \"loud\"\n", "log.level"},
		{"negative event bound", "[node]\nmax_event_tx_bytes = -1\n", "node.max_event_tx_bytes"},
		{"queue below an event", "[node]\nmax_queue_bytes = 1000\n", "node.max_queue_bytes"},
		{"event bound past an event", "[node]\nmax_event_tx_bytes = 40000000\n", "node.max_event_tx_bytes"},
		{"not toml", "[node\n", "expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func testGenesis(t *testing.T, n int) GenesisFile {
	t.Helper()
	var members []GenesisMember
	for i := 0; i < n; i++ {
		k, err := keyfile.New()
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, GenesisMember{Key: hexKey(k), Addrs: []string{"/ip4/127.0.0.1/tcp/7700"}, Region: "local",
			Capacity: GenesisCapacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 100}})
	}
	k, _ := keyfile.New()
	var treasury payment.Address
	copy(treasury[:], k[32:])
	return NewGenesisFile(time.Unix(1_700_000_000, 0), treasury, members)
}

func TestGenesisRoundTrip(t *testing.T) {
	gf := testGenesis(t, 4)
	g, err := ParseGenesis(gf.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cluster.Operators) != 4 || len(g.Addrs) != 4 || g.Cluster.Params.EpochLength != 30*time.Second {
		t.Fatalf("genesis = %+v", g)
	}
	for id, addrs := range g.Addrs {
		if !strings.HasSuffix(addrs[0], "/p2p/"+string(id)) {
			t.Fatalf("address %s does not name peer %s", addrs[0], id)
		}
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(path, gf.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGenesis(path); err != nil {
		t.Fatal(err)
	}
}

func TestGenesisRejectsBadFiles(t *testing.T) {
	good := testGenesis(t, 2)
	dup := good
	dup.Operators = append([]GenesisMember{}, good.Operators[0], good.Operators[0])
	noOps := good
	noOps.Operators = nil
	badKey := good
	badKey.Operators = append([]GenesisMember{}, good.Operators...)
	badKey.Operators[1].Key = "zz"
	badTreasury := good
	badTreasury.Treasury = "not-base58-0OIl"
	badEpoch := good
	badEpoch.EpochLength = "-3s"
	for _, tc := range []struct {
		name string
		gf   GenesisFile
		want string
	}{
		{"duplicate operator", dup, "twice"},
		{"no operators", noOps, "no operators"},
		{"bad key", badKey, "64 hex digits"},
		{"bad treasury", badTreasury, "treasury"},
		{"bad epoch length", badEpoch, "epoch_length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGenesis(tc.gf.Encode())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := ParseGenesis([]byte(`{"treasury": 1}`)); err == nil {
		t.Fatal("a mistyped field was accepted")
	}
	if _, err := ParseGenesis([]byte(`{"operators": [], "extra": true}`)); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
}

func FuzzParseGenesis(f *testing.F) {
	var members []GenesisMember
	for i := 0; i < 2; i++ {
		k := make([]byte, 64)
		k[0] = byte(i + 1)
		members = append(members, GenesisMember{Key: hexKey(k), Region: "r", Capacity: GenesisCapacity{VCPU: 1, MemoryMiB: 1, DiskGiB: 1}})
	}
	gf := NewGenesisFile(time.Unix(0, 0), payment.Address{1}, members)
	f.Add(gf.Encode())
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"operators":[{"key":"00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGenesis(data)
		if err != nil {
			return
		}
		if len(g.Cluster.Operators) == 0 || len(g.Addrs) != len(g.Cluster.Operators) {
			t.Fatalf("accepted genesis with %d operators and %d address lists", len(g.Cluster.Operators), len(g.Addrs))
		}
		if _, err := json.Marshal(g.Cluster); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add(RenderConfig(InitOptions{ListenIP: "0.0.0.0", P2PPort: 7700, APIListen: "127.0.0.1:8700", Driver: "none",
		URI: "qemu:///system", DomainPrefix: "dagger-", Genesis: "genesis.json", LogFormat: "text"}))
	f.Add([]byte("[node]\nkey = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.check() != nil || c.API.Listen == "" {
			t.Fatalf("accepted a config that fails its own checks: %+v", c)
		}
	})
}

func TestOfferedImagesMustBeThere(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "debian-12.qcow2"), []byte("qcow"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkImages(ProvisionSection{ImageDir: dir, Images: []string{"debian-12"}}); err != nil {
		t.Fatal(err)
	}
	err := checkImages(ProvisionSection{ImageDir: dir, Images: []string{"debian-12", "ubuntu-24.04"}})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ubuntu-24.04.qcow2")) {
		t.Fatalf("a missing image: %v", err)
	}
}
