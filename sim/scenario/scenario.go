// Package scenario reads the YAML files that describe simulator runs: the
// committee and the cluster above it, the network model, the transaction
// and VM workloads, Byzantine behaviours, a timeline of faults and the
// expectations a run is judged by.
//
// Parse and Load decode strictly (unknown fields are errors that name the
// file and line), fill in defaults and validate everything they can check
// without running the simulation, so the simulator can trust every index,
// window and probability it is handed. A parsed Scenario has no unset
// optional fields left: defaults are written into it, which makes the
// effective configuration of a run visible in one place and lets it be
// written back as YAML (yaml.Marshal) to reproduce the run.
//
// The file format, with every field:
//
//	name: partition-heal-7            # required, at most 128 characters
//	description: free text
//	seed: 1                           # default 1
//	duration: 60s                     # simulated time, required, at most 24h
//	nodes: 7                          # or weights: [1, 1, 2, ...], not both
//	crypto: ed25519                   # ed25519 | fast
//	consensus: {leader_timeout: 1s, max_event_txs: 10000, max_tx_bytes: 65536,
//	            gc_depth: 50, fetch_retry: 200ms,
//	            min_round_interval: 0s,   # least time between a node's events while idle; 0 to 1h
//	            max_event_tx_bytes: 0}    # most transaction bytes in one of a node's events; 0: no bound
//	network:
//	  latency: {dist: uniform, min: 20ms, max: 80ms}   # default: constant 50ms
//	  bandwidth: 1Gbps                # per-node uplink, a queue per peer; omit for unlimited
//	  drop: 0.01                      # also duplicate, reorder
//	  links:                          # per-link overrides
//	    - {from: [0], to: [1, 2], latency: {dist: constant, value: 200ms}, drop: 0.1}
//	cluster:                          # the cluster above consensus
//	  genesis: 5                      # nodes 0..4 found it; the others start as observers; default nodes
//	  regions: [eu, us]               # node i serves regions[i % len]; default [sim]
//	  vcpu: 16                        # host capacity of every node; also memory_mib: 65536, disk_gib: 1000
//	  boot_time: 2s                   # a simulated VM's boot
//	  boot_failure: 0.01              # probability that a boot fails; below 1
//	  epoch_length: 10s               # consensus time between epoch boundaries
//	  status_timeout: 10s             # a VM whose host is silent this long is rescheduled
//	  auto_approve: true              # operators vote to admit every joining operator
//	  price_vcpu_hour: 1000           # lamports; also price_memory_gib_hour: 100, price_disk_gib_hour: 1
//	workload:
//	  rate: 2000                      # transactions per second; 0 means none
//	  tx_size: 256
//	  nodes: [0, 1]                   # receivers; default every node without a byzantine entry
//	  from: 0s
//	  until: 50s
//	  vm:                             # customers creating, deleting and reading VMs
//	    rate: 5                       # operations per second (Poisson); 0 means none
//	    clients: 4                    # customers, each with its own wallet
//	    stale_reads: true             # vm-get from the local state: not linearizable, on purpose
//	    lease: 10m                    # whole seconds, 1m to 8784h
//	    vcpu: 1                       # spec of each VM; also memory_mib: 1024, disk_gib: 10
//	    image: debian-12
//	    bounce: 0.1                   # payment faults per vm-create, summing to at most 1:
//	    late: 0.1                     # finalized late_by after it is sent
//	    late_by: 20s
//	    replay: 0.1                   # reuses an earlier create's payment
//	    underpay: 0.1                 # pays less than the price
//	    timeout: 30s                  # a client stops waiting; the operation stays unfinished
//	    from: 0s
//	    until: 50s
//	byzantine:
//	  - {node: 6, behavior: equivocate}
//	  - {node: 5, behavior: withhold, targets: [0, 1], from: 10s, until: 30s}
//	faults:                           # one action per entry
//	  - {at: 10s, partition: [[0, 1, 2], [3, 4, 5, 6]]}   # unlisted nodes form one more group; see Twins
//	  - {at: 12s, one_way: {from: [0], to: [1]}}
//	  - {at: 14s, isolate: 3}
//	  - {at: 15s, degrade: {from: [1], to: [2], drop: 0.2}}
//	  - {at: 20s, heal: true}
//	  - {at: 25s, crash: [2]}
//	  - {at: 26s, crash: [1], lose_unsynced: true}   # a machine crash: the store loses what it had not synced
//	  - {at: 35s, restart: [2], lose_state: true}
//	  - {at: 36s, backup: [4]}        # a copy of the node's store as it is on disk
//	  - {at: 38s, crash: [4]}
//	  - {at: 39s, restart: [4], restore_backup: true}   # back on its newest backup, without rejoining
//	  - {at: 40s, clock_skew: {node: 3, offset: -2s}}
//	  - {at: 45s, slow: {node: 2, delay: 5ms}}
//	  - {at: 50s, join: 5}            # an observer (>= cluster.genesis, or one that left) asks to join
//	  - {at: 55s, leave: 1}           # a member leaves at the next epoch boundary
//	  - {at: 60s, remove: 2}          # every other operator votes a member out
//	  - {at: 65s, host_down: 3}       # the node's hypervisor dies with every VM on it
//	  - {at: 70s, host_up: 3}         # and comes back empty
//	  - {at: 75s, vm_crash: 4}        # the VM with the lowest id on the node crashes
//	  - {at: 80s, store_fault: {node: 1, kind: write-error, write: any}}   # write: any | event | last-signed | snapshot | prune
//	  - {at: 85s, store_fault: {node: 2, kind: corrupt, record: event}}    # record: event | last-signed | snapshot
//	  - {at: 90s, store_fault: {node: 3, kind: torn}}  # the node crashes in the middle of a write
//	expect:
//	  liveness: {after: 40s, within: 5s}   # or {disabled: true}
//	  provisioning: {settle: 22s}     # or {disabled: true}; default 2*status_timeout + boot_time, at most duration
//	  min_commit_tps: 1500
//	  max_latency_p99: 3s
//	  max_latency_p50: 1s
//
// Storage faults act on a node's store as the live on-disk one can fail;
// the node runs the live node's code against them. A write-error makes
// the node's next store write fail (write: any, the default, or only an
// event, last-signed, snapshot or prune write), whenever that comes, also
// after a crash and restart; the node stops, as a live node stops on a
// write error. A corrupt fault flips bytes of one stored
// record (record: event, the default, the newest event stored; last-signed;
// or snapshot, the newest); the store finds the damage by its checksum the
// next time the record is read (a restart reads them all; a peer's sync
// reads events) and the node stops or refuses to start. A torn fault
// crashes the node in the middle of a write: the record it wrote last is
// left truncated, and a restart on that store is refused. A crash with
// lose_unsynced: true is a machine crash rather than a process crash: the
// store loses the events written since its last synced write (its
// last-signed record and its snapshots are synced, so they are never
// lost). A node stopped by its store counts as down, like a crashed one,
// until a restart brings it back: on its store as it is (which a damaged
// store refuses) or, with lose_state: true, with an empty store, from
// which it rejoins as an operator restoring the node would. A restart must
// follow a crash, a torn fault, a write-error or corrupt fault that may
// have stopped the node, or a restart that a damaged store may have
// refused; a restart of a node that is running does nothing.
//
// A backup copies a node's store as a disk snapshot would, running or
// not: what it synced (its last-signed record, its snapshots, and every
// event written before its last synced write), and any damage it holds,
// but not the events written since, nor a write armed to fail. A restart
// with restore_backup: true brings each node back on a copy of its newest
// backup, which must have been taken before, instead of its store, and
// without rejoining: the operator restored the node and started it as
// usual. Its peers may hold events it signed after the backup; the node
// must learn them before it signs again (node.Ledger does, at every
// start), or it signs their rounds a second time.
//
// Overrides (the CLI's --set key=value) edit the YAML tree before it is
// decoded, so an overridden value is checked exactly like one in the file.
//
// # Twins
//
// A twin (behavior: twin) is a second instance of a Byzantine node: the
// same key, another network identity, started at its window's start. It
// shares its node's links: isolate, one_way and degrade hold for both
// instances (crash, restart, clock_skew and slow act on the original
// alone), and so does a partition that lists the node but not its twin.
// A partition may instead place the instances
// apart, which is the attack of Bano et al., "Twins: BFT Systems Made
// Robust": each instance of a Byzantine node talks to one side of a split
// that the honest nodes cannot bridge. A group member is then either a
// node index or a twin reference, {twin: N}, the twins of node N:
//
//	byzantine:
//	  - {node: 0, behavior: twin, from: 2s}
//	  - {node: 1, behavior: twin, from: 2s}
//	faults:
//	  - {at: 2s, partition: [[0, 1, 2], [{twin: 0}, {twin: 1}, 3]]}
//
// Every endpoint is in the groups that list it, and two endpoints reach
// each other when they share a group; a node and its own twin are two
// endpoints like any others. A node no group lists is in the group of the
// unlisted, as before; a twin no group lists follows its node. {twin: N}
// needs a twin entry for node N. An honest node (one without byzantine
// entries) is in exactly one group; a Byzantine node or a twin may be in
// several, talking to each while they cannot talk to one another:
// partition: [[0, 1, 2], [0, 3, 4]] lets node 0 see both halves.
//
// The separation is written in the partition rather than on the twin
// entry because a partition is already the timed fault that says who
// hears whom: the split of the instances starts, changes and heals with
// the timeline, and one line shows both sides. Group members are either
// a plain index or a one-key mapping, so a typo ({twn: 0}, or a twin of a
// node without one) is an error naming the line, and a scenario without
// twin references reads, and runs, exactly as before.
package scenario

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits. They bound the work and memory one scenario can ask for, so that a
// mistyped number fails fast instead of exhausting the machine.
const (
	// MaxFileSize is the largest scenario file Load and Parse accept.
	MaxFileSize = 1 << 20
	// MaxNodes matches the largest committee the consensus accepts
	// (graph.MaxCommitteeSize).
	MaxNodes = 1024
	// MaxTotalWeight matches the consensus's bound on a committee's total
	// weight (graph.MaxCommitteeWeight).
	MaxTotalWeight = 1 << 60
	// MaxDuration bounds a run's simulated time and every time in it.
	MaxDuration = 24 * time.Hour
	// MaxDelay bounds timeouts, link latencies and processing delays: a
	// longer one is almost certainly a unit mistake (1h for 1ms).
	MaxDelay     = time.Hour
	MaxFaults    = 100000
	MaxByzantine = 10000
	MaxLinks     = 10000
	// MaxRate is the highest workload rate, in transactions per second.
	MaxRate           = 1e6
	MaxNameLen        = 128
	MaxDescriptionLen = 4096
	MaxEventTxsLimit  = 100000
	MaxTxBytesLimit   = 1 << 20
	// MaxEventTxBytesLimit bounds consensus.max_event_tx_bytes: an
	// event's encoding is at most graph.DefaultMaxEventBytes.
	MaxEventTxBytesLimit = 16 << 20
	MinTxSize            = 16
	MinGCDepth           = 3
	MaxGCDepth           = 100000
	// MaxSigma bounds the lognormal shape: beyond it the tail is so heavy
	// that a handful of messages take longer than the whole run.
	MaxSigma = 5
)

// Limits of the cluster and the VM workload.
const (
	MaxRegions   = 64
	MaxRegionLen = 64
	// MaxHostCapacity bounds each of a host's vCPUs, memory in MiB and
	// disk in GiB.
	MaxHostCapacity = 1 << 20
	// MaxPrice bounds each price, in lamports per hour.
	MaxPrice = 1_000_000_000_000
	// MaxVMRate is the highest VM workload rate, in operations per second.
	MaxVMRate    = 1000
	MaxVMClients = 1000
	// MinLease and MaxLease bound a VM's lease (a leap year).
	MinLease       = time.Minute
	MaxLease       = 8784 * time.Hour
	MaxVMVCPU      = 1024
	MaxVMMemoryMiB = 16 << 20
	MaxVMDiskGiB   = 1 << 20
	MaxImageLen    = 256
)

// Defaults written into a Scenario for fields the file leaves out.
const (
	DefaultSeed          = 1
	DefaultCrypto        = CryptoEd25519
	DefaultLeaderTimeout = time.Second
	DefaultMaxEventTxs   = 10000
	DefaultMaxTxBytes    = 65536
	DefaultGCDepth       = 50
	DefaultFetchRetry    = 200 * time.Millisecond
	DefaultLatency       = 50 * time.Millisecond
	DefaultTxSize        = 256
	DefaultWithin        = 5 * time.Second
	DefaultFloodCount    = 8
	DefaultReplayCount   = 4

	DefaultRegion             = "sim"
	DefaultHostVCPU           = 16
	DefaultHostMemoryMiB      = 65536
	DefaultHostDiskGiB        = 1000
	DefaultBootTime           = 2 * time.Second
	DefaultEpochLength        = 10 * time.Second
	DefaultStatusTimeout      = 10 * time.Second
	DefaultAutoApprove        = true
	DefaultPriceVCPUHour      = 1000
	DefaultPriceMemoryGiBHour = 100
	DefaultPriceDiskGiBHour   = 1

	DefaultVMClients   = 4
	DefaultLease       = 10 * time.Minute
	DefaultVMVCPU      = 1
	DefaultVMMemoryMiB = 1024
	DefaultVMDiskGiB   = 10
	DefaultImage       = "debian-12"
	DefaultLateBy      = 20 * time.Second
	DefaultVMTimeout   = 30 * time.Second
)

// defaults are the values Parse writes into the fields a file leaves out
// (or sets to null), by the struct they belong to: every struct of a
// listed type starts out as a copy of its entry (a list in it is copied
// too; an entry holds no pointers). Defaults that depend on other
// fields are written in by validation instead: cluster.genesis,
// network.latency as a whole, the liveness window's start, the
// provisioning settle time, a behaviour's count and targets and a store
// fault's write or record.
var defaults = []any{
	Scenario{Seed: DefaultSeed, Crypto: DefaultCrypto},
	Consensus{LeaderTimeout: Duration(DefaultLeaderTimeout), MaxEventTxs: DefaultMaxEventTxs,
		MaxTxBytes: DefaultMaxTxBytes, GCDepth: DefaultGCDepth, FetchRetry: Duration(DefaultFetchRetry)},
	Cluster{Regions: []string{DefaultRegion}, VCPU: DefaultHostVCPU, MemoryMiB: DefaultHostMemoryMiB,
		DiskGiB: DefaultHostDiskGiB, BootTime: Duration(DefaultBootTime), EpochLength: Duration(DefaultEpochLength),
		StatusTimeout: Duration(DefaultStatusTimeout), AutoApprove: DefaultAutoApprove, PriceVCPUHour: DefaultPriceVCPUHour,
		PriceMemoryGiBHour: DefaultPriceMemoryGiBHour, PriceDiskGiBHour: DefaultPriceDiskGiBHour},
	Latency{Dist: DistConstant},
	Workload{TxSize: DefaultTxSize},
	VMWorkload{Clients: DefaultVMClients, Lease: Duration(DefaultLease), VCPU: DefaultVMVCPU,
		MemoryMiB: DefaultVMMemoryMiB, DiskGiB: DefaultVMDiskGiB, Image: DefaultImage,
		LateBy: Duration(DefaultLateBy), Timeout: Duration(DefaultVMTimeout)},
	Liveness{Within: Duration(DefaultWithin)},
}

// Crypto schemes.
const (
	CryptoEd25519 = "ed25519"
	// CryptoFast asks the simulator for a cheap stand-in for signatures,
	// for runs whose subject is not the cost of verification.
	CryptoFast = "fast"
)

// Latency distributions.
const (
	DistConstant  = "constant"
	DistUniform   = "uniform"
	DistNormal    = "normal"
	DistLognormal = "lognormal"
)

// Byzantine behaviours.
const (
	BehaviorBadParents       = "bad-parents"
	BehaviorEquivocate       = "equivocate"
	BehaviorFlood            = "flood"
	BehaviorInvalidSignature = "invalid-signature"
	BehaviorLazy             = "lazy"
	BehaviorMute             = "mute"
	BehaviorReplay           = "replay"
	BehaviorRunAhead         = "run-ahead"
	BehaviorTwin             = "twin"
	BehaviorWithhold         = "withhold"
)

// Behaviors lists the valid behaviour names, sorted, for help text.
// Validation does not read it, so changing it changes nothing else.
var Behaviors = []string{
	BehaviorBadParents,
	BehaviorEquivocate,
	BehaviorFlood,
	BehaviorInvalidSignature,
	BehaviorLazy,
	BehaviorMute,
	BehaviorReplay,
	BehaviorRunAhead,
	BehaviorTwin,
	BehaviorWithhold,
}

// Storage fault kinds.
const (
	StoreWriteError = "write-error"
	StoreCorrupt    = "corrupt"
	StoreTorn       = "torn"
)

// Writes a write-error fault may fail.
const (
	WriteAny        = "any"
	WriteEvent      = "event"
	WriteLastSigned = "last-signed"
	WriteSnapshot   = "snapshot"
	WritePrune      = "prune"
)

// Records a corrupt fault may damage.
const (
	RecordEvent      = "event"
	RecordLastSigned = "last-signed"
	RecordSnapshot   = "snapshot"
)

// Scenario is one simulator run, with defaults filled in and validated.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Seed        uint64 `yaml:"seed"`
	// Duration is the simulated time of the run.
	Duration Duration `yaml:"duration"`
	// Nodes and Weights always agree after loading: Nodes is
	// len(Weights), and a file that gives only nodes gets weight 1 each.
	Nodes     int         `yaml:"nodes" replaces:"Weights"`
	Weights   []uint64    `yaml:"weights,flow" replaces:"Nodes"`
	Crypto    string      `yaml:"crypto"`
	Consensus Consensus   `yaml:"consensus"`
	Cluster   Cluster     `yaml:"cluster"`
	Network   Network     `yaml:"network"`
	Workload  Workload    `yaml:"workload"`
	Byzantine []Byzantine `yaml:"byzantine,omitempty"`
	// Faults are sorted by At; entries with the same At keep file order.
	Faults []Fault `yaml:"faults,omitempty"`
	Expect Expect  `yaml:"expect"`
}

// Consensus holds the protocol parameters every node runs with.
type Consensus struct {
	LeaderTimeout Duration `yaml:"leader_timeout"`
	MaxEventTxs   int      `yaml:"max_event_txs"`
	MaxTxBytes    int      `yaml:"max_tx_bytes"`
	GCDepth       uint64   `yaml:"gc_depth"`
	FetchRetry    Duration `yaml:"fetch_retry"`
	// MinRoundInterval is the least time between two of a node's events
	// while it is not behind and has less than a full event queued (the
	// live node's pacing, node.LedgerConfig.MinRoundInterval); 0, the
	// default, proposes as soon as the graph allows.
	MinRoundInterval Duration `yaml:"min_round_interval"`
	// MaxEventTxBytes bounds the transaction bytes of one of a node's
	// events (the live node's node.max_event_tx_bytes,
	// node.LedgerConfig.MaxEventTxBytes); 0, the default, leaves only
	// max_event_txs.
	MaxEventTxBytes int `yaml:"max_event_tx_bytes,omitempty"`
}

// Cluster configures the cluster above consensus: which nodes found it,
// their hosts, prices and epochs.
type Cluster struct {
	// Genesis is how many nodes (0..Genesis-1) found the cluster and form
	// epoch 0's committee; the others start as observers that can join.
	// Default: Nodes.
	Genesis int `yaml:"genesis"`
	// Regions: node i serves Regions[i % len(Regions)].
	Regions []string `yaml:"regions,flow"`
	// VCPU, MemoryMiB and DiskGiB are the host capacity of every node.
	VCPU      int    `yaml:"vcpu"`
	MemoryMiB uint64 `yaml:"memory_mib"`
	DiskGiB   uint64 `yaml:"disk_gib"`
	// BootTime is how long a simulated VM takes to boot.
	BootTime Duration `yaml:"boot_time"`
	// BootFailure is the probability that a boot fails; below 1.
	BootFailure float64 `yaml:"boot_failure,omitempty"`
	// EpochLength is the consensus time between epoch boundaries.
	EpochLength Duration `yaml:"epoch_length"`
	// StatusTimeout: a VM whose host stopped reporting for this long is
	// rescheduled.
	StatusTimeout Duration `yaml:"status_timeout"`
	// AutoApprove: operators vote to admit every joining operator. It is
	// true when the file leaves it out.
	AutoApprove bool `yaml:"auto_approve"`
	// Prices in lamports per hour.
	PriceVCPUHour      uint64 `yaml:"price_vcpu_hour"`
	PriceMemoryGiBHour uint64 `yaml:"price_memory_gib_hour"`
	PriceDiskGiBHour   uint64 `yaml:"price_disk_gib_hour"`
}

// Latency is a one-way message delay distribution. Only the fields of Dist
// are meaningful; the others are zero.
type Latency struct {
	Dist  string   `yaml:"dist"`
	Value Duration `yaml:"value,omitempty"` // constant
	// Min and Max bound a uniform delay.
	Min Duration `yaml:"min,omitempty"`
	Max Duration `yaml:"max,omitempty"`
	// Mean and Stddev describe a normal delay; the simulator truncates
	// samples at 0.
	Mean   Duration `yaml:"mean,omitempty"`
	Stddev Duration `yaml:"stddev,omitempty"`
	// Median and Sigma describe a lognormal delay: exp(N(ln median, sigma²)).
	Median Duration `yaml:"median,omitempty"`
	Sigma  float64  `yaml:"sigma,omitempty"`
}

// MarshalYAML writes only the fields of the distribution, so that the output
// parses again: the decoder rejects fields that belong to another dist.
func (l Latency) MarshalYAML() (any, error) {
	switch l.Dist {
	case DistConstant:
		return struct {
			Dist  string   `yaml:"dist"`
			Value Duration `yaml:"value"`
		}{l.Dist, l.Value}, nil
	case DistUniform:
		return struct {
			Dist string   `yaml:"dist"`
			Min  Duration `yaml:"min"`
			Max  Duration `yaml:"max"`
		}{l.Dist, l.Min, l.Max}, nil
	case DistNormal:
		return struct {
			Dist   string   `yaml:"dist"`
			Mean   Duration `yaml:"mean"`
			Stddev Duration `yaml:"stddev"`
		}{l.Dist, l.Mean, l.Stddev}, nil
	case DistLognormal:
		return struct {
			Dist   string   `yaml:"dist"`
			Median Duration `yaml:"median"`
			Sigma  float64  `yaml:"sigma"`
		}{l.Dist, l.Median, l.Sigma}, nil
	}
	type plain Latency // without the method, so this does not recurse
	return plain(l), nil
}

// Link overrides the network model for messages from any node in From to
// any node in To. An empty list means every node. Nil fields keep the
// network-wide setting.
type Link struct {
	From      []int    `yaml:"from,omitempty,flow"`
	To        []int    `yaml:"to,omitempty,flow"`
	Latency   *Latency `yaml:"latency,omitempty"`
	Drop      *float64 `yaml:"drop,omitempty"`
	Duplicate *float64 `yaml:"duplicate,omitempty"`
	Reorder   *float64 `yaml:"reorder,omitempty"`
}

// Network is the message model between nodes.
type Network struct {
	Latency Latency `yaml:"latency"`
	// Bandwidth is each node's uplink; 0 means unlimited.
	Bandwidth Bandwidth `yaml:"bandwidth,omitempty"`
	// Drop, Duplicate and Reorder are per-message probabilities.
	Drop      float64 `yaml:"drop,omitempty"`
	Duplicate float64 `yaml:"duplicate,omitempty"`
	Reorder   float64 `yaml:"reorder,omitempty"`
	Links     []Link  `yaml:"links,omitempty"`
}

// Workload is the stream of client transactions.
type Workload struct {
	// Rate is transactions per second across the cluster; 0 means none.
	Rate   float64 `yaml:"rate,omitempty"`
	TxSize int     `yaml:"tx_size"`
	// Nodes receive the submissions; empty means every node without a
	// Byzantine entry.
	Nodes []int `yaml:"nodes,omitempty,flow"`
	// From and Until bound the submission window; Until 0 means the end
	// of the run.
	From  Duration `yaml:"from,omitempty"`
	Until Duration `yaml:"until,omitempty"`

	// VM is the customers' VM workload, which runs beside the
	// transactions.
	VM VMWorkload `yaml:"vm"`
}

// VMWorkload is simulated customers creating, deleting and reading VMs;
// their history is checked for linearizability.
type VMWorkload struct {
	// Rate is VM operations per second across all clients (Poisson); 0
	// means none.
	Rate float64 `yaml:"rate,omitempty"`
	// Clients is the number of customers, each with its own wallet.
	Clients int `yaml:"clients"`
	// StaleReads serves vm-get from the local state of the node asked,
	// instead of through the order: not linearizable, and the
	// linearizable check is expected to catch it.
	StaleReads bool `yaml:"stale_reads,omitempty"`
	// Lease of each VM, a whole number of seconds.
	Lease Duration `yaml:"lease"`
	// VCPU, MemoryMiB, DiskGiB and Image are the spec of each VM.
	VCPU      int    `yaml:"vcpu"`
	MemoryMiB uint64 `yaml:"memory_mib"`
	DiskGiB   uint64 `yaml:"disk_gib"`
	Image     string `yaml:"image"`
	// Payment faults, probabilities per vm-create that sum to at most 1.
	// Bounce: the Solana transaction fails on chain; Late: it is finalized
	// LateBy after it is sent; Replay: the create reuses a payment already
	// used by an earlier create; Underpay: it pays less than the price.
	Bounce   float64  `yaml:"bounce,omitempty"`
	Late     float64  `yaml:"late,omitempty"`
	LateBy   Duration `yaml:"late_by"`
	Replay   float64  `yaml:"replay,omitempty"`
	Underpay float64  `yaml:"underpay,omitempty"`
	// Timeout: a client stops waiting for an answer after this; the
	// operation stays unfinished in the history.
	Timeout Duration `yaml:"timeout"`
	// From and Until bound the window, as in Workload.
	From  Duration `yaml:"from,omitempty"`
	Until Duration `yaml:"until,omitempty"`
}

// Byzantine makes one node misbehave during a window. A node may have
// several entries as long as their windows do not overlap.
type Byzantine struct {
	Node     int    `yaml:"node"`
	Behavior string `yaml:"behavior"`
	// Targets is, for withhold, the peers the node withholds its events
	// from (required), and for equivocate the peers that get the second
	// version (default: the odd-indexed nodes other than itself). Other
	// behaviours have none.
	Targets []int `yaml:"targets,omitempty,flow"`
	// Count is, for flood, the extra events per round (default 8) and, for
	// replay, the old events resent per round (default 4).
	Count int `yaml:"count,omitempty"`
	// Size is, for flood, the size in bytes of the oversized event; 0
	// leaves the choice to the simulator.
	Size int `yaml:"size,omitempty"`
	// From and Until bound the active window; Until 0 means the end of
	// the run.
	From  Duration `yaml:"from,omitempty"`
	Until Duration `yaml:"until,omitempty"`
}

// Fault is one timed action; exactly one action field is set.
type Fault struct {
	At Duration `yaml:"at"`
	// Partition splits the network into groups; two endpoints reach each
	// other only if some group holds both. Nodes not listed form one more
	// group; a twin not listed follows its node. An honest node is in at
	// most one group, a Byzantine node or a twin may be in several (see
	// Twins in the package documentation).
	Partition [][]Endpoint `yaml:"partition,omitempty,flow"`
	// OneWay blocks messages from OneWay.From to OneWay.To only.
	OneWay *OneWay `yaml:"one_way,omitempty"`
	// Heal removes every partition, one-way block, isolation and
	// degradation.
	Heal  bool  `yaml:"heal,omitempty"`
	Crash []int `yaml:"crash,omitempty,flow"`
	// LoseUnsynced modifies Crash: the machine crashed, and each node's
	// store loses the events written since its last synced write.
	LoseUnsynced bool  `yaml:"lose_unsynced,omitempty"`
	Restart      []int `yaml:"restart,omitempty,flow"`
	// LoseState modifies Restart: the nodes come back with an empty store.
	LoseState bool `yaml:"lose_state,omitempty"`
	// RestoreBackup modifies Restart: each node comes back on a copy of
	// its newest Backup instead of its store, without rejoining.
	RestoreBackup bool `yaml:"restore_backup,omitempty"`
	// Backup copies each node's store as it is on disk: without the
	// events written since its last synced write. The copy is kept for a
	// later restart with RestoreBackup; a newer backup replaces it.
	Backup []int `yaml:"backup,omitempty,flow"`
	// Isolate cuts one node off in both directions until the next heal.
	Isolate *int `yaml:"isolate,omitempty"`
	// Degrade adds a link override until the next heal.
	Degrade   *Link      `yaml:"degrade,omitempty"`
	ClockSkew *ClockSkew `yaml:"clock_skew,omitempty"`
	Slow      *Slow      `yaml:"slow,omitempty"`
	// Join: the node asks to join the committee (operator-join). It must
	// be an observer then: a node from cluster.genesis up, or one that an
	// earlier leave or remove took out.
	Join *int `yaml:"join,omitempty"`
	// Leave: the node, a member then, leaves at the next epoch boundary
	// (operator-leave).
	Leave *int `yaml:"leave,omitempty"`
	// Remove: every other operator votes to remove the node
	// (operator-remove); it must be a member then.
	Remove *int `yaml:"remove,omitempty"`
	// HostDown: the node's hypervisor dies, and every VM on it is gone,
	// until HostUp brings it back empty.
	HostDown *int `yaml:"host_down,omitempty"`
	HostUp   *int `yaml:"host_up,omitempty"`
	// VMCrash: one VM running on the node, the one with the lowest id,
	// crashes.
	VMCrash *int `yaml:"vm_crash,omitempty"`
	// StoreFault damages the node's store.
	StoreFault *StoreFault `yaml:"store_fault,omitempty"`
}

// StoreFault is a storage fault of one node; see the package comment.
type StoreFault struct {
	Node int `yaml:"node"`
	// Kind is StoreWriteError, StoreCorrupt or StoreTorn.
	Kind string `yaml:"kind"`
	// Write is, for a write-error, the write that fails (WriteAny and the
	// other Write constants); default any. Other kinds have none.
	Write string `yaml:"write,omitempty"`
	// Record is, for corrupt, the record damaged (RecordEvent and the
	// other Record constants); default event. Other kinds have none.
	Record string `yaml:"record,omitempty"`
}

// Endpoint is one member of a partition group: node Node itself, or with
// Twin the twins of Byzantine node Node. A file writes the first as the
// node index (3) and the second as a twin reference ({twin: 3}).
type Endpoint struct {
	Node int
	Twin bool
}

// String writes the endpoint as a file does, for traces and messages.
func (e Endpoint) String() string {
	if e.Twin {
		return fmt.Sprintf("{twin: %d}", e.Node)
	}
	return strconv.Itoa(e.Node)
}

// decodeYAML reads a node index (3) or a twin reference ({twin: 3}).
func (e *Endpoint) decodeYAML(d *decoder, n *yaml.Node, path string) error {
	if n.Kind == yaml.MappingNode {
		var ref struct {
			Twin *int `yaml:"twin"`
		}
		if err := d.structure(n, reflect.ValueOf(&ref).Elem(), path); err != nil {
			return err
		}
		if ref.Twin == nil {
			return d.errorf(n, "%s: a twin reference names the node whose twin it is, e.g. {twin: 0}", path)
		}
		*e = Endpoint{Node: *ref.Twin, Twin: true}
		return nil
	}
	node, err := d.integer(n, path)
	if err != nil {
		return d.errorf(n, "%s: expected a node index (3) or a twin reference ({twin: 3}), got %s", path, describe(n))
	}
	*e = Endpoint{Node: node}
	return nil
}

// MarshalYAML writes the form Parse reads.
func (e Endpoint) MarshalYAML() (any, error) {
	if e.Twin {
		return struct {
			Twin int `yaml:"twin"`
		}{e.Node}, nil
	}
	return e.Node, nil
}

// OneWay is a directed block; an empty list means every node.
type OneWay struct {
	From []int `yaml:"from,omitempty,flow"`
	To   []int `yaml:"to,omitempty,flow"`
}

// ClockSkew sets a node's clock offset from simulated time; it may be
// negative, and 0 puts the clock right again.
type ClockSkew struct {
	Node   int      `yaml:"node"`
	Offset Duration `yaml:"offset"`
}

// Slow adds a processing delay to every message the node handles; 0 makes
// the node normal again.
type Slow struct {
	Node  int      `yaml:"node"`
	Delay Duration `yaml:"delay"`
}

// Expect is what a run must achieve to pass.
type Expect struct {
	Liveness Liveness `yaml:"liveness"`
	// MinCommitTPS is the lowest acceptable committed transactions per
	// second over the run; 0 means no check.
	MinCommitTPS float64 `yaml:"min_commit_tps,omitempty"`
	// MaxLatencyP99 and MaxLatencyP50 bound submission-to-commit latency;
	// 0 means no check.
	MaxLatencyP99 Duration     `yaml:"max_latency_p99,omitempty"`
	MaxLatencyP50 Duration     `yaml:"max_latency_p50,omitempty"`
	Provisioning  Provisioning `yaml:"provisioning"`
}

// Provisioning: at the end of the run every paid, unexpired VM runs on
// exactly one live operator, none runs twice, none runs unpaid.
type Provisioning struct {
	// Settle excludes VMs whose placement, lease end or deletion changed
	// in the last Settle of the run: they may still be booting or being
	// torn down. It defaults to 2*cluster.status_timeout +
	// cluster.boot_time, or the whole run if that is shorter.
	Settle   Duration `yaml:"settle"`
	Disabled bool     `yaml:"disabled,omitempty"`
}

// Liveness says which transactions must commit: those submitted at or
// after After and no later than Within before the end of the run. One
// submitted to a node that goes down (crashes, or is stopped by its store)
// before it commits there is no longer required of it: its client got no
// answer, and while the node is down nothing is submitted to it.
type Liveness struct {
	// After defaults to the later of the last fault's At (a fault of any
	// kind) and the end of the latest Byzantine window that has an Until:
	// the point from which the network is expected to be back to normal.
	After Duration `yaml:"after"`
	// Within is the grace at the end of the run for transactions that
	// cannot be expected to have committed yet.
	Within Duration `yaml:"within"`
	// Disabled turns the requirement off, for scenarios that exceed the
	// fault bound on purpose.
	Disabled bool `yaml:"disabled,omitempty"`
}

// Honest reports whether node i is a node of the scenario without any
// Byzantine entry. It scans Byzantine, so callers in a hot path should
// cache the answer.
func (s *Scenario) Honest(i int) bool {
	if i < 0 || i >= s.Nodes {
		return false
	}
	for _, b := range s.Byzantine {
		if b.Node == i {
			return false
		}
	}
	return true
}

// ByzantineCount is the number of distinct nodes with a Byzantine entry.
func (s *Scenario) ByzantineCount() int {
	seen := make([]bool, max(s.Nodes, 0))
	n := 0
	for _, b := range s.Byzantine {
		if b.Node >= 0 && b.Node < len(seen) && !seen[b.Node] {
			seen[b.Node] = true
			n++
		}
	}
	return n
}
