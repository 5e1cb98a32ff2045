package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on Byzantine parameters.
const (
	MaxBehaviorCount = 1000     // flood and replay events per round
	MaxFloodSize     = 64 << 20 // bytes of a flood's oversized event
)

// probabilitySlack is how far a sum of probabilities may exceed 1: decimal
// shares such as 0.1 + 0.2 + 0.3 + 0.4 add up to a hair above 1 in floating
// point, and refusing them would be refusing what the user wrote.
const probabilitySlack = 1e-9

// complete fills in the defaults that depend on other fields (the decoder
// wrote in the others) and validates, in dependency order: every node
// index is checked against the committee, every time against the duration,
// and liveness defaults to the end of the faults and Byzantine windows.
func (d *decoder) complete(s *Scenario) error {
	for _, step := range []func(*Scenario) error{
		d.checkHeader, d.checkCommittee, d.checkConsensus, d.checkCluster, d.checkNetwork,
		d.checkByzantine, d.checkWorkload, d.checkVMWorkload, d.checkFaults, d.checkExpect,
	} {
		if err := step(s); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) checkHeader(s *Scenario) error {
	switch {
	case s.Name == "":
		return d.errAt("name", "name is required: a short identifier such as name: partition-heal-7")
	case utf8.RuneCountInString(s.Name) > MaxNameLen:
		return d.errAt("name", "name: %d characters, at most %d allowed", utf8.RuneCountInString(s.Name), MaxNameLen)
	case strings.ContainsFunc(s.Name, func(r rune) bool { return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) }):
		return d.errAt("name", "name: must be one line without control characters")
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxDescriptionLen {
		return d.errAt("description", "description: %d characters, at most %d allowed", n, MaxDescriptionLen)
	}
	if strings.ContainsFunc(s.Description, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return d.errAt("description", "description: control characters other than newline and tab are not allowed")
	}
	if !d.has("duration") {
		return d.errAt("duration", "duration is required: the simulated time of the run, e.g. duration: 60s")
	}
	if err := d.positive("duration", s.Duration, MaxDuration); err != nil {
		return err
	}
	if s.Crypto != CryptoEd25519 && s.Crypto != CryptoFast {
		return d.errAt("crypto", "crypto: unknown scheme %q; use %s or %s", clip(s.Crypto), CryptoEd25519, CryptoFast)
	}
	return nil
}

func (d *decoder) checkCommittee(s *Scenario) error {
	hasNodes, hasWeights := d.has("nodes"), d.has("weights")
	switch {
	case !hasNodes && !hasWeights:
		return d.errAt("nodes", "nodes is required: the number of nodes, e.g. nodes: 7 (or weights: [1, 1, 2] for unequal voting power)")
	case hasWeights:
		if len(s.Weights) == 0 {
			return d.errAt("weights", "weights: empty list; give one weight per node, e.g. weights: [1, 1, 2]")
		}
		var total uint64
		for i, w := range s.Weights {
			if w == 0 {
				return d.errAt("weights", "weights[%d]: 0; every node needs a weight of at least 1", i)
			}
			if w > MaxTotalWeight-total {
				return d.errAt("weights", "weights: the total is more than %d", uint64(MaxTotalWeight))
			}
			total += w
		}
		if hasNodes && s.Nodes != len(s.Weights) {
			return d.errAt("nodes", "nodes is %d but weights lists %d nodes; give only one of the two", s.Nodes, len(s.Weights))
		}
		s.Nodes = len(s.Weights)
	default:
		if s.Nodes < 1 || s.Nodes > MaxNodes {
			return d.errAt("nodes", "nodes: %d; use 1 to %d", s.Nodes, MaxNodes)
		}
		s.Weights = make([]uint64, s.Nodes)
		for i := range s.Weights {
			s.Weights[i] = 1
		}
	}
	d.mark = make([]bool, s.Nodes)
	return nil
}

func (d *decoder) checkConsensus(s *Scenario) error {
	c := &s.Consensus
	if err := d.positive("consensus.leader_timeout", c.LeaderTimeout, MaxDelay); err != nil {
		return err
	}
	if err := d.positive("consensus.fetch_retry", c.FetchRetry, MaxDelay); err != nil {
		return err
	}
	if err := d.intIn("consensus.max_event_txs", c.MaxEventTxs, 1, MaxEventTxsLimit); err != nil {
		return err
	}
	if err := d.intIn("consensus.max_tx_bytes", c.MaxTxBytes, 1, MaxTxBytesLimit); err != nil {
		return err
	}
	if c.GCDepth < MinGCDepth || c.GCDepth > MaxGCDepth {
		return d.errAt("consensus.gc_depth", "consensus.gc_depth: %d; use %d to %d rounds", c.GCDepth, MinGCDepth, MaxGCDepth)
	}
	if err := d.intIn("consensus.max_event_tx_bytes", c.MaxEventTxBytes, 0, MaxEventTxBytesLimit); err != nil {
		return err
	}
	return d.nonNegative("consensus.min_round_interval", c.MinRoundInterval, MaxDelay)
}

func (d *decoder) checkCluster(s *Scenario) error {
	c := &s.Cluster
	if !d.has("cluster.genesis") {
		c.Genesis = s.Nodes
	}
	if c.Genesis < 1 || c.Genesis > s.Nodes {
		return d.errAt("cluster.genesis", "cluster.genesis: %d; use 1 to nodes (%d): nodes 0 to genesis-1 found the cluster, the others start as observers", c.Genesis, s.Nodes)
	}
	if len(c.Regions) == 0 {
		return d.errAt("cluster.regions", "cluster.regions: empty list; name at least one region, e.g. regions: [eu, us], or leave it out for [%s]", DefaultRegion)
	}
	for i, r := range c.Regions {
		if !regionName(r) {
			p := index("cluster.regions", i)
			return d.errAt(p, "%s: %q is not a region name; use 1 to %d characters of a-z, 0-9 and -, e.g. eu-west", p, clip(r), MaxRegionLen)
		}
	}
	if err := d.intIn("cluster.vcpu", c.VCPU, 1, MaxHostCapacity); err != nil {
		return err
	}
	if err := d.uintIn("cluster.memory_mib", c.MemoryMiB, 1, MaxHostCapacity); err != nil {
		return err
	}
	if err := d.uintIn("cluster.disk_gib", c.DiskGiB, 1, MaxHostCapacity); err != nil {
		return err
	}
	if err := d.nonNegative("cluster.boot_time", c.BootTime, MaxDelay); err != nil {
		return err
	}
	switch v := c.BootFailure; {
	case v == 1:
		return d.errAt("cluster.boot_failure", "cluster.boot_failure: 1 would fail every boot, so no VM could ever run; use a probability below 1")
	case !(v >= 0 && v < 1):
		return d.errAt("cluster.boot_failure", "cluster.boot_failure: %v is not a probability; use a number from 0 to below 1", v)
	}
	if err := d.positive("cluster.epoch_length", c.EpochLength, MaxDuration); err != nil {
		return err
	}
	if err := d.positive("cluster.status_timeout", c.StatusTimeout, MaxDelay); err != nil {
		return err
	}
	for _, p := range []struct {
		key string
		v   uint64
	}{{"price_vcpu_hour", c.PriceVCPUHour}, {"price_memory_gib_hour", c.PriceMemoryGiBHour}, {"price_disk_gib_hour", c.PriceDiskGiBHour}} {
		if err := d.uintIn("cluster."+p.key, p.v, 0, MaxPrice); err != nil {
			return err
		}
	}
	return nil
}

// regionName reports whether r is 1 to MaxRegionLen characters of a-z,
// 0-9 and -.
func regionName(r string) bool {
	if r == "" || len(r) > MaxRegionLen {
		return false
	}
	for i := range len(r) {
		if c := r[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (d *decoder) checkNetwork(s *Scenario) error {
	nw := &s.Network
	if d.has("network.latency") {
		if err := d.checkLatency("network.latency", &nw.Latency); err != nil {
			return err
		}
	} else {
		nw.Latency = Latency{Dist: DistConstant, Value: Duration(DefaultLatency)}
	}
	if err := d.probabilities("network", &nw.Drop, &nw.Duplicate, &nw.Reorder); err != nil {
		return err
	}
	for i := range nw.Links {
		if err := d.checkLink(index("network.links", i), &nw.Links[i], s.Nodes); err != nil {
			return err
		}
	}
	return nil
}

// latencyGroup is a distribution with the fields that belong to it.
type latencyGroup struct {
	dist    string
	keys    []string
	example string
}

var latencyGroups = []latencyGroup{
	{DistConstant, []string{"value"}, "{dist: constant, value: 50ms}"},
	{DistUniform, []string{"min", "max"}, "{dist: uniform, min: 20ms, max: 80ms}"},
	{DistNormal, []string{"mean", "stddev"}, "{dist: normal, mean: 50ms, stddev: 10ms}"},
	{DistLognormal, []string{"median", "sigma"}, "{dist: lognormal, median: 50ms, sigma: 0.5}"},
}

func (d *decoder) checkLatency(path string, l *Latency) error {
	own := slices.IndexFunc(latencyGroups, func(g latencyGroup) bool { return g.dist == l.Dist })
	if own < 0 {
		return d.errAt(path+".dist", "%s.dist: unknown distribution %q; use constant, uniform, normal or lognormal", path, clip(l.Dist))
	}
	for gi, g := range latencyGroups {
		if gi == own {
			continue
		}
		for _, k := range g.keys {
			if d.has(path + "." + k) {
				verb := "is"
				if len(g.keys) > 1 {
					verb = "are"
				}
				return d.errAt(path+"."+k, "%s: %s %s for dist %s, not %s", path, strings.Join(g.keys, "/"), verb, g.dist, l.Dist)
			}
		}
	}
	g := latencyGroups[own]
	for _, k := range g.keys {
		if !d.has(path + "." + k) {
			return d.errAt(path, "%s: dist %s needs %s, e.g. %s", path, g.dist, strings.Join(g.keys, " and "), g.example)
		}
	}
	switch l.Dist {
	case DistConstant:
		return d.nonNegative(path+".value", l.Value, MaxDelay)
	case DistUniform:
		if err := d.nonNegative(path+".min", l.Min, MaxDelay); err != nil {
			return err
		}
		if err := d.nonNegative(path+".max", l.Max, MaxDelay); err != nil {
			return err
		}
		if l.Min > l.Max {
			return d.errAt(path+".max", "%s: min %v is more than max %v", path, l.Min, l.Max)
		}
	case DistNormal:
		if err := d.nonNegative(path+".mean", l.Mean, MaxDelay); err != nil {
			return err
		}
		return d.nonNegative(path+".stddev", l.Stddev, MaxDelay)
	case DistLognormal:
		if err := d.positive(path+".median", l.Median, MaxDelay); err != nil {
			return err
		}
		if !(l.Sigma > 0 && l.Sigma <= MaxSigma) {
			return d.errAt(path+".sigma", "%s.sigma: %v; use a shape above 0 and at most %d (0.5 is a moderate tail)", path, l.Sigma, MaxSigma)
		}
	}
	return nil
}

// checkLink validates a link override: network.links entries and degrade
// faults.
func (d *decoder) checkLink(path string, l *Link, nodes int) error {
	if l.Latency == nil && l.Drop == nil && l.Duplicate == nil && l.Reorder == nil {
		return d.errAt(path, "%s: changes nothing; give latency, drop, duplicate or reorder", path)
	}
	if err := d.nodeSet(path+".from", path+".from", l.From, nodes); err != nil {
		return err
	}
	if err := d.nodeSet(path+".to", path+".to", l.To, nodes); err != nil {
		return err
	}
	if l.Latency != nil {
		if err := d.checkLatency(path+".latency", l.Latency); err != nil {
			return err
		}
	}
	return d.probabilities(path, l.Drop, l.Duplicate, l.Reorder)
}

// probabilities checks the drop, duplicate and reorder fields of a section;
// nil pointers are fields a link override leaves alone.
func (d *decoder) probabilities(path string, drop, duplicate, reorder *float64) error {
	for _, p := range []struct {
		key string
		v   *float64
	}{{"drop", drop}, {"duplicate", duplicate}, {"reorder", reorder}} {
		if p.v == nil {
			continue
		}
		k := path + "." + p.key
		if v := *p.v; !(v >= 0 && v <= 1) {
			return d.errAt(k, "%s: %v is not a probability; use a number from 0 to 1", k, v)
		}
	}
	if drop != nil && *drop == 1 {
		k := path + ".drop"
		return d.errAt(k, "%s: 1 would drop every message; use a value below 1, or cut nodes off with a partition, one_way or isolate fault", k)
	}
	return nil
}

func (d *decoder) checkByzantine(s *Scenario) error {
	for i := range s.Byzantine {
		b := &s.Byzantine[i]
		p := index("byzantine", i)
		if !d.has(p + ".node") {
			return d.errAt(p, "%s: node is required: the index of the misbehaving node", p)
		}
		if err := d.nodeIndex(p+".node", p+".node", b.Node, s.Nodes); err != nil {
			return err
		}
		if !d.has(p + ".behavior") {
			return d.errAt(p, "%s: behavior is required; one of %s", p, strings.Join(validBehaviors(), ", "))
		}
		if !slices.Contains(validBehaviors(), b.Behavior) {
			return d.errAt(p+".behavior", "%s.behavior: unknown behaviour %q; use one of %s", p, clip(b.Behavior), strings.Join(validBehaviors(), ", "))
		}
		switch b.Behavior {
		case BehaviorWithhold:
			if len(b.Targets) == 0 {
				return d.errAt(p, "%s: withhold needs targets: the peers it withholds its events from (mute withholds from everyone)", p)
			}
		case BehaviorEquivocate:
		default:
			if len(b.Targets) > 0 {
				return d.errAt(p+".targets", "%s.targets: only withhold and equivocate take targets, not %s", p, b.Behavior)
			}
		}
		if err := d.nodeSet(p+".targets", p+".targets", b.Targets, s.Nodes); err != nil {
			return err
		}
		if slices.Contains(b.Targets, b.Node) {
			return d.errAt(p+".targets", "%s.targets: lists node %d itself; targets are its peers", p, b.Node)
		}
		if b.Behavior == BehaviorEquivocate && len(b.Targets) == 0 {
			// Written out so that a run's report and a saved scenario
			// show who saw which version.
			for peer := 1; peer < s.Nodes; peer += 2 {
				if peer != b.Node {
					b.Targets = append(b.Targets, peer)
				}
			}
		}
		switch b.Behavior {
		case BehaviorFlood, BehaviorReplay:
			if err := d.intIn(p+".count", b.Count, 0, MaxBehaviorCount); err != nil {
				return err
			}
			switch {
			case b.Count != 0:
			case b.Behavior == BehaviorFlood:
				b.Count = DefaultFloodCount
			default:
				b.Count = DefaultReplayCount
			}
		default:
			if b.Count != 0 {
				return d.errAt(p+".count", "%s.count: only flood and replay take a count, not %s", p, b.Behavior)
			}
		}
		if b.Behavior == BehaviorFlood {
			if err := d.intIn(p+".size", b.Size, 0, MaxFloodSize); err != nil {
				return err
			}
		} else if b.Size != 0 {
			return d.errAt(p+".size", "%s.size: only flood takes a size, not %s", p, b.Behavior)
		}
		if err := d.window(p, b.From, b.Until, s.Duration); err != nil {
			return err
		}
	}
	d.roles = make([]uint8, s.Nodes)
	for _, b := range s.Byzantine {
		d.roles[b.Node] |= roleByzantine
		if b.Behavior == BehaviorTwin {
			d.roles[b.Node] |= roleTwin
		}
	}
	// Sorted by node, then start, an overlap shows between neighbours:
	// if a window overlaps a later one it overlaps the next one too.
	order := make([]int, len(s.Byzantine))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := s.Byzantine[a], s.Byzantine[b]
		return cmp.Or(cmp.Compare(x.Node, y.Node), cmp.Compare(x.From, y.From))
	})
	for k := 1; k < len(order); k++ {
		i, j := order[k-1], order[k]
		a, b := s.Byzantine[i], s.Byzantine[j]
		if a.Node == b.Node && b.From < windowEnd(a.Until, s.Duration) {
			return d.errAt(index("byzantine", j), "byzantine[%d]: node %d's window %s overlaps that of byzantine[%d] (%s); give one node one behaviour at a time",
				j, b.Node, window(b.From, b.Until), i, window(a.From, a.Until))
		}
	}
	return nil
}

// Roles of a node, for checks that depend on its byzantine entries.
const (
	roleByzantine uint8 = 1 << iota // it has an entry
	roleTwin                        // one of its entries is a twin
)

// validBehaviors is a private copy of Behaviors, which callers may change.
func validBehaviors() []string {
	return []string{
		BehaviorBadParents, BehaviorEquivocate, BehaviorFlood, BehaviorInvalidSignature,
		BehaviorLazy, BehaviorMute, BehaviorReplay, BehaviorRunAhead, BehaviorTwin, BehaviorWithhold,
	}
}

func windowEnd(until, duration Duration) Duration {
	if until == 0 {
		return duration
	}
	return until
}

func window(from, until Duration) string {
	if until == 0 {
		return from.String() + "..end"
	}
	return from.String() + ".." + until.String()
}

func (d *decoder) checkWorkload(s *Scenario) error {
	w := &s.Workload
	if !(w.Rate >= 0 && w.Rate <= MaxRate) {
		return d.errAt("workload.rate", "workload.rate: %v; use 0 (no workload) to %d transactions per second", w.Rate, int(MaxRate))
	}
	if w.TxSize < MinTxSize || w.TxSize > s.Consensus.MaxTxBytes {
		return d.errAt("workload.tx_size", "workload.tx_size: %d; use %d to consensus.max_tx_bytes (%d)", w.TxSize, MinTxSize, s.Consensus.MaxTxBytes)
	}
	if err := d.nodeSet("workload.nodes", "workload.nodes", w.Nodes, s.Nodes); err != nil {
		return err
	}
	if err := d.window("workload", w.From, w.Until, s.Duration); err != nil {
		return err
	}
	if w.Rate > 0 && len(w.Nodes) == 0 && s.ByzantineCount() == s.Nodes {
		return d.errAt("workload", "workload: every node is byzantine, so none receives transactions by default; list the receivers in workload.nodes")
	}
	return nil
}

func (d *decoder) checkVMWorkload(s *Scenario) error {
	w := &s.Workload.VM
	if !(w.Rate >= 0 && w.Rate <= MaxVMRate) {
		return d.errAt("workload.vm.rate", "workload.vm.rate: %v; use 0 (no VM workload) to %d operations per second", w.Rate, MaxVMRate)
	}
	if err := d.intIn("workload.vm.clients", w.Clients, 1, MaxVMClients); err != nil {
		return err
	}
	if w.Lease < Duration(MinLease) || w.Lease > Duration(MaxLease) {
		return d.errAt("workload.vm.lease", "workload.vm.lease: %v; use %v to %v", w.Lease, Duration(MinLease), Duration(MaxLease))
	}
	if w.Lease%Duration(time.Second) != 0 {
		return d.errAt("workload.vm.lease", "workload.vm.lease: %v is not a whole number of seconds; round it, e.g. to %v", w.Lease, w.Lease.D().Round(time.Second))
	}
	if err := d.intIn("workload.vm.vcpu", w.VCPU, 1, MaxVMVCPU); err != nil {
		return err
	}
	if err := d.uintIn("workload.vm.memory_mib", w.MemoryMiB, 1, MaxVMMemoryMiB); err != nil {
		return err
	}
	if err := d.uintIn("workload.vm.disk_gib", w.DiskGiB, 1, MaxVMDiskGiB); err != nil {
		return err
	}
	switch n := utf8.RuneCountInString(w.Image); {
	case n == 0:
		return d.errAt("workload.vm.image", "workload.vm.image: empty; name the image, e.g. image: %s (the default when left out)", DefaultImage)
	case n > MaxImageLen:
		return d.errAt("workload.vm.image", "workload.vm.image: %d characters, at most %d allowed", n, MaxImageLen)
	case strings.ContainsFunc(w.Image, unicode.IsControl):
		return d.errAt("workload.vm.image", "workload.vm.image: must be one line without control characters")
	}
	var sum float64
	for _, p := range []struct {
		key string
		v   float64
	}{{"bounce", w.Bounce}, {"late", w.Late}, {"replay", w.Replay}, {"underpay", w.Underpay}} {
		if !(p.v >= 0 && p.v <= 1) {
			k := "workload.vm." + p.key
			return d.errAt(k, "%s: %v is not a probability; use a number from 0 to 1", k, p.v)
		}
		sum += p.v
	}
	if sum > 1+probabilitySlack {
		return d.errAt("workload.vm", "workload.vm: bounce + late + replay + underpay is %v, more than 1; each is the share of creates with that payment fault, so lower them", sum)
	}
	if err := d.nonNegative("workload.vm.late_by", w.LateBy, MaxDelay); err != nil {
		return err
	}
	if err := d.positive("workload.vm.timeout", w.Timeout, MaxDelay); err != nil {
		return err
	}
	return d.window("workload.vm", w.From, w.Until, s.Duration)
}

// faultActions are the fields of which a fault entry sets exactly one.
var faultActions = []string{"partition", "one_way", "heal", "crash", "restart", "backup", "isolate", "degrade", "clock_skew", "slow", "join", "leave", "remove", "host_down", "host_up", "vm_crash", "store_fault"}

func (d *decoder) checkFaults(s *Scenario) error {
	for i := range s.Faults {
		f := &s.Faults[i]
		p := index("faults", i)
		if !d.has(p + ".at") {
			return d.errAt(p, "fault %d: at is required: when the fault happens, e.g. at: 10s", i)
		}
		if err := d.inRun(p+".at", fmt.Sprintf("fault %d: at", i), f.At, s.Duration); err != nil {
			return err
		}
		what := fmt.Sprintf("fault %d at %v", i, f.At)
		var actions []string
		for _, a := range faultActions {
			if d.has(p + "." + a) {
				actions = append(actions, a)
			}
		}
		switch len(actions) {
		case 0:
			return d.errAt(p, "%s: no action; give one of %s", what, strings.Join(faultActions, ", "))
		case 1:
		default:
			return d.errAt(p, "%s: %s in one entry; give each action its own entry (entries may share an at)", what, strings.Join(actions, " and "))
		}
		if f.LoseState && len(f.Restart) == 0 {
			return d.errAt(p+".lose_state", "%s: lose_state only modifies restart; add restart: [nodes] or remove it", what)
		}
		if f.LoseUnsynced && len(f.Crash) == 0 {
			return d.errAt(p+".lose_unsynced", "%s: lose_unsynced only modifies crash; add crash: [nodes] or remove it", what)
		}
		if f.RestoreBackup && len(f.Restart) == 0 {
			return d.errAt(p+".restore_backup", "%s: restore_backup only modifies restart; add restart: [nodes] or remove it", what)
		}
		if f.RestoreBackup && f.LoseState {
			return d.errAt(p+".restore_backup", "%s: lose_state and restore_backup in one restart; a node comes back on an empty store or on its backup, so keep one", what)
		}
		if err := d.checkFault(s, f, p, what, actions[0]); err != nil {
			return err
		}
	}
	// Crashes and restarts, hosts going down and up, and membership are
	// replayed in time order: the order in which the simulator applies
	// them. A torn store fault crashes its node; a write-error or corrupt
	// one may stop it, so a restart may follow it; and a node whose store
	// may be damaged (torn or corrupt) may refuse a restart on it, so
	// another restart may follow until one with lose_state. A restart
	// with restore_backup needs a backup of each node taken before it,
	// and its store is then the backup, damaged if the store was when
	// the backup was taken.
	order := make([]int, len(s.Faults))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(s.Faults[a].At, s.Faults[b].At) })
	crashedBy, storeFaultBy, damagedBy := make([]int, s.Nodes), make([]int, s.Nodes), make([]int, s.Nodes)
	// backupBy is the fault that took each node's newest backup, -1 if
	// none has; backupDamagedBy the damage that backup holds, -1 if none.
	backupBy, backupDamagedBy := make([]int, s.Nodes), make([]int, s.Nodes)
	for i := range crashedBy {
		crashedBy[i], storeFaultBy[i], damagedBy[i] = -1, -1, -1
		backupBy[i], backupDamagedBy[i] = -1, -1
	}
	m := newClusterReplay(s.Nodes, s.Cluster.Genesis)
	for _, i := range order {
		f := s.Faults[i]
		if err := m.apply(d, s, i); err != nil {
			return err
		}
		for _, n := range f.Crash {
			if by := crashedBy[n]; by >= 0 {
				return d.errAt(index("faults", i), "fault %d at %v: crash of node %d, which is already crashed (by fault %d at %v); restart it first",
					i, f.At, n, by, s.Faults[by].At)
			}
			crashedBy[n] = i
		}
		if sf := f.StoreFault; sf != nil {
			n := sf.Node
			if sf.Kind != StoreWriteError {
				damagedBy[n] = i
			}
			switch by := crashedBy[n]; {
			case sf.Kind != StoreTorn:
				storeFaultBy[n] = i
			case by >= 0:
				return d.errAt(index("faults", i), "fault %d at %v: a torn write crashes node %d, which is already crashed (by fault %d at %v); restart it first, or use kind: corrupt to damage a stopped node's store",
					i, f.At, n, by, s.Faults[by].At)
			default:
				crashedBy[n] = i
			}
		}
		for _, n := range f.Backup {
			backupBy[n], backupDamagedBy[n] = i, damagedBy[n]
		}
		for _, n := range f.Restart {
			if crashedBy[n] < 0 && storeFaultBy[n] < 0 && damagedBy[n] < 0 {
				return d.errAt(index("faults", i), "fault %d at %v: restart of node %d, which is not crashed, has had no store fault since it started and has no damaged store; crash it in an earlier fault", i, f.At, n)
			}
			if f.RestoreBackup && backupBy[n] < 0 {
				return d.errAt(index("faults", i)+".restore_backup", "fault %d at %v: restore_backup, but no backup of node %d was taken before; add {at: <an earlier time>, backup: [%d]} to the faults, or remove restore_backup", i, f.At, n, n)
			}
			crashedBy[n], storeFaultBy[n] = -1, -1
			switch {
			case f.LoseState:
				damagedBy[n] = -1
			case f.RestoreBackup:
				damagedBy[n] = backupDamagedBy[n]
			}
		}
	}
	sorted := make([]Fault, len(s.Faults))
	for k, i := range order {
		sorted[k] = s.Faults[i]
	}
	if len(sorted) > 0 {
		s.Faults = sorted
	}
	return nil
}

func (d *decoder) checkFault(s *Scenario, f *Fault, p, what, action string) error {
	field := p + "." + action
	label := what + ": " + action
	switch action {
	case "partition":
		return d.checkPartition(s, field, label, f.Partition)
	case "one_way":
		if len(f.OneWay.From) == 0 && len(f.OneWay.To) == 0 {
			return d.errAt(field, "%s: give from, to or both (an empty list means every node)", label)
		}
		if err := d.nodeSet(field+".from", label+".from", f.OneWay.From, s.Nodes); err != nil {
			return err
		}
		return d.nodeSet(field+".to", label+".to", f.OneWay.To, s.Nodes)
	case "heal":
		if !f.Heal {
			return d.errAt(field, "%s: false does nothing; write heal: true or remove the entry", label)
		}
	case "crash", "restart", "backup":
		list := f.Crash
		switch action {
		case "restart":
			list = f.Restart
		case "backup":
			list = f.Backup
		}
		if len(list) == 0 {
			return d.errAt(field, "%s: empty list; name the nodes, e.g. %s: [2]", label, action)
		}
		return d.nodeSet(field, label, list, s.Nodes)
	case "isolate", "join", "leave", "remove", "host_down", "host_up", "vm_crash":
		return d.nodeIndex(field, label, *faultNode(f, action), s.Nodes)
	case "degrade":
		return d.checkLink(field, f.Degrade, s.Nodes)
	case "clock_skew":
		if !d.has(field + ".node") {
			return d.errAt(field, "%s: node is required", label)
		}
		if err := d.nodeIndex(field+".node", label+".node", f.ClockSkew.Node, s.Nodes); err != nil {
			return err
		}
		if o := f.ClockSkew.Offset; o < -Duration(MaxDuration) || o > Duration(MaxDuration) {
			return d.errAt(field+".offset", "%s.offset: %v; use an offset within ±%v", label, o, MaxDuration)
		}
	case "slow":
		if !d.has(field + ".node") {
			return d.errAt(field, "%s: node is required", label)
		}
		if err := d.nodeIndex(field+".node", label+".node", f.Slow.Node, s.Nodes); err != nil {
			return err
		}
		if !d.has(field + ".delay") {
			return d.errAt(field, "%s: delay is required (0 makes the node normal again)", label)
		}
		return d.nonNegative(field+".delay", f.Slow.Delay, MaxDelay)
	case "store_fault":
		return d.checkStoreFault(field, label, f.StoreFault, s.Nodes)
	}
	return nil
}

// checkStoreFault validates a store_fault and writes its default in.
func (d *decoder) checkStoreFault(path, label string, sf *StoreFault, nodes int) error {
	if !d.has(path + ".node") {
		return d.errAt(path, "%s: node is required", label)
	}
	if err := d.nodeIndex(path+".node", label+".node", sf.Node, nodes); err != nil {
		return err
	}
	kinds := []string{StoreWriteError, StoreCorrupt, StoreTorn}
	if !d.has(path + ".kind") {
		return d.errAt(path, "%s: kind is required; one of %s", label, strings.Join(kinds, ", "))
	}
	if !slices.Contains(kinds, sf.Kind) {
		return d.errAt(path+".kind", "%s.kind: unknown kind %q; use one of %s", label, clip(sf.Kind), strings.Join(kinds, ", "))
	}
	writes := []string{WriteAny, WriteEvent, WriteLastSigned, WriteSnapshot, WritePrune}
	records := []string{RecordEvent, RecordLastSigned, RecordSnapshot}
	switch {
	case d.has(path+".write") && sf.Kind != StoreWriteError:
		return d.errAt(path+".write", "%s.write: only a write-error takes a write, not %s", label, sf.Kind)
	case d.has(path+".record") && sf.Kind != StoreCorrupt:
		return d.errAt(path+".record", "%s.record: only corrupt takes a record, not %s (a torn write damages the record written last)", label, sf.Kind)
	}
	switch sf.Kind {
	case StoreWriteError:
		if !d.has(path + ".write") {
			sf.Write = WriteAny
		}
		if !slices.Contains(writes, sf.Write) {
			return d.errAt(path+".write", "%s.write: unknown write %q; use one of %s", label, clip(sf.Write), strings.Join(writes, ", "))
		}
	case StoreCorrupt:
		if !d.has(path + ".record") {
			sf.Record = RecordEvent
		}
		if !slices.Contains(records, sf.Record) {
			return d.errAt(path+".record", "%s.record: unknown record %q; use one of %s", label, clip(sf.Record), strings.Join(records, ", "))
		}
	}
	return nil
}

// faultNode is the node of an action that names one node.
func faultNode(f *Fault, action string) *int {
	switch action {
	case "isolate":
		return f.Isolate
	case "join":
		return f.Join
	case "leave":
		return f.Leave
	case "remove":
		return f.Remove
	case "host_down":
		return f.HostDown
	case "host_up":
		return f.HostUp
	case "vm_crash":
		return f.VMCrash
	}
	return nil
}

// clusterReplay replays the faults that change the committee or a host, in
// time order. It treats a join, leave or remove as taking effect at once,
// which is enough to catch a fault that cannot apply: joining a member,
// taking out a node that is not one, emptying the committee, or taking a
// host down twice.
type clusterReplay struct {
	member  []bool
	members int
	// changedBy is the fault that last made each node a member or took it
	// out, -1 if none has; downBy the fault that took its host down, -1
	// if its host is up.
	changedBy, downBy []int
	genesis           int
}

func newClusterReplay(nodes, genesis int) *clusterReplay {
	m := &clusterReplay{member: make([]bool, nodes), members: genesis, genesis: genesis,
		changedBy: make([]int, nodes), downBy: make([]int, nodes)}
	for i := range nodes {
		m.member[i] = i < genesis
		m.changedBy[i], m.downBy[i] = -1, -1
	}
	return m
}

// apply replays fault i of s, whose node indices are valid.
func (m *clusterReplay) apply(d *decoder, s *Scenario, i int) error {
	f := s.Faults[i]
	p := index("faults", i)
	earlier := func(by int) string { return fmt.Sprintf("fault %d at %v", by, s.Faults[by].At) }
	switch {
	case f.Join != nil:
		n := *f.Join
		switch by := m.changedBy[n]; {
		case m.member[n] && by >= 0:
			return d.errAt(p, "fault %d at %v: join of node %d, which is already a member (it joined in %s); make it leave or remove it first", i, f.At, n, earlier(by))
		case m.member[n]:
			return d.errAt(p, "fault %d at %v: join of node %d, which founded the cluster (cluster.genesis is %d, so nodes 0 to %d start as members); only later nodes start as observers that can join, so lower cluster.genesis or make the node leave first",
				i, f.At, n, m.genesis, m.genesis-1)
		}
		m.member[n], m.changedBy[n] = true, i
		m.members++
	case f.Leave != nil || f.Remove != nil:
		n, action := 0, ""
		if f.Leave != nil {
			n, action = *f.Leave, "leave"
		} else {
			n, action = *f.Remove, "remove"
		}
		switch by := m.changedBy[n]; {
		case !m.member[n] && by >= 0:
			how := "it was removed"
			if s.Faults[by].Leave != nil {
				how = "it left"
			}
			return d.errAt(p, "fault %d at %v: %s of node %d, which is not a member then (%s in %s); join it again first", i, f.At, action, n, how, earlier(by))
		case !m.member[n]:
			return d.errAt(p, "fault %d at %v: %s of node %d, which is not a member then: it starts as an observer (cluster.genesis is %d); join it in an earlier fault, or raise cluster.genesis",
				i, f.At, action, n, m.genesis)
		case m.members == 1:
			return d.errAt(p, "fault %d at %v: %s of node %d would leave the committee without members; join another node first, or drop the fault", i, f.At, action, n)
		}
		m.member[n], m.changedBy[n] = false, i
		m.members--
	case f.HostDown != nil:
		n := *f.HostDown
		if by := m.downBy[n]; by >= 0 {
			return d.errAt(p, "fault %d at %v: host_down of node %d, whose host is already down (by %s); bring it back with host_up first", i, f.At, n, earlier(by))
		}
		m.downBy[n] = i
	case f.HostUp != nil:
		n := *f.HostUp
		if m.downBy[n] < 0 {
			return d.errAt(p, "fault %d at %v: host_up of node %d, whose host is not down; take it down with host_down in an earlier fault", i, f.At, n)
		}
		m.downBy[n] = -1
	}
	return nil
}

// checkPartition checks a partition's groups. An endpoint is in the groups
// that list it; only a Byzantine node or a twin may be in more than one,
// and {twin: N} needs a twin entry for node N.
func (d *decoder) checkPartition(s *Scenario, path, label string, groups [][]Endpoint) error {
	if len(groups) == 0 {
		return d.errAt(path, "%s: no groups; write e.g. partition: [[0, 1], [2, 3]]", label)
	}
	// last holds, per endpoint (node i at i, its twin at Nodes+i), 1 + the
	// last group that listed it; 0 if none has.
	last := d.partitionScratch(s.Nodes)
	defer clear(last)
	listed := 0
	for gi, g := range groups {
		gp := index(path, gi)
		if len(g) == 0 {
			return d.errAt(gp, "%s: group %d is empty", label, gi)
		}
		for mi, e := range g {
			mp := index(gp, mi)
			if err := d.nodeIndex(mp, label, e.Node, s.Nodes); err != nil {
				return err
			}
			slot := e.Node
			if e.Twin {
				slot += s.Nodes
				if d.roles[e.Node]&roleTwin == 0 {
					return d.errAt(mp, "%s: group %d lists %v, but node %d has no twin; add {node: %d, behavior: twin} under byzantine, or list node %d itself",
						label, gi, e, e.Node, e.Node, e.Node)
				}
			}
			switch prev := last[slot] - 1; {
			case prev == gi:
				return d.errAt(mp, "%s: group %d lists %v twice", label, gi, e)
			case prev >= 0 && !e.Twin && d.roles[e.Node]&roleByzantine == 0:
				return d.errAt(mp, "%s: node %d is in more than one group (%d and %d), but it is honest: an honest node is in exactly one group; only a byzantine node or a twin may be in several, to talk to each",
					label, e.Node, prev, gi)
			case prev < 0 && !e.Twin:
				listed++
			}
			last[slot] = gi + 1
		}
	}
	if listed == s.Nodes && len(groups) < 2 {
		return d.errAt(path, "%s: one group with every node splits nothing; list at least two groups, or leave some nodes out to form the other", label)
	}
	return nil
}

// partitionScratch returns a zeroed slice with a place for every node and
// every node's twin, allocated once per decode: a file may hold many
// partitions.
func (d *decoder) partitionScratch(nodes int) []int {
	if len(d.slots) != 2*nodes {
		d.slots = make([]int, 2*nodes)
	}
	return d.slots
}

func (d *decoder) checkExpect(s *Scenario) error {
	l := &s.Expect.Liveness
	const p = "expect.liveness"
	defaulted := !d.has(p + ".after")
	if defaulted {
		if n := len(s.Faults); n > 0 {
			l.After = s.Faults[n-1].At // sorted by checkFaults
		}
		for _, b := range s.Byzantine {
			l.After = max(l.After, b.Until)
		}
	}
	if err := d.inRun(p+".after", p+".after", l.After, s.Duration); err != nil {
		return err
	}
	if err := d.inRun(p+".within", p+".within", l.Within, s.Duration); err != nil {
		return err
	}
	if !l.Disabled && l.After >= s.Duration-l.Within {
		after := fmt.Sprintf("after %v", l.After)
		if defaulted {
			after = fmt.Sprintf("after (by default the last fault or Byzantine window end, %v)", l.After)
		}
		return d.errAt(p, "%s: %s is not before duration - within (%v - %v), so no transaction would be checked; lengthen the run, lower after or within, or set liveness: {disabled: true}",
			p, after, s.Duration, l.Within)
	}
	e := &s.Expect
	if !(e.MinCommitTPS >= 0 && e.MinCommitTPS <= MaxRate) {
		return d.errAt("expect.min_commit_tps", "expect.min_commit_tps: %v; use 0 (no check) to %d", e.MinCommitTPS, int(MaxRate))
	}
	if e.MinCommitTPS > s.Workload.Rate {
		return d.errAt("expect.min_commit_tps", "expect.min_commit_tps: %v is more than workload.rate (%v), so no run can pass; lower it or raise the rate", e.MinCommitTPS, s.Workload.Rate)
	}
	if err := d.inRun("expect.max_latency_p99", "expect.max_latency_p99", e.MaxLatencyP99, s.Duration); err != nil {
		return err
	}
	if err := d.inRun("expect.max_latency_p50", "expect.max_latency_p50", e.MaxLatencyP50, s.Duration); err != nil {
		return err
	}
	if e.MaxLatencyP99 > 0 && e.MaxLatencyP50 > e.MaxLatencyP99 {
		return d.errAt("expect.max_latency_p50", "expect.max_latency_p50: %v is more than max_latency_p99 (%v); a median cannot exceed the 99th percentile", e.MaxLatencyP50, e.MaxLatencyP99)
	}
	pr := &e.Provisioning
	if !d.has("expect.provisioning.settle") {
		// Capped at the run, so that a run shorter than the default
		// needs no provisioning section; it then checks no VM, as none
		// can have settled.
		c := &s.Cluster
		pr.Settle = min(2*c.StatusTimeout+c.BootTime, s.Duration)
	}
	if pr.Settle < 0 || pr.Settle > s.Duration {
		return d.errAt("expect.provisioning.settle", "expect.provisioning.settle: %v; use 0 to the run's duration (%v), or turn the check off with provisioning: {disabled: true}", pr.Settle, s.Duration)
	}
	return nil
}

// window checks a from/until pair of the section at path.
func (d *decoder) window(path string, from, until, duration Duration) error {
	if err := d.inRun(path+".from", path+".from", from, duration); err != nil {
		return err
	}
	if err := d.inRun(path+".until", path+".until", until, duration); err != nil {
		return err
	}
	if until != 0 && until <= from {
		return d.errAt(path+".until", "%s: until %v is not after from %v (leave until out to run to the end)", path, until, from)
	}
	return nil
}

// inRun checks a point in simulated time.
func (d *decoder) inRun(path, label string, v, duration Duration) error {
	if v < 0 {
		return d.errAt(path, "%s: %v is negative; times count from the start of the run", label, v)
	}
	if v > duration {
		return d.errAt(path, "%s: %v is after the end of the run (duration %v)", label, v, duration)
	}
	return nil
}

func (d *decoder) positive(path string, v Duration, most time.Duration) error {
	if v <= 0 || v.D() > most {
		return d.errAt(path, "%s: %v; use a duration above 0 and at most %v", path, v, most)
	}
	return nil
}

func (d *decoder) nonNegative(path string, v Duration, most time.Duration) error {
	if v < 0 {
		return d.errAt(path, "%s: %v is negative; use 0 to %v", path, v, most)
	}
	if v.D() > most {
		return d.errAt(path, "%s: %v is more than %v", path, v, most)
	}
	return nil
}

func (d *decoder) intIn(path string, v, lo, hi int) error {
	if v < lo || v > hi {
		return d.errAt(path, "%s: %d; use %d to %d", path, v, lo, hi)
	}
	return nil
}

func (d *decoder) uintIn(path string, v, lo, hi uint64) error {
	if v < lo || v > hi {
		return d.errAt(path, "%s: %d; use %d to %d", path, v, lo, hi)
	}
	return nil
}

// nodeIndex checks one node index; path locates it, label names it.
func (d *decoder) nodeIndex(path, label string, v, nodes int) error {
	if v < 0 || v >= nodes {
		return d.errAt(path, "%s: node %d does not exist; nodes are numbered 0 to %d", label, v, nodes-1)
	}
	return nil
}

// nodeSet checks a list of node indices: each exists and appears once.
func (d *decoder) nodeSet(path, label string, list []int, nodes int) error {
	for _, n := range list {
		if err := d.nodeIndex(path, label, n, nodes); err != nil {
			return err
		}
		if d.mark[n] {
			return d.errAt(path, "%s: node %d is listed twice", label, n)
		}
		d.mark[n] = true
	}
	for _, n := range list {
		d.mark[n] = false
	}
	return nil
}
