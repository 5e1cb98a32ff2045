package swarm

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"dagger/sim/scenario"
)

// Options steer the generator.
type Options struct {
	// BeyondBound makes every scenario cross the fault bound on purpose
	// (more than a third of the weight Byzantine, crashed or cut off at
	// some instant), to see that the checkers report what breaks.
	BeyondBound bool
}

// Features a scenario may enable, swarm style: each run turns on a random
// subset, so that rare combinations get explored.
const (
	FeatWeights     = "unequal-weights"
	FeatObservers   = "observers"
	FeatConsensus   = "consensus-params"
	FeatLoss        = "loss"
	FeatDuplicate   = "duplication"
	FeatReorder     = "reorder"
	FeatBandwidth   = "bandwidth"
	FeatCongested   = "congested-uplink"
	FeatLinks       = "per-link"
	FeatByzantine   = "byzantine"
	FeatVMs         = "vm-workload"
	FeatPayFaults   = "payment-faults"
	FeatCrash       = "crash"
	FeatLoseState   = "lose-state"
	FeatUnsynced    = "lose-unsynced"
	FeatStore       = "store-faults"
	FeatRestore     = "restore-backup"
	FeatPacing      = "min-round-interval"
	FeatPartition   = "partition"
	FeatOneWay      = "one-way"
	FeatIsolate     = "isolate"
	FeatDegrade     = "degrade"
	FeatSkew        = "clock-skew"
	FeatSlow        = "slow"
	FeatJoin        = "join"
	FeatLeave       = "leave"
	FeatRemove      = "remove"
	FeatHostDown    = "host-down"
	FeatVMCrash     = "vm-crash"
	FeatBeyondBound = "beyond-bound"
	FeatRunAhead    = "byz:run-ahead"
)

// Phase lengths of a generated run: faults happen in the first phase;
// the liveness phase that follows heals and restarts everything and must
// see every transaction submitted in it commit.
const (
	MinFaultPhase    = 10 * time.Second
	MaxFaultPhase    = 40 * time.Second
	MinLivenessPhase = 25 * time.Second
	MaxLivenessPhase = 35 * time.Second
	// LivenessGrace is the generated scenarios' expect.liveness.within:
	// a transaction submitted in the liveness phase must commit unless it
	// was submitted in its last LivenessGrace. Generated networks can be
	// slow (lossy links with a bandwidth limit, a flooder, a node that
	// forwards to a member that lost the message and hands it on again),
	// and the check is about commits that never come, not about latency.
	LivenessGrace = 10 * time.Second
	// HarshLivenessGrace is the grace of a harsh scenario (see capLoad):
	// when every honest member is needed for a quorum and messages are
	// lost, a lost leader costs a leader timeout and commits come seconds
	// apart.
	HarshLivenessGrace = 15 * time.Second
)

// gen is the state of drawing one scenario.
type gen struct {
	r        *rand.Rand
	sc       *scenario.Scenario
	features []string
	phase    time.Duration // the fault phase; the liveness phase follows
	// Busy intervals per node (crashes, slow spells) and per run
	// (network episodes, which end with a heal of everything), so that
	// generated faults never contradict each other.
	episodes [][2]time.Duration
	nodeBusy map[int][][2]time.Duration
	// members replays membership: who is in the committee when.
	joins, outs map[int]time.Duration
}

// Rand returns the generator's random source for seed: a seed names one
// scenario, forever.
func Rand(seed uint64) *rand.Rand { return stream("dagger/sim/swarm", seed) }

// stream returns the random source name draws from for seed. A feature
// added after others draws from a stream of its own (see restores), so
// that it leaves the scenario of every seed that does not turn it on as
// it was.
func stream(name string, seed uint64) *rand.Rand {
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(name), seed))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:16])))
}

// Case is one generated scenario.
type Case struct {
	Seed     uint64
	Scenario *scenario.Scenario
	// Features are the swarm features the seed turned on.
	Features []string
	// File is the scenario as a file (Encode).
	File []byte
}

// Generate draws a whole scenario from seed: committee, network, fault
// timeline, Byzantine behaviours, cluster events, workloads and consensus
// parameters, each feature on or off at random. Unless opt.BeyondBound,
// the faulty weight stays below a third at every instant (Audit), and the
// run ends with a liveness phase in which everything is healed and
// restarted. The result is an ordinary, valid scenario: its File parses
// back to exactly its Scenario, which is what the simulator runs.
func Generate(seed uint64, opt Options) (*Case, error) {
	g := &gen{r: Rand(seed), nodeBusy: map[int][][2]time.Duration{}, joins: map[int]time.Duration{}, outs: map[int]time.Duration{}}
	sc := &scenario.Scenario{Seed: seed}
	g.sc = sc
	name := fmt.Sprintf("fuzz-%d", seed)
	if opt.BeyondBound {
		name = fmt.Sprintf("fuzz-beyond-%d", seed)
	}
	sc.Name = name
	g.committee()
	g.phase = g.dur(MinFaultPhase, MaxFaultPhase)
	if sc.Nodes > 16 {
		g.phase = min(g.phase, 25*time.Second)
	}
	sc.Duration = scenario.Duration(g.phase + g.dur(MinLivenessPhase, MaxLivenessPhase))
	g.consensus()
	g.network()
	g.workload()
	g.byzantine()
	g.runAhead(seed)
	g.capLoad()
	g.congest(seed)
	g.faults()
	g.restores(seed)
	if opt.BeyondBound {
		g.crossBound()
	}
	g.liveness()
	sc.Description = "generated by dagger sim fuzz from seed " + fmt.Sprint(seed) + "; features: " + strings.Join(g.features, ", ")
	enc, err := Encode(sc)
	if err != nil {
		return nil, fmt.Errorf("seed %d: %w", seed, err)
	}
	out, err := scenario.Parse(enc, name+".yaml")
	if err != nil {
		return nil, fmt.Errorf("seed %d generated an invalid scenario (a generator bug): %w", seed, err)
	}
	if b := Audit(out); b.Within() == opt.BeyondBound || len(b.Unhealed) > 0 {
		return nil, fmt.Errorf("seed %d: generated scenario has %s, nodes %v not back at the liveness point (a generator bug)", seed, b, b.Unhealed)
	}
	return &Case{Seed: seed, Scenario: out, Features: g.features, File: enc}, nil
}

func (g *gen) on(feature string, p float64) bool {
	if g.r.Float64() < p {
		g.features = append(g.features, feature)
		return true
	}
	return false
}

func (g *gen) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return (lo + time.Duration(g.r.Int64N(int64(hi-lo)))).Truncate(time.Millisecond)
}

func (g *gen) between(lo, hi float64) float64 { return lo + g.r.Float64()*(hi-lo) }

func (g *gen) committee() {
	sc := g.sc
	var n int
	switch p := g.r.Float64(); {
	case p < 0.5:
		n = 4 + g.r.IntN(4)
	case p < 0.85:
		n = 8 + g.r.IntN(6)
	default:
		n = 14 + g.r.IntN(18)
	}
	sc.Nodes = n
	sc.Weights = make([]uint64, n)
	unequal := g.on(FeatWeights, 0.3)
	for i := range sc.Weights {
		sc.Weights[i] = 1
		if unequal {
			sc.Weights[i] = 1 + uint64(g.r.IntN(4))
		}
	}
	sc.Crypto = scenario.CryptoFast
	if n <= 7 && g.r.IntN(3) == 0 {
		sc.Crypto = scenario.CryptoEd25519
	}
	c := &sc.Cluster
	c.Genesis = n
	if n >= 5 && g.on(FeatObservers, 0.3) {
		c.Genesis = n - 1 - g.r.IntN(min(3, n-4))
	}
	c.Regions = []string{"eu", "us", "ap"}[:1+g.r.IntN(3)]
	c.EpochLength = scenario.Duration(g.dur(3*time.Second, 20*time.Second).Truncate(time.Second))
	c.StatusTimeout = scenario.Duration(g.dur(5*time.Second, 15*time.Second).Truncate(time.Second))
	c.BootTime = scenario.Duration(g.dur(500*time.Millisecond, 4*time.Second))
	if g.r.IntN(2) == 0 {
		c.BootFailure = float64(g.r.IntN(10)) / 100
	}
	c.AutoApprove = true
	c.VCPU, c.MemoryMiB, c.DiskGiB = 4+g.r.IntN(13), 65536, 1000
	c.PriceVCPUHour, c.PriceMemoryGiBHour, c.PriceDiskGiBHour = 1000, 100, 1
}

func (g *gen) consensus() {
	c := &g.sc.Consensus
	c.LeaderTimeout = scenario.Duration(time.Second)
	c.MaxEventTxs, c.MaxTxBytes, c.GCDepth = scenario.DefaultMaxEventTxs, scenario.DefaultMaxTxBytes, scenario.DefaultGCDepth
	c.FetchRetry = scenario.Duration(scenario.DefaultFetchRetry)
	if !g.on(FeatConsensus, 0.4) {
		return
	}
	c.LeaderTimeout = scenario.Duration(g.dur(300*time.Millisecond, 2*time.Second))
	if g.r.IntN(2) == 0 {
		c.GCDepth = uint64(4 + g.r.IntN(40))
	}
	if g.r.IntN(2) == 0 {
		c.MaxEventTxs = 20 + g.r.IntN(1000)
	}
	if g.r.IntN(2) == 0 {
		c.MaxEventTxBytes = 1<<10 + g.r.IntN(256<<10)
	}
	c.FetchRetry = scenario.Duration(g.dur(100*time.Millisecond, 500*time.Millisecond))
	if g.on(FeatPacing, 0.3) {
		c.MinRoundInterval = scenario.Duration(g.dur(10*time.Millisecond, 200*time.Millisecond))
	}
}

func (g *gen) latency() scenario.Latency {
	switch g.r.IntN(4) {
	case 0:
		return scenario.Latency{Dist: scenario.DistConstant, Value: scenario.Duration(g.dur(5*time.Millisecond, 100*time.Millisecond))}
	case 1:
		lo := g.dur(5*time.Millisecond, 50*time.Millisecond)
		return scenario.Latency{Dist: scenario.DistUniform, Min: scenario.Duration(lo), Max: scenario.Duration(lo + g.dur(10*time.Millisecond, 150*time.Millisecond))}
	case 2:
		return scenario.Latency{Dist: scenario.DistNormal, Mean: scenario.Duration(g.dur(20*time.Millisecond, 100*time.Millisecond)),
			Stddev: scenario.Duration(g.dur(5*time.Millisecond, 40*time.Millisecond))}
	default:
		return scenario.Latency{Dist: scenario.DistLognormal, Median: scenario.Duration(g.dur(10*time.Millisecond, 80*time.Millisecond)),
			Sigma: float64(int(g.between(0.1, 1.0)*100)) / 100}
	}
}

func (g *gen) network() {
	nw := &g.sc.Network
	nw.Latency = g.latency()
	if g.on(FeatLoss, 0.4) {
		nw.Drop = g.prob(0.001, 0.08)
	}
	if g.on(FeatDuplicate, 0.3) {
		nw.Duplicate = g.prob(0.001, 0.1)
	}
	if g.on(FeatReorder, 0.3) {
		nw.Reorder = g.prob(0.01, 0.3)
	}
	if g.on(FeatBandwidth, 0.3) {
		nw.Bandwidth = scenario.Bandwidth([]uint64{50e6, 100e6, 1e9, 10e9}[g.r.IntN(4)])
	}
	if g.on(FeatLinks, 0.25) {
		for range 1 + g.r.IntN(3) {
			l := scenario.Link{From: g.subset(1 + g.r.IntN(2)), To: g.subset(1 + g.r.IntN(3))}
			if g.r.IntN(2) == 0 {
				lat := g.latency()
				l.Latency = &lat
			} else {
				d := g.prob(0.01, 0.2)
				l.Drop = &d
			}
			nw.Links = append(nw.Links, l)
		}
	}
}

// prob draws a probability in [lo, hi), rounded to three digits so that a
// scenario file reads well.
func (g *gen) prob(lo, hi float64) float64 {
	return float64(int(g.between(lo, hi)*1000)) / 1000
}

// subset returns k distinct nodes, sorted.
func (g *gen) subset(k int) []int {
	k = min(k, g.sc.Nodes)
	out := g.r.Perm(g.sc.Nodes)[:k]
	slices.Sort(out)
	return out
}

func (g *gen) workload() {
	sc := g.sc
	w := &sc.Workload
	maxRate := max(100, min(1500, 6000/sc.Nodes))
	w.Rate = float64(50 + g.r.IntN(maxRate-49))
	w.TxSize = 16 + g.r.IntN(497)
	// The offered load stays within what the committee can order: with a
	// third of it faulty and a round as slow as a leader timeout, the
	// others' events must still hold the rate. Liveness promises commits
	// for a load the system can carry, not for an unbounded backlog.
	if c := &sc.Consensus; c.MaxEventTxs < 4*int(w.Rate)/sc.Cluster.Genesis+1 {
		c.MaxEventTxs = 4*int(w.Rate)/sc.Cluster.Genesis + 1
	}
	// The same for bytes, with room for the cluster's own transactions.
	if c := &sc.Consensus; c.MaxEventTxBytes > 0 {
		c.MaxEventTxBytes = max(c.MaxEventTxBytes, 4*int(w.Rate)*w.TxSize/sc.Cluster.Genesis+16<<10)
	}
	vm := &w.VM
	vm.Clients, vm.Lease, vm.VCPU, vm.MemoryMiB, vm.DiskGiB, vm.Image = 4, scenario.Duration(10*time.Minute), 1, 1024, 10, "debian-12"
	vm.LateBy, vm.Timeout = scenario.Duration(scenario.DefaultLateBy), scenario.Duration(scenario.DefaultVMTimeout)
	if !g.on(FeatVMs, 0.5) {
		return
	}
	vm.Rate = float64(1+g.r.IntN(16)) / 2
	vm.Clients = 2 + g.r.IntN(7)
	vm.Lease = scenario.Duration(time.Duration(1+g.r.IntN(10)) * time.Minute)
	if g.r.IntN(3) == 0 {
		// Short leases that end within the run, so that expiry (and the
		// host tearing an expired VM down) happens.
		vm.Lease = scenario.Duration(scenario.MinLease)
		sc.Duration = max(sc.Duration, scenario.Duration(scenario.MinLease+20*time.Second))
	}
	vm.VCPU = 1 + g.r.IntN(2)
	if g.on(FeatPayFaults, 0.5) {
		vm.Bounce, vm.Late, vm.Replay, vm.Underpay = g.prob(0, 0.15), g.prob(0, 0.15), g.prob(0, 0.15), g.prob(0, 0.15)
		vm.LateBy = scenario.Duration(g.dur(2*time.Second, 30*time.Second).Truncate(time.Second))
	}
}

// HarshRate is the highest transaction rate a generated scenario offers
// when its network loses messages, limits bandwidth or overrides links, or
// when it has Byzantine members: a committee that needs every honest
// member for a quorum, on a lossy link, with a silent leader every few
// rounds, orders a few hundred transactions a second, and a backlog that
// grows without end is a load the system cannot carry, not a liveness
// failure. Clean networks get loads up to 1500 tx/s.
const HarshRate = 400

// capLoad keeps the offered load of a harsh scenario at HarshRate.
func (g *gen) capLoad() {
	if g.harsh() {
		g.sc.Workload.Rate = min(g.sc.Workload.Rate, HarshRate)
	}
}

// congest narrows every node's uplink to a few times what the offered
// load needs (FeatCongested), so that a backlog (a node back from a
// partition or a restart with its queue, a sync, a Byzantine flood) takes
// longer to leave than a leader timeout and flow control has to size the
// node's events by it. The headroom, 4 to 10 times, keeps the load one the
// network carries, recovery included: a node's events take its share of
// the transactions to every peer (at most the whole rate's bytes), and
// its parents, a few dozen bytes per member, go with every event; losses,
// fetches and the cluster's own transactions add about as much again.
// With 3 to 8 times the transactions' bytes a run could collapse after a
// heal (fuzz seed 91 of c073e50: at 6.8 Mbit/s, twice the 3.3 Mbit/s its
// nodes send on a wide network, the catch-up of a member cut off for 18 s
// filled the uplinks, and transactions waited 10 to 50 s). Committees
// above a dozen are left alone: their events' parents alone would fill the
// link. It draws from a stream of its own (see restores).
func (g *gen) congest(seed uint64) {
	main := g.r
	g.r = stream("dagger/sim/swarm/congest", seed)
	defer func() { g.r = main }()
	sc := g.sc
	if sc.Nodes > 12 || !g.on(FeatCongested, 0.25) {
		return
	}
	w := &sc.Workload
	w.Rate = min(w.Rate, HarshRate)
	load := w.Rate * float64(w.TxSize) * 8                       // bits per second of transactions
	parents := float64(sc.Nodes*(sc.Nodes-1)) * 64 * 8 * 25      // bits per second of parents, 25 events a second
	bps := ((load+parents)*g.between(4, 10) + 2e6) / 1e5         // hundreds of kbit/s
	sc.Network.Bandwidth = scenario.Bandwidth(uint64(bps) * 1e5) // whole hundreds, so the file reads "2300kbps"
}

// harsh says whether the network loses messages, limits bandwidth or
// overrides links, or members are Byzantine.
func (g *gen) harsh() bool {
	nw := &g.sc.Network
	return nw.Drop > 0 || nw.Bandwidth > 0 || len(nw.Links) > 0 || len(g.sc.Byzantine) > 0
}

// firstBehaviors are the behaviours byzantine draws from: the ones there
// were when generation began. One added later draws from a stream of its
// own (see runAhead), so that the scenario a seed names stays the same.
var firstBehaviors = []string{
	scenario.BehaviorBadParents, scenario.BehaviorEquivocate, scenario.BehaviorFlood, scenario.BehaviorInvalidSignature,
	scenario.BehaviorLazy, scenario.BehaviorMute, scenario.BehaviorReplay, scenario.BehaviorTwin, scenario.BehaviorWithhold,
}

// runAhead makes one more member Byzantine with the run-ahead behaviour
// (FeatRunAhead), from the start or from a point in the fault phase, if
// the bound allows it. It draws from a stream of its own (see restores).
func (g *gen) runAhead(seed uint64) {
	main := g.r
	g.r = stream("dagger/sim/swarm/run-ahead", seed)
	defer func() { g.r = main }()
	sc := g.sc
	if !g.on(FeatRunAhead, 0.25) {
		return
	}
	for _, n := range g.r.Perm(sc.Cluster.Genesis) {
		if !sc.Honest(n) {
			continue
		}
		b := scenario.Byzantine{Node: n, Behavior: scenario.BehaviorRunAhead}
		if g.r.IntN(3) == 0 {
			b.From = scenario.Duration(g.dur(0, g.phase))
		}
		sc.Byzantine = append(sc.Byzantine, b)
		if Audit(sc).Within() {
			if !slices.Contains(g.features, FeatByzantine) {
				g.features = append(g.features, FeatByzantine)
			}
			return
		}
		sc.Byzantine = sc.Byzantine[:len(sc.Byzantine)-1]
		break
	}
	g.features = slices.DeleteFunc(g.features, func(f string) bool { return f == FeatRunAhead })
}

// byzantine makes a random set of nodes Byzantine, within the bound.
func (g *gen) byzantine() {
	sc := g.sc
	if !g.on(FeatByzantine, 0.6) {
		return
	}
	end := sc.Duration.D()
	for _, n := range g.r.Perm(sc.Cluster.Genesis) {
		if len(sc.Byzantine) > 0 && g.r.IntN(2) == 0 {
			break
		}
		before := len(sc.Byzantine)
		from := time.Duration(0)
		for k := 0; k < 2 && from < end-time.Second; k++ {
			b := scenario.Byzantine{Node: n, Behavior: firstBehaviors[g.r.IntN(len(firstBehaviors))]}
			if k > 0 || g.r.IntN(3) == 0 {
				from += g.dur(0, min(g.phase, end-from-time.Second))
			}
			b.From = scenario.Duration(from)
			if g.r.IntN(3) == 0 {
				until := from + g.dur(time.Second, end-from)
				b.Until = scenario.Duration(until)
				from = until
			} else {
				from = end
			}
			switch b.Behavior {
			case scenario.BehaviorWithhold:
				b.Targets = g.peers(n, 1+g.r.IntN(max(1, sc.Nodes/3)))
			case scenario.BehaviorEquivocate:
				if g.r.IntN(2) == 0 {
					b.Targets = g.peers(n, 1+g.r.IntN(sc.Nodes-1))
				}
			case scenario.BehaviorFlood:
				b.Count, b.Size = 1+g.r.IntN(8), 1024<<g.r.IntN(7)
			case scenario.BehaviorReplay:
				b.Count = 1 + g.r.IntN(8)
			}
			sc.Byzantine = append(sc.Byzantine, b)
			if b.Until == 0 {
				break
			}
		}
		if !Audit(sc).Within() {
			sc.Byzantine = sc.Byzantine[:before]
			break
		}
		g.features = append(g.features, "byz:"+sc.Byzantine[before].Behavior)
	}
	if len(sc.Byzantine) == 0 {
		g.features = slices.DeleteFunc(g.features, func(f string) bool { return f == FeatByzantine })
	}
}

// peers returns k nodes other than n, sorted.
func (g *gen) peers(n, k int) []int {
	var out []int
	for _, p := range g.r.Perm(g.sc.Nodes) {
		if p != n && len(out) < k {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// faults draws the fault timeline of the fault phase, keeping the bound:
// each candidate is kept only if the scenario with it stays within.
func (g *gen) faults() {
	type kind struct {
		feature string
		p       float64
		add     func() []scenario.Fault
	}
	sc := g.sc
	kinds := []kind{
		{FeatCrash, 0.5, g.crash},
		{FeatPartition, 0.35, g.partition},
		{FeatOneWay, 0.3, g.oneWay},
		{FeatIsolate, 0.3, g.isolate},
		{FeatDegrade, 0.25, g.degrade},
		{FeatSkew, 0.25, g.skew},
		{FeatSlow, 0.25, g.slow},
		{FeatJoin, 0.4, g.join},
		{FeatLeave, 0.25, g.leave},
		{FeatRemove, 0.2, g.remove},
		{FeatHostDown, 0.25, g.hostDown},
		{FeatVMCrash, 0.25, g.vmCrash},
		{FeatStore, 0.25, g.storeFault},
	}
	var enabled []kind
	for _, k := range kinds {
		if g.on(k.feature, k.p) {
			enabled = append(enabled, k)
		}
	}
	if len(enabled) == 0 {
		return
	}
	for range 2 + g.r.IntN(10) {
		k := enabled[g.r.IntN(len(enabled))]
		fs := k.add()
		if len(fs) == 0 {
			continue
		}
		g.keepWithin(sc, fs)
	}
}

func sortFaults(fs []scenario.Fault) {
	slices.SortStableFunc(fs, func(a, b scenario.Fault) int { return cmp.Compare(a.At, b.At) })
}

// at draws a time in the fault phase, leaving room for what follows.
func (g *gen) at(room time.Duration) time.Duration {
	return g.dur(500*time.Millisecond, max(time.Second, g.phase-room)).Truncate(100 * time.Millisecond)
}

// free says whether node n has no crash, slow spell or store fault that
// overlaps [from, until).
func (g *gen) free(n int, from, until time.Duration) bool {
	for _, iv := range g.nodeBusy[n] {
		if from < iv[1]+RecoveryGrace && iv[0] < until+RecoveryGrace {
			return false
		}
	}
	return true
}

func (g *gen) busy(n int, from, until time.Duration) {
	g.nodeBusy[n] = append(g.nodeBusy[n], [2]time.Duration{from, until})
}

// undo forgets the busy intervals a rejected candidate took.
// keepWithin adds fs to sc's faults if the scenario stays within the
// fault bound, and otherwise leaves sc as it was and undoes what drawing
// fs reserved; it reports whether it added them.
func (g *gen) keepWithin(sc *scenario.Scenario, fs []scenario.Fault) bool {
	saved := slices.Clone(sc.Faults)
	sc.Faults = append(sc.Faults, fs...)
	sortFaults(sc.Faults)
	if Audit(sc).Within() {
		return true
	}
	sc.Faults = saved
	g.undo(fs)
	return false
}

func (g *gen) undo(fs []scenario.Fault) {
	for _, f := range fs {
		for _, n := range f.Crash {
			if f.StoreFault == nil && !g.busyHeld(fs, n) {
				g.nodeBusy[n] = g.nodeBusy[n][:len(g.nodeBusy[n])-1]
			}
		}
		if f.StoreFault != nil {
			n := f.StoreFault.Node
			g.nodeBusy[n] = g.nodeBusy[n][:len(g.nodeBusy[n])-1]
		}
		if f.Slow != nil && f.Slow.Delay > 0 {
			n := f.Slow.Node
			g.nodeBusy[n] = g.nodeBusy[n][:len(g.nodeBusy[n])-1]
		}
		if len(f.Partition) > 0 || f.Isolate != nil || f.OneWay != nil || f.Degrade != nil {
			g.episodes = g.episodes[:len(g.episodes)-1]
		}
		if f.Join != nil {
			delete(g.joins, *f.Join)
		}
		if f.Leave != nil {
			delete(g.outs, *f.Leave)
		}
		if f.Remove != nil {
			delete(g.outs, *f.Remove)
		}
	}
}

// busyHeld says whether a store fault among fs holds node n's busy
// interval (its crash does not hold one of its own).
func (g *gen) busyHeld(fs []scenario.Fault, n int) bool {
	for _, f := range fs {
		if f.StoreFault != nil && f.StoreFault.Node == n {
			return true
		}
	}
	return false
}

func (g *gen) crash() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	t := g.at(time.Second)
	back := min(g.phase, t+g.dur(500*time.Millisecond, 20*time.Second)).Truncate(100 * time.Millisecond)
	if back <= t || !g.free(n, t, back) {
		return nil
	}
	g.busy(n, t, back)
	restart := scenario.Fault{At: scenario.Duration(back), Restart: []int{n}}
	if g.r.IntN(3) == 0 {
		restart.LoseState = true
		g.features = appendOnce(g.features, FeatLoseState)
	}
	crash := scenario.Fault{At: scenario.Duration(t), Crash: []int{n}}
	if g.r.IntN(3) == 0 {
		crash.LoseUnsynced = true
		g.features = appendOnce(g.features, FeatUnsynced)
	}
	return []scenario.Fault{crash, restart}
}

// storeFault damages a node's store: a write that fails (the node stops;
// it restarts on its store or an empty one), a corrupted record (found
// when the node next starts: it crashes, and the operator restores it
// empty) or a write torn by a crash (restored empty as well).
func (g *gen) storeFault() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	t := g.at(2 * time.Second)
	back := min(g.phase, t+g.dur(time.Second, 15*time.Second)).Truncate(100 * time.Millisecond)
	if back <= t+500*time.Millisecond || !g.free(n, t, back) {
		return nil
	}
	g.busy(n, t, back)
	restart := scenario.Fault{At: scenario.Duration(back), Restart: []int{n}, LoseState: true}
	switch g.r.IntN(3) {
	case 0:
		restart.LoseState = g.r.IntN(2) == 0
		return []scenario.Fault{{At: scenario.Duration(t), StoreFault: &scenario.StoreFault{Node: n, Kind: scenario.StoreWriteError,
			Write: []string{scenario.WriteAny, scenario.WriteEvent, scenario.WriteLastSigned, scenario.WriteSnapshot}[g.r.IntN(4)]}}, restart}
	case 1:
		crash := (t + back) / 2
		return append([]scenario.Fault{{At: scenario.Duration(t), StoreFault: &scenario.StoreFault{Node: n, Kind: scenario.StoreCorrupt,
			Record: []string{scenario.RecordEvent, scenario.RecordLastSigned, scenario.RecordSnapshot}[g.r.IntN(3)]}},
			{At: scenario.Duration(crash), Crash: []int{n}}}, g.refused(n, crash, back, restart)...)
	default:
		return append([]scenario.Fault{{At: scenario.Duration(t), StoreFault: &scenario.StoreFault{Node: n, Kind: scenario.StoreTorn}}},
			g.refused(n, t, back, restart)...)
	}
}

// restores backs an honest node up, crashes it a few seconds later and
// restarts it on the backup, without rejoining (FeatRestore): the node
// must learn from its peers what it signed since the backup before it
// signs again, or the evidence check finds it signing a round twice.
// Each restore is kept only within the bound, which counts the node
// faulty as one restored without its store. No network fault overlaps it:
// the events the node signs after the backup reach its peers, as the
// ledger needs to tell the backup from a current store. It draws from a
// stream of its own, so that the scenario of every seed without it is the
// one the seed named before restores existed.
func (g *gen) restores(seed uint64) {
	main := g.r
	g.r = stream("dagger/sim/swarm/restore", seed)
	defer func() { g.r = main }()
	if !g.on(FeatRestore, 0.4) {
		return
	}
	sc := g.sc
	want, kept := 1+g.r.IntN(2), 0
	for try := 0; try < 8 && kept < want; try++ {
		n := g.r.IntN(sc.Nodes)
		backup := g.at(2 * time.Second)
		crash := min(g.phase, backup+g.dur(time.Second, 8*time.Second)).Truncate(100 * time.Millisecond)
		back := min(g.phase, crash+g.dur(100*time.Millisecond, 10*time.Second)).Truncate(100 * time.Millisecond)
		if !sc.Honest(n) || crash <= backup || back <= crash || !g.free(n, backup, back) || g.netBusy(backup, back) {
			continue
		}
		g.busy(n, backup, back)
		fs := []scenario.Fault{
			{At: scenario.Duration(backup), Backup: []int{n}},
			{At: scenario.Duration(crash), Crash: []int{n}},
			{At: scenario.Duration(back), Restart: []int{n}, RestoreBackup: true},
		}
		if !g.keepWithin(sc, fs) {
			continue
		}
		kept++
	}
	if kept == 0 {
		g.features = slices.DeleteFunc(g.features, func(f string) bool { return f == FeatRestore })
	}
}

// netBusy says whether a network episode overlaps [from, until].
func (g *gen) netBusy(from, until time.Duration) bool {
	for _, iv := range g.episodes {
		if from <= iv[1] && iv[0] <= until {
			return true
		}
	}
	return false
}

// refused is the restart of a node whose store is damaged: sometimes an
// attempt on the damaged store first, which the node refuses, then the
// operator's restore.
func (g *gen) refused(n int, down, back time.Duration, restore scenario.Fault) []scenario.Fault {
	if g.r.IntN(2) == 0 || back-down < time.Second {
		return []scenario.Fault{restore}
	}
	try := ((down + back) / 2).Truncate(100 * time.Millisecond)
	return []scenario.Fault{{At: scenario.Duration(try), Restart: []int{n}}, restore}
}

// episode reserves a network episode (one network fault, then a heal)
// that overlaps no other; network faults share one heal.
func (g *gen) episode() (from, until time.Duration, ok bool) {
	from = g.at(time.Second)
	until = min(g.phase, from+g.dur(time.Second, 20*time.Second)).Truncate(100 * time.Millisecond)
	if until <= from {
		return 0, 0, false
	}
	for _, iv := range g.episodes {
		if from < iv[1] && iv[0] < until {
			return 0, 0, false
		}
	}
	g.episodes = append(g.episodes, [2]time.Duration{from, until})
	return from, until, true
}

func (g *gen) netFault(f scenario.Fault) []scenario.Fault {
	from, until, ok := g.episode()
	if !ok {
		return nil
	}
	f.At = scenario.Duration(from)
	return []scenario.Fault{f, {At: scenario.Duration(until), Heal: true}}
}

// partition splits the nodes in two. A Byzantine node with a twin may put
// its twin on the other side (the Twins attack: each side sees one of its
// versions), or sit on both sides itself.
func (g *gen) partition() []scenario.Fault {
	sc := g.sc
	n := sc.Nodes
	perm := g.r.Perm(n)
	cut := 1 + g.r.IntN(max(1, (n-1)/3))
	side := make([]int, n)
	for _, i := range perm[:cut] {
		side[i] = 1
	}
	groups := make([][]scenario.Endpoint, 2)
	for i := range n {
		groups[side[i]] = append(groups[side[i]], scenario.Endpoint{Node: i})
	}
	twins := false
	for _, b := range sc.Byzantine {
		// A node may be listed more than once (a behaviour per window): its
		// endpoints go on the other side once.
		other := 1 - side[b.Node]
		switch {
		case b.Behavior == scenario.BehaviorTwin && g.r.IntN(2) == 0:
			if tw := (scenario.Endpoint{Node: b.Node, Twin: true}); !slices.Contains(groups[other], tw) {
				groups[other] = append(groups[other], tw)
			}
			twins = true
		case g.r.IntN(4) == 0 && !slices.Contains(groups[other], scenario.Endpoint{Node: b.Node}):
			groups[other] = append(groups[other], scenario.Endpoint{Node: b.Node})
		}
	}
	if twins {
		g.features = appendOnce(g.features, "twins-split")
	}
	if !twins && g.r.IntN(2) == 0 {
		groups = groups[1:] // the unlisted nodes form the other group
	}
	for _, grp := range groups {
		slices.SortFunc(grp, func(a, b scenario.Endpoint) int {
			return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(btoi(a.Twin), btoi(b.Twin)))
		})
	}
	return g.netFault(scenario.Fault{Partition: groups})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (g *gen) oneWay() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	ow := &scenario.OneWay{From: []int{n}}
	switch g.r.IntN(3) {
	case 0:
		ow = &scenario.OneWay{To: []int{n}}
	case 1:
		ow.To = g.peers(n, 1+g.r.IntN(g.sc.Nodes-1))
	}
	return g.netFault(scenario.Fault{OneWay: ow})
}

func (g *gen) isolate() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	return g.netFault(scenario.Fault{Isolate: &n})
}

func (g *gen) degrade() []scenario.Fault {
	l := &scenario.Link{From: g.subset(1 + g.r.IntN(3)), To: g.subset(1 + g.r.IntN(3))}
	lat := scenario.Latency{Dist: scenario.DistConstant, Value: scenario.Duration(g.dur(100*time.Millisecond, time.Second))}
	l.Latency = &lat
	d := g.prob(0.05, 0.3)
	l.Drop = &d
	return g.netFault(scenario.Fault{Degrade: l})
}

func (g *gen) skew() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	off := g.dur(-3*time.Second, 3*time.Second).Truncate(time.Millisecond)
	return []scenario.Fault{{At: scenario.Duration(g.at(0)), ClockSkew: &scenario.ClockSkew{Node: n, Offset: scenario.Duration(off)}}}
}

func (g *gen) slow() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	t := g.at(time.Second)
	back := min(g.phase, t+g.dur(time.Second, 15*time.Second)).Truncate(100 * time.Millisecond)
	if back <= t || !g.free(n, t, back) {
		return nil
	}
	g.busy(n, t, back)
	d := scenario.Duration(time.Duration(100+g.r.IntN(2900)) * time.Microsecond)
	return []scenario.Fault{
		{At: scenario.Duration(t), Slow: &scenario.Slow{Node: n, Delay: d}},
		{At: scenario.Duration(back), Slow: &scenario.Slow{Node: n}},
	}
}

// member says whether node n is in the committee at t, as far as the
// membership faults drawn so far go (a change takes effect at once, as
// validation assumes).
func (g *gen) member(n int, t time.Duration) bool {
	in := n < g.sc.Cluster.Genesis
	if j, ok := g.joins[n]; ok && j <= t {
		in = true
	}
	if o, ok := g.outs[n]; ok && o <= t {
		in = false
	}
	return in
}

func (g *gen) join() []scenario.Fault {
	sc := g.sc
	if sc.Cluster.Genesis == sc.Nodes {
		return nil
	}
	n := sc.Cluster.Genesis + g.r.IntN(sc.Nodes-sc.Cluster.Genesis)
	if _, done := g.joins[n]; done {
		return nil
	}
	t := g.at(2 * time.Second)
	g.joins[n] = t
	return []scenario.Fault{{At: scenario.Duration(t), Join: &n}}
}

// out picks a member to leave or be removed, never the last ones.
func (g *gen) out() (int, time.Duration, bool) {
	t := g.at(2 * time.Second)
	n := g.r.IntN(g.sc.Nodes)
	if !g.member(n, t) || len(g.outs) >= g.sc.Cluster.Genesis/3 {
		return 0, 0, false
	}
	if _, done := g.outs[n]; done {
		return 0, 0, false
	}
	for _, f := range g.sc.Faults {
		if f.Join != nil && *f.Join == n {
			return 0, 0, false
		}
	}
	g.outs[n] = t
	return n, t, true
}

func (g *gen) leave() []scenario.Fault {
	n, t, ok := g.out()
	if !ok {
		return nil
	}
	return []scenario.Fault{{At: scenario.Duration(t), Leave: &n}}
}

func (g *gen) remove() []scenario.Fault {
	n, t, ok := g.out()
	if !ok {
		return nil
	}
	return []scenario.Fault{{At: scenario.Duration(t), Remove: &n}}
}

func (g *gen) hostDown() []scenario.Fault {
	n := g.r.IntN(g.sc.Nodes)
	for _, f := range g.sc.Faults {
		if f.HostDown != nil && *f.HostDown == n {
			return nil
		}
	}
	t := g.at(time.Second)
	up := min(g.phase, t+g.dur(time.Second, 15*time.Second)).Truncate(100 * time.Millisecond)
	if up <= t {
		return nil
	}
	return []scenario.Fault{{At: scenario.Duration(t), HostDown: &n}, {At: scenario.Duration(up), HostUp: &n}}
}

func (g *gen) vmCrash() []scenario.Fault {
	if g.sc.Workload.VM.Rate == 0 {
		return nil
	}
	n := g.r.IntN(g.sc.Nodes)
	return []scenario.Fault{{At: scenario.Duration(g.at(0)), VMCrash: &n}}
}

// crossBound adds a fault that takes the faulty weight to a third or more
// for a while: a crash of enough nodes, or enough Byzantine ones.
func (g *gen) crossBound() {
	sc := g.sc
	g.features = append(g.features, FeatBeyondBound)
	t := g.at(5 * time.Second)
	for attempt := 0; Audit(sc).Within() && attempt < 4*sc.Nodes; attempt++ {
		n := g.r.IntN(sc.Cluster.Genesis)
		if g.r.IntN(2) == 0 && sc.Honest(n) {
			behaviors := []string{scenario.BehaviorMute, scenario.BehaviorEquivocate, scenario.BehaviorLazy, scenario.BehaviorWithhold}
			b := scenario.Byzantine{Node: n, Behavior: behaviors[g.r.IntN(len(behaviors))], From: scenario.Duration(t)}
			if b.Behavior == scenario.BehaviorWithhold {
				b.Targets = g.peers(n, 1+g.r.IntN(sc.Nodes-1))
			}
			sc.Byzantine = append(sc.Byzantine, b)
			continue
		}
		back := min(g.phase, t+g.dur(2*time.Second, 10*time.Second))
		if !g.free(n, t, back) {
			continue
		}
		g.busy(n, t, back)
		sc.Faults = append(sc.Faults, scenario.Fault{At: scenario.Duration(t), Crash: []int{n}},
			scenario.Fault{At: scenario.Duration(back), Restart: []int{n}})
		sortFaults(sc.Faults)
	}
}

// liveness closes the fault phase: everything heals, restarts and runs
// at normal speed and skew, and transactions submitted from then on must
// commit.
func (g *gen) liveness() {
	sc := g.sc
	p := scenario.Duration(g.phase)
	end := p
	needHeal := false
	skewed := map[int]bool{}
	for _, f := range sc.Faults {
		end = max(end, f.At)
		switch {
		case len(f.Partition) > 0, f.Isolate != nil, f.OneWay != nil, f.Degrade != nil:
			needHeal = true
		case f.Heal:
			needHeal = false
		case f.ClockSkew != nil:
			skewed[f.ClockSkew.Node] = f.ClockSkew.Offset != 0
		}
	}
	if needHeal {
		sc.Faults = append(sc.Faults, scenario.Fault{At: p, Heal: true})
	}
	for _, n := range slices.Sorted(maps.Keys(skewed)) {
		if skewed[n] {
			sc.Faults = append(sc.Faults, scenario.Fault{At: p, ClockSkew: &scenario.ClockSkew{Node: n}})
		}
	}
	sortFaults(sc.Faults)
	sc.Expect.Liveness.After = end
	sc.Expect.Liveness.Within = scenario.Duration(LivenessGrace)
	if g.harsh() {
		sc.Expect.Liveness.Within = scenario.Duration(HarshLivenessGrace)
	}
	c := &sc.Cluster
	sc.Expect.Provisioning.Settle = min(sc.Duration, 2*c.StatusTimeout+c.BootTime)
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
