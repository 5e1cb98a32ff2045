package graph

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// HashSize is the size in bytes of every hash in the ShadowGraph.
const HashSize = sha256.Size

// Hash identifies an event (the digest of its signed header) or a
// transaction (its Merkle leaf hash). SHA-256 is used because it is
// hardware-accelerated on the machines operators run (SHA-NI, ARMv8 SHA2)
// and needs nothing beyond the standard library.
type Hash [HashSize]byte

// String returns the first eight bytes in hex, enough to tell events apart
// in logs and reports.
func (h Hash) String() string { return hex.EncodeToString(h[:8]) }

// Hex returns the full hash in hex.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero hash, which no event has.
func (h Hash) IsZero() bool { return h == Hash{} }

// equal reports whether h and o are equal, word by word: the compiler
// compares arrays of this size with a call to a byte loop, and the graph
// compares a hash per parent reference.
func (h *Hash) equal(o *Hash) bool {
	return binary.LittleEndian.Uint64(h[0:]) == binary.LittleEndian.Uint64(o[0:]) &&
		binary.LittleEndian.Uint64(h[8:]) == binary.LittleEndian.Uint64(o[8:]) &&
		binary.LittleEndian.Uint64(h[16:]) == binary.LittleEndian.Uint64(o[16:]) &&
		binary.LittleEndian.Uint64(h[24:]) == binary.LittleEndian.Uint64(o[24:])
}

// Less orders hashes bytewise; it is the tie-breaker of every deterministic
// order in this package.
func (h Hash) Less(o Hash) bool {
	for i := range h {
		if h[i] != o[i] {
			return h[i] < o[i]
		}
	}
	return false
}

// Compare orders hashes as Less does: -1, 0 or +1. It compares big-endian
// words, which orders as the bytes do.
func (h Hash) Compare(o Hash) int {
	for i := 0; i < HashSize; i += 8 {
		x, y := binary.BigEndian.Uint64(h[i:]), binary.BigEndian.Uint64(o[i:])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Domain-separation prefixes: a leaf can never be mistaken for an inner
// node (RFC 6962 style) and an event digest never collides with either.
const (
	merkleLeafPrefix  = 0x00
	merkleInnerPrefix = 0x01
)

var eventDigestDomain = []byte("shadowgraph/event/v1\x00")

// TxHash returns the hash of one transaction: its Merkle leaf hash. Two
// transactions with the same bytes have the same hash and are delivered
// once by the linearizer.
func TxHash(tx []byte) Hash {
	var buf [1 + 512]byte // room on the stack for a transaction of usual size
	h, _ := leafHash(buf[:0], tx)
	return h
}

// leafHash hashes one transaction, reusing scratch (returned, possibly
// grown) for the prefixed input: a one-shot Sum256 over a copied buffer is
// twice as fast as streaming through a hash.Hash.
func leafHash(scratch, tx []byte) (Hash, []byte) {
	scratch = append(append(scratch[:0], merkleLeafPrefix), tx...)
	return sha256.Sum256(scratch), scratch
}

// MerkleRoot returns the root of the binary Merkle tree over the given leaf
// hashes. Odd nodes are promoted unchanged to the next level, so the root of
// one leaf is that leaf. The root of no leaves is the hash of the empty
// string under the inner-node prefix, a value no leaf can take.
func MerkleRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256([]byte{merkleInnerPrefix})
	case 1:
		return leaves[0]
	}
	var small [64]Hash // the levels of a usual batch, on the stack
	level := small[:0]
	if len(leaves) > len(small) {
		level = make([]Hash, 0, len(leaves))
	}
	level = append(level, leaves...)
	var buf [1 + 2*HashSize]byte
	buf[0] = merkleInnerPrefix
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			copy(buf[1:], level[i][:])
			copy(buf[1+HashSize:], level[i+1][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}

// BatchRoot hashes every transaction of a batch once and returns the leaf
// hashes together with their Merkle root.
func BatchRoot(txs [][]byte) (Hash, []Hash) {
	leaves := make([]Hash, len(txs))
	var scratch []byte
	for i, tx := range txs {
		leaves[i], scratch = leafHash(scratch, tx)
	}
	return MerkleRoot(leaves), leaves
}
