package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"dagger/graph"
)

const examplePath = "testdata/partition-heal-7.yaml"

// base is the smallest valid scenario; error cases append to it.
const base = "name: t\nduration: 60s\nnodes: 4\n"

func sec(n float64) Duration { return Duration(n * float64(time.Second)) }
func ms(n int) Duration      { return Duration(time.Duration(n) * time.Millisecond) }

// clusterDefaults is the cluster section a file of nodes nodes gets when it
// leaves the section out.
func clusterDefaults(nodes int) Cluster {
	return Cluster{Genesis: nodes, Regions: []string{"sim"}, VCPU: 16, MemoryMiB: 65536, DiskGiB: 1000,
		BootTime: sec(2), EpochLength: sec(10), StatusTimeout: sec(10), AutoApprove: true,
		PriceVCPUHour: 1000, PriceMemoryGiBHour: 100, PriceDiskGiBHour: 1}
}

// vmDefaults is the VM workload a file gets when it leaves it out.
var vmDefaults = VMWorkload{Clients: 4, Lease: sec(600), VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, Image: "debian-12",
	LateBy: sec(20), Timeout: sec(30)}

// members is a partition group of nodes, without twins.
func members(nodes ...int) []Endpoint {
	out := make([]Endpoint, len(nodes))
	for i, n := range nodes {
		out[i] = Endpoint{Node: n}
	}
	return out
}

// The field names of sections, as a file writes them.
var (
	clusterFields      = fieldNames[Cluster]()
	vmFields           = fieldNames[VMWorkload]()
	provisioningFields = fieldNames[Provisioning]()
)

func fieldNames[T any]() []string {
	var names []string
	for _, f := range structOf(reflect.TypeFor[T]()).fields {
		names = append(names, f.name)
	}
	return names
}

// TestDecoderKnowsEveryType walks the types a file can reach: every
// struct has a yaml name for each field, every slice type a listSpecs
// entry, every other type a decoder, and every defaults entry is reached.
// The decoder panics on a gap only when a file uses the field, so this
// finds one before a file does.
func TestDecoderKnowsEveryType(t *testing.T) {
	reached := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		if reflect.PointerTo(typ).Implements(reflect.TypeFor[decodable]()) {
			return
		}
		switch typ.Kind() {
		case reflect.Struct:
			reached[typ] = true
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", path, r)
				}
			}()
			for _, f := range structOf(typ).fields {
				walk(f.typ, join(path, f.name))
			}
		case reflect.Pointer:
			walk(typ.Elem(), path)
		case reflect.Slice:
			if _, ok := listSpecs[typ]; !ok {
				t.Errorf("%s: %v has no listSpecs entry", path, typ)
			}
			walk(typ.Elem(), path+"[]")
		case reflect.String, reflect.Int, reflect.Uint64, reflect.Float64, reflect.Bool:
		default:
			t.Errorf("%s: the decoder has nothing for %v", path, typ)
		}
	}
	walk(reflect.TypeFor[Scenario](), "")
	for _, v := range defaults {
		if !reached[reflect.TypeOf(v)] {
			t.Errorf("defaults has an entry for %T, which no file reaches", v)
		}
	}
}

func mustParse(t *testing.T, doc string, sets ...string) *Scenario {
	t.Helper()
	s, err := Parse([]byte(doc), "x.yaml", overrides(t, sets)...)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return s
}

func overrides(t *testing.T, sets []string) []Override {
	t.Helper()
	var out []Override
	for _, s := range sets {
		o, err := ParseOverride(s)
		if err != nil {
			t.Fatalf("ParseOverride(%q): %v", s, err)
		}
		out = append(out, o)
	}
	return out
}

func TestExampleParsesWithDefaults(t *testing.T) {
	s, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"Name", s.Name, "partition-heal-7"},
		{"Description", s.Description, "seven nodes, a 3/4 split for 10 s, one equivocator"},
		{"Seed", s.Seed, uint64(1)},
		{"Duration", s.Duration, sec(60)},
		{"Nodes", s.Nodes, 7},
		{"Weights", s.Weights, []uint64{1, 1, 1, 1, 1, 1, 1}},
		{"Crypto", s.Crypto, "ed25519"},
		{"Consensus", s.Consensus, Consensus{LeaderTimeout: sec(1), MaxEventTxs: 2000, MaxTxBytes: 65536, GCDepth: 50, FetchRetry: ms(200)}},
		{"Cluster", s.Cluster, clusterDefaults(7)},
		{"Network.Latency", s.Network.Latency, Latency{Dist: "uniform", Min: ms(20), Max: ms(80)}},
		{"Network.Bandwidth", s.Network.Bandwidth, Bandwidth(1_000_000_000)},
		{"Network.Drop", s.Network.Drop, 0.01},
		{"Network.Duplicate", s.Network.Duplicate, 0.001},
		{"Network.Reorder", s.Network.Reorder, 0.0},
		{"Network.Links", len(s.Network.Links), 0},
		{"Workload", s.Workload, Workload{Rate: 2000, TxSize: 256, VM: vmDefaults}},
		{"Byzantine", s.Byzantine, []Byzantine{
			{Node: 6, Behavior: "equivocate", Targets: []int{1, 3, 5}},
			{Node: 5, Behavior: "withhold", Targets: []int{0, 1}, From: sec(10), Until: sec(30)},
		}},
		{"Faults", s.Faults, []Fault{
			{At: sec(10), Partition: [][]Endpoint{members(0, 1, 2), members(3, 4, 5, 6)}},
			{At: sec(20), Heal: true},
			{At: sec(25), Crash: []int{2}},
			{At: sec(35), Restart: []int{2}},
			{At: sec(40), ClockSkew: &ClockSkew{Node: 3, Offset: sec(2)}},
		}},
		{"Expect", s.Expect, Expect{Liveness: Liveness{After: sec(40), Within: sec(5)}, MinCommitTPS: 1500, MaxLatencyP99: sec(3),
			Provisioning: Provisioning{Settle: sec(22)}}},
		{"Honest(0)", s.Honest(0), true},
		{"Honest(5)", s.Honest(5), false},
		{"Honest(6)", s.Honest(6), false},
		{"Honest(7)", s.Honest(7), false},
		{"ByzantineCount", s.ByzantineCount(), 2},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %+v, want %+v", c.field, c.got, c.want)
		}
	}
}

func TestMinimalScenarioGetsEveryDefault(t *testing.T) {
	s := mustParse(t, base)
	want := &Scenario{
		Name: "t", Seed: 1, Duration: sec(60), Nodes: 4, Weights: []uint64{1, 1, 1, 1}, Crypto: "ed25519",
		Consensus: Consensus{LeaderTimeout: sec(1), MaxEventTxs: 10000, MaxTxBytes: 65536, GCDepth: 50, FetchRetry: ms(200)},
		Cluster:   clusterDefaults(4),
		Network:   Network{Latency: Latency{Dist: "constant", Value: ms(50)}},
		Workload:  Workload{TxSize: 256, VM: vmDefaults},
		Expect:    Expect{Liveness: Liveness{Within: sec(5)}, Provisioning: Provisioning{Settle: sec(22)}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	roundTrip(t, s)

	// Written back, every default is spelled out, so a saved run keeps
	// its configuration even if a default changes later. Only the fields
	// whose zero is their default may be left out.
	out, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	section := func(path ...string) map[string]any {
		m := doc
		for _, k := range path {
			m, _ = m[k].(map[string]any)
		}
		return m
	}
	for _, c := range []struct {
		path     []string
		known    []string
		zeroDefs []string
	}{
		{[]string{"cluster"}, clusterFields, []string{"boot_failure"}},
		{[]string{"workload", "vm"}, vmFields, []string{"rate", "stale_reads", "bounce", "late", "replay", "underpay", "from", "until"}},
		{[]string{"expect", "provisioning"}, provisioningFields, []string{"disabled"}},
	} {
		m := section(c.path...)
		for _, k := range c.known {
			if _, ok := m[k]; !ok && !slices.Contains(c.zeroDefs, k) {
				t.Errorf("%s.%s is not written out:\n%s", strings.Join(c.path, "."), k, out)
			}
		}
	}
}

func TestValidScenarios(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, s *Scenario)
	}{
		{"weights fill nodes", "name: t\nduration: 60s\nweights: [1, 2, 3]\n", func(t *testing.T, s *Scenario) {
			if s.Nodes != 3 || !slices.Equal(s.Weights, []uint64{1, 2, 3}) {
				t.Errorf("nodes %d weights %v", s.Nodes, s.Weights)
			}
		}},
		{"nodes agreeing with weights", "name: t\nduration: 60s\nnodes: 2\nweights: [5, 1]\n", func(t *testing.T, s *Scenario) {
			if s.Nodes != 2 {
				t.Errorf("nodes %d", s.Nodes)
			}
		}},
		{"seed 0 is kept", base + "seed: 0\n", func(t *testing.T, s *Scenario) {
			if s.Seed != 0 {
				t.Errorf("seed %d", s.Seed)
			}
		}},
		{"faults sorted stably, crash/restart replayed in time order", base + `faults:
  - {at: 30s, restart: [1]}
  - {at: 10s, crash: [1]}
  - {at: 10s, isolate: 2}
  - {at: 5s, slow: {node: 3, delay: 5ms}}
`, func(t *testing.T, s *Scenario) {
			var got []Duration
			for _, f := range s.Faults {
				got = append(got, f.At)
			}
			if !slices.Equal(got, []Duration{sec(5), sec(10), sec(10), sec(30)}) || s.Faults[1].Crash == nil || s.Faults[2].Isolate == nil {
				t.Errorf("faults %+v", s.Faults)
			}
		}},
		{"liveness after defaults to the latest fault or window end", base + `byzantine:
  - {node: 3, behavior: mute, from: 5s, until: 45s}
faults:
  - {at: 40s, heal: true}
`, func(t *testing.T, s *Scenario) {
			if s.Expect.Liveness.After != sec(45) {
				t.Errorf("after %v", s.Expect.Liveness.After)
			}
		}},
		{"liveness disabled skips the window check", base + "faults: [{at: 59s, heal: true}]\nexpect: {liveness: {disabled: true}}\n", func(t *testing.T, s *Scenario) {
			if !s.Expect.Liveness.Disabled || s.Expect.Liveness.After != sec(59) {
				t.Errorf("liveness %+v", s.Expect.Liveness)
			}
		}},
		{"every distribution", base + `network:
  latency: {dist: lognormal, median: 40ms, sigma: 0.5}
  links:
    - {from: [0], latency: {value: 1s}}
    - {to: [1, 2], latency: {dist: normal, mean: 10ms, stddev: 2ms}, reorder: 0.5}
    - {drop: 0}
`, func(t *testing.T, s *Scenario) {
			l := s.Network.Links
			if s.Network.Latency != (Latency{Dist: "lognormal", Median: ms(40), Sigma: 0.5}) ||
				*l[0].Latency != (Latency{Dist: "constant", Value: sec(1)}) ||
				l[1].Latency.Dist != "normal" || *l[1].Reorder != 0.5 || l[1].From != nil ||
				l[2].Drop == nil || *l[2].Drop != 0 {
				t.Errorf("network %+v", s.Network)
			}
		}},
		{"behaviour defaults", base + `byzantine:
  - {node: 0, behavior: flood}
  - {node: 1, behavior: replay, count: 2}
  - {node: 2, behavior: equivocate}
  - {node: 3, behavior: flood, size: 100000, from: 0s, until: 10s}
  - {node: 3, behavior: twin, from: 10s}
`, func(t *testing.T, s *Scenario) {
			b := s.Byzantine
			if b[0].Count != 8 || b[1].Count != 2 || !slices.Equal(b[2].Targets, []int{1, 3}) || b[3].Count != 8 || s.ByzantineCount() != 4 {
				t.Errorf("byzantine %+v", b)
			}
		}},
		{"twins on both sides of a split", base + `byzantine:
  - {node: 0, behavior: twin, from: 2s}
  - {node: 1, behavior: twin, from: 2s}
faults:
  - at: 2s
    partition:
      - [0, 1, 2]
      - [{twin: 0}, {twin: 1}, 3]
`, func(t *testing.T, s *Scenario) {
			twin := func(n int) Endpoint { return Endpoint{Node: n, Twin: true} }
			want := [][]Endpoint{members(0, 1, 2), {twin(0), twin(1), {Node: 3}}}
			if !reflect.DeepEqual(s.Faults[0].Partition, want) {
				t.Errorf("partition %v", s.Faults[0].Partition)
			}
		}},
		{"a byzantine node and a twin in several groups", base + `byzantine:
  - {node: 0, behavior: equivocate, until: 5s}
  - {node: 0, behavior: twin, from: 5s}
faults:
  - {at: 1s, partition: [[0, 1], [0, 2], [3, {twin: 0}]]}
  - {at: 6s, partition: [[{twin: 0}, 1, 2], [{twin: 0}, 0, 3]]}
`, func(t *testing.T, s *Scenario) {
			if got := fmt.Sprint(s.Faults[1].Partition); got != "[[{twin: 0} 1 2] [{twin: 0} 0 3]]" {
				t.Errorf("partition %s", got)
			}
		}},
		{"every fault action", base + `faults:
  - {at: 1s, partition: [[0]]}
  - {at: 2s, one_way: {from: [1]}}
  - {at: 3s, isolate: 3}
  - {at: 4s, degrade: {from: [0], to: [1], drop: 0.2, latency: {dist: uniform, min: 0s, max: 1s}}}
  - {at: 5s, heal: true}
  - {at: 6s, crash: [0, 1]}
  - {at: 7s, restart: [0], lose_state: true}
  - {at: 8s, clock_skew: {node: 2, offset: -2s}}
  - {at: 9s, slow: {node: 2, delay: 0}}
`, func(t *testing.T, s *Scenario) {
			f := s.Faults
			if len(f) != 9 || f[6].LoseState != true || f[7].ClockSkew.Offset != sec(-2) || *f[3].Degrade.Drop != 0.2 || f[1].OneWay.To != nil {
				t.Errorf("faults %+v", f)
			}
		}},
		{"storage faults with their defaults", base + `consensus: {min_round_interval: 50ms}
faults:
  - {at: 1s, store_fault: {node: 0, kind: write-error}}
  - {at: 2s, store_fault: {node: 1, kind: write-error, write: last-signed}}
  - {at: 3s, store_fault: {node: 2, kind: corrupt}}
  - {at: 4s, store_fault: {node: 3, kind: corrupt, record: snapshot}}
  - {at: 5s, store_fault: {node: 2, kind: corrupt, record: last-signed}}
  - {at: 6s, restart: [0, 2]}
  - {at: 7s, store_fault: {node: 0, kind: torn}}
  - {at: 8s, crash: [1, 3], lose_unsynced: true}
  - {at: 9s, restart: [0, 1, 3], lose_state: true}
`, func(t *testing.T, s *Scenario) {
			f := s.Faults
			want := []StoreFault{{0, "write-error", "any", ""}, {1, "write-error", "last-signed", ""}, {2, "corrupt", "", "event"},
				{3, "corrupt", "", "snapshot"}, {2, "corrupt", "", "last-signed"}}
			for i, w := range want {
				if *f[i].StoreFault != w {
					t.Errorf("fault %d: %+v, want %+v", i, *f[i].StoreFault, w)
				}
			}
			if f[6].StoreFault.Kind != "torn" || !f[7].LoseUnsynced || s.Consensus.MinRoundInterval != ms(50) {
				t.Errorf("faults %+v, consensus %+v", f, s.Consensus)
			}
		}},
		{"a node stopped by its store may crash, losing what it had not synced; a damaged store may refuse restarts", base + `faults:
  - {at: 1s, store_fault: {node: 1, kind: write-error, write: event}}
  - {at: 2s, crash: [1], lose_unsynced: true}
  - {at: 3s, restart: [1]}
  - {at: 4s, store_fault: {node: 1, kind: corrupt}}
  - {at: 5s, store_fault: {node: 1, kind: torn}}
  - {at: 6s, store_fault: {node: 1, kind: corrupt}}
  - {at: 7s, restart: [1]}
  - {at: 8s, restart: [1]}
  - {at: 9s, restart: [1], lose_state: true}
`, func(t *testing.T, s *Scenario) {
			if len(s.Faults) != 9 || s.Expect.Liveness.After != sec(9) {
				t.Errorf("faults %+v", s.Faults)
			}
		}},
		{"backups, and restarts on the newest one", base + `faults:
  - {at: 1s, backup: [1, 2]}
  - {at: 2s, crash: [1]}
  - {at: 3s, restart: [1], restore_backup: true}
  - {at: 4s, store_fault: {node: 2, kind: corrupt}}
  - {at: 5s, backup: [2]}
  - {at: 6s, crash: [2]}
  - {at: 7s, restart: [2], restore_backup: true}
  - {at: 8s, restart: [2], lose_state: true}
  - {at: 9s, crash: [2]}
  - {at: 9s, restart: [2], restore_backup: true}
`, func(t *testing.T, s *Scenario) {
			f := s.Faults
			if len(f) != 10 || !slices.Equal(f[0].Backup, []int{1, 2}) || !f[2].RestoreBackup || f[2].LoseState || f[7].RestoreBackup || !f[9].RestoreBackup {
				t.Errorf("faults %+v", f)
			}
		}},
		{"cluster fields", "name: t\nduration: 60s\nnodes: 7\n" + `cluster:
  genesis: 5
  regions: [eu-west, us-1]
  vcpu: 1048576
  memory_mib: 1
  disk_gib: 1048576
  boot_time: 0
  boot_failure: 0.5
  epoch_length: 24h
  status_timeout: 1h
  auto_approve: false
  price_vcpu_hour: 0
  price_memory_gib_hour: 1000000000000
  price_disk_gib_hour: 7
`, func(t *testing.T, s *Scenario) {
			want := Cluster{Genesis: 5, Regions: []string{"eu-west", "us-1"}, VCPU: 1 << 20, MemoryMiB: 1, DiskGiB: 1 << 20,
				BootFailure: 0.5, EpochLength: Duration(24 * time.Hour), StatusTimeout: Duration(time.Hour),
				PriceMemoryGiBHour: 1e12, PriceDiskGiBHour: 7}
			if !reflect.DeepEqual(s.Cluster, want) {
				t.Errorf("cluster %+v", s.Cluster)
			}
			// The default settle follows the cluster, capped at the run.
			if s.Expect.Provisioning.Settle != sec(60) {
				t.Errorf("settle %v", s.Expect.Provisioning.Settle)
			}
		}},
		{"settle defaults to twice the status timeout plus the boot time", base + "cluster: {status_timeout: 5s, boot_time: 1s}\n", func(t *testing.T, s *Scenario) {
			if s.Expect.Provisioning.Settle != sec(11) {
				t.Errorf("settle %v", s.Expect.Provisioning.Settle)
			}
		}},
		{"settle default capped by a short run", "name: t\nduration: 20s\nnodes: 4\n", func(t *testing.T, s *Scenario) {
			if s.Expect.Provisioning.Settle != sec(20) {
				t.Errorf("settle %v", s.Expect.Provisioning.Settle)
			}
		}},
		{"provisioning given", base + "expect: {provisioning: {settle: 0s, disabled: true}}\n", func(t *testing.T, s *Scenario) {
			if s.Expect.Provisioning != (Provisioning{Disabled: true}) {
				t.Errorf("provisioning %+v", s.Expect.Provisioning)
			}
		}},
		{"vm workload fields", base + `workload:
  vm:
    rate: 1000
    clients: 1000
    stale_reads: true
    lease: 8784h
    vcpu: 1024
    memory_mib: 16777216
    disk_gib: 1048576
    image: "ubuntu 24.04 ✓"
    bounce: 0.1
    late: 0.2
    late_by: 0s
    replay: 0.3
    underpay: 0.4
    timeout: 1h
    from: 5s
    until: 50s
`, func(t *testing.T, s *Scenario) {
			// The shares add up to a hair above 1 in floating point.
			want := VMWorkload{Rate: 1000, Clients: 1000, StaleReads: true, Lease: Duration(8784 * time.Hour), VCPU: 1024,
				MemoryMiB: 16 << 20, DiskGiB: 1 << 20, Image: "ubuntu 24.04 ✓", Bounce: 0.1, Late: 0.2, Replay: 0.3, Underpay: 0.4,
				Timeout: Duration(time.Hour), From: sec(5), Until: sec(50)}
			if s.Workload.VM != want {
				t.Errorf("vm %+v", s.Workload.VM)
			}
		}},
		{"vm lease at its minimum", base + "workload: {vm: {lease: 1m}}\n", func(t *testing.T, s *Scenario) {
			if s.Workload.VM.Lease != sec(60) {
				t.Errorf("lease %v", s.Workload.VM.Lease)
			}
		}},
		{"membership churn", "name: t\nduration: 90s\nnodes: 7\ncluster: {genesis: 5}\n" + `faults:
  - {at: 60s, remove: 2}
  - {at: 10s, join: 5}
  - {at: 20s, join: 6}
  - {at: 45s, leave: 1}
  - {at: 50s, join: 1}
  - {at: 55s, leave: 5}
  - {at: 58s, join: 5}
  - {at: 30s, host_down: 3}
  - {at: 40s, host_up: 3}
  - {at: 41s, host_down: 3}
  - {at: 35s, vm_crash: 6}
  - {at: 35s, vm_crash: 6}
`, func(t *testing.T, s *Scenario) {
			f := s.Faults
			if len(f) != 12 || *f[0].Join != 5 || *f[len(f)-1].Remove != 2 || *f[3].VMCrash != 6 ||
				s.Expect.Liveness.After != sec(60) {
				t.Errorf("faults %+v, liveness %+v", f, s.Expect.Liveness)
			}
		}},
		{"remove down to one member", "name: t\nduration: 60s\nnodes: 3\nfaults: [{at: 1s, remove: 0}, {at: 2s, leave: 1}]\n", func(t *testing.T, s *Scenario) {
			if len(s.Faults) != 2 {
				t.Errorf("faults %+v", s.Faults)
			}
		}},
		{"liveness after counts cluster faults", base + "faults: [{at: 10s, heal: true}, {at: 40s, host_up: 1}, {at: 20s, host_down: 1}]\n", func(t *testing.T, s *Scenario) {
			if s.Expect.Liveness.After != sec(40) {
				t.Errorf("after %v", s.Expect.Liveness.After)
			}
		}},
		{"aliases are followed", "name: t\nduration: 60s\nnodes: 4\nworkload: {nodes: &n [0, 1]}\nbyzantine: [{node: 2, behavior: withhold, targets: *n}]\n", func(t *testing.T, s *Scenario) {
			if !slices.Equal(s.Byzantine[0].Targets, []int{0, 1}) {
				t.Errorf("targets %v", s.Byzantine[0].Targets)
			}
		}},
		{"null means absent", base + "crypto:\nnetwork: ~\nworkload: {tx_size: null}\n", func(t *testing.T, s *Scenario) {
			if s.Crypto != "ed25519" || s.Workload.TxSize != 256 || s.Network.Latency.Value != ms(50) {
				t.Errorf("%+v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, mustParse(t, tt.doc)) })
	}
}

// invalidCase is a document Parse must reject with an error containing want:
// the part of the message that tells the user where and what to fix.
type invalidCase struct{ name, doc, want string }

// invalidCases has a failing case for every rule. FuzzParse seeds from it
// too.
func invalidCases() []invalidCase {
	// many writes a flow list of first followed by n-1 copies of item.
	many := func(prefix, first, item string, n int) string {
		return prefix + "[" + first + strings.Repeat(", "+item, n-1) + "]\n"
	}
	return []invalidCase{
		// Document shape.
		{"empty", "", "x.yaml: empty document"},
		{"only comments", "# nothing\n", "empty document"},
		{"top-level list", "- name: t\n", "line 1: the top level must be a mapping"},
		{"top-level scalar", "hello\n", "the top level must be a mapping"},
		{"two documents", base + "---\nname: u\n", "line 4: a second YAML document"},
		{"syntax", "name: [t\n", "x.yaml: yaml: line"},
		{"duplicate key", base + "nodes: 5\n", `line 4: the top level: field "nodes" given twice (first on line 3)`},
		{"merge key", base + "consensus: {<<: {gc_depth: 5}}\n", "merge keys (<<) are not supported"},
		{"section not a mapping", base + "network: 5\n", `line 4: network: expected a mapping (latency: ...), got "5"`},
		{"list not a list", base + "workload: {nodes: 3}\n", "workload.nodes: expected a list of node indices"},
		{"too large", base + "description: " + strings.Repeat("x", MaxFileSize) + "\n", "larger than 1048576 bytes"},

		// Unknown fields.
		{"unknown top-level", base + "nodez: 4\n", `x.yaml: line 4: unknown field "nodez" at the top level (known: name,`},
		{"unknown nested", base + "network:\n  drop: 0.1\n  latncy: 3ms\n", `x.yaml: line 6: unknown field "latncy" in network`},
		{"unknown in list entry", base + "faults:\n  - at: 1s\n    partitoin: [[0]]\n", `line 6: unknown field "partitoin" in faults[0]`},
		{"unknown deep", base + "faults: [{at: 1s, degrade: {drop: 0.1, latency: {dist: constant, valeu: 1s}}}]\n", `unknown field "valeu" in faults[0].degrade.latency`},

		// Type errors.
		{"int garbage", "name: t\nduration: 60s\nnodes: abc\n", `line 3: nodes: "abc" is not an integer`},
		{"int from float", "name: t\nduration: 60s\nnodes: 4.5\n", `nodes: "4.5" is not an integer`},
		{"negative seed", base + "seed: -1\n", `seed: "-1" is not a non-negative integer`},
		{"number garbage", base + "network: {drop: lots}\n", `network.drop: "lots" is not a number`},
		{"bool garbage", base + "faults: [{at: 1s, heal: yes}]\n", `faults[0].heal: "yes" is not true or false`},
		{"string from list", base + "crypto: [fast]\n", "crypto: expected a string, got a list"},
		{"duration without unit", "name: t\nduration: 60\nnodes: 4\n", `line 2: duration: "60" has no unit; write e.g. 60s or 60ms`},
		{"duration garbage", "name: t\nduration: fast\nnodes: 4\n", `duration: "fast" is not a duration`},
		{"bandwidth unit", base + "network: {bandwidth: 1Tbps}\n", `network.bandwidth: "1Tbps" is not a bandwidth; use bps, kbps, Mbps or Gbps`},

		// Header.
		{"name missing", "duration: 60s\nnodes: 4\n", "x.yaml: name is required"},
		{"name empty", "name: ''\nduration: 60s\nnodes: 4\n", "line 1: name is required"},
		{"name too long", "name: " + strings.Repeat("n", 129) + "\nduration: 60s\nnodes: 4\n", "name: 129 characters, at most 128"},
		{"name with newline", "name: \"a\\nb\"\nduration: 60s\nnodes: 4\n", "name: must be one line"},
		{"description too long", base + "description: " + strings.Repeat("d", 4097) + "\n", "description: 4097 characters, at most 4096"},
		{"description control", base + "description: \"a\\x07\"\n", "description: control characters"},
		{"duration missing", "name: t\nnodes: 4\n", "duration is required"},
		{"duration zero", "name: t\nduration: 0\nnodes: 4\n", "duration: 0s; use a duration above 0 and at most 24h0m0s"},
		{"duration negative", "name: t\nduration: -1s\nnodes: 4\n", "duration: -1s; use a duration above 0"},
		{"duration too long", "name: t\nduration: 25h\nnodes: 4\n", "duration: 25h0m0s; use a duration above 0 and at most 24h"},
		{"crypto unknown", base + "crypto: rsa\n", `crypto: unknown scheme "rsa"; use ed25519 or fast`},

		// Committee.
		{"nodes missing", "name: t\nduration: 60s\n", "nodes is required"},
		{"nodes zero", "name: t\nduration: 60s\nnodes: 0\n", "nodes: 0; use 1 to 1024"},
		{"nodes too many", "name: t\nduration: 60s\nnodes: 1025\n", "nodes: 1025; use 1 to 1024"},
		{"weights empty", "name: t\nduration: 60s\nweights: []\n", "weights: empty list"},
		{"weight zero", "name: t\nduration: 60s\nweights: [1, 0]\n", "weights[1]: 0; every node needs a weight of at least 1"},
		{"weights too many", many("name: t\nduration: 60s\nweights: ", "1", "1", 1025), "weights: 1025 entries, at most 1024"},
		{"weights overflow", "name: t\nduration: 60s\nweights: [1152921504606846976, 1]\n", "weights: the total is more than"},
		{"nodes and weights disagree", "name: t\nduration: 60s\nnodes: 3\nweights: [1, 1]\n", "line 3: nodes is 3 but weights lists 2 nodes; give only one"},

		// Consensus.
		{"leader_timeout zero", base + "consensus: {leader_timeout: 0s}\n", "consensus.leader_timeout: 0s; use a duration above 0"},
		{"leader_timeout huge", base + "consensus: {leader_timeout: 2h}\n", "consensus.leader_timeout: 2h0m0s; use a duration above 0 and at most 1h0m0s"},
		{"fetch_retry negative", base + "consensus: {fetch_retry: -1s}\n", "consensus.fetch_retry: -1s"},
		{"max_event_txs zero", base + "consensus: {max_event_txs: 0}\n", "consensus.max_event_txs: 0; use 1 to 100000"},
		{"max_event_txs huge", base + "consensus: {max_event_txs: 100001}\n", "consensus.max_event_txs: 100001"},
		{"max_event_tx_bytes negative", base + "consensus: {max_event_tx_bytes: -1}\n", "consensus.max_event_tx_bytes: -1; use 0 to 16777216"},
		{"max_event_tx_bytes huge", base + "consensus: {max_event_tx_bytes: 16777217}\n", "consensus.max_event_tx_bytes: 16777217"},
		{"max_tx_bytes huge", base + "consensus: {max_tx_bytes: 1048577}\n", "consensus.max_tx_bytes: 1048577; use 1 to 1048576"},
		{"gc_depth small", base + "consensus: {gc_depth: 2}\n", "consensus.gc_depth: 2; use 3 to 100000"},
		{"gc_depth huge", base + "consensus: {gc_depth: 100001}\n", "consensus.gc_depth: 100001"},
		{"min_round_interval negative", base + "consensus:\n  min_round_interval: -1ms\n", "line 5: consensus.min_round_interval: -1ms is negative; use 0 to 1h0m0s"},
		{"min_round_interval huge", base + "consensus: {min_round_interval: 2h}\n", "consensus.min_round_interval: 2h0m0s is more than 1h0m0s"},
		{"min_round_interval without unit", base + "consensus: {min_round_interval: 50}\n", `consensus.min_round_interval: "50" has no unit`},

		// Latency.
		{"dist unknown", base + "network: {latency: {dist: pareto}}\n", `network.latency.dist: unknown distribution "pareto"; use constant, uniform, normal or lognormal`},
		{"dist foreign field", base + "network:\n  latency: {dist: normal, mean: 1ms, stddev: 1ms, min: 1ms}\n", "line 5: network.latency: min/max are for dist uniform, not normal"},
		{"dist foreign field on default dist", base + "network: {latency: {value: 1ms, sigma: 1}}\n", "network.latency: median/sigma are for dist lognormal, not constant"},
		{"dist field missing", base + "network: {latency: {dist: uniform, min: 1ms}}\n", "network.latency: dist uniform needs min and max, e.g."},
		{"constant needs value", base + "network: {latency: {}}\n", "network.latency: dist constant needs value"},
		{"uniform min above max", base + "network: {latency: {dist: uniform, min: 9ms, max: 1ms}}\n", "network.latency: min 9ms is more than max 1ms"},
		{"negative latency", base + "network: {latency: {value: -1ms}}\n", "network.latency.value: -1ms is negative"},
		{"negative stddev", base + "network: {latency: {dist: normal, mean: 1ms, stddev: -1ms}}\n", "network.latency.stddev: -1ms is negative"},
		{"huge latency", base + "network: {latency: {value: 2h}}\n", "network.latency.value: 2h0m0s is more than 1h0m0s"},
		{"lognormal median zero", base + "network: {latency: {dist: lognormal, median: 0, sigma: 1}}\n", "network.latency.median: 0s; use a duration above 0"},
		{"lognormal sigma zero", base + "network: {latency: {dist: lognormal, median: 1ms, sigma: 0}}\n", "network.latency.sigma: 0; use a shape above 0 and at most 5"},
		{"lognormal sigma big", base + "network: {latency: {dist: lognormal, median: 1ms, sigma: 5.5}}\n", "network.latency.sigma: 5.5"},
		{"lognormal sigma nan", base + "network: {latency: {dist: lognormal, median: 1ms, sigma: .nan}}\n", "network.latency.sigma: NaN"},

		// Probabilities and links.
		{"drop one", base + "network: {drop: 1}\n", "network.drop: 1 would drop every message"},
		{"drop above one", base + "network: {drop: 1.5}\n", "network.drop: 1.5 is not a probability; use a number from 0 to 1"},
		{"duplicate negative", base + "network: {duplicate: -0.1}\n", "network.duplicate: -0.1 is not a probability"},
		{"reorder nan", base + "network: {reorder: .nan}\n", "network.reorder: NaN is not a probability"},
		{"link changes nothing", base + "network: {links: [{from: [0]}]}\n", "network.links[0]: changes nothing; give latency, drop, duplicate or reorder"},
		{"link bad node", base + "network: {links: [{drop: 0.1}, {from: [4], drop: 0.1}]}\n", "network.links[1].from: node 4 does not exist; nodes are numbered 0 to 3"},
		{"link duplicate node", base + "network: {links: [{to: [1, 1], drop: 0.1}]}\n", "network.links[0].to: node 1 is listed twice"},
		{"link drop", base + "network: {links: [{drop: 2}]}\n", "network.links[0].drop: 2 is not a probability"},
		{"link latency", base + "network: {links: [{latency: {dist: uniform, value: 1ms}}]}\n", "network.links[0].latency: value is for dist constant, not uniform"},
		{"links limit", many(base+"network:\n  links: ", "&l {drop: 0.1}", "*l", MaxLinks+1), "network.links: 10001 entries, at most 10000"},

		// Workload.
		{"rate negative", base + "workload: {rate: -1}\n", "workload.rate: -1; use 0 (no workload) to 1000000"},
		{"rate huge", base + "workload: {rate: 2e6}\n", "workload.rate: 2e+06"},
		{"rate inf", base + "workload: {rate: .inf}\n", "workload.rate: +Inf"},
		{"tx_size small", base + "workload: {tx_size: 8}\n", "workload.tx_size: 8; use 16 to consensus.max_tx_bytes (65536)"},
		{"tx_size above max_tx_bytes", base + "consensus: {max_tx_bytes: 100}\nworkload: {tx_size: 256}\n", "workload.tx_size: 256; use 16 to consensus.max_tx_bytes (100)"},
		{"workload node", base + "workload: {nodes: [0, 9]}\n", "workload.nodes: node 9 does not exist"},
		{"workload window", base + "workload: {from: 10s, until: 5s}\n", "workload: until 5s is not after from 10s"},
		{"workload until past end", base + "workload: {until: 61s}\n", "workload.until: 1m1s is after the end of the run (duration 1m0s)"},
		{"workload without receivers", "name: t\nduration: 60s\nnodes: 1\nworkload: {rate: 10}\nbyzantine: [{node: 0, behavior: mute}]\n", "workload: every node is byzantine"},

		// Byzantine.
		{"byzantine node missing", base + "byzantine: [{behavior: mute}]\n", "byzantine[0]: node is required"},
		{"byzantine node range", base + "byzantine: [{node: 4, behavior: mute}]\n", "byzantine[0].node: node 4 does not exist; nodes are numbered 0 to 3"},
		{"byzantine node negative", base + "byzantine: [{node: -1, behavior: mute}]\n", "byzantine[0].node: node -1 does not exist"},
		{"behavior missing", base + "byzantine: [{node: 1}]\n", "byzantine[0]: behavior is required; one of bad-parents, equivocate,"},
		{"behavior unknown", base + "byzantine: [{node: 1, behavior: sulk}]\n", `byzantine[0].behavior: unknown behaviour "sulk"; use one of bad-parents, equivocate, flood, invalid-signature, lazy, mute, replay, run-ahead, twin, withhold`},
		{"withhold without targets", base + "byzantine: [{node: 1, behavior: withhold}]\n", "byzantine[0]: withhold needs targets"},
		{"targets on mute", base + "byzantine: [{node: 1, behavior: mute, targets: [0]}]\n", "byzantine[0].targets: only withhold and equivocate take targets, not mute"},
		{"targets self", base + "byzantine: [{node: 1, behavior: withhold, targets: [0, 1]}]\n", "byzantine[0].targets: lists node 1 itself"},
		{"targets twice", base + "byzantine: [{node: 1, behavior: equivocate, targets: [0, 0]}]\n", "byzantine[0].targets: node 0 is listed twice"},
		{"targets range", base + "byzantine: [{node: 1, behavior: withhold, targets: [7]}]\n", "byzantine[0].targets: node 7 does not exist"},
		{"count on mute", base + "byzantine: [{node: 1, behavior: mute, count: 3}]\n", "byzantine[0].count: only flood and replay take a count, not mute"},
		{"count negative", base + "byzantine: [{node: 1, behavior: flood, count: -3}]\n", "byzantine[0].count: -3; use 0 to 1000"},
		{"size on replay", base + "byzantine: [{node: 1, behavior: replay, size: 3}]\n", "byzantine[0].size: only flood takes a size, not replay"},
		{"size negative", base + "byzantine: [{node: 1, behavior: flood, size: -3}]\n", "byzantine[0].size: -3"},
		{"byzantine from negative", base + "byzantine: [{node: 1, behavior: lazy, from: -1s}]\n", "byzantine[0].from: -1s is negative"},
		{"byzantine until past end", base + "byzantine: [{node: 1, behavior: lazy, until: 2m}]\n", "byzantine[0].until: 2m0s is after the end of the run"},
		{"byzantine empty window", base + "byzantine: [{node: 1, behavior: lazy, from: 5s, until: 5s}]\n", "byzantine[0]: until 5s is not after from 5s"},
		{"byzantine windows overlap", base + "byzantine:\n  - {node: 1, behavior: lazy, until: 20s}\n  - {node: 2, behavior: lazy}\n  - {node: 1, behavior: mute, from: 10s}\n",
			"line 7: byzantine[2]: node 1's window 10s..end overlaps that of byzantine[0] (0s..20s)"},
		{"byzantine limit", many(base+"byzantine: ", "&b {node: 1, behavior: lazy}", "*b", MaxByzantine+1), "byzantine: 10001 entries, at most 10000"},

		// Faults.
		{"at missing", base + "faults: [{heal: true}]\n", "fault 0: at is required"},
		{"at negative", base + "faults: [{at: -1s, heal: true}]\n", "fault 0: at: -1s is negative"},
		{"at past end", base + "faults: [{at: 61s, heal: true}]\n", "fault 0: at: 1m1s is after the end of the run (duration 1m0s)"},
		{"no action", base + "faults:\n  - {at: 1s}\n", "line 5: fault 0 at 1s: no action; give one of partition, one_way, heal,"},
		{"two actions", base + "faults: [{at: 1s, crash: [1], restart: [1]}]\n", "fault 0 at 1s: crash and restart in one entry"},
		{"heal false", base + "faults: [{at: 1s, heal: false}]\n", "fault 0 at 1s: heal: false does nothing"},
		{"crash empty", base + "faults: [{at: 1s, crash: []}]\n", "fault 0 at 1s: crash: empty list"},
		{"crash range", base + "faults: [{at: 1s, crash: [4]}]\n", "fault 0 at 1s: crash: node 4 does not exist"},
		{"crash twice", base + "faults:\n  - {at: 1s, crash: [1]}\n  - {at: 2s, crash: [2, 1]}\n", "line 6: fault 1 at 2s: crash of node 1, which is already crashed (by fault 0 at 1s)"},
		{"restart not crashed", base + "faults:\n  - {at: 25s, crash: [1]}\n  - {at: 20s, restart: [1]}\n", "fault 1 at 20s: restart of node 1, which is not crashed"},
		{"restart twice", base + "faults:\n  - {at: 1s, crash: [2]}\n  - {at: 2s, restart: [2]}\n  - {at: 3s, restart: [2]}\n", "fault 2 at 3s: restart of node 2, which is not crashed"},
		{"lose_state alone", base + "faults: [{at: 1s, lose_state: true, heal: true}]\n", "fault 0 at 1s: lose_state only modifies restart"},
		{"partition empty", base + "faults: [{at: 1s, partition: []}]\n", "fault 0 at 1s: partition: no groups"},
		{"partition empty group", base + "faults: [{at: 1s, partition: [[0], []]}]\n", "fault 0 at 1s: partition: group 1 is empty"},
		{"partition overlap", base + "faults: [{at: 1s, partition: [[0, 1], [1, 2]]}]\n", "fault 0 at 1s: partition: node 1 is in more than one group"},
		{"partition whole", base + "faults: [{at: 1s, partition: [[0, 1, 2, 3]]}]\n", "fault 0 at 1s: partition: one group with every node splits nothing"},
		{"partition range", base + "faults: [{at: 1s, partition: [[0], [5]]}]\n", "fault 0 at 1s: partition: node 5 does not exist"},
		{"partition node twice in a group", base + "byzantine: [{node: 1, behavior: mute}]\nfaults: [{at: 1s, partition: [[0, 1, 1]]}]\n", "fault 0 at 1s: partition: group 0 lists 1 twice"},
		{"partition honest node in two groups", base + "byzantine: [{node: 0, behavior: twin}]\nfaults: [{at: 1s, partition: [[0, 1], [{twin: 0}, 1]]}]\n",
			"line 5: fault 0 at 1s: partition: node 1 is in more than one group (0 and 1), but it is honest: an honest node is in exactly one group"},
		{"partition twin without a twin entry", base + "byzantine: [{node: 0, behavior: equivocate}]\nfaults:\n  - at: 1s\n    partition:\n      - [0, 1]\n      - [{twin: 0}, 2]\n",
			"line 9: fault 0 at 1s: partition: group 1 lists {twin: 0}, but node 0 has no twin; add {node: 0, behavior: twin} under byzantine, or list node 0 itself"},
		{"partition twin twice in a group", base + "byzantine: [{node: 0, behavior: twin}]\nfaults: [{at: 1s, partition: [[{twin: 0}, {twin: 0}]]}]\n", "fault 0 at 1s: partition: group 0 lists {twin: 0} twice"},
		{"partition twin range", base + "faults: [{at: 1s, partition: [[0], [{twin: 4}]]}]\n", "fault 0 at 1s: partition: node 4 does not exist"},
		{"partition twin reference empty", base + "faults: [{at: 1s, partition: [[0], [{}]]}]\n", "faults[0].partition[1][0]: a twin reference names the node whose twin it is, e.g. {twin: 0}"},
		{"partition twin reference unknown field", base + "faults: [{at: 1s, partition: [[0], [{node: 1}]]}]\n", `unknown field "node" in faults[0].partition[1][0] (known: twin)`},
		{"partition twin reference not an integer", base + "faults: [{at: 1s, partition: [[0], [{twin: a}]]}]\n", "faults[0].partition[1][0].twin: "},
		{"partition member a string", base + "faults: [{at: 1s, partition: [[0], [twin]]}]\n", "faults[0].partition[1][0]: expected a node index (3) or a twin reference ({twin: 3}), got"},
		{"one_way empty", base + "faults: [{at: 1s, one_way: {}}]\n", "fault 0 at 1s: one_way: give from, to or both"},
		{"one_way range", base + "faults: [{at: 1s, one_way: {from: [0], to: [8]}}]\n", "fault 0 at 1s: one_way.to: node 8 does not exist"},
		{"isolate range", base + "faults: [{at: 1s, isolate: 4}]\n", "fault 0 at 1s: isolate: node 4 does not exist"},
		{"degrade nothing", base + "faults: [{at: 1s, degrade: {from: [1]}}]\n", "faults[0].degrade: changes nothing"},
		{"degrade drop", base + "faults: [{at: 1s, degrade: {drop: 1}}]\n", "faults[0].degrade.drop: 1 would drop every message"},
		{"skew node missing", base + "faults: [{at: 1s, clock_skew: {offset: 1s}}]\n", "fault 0 at 1s: clock_skew: node is required"},
		{"skew node range", base + "faults: [{at: 1s, clock_skew: {node: 9, offset: 1s}}]\n", "fault 0 at 1s: clock_skew.node: node 9 does not exist"},
		{"skew huge", base + "faults: [{at: 1s, clock_skew: {node: 1, offset: -25h}}]\n", "fault 0 at 1s: clock_skew.offset: -25h0m0s"},
		{"slow delay missing", base + "faults: [{at: 1s, slow: {node: 1}}]\n", "fault 0 at 1s: slow: delay is required"},
		{"slow delay negative", base + "faults: [{at: 1s, slow: {node: 1, delay: -1ms}}]\n", "faults[0].slow.delay: -1ms is negative"},
		{"lose_unsynced alone", base + "faults: [{at: 1s, lose_unsynced: true, restart: [1]}]\n", "fault 0 at 1s: lose_unsynced only modifies crash; add crash: [nodes] or remove it"},
		{"lose_unsynced garbage", base + "faults: [{at: 1s, crash: [1], lose_unsynced: 1}]\n", `faults[0].lose_unsynced: "1" is not true or false`},
		{"store_fault not a mapping", base + "faults: [{at: 1s, store_fault: 2}]\n", `faults[0].store_fault: expected a mapping (node: ...), got "2"`},
		{"store_fault unknown field", base + "faults:\n  - at: 1s\n    store_fault: {node: 1, kind: torn, what: x}\n", `line 6: unknown field "what" in faults[0].store_fault (known: node, kind, write, record)`},
		{"store_fault node missing", base + "faults: [{at: 1s, store_fault: {kind: torn}}]\n", "fault 0 at 1s: store_fault: node is required"},
		{"store_fault node range", base + "faults: [{at: 1s, store_fault: {node: 4, kind: torn}}]\n", "fault 0 at 1s: store_fault.node: node 4 does not exist; nodes are numbered 0 to 3"},
		{"store_fault kind missing", base + "faults:\n  - {at: 1s, store_fault: {node: 1}}\n", "line 5: fault 0 at 1s: store_fault: kind is required; one of write-error, corrupt, torn"},
		{"store_fault kind unknown", base + "faults: [{at: 1s, store_fault: {node: 1, kind: bitrot}}]\n", `fault 0 at 1s: store_fault.kind: unknown kind "bitrot"; use one of write-error, corrupt, torn`},
		{"store_fault write unknown", base + "faults: [{at: 1s, store_fault: {node: 1, kind: write-error, write: header}}]\n", `store_fault.write: unknown write "header"; use one of any, event, last-signed, snapshot, prune`},
		{"store_fault record unknown", base + "faults: [{at: 1s, store_fault: {node: 1, kind: corrupt, record: index}}]\n", `store_fault.record: unknown record "index"; use one of event, last-signed, snapshot`},
		{"store_fault write on corrupt", base + "faults: [{at: 1s, store_fault: {node: 1, kind: corrupt, write: event}}]\n", "fault 0 at 1s: store_fault.write: only a write-error takes a write, not corrupt"},
		{"store_fault record on torn", base + "faults: [{at: 1s, store_fault: {node: 1, kind: torn, record: event}}]\n", "store_fault.record: only corrupt takes a record, not torn"},
		{"store_fault and crash in one entry", base + "faults: [{at: 1s, crash: [1], store_fault: {node: 1, kind: torn}}]\n", "fault 0 at 1s: crash and store_fault in one entry"},
		{"torn on a crashed node", base + "faults:\n  - {at: 1s, crash: [1]}\n  - {at: 2s, store_fault: {node: 1, kind: torn}}\n", "line 6: fault 1 at 2s: a torn write crashes node 1, which is already crashed (by fault 0 at 1s)"},
		{"crash after torn", base + "faults: [{at: 1s, store_fault: {node: 1, kind: torn}}, {at: 2s, crash: [1]}]\n", "fault 1 at 2s: crash of node 1, which is already crashed (by fault 0 at 1s)"},
		{"restart before the store fault", base + "faults: [{at: 2s, store_fault: {node: 1, kind: write-error}}, {at: 1s, restart: [1]}]\n", "fault 1 at 1s: restart of node 1, which is not crashed, has had no store fault since it started"},
		{"restart twice after a write error", base + "faults: [{at: 1s, store_fault: {node: 1, kind: write-error}}, {at: 2s, restart: [1]}, {at: 3s, restart: [1]}]\n", "fault 2 at 3s: restart of node 1, which is not crashed"},
		{"restart after a restored store", base + "faults: [{at: 1s, store_fault: {node: 1, kind: torn}}, {at: 2s, restart: [1], lose_state: true}, {at: 3s, restart: [1]}]\n", "fault 2 at 3s: restart of node 1, which is not crashed, has had no store fault since it started and has no damaged store"},
		{"restore_backup alone", base + "faults: [{at: 1s, restore_backup: true, crash: [1]}]\n", "fault 0 at 1s: restore_backup only modifies restart; add restart: [nodes] or remove it"},
		{"restore_backup and lose_state", base + "faults:\n  - {at: 1s, backup: [1]}\n  - {at: 2s, crash: [1]}\n  - {at: 3s, restart: [1], lose_state: true, restore_backup: true}\n",
			"line 7: fault 2 at 3s: lose_state and restore_backup in one restart; a node comes back on an empty store or on its backup, so keep one"},
		{"restore_backup garbage", base + "faults: [{at: 1s, restart: [1], restore_backup: yes please}]\n", `faults[0].restore_backup: "yes please" is not true or false`},
		{"restore without a backup", base + "faults:\n  - {at: 1s, backup: [2]}\n  - {at: 2s, crash: [1, 2]}\n  - {at: 3s, restart: [2, 1], restore_backup: true}\n",
			"line 7: fault 2 at 3s: restore_backup, but no backup of node 1 was taken before; add {at: <an earlier time>, backup: [1]} to the faults, or remove restore_backup"},
		{"restore before the backup", base + "faults:\n  - {at: 1s, crash: [1]}\n  - {at: 3s, backup: [1]}\n  - {at: 2s, restart: [1], restore_backup: true}\n",
			"fault 2 at 2s: restore_backup, but no backup of node 1 was taken before"},
		{"restore of a running node", base + "faults:\n  - {at: 1s, backup: [1]}\n  - {at: 2s, restart: [1], restore_backup: true}\n", "fault 1 at 2s: restart of node 1, which is not crashed"},
		{"a restore on a damaged backup may be refused, and restarted again once", base + "faults:\n  - {at: 1s, store_fault: {node: 1, kind: torn}}\n  - {at: 2s, backup: [1]}\n  - {at: 3s, restart: [1], lose_state: true}\n  - {at: 4s, crash: [1]}\n  - {at: 5s, restart: [1], restore_backup: true}\n  - {at: 6s, restart: [1], lose_state: true}\n  - {at: 7s, restart: [1]}\n",
			"fault 6 at 7s: restart of node 1, which is not crashed"},
		{"backup empty", base + "faults: [{at: 1s, backup: []}]\n", "fault 0 at 1s: backup: empty list; name the nodes, e.g. backup: [2]"},
		{"backup range", base + "faults: [{at: 1s, backup: [4]}]\n", "fault 0 at 1s: backup: node 4 does not exist"},
		{"backup twice", base + "faults: [{at: 1s, backup: [1, 1]}]\n", "fault 0 at 1s: backup: node 1 is listed twice"},
		{"backup and crash in one entry", base + "faults: [{at: 1s, backup: [1], crash: [1]}]\n", "fault 0 at 1s: crash and backup in one entry"},
		{"faults limit", many(base+"faults: ", "&f {at: 1s, heal: true}", "*f", MaxFaults+1), "faults: 100001 entries, at most 100000"},

		// Cluster.
		{"cluster not a mapping", base + "cluster: 5\n", `line 4: cluster: expected a mapping (genesis: ...), got "5"`},
		{"cluster unknown field", base + "cluster: {genesys: 2}\n", `unknown field "genesys" in cluster (known: genesis, regions,`},
		{"genesis zero", base + "cluster: {genesis: 0}\n", "line 4: cluster.genesis: 0; use 1 to nodes (4): nodes 0 to genesis-1 found the cluster"},
		{"genesis above nodes", base + "cluster: {genesis: 5}\n", "cluster.genesis: 5; use 1 to nodes (4)"},
		{"genesis not an integer", base + "cluster: {genesis: all}\n", `cluster.genesis: "all" is not an integer`},
		{"regions empty", base + "cluster: {regions: []}\n", "cluster.regions: empty list; name at least one region, e.g. regions: [eu, us], or leave it out for [sim]"},
		{"region upper case", base + "cluster: {regions: [eu, EU-West]}\n", `cluster.regions[1]: "EU-West" is not a region name; use 1 to 64 characters of a-z, 0-9 and -`},
		{"region empty", base + "cluster: {regions: ['']}\n", `cluster.regions[0]: "" is not a region name`},
		{"region space", base + "cluster: {regions: [eu west]}\n", `cluster.regions[0]: "eu west" is not a region name`},
		{"region too long", base + "cluster: {regions: [" + strings.Repeat("r", 65) + "]}\n", "is not a region name; use 1 to 64 characters"},
		{"region not a string", base + "cluster: {regions: [[eu]]}\n", "cluster.regions[0]: expected a string, got a list"},
		{"regions not a list", base + "cluster: {regions: eu}\n", `cluster.regions: expected a list of region names, got "eu"`},
		{"regions too many", many(base+"cluster:\n  regions: ", "r", "r", MaxRegions+1), "cluster.regions: 65 entries, at most 64 allowed"},
		{"host vcpu zero", base + "cluster: {vcpu: 0}\n", "cluster.vcpu: 0; use 1 to 1048576"},
		{"host vcpu huge", base + "cluster: {vcpu: 1048577}\n", "cluster.vcpu: 1048577; use 1 to 1048576"},
		{"host memory zero", base + "cluster: {memory_mib: 0}\n", "cluster.memory_mib: 0; use 1 to 1048576"},
		{"host memory negative", base + "cluster: {memory_mib: -1}\n", `cluster.memory_mib: "-1" is not a non-negative integer`},
		{"host disk huge", base + "cluster: {disk_gib: 1048577}\n", "cluster.disk_gib: 1048577; use 1 to 1048576"},
		{"boot_time negative", base + "cluster: {boot_time: -1s}\n", "cluster.boot_time: -1s is negative; use 0 to 1h0m0s"},
		{"boot_time huge", base + "cluster: {boot_time: 61m}\n", "cluster.boot_time: 1h1m0s is more than 1h0m0s"},
		{"boot_failure one", base + "cluster: {boot_failure: 1}\n", "cluster.boot_failure: 1 would fail every boot, so no VM could ever run; use a probability below 1"},
		{"boot_failure negative", base + "cluster: {boot_failure: -0.1}\n", "cluster.boot_failure: -0.1 is not a probability; use a number from 0 to below 1"},
		{"boot_failure nan", base + "cluster: {boot_failure: .nan}\n", "cluster.boot_failure: NaN is not a probability"},
		{"epoch_length zero", base + "cluster: {epoch_length: 0s}\n", "cluster.epoch_length: 0s; use a duration above 0 and at most 24h0m0s"},
		{"epoch_length huge", base + "cluster: {epoch_length: 25h}\n", "cluster.epoch_length: 25h0m0s; use a duration above 0 and at most 24h0m0s"},
		{"status_timeout zero", base + "cluster: {status_timeout: 0}\n", "cluster.status_timeout: 0s; use a duration above 0 and at most 1h0m0s"},
		{"status_timeout huge", base + "cluster: {status_timeout: 2h}\n", "cluster.status_timeout: 2h0m0s; use a duration above 0 and at most 1h0m0s"},
		{"auto_approve garbage", base + "cluster: {auto_approve: sometimes}\n", `cluster.auto_approve: "sometimes" is not true or false`},
		{"price huge", base + "cluster: {price_vcpu_hour: 1000000000001}\n", "cluster.price_vcpu_hour: 1000000000001; use 0 to 1000000000000"},
		{"price memory huge", base + "cluster: {price_memory_gib_hour: 1000000000001}\n", "cluster.price_memory_gib_hour: 1000000000001"},
		{"price disk negative", base + "cluster: {price_disk_gib_hour: -1}\n", `cluster.price_disk_gib_hour: "-1" is not a non-negative integer`},

		// VM workload.
		{"vm not a mapping", base + "workload: {vm: yes}\n", `workload.vm: expected a mapping (rate: ...), got "yes"`},
		{"vm unknown field", base + "workload:\n  vm:\n    rte: 5\n", `line 6: unknown field "rte" in workload.vm (known: rate, clients,`},
		{"vm rate negative", base + "workload: {vm: {rate: -1}}\n", "workload.vm.rate: -1; use 0 (no VM workload) to 1000 operations per second"},
		{"vm rate huge", base + "workload: {vm: {rate: 1001}}\n", "workload.vm.rate: 1001; use 0 (no VM workload) to 1000"},
		{"vm rate inf", base + "workload: {vm: {rate: .inf}}\n", "workload.vm.rate: +Inf"},
		{"vm clients zero", base + "workload: {vm: {clients: 0}}\n", "workload.vm.clients: 0; use 1 to 1000"},
		{"vm clients huge", base + "workload: {vm: {clients: 1001}}\n", "workload.vm.clients: 1001; use 1 to 1000"},
		{"vm stale_reads garbage", base + "workload: {vm: {stale_reads: 1}}\n", `workload.vm.stale_reads: "1" is not true or false`},
		{"vm lease short", base + "workload: {vm: {lease: 30s}}\n", "workload.vm.lease: 30s; use 1m0s to 8784h0m0s"},
		{"vm lease long", base + "workload: {vm: {lease: 8785h}}\n", "workload.vm.lease: 8785h0m0s; use 1m0s to 8784h0m0s"},
		{"vm lease fraction", base + "workload: {vm: {lease: 90.5s}}\n", "workload.vm.lease: 1m30.5s is not a whole number of seconds; round it, e.g. to 1m31s"},
		{"vm vcpu zero", base + "workload: {vm: {vcpu: 0}}\n", "workload.vm.vcpu: 0; use 1 to 1024"},
		{"vm vcpu huge", base + "workload: {vm: {vcpu: 1025}}\n", "workload.vm.vcpu: 1025; use 1 to 1024"},
		{"vm memory zero", base + "workload: {vm: {memory_mib: 0}}\n", "workload.vm.memory_mib: 0; use 1 to 16777216"},
		{"vm memory huge", base + "workload: {vm: {memory_mib: 16777217}}\n", "workload.vm.memory_mib: 16777217; use 1 to 16777216"},
		{"vm disk zero", base + "workload: {vm: {disk_gib: 0}}\n", "workload.vm.disk_gib: 0; use 1 to 1048576"},
		{"vm disk huge", base + "workload: {vm: {disk_gib: 1048577}}\n", "workload.vm.disk_gib: 1048577; use 1 to 1048576"},
		{"vm image empty", base + "workload: {vm: {image: ''}}\n", "workload.vm.image: empty; name the image, e.g. image: debian-12"},
		{"vm image too long", base + "workload: {vm: {image: " + strings.Repeat("i", 257) + "}}\n", "workload.vm.image: 257 characters, at most 256 allowed"},
		{"vm image newline", base + "workload: {vm: {image: \"a\\nb\"}}\n", "workload.vm.image: must be one line without control characters"},
		{"vm image list", base + "workload: {vm: {image: [a]}}\n", "workload.vm.image: expected a string, got a list"},
		{"vm bounce above one", base + "workload: {vm: {bounce: 1.5}}\n", "workload.vm.bounce: 1.5 is not a probability; use a number from 0 to 1"},
		{"vm late negative", base + "workload: {vm: {late: -0.1}}\n", "workload.vm.late: -0.1 is not a probability"},
		{"vm replay nan", base + "workload: {vm: {replay: .nan}}\n", "workload.vm.replay: NaN is not a probability"},
		{"vm underpay garbage", base + "workload: {vm: {underpay: some}}\n", `workload.vm.underpay: "some" is not a number`},
		{"vm payment faults above one", base + "workload:\n  vm: {bounce: 0.5, late: 0.25, underpay: 0.5}\n", "line 5: workload.vm: bounce + late + replay + underpay is 1.25, more than 1; each is the share of creates with that payment fault, so lower them"},
		{"vm late_by negative", base + "workload: {vm: {late_by: -1s}}\n", "workload.vm.late_by: -1s is negative; use 0 to 1h0m0s"},
		{"vm late_by huge", base + "workload: {vm: {late_by: 2h}}\n", "workload.vm.late_by: 2h0m0s is more than 1h0m0s"},
		{"vm late_by without unit", base + "workload: {vm: {late_by: 20}}\n", `workload.vm.late_by: "20" has no unit; write e.g. 20s or 20ms`},
		{"vm timeout zero", base + "workload: {vm: {timeout: 0s}}\n", "workload.vm.timeout: 0s; use a duration above 0 and at most 1h0m0s"},
		{"vm timeout huge", base + "workload: {vm: {timeout: 2h}}\n", "workload.vm.timeout: 2h0m0s; use a duration above 0"},
		{"vm window", base + "workload: {vm: {from: 10s, until: 5s}}\n", "workload.vm: until 5s is not after from 10s (leave until out to run to the end)"},
		{"vm until past end", base + "workload: {vm: {until: 61s}}\n", "workload.vm.until: 1m1s is after the end of the run (duration 1m0s)"},
		{"vm from negative", base + "workload: {vm: {from: -1s}}\n", "workload.vm.from: -1s is negative"},

		// Cluster faults.
		{"join range", base + "faults: [{at: 1s, join: 4}]\n", "fault 0 at 1s: join: node 4 does not exist; nodes are numbered 0 to 3"},
		{"leave range", base + "faults: [{at: 1s, leave: -1}]\n", "fault 0 at 1s: leave: node -1 does not exist"},
		{"remove range", base + "faults: [{at: 1s, remove: 9}]\n", "fault 0 at 1s: remove: node 9 does not exist"},
		{"host_down range", base + "faults: [{at: 1s, host_down: 4}]\n", "fault 0 at 1s: host_down: node 4 does not exist"},
		{"host_up range", base + "faults: [{at: 1s, host_up: 4}]\n", "fault 0 at 1s: host_up: node 4 does not exist"},
		{"vm_crash range", base + "faults: [{at: 1s, vm_crash: 4}]\n", "fault 0 at 1s: vm_crash: node 4 does not exist"},
		{"join not an integer", base + "faults: [{at: 1s, join: [1]}]\n", "faults[0].join: expected an integer, got a list"},
		{"join and leave in one entry", base + "faults: [{at: 1s, join: 1, leave: 2}]\n", "fault 0 at 1s: join and leave in one entry; give each action its own entry"},
		{"join of a founder", base + "faults:\n  - {at: 1s, join: 1}\n", "line 5: fault 0 at 1s: join of node 1, which founded the cluster (cluster.genesis is 4, so nodes 0 to 3 start as members); only later nodes start as observers that can join, so lower cluster.genesis"},
		{"join twice", base + "cluster: {genesis: 2}\nfaults: [{at: 1s, join: 2}, {at: 2s, join: 2}]\n", "fault 1 at 2s: join of node 2, which is already a member (it joined in fault 0 at 1s); make it leave or remove it first"},
		{"leave of an observer", base + "cluster: {genesis: 2}\nfaults: [{at: 1s, leave: 3}]\n", "fault 0 at 1s: leave of node 3, which is not a member then: it starts as an observer (cluster.genesis is 2); join it in an earlier fault, or raise cluster.genesis"},
		{"leave before its join", base + "cluster: {genesis: 2}\nfaults: [{at: 20s, join: 3}, {at: 10s, leave: 3}]\n", "fault 1 at 10s: leave of node 3, which is not a member then"},
		{"remove after leave", base + "faults: [{at: 1s, leave: 1}, {at: 2s, remove: 1}]\n", "fault 1 at 2s: remove of node 1, which is not a member then (it left in fault 0 at 1s); join it again first"},
		{"leave after remove", base + "faults: [{at: 1s, remove: 1}, {at: 2s, leave: 1}]\n", "fault 1 at 2s: leave of node 1, which is not a member then (it was removed in fault 0 at 1s)"},
		{"last member leaves", base + "cluster: {genesis: 1}\nfaults: [{at: 1s, leave: 0}]\n", "fault 0 at 1s: leave of node 0 would leave the committee without members; join another node first, or drop the fault"},
		{"last member removed", base + "cluster: {genesis: 2}\nfaults: [{at: 1s, leave: 0}, {at: 2s, remove: 1}]\n", "fault 1 at 2s: remove of node 1 would leave the committee without members"},
		{"host_down twice", base + "faults: [{at: 1s, host_down: 2}, {at: 2s, host_down: 2}]\n", "fault 1 at 2s: host_down of node 2, whose host is already down (by fault 0 at 1s); bring it back with host_up first"},
		{"host_up not down", base + "faults: [{at: 1s, host_up: 2}]\n", "fault 0 at 1s: host_up of node 2, whose host is not down; take it down with host_down in an earlier fault"},
		{"host_up before host_down", base + "faults: [{at: 5s, host_down: 2}, {at: 1s, host_up: 2}]\n", "fault 1 at 1s: host_up of node 2, whose host is not down"},

		// Expectations.
		{"after past end", base + "expect: {liveness: {after: 70s}}\n", "expect.liveness.after: 1m10s is after the end of the run"},
		{"after too late", base + "expect: {liveness: {after: 56s}}\n", "expect.liveness: after 56s is not before duration - within (1m0s - 5s), so no transaction would be checked; lengthen the run, lower after or within"},
		{"default after too late", base + "faults: [{at: 58s, heal: true}]\n", "after (by default the last fault or Byzantine window end, 58s) is not before"},
		{"short run", "name: t\nduration: 5s\nnodes: 4\n", "0s) is not before duration - within (5s - 5s)"},
		{"within negative", base + "expect: {liveness: {within: -1s}}\n", "expect.liveness.within: -1s is negative"},
		{"min tps negative", base + "expect: {min_commit_tps: -1}\n", "expect.min_commit_tps: -1; use 0 (no check)"},
		{"min tps above rate", base + "workload: {rate: 100}\nexpect: {min_commit_tps: 150}\n", "expect.min_commit_tps: 150 is more than workload.rate (100), so no run can pass"},
		{"p99 negative", base + "expect: {max_latency_p99: -3s}\n", "expect.max_latency_p99: -3s is negative"},
		{"p50 above p99", base + "expect: {max_latency_p99: 1s, max_latency_p50: 2s}\n", "expect.max_latency_p50: 2s is more than max_latency_p99 (1s)"},
		{"settle negative", base + "expect: {provisioning: {settle: -1s}}\n", "expect.provisioning.settle: -1s; use 0 to the run's duration (1m0s), or turn the check off with provisioning: {disabled: true}"},
		{"settle past end", base + "expect:\n  provisioning: {settle: 61s}\n", "line 5: expect.provisioning.settle: 1m1s; use 0 to the run's duration (1m0s)"},
		{"provisioning unknown field", base + "expect: {provisioning: {settel: 1s}}\n", `unknown field "settel" in expect.provisioning (known: settle, disabled)`},
		{"provisioning disabled garbage", base + "expect: {provisioning: {disabled: off}}\n", `expect.provisioning.disabled: "off" is not true or false`},

		// Alias expansion.
		{"alias bomb", aliasBomb(), "values, counting each use of an alias"},
	}
}

func TestInvalid(t *testing.T) {
	names := map[string]bool{}
	for _, tt := range invalidCases() {
		if names[tt.name] {
			t.Fatalf("duplicate case name %q", tt.name)
		}
		names[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.doc), "x.yaml")
			if err == nil {
				t.Fatalf("no error, want %q; got %+v", tt.want, s)
			}
			if s != nil {
				t.Errorf("a scenario returned with the error")
			}
			if !strings.HasPrefix(err.Error(), "x.yaml: ") {
				t.Errorf("error %q does not start with the file name", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

// aliasBomb is a document of a few kilobytes whose aliases name a tree of
// a hundred million values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(base + "faults: [{at: 1s, partition: [&h [0")
	for i := 1; i < 1000; i++ {
		b.WriteString(", " + strconv.Itoa(i))
	}
	b.WriteString("]]}, &f {at: 1s, partition: [*h" + strings.Repeat(", *h", 999) + "]}")
	b.WriteString(strings.Repeat(", *f", 100) + "]\n")
	return b.String()
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want Duration
		err  string
	}{
		{in: "10s", want: sec(10)},
		{in: "250ms", want: ms(250)},
		{in: "1m30s", want: sec(90)},
		{in: "-2s", want: sec(-2)},
		{in: "0", want: 0},
		{in: "1.5h", want: Duration(90 * time.Minute)},
		{in: "10", err: `"10" has no unit; write e.g. 10s or 10ms`},
		{in: "-1", err: "has no unit"},
		{in: "fast", err: `"fast" is not a duration; write e.g. 10s, 250ms or 1m30s`},
		{in: "", err: "is not a duration"},
		{in: "10 s", err: "is not a duration"},
		{in: "1y", err: "is not a duration"},
		{in: "9999999h", err: "is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("d: '"+tt.in+"'\n"), &v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "line 1") {
					t.Fatalf("error %v, want one containing line 1 and %q", err, tt.err)
				}
				return
			}
			if err != nil || v.D != tt.want {
				t.Fatalf("got %v, %v; want %v", v.D, err, tt.want)
			}
			if v.D.D() != time.Duration(tt.want) {
				t.Errorf("D() = %v", v.D.D())
			}
			back, err := parseDuration(v.D.String())
			if err != nil || back != v.D {
				t.Errorf("String %q does not parse back: %v, %v", v.D.String(), back, err)
			}
		})
	}
	var v struct{ D Duration }
	if err := yaml.Unmarshal([]byte("d: [1s]\n"), &v); err == nil || !strings.Contains(err.Error(), "expected a duration") {
		t.Errorf("list as duration: %v", err)
	}
}

func TestBandwidth(t *testing.T) {
	tests := []struct {
		in   string
		want Bandwidth
		err  string
	}{
		{in: "1Gbps", want: 1_000_000_000},
		{in: "100Mbps", want: 100_000_000},
		{in: "512kbps", want: 512_000},
		{in: "9600bps", want: 9600},
		{in: "2.5Gbps", want: 2_500_000_000},
		{in: "1.000Mbps", want: 1_000_000},
		{in: "0", want: 0},
		{in: "1000Gbps", want: MaxBandwidth},
		{in: "1Tbps", err: `"1Tbps" is not a bandwidth; use bps, kbps, Mbps or Gbps`},
		{in: "10", err: `"10" has no unit`},
		{in: "fast", err: "is not a bandwidth"},
		{in: "1gbps", err: "is not a bandwidth"},
		{in: "1GBps", err: "is not a bandwidth"},
		{in: "1Kbps", err: "is not a bandwidth"},
		{in: "Gbps", err: "is not a bandwidth"},
		{in: "-1Gbps", err: "is not a bandwidth"},
		{in: "1 Gbps", err: "is not a bandwidth"},
		{in: ".5Gbps", err: "is not a bandwidth"},
		{in: "1.Gbps", err: "is not a bandwidth"},
		{in: "1.5bps", err: "not a whole number of bits per second"},
		{in: "1.0000000001Gbps", err: "not a whole number of bits per second"},
		{in: "1001Gbps", err: "more than the 1000Gbps limit"},
		{in: "99999999999999999999999bps", err: "more than the 1000Gbps limit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct {
				B Bandwidth `yaml:"b"`
			}
			err := yaml.Unmarshal([]byte("b: '"+tt.in+"'\n"), &v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || v.B != tt.want {
				t.Fatalf("got %d, %v; want %d", v.B, err, tt.want)
			}
			out, _ := v.B.MarshalYAML()
			back, err := parseBandwidth(out.(string))
			if err != nil || back != v.B {
				t.Errorf("MarshalYAML %q does not parse back: %v, %v", out, back, err)
			}
		})
	}
	if got := Bandwidth(1_500_000).String(); got != "1500kbps" {
		t.Errorf("String = %q", got)
	}
	if got := Bandwidth(0).String(); got != "unlimited" {
		t.Errorf("String(0) = %q", got)
	}
}

func TestOverrides(t *testing.T) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	weighted := "name: t\nduration: 60s\nweights: [3, 1, 1]\nworkload: {rate: 10}\n"
	shared := base + "network:\n  latency: &l {dist: constant, value: 10ms}\n  links: [{from: [0], latency: *l}]\n"
	tests := []struct {
		name  string
		doc   string
		sets  []string
		check func(s *Scenario) bool
	}{
		{"drop", string(example), []string{"network.drop=0.05"}, func(s *Scenario) bool { return s.Network.Drop == 0.05 }},
		{"nodes", string(example), []string{"nodes=10"}, func(s *Scenario) bool { return s.Nodes == 10 && len(s.Weights) == 10 }},
		{"nodes replaces weights", weighted, []string{"nodes=4"}, func(s *Scenario) bool {
			return s.Nodes == 4 && slices.Equal(s.Weights, []uint64{1, 1, 1, 1})
		}},
		{"leader_timeout", string(example), []string{"consensus.leader_timeout=2s"}, func(s *Scenario) bool { return s.Consensus.LeaderTimeout == sec(2) }},
		{"min_round_interval", string(example), []string{"consensus.min_round_interval=50ms"}, func(s *Scenario) bool {
			return s.Consensus.MinRoundInterval == ms(50) && s.Consensus.LeaderTimeout == sec(1)
		}},
		{"latency max", string(example), []string{"network.latency.max=120ms"}, func(s *Scenario) bool {
			return s.Network.Latency == Latency{Dist: "uniform", Min: ms(20), Max: ms(120)}
		}},
		{"rate", string(example), []string{"workload.rate=5000"}, func(s *Scenario) bool { return s.Workload.Rate == 5000 }},
		{"seed", string(example), []string{"seed=7"}, func(s *Scenario) bool { return s.Seed == 7 }},
		{"later wins", base, []string{"seed=7", "seed=8"}, func(s *Scenario) bool { return s.Seed == 8 }},
		{"missing mappings are created", base, []string{"expect.liveness.disabled=true", "network.latency.dist=uniform", "network.latency.min=1ms", "network.latency.max=2ms"},
			func(s *Scenario) bool { return s.Expect.Liveness.Disabled && s.Network.Latency.Max == ms(2) }},
		{"into a null section", base + "workload:\n", []string{"workload.rate=3"}, func(s *Scenario) bool { return s.Workload.Rate == 3 }},
		{"empty value restores the default", base + "crypto: fast\n", []string{"crypto="}, func(s *Scenario) bool { return s.Crypto == "ed25519" }},
		{"string field from a number", base, []string{"name=123"}, func(s *Scenario) bool { return s.Name == "123" }},
		{"alias target is copied", base + "faults: [{at: 1s, degrade: {latency: &l {value: 1ms}}}]\nnetwork: {latency: *l}\n", []string{"network.latency.value=5ms"},
			func(s *Scenario) bool {
				return s.Network.Latency.Value == ms(5) && s.Faults[0].Degrade.Latency.Value == ms(1)
			}},
		{"vm rate", string(example), []string{"workload.vm.rate=5"}, func(s *Scenario) bool { return s.Workload.VM.Rate == 5 && s.Workload.Rate == 2000 }},
		{"vm stale reads", base, []string{"workload.vm.stale_reads=true"}, func(s *Scenario) bool {
			return s.Workload.VM.StaleReads && s.Workload.VM.Clients == 4 && s.Workload.TxSize == 256
		}},
		{"vm lease", base + "workload: {vm: {rate: 2}}\n", []string{"workload.vm.lease=1h"}, func(s *Scenario) bool {
			return s.Workload.VM.Lease == sec(3600) && s.Workload.VM.Rate == 2
		}},
		{"genesis", string(example), []string{"cluster.genesis=4"}, func(s *Scenario) bool { return s.Cluster.Genesis == 4 && s.Nodes == 7 }},
		{"genesis follows nodes", string(example), []string{"nodes=10"}, func(s *Scenario) bool { return s.Cluster.Genesis == 10 }},
		{"nodes and genesis", base, []string{"nodes=7", "cluster.genesis=5"}, func(s *Scenario) bool { return s.Nodes == 7 && s.Cluster.Genesis == 5 }},
		{"auto_approve off", base, []string{"cluster.auto_approve=false"}, func(s *Scenario) bool { return !s.Cluster.AutoApprove }},
		{"provisioning off", base, []string{"expect.provisioning.disabled=true"}, func(s *Scenario) bool {
			return s.Expect.Provisioning == Provisioning{Settle: sec(22), Disabled: true}
		}},
		{"status timeout moves the default settle", base, []string{"cluster.status_timeout=20s"}, func(s *Scenario) bool {
			return s.Expect.Provisioning.Settle == sec(42)
		}},
		{"anchor shared elsewhere is copied", shared, []string{"network.latency.value=20ms"}, func(s *Scenario) bool {
			return s.Network.Latency.Value == ms(20) && s.Network.Links[0].Latency.Value == ms(10)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := mustParse(t, tt.doc, tt.sets...); !tt.check(s) {
				t.Errorf("override not applied: %+v", s)
			}
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"network..drop=0.1", `key "network..drop" has an empty part`},
		{"network..drop", "want key=value"},
		{"=3", "empty key"},
		{"nodes", "want key=value"},
		{".nodes=3", "empty part"},
		{"nodes.=3", "empty part"},
		{"net work=1", `"net work" is not a field name`},
	} {
		if _, err := ParseOverride(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseOverride(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
	if o, err := ParseOverride("description=a=b"); err != nil || o != (Override{"description", "a=b"}) {
		t.Errorf("value with '=': %+v, %v", o, err)
	}

	for _, tt := range []struct {
		name, doc string
		set       Override
		want      string
	}{
		{"bad value", base, Override{"nodes", "abc"}, `x.yaml: --set nodes=abc: nodes: "abc" is not an integer`},
		{"bad duration", base, Override{"consensus.leader_timeout", "2"}, `--set consensus.leader_timeout=2: consensus.leader_timeout: "2" has no unit`},
		{"min_round_interval out of range", base, Override{"consensus.min_round_interval", "-5ms"}, "--set consensus.min_round_interval=-5ms: consensus.min_round_interval: -5ms is negative"},
		{"out of range", base, Override{"network.drop", "1.5"}, "--set network.drop=1.5: network.drop: 1.5 is not a probability"},
		{"unknown field", base, Override{"network.dorp", "0.1"}, `--set network.dorp=0.1: unknown field "dorp" in network`},
		{"unknown section", base, Override{"netwrok.drop", "0.1"}, `--set netwrok.drop=0.1: unknown field "netwrok" at the top level`},
		{"through a scalar", base + "seed: 1\n", Override{"seed.x", "1"}, `--set seed.x=1: seed is "1"`},
		{"through a string", base, Override{"name.x", "1"}, `--set name.x=1: name is "t", not a mapping`},
		{"through a list", base + "faults: [{at: 1s, heal: true}]\n", Override{"faults.at", "1s"}, "--set faults.at=1s: faults is a list, not a mapping"},
		{"bad key", base, Override{"network..drop", "0.1"}, "--set network..drop=0.1: key"},
		{"empty key", base, Override{"", "1"}, "empty key"},
		{"list value", base, Override{"weights", "[1, 2]"}, "weights: expected a list of weights"},
		{"genesis above nodes", base, Override{"cluster.genesis", "9"}, "x.yaml: --set cluster.genesis=9: cluster.genesis: 9; use 1 to nodes (4)"},
		{"nodes below genesis", base + "cluster: {genesis: 4}\n", Override{"nodes", "3"}, "x.yaml: line 4: cluster.genesis: 4; use 1 to nodes (3)"},
		{"vm rate out of range", base, Override{"workload.vm.rate", "5000"}, "--set workload.vm.rate=5000: workload.vm.rate: 5000; use 0 (no VM workload) to 1000"},
		{"stale reads not a bool", base, Override{"workload.vm.stale_reads", "maybe"}, `--set workload.vm.stale_reads=maybe: workload.vm.stale_reads: "maybe" is not true or false`},
		{"unknown vm field", base, Override{"workload.vm.rat", "5"}, `--set workload.vm.rat=5: unknown field "rat" in workload.vm`},
		{"regions from a scalar", base, Override{"cluster.regions", "eu"}, `--set cluster.regions=eu: cluster.regions: expected a list of region names, got "eu"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "x.yaml", tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(base), "x.yaml", make([]Override, MaxOverrides+1)...); err == nil || !strings.Contains(err.Error(), "overrides") {
		t.Errorf("too many overrides: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(base+"# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "big.yaml: larger than 1048576 bytes") {
		t.Errorf("big file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(base+"nodez: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": line 4: unknown field") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := Load(examplePath, Override{"nodes", "3"}); err == nil || !strings.Contains(err.Error(), "node 6 does not exist") {
		t.Errorf("override shrinking the committee: %v", err)
	}
}

// TestMarshalRoundTrip: a parsed scenario written back as YAML parses to the
// same scenario, so a run's effective configuration can be saved and rerun.
func TestMarshalRoundTrip(t *testing.T) {
	docs := []string{base}
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, string(example), base+`seed: 0
description: "two\nlines"
network:
  bandwidth: 2.5Gbps
  latency: {dist: normal, mean: 10ms, stddev: 0s}
  links: [{from: [0], to: [1], latency: {dist: lognormal, median: 1ms, sigma: 1}, duplicate: 0}]
workload: {rate: 0.5, nodes: [1], from: 1s, until: 50s}
byzantine:
  - {node: 0, behavior: flood, size: 10}
  - {node: 1, behavior: equivocate, targets: []}
faults:
  - {at: 2s, one_way: {to: [3]}}
  - {at: 3s, degrade: {reorder: 0.3}}
  - {at: 4s, crash: [3]}
  - {at: 5s, restart: [3], lose_state: true}
  - {at: 6s, slow: {node: 1, delay: 0s}}
  - {at: 7s, clock_skew: {node: 0, offset: 0s}}
  - {at: 8s, isolate: 0}
  - {at: 9s, store_fault: {node: 2, kind: write-error, write: snapshot}}
  - {at: 10s, store_fault: {node: 2, kind: corrupt}}
  - {at: 11s, restart: [2]}
  - {at: 12s, store_fault: {node: 2, kind: torn}}
  - {at: 13s, crash: [1], lose_unsynced: true}
consensus: {min_round_interval: 1h}
expect: {liveness: {after: 0s, within: 0s}, max_latency_p50: 1s}
`, "name: t\nduration: 60s\nnodes: 7\n"+`cluster:
  genesis: 3
  regions: [eu, us-east-1]
  vcpu: 8
  memory_mib: 4096
  disk_gib: 1
  boot_time: 0s
  boot_failure: 0.25
  epoch_length: 1s
  status_timeout: 1ms
  auto_approve: false
  price_vcpu_hour: 0
  price_memory_gib_hour: 1000000000000
  price_disk_gib_hour: 3
workload:
  vm:
    rate: 0.5
    clients: 1
    stale_reads: true
    lease: 1m
    vcpu: 2
    memory_mib: 1
    disk_gib: 1
    image: "123"
    bounce: 0.1
    late: 0.2
    late_by: 0s
    replay: 0.3
    underpay: 0.4
    timeout: 1ms
    from: 1s
    until: 2s
faults:
  - {at: 1s, join: 4}
  - {at: 2s, leave: 0}
  - {at: 3s, remove: 1}
  - {at: 4s, join: 0}
  - {at: 5s, host_down: 6}
  - {at: 6s, vm_crash: 5}
  - {at: 7s, host_up: 6}
expect: {provisioning: {settle: 0s, disabled: true}}
`, base+`faults:
  - {at: 1s, backup: [0, 3]}
  - {at: 2s, crash: [3]}
  - {at: 3s, restart: [3], restore_backup: true}
`, base+`byzantine:
  - {node: 0, behavior: twin, from: 2s}
  - {node: 1, behavior: twin}
faults:
  - {at: 2s, partition: [[0, 1, 2], [{twin: 0}, {twin: 1}, 3], [1, {twin: 1}]]}
`)
	for i, doc := range docs {
		s := mustParse(t, doc)
		roundTrip(t, s)
		if t.Failed() {
			t.Fatalf("document %d", i)
		}
	}
}

func roundTrip(t *testing.T, s *Scenario) {
	t.Helper()
	out, err := yaml.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	again, err := Parse(out, "marshalled.yaml")
	if err != nil {
		t.Fatalf("marshalled scenario does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(s, again) {
		t.Fatalf("round trip changed the scenario\nbefore %+v\nafter  %+v\n%s", s, again, out)
	}
}

func TestHelpers(t *testing.T) {
	if !slices.IsSorted(Behaviors) || !slices.Equal(Behaviors, validBehaviors()) {
		t.Errorf("Behaviors %v is not the sorted list of valid behaviours %v", Behaviors, validBehaviors())
	}
	s := &Scenario{Nodes: 4, Byzantine: []Byzantine{{Node: 1}, {Node: 1, From: sec(5)}, {Node: 3}}}
	if got := s.ByzantineCount(); got != 2 {
		t.Errorf("ByzantineCount = %d", got)
	}
	for i, want := range []bool{true, false, true, false} {
		if s.Honest(i) != want {
			t.Errorf("Honest(%d) = %v", i, !want)
		}
	}
	if s.Honest(-1) || s.Honest(4) {
		t.Errorf("Honest is true for a node outside the committee")
	}
	// The limits promise to match the consensus's own.
	if MaxNodes != graph.MaxCommitteeSize || MaxTotalWeight != graph.MaxCommitteeWeight {
		t.Errorf("limits differ from the graph's: %d/%d vs %d/%d", MaxNodes, uint64(MaxTotalWeight), graph.MaxCommitteeSize, uint64(graph.MaxCommitteeWeight))
	}
}
