package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"unsafe"

	"dagger/graph"
)

// FastSigner is the simulator's cheap signature scheme for large studies
// (`crypto: fast`): a signature is a hash of the public key and the
// digest. It is not secure (anyone knowing the key can sign), but simulated
// nodes run the honest code and never forge deliberately; what matters is
// that the scheme still rejects every altered event and every signature
// made under another key, exactly as ed25519 does, at a fraction of the
// cost.
type FastSigner struct{ key graph.PublicKey }

// NewFastSigner derives a member's key from its seed: the ed25519 public
// key of the seed, so the member's identity is the same as under ed25519
// (its cluster transactions are signed with ed25519 either way).
func NewFastSigner(seed [32]byte) *FastSigner {
	return &FastSigner{key: graph.PublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))}
}

// PublicKey implements graph.Signer.
func (s *FastSigner) PublicKey() graph.PublicKey { return s.key }

// Sign implements graph.Signer.
func (s *FastSigner) Sign(digest graph.Hash) graph.Signature { return fastSig(s.key, digest) }

func fastSig(key graph.PublicKey, digest graph.Hash) graph.Signature {
	var b [len("dagger/sim/fast-sig") + graph.PublicKeySize + graph.HashSize]byte
	n := copy(b[:], "dagger/sim/fast-sig")
	n += copy(b[n:], key[:])
	copy(b[n:], digest[:])
	var sig graph.Signature
	h := sha256.Sum256(b[:])
	copy(sig[:], h[:])
	copy(sig[32:], h[:]) // the whole signature is bound, so flipping any byte fails
	return sig
}

// FastVerifier verifies FastSigner signatures.
type FastVerifier struct{}

// Verify implements graph.Verifier.
func (FastVerifier) Verify(key graph.PublicKey, digest graph.Hash, sig graph.Signature) bool {
	return fastSig(key, digest) == sig
}

// memoVerifier remembers verdicts: in one process every node verifies the
// same signatures, and a verdict is a pure function of its inputs, so the
// simulator checks each one once. The memo is bounded and simply starts
// over when full.
type memoVerifier struct {
	inner graph.Verifier
	seen  map[sigKey]bool
}

type sigKey struct {
	key    graph.PublicKey
	digest graph.Hash
	sig    graph.Signature
}

const memoLimit = 1 << 20

func newMemoVerifier(v graph.Verifier) *memoVerifier {
	return &memoVerifier{inner: v, seen: make(map[sigKey]bool)}
}

func (m *memoVerifier) Verify(key graph.PublicKey, digest graph.Hash, sig graph.Signature) bool {
	k := sigKey{key, digest, sig}
	if ok, hit := m.seen[k]; hit {
		return ok
	}
	if len(m.seen) >= memoLimit {
		clear(m.seen)
	}
	ok := m.inner.Verify(key, digest, sig)
	m.seen[k] = ok
	return ok
}

// decodeMemo hands every node that receives one message the same decoded
// event. A broadcast reaches all its receivers as one byte slice, so the
// slice's address identifies it: each entry keeps its bytes alive itself,
// and the memo is only ever cleared whole, so an address is never reused
// under a live entry, whatever graph.Decode keeps of the bytes. The
// simulator never modifies a message's bytes. Events are immutable and
// what a graph caches in one (hash, leaf hashes, verification under the
// committee) is the same for every node of a run, so sharing changes no
// outcome, only the cost: a 100-node run decodes, hashes and verifies each
// event once instead of 99 times.
type decodeMemo struct {
	lim    graph.Limits
	events map[memoKey]memoEntry
}

type memoKey struct {
	addr uintptr
	n    int
}

// memoEntry holds the bytes its key's address points into, so that they
// cannot be freed and the address reused while the entry lives.
type memoEntry struct {
	enc   []byte
	event *graph.Event
}

const decodeMemoLimit = 1 << 15

func newDecodeMemo(lim graph.Limits) *decodeMemo {
	return &decodeMemo{lim: lim, events: make(map[memoKey]memoEntry)}
}

func (m *decodeMemo) decode(enc []byte, lim graph.Limits) (*graph.Event, error) {
	if len(enc) == 0 || lim != m.lim {
		return graph.Decode(enc, lim)
	}
	k := memoKey{uintptr(unsafe.Pointer(unsafe.SliceData(enc))), len(enc)}
	if e, ok := m.events[k]; ok {
		return e.event, nil
	}
	e, err := graph.Decode(enc, lim)
	if err != nil {
		return nil, err
	}
	if len(m.events) >= decodeMemoLimit {
		clear(m.events)
	}
	m.events[k] = memoEntry{enc: enc, event: e}
	return e, nil
}
