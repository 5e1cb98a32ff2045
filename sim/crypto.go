package sim

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"hash/maphash"

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
// simulator checks each one once while it is recent. The memo is bounded:
// it keeps two generations of verdicts and drops the older one when the
// newer fills up.
type memoVerifier struct {
	inner     graph.Verifier
	cur, prev map[sigKey]bool
}

type sigKey struct {
	key    graph.PublicKey
	digest graph.Hash
	sig    graph.Signature
}

// memoLimit bounds the verdicts of one generation.
const memoLimit = 1 << 16

func newMemoVerifier(v graph.Verifier) *memoVerifier {
	return &memoVerifier{inner: v, cur: make(map[sigKey]bool)}
}

func (m *memoVerifier) Verify(key graph.PublicKey, digest graph.Hash, sig graph.Signature) bool {
	k := sigKey{key, digest, sig}
	if ok, hit := m.cur[k]; hit {
		return ok
	}
	ok, hit := m.prev[k]
	if !hit {
		ok = m.inner.Verify(key, digest, sig)
	}
	if len(m.cur) >= memoLimit {
		m.prev, m.cur = m.cur, make(map[sigKey]bool, memoLimit)
	}
	m.cur[k] = ok
	return ok
}

// decodeMemo hands every node that receives an event the same decoded
// event. Events are immutable, and what a graph caches in one (hash, leaf
// hashes, verification under the committee) is the same for every node of
// a run, so sharing changes no outcome, only the cost: a 100-node run
// decodes, hashes and verifies each event once instead of 99 times.
//
// A broadcast reaches all its receivers as one byte slice, so the slice's
// address identifies it: each entry keeps its bytes alive itself, and an
// entry leaves the memo only with its generation, so an address is never
// reused under a live entry, whatever graph.Decode keeps of the bytes; and
// the simulator never modifies a message's bytes. An event that
// arrives in other bytes (a batch answering a fetch or a sync) is found by
// its content: a hash of the bytes, confirmed by comparing them, since
// equal bytes decode to equal events. The memo keeps two generations of
// entries, each of at most decodeMemoBytes of encodings, and drops the
// older one when the newer fills up.
type decodeMemo struct {
	lim       graph.Limits
	seed      maphash.Seed
	cur, prev memoGen
	// ahead decodes and verifies broadcast events ahead of their first
	// delivery, on the observer's goroutine (prefetch.go); nil until the
	// run starts it. plain is the verifier it uses.
	ahead *prefetcher
	plain graph.Verifier
}

// memoGen is one generation of the memo.
type memoGen struct {
	byAddr    map[memoKey]memoEntry
	byContent map[uint64]*graph.Event
	bytes     int
}

type memoKey struct {
	addr uintptr
	n    int
}

// memoEntry holds the bytes its key's address points into, so that they
// cannot be freed and the address reused while the entry lives. An entry
// whose event is being decoded ahead has job set and no event yet.
type memoEntry struct {
	enc   []byte
	event *graph.Event
	job   *prefetch
}

// decodeMemoBytes bounds the encodings of one generation: more than a
// second of a 100-node run's events, time for a broadcast to reach every
// receiver and for the fetches of its parents.
const decodeMemoBytes = 4 << 20

func newMemoGen() memoGen {
	return memoGen{byAddr: make(map[memoKey]memoEntry), byContent: make(map[uint64]*graph.Event)}
}

func newDecodeMemo(lim graph.Limits) *decodeMemo {
	return &decodeMemo{lim: lim, seed: maphash.MakeSeed(), cur: newMemoGen(), prev: newMemoGen()}
}

func (m *decodeMemo) decode(enc []byte, lim graph.Limits) (*graph.Event, error) {
	if len(enc) == 0 || lim != m.lim {
		return graph.Decode(enc, lim)
	}
	k := keyOf(enc)
	if en, ok := m.cur.byAddr[k]; ok {
		if en.job != nil {
			return m.collect(k, en, &m.cur)
		}
		return en.event, nil
	}
	if en, ok := m.prev.byAddr[k]; ok {
		if en.job != nil {
			return m.collect(k, en, &m.prev)
		}
		m.keep(k, en.enc, 0, en.event)
		return en.event, nil
	}
	sum := maphash.Bytes(m.seed, enc)
	e := m.cur.byContent[sum]
	if e == nil {
		e = m.prev.byContent[sum]
	}
	if e == nil || !bytes.Equal(e.Encode(), enc) {
		var err error
		if e, err = graph.Decode(enc, lim); err != nil {
			return nil, err
		}
	}
	m.keep(k, enc, sum, e)
	return e, nil
}

// keep files e in the current generation under the address key k of enc
// and, if sum is not 0, under the content sum.
func (m *decodeMemo) keep(k memoKey, enc []byte, sum uint64, e *graph.Event) {
	if m.cur.bytes >= decodeMemoBytes {
		m.prev, m.cur = m.cur, newMemoGen()
	}
	m.cur.byAddr[k] = memoEntry{enc: enc, event: e}
	if sum != 0 {
		m.cur.byContent[sum] = e
	}
	m.cur.bytes += len(enc)
}
