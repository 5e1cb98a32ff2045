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
// latency, loss, duplication and reordering, per-node uplink bandwidth with
// queueing, and the partitions and degradations the faults put in place.
// Twins share their node's links.
type network struct {
	n         int
	base      linkModel
	static    []scenario.Link // the scenario's per-link overrides
	degraded  []scenario.Link // overrides added by faults, removed by heal
	links     []linkModel     // n*n effective models, from*n+to
	bandwidth uint64          // bits per second, 0 = unlimited
	group     []int           // partition group per node
	isolated  []bool
	oneWay    []bool // n*n: from*n+to blocked
}

func newNetwork(sc *scenario.Scenario) *network {
	nw := &network{
		n:         sc.Nodes,
		base:      linkModel{latency: sc.Network.Latency, drop: sc.Network.Drop, duplicate: sc.Network.Duplicate, reorder: sc.Network.Reorder},
		static:    sc.Network.Links,
		bandwidth: uint64(sc.Network.Bandwidth),
		group:     make([]int, sc.Nodes),
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

// blocked reports whether a partition, isolation or one-way block stops
// messages from one node to another.
func (nw *network) blocked(from, to int) bool {
	if from == to {
		return false
	}
	return nw.isolated[from] || nw.isolated[to] || nw.group[from] != nw.group[to] || nw.oneWay[from*nw.n+to]
}

func (nw *network) partition(groups [][]int) {
	for i := range nw.group {
		nw.group[i] = len(groups) // the unlisted form one more group
	}
	for g, members := range groups {
		for _, i := range members {
			nw.group[i] = g
		}
	}
}

func (nw *network) blockOneWay(from, to []int) {
	for _, f := range from {
		for _, t := range to {
			nw.oneWay[f*nw.n+t] = true
		}
	}
}

func (nw *network) heal() {
	clear(nw.group)
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
