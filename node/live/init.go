package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dagger/node"
	"dagger/node/live/keyfile"
	"dagger/node/tx"
	"dagger/provision"
)

// InitOptions say what node init writes.
type InitOptions struct {
	Dir string
	// ListenIP is where libp2p listens; AdvertiseIP is the address the
	// other operators dial, written into member.json.
	ListenIP    string
	AdvertiseIP string
	P2PPort     int
	APIListen   string
	Driver      string
	URI         string
	// DomainPrefix names the node's libvirt domains.
	DomainPrefix string
	// Pool is libvirt's storage pool for the VMs' disks.
	Pool string
	// SeedDir holds the VMs' cloud-init seeds: an absolute path, by
	// default provision.DefaultSeedDir.
	SeedDir   string
	SolanaRPC string
	// Genesis is the genesis file's path, relative to Dir.
	Genesis   string
	LogFormat string
	Region    string
	Capacity  GenesisCapacity
	// Opaque enables POST /v1/opaque (benchmarks).
	Opaque bool
	// Pprof serves Go's profiles at /debug/pprof/ (the config's api.pprof).
	Pprof bool
	// CheckWorkers is the config's node.check_workers.
	CheckWorkers int
	// KeepEpochs is the config's store.keep_epochs; 0 means
	// node.DefaultKeepEpochs.
	KeepEpochs int
	// Publish is the config's provision.advertise: the address customers
	// reach the host's VMs at (empty: not published). ForwardPorts,
	// ForwardTable and ForwardNetNS are the rest of the forwarding set-up;
	// empty takes the defaults.
	Publish      string
	ForwardPorts string
	ForwardTable string
	ForwardNetNS string
}

// Init prepares a node directory: the operator key (kept if it exists),
// a commented config.toml, and member.json, the operator's entry for the
// cluster's genesis file. It refuses to overwrite a config.
func Init(o InitOptions) (GenesisMember, error) {
	var m GenesisMember
	if o.Dir == "" {
		return m, errors.New("init: no directory")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return m, fmt.Errorf("init: %w", err)
	}
	o.defaults()
	cfgPath := filepath.Join(o.Dir, "config.toml")
	if _, err := os.Stat(cfgPath); err == nil {
		return m, fmt.Errorf("init: %s exists: refusing to overwrite it", cfgPath)
	}
	keyPath := filepath.Join(o.Dir, "node.key")
	key, err := keyfile.Load(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		if key, err = keyfile.New(); err == nil {
			err = keyfile.Save(keyPath, key)
		}
	}
	if err != nil {
		return m, fmt.Errorf("init: %w", err)
	}
	var pub tx.Key
	copy(pub[:], key[32:])
	m = GenesisMember{Key: pub.String(), Region: o.Region, Capacity: o.Capacity,
		Addrs: []string{fmt.Sprintf("/ip4/%s/tcp/%d", o.AdvertiseIP, o.P2PPort)}}
	member, _ := json.MarshalIndent(m, "", "  ") // plain struct
	if err := os.WriteFile(filepath.Join(o.Dir, "member.json"), append(member, '\n'), 0o644); err != nil {
		return m, fmt.Errorf("init: %w", err)
	}
	cfg := RenderConfig(o)
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return m, fmt.Errorf("init: %w", err)
	}
	return m, nil
}

func (o *InitOptions) defaults() {
	if o.ListenIP == "" {
		o.ListenIP = "0.0.0.0"
	}
	if o.AdvertiseIP == "" {
		o.AdvertiseIP = "127.0.0.1"
	}
	if o.P2PPort == 0 {
		o.P2PPort = DefaultP2PPort
	}
	if o.APIListen == "" {
		o.APIListen = DefaultAPIListen
	}
	if o.Driver == "" {
		o.Driver = "none"
	}
	if o.URI == "" {
		o.URI = DefaultLibvirt
	}
	if o.DomainPrefix == "" {
		o.DomainPrefix = "dagger-"
	}
	if o.Pool == "" {
		o.Pool = "default"
		if strings.HasPrefix(o.URI, "test:") {
			o.Pool = "default-pool"
		}
	}
	if o.SeedDir == "" {
		o.SeedDir = provision.DefaultSeedDir
	}
	if o.Genesis == "" {
		o.Genesis = "genesis.json"
	}
	if o.LogFormat == "" {
		o.LogFormat = "text"
	}
	if o.Region == "" {
		o.Region = "local"
	}
	if o.KeepEpochs == 0 {
		o.KeepEpochs = node.DefaultKeepEpochs
	}
	if o.ForwardPorts == "" {
		o.ForwardPorts = fmt.Sprintf("%d-%d", provision.DefaultPortMin, provision.DefaultPortMax)
	}
	if o.ForwardTable == "" {
		o.ForwardTable = provision.DefaultForwardTable
	}
}
