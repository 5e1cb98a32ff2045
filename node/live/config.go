package live

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"

	"dagger/graph"
	"dagger/node"
	"dagger/node/tx"
	"dagger/provision"
)

// MaxConfigBytes bounds a config file.
const MaxConfigBytes = 1 << 20

// Config is a node's configuration file (TOML). Relative paths are taken
// from the directory of the file. InitConfig writes a commented one.
type Config struct {
	Node      NodeSection      `toml:"node"`
	P2P       P2PSection       `toml:"p2p"`
	API       APISection       `toml:"api"`
	Store     StoreSection     `toml:"store"`
	Provision ProvisionSection `toml:"provision"`
	Solana    SolanaSection    `toml:"solana"`
	Log       LogSection       `toml:"log"`
	// dir is where the file was read from.
	dir string
}

// NodeSection names the node's key, the cluster and the node's duties.
type NodeSection struct {
	Key         string `toml:"key"`
	Genesis     string `toml:"genesis"`
	DataDir     string `toml:"data_dir"`
	AutoApprove bool   `toml:"auto_approve"`
	// LeaderTimeout is how long a round waits for its leader.
	LeaderTimeout Duration `toml:"leader_timeout"`
	// MinRoundInterval paces an idle node's events.
	MinRoundInterval Duration `toml:"min_round_interval"`
	// CheckWorkers is how many goroutines check signed transactions off
	// the node's loop (Options.CheckWorkers).
	CheckWorkers int `toml:"check_workers"`
	// MaxEventTxBytes bounds the transaction bytes of one of the node's
	// events (node.LedgerConfig.MaxEventTxBytes); 0 means
	// DefaultMaxEventTxBytes.
	MaxEventTxBytes int `toml:"max_event_tx_bytes"`
	// MaxQueueBytes bounds the transactions waiting for the node's events
	// (node.LedgerConfig.MaxQueueBytes); 0 means DefaultMaxQueueBytes.
	MaxQueueBytes int `toml:"max_queue_bytes"`
}

// P2PSection configures libp2p.
type P2PSection struct {
	Listen []string `toml:"listen"`
	// Peers are extra multiaddrs (with /p2p/<id>) to dial besides the
	// genesis operators' addresses.
	Peers []string `toml:"peers"`
}

// APISection configures the HTTP API and /metrics.
type APISection struct {
	Listen       string `toml:"listen"`
	MaxBodyBytes int64  `toml:"max_body_bytes"`
	// MaxConnections bounds the API's open connections; further clients
	// wait in the listen queue. 0 means a quarter of the process's file
	// descriptor limit, at most DefaultMaxAPIConnections, so that clients
	// can never take the descriptors the store and the peers need.
	MaxConnections int `toml:"max_connections"`
	// ClientRate is how many transactions a second one client IP may
	// submit (0: api.DefaultClientRate; -1: unlimited); loopback clients
	// are not limited.
	ClientRate float64 `toml:"client_rate"`
	// Opaque enables POST /v1/opaque: application transactions in bulk,
	// which the ledger orders and the cluster's state machine ignores.
	// They are what consensus throughput is benchmarked with; off by
	// default, since anyone who can reach the API could fill events
	// with them.
	Opaque bool `toml:"opaque"`
	// Pprof serves Go's profiles at /debug/pprof/ on the API's address,
	// for finding what a node spends its time on. Off by default: a
	// profile shows whoever can reach the API the node's internals.
	Pprof bool `toml:"pprof"`
}

// StoreSection configures persistence.
type StoreSection struct {
	Backend string `toml:"backend"`
	// KeepEpochs is how many ended epochs' events are kept for peers that
	// fall behind; -1 keeps everything.
	KeepEpochs int `toml:"keep_epochs"`
}

// ProvisionSection configures the host.
type ProvisionSection struct {
	// Driver is "libvirt" or "none" (a node that hosts nothing).
	Driver string `toml:"driver"`
	URI    string `toml:"uri"`
	Socket string `toml:"socket"`
	// DomainPrefix names this node's libvirt domains; the node never
	// touches a domain without it.
	DomainPrefix string `toml:"domain_prefix"`
	// Pool is the storage pool of the VMs' disks; ImageDir holds the base
	// images, <image>.qcow2; Network is the network their NIC joins.
	Pool     string `toml:"pool"`
	ImageDir string `toml:"image_dir"`
	// Images, if not empty, are the images this host offers (each
	// <image_dir>/<name>.qcow2, checked at start); a VM asking for another
	// fails here and moves on. Empty offers whatever image_dir holds.
	Images  []string `toml:"images"`
	Network string   `toml:"network"`
	// SeedDir holds each VM's cloud-init seed, which the node writes and
	// the hypervisor reads: an absolute path, the same for both.
	SeedDir string `toml:"seed_dir"`
	// Advertise, if not empty, is the address (IP or DNS name) customers
	// reach this host at: each running VM gets a port of ForwardPorts
	// ("22000-22999") forwarded to its SSH with nftables, in the table
	// ForwardTable, and the cluster publishes both as the VM's access.
	Advertise    string `toml:"advertise"`
	ForwardPorts string `toml:"forward_ports"`
	ForwardTable string `toml:"forward_table"`
	// ForwardNetNS, if not empty, is the network namespace (a path such as
	// /run/netns/NAME) whose nftables hold the forwards: where the host's
	// advertised address and its guests' network live, if not in the
	// node's own namespace.
	ForwardNetNS string `toml:"forward_netns"`
}

// forwardPorts parses ForwardPorts.
func (p ProvisionSection) forwardPorts() (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(p.ForwardPorts, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || x > y {
		return 0, 0, fmt.Errorf("provision.forward_ports %q: want a range of ports such as \"22000-22999\"", p.ForwardPorts)
	}
	return uint16(x), uint16(y), nil
}

// SolanaSection configures payment confirmation.
type SolanaSection struct {
	// RPC is the JSON-RPC endpoint; empty verifies payments offline only,
	// without asking the chain whether they were finalized.
	RPC        string `toml:"rpc"`
	Commitment string `toml:"commitment"`
}

// LogSection configures structured logs.
type LogSection struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Duration is a time.Duration written as "1s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("duration %q: want for example 1s or 500ms", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults of a config.
const (
	DefaultP2PPort   = 7700
	DefaultAPIListen = "127.0.0.1:8700"
	// DefaultMaxAPIConnections caps api.max_connections when it is 0.
	DefaultMaxAPIConnections = 1024
	DefaultLibvirt           = "qemu:///system"
	// DefaultMinRoundInterval keeps an idle cluster at about 20 rounds a
	// second; a full queue does not wait for it.
	DefaultMinRoundInterval = 50 * time.Millisecond
	// DefaultMaxEventTxBytes bounds a live node's events at 1 MiB of
	// transactions, 4,096 of 256 bytes: four nodes making 20 rounds a
	// second carry 330,000 such transactions a second, several times what
	// one machine commits, so the bound limits nothing while rounds keep
	// their pace. Without it, a devnet offered 70,000 tx/s on two cores
	// (dagger bench live) made events of up to 23 MB after a slow moment,
	// and fell to 1.5 events and 26,000 transactions a second; with it,
	// the same devnet commits 80,000 tx/s.
	DefaultMaxEventTxBytes = 1 << 20
	// DefaultMaxQueueBytes bounds a live node's queue at 16 full events,
	// about 3 s of a 4-node devnet's share of 80,000 tx/s: a node offered
	// more than it can order tells its clients to slow down (HTTP 503)
	// within seconds instead of holding minutes of transactions it
	// commits late or never. Offered 120,000 tx/s, a devnet whose nodes
	// queued up to 256 MiB held 1.4 million transactions it had not
	// committed after the drain; bounded, it refused what it could not
	// carry and committed 74,000 to 115,000 tx/s (dagger bench live).
	DefaultMaxQueueBytes = 16 << 20
)

// LoadConfig reads and checks a config file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.dir = abs
	return c, nil
}

// ParseConfig decodes a config file's contents, fills in defaults and
// checks them. Unknown keys are errors: a misspelt key would otherwise be
// silently ignored.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%d bytes: want at most %d", len(data), MaxConfigBytes)
	}
	c := &Config{}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("unknown key %q", und[0].String())
	}
	c.defaults()
	return c, c.check()
}

func (c *Config) defaults() {
	if c.Node.Key == "" {
		c.Node.Key = "node.key"
	}
	if c.Node.Genesis == "" {
		c.Node.Genesis = "genesis.json"
	}
	if c.Node.MinRoundInterval.Duration == 0 {
		c.Node.MinRoundInterval.Duration = DefaultMinRoundInterval
	}
	if c.Node.MaxEventTxBytes == 0 {
		c.Node.MaxEventTxBytes = DefaultMaxEventTxBytes
	}
	if c.Node.MaxQueueBytes == 0 {
		c.Node.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.Node.DataDir == "" {
		c.Node.DataDir = "data"
	}
	if len(c.P2P.Listen) == 0 {
		c.P2P.Listen = []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultP2PPort)}
	}
	if c.API.Listen == "" {
		c.API.Listen = DefaultAPIListen
	}
	if c.Store.KeepEpochs == 0 {
		c.Store.KeepEpochs = node.DefaultKeepEpochs
	}
	if c.Provision.Driver == "" {
		c.Provision.Driver = "none"
	}
	if c.Provision.URI == "" {
		c.Provision.URI = DefaultLibvirt
	}
	if c.Provision.DomainPrefix == "" {
		c.Provision.DomainPrefix = "dagger-"
	}
	if c.Provision.ForwardPorts == "" {
		c.Provision.ForwardPorts = fmt.Sprintf("%d-%d", provision.DefaultPortMin, provision.DefaultPortMax)
	}
	if c.Provision.ForwardTable == "" {
		c.Provision.ForwardTable = provision.DefaultForwardTable
	}
	if c.Solana.Commitment == "" {
		c.Solana.Commitment = "finalized"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

func (c *Config) check() error {
	switch c.Provision.Driver {
	case "none", "libvirt":
	default:
		return fmt.Errorf("provision.driver %q: want \"libvirt\" or \"none\"", c.Provision.Driver)
	}
	if c.Provision.SeedDir != "" && !filepath.IsAbs(c.Provision.SeedDir) {
		return fmt.Errorf("provision.seed_dir %q: want an absolute path, the same for the node and the hypervisor", c.Provision.SeedDir)
	}
	for _, name := range c.Provision.Images {
		if name == "" || strings.ContainsAny(name, "/\\") || name[0] == '.' {
			return fmt.Errorf("provision.images: %q is not an image name (the file <image_dir>/<name>.qcow2)", name)
		}
	}
	if a := c.Provision.Advertise; a != "" {
		if err := (tx.Access{Host: a, Port: 1}).Check(); err != nil {
			return fmt.Errorf("provision.advertise %q: want the IP address or DNS name customers reach this host at", a)
		}
		if _, _, err := c.Provision.forwardPorts(); err != nil {
			return err
		}
	}
	switch c.Solana.Commitment {
	case "finalized", "confirmed":
	default:
		return fmt.Errorf("solana.commitment %q: want \"finalized\" (or \"confirmed\" on test clusters)", c.Solana.Commitment)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: want \"text\" or \"json\"", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Node.CheckWorkers < -1 {
		return errors.New("node.check_workers must be a count, 0 for one per CPU but one, or -1 for none")
	}
	if c.Node.MaxEventTxBytes < 0 || c.Node.MaxEventTxBytes > graph.DefaultMaxEventBytes-graph.EventOverhead {
		return fmt.Errorf("node.max_event_tx_bytes %d: want bytes from 1 to %d (an event's bound), or 0 for %d", c.Node.MaxEventTxBytes, graph.DefaultMaxEventBytes-graph.EventOverhead, DefaultMaxEventTxBytes)
	}
	if c.Node.MaxQueueBytes < c.Node.MaxEventTxBytes {
		return fmt.Errorf("node.max_queue_bytes %d: want at least node.max_event_tx_bytes (%d), or 0 for %d", c.Node.MaxQueueBytes, c.Node.MaxEventTxBytes, DefaultMaxQueueBytes)
	}
	if c.API.MaxBodyBytes < 0 {
		return errors.New("api.max_body_bytes must not be negative")
	}
	if c.API.ClientRate < 0 && c.API.ClientRate != -1 {
		return errors.New("api.client_rate must be a rate, 0 for the default or -1 for unlimited")
	}
	if c.API.MaxConnections < 0 {
		return errors.New("api.max_connections must not be negative (0 picks a quarter of the descriptor limit)")
	}
	if c.Store.KeepEpochs < -1 {
		return fmt.Errorf("store.keep_epochs %d: want a number of epochs, or -1 to keep everything", c.Store.KeepEpochs)
	}
	return nil
}

// Path resolves a path of the config against the file's directory.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// configTemplate is what Init writes: every key, with what it does.
var configTemplate = template.Must(template.New("config").Parse(`# DAGGER node configuration. Relative paths are relative to this file.

[node]
# The operator's identity key (Solana keypair format): it signs events and
# the node's transactions, and its libp2p peer id is derived from it.
key = "node.key"
# The cluster's genesis file: the first committee, treasury and prices.
genesis = "{{.Genesis}}"
# Where events, the commit position and the last signed round are stored.
data_dir = "data"
# Vote to admit every operator that asks to join.
auto_approve = false
# How long a round waits for its leader once it has a quorum.
leader_timeout = "1s"
# The least time between two of this node's events while its queue holds
# less than a full event: an idle cluster makes about 20 rounds a second.
min_round_interval = "50ms"
# Goroutines that check the signatures of the transactions in peers' events
# ahead of their commit, off the node's loop; 0 picks one per CPU but one.
# -1: none, the loop checks them when it applies them, which is faster
# where several nodes share a machine's cores (dagger devnet).
check_workers = {{.CheckWorkers}}
# The most transaction bytes one of this node's events carries (1 MiB);
# what does not fit waits for the next event. Larger events after a slow
# round make the next rounds slower still.
max_event_tx_bytes = 1048576
# The most transaction bytes waiting for this node's events (16 MiB);
# beyond it clients are told to slow down (HTTP 503 with Retry-After).
max_queue_bytes = 16777216

[p2p]
# libp2p listen addresses. Peers are dialled over TCP when they advertise
# a TCP address (it costs a node far less than QUIC at load); a QUIC
# address, e.g. "/ip4/{{.ListenIP}}/udp/{{.P2PPort}}/quic-v1", serves peers
# that advertise QUIC only.
listen = ["/ip4/{{.ListenIP}}/tcp/{{.P2PPort}}"]
# Extra peers to dial (multiaddrs ending in /p2p/<peer id>); the genesis
# operators' addresses are dialled anyway.
peers = []

[api]
# The HTTP API and Prometheus /metrics.
listen = "{{.APIListen}}"
# Largest request body accepted, in bytes (a batch of 4096 transactions
# needs up to 8 MiB).
max_body_bytes = 8388608
# Most API connections open at once; 0 picks a quarter of the process's
# file descriptor limit (at most 1024), so that clients can never take
# the descriptors the store and the peers need.
max_connections = 0
# Transactions a second one client IP may submit on average (0 picks 1000,
# -1 is unlimited); loopback clients are not limited.
client_rate = 0
# POST /v1/opaque takes application transactions in bulk, which the ledger
# orders and the cluster's state machine ignores: what consensus throughput
# is benchmarked with. Off in production: anyone who can reach the API
# could fill events with them.
opaque = {{.Opaque}}
# Go's profiles at /debug/pprof/ on this address; they show whoever can
# reach it the node's internals.
pprof = {{.Pprof}}

[store]
# "pebble" or "goleveldb"; empty: the backend of the store the data
# directory holds, and pebble for a new one.
backend = "pebble"
# At every epoch start the node stores a snapshot of the cluster state, so
# a restart replays only the events since, and deletes the events of the
# epochs before the last keep_epochs: peers that fell behind by less can
# catch up from this node. -1 keeps everything.
keep_epochs = {{.KeepEpochs}}

[provision]
# "libvirt" provisions the VMs placed on this operator; "none" hosts nothing.
driver = "{{.Driver}}"
# libvirt's URI: qemu:///system in production, test:///default to try it out.
uri = "{{.URI}}"
# libvirtd's socket.
socket = "/var/run/libvirt/libvirt-sock"
# Prefix of this node's domain names; domains without it are never touched.
domain_prefix = "{{.DomainPrefix}}"
# The storage pool of the VMs' disks ("default-pool" on test:///default).
pool = "{{.Pool}}"
# Base images, one <image>.qcow2 per image name customers may ask for:
# cloud images that run cloud-init (the customer's SSH key comes through it).
image_dir = "/var/lib/dagger/images"
# The images this host offers, each checked in image_dir at start, e.g.
# ["debian-12", "ubuntu-24.04"]; a VM asking for another fails here and the
# cluster places it elsewhere. Empty: whatever image_dir holds.
images = []
# The libvirt network VMs join.
network = "default"
# Each VM's cloud-init seed (its SSH key), written by the node and read by
# the hypervisor's processes: an absolute path that both see as the same.
seed_dir = "{{.SeedDir}}"
# The address (IP or DNS name) customers reach this host at. When set, each
# running VM gets a port of forward_ports forwarded to its SSH port with
# nftables (the node's own table, forward_table; it needs root or
# CAP_NET_ADMIN), and the cluster publishes "ssh -p PORT dagger@ADDRESS" as
# the VM's access. Empty: VMs run, but nobody outside the host reaches them.
advertise = "{{.Publish}}"
forward_ports = "{{.ForwardPorts}}"
# Two nodes on one host need two tables and two port ranges.
forward_table = "{{.ForwardTable}}"
# The network namespace whose nftables hold the forwards (a path such as
# /run/netns/NAME), if not the node's own.
forward_netns = "{{.ForwardNetNS}}"

[solana]
# JSON-RPC endpoint used to confirm payments. Empty: payments are checked
# offline only (signatures, amount, memo), never confirmed on chain, which
# is only for test clusters.
rpc = "{{.SolanaRPC}}"
# "finalized" (safe) or "confirmed" (test clusters only).
commitment = "finalized"

[log]
level = "info"   # debug, info, warn, error
format = "{{.LogFormat}}"  # text or json
`))

// RenderConfig returns a commented config file for o.
func RenderConfig(o InitOptions) []byte {
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, o); err != nil {
		panic(err) // the template and InitOptions are fixed
	}
	return b.Bytes()
}
