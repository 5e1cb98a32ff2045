package swarm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"dagger/sim"
	"dagger/sim/scenario"
)

// ShrinkOptions bound a shrink.
type ShrinkOptions struct {
	// MaxRuns bounds the simulator runs the shrink may spend; 0 means
	// DefaultShrinkRuns.
	MaxRuns int
	// Jobs runs candidates in parallel; the result does not depend on it.
	Jobs int
	// Progress, if set, hears of every accepted step.
	Progress func(step string)
	// Check is the check that must keep failing; "" means the first one
	// that fails in the original run, in the report's order.
	Check string
}

// DefaultShrinkRuns bounds a shrink's runs when ShrinkOptions leaves it
// open.
const DefaultShrinkRuns = 400

// Shrunk is the outcome of a shrink.
type Shrunk struct {
	// Scenario is the smallest scenario found that fails Check as the
	// original did; File is it as a file.
	Scenario *scenario.Scenario
	File     []byte
	// Check is the check that kept failing ("error" for a simulator
	// panic), Detail its detail in the last run.
	Check  string
	Detail string
	// Steps says what was removed or simplified, in order.
	Steps []string
	// Runs is how many runs the shrink made; Before and After describe
	// the original and the result.
	Runs          int
	Before, After Size
}

// Size is how big a scenario is, as a shrink counts.
type Size struct {
	Nodes, Faults, Byzantine int
	Duration                 time.Duration
	Bytes                    int
}

func (z Size) String() string {
	return fmt.Sprintf("%d nodes, %d faults, %d byzantine entries, %v, %d bytes", z.Nodes, z.Faults, z.Byzantine, z.Duration, z.Bytes)
}

func sizeOf(sc *scenario.Scenario, file []byte) Size {
	return Size{Nodes: sc.Nodes, Faults: len(sc.Faults), Byzantine: len(sc.Byzantine), Duration: sc.Duration.D(), Bytes: len(file)}
}

// target is what a candidate must do to be kept.
type target struct {
	check  string // a check name, or "error"
	within bool   // the original kept the fault bound; so must the candidate
	// healed: everything the original's faults took down was back by its
	// liveness point; so must it be in the candidate (dropping a heal or a
	// restart would make the liveness check ask a node cut off for good).
	healed bool
}

// failsLike runs a candidate and says whether it fails the target check.
func (t target) failsLike(sc *scenario.Scenario) (bool, string) {
	if b := Audit(sc); b.Within() != t.within || t.healed && len(b.Unhealed) > 0 {
		return false, ""
	}
	rep, err := RunCase(&Case{Scenario: sc})
	if err != nil {
		return t.check == "error", err.Error()
	}
	for _, c := range rep.Checks {
		if c.Name == t.check && !c.Pass {
			return true, c.Detail
		}
	}
	return false, ""
}

// firstFailed names the check a shrink keeps failing: the first failed
// one in the report's order, or "error".
func firstFailed(rep *sim.Report, err error) string {
	if err != nil {
		return "error"
	}
	for _, c := range rep.Checks {
		if !c.Pass {
			return c.Name
		}
	}
	return ""
}

// Shrink reduces a failing scenario while the same check keeps failing
// (the first one that fails in the original run): it drops faults and
// Byzantine entries, drops nodes (renumbering the rest), shortens the
// run, lowers the rates, simplifies the network (constant latencies, no
// loss, duplication, reordering, bandwidth limit or per-link overrides),
// removes the VM workload, puts consensus and cluster parameters back to
// their defaults and tries smaller seeds, until no step helps or the run
// budget is spent. A scenario within the fault bound stays within it,
// one beyond it stays beyond. The same input gives the same result.
func Shrink(sc *scenario.Scenario, opt ShrinkOptions) (*Shrunk, error) {
	if opt.MaxRuns <= 0 {
		opt.MaxRuns = DefaultShrinkRuns
	}
	opt.Jobs = max(opt.Jobs, 1)
	file, err := Encode(sc)
	if err != nil {
		return nil, err
	}
	rep, runErr := RunCase(&Case{Scenario: sc})
	b := Audit(sc)
	t := target{check: opt.Check, within: b.Within(), healed: len(b.Unhealed) == 0}
	if t.check == "" {
		t.check = firstFailed(rep, runErr)
	}
	if t.check == "" {
		return nil, fmt.Errorf("%s passes every check with seed %d: nothing to shrink", sc.Name, sc.Seed)
	}
	if ok, _ := t.failsLike(sc); !ok {
		return nil, fmt.Errorf("%s does not fail %s with seed %d: nothing to shrink", sc.Name, t.check, sc.Seed)
	}
	s := &shrinker{t: t, opt: opt, cur: sc, runs: 1}
	s.detail = detailOf(rep, runErr, t.check)
	out := &Shrunk{Check: t.check, Before: sizeOf(sc, file)}
	for progress := true; progress && s.runs < opt.MaxRuns; {
		progress = false
		for _, pass := range []func() bool{s.dropByzantine, s.dropFaults, s.dropNodes, s.shorten, s.lowerRates, s.simplifyNetwork, s.defaults, s.smallerSeed} {
			if pass() {
				progress = true
			}
		}
	}
	min := s.cur.Name
	if !strings.HasSuffix(min, "-min") {
		min += "-min"
	}
	s.cur.Name = min
	s.cur.Description = fmt.Sprintf("shrunk by dagger sim shrink from %s: still fails %s", sc.Name, t.check)
	if out.File, err = Encode(s.cur); err != nil {
		return nil, err
	}
	out.Scenario, out.Detail, out.Steps, out.Runs = s.cur, s.detail, s.steps, s.runs
	out.After = sizeOf(s.cur, out.File)
	return out, nil
}

func detailOf(rep *sim.Report, err error, check string) string {
	if err != nil {
		return err.Error()
	}
	for _, c := range rep.Checks {
		if c.Name == check {
			return c.Detail
		}
	}
	return ""
}

type shrinker struct {
	t      target
	opt    ShrinkOptions
	cur    *scenario.Scenario
	detail string
	steps  []string
	runs   int
}

// candidate is a change to try: what it does, and the scenario it makes
// (nil if it does not apply).
type candidate struct {
	what string
	make func(*scenario.Scenario) *scenario.Scenario
}

// try runs candidates, up to Jobs at a time, and keeps the first in order
// that still fails like the original: the outcome does not depend on
// Jobs. It reports whether one was kept.
func (s *shrinker) try(cands []candidate) bool {
	for i := 0; i < len(cands) && s.runs < s.opt.MaxRuns; {
		type trial struct {
			what   string
			sc     *scenario.Scenario
			ok     bool
			detail string
		}
		var batch []*trial
		for ; i < len(cands) && len(batch) < s.opt.Jobs && s.runs+len(batch) < s.opt.MaxRuns; i++ {
			next := cands[i].make(clone(s.cur))
			if next == nil {
				continue
			}
			if next = valid(next); next == nil {
				continue
			}
			batch = append(batch, &trial{what: cands[i].what, sc: next})
		}
		var wg sync.WaitGroup
		for _, tr := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr.ok, tr.detail = s.t.failsLike(tr.sc)
			}()
		}
		wg.Wait()
		s.runs += len(batch)
		for _, tr := range batch {
			if tr.ok {
				s.cur, s.detail = tr.sc, tr.detail
				s.steps = append(s.steps, tr.what)
				if s.opt.Progress != nil {
					s.opt.Progress(tr.what)
				}
				return true
			}
		}
	}
	return false
}

// repeat calls try with what gen makes of the current scenario until no
// candidate is kept.
func (s *shrinker) repeat(gen func() []candidate) bool {
	any := false
	for s.runs < s.opt.MaxRuns && s.try(gen()) {
		any = true
	}
	return any
}

// clone deep-copies a scenario.
func clone(sc *scenario.Scenario) *scenario.Scenario {
	b, err := json.Marshal(sc)
	if err != nil {
		panic(fmt.Sprintf("swarm: clone scenario: %v", err))
	}
	var out scenario.Scenario
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("swarm: clone scenario: %v", err))
	}
	return &out
}

// valid returns the scenario as Parse reads its file back, or nil if the
// change made it invalid.
func valid(sc *scenario.Scenario) *scenario.Scenario {
	b, err := Encode(sc)
	if err != nil {
		return nil
	}
	out, err := scenario.Parse(b, sc.Name+".yaml")
	if err != nil {
		return nil
	}
	return out
}

// chunks proposes removing runs of n items, n halving from len down to 1
// (delta debugging's granularity), largest first.
func chunks(n int, what func(lo, hi int) string, drop func(sc *scenario.Scenario, lo, hi int) *scenario.Scenario) []candidate {
	var out []candidate
	for size := n; size >= 1; size /= 2 {
		for lo := 0; lo+size <= n; lo += size {
			lo, hi := lo, lo+size
			out = append(out, candidate{what(lo, hi), func(sc *scenario.Scenario) *scenario.Scenario { return drop(sc, lo, hi) }})
		}
		if size == 1 {
			break
		}
	}
	return out
}

func (s *shrinker) dropByzantine() bool {
	return s.repeat(func() []candidate {
		return chunks(len(s.cur.Byzantine), func(lo, hi int) string {
			var what []string
			for _, b := range s.cur.Byzantine[lo:hi] {
				what = append(what, fmt.Sprintf("node %d %s", b.Node, b.Behavior))
			}
			return "dropped byzantine " + strings.Join(what, ", ")
		}, func(sc *scenario.Scenario, lo, hi int) *scenario.Scenario {
			sc.Byzantine = slices.Delete(sc.Byzantine, lo, hi)
			return sc
		})
	})
}

// dropFaults removes runs of faults, and each fault together with the one
// that undoes it (a crash and its restart, a network fault and its heal, a
// host going down and coming back), which alone would leave the scenario
// invalid.
func (s *shrinker) dropFaults() bool {
	return s.repeat(func() []candidate {
		cands := chunks(len(s.cur.Faults), func(lo, hi int) string {
			var what []string
			for _, f := range s.cur.Faults[lo:hi] {
				what = append(what, describeFault(f))
			}
			return "dropped faults " + strings.Join(what, "; ")
		}, func(sc *scenario.Scenario, lo, hi int) *scenario.Scenario {
			sc.Faults = slices.Delete(sc.Faults, lo, hi)
			return sc
		})
		for i, f := range s.cur.Faults {
			j := partner(s.cur.Faults, i)
			if j < 0 {
				continue
			}
			i, j := i, j
			cands = append(cands, candidate{fmt.Sprintf("dropped faults %s; %s", describeFault(f), describeFault(s.cur.Faults[j])),
				func(sc *scenario.Scenario) *scenario.Scenario {
					keep := sc.Faults[:0]
					for k, x := range sc.Faults {
						if k != i && k != j {
							keep = append(keep, x)
						}
					}
					sc.Faults = keep
					return sc
				}})
		}
		return cands
	})
}

// partner returns the fault that undoes fault i (its restart, heal, host_up
// or the slow that ends it), or -1.
func partner(fs []scenario.Fault, i int) int {
	f := fs[i]
	for j := i + 1; j < len(fs); j++ {
		g := fs[j]
		switch {
		case len(f.Crash) > 0 && len(g.Restart) > 0 && slices.Contains(g.Restart, f.Crash[0]):
			return j
		case (len(f.Partition) > 0 || f.Isolate != nil || f.OneWay != nil || f.Degrade != nil) && g.Heal:
			return j
		case f.HostDown != nil && g.HostUp != nil && *g.HostUp == *f.HostDown:
			return j
		case f.Slow != nil && f.Slow.Delay > 0 && g.Slow != nil && g.Slow.Node == f.Slow.Node:
			return j
		}
	}
	return -1
}

// describeFault writes a fault on one line, as in a scenario file.
func describeFault(f scenario.Fault) string {
	b, err := marshal(f)
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// dropNodes removes runs of nodes, halves first, renumbering the others
// and every reference to them.
func (s *shrinker) dropNodes() bool {
	return s.repeat(func() []candidate {
		n := s.cur.Nodes
		var cands []candidate
		for size := n / 2; size >= 1; size /= 2 {
			for hi := n; hi-size >= 0; hi -= size {
				lo, hi := hi-size, hi
				what := fmt.Sprintf("dropped node %d", lo)
				if size > 1 {
					what = fmt.Sprintf("dropped nodes %d to %d", lo, hi-1)
				}
				cands = append(cands, candidate{what, func(sc *scenario.Scenario) *scenario.Scenario {
					for k := hi - 1; k >= lo && sc != nil; k-- {
						sc = dropNode(sc, k)
					}
					return sc
				}})
			}
		}
		return cands
	})
}

// dropNode removes node k and renumbers the nodes above it; nil if the
// scenario cannot lose it (fewer than two nodes would remain).
func dropNode(sc *scenario.Scenario, k int) *scenario.Scenario {
	if sc.Nodes <= 2 {
		return nil
	}
	re := func(n int) (int, bool) {
		switch {
		case n == k:
			return 0, false
		case n > k:
			return n - 1, true
		}
		return n, true
	}
	list := func(l []int) []int {
		var out []int
		for _, n := range l {
			if m, ok := re(n); ok {
				out = append(out, m)
			}
		}
		return out
	}
	one := func(p **int) bool {
		if *p == nil {
			return true
		}
		m, ok := re(**p)
		*p = &m
		return ok
	}
	sc.Weights = slices.Delete(sc.Weights, k, k+1)
	sc.Nodes--
	if k < sc.Cluster.Genesis {
		sc.Cluster.Genesis--
	}
	if sc.Cluster.Genesis < 1 {
		return nil
	}
	sc.Workload.Nodes = list(sc.Workload.Nodes)
	var byz []scenario.Byzantine
	for _, b := range sc.Byzantine {
		m, ok := re(b.Node)
		if !ok {
			continue
		}
		b.Node, b.Targets = m, list(b.Targets)
		if b.Behavior == scenario.BehaviorWithhold && len(b.Targets) == 0 {
			continue
		}
		byz = append(byz, b)
	}
	sc.Byzantine = byz
	links := func(ls []scenario.Link) []scenario.Link {
		var out []scenario.Link
		for _, l := range ls {
			from, to := list(l.From), list(l.To)
			if len(l.From) > 0 && len(from) == 0 || len(l.To) > 0 && len(to) == 0 {
				continue
			}
			l.From, l.To = from, to
			out = append(out, l)
		}
		return out
	}
	sc.Network.Links = links(sc.Network.Links)
	var faults []scenario.Fault
	for _, f := range sc.Faults {
		keep := true
		switch {
		case len(f.Partition) > 0:
			var groups [][]scenario.Endpoint
			for _, g := range f.Partition {
				var kept []scenario.Endpoint
				for _, e := range g {
					if m, ok := re(e.Node); ok {
						kept = append(kept, scenario.Endpoint{Node: m, Twin: e.Twin})
					}
				}
				if len(kept) > 0 {
					groups = append(groups, kept)
				}
			}
			f.Partition, keep = groups, len(groups) > 0
		case f.OneWay != nil:
			from, to := list(f.OneWay.From), list(f.OneWay.To)
			keep = !(len(f.OneWay.From) > 0 && len(from) == 0 || len(f.OneWay.To) > 0 && len(to) == 0)
			f.OneWay = &scenario.OneWay{From: from, To: to}
		case len(f.Crash) > 0:
			f.Crash = list(f.Crash)
			keep = len(f.Crash) > 0
		case len(f.Restart) > 0:
			f.Restart = list(f.Restart)
			keep = len(f.Restart) > 0
		case len(f.Backup) > 0:
			f.Backup = list(f.Backup)
			keep = len(f.Backup) > 0
		case f.Degrade != nil:
			ls := links([]scenario.Link{*f.Degrade})
			if keep = len(ls) == 1; keep {
				f.Degrade = &ls[0]
			}
		case f.ClockSkew != nil:
			m, ok := re(f.ClockSkew.Node)
			f.ClockSkew = &scenario.ClockSkew{Node: m, Offset: f.ClockSkew.Offset}
			keep = ok
		case f.Slow != nil:
			m, ok := re(f.Slow.Node)
			f.Slow = &scenario.Slow{Node: m, Delay: f.Slow.Delay}
			keep = ok
		default:
			for _, p := range []**int{&f.Isolate, &f.Join, &f.Leave, &f.Remove, &f.HostDown, &f.HostUp, &f.VMCrash} {
				if !one(p) {
					keep = false
				}
			}
		}
		if keep {
			faults = append(faults, f)
		}
	}
	sc.Faults = faults
	return sc
}

// shorten cuts the run's end: the liveness phase to what its checks
// need, and the whole run from the back.
func (s *shrinker) shorten() bool {
	return s.repeat(func() []candidate {
		d := s.cur.Duration.D()
		var cands []candidate
		for _, frac := range []float64{0.5, 0.75, 0.9} {
			nd := (time.Duration(float64(d) * frac)).Truncate(time.Second)
			if nd < time.Second || nd >= d {
				continue
			}
			cands = append(cands, candidate{fmt.Sprintf("shortened the run to %v", nd), func(sc *scenario.Scenario) *scenario.Scenario {
				sc.Duration = scenario.Duration(nd)
				sc.Faults = slices.DeleteFunc(sc.Faults, func(f scenario.Fault) bool { return f.At.D() >= nd })
				for i := range sc.Byzantine {
					if sc.Byzantine[i].From.D() >= nd {
						return nil
					}
					if sc.Byzantine[i].Until.D() >= nd {
						sc.Byzantine[i].Until = 0
					}
				}
				ex := &sc.Expect
				if !ex.Liveness.Disabled && ex.Liveness.After.D() > nd-ex.Liveness.Within.D() {
					return nil // the liveness requirement stays as it was
				}
				ex.Provisioning.Settle = min(ex.Provisioning.Settle, scenario.Duration(nd))
				for _, w := range []*scenario.Duration{&sc.Workload.Until, &sc.Workload.VM.Until} {
					if w.D() >= nd {
						*w = 0
					}
				}
				return sc
			}})
		}
		return cands
	})
}

func (s *shrinker) lowerRates() bool {
	return s.repeat(func() []candidate {
		w := &s.cur.Workload
		var cands []candidate
		if w.VM.Rate > 0 {
			cands = append(cands, candidate{"removed the VM workload", func(sc *scenario.Scenario) *scenario.Scenario {
				sc.Workload.VM = defaultVMWorkload()
				return sc
			}})
		}
		if w.Rate > 10 {
			r := float64(int(w.Rate / 2))
			cands = append(cands, candidate{fmt.Sprintf("lowered the transaction rate to %v/s", r), func(sc *scenario.Scenario) *scenario.Scenario {
				sc.Workload.Rate = r
				return sc
			}})
		}
		if r := float64(int(w.VM.Rate)) / 2; r >= 0.5 && r < w.VM.Rate {
			cands = append(cands, candidate{fmt.Sprintf("lowered the VM rate to %v/s", r), func(sc *scenario.Scenario) *scenario.Scenario {
				sc.Workload.VM.Rate = r
				return sc
			}})
		}
		if w.TxSize > scenario.MinTxSize {
			cands = append(cands, candidate{"smallest transactions", func(sc *scenario.Scenario) *scenario.Scenario {
				sc.Workload.TxSize = scenario.MinTxSize
				return sc
			}})
		}
		return cands
	})
}

// constant is the simplest latency close to l: a constant at its typical
// value.
func constant(l scenario.Latency) scenario.Latency {
	v := l.Value
	switch l.Dist {
	case scenario.DistUniform:
		v = (l.Min + l.Max) / 2
	case scenario.DistNormal:
		v = l.Mean
	case scenario.DistLognormal:
		v = l.Median
	}
	return scenario.Latency{Dist: scenario.DistConstant, Value: v}
}

func (s *shrinker) simplifyNetwork() bool {
	return s.repeat(func() []candidate {
		nw := &s.cur.Network
		var cands []candidate
		add := func(what string, applies bool, f func(*scenario.Network)) {
			if applies {
				cands = append(cands, candidate{what, func(sc *scenario.Scenario) *scenario.Scenario {
					f(&sc.Network)
					return sc
				}})
			}
		}
		add("removed the per-link overrides", len(nw.Links) > 0, func(n *scenario.Network) { n.Links = nil })
		add("made the latency constant", nw.Latency.Dist != scenario.DistConstant, func(n *scenario.Network) { n.Latency = constant(n.Latency) })
		add("no message loss", nw.Drop > 0, func(n *scenario.Network) { n.Drop = 0 })
		add("no duplication", nw.Duplicate > 0, func(n *scenario.Network) { n.Duplicate = 0 })
		add("no reordering", nw.Reorder > 0, func(n *scenario.Network) { n.Reorder = 0 })
		add("no bandwidth limit", nw.Bandwidth > 0, func(n *scenario.Network) { n.Bandwidth = 0 })
		for i, l := range nw.Links {
			i := i
			add(fmt.Sprintf("removed link override %d", i), true, func(n *scenario.Network) { n.Links = slices.Delete(n.Links, i, i+1) })
			add(fmt.Sprintf("made link %d's latency constant", i), l.Latency != nil && l.Latency.Dist != scenario.DistConstant, func(n *scenario.Network) {
				c := constant(*n.Links[i].Latency)
				n.Links[i].Latency = &c
			})
		}
		for i, f := range s.cur.Faults {
			if f.Degrade != nil && f.Degrade.Latency != nil && f.Degrade.Latency.Dist != scenario.DistConstant {
				i := i
				cands = append(cands, candidate{fmt.Sprintf("made fault %d's latency constant", i), func(sc *scenario.Scenario) *scenario.Scenario {
					c := constant(*sc.Faults[i].Degrade.Latency)
					sc.Faults[i].Degrade.Latency = &c
					return sc
				}})
			}
		}
		return cands
	})
}

// defaults puts parameters back to what a scenario gets when it leaves
// them out.
func (s *shrinker) defaults() bool {
	return s.repeat(func() []candidate {
		var cands []candidate
		add := func(what string, applies bool, f func(*scenario.Scenario)) {
			if applies {
				cands = append(cands, candidate{what, func(sc *scenario.Scenario) *scenario.Scenario {
					f(sc)
					return sc
				}})
			}
		}
		c, cl := &s.cur.Consensus, &s.cur.Cluster
		add("default consensus parameters", *c != defaultConsensus(), func(sc *scenario.Scenario) { sc.Consensus = defaultConsensus() })
		add("equal weights", slices.ContainsFunc(s.cur.Weights, func(w uint64) bool { return w != 1 }), func(sc *scenario.Scenario) {
			for i := range sc.Weights {
				sc.Weights[i] = 1
			}
		})
		add("fast crypto", s.cur.Crypto != scenario.CryptoFast, func(sc *scenario.Scenario) { sc.Crypto = scenario.CryptoFast })
		add("one region", len(cl.Regions) > 1, func(sc *scenario.Scenario) { sc.Cluster.Regions = sc.Cluster.Regions[:1] })
		add("no boot failures", cl.BootFailure > 0, func(sc *scenario.Scenario) { sc.Cluster.BootFailure = 0 })
		add("no payment faults", s.cur.Workload.VM.Bounce+s.cur.Workload.VM.Late+s.cur.Workload.VM.Replay+s.cur.Workload.VM.Underpay > 0,
			func(sc *scenario.Scenario) {
				vm := &sc.Workload.VM
				vm.Bounce, vm.Late, vm.Replay, vm.Underpay = 0, 0, 0, 0
			})
		for i, b := range s.cur.Byzantine {
			i := i
			add(fmt.Sprintf("byzantine entry %d for the whole run", i), b.From > 0 || b.Until > 0, func(sc *scenario.Scenario) {
				sc.Byzantine[i].From, sc.Byzantine[i].Until = 0, 0
			})
		}
		return cands
	})
}

func defaultConsensus() scenario.Consensus {
	return scenario.Consensus{LeaderTimeout: scenario.Duration(scenario.DefaultLeaderTimeout), MaxEventTxs: scenario.DefaultMaxEventTxs,
		MaxTxBytes: scenario.DefaultMaxTxBytes, GCDepth: scenario.DefaultGCDepth, FetchRetry: scenario.Duration(scenario.DefaultFetchRetry)}
}

// defaultVMWorkload is the VM workload a scenario has when it leaves it
// out: none.
func defaultVMWorkload() scenario.VMWorkload {
	return scenario.VMWorkload{Clients: scenario.DefaultVMClients, Lease: scenario.Duration(scenario.DefaultLease),
		VCPU: scenario.DefaultVMVCPU, MemoryMiB: scenario.DefaultVMMemoryMiB, DiskGiB: scenario.DefaultVMDiskGiB,
		Image: scenario.DefaultImage, LateBy: scenario.Duration(scenario.DefaultLateBy), Timeout: scenario.Duration(scenario.DefaultVMTimeout)}
}

// smallerSeed tries the seeds below the current one, up to a few.
func (s *shrinker) smallerSeed() bool {
	var cands []candidate
	for seed := uint64(1); seed < s.cur.Seed && seed <= 8; seed++ {
		seed := seed
		cands = append(cands, candidate{fmt.Sprintf("seed %d", seed), func(sc *scenario.Scenario) *scenario.Scenario {
			sc.Seed = seed
			return sc
		}})
	}
	return s.try(cands)
}
