package scenario

// Fuzz targets for the scenario decoder and its scalar parsers.
//
// Run one at a time; the names share prefixes, so anchor the pattern:
//
//	go test ./sim/scenario -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s
//	go test ./sim/scenario -run '^$' -fuzz '^FuzzParseOverride$' -fuzztime 60s
//	go test ./sim/scenario -run '^$' -fuzz '^FuzzUnits$' -fuzztime 60s
//
// Without -fuzz, `go test` runs every seed below as an ordinary test.

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSeedLimit keeps the multi-kilobyte limit and alias-bomb cases out of
// the corpus: they are covered by TestInvalid, and would slow every
// mutation the fuzzer derives from them.
const fuzzSeedLimit = 4096

// FuzzParse: Parse never panics; it returns a scenario or an error that
// names the file, never both; every scenario it returns keeps the promises
// the simulator relies on and survives being written back as YAML.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example, "")
	f.Add(example, "nodes=3")
	f.Add(example, "network.latency.max=120ms")
	f.Add([]byte(base), "weights=1")
	f.Add([]byte(base), "expect.liveness.disabled=true")
	f.Add([]byte(base+"network:\n  latency: &l {value: 1ms}\n  links: [{latency: *l}]\n"), "network.latency.value=2ms")
	f.Add([]byte(base), "workload.vm.rate=5")
	f.Add([]byte(base), "workload.vm.stale_reads=true")
	f.Add(example, "cluster.genesis=4")
	f.Add([]byte(base+"byzantine: [{node: 0, behavior: twin, from: 1s}, {node: 1, behavior: mute}]\nfaults: [{at: 1s, partition: [[0, 1, 2], [{twin: 0}, 1, 3]]}]\n"), "")
	f.Add([]byte(clusterSeed), "")
	f.Add([]byte(clusterSeed), "cluster.genesis=7")
	f.Add([]byte(clusterSeed), "expect.provisioning.settle=1m")
	for _, c := range invalidCases() {
		if len(c.doc) <= fuzzSeedLimit {
			f.Add([]byte(c.doc), "")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		var sets []Override
		if o, err := ParseOverride(set); err == nil {
			sets = append(sets, o)
		}
		s, err := Parse(data, "fuzz.yaml", sets...)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a scenario and an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkInvariants(t, s)
		roundTrip(t, s)
	})
}

// clusterSeed sets every field of the cluster, the VM workload and
// provisioning, every cluster fault and every storage fault.
const clusterSeed = `name: churn
duration: 90s
nodes: 7
cluster:
  genesis: 5
  regions: [eu, us]
  vcpu: 8
  memory_mib: 4096
  disk_gib: 100
  boot_time: 3s
  boot_failure: 0.1
  epoch_length: 10s
  status_timeout: 5s
  auto_approve: false
  price_vcpu_hour: 10
  price_memory_gib_hour: 2
  price_disk_gib_hour: 1
workload:
  rate: 100
  vm: {rate: 5, clients: 6, stale_reads: true, lease: 2m, vcpu: 2, memory_mib: 512, disk_gib: 5, image: alpine,
       bounce: 0.1, late: 0.1, late_by: 10s, replay: 0.1, underpay: 0.1, timeout: 20s, from: 1s, until: 80s}
faults:
  - {at: 10s, join: 5}
  - {at: 20s, leave: 1}
  - {at: 25s, join: 1}
  - {at: 30s, remove: 2}
  - {at: 35s, host_down: 3}
  - {at: 40s, vm_crash: 4}
  - {at: 45s, host_up: 3}
  - {at: 46s, store_fault: {node: 1, kind: write-error, write: snapshot}}
  - {at: 47s, store_fault: {node: 2, kind: corrupt, record: last-signed}}
  - {at: 48s, restart: [1, 2], lose_state: true}
  - {at: 49s, store_fault: {node: 3, kind: torn}}
  - {at: 50s, crash: [4], lose_unsynced: true}
expect: {provisioning: {settle: 15s}}
`

// checkInvariants re-checks, independently of the validator's code, what a
// parsed scenario promises.
func checkInvariants(t *testing.T, s *Scenario) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invalid scenario accepted: "+format+"\n%+v", append(args, s)...)
	}
	if s.Name == "" || s.Duration <= 0 || s.Duration.D() > MaxDuration {
		fail("name %q, duration %v", s.Name, s.Duration)
	}
	if s.Nodes < 1 || s.Nodes > MaxNodes || len(s.Weights) != s.Nodes || slices.Contains(s.Weights, 0) {
		fail("nodes %d, weights %v", s.Nodes, s.Weights)
	}
	if s.Crypto != CryptoEd25519 && s.Crypto != CryptoFast {
		fail("crypto %q", s.Crypto)
	}
	inRange := func(what string, list ...int) {
		t.Helper()
		for _, n := range list {
			if n < 0 || n >= s.Nodes {
				fail("%s: node %d", what, n)
			}
		}
	}
	inRun := func(what string, times ...Duration) {
		t.Helper()
		for _, v := range times {
			if v < 0 || v > s.Duration {
				fail("%s: %v outside the run", what, v)
			}
		}
	}
	prob := func(what string, p float64) {
		t.Helper()
		if !(p >= 0 && p <= 1) {
			fail("%s: probability %v", what, p)
		}
	}
	latency := func(what string, l Latency) {
		t.Helper()
		switch l.Dist {
		case DistConstant, DistUniform, DistNormal, DistLognormal:
		default:
			fail("%s: dist %q", what, l.Dist)
		}
		if l.Min > l.Max || l.Value < 0 || l.Min < 0 || l.Mean < 0 || l.Stddev < 0 || l.Median < 0 || !(l.Sigma >= 0 && l.Sigma <= MaxSigma) {
			fail("%s: %+v", what, l)
		}
	}
	link := func(what string, l Link) {
		t.Helper()
		inRange(what, l.From...)
		inRange(what, l.To...)
		if l.Latency != nil {
			latency(what, *l.Latency)
		}
		for _, p := range []*float64{l.Drop, l.Duplicate, l.Reorder} {
			if p != nil {
				prob(what, *p)
			}
		}
		if l.Drop != nil && *l.Drop == 1 {
			fail("%s: drop 1", what)
		}
	}
	nw := s.Network
	latency("network", nw.Latency)
	link("network", Link{Drop: &nw.Drop, Duplicate: &nw.Duplicate, Reorder: &nw.Reorder})
	for _, l := range nw.Links {
		link("link", l)
	}
	if nw.Bandwidth > MaxBandwidth {
		fail("bandwidth %v", nw.Bandwidth)
	}
	w := s.Workload
	if !(w.Rate >= 0 && w.Rate <= MaxRate) || w.TxSize < MinTxSize || w.TxSize > s.Consensus.MaxTxBytes {
		fail("workload %+v", w)
	}
	inRange("workload", w.Nodes...)
	inRun("workload", w.From, w.Until)
	for _, b := range s.Byzantine {
		inRange("byzantine", b.Node)
		inRange("byzantine targets", b.Targets...)
		inRun("byzantine", b.From, b.Until)
		if !slices.Contains(validBehaviors(), b.Behavior) || (b.Until != 0 && b.Until <= b.From) {
			fail("byzantine %+v", b)
		}
	}
	c := s.Cluster
	if c.Genesis < 1 || c.Genesis > s.Nodes || len(c.Regions) == 0 || len(c.Regions) > MaxRegions ||
		c.VCPU < 1 || c.VCPU > MaxHostCapacity || c.MemoryMiB < 1 || c.MemoryMiB > MaxHostCapacity || c.DiskGiB < 1 || c.DiskGiB > MaxHostCapacity ||
		c.BootTime < 0 || c.BootTime.D() > MaxDelay || !(c.BootFailure >= 0 && c.BootFailure < 1) ||
		c.EpochLength <= 0 || c.EpochLength.D() > MaxDuration || c.StatusTimeout <= 0 || c.StatusTimeout.D() > MaxDelay ||
		c.PriceVCPUHour > MaxPrice || c.PriceMemoryGiBHour > MaxPrice || c.PriceDiskGiBHour > MaxPrice {
		fail("cluster %+v", c)
	}
	for _, r := range c.Regions {
		if r == "" || len(r) > MaxRegionLen || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			fail("region %q", r)
		}
	}
	vm := w.VM
	if !(vm.Rate >= 0 && vm.Rate <= MaxVMRate) || vm.Clients < 1 || vm.Clients > MaxVMClients ||
		vm.Lease.D() < MinLease || vm.Lease.D() > MaxLease || vm.Lease.D()%time.Second != 0 ||
		vm.VCPU < 1 || vm.VCPU > MaxVMVCPU || vm.MemoryMiB < 1 || vm.MemoryMiB > MaxVMMemoryMiB || vm.DiskGiB < 1 || vm.DiskGiB > MaxVMDiskGiB ||
		vm.Image == "" || utf8.RuneCountInString(vm.Image) > MaxImageLen ||
		vm.LateBy < 0 || vm.LateBy.D() > MaxDelay || vm.Timeout <= 0 || vm.Timeout.D() > MaxDelay ||
		(vm.Until != 0 && vm.Until <= vm.From) {
		fail("vm workload %+v", vm)
	}
	inRun("vm workload", vm.From, vm.Until)
	for _, p := range []float64{vm.Bounce, vm.Late, vm.Replay, vm.Underpay} {
		prob("vm payment fault", p)
	}
	if vm.Bounce+vm.Late+vm.Replay+vm.Underpay > 1+1e-6 {
		fail("vm payment faults sum above 1")
	}
	if st := s.Expect.Provisioning.Settle; st < 0 || st > s.Duration {
		fail("provisioning settle %v", st)
	}
	// Membership and hosts, replayed in time order.
	member := make([]bool, s.Nodes)
	members := c.Genesis
	for i := range c.Genesis {
		member[i] = true
	}
	down := make([]bool, s.Nodes)
	for i, f := range s.Faults {
		for _, n := range []*int{f.Join, f.Leave, f.Remove, f.HostDown, f.HostUp, f.VMCrash} {
			if n != nil {
				inRange("cluster fault", *n)
			}
		}
		switch {
		case f.Join != nil:
			if member[*f.Join] {
				fail("fault %d joins member %d", i, *f.Join)
			}
			member[*f.Join] = true
			members++
		case f.Leave != nil, f.Remove != nil:
			n := f.Leave
			if n == nil {
				n = f.Remove
			}
			if !member[*n] || members == 1 {
				fail("fault %d takes out node %d (member %v) of %d members", i, *n, member[*n], members)
			}
			member[*n] = false
			members--
		case f.HostDown != nil:
			if down[*f.HostDown] {
				fail("fault %d takes down a down host", i)
			}
			down[*f.HostDown] = true
		case f.HostUp != nil:
			if !down[*f.HostUp] {
				fail("fault %d brings up a host that is up", i)
			}
			down[*f.HostUp] = false
		}
	}
	backedUp := make([]bool, s.Nodes)
	for i, f := range s.Faults {
		inRun("fault", f.At)
		if i > 0 && f.At < s.Faults[i-1].At {
			fail("faults not sorted")
		}
		actions := 0
		for _, set := range []bool{
			f.Partition != nil, f.OneWay != nil, f.Heal, f.Crash != nil, f.Restart != nil, f.Backup != nil,
			f.Isolate != nil, f.Degrade != nil, f.ClockSkew != nil, f.Slow != nil,
			f.Join != nil, f.Leave != nil, f.Remove != nil, f.HostDown != nil, f.HostUp != nil, f.VMCrash != nil,
			f.StoreFault != nil,
		} {
			if set {
				actions++
			}
		}
		if actions != 1 {
			fail("fault %d has %d actions", i, actions)
		}
		groupsOf := map[Endpoint]int{}
		for _, g := range f.Partition {
			if len(g) == 0 {
				fail("fault %d: empty partition group", i)
			}
			inGroup := map[Endpoint]bool{}
			for _, e := range g {
				inRange("partition", e.Node)
				if inGroup[e] {
					fail("fault %d: %v twice in one group", i, e)
				}
				inGroup[e] = true
				groupsOf[e]++
				if e.Twin && !slices.ContainsFunc(s.Byzantine, func(b Byzantine) bool { return b.Node == e.Node && b.Behavior == BehaviorTwin }) {
					fail("fault %d: %v without a twin entry", i, e)
				}
			}
		}
		for e, n := range groupsOf {
			if n > 1 && !e.Twin && s.Honest(e.Node) {
				fail("fault %d: honest node %d in %d groups", i, e.Node, n)
			}
		}
		inRange("crash", f.Crash...)
		inRange("restart", f.Restart...)
		inRange("backup", f.Backup...)
		for _, n := range f.Backup {
			backedUp[n] = true
		}
		for _, n := range f.Restart {
			if f.RestoreBackup && !backedUp[n] {
				fail("fault %d restores node %d, which has no backup", i, n)
			}
		}
		if f.OneWay != nil {
			inRange("one_way", append(f.OneWay.From, f.OneWay.To...)...)
		}
		if f.Isolate != nil {
			inRange("isolate", *f.Isolate)
		}
		if f.Degrade != nil {
			link("degrade", *f.Degrade)
		}
		if f.ClockSkew != nil {
			inRange("clock_skew", f.ClockSkew.Node)
		}
		if f.Slow != nil {
			inRange("slow", f.Slow.Node)
		}
		if f.LoseState && f.Restart == nil || f.LoseUnsynced && f.Crash == nil || f.RestoreBackup && (f.Restart == nil || f.LoseState) {
			fail("fault %d: a modifier without its action", i)
		}
		if sf := f.StoreFault; sf != nil {
			inRange("store_fault", sf.Node)
			ok := false
			switch sf.Kind {
			case StoreWriteError:
				ok = sf.Record == "" && slices.Contains([]string{WriteAny, WriteEvent, WriteLastSigned, WriteSnapshot, WritePrune}, sf.Write)
			case StoreCorrupt:
				ok = sf.Write == "" && slices.Contains([]string{RecordEvent, RecordLastSigned, RecordSnapshot}, sf.Record)
			case StoreTorn:
				ok = sf.Write == "" && sf.Record == ""
			}
			if !ok {
				fail("fault %d: store fault %+v", i, *sf)
			}
		}
	}
	if l := s.Expect.Liveness; !l.Disabled && !(l.After >= 0 && l.Within >= 0 && l.After < s.Duration-l.Within) {
		fail("liveness %+v", l)
	}
}

// FuzzParseOverride: ParseOverride never panics, and what it accepts is the
// input split at its first '='.
func FuzzParseOverride(f *testing.F) {
	for _, s := range []string{"nodes=10", "network.drop=0.05", "network..drop=1", "=3", "nodes", "a=b=c", "x.y.z=", ".=.", "workload.vm.rate=5", "cluster.genesis=4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOverride(s)
		if err != nil {
			return
		}
		if o.Key == "" || strings.Contains(o.Key, "=") || o.String() != s {
			t.Fatalf("ParseOverride(%q) = %+v", s, o)
		}
	})
}

// FuzzUnits: the duration and bandwidth parsers never panic, and what they
// accept they write back in a form that parses to the same value.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"10s", "250ms", "1m30s", "-2s", "0", "10", "fast", "1Gbps", "2.5Gbps", "512kbps", "9600bps", "1Tbps", "1.0000000001Gbps", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseDuration(s); err == nil {
			if back, err := parseDuration(d.String()); err != nil || back != d {
				t.Fatalf("duration %q -> %v -> %v, %v", s, d, back, err)
			}
		}
		if b, err := parseBandwidth(s); err == nil {
			if b > MaxBandwidth {
				t.Fatalf("bandwidth %q -> %d above the limit", s, b)
			}
			out, _ := b.MarshalYAML()
			if back, err := parseBandwidth(out.(string)); err != nil || back != b {
				t.Fatalf("bandwidth %q -> %d -> %q -> %d, %v", s, b, out, back, err)
			}
		}
	})
}
