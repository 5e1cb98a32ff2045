package graph

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// SignatureSize is the size of an event signature on the wire. Every scheme
// fits its signatures into it.
const SignatureSize = ed25519.SignatureSize

// Signature is a creator's signature over an event digest.
type Signature [SignatureSize]byte

// Signer signs event digests with one member's key. It must be
// deterministic for a given digest only in the sense that any signature it
// returns verifies; the graph never asks twice for the same round.
type Signer interface {
	PublicKey() PublicKey
	Sign(digest Hash) Signature
}

// Verifier checks signatures. It is pure and safe for concurrent use, so a
// live node can run it on a worker pool before handing events to the graph.
type Verifier interface {
	Verify(key PublicKey, digest Hash, sig Signature) bool
}

// Ed25519 is the production signature scheme.
type Ed25519 struct{}

// Verify implements Verifier with crypto/ed25519.
func (Ed25519) Verify(key PublicKey, digest Hash, sig Signature) bool {
	return ed25519.Verify(key[:], digest[:], sig[:])
}

// Ed25519Signer signs with an ed25519 private key.
type Ed25519Signer struct {
	key ed25519.PrivateKey
	pub PublicKey
}

// NewEd25519Signer wraps a private key.
func NewEd25519Signer(key ed25519.PrivateKey) (*Ed25519Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ed25519 private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	s := &Ed25519Signer{key: key}
	copy(s.pub[:], key.Public().(ed25519.PublicKey))
	return s, nil
}

// KeySeed derives the key seed of member i of a committee made from one
// seed. Tests and the simulator both use it, so a seed names the same
// committee in each.
func KeySeed(seed uint64, i int) [32]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	return sha256.Sum256(b[:])
}

// Ed25519SignerFromSeed derives the signer of a 32-byte seed; tests and the
// simulator use it to make committees from a seed.
func Ed25519SignerFromSeed(seed [32]byte) *Ed25519Signer {
	s, _ := NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
	return s
}

// PublicKey returns the key that verifies this signer's signatures.
func (s *Ed25519Signer) PublicKey() PublicKey { return s.pub }

// Sign signs a digest.
func (s *Ed25519Signer) Sign(digest Hash) Signature {
	var sig Signature
	copy(sig[:], ed25519.Sign(s.key, digest[:]))
	return sig
}
