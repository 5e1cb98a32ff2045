package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// newRand returns the random source of one component (a node's network
// links, the workload, a Byzantine node), derived from the run's seed and
// the component's name alone: adding a node or a fault does not reshuffle
// what the other components draw.
func newRand(seed uint64, component string, index int) *rand.Rand {
	h := sha256.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(index))
	h.Write(b[:])
	h.Write([]byte(component))
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum), binary.BigEndian.Uint64(sum[8:])))
}
