package graph

import (
	"bytes"
	"crypto/sha256"
	"dagger/graph/codec"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// EventRef names an event by its hash together with the round and creator
// it claims. The hints let a receiver check an event's structure (quorum of
// previous-round parents, its creator's own previous event) before the
// parents themselves arrive, and say which slot a missing parent is in; the
// hash binds them, so a reference whose hints disagree with the event it
// names makes the referencing event invalid.
type EventRef struct {
	Round   uint64
	Creator MemberID
	Hash    Hash
}

func (r EventRef) String() string { return fmt.Sprintf("r%d/c%d/%s", r.Round, r.Creator, r.Hash) }

// parentOrder is the canonical order of parent references: newest round
// first, then creator, then hash. One order means one encoding per event.
func parentOrder(a, b EventRef) int {
	switch {
	case a.Round != b.Round:
		if a.Round > b.Round {
			return -1
		}
		return 1
	case a.Creator != b.Creator:
		if a.Creator < b.Creator {
			return -1
		}
		return 1
	case a.Hash == b.Hash:
		return 0
	case a.Hash.Less(b.Hash):
		return -1
	default:
		return 1
	}
}

// SortParents puts references in canonical order, as every valid event
// lists them.
func SortParents(refs []EventRef) { slices.SortFunc(refs, parentOrder) }

// Event is one vertex of the ShadowGraph. Its identity is the digest of its
// header (every field but the signature and the transaction bytes, which
// the header commits to by count, size and Merkle root); the creator signs
// that digest. An Event must not be modified once signed or decoded.
type Event struct {
	Epoch   uint64
	Round   uint64
	Creator MemberID
	// Time is the creator's clock in Unix nanoseconds when it made the event.
	// Nothing trusts one creator's time; consensus time is a quorum median.
	Time    int64
	Parents []EventRef
	TxRoot  Hash
	Txs     [][]byte
	Sig     Signature

	hash   Hash
	hashed bool
	// txHashes are the batch's leaf hashes, filled when the batch is checked
	// against TxRoot so that the linearizer never hashes a batch again.
	txHashes []Hash
	// verifiedBy is the committee whose Verify accepted this event, under
	// verifiedLim.
	verifiedBy  *Committee
	verifiedLim Limits
	// enc is the canonical encoding when the event was decoded from it or
	// signed here: relaying and storing an event then copies nothing.
	enc []byte
	// frame is enc behind the proposing graph's Config.FramePrefix, in one
	// allocation, for an event signed here.
	frame []byte
}

// Encoding version 1. All integers are big-endian and fixed-width, so each
// event has exactly one encoding.
const (
	encodingVersion = 1
	refSize         = 8 + 4 + HashSize
	headerFixedSize = 1 + 8 + 8 + 4 + 8 + 2 + 4 + 4 + HashSize
	// EventOverhead is the size of an event with no parents and no
	// transactions.
	EventOverhead = headerFixedSize + SignatureSize
)

// Limits bound what one event may carry. They are part of validity: every
// honest node must use the same limits in an epoch. The zero value of a
// field means its default.
type Limits struct {
	MaxParents    int // parent references per event
	MaxEventTxs   int // transactions per event
	MaxTxBytes    int // bytes of one transaction
	MaxEventBytes int // bytes of one encoded event
}

// Default limits. The hard caps are what the encoding can express.
const (
	DefaultMaxParents    = 2 * MaxCommitteeSize
	DefaultMaxEventTxs   = 100_000
	DefaultMaxTxBytes    = 1 << 20
	DefaultMaxEventBytes = 32 << 20
	hardMaxParents       = 1<<16 - 1
)

func (l Limits) withDefaults() Limits {
	if l.MaxParents <= 0 || l.MaxParents > hardMaxParents {
		l.MaxParents = min(DefaultMaxParents, hardMaxParents)
	}
	if l.MaxEventTxs <= 0 {
		l.MaxEventTxs = DefaultMaxEventTxs
	}
	if l.MaxTxBytes <= 0 {
		l.MaxTxBytes = DefaultMaxTxBytes
	}
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	return l
}

// ErrMalformed wraps every decoding and structure error.
var ErrMalformed = errors.New("malformed event")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Ref returns the reference other events use to name e.
func (e *Event) Ref() EventRef { return EventRef{Round: e.Round, Creator: e.Creator, Hash: e.Hash()} }

// Hash returns the event's digest, the value its creator signs.
func (e *Event) Hash() Hash {
	if !e.hashed {
		e.hash = e.digest()
		e.hashed = true
	}
	return e.hash
}

// TxHash returns the hash (TxHash) of the batch's i-th transaction: the
// one the graph computed when it checked or made the event, or computed
// now for an event it did not.
func (e *Event) TxHash(i int) Hash {
	if i < len(e.txHashes) {
		return e.txHashes[i]
	}
	return TxHash(e.Txs[i])
}

func (e *Event) digest() Hash { return headerDigest(e.appendHeader(make([]byte, 0, e.headerSize()))) }

// headerDigest is the value a creator signs: the encoded header under the
// event domain.
func headerDigest(header []byte) Hash {
	d := sha256.New()
	d.Write(eventDigestDomain)
	d.Write(header)
	var h Hash
	d.Sum(h[:0])
	return h
}

func (e *Event) batchBytes() int {
	n := 0
	for _, tx := range e.Txs {
		n += len(tx)
	}
	return n
}

func (e *Event) headerSize() int { return headerFixedSize + refSize*len(e.Parents) }

// Size returns the length of the event's encoding.
func (e *Event) Size() int {
	return e.headerSize() + SignatureSize + 4*len(e.Txs) + e.batchBytes()
}

func (e *Event) appendHeader(b []byte) []byte {
	return appendHeader(b, e.Epoch, e.Round, e.Creator, e.Time, e.Parents, uint32(len(e.Txs)), uint32(e.batchBytes()), e.TxRoot)
}

func appendHeader(b []byte, epoch, round uint64, creator MemberID, time int64, parents []EventRef, ntxs, nbytes uint32, root Hash) []byte {
	w := codec.Writer{B: b}
	w.U8(encodingVersion)
	w.U64(epoch)
	w.U64(round)
	w.U32(uint32(creator))
	w.I64(time)
	w.U16(uint16(len(parents)))
	for _, p := range parents {
		w.U64(p.Round)
		w.U32(uint32(p.Creator))
		w.Raw(p.Hash[:])
	}
	w.U32(ntxs)
	w.U32(nbytes)
	w.Raw(root[:])
	return w.B
}

// AppendEncode appends the event's canonical encoding to b.
func (e *Event) AppendEncode(b []byte) []byte {
	if e.enc != nil {
		return append(b, e.enc...)
	}
	return e.appendFields(b)
}

func (e *Event) appendFields(b []byte) []byte {
	b = slices.Grow(b, e.Size())
	b = e.appendHeader(b)
	w := codec.Writer{B: append(b, e.Sig[:]...)}
	for _, tx := range e.Txs {
		w.Bytes32(tx)
	}
	return w.B
}

// Framed returns prefix followed by the event's canonical encoding. For an
// event this graph proposed under a Config.FramePrefix equal to prefix it
// is the slice the event was encoded in, shared and not copied: the caller
// must not modify it.
func (e *Event) Framed(prefix []byte) []byte {
	if n := len(e.frame) - len(e.enc); e.frame != nil && n == len(prefix) && bytes.Equal(e.frame[:n], prefix) {
		return e.frame
	}
	b := make([]byte, 0, len(prefix)+e.Size())
	return e.AppendEncode(append(b, prefix...))
}

// shareTxs points the event's transactions at their bytes inside enc, so
// the event holds one copy of them and the caller's slices are free.
func (e *Event) shareTxs() {
	off := len(e.enc)
	for i := len(e.Txs) - 1; i >= 0; i-- {
		off -= len(e.Txs[i])
		e.Txs[i] = e.enc[off : off+len(e.Txs[i]) : off+len(e.Txs[i])]
		off -= 4 // its length
	}
}

// Encode returns the event's canonical encoding. For an event that was
// decoded or proposed it is the very slice the event was read from or sent
// as, shared and not copied: the caller must not modify it.
func (e *Event) Encode() []byte {
	if e.enc != nil {
		return e.enc
	}
	return e.appendFields(nil)
}

// EncodedHash returns the hash of the event encoded in enc by reading its
// header alone: the transactions are neither parsed nor hashed, since the
// header carries their root. It checks only that the header is complete;
// Decode checks the rest.
func EncodedHash(enc []byte) (Hash, error) {
	const countAt = 1 + 8 + 8 + 4 + 8
	if len(enc) < countAt+2 || enc[0] != encodingVersion {
		return Hash{}, malformed("%d bytes are not an event header", len(enc))
	}
	n := headerFixedSize + refSize*int(binary.BigEndian.Uint16(enc[countAt:]))
	if len(enc) < n+SignatureSize {
		return Hash{}, malformed("event of %d bytes is shorter than its %d-byte header and signature", len(enc), n+SignatureSize)
	}
	return headerDigest(enc[:n]), nil
}

// decoder reads an event's fields (package codec) with the graph's own:
// hashes, headers.
type decoder struct{ codec.Reader }

func newDecoder(b []byte) *decoder {
	return &decoder{codec.NewReader(b, func(msg string) error { return malformed("%s", msg) })}
}

func (d *decoder) hash(what string) (h Hash) {
	d.Fixed(h[:], what)
	return h
}

// header decodes a header and returns the event (without signature and
// transactions) with the declared transaction count and batch size.
func (d *decoder) header(lim Limits) (e *Event, ntxs, nbytes int) {
	if v := d.U8("version"); d.Err() == nil && v != encodingVersion {
		d.Fail("encoding version %d, this node speaks %d", v, encodingVersion)
		return nil, 0, 0
	}
	e = &Event{}
	e.Epoch = d.U64("epoch")
	e.Round = d.U64("round")
	e.Creator = MemberID(d.U32("creator"))
	e.Time = int64(d.U64("time"))
	np := int(d.U16("parent count"))
	if d.Err() == nil && np > lim.MaxParents {
		d.Fail("%d parents, at most %d allowed", np, lim.MaxParents)
	}
	if d.Err() != nil {
		return nil, 0, 0
	}
	if np > 0 {
		e.Parents = make([]EventRef, np)
		for i := range e.Parents {
			e.Parents[i] = EventRef{Round: d.U64("parent round"), Creator: MemberID(d.U32("parent creator")), Hash: d.hash("parent hash")}
		}
	}
	ntxs = int(d.U32("transaction count"))
	nbytes = int(d.U32("batch size"))
	e.TxRoot = d.hash("transaction root")
	if d.Err() != nil {
		return nil, 0, 0
	}
	return e, ntxs, nbytes
}

// Decode parses one encoded event and checks its structure against lim
// (zero fields take their defaults). Transaction slices alias b: the caller
// must not modify b afterwards. Decode does not check the signature or the
// Merkle root; Committee.Verify does.
func Decode(b []byte, lim Limits) (*Event, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxEventBytes {
		return nil, malformed("%d bytes, at most %d allowed", len(b), lim.MaxEventBytes)
	}
	d := newDecoder(b)
	e, ntxs, nbytes := d.header(lim)
	if d.Err() != nil {
		return nil, d.Err()
	}
	headerEnd := d.Offset()
	if ntxs > lim.MaxEventTxs {
		return nil, malformed("%d transactions, at most %d allowed", ntxs, lim.MaxEventTxs)
	}
	// Each transaction costs at least 5 bytes (length and one byte of data),
	// so a count the input cannot hold is rejected before allocating for it.
	copy(e.Sig[:], d.Take(SignatureSize, "signature"))
	if d.Err() != nil {
		return nil, d.Err()
	}
	if rest := d.Left(); ntxs > rest/5 || nbytes != rest-4*ntxs {
		return nil, malformed("header declares %d transactions in %d bytes, %d bytes follow", ntxs, nbytes, rest)
	}
	if ntxs > 0 {
		e.Txs = make([][]byte, ntxs)
		for i := range e.Txs {
			n := int(d.U32("transaction length"))
			if d.Err() == nil && (n == 0 || n > lim.MaxTxBytes) {
				return nil, malformed("transaction %d is %d bytes, want 1..%d", i, n, lim.MaxTxBytes)
			}
			e.Txs[i] = d.Take(n, "transaction")
		}
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	if d.End(); d.Err() != nil {
		return nil, d.Err()
	}
	if err := e.checkStructure(lim); err != nil {
		return nil, err
	}
	e.hash, e.hashed = headerDigest(b[:headerEnd]), true
	e.enc = b[:len(b):len(b)]
	return e, nil
}

// checkStructure checks what can be checked of an event alone, without its
// committee or its parents: limits, parent order, parents' rounds.
func (e *Event) checkStructure(lim Limits) error {
	if len(e.Parents) > lim.MaxParents {
		return malformed("%d parents, at most %d allowed", len(e.Parents), lim.MaxParents)
	}
	if len(e.Txs) > lim.MaxEventTxs {
		return malformed("%d transactions, at most %d allowed", len(e.Txs), lim.MaxEventTxs)
	}
	for i, tx := range e.Txs {
		if len(tx) == 0 || len(tx) > lim.MaxTxBytes {
			return malformed("transaction %d is %d bytes, want 1..%d", i, len(tx), lim.MaxTxBytes)
		}
	}
	if s := e.Size(); s > lim.MaxEventBytes {
		return malformed("%d bytes, at most %d allowed", s, lim.MaxEventBytes)
	}
	if e.Round == 0 && len(e.Parents) != 0 {
		return malformed("round 0 event has %d parents, want none", len(e.Parents))
	}
	if e.Round > 0 && len(e.Parents) == 0 {
		return malformed("round %d event has no parents", e.Round)
	}
	for i, p := range e.Parents {
		if p.Round >= e.Round {
			return malformed("parent %s is not below round %d", p, e.Round)
		}
		if i > 0 && parentOrder(e.Parents[i-1], p) >= 0 {
			return malformed("parents not in canonical order (or repeated) at %d", i)
		}
	}
	if e.Round > 0 && e.Parents[0].Round != e.Round-1 {
		return malformed("round %d event has no parent at round %d", e.Round, e.Round-1)
	}
	return nil
}

// Header is an event without its transactions: what a creator signed,
// and so what evidence of equivocation consists of.
type Header struct {
	Epoch   uint64
	Round   uint64
	Creator MemberID
	Time    int64
	Parents []EventRef
	TxCount uint32
	TxBytes uint32
	TxRoot  Hash
	Sig     Signature
}

// Header returns e's signed header.
func (e *Event) Header() Header {
	return Header{
		Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time,
		Parents: slices.Clone(e.Parents), TxCount: uint32(len(e.Txs)),
		TxBytes: uint32(e.batchBytes()), TxRoot: e.TxRoot, Sig: e.Sig,
	}
}

func (h *Header) appendHeader(b []byte) []byte {
	return appendHeader(b, h.Epoch, h.Round, h.Creator, h.Time, h.Parents, h.TxCount, h.TxBytes, h.TxRoot)
}

// Hash returns the digest the header's creator signed; it equals the hash of
// the event the header came from.
func (h *Header) Hash() Hash {
	return headerDigest(h.appendHeader(make([]byte, 0, headerFixedSize+refSize*len(h.Parents))))
}

// AppendEncode appends the header and its signature to b.
func (h *Header) AppendEncode(b []byte) []byte {
	return append(h.appendHeader(b), h.Sig[:]...)
}

func (d *decoder) signedHeader(lim Limits) Header {
	e, ntxs, nbytes := d.header(lim)
	var h Header
	if d.Err() != nil {
		return h
	}
	h = Header{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: e.Parents,
		TxCount: uint32(ntxs), TxBytes: uint32(nbytes), TxRoot: e.TxRoot}
	copy(h.Sig[:], d.Take(SignatureSize, "signature"))
	return h
}
