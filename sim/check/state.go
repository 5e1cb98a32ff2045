package check

import "fmt"

// stateAgreement keeps, per commit index, the cluster state hash the first
// honest node reported after applying it; every other honest node must
// report the same. Indices far behind the most advanced node are
// forgotten: a node replaying from the start after a restart is compared
// only where the record still reaches.
type stateAgreement struct {
	hashes   map[uint64][32]byte
	first    map[uint64]int
	low, top uint64
	compared uint64
	bad      violations
}

// stateSpan is how many commit indices the state record keeps.
const stateSpan = 1 << 16

// StateHash records that honest node's cluster state hash after applying
// commit index is hash.
func (c *Checker) StateHash(node int, index uint64, hash [32]byte) {
	n := c.node(node)
	if !n.honest {
		return
	}
	st := &c.state
	if st.hashes == nil {
		st.hashes, st.first = map[uint64][32]byte{}, map[uint64]int{}
	}
	if index < st.low {
		return
	}
	prev, ok := st.hashes[index]
	if !ok {
		st.hashes[index], st.first[index] = hash, node
		if index > st.top {
			st.top = index
		}
		for st.top-st.low >= stateSpan {
			delete(st.hashes, st.low)
			delete(st.first, st.low)
			st.low++
		}
		return
	}
	st.compared++
	if prev != hash {
		other := st.first[index]
		st.bad.add(index, node, 0, func() string {
			return fmt.Sprintf("node %d's cluster state after commit %d is %x, node %d's is %x", node, index, hash[:8], other, prev[:8])
		})
	}
}

func (c *Checker) stateResult() Result {
	st := &c.state
	return st.bad.result("state-agreement", fmt.Sprintf("%d state hashes compared over %d commits", st.compared, len(st.hashes)))
}
