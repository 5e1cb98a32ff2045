package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"dagger/sim/scenario"
)

// linkModel is what one directed link does to a message.
type linkModel struct {
	latency   scenario.Latency
	drop      float64
	duplicate float64
	reorder   float64
}

// network is the modelled network between the scenario's nodes: per-link
// latency, loss, duplication and reordering, per-node uplink bandwidth (the
// endpoint's uplink, sim.go, queues per peer), and the partitions and
// degradations the faults put in place.
//
// Twins share their node's links, except where a partition places them:
// partitions are decided per endpoint slot (node i at slot i, its twins at
// slot n+i), everything else per node.
type network struct {
	n         int
	base      linkModel
	static    []scenario.Link // the scenario's per-link overrides
	degraded  []scenario.Link // overrides added by faults, removed by heal
	links     []linkModel     // n*n effective models, from*n+to
	bandwidth uint64          // bits per second, 0 = unlimited
	// groups holds, per endpoint slot, the partition groups it is in,
	// ascending, while a partition is in force (split); a twin slot left
	// nil follows its node.
	groups   [][]int
	split    bool
	isolated []bool
	oneWay   []bool // n*n: from*n+to blocked
}

func newNetwork(sc *scenario.Scenario) *network {
	nw := &network{
		n:         sc.Nodes,
		base:      linkModel{latency: sc.Network.Latency, drop: sc.Network.Drop, duplicate: sc.Network.Duplicate, reorder: sc.Network.Reorder},
		static:    sc.Network.Links,
		bandwidth: uint64(sc.Network.Bandwidth),
		groups:    make([][]int, 2*sc.Nodes),
		isolated:  make([]bool, sc.Nodes),
		oneWay:    make([]bool, sc.Nodes*sc.Nodes),
	}
	nw.rebuild()
	return nw
}

// rebuild recomputes every link's model from the base, the scenario's
// overrides and the active degradations, later ones winning.
func (nw *network) rebuild() {
	nw.links = make([]linkModel, nw.n*nw.n)
	for i := range nw.links {
		nw.links[i] = nw.base
	}
	for _, set := range [][]scenario.Link{nw.static, nw.degraded} {
		for _, l := range set {
			for _, from := range nodesOr(l.From, nw.n) {
				for _, to := range nodesOr(l.To, nw.n) {
					m := &nw.links[from*nw.n+to]
					if l.Latency != nil {
						m.latency = *l.Latency
					}
					if l.Drop != nil {
						m.drop = *l.Drop
					}
					if l.Duplicate != nil {
						m.duplicate = *l.Duplicate
					}
					if l.Reorder != nil {
						m.reorder = *l.Reorder
					}
				}
			}
		}
	}
}

func nodesOr(list []int, n int) []int {
	if len(list) > 0 {
		return list
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// slot is the endpoint slot of a node, or of its twins.
func (nw *network) slot(node int, twin bool) int {
	if twin {
		return nw.n + node
	}
	return node
}

// blocked reports whether a partition, isolation or one-way block stops
// messages from one endpoint slot to another. A node and its twins reach
// each other unless a partition separates them.
func (nw *network) blocked(from, to int) bool {
	if nw.split && !nw.together(from, to) {
		return true
	}
	f, t := from%nw.n, to%nw.n
	if f == t {
		return false
	}
	return nw.isolated[f] || nw.isolated[t] || nw.oneWay[f*nw.n+t]
}

// together reports whether two endpoint slots share a partition group.
func (nw *network) together(a, b int) bool {
	x, y := nw.groupsOf(a), nw.groupsOf(b)
	for len(x) > 0 && len(y) > 0 {
		switch {
		case x[0] == y[0]:
			return true
		case x[0] < y[0]:
			x = x[1:]
		default:
			y = y[1:]
		}
	}
	return false
}

func (nw *network) groupsOf(slot int) []int {
	if g := nw.groups[slot]; g != nil || slot < nw.n {
		return g
	}
	return nw.groups[slot-nw.n]
}

func (nw *network) partition(groups [][]scenario.Endpoint) {
	clear(nw.groups)
	for g, members := range groups {
		for _, e := range members {
			i := nw.slot(e.Node, e.Twin)
			nw.groups[i] = append(nw.groups[i], g)
		}
	}
	for i := range nw.n {
		if nw.groups[i] == nil {
			nw.groups[i] = []int{len(groups)} // the unlisted form one more group
		}
	}
	nw.split = true // and unlisted twins, still nil, follow their node
}

func (nw *network) blockOneWay(from, to []int) {
	for _, f := range from {
		for _, t := range to {
			nw.oneWay[f*nw.n+t] = true
		}
	}
}

func (nw *network) heal() {
	nw.split = false
	clear(nw.groups)
	clear(nw.isolated)
	clear(nw.oneWay)
	if len(nw.degraded) > 0 {
		nw.degraded = nil
		nw.rebuild()
	}
}

func (nw *network) degrade(l scenario.Link) {
	nw.degraded = append(nw.degraded, l)
	nw.rebuild()
}

// transmit returns the uplink time of size bytes.
func (nw *network) transmit(size int) int64 {
	if nw.bandwidth == 0 {
		return 0
	}
	return int64(math.Ceil(float64(size) * 8 * 1e9 / float64(nw.bandwidth)))
}

// sample draws one latency from a distribution, in nanoseconds, never
// negative.
func sample(l scenario.Latency, r *rand.Rand) int64 {
	var d float64
	switch l.Dist {
	case "uniform":
		d = float64(l.Min) + r.Float64()*float64(l.Max-l.Min)
	case "normal":
		d = float64(l.Mean) + r.NormFloat64()*float64(l.Stddev)
	case "lognormal":
		d = float64(l.Median) * math.Exp(l.Sigma*r.NormFloat64())
	default:
		d = float64(l.Value)
	}
	if d < 0 {
		return 0
	}
	if d > float64(time.Hour) {
		return int64(time.Hour)
	}
	return int64(d)
}
