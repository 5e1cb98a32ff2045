// Package scenario reads the YAML files that describe simulator runs: the
// committee, the network model, the workload, Byzantine behaviours, a
// timeline of faults and the expectations a run is judged by.
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
//	            gc_depth: 50, fetch_retry: 200ms}
//	network:
//	  latency: {dist: uniform, min: 20ms, max: 80ms}   # default: constant 50ms
//	  bandwidth: 1Gbps                # per-node uplink; omit for unlimited
//	  drop: 0.01                      # also duplicate, reorder
//	  links:                          # per-link overrides
//	    - {from: [0], to: [1, 2], latency: {dist: constant, value: 200ms}, drop: 0.1}
//	workload: {rate: 2000, tx_size: 256, nodes: [0, 1], from: 0s, until: 50s}
//	byzantine:
//	  - {node: 6, behavior: equivocate}
//	  - {node: 5, behavior: withhold, targets: [0, 1], from: 10s, until: 30s}
//	faults:                           # one action per entry
//	  - {at: 10s, partition: [[0, 1, 2], [3, 4, 5, 6]]}
//	  - {at: 12s, one_way: {from: [0], to: [1]}}
//	  - {at: 14s, isolate: 3}
//	  - {at: 15s, degrade: {from: [1], to: [2], drop: 0.2}}
//	  - {at: 20s, heal: true}
//	  - {at: 25s, crash: [2]}
//	  - {at: 35s, restart: [2], lose_state: true}
//	  - {at: 40s, clock_skew: {node: 3, offset: -2s}}
//	  - {at: 45s, slow: {node: 2, delay: 5ms}}
//	expect:
//	  liveness: {after: 40s, within: 5s}   # or {disabled: true}
//	  min_commit_tps: 1500
//	  max_latency_p99: 3s
//	  max_latency_p50: 1s
//
// Overrides (the CLI's --set key=value) edit the YAML tree before it is
// decoded, so an overridden value is checked exactly like one in the file.
package scenario

import (
	"time"
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
	MinTxSize         = 16
	MinGCDepth        = 3
	MaxGCDepth        = 100000
	// MaxSigma bounds the lognormal shape: beyond it the tail is so heavy
	// that a handful of messages take longer than the whole run.
	MaxSigma = 5
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
)

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
	BehaviorTwin,
	BehaviorWithhold,
}

// Scenario is one simulator run, with defaults filled in and validated.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Seed        uint64 `yaml:"seed"`
	// Duration is the simulated time of the run.
	Duration Duration `yaml:"duration"`
	// Nodes and Weights always agree after loading: Nodes is
	// len(Weights), and a file that gives only nodes gets weight 1 each.
	Nodes     int         `yaml:"nodes"`
	Weights   []uint64    `yaml:"weights,flow"`
	Crypto    string      `yaml:"crypto"`
	Consensus Consensus   `yaml:"consensus"`
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
	// Partition splits the nodes into groups that cannot reach each other
	// in either direction; nodes not listed form one more group.
	Partition [][]int `yaml:"partition,omitempty,flow"`
	// OneWay blocks messages from OneWay.From to OneWay.To only.
	OneWay *OneWay `yaml:"one_way,omitempty"`
	// Heal removes every partition, one-way block, isolation and
	// degradation.
	Heal    bool  `yaml:"heal,omitempty"`
	Crash   []int `yaml:"crash,omitempty,flow"`
	Restart []int `yaml:"restart,omitempty,flow"`
	// LoseState modifies Restart: the nodes come back with an empty store.
	LoseState bool `yaml:"lose_state,omitempty"`
	// Isolate cuts one node off in both directions until the next heal.
	Isolate *int `yaml:"isolate,omitempty"`
	// Degrade adds a link override until the next heal.
	Degrade   *Link      `yaml:"degrade,omitempty"`
	ClockSkew *ClockSkew `yaml:"clock_skew,omitempty"`
	Slow      *Slow      `yaml:"slow,omitempty"`
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
	MaxLatencyP99 Duration `yaml:"max_latency_p99,omitempty"`
	MaxLatencyP50 Duration `yaml:"max_latency_p50,omitempty"`
}

// Liveness says which transactions must commit: those submitted at or
// after After and no later than Within before the end of the run.
type Liveness struct {
	// After defaults to the later of the last fault's At and the end of
	// the latest Byzantine window that has an Until: the point from which
	// the network is expected to be back to normal.
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
