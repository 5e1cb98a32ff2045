package payment

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	bin "github.com/gagliardetto/binary"
	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/system"
)

// MaxTxBytes bounds an encoded transaction: Solana's packet limit, so nothing
// larger could ever land.
const MaxTxBytes = 1232

// maxAccounts is Solana's limit on the accounts of one transaction: account
// indexes are one byte.
const maxAccounts = 256

// memoDetailBytesMax bounds how much of a found memo an error quotes.
const memoDetailBytesMax = 64

var (
	memoProgramV2 = solana.MemoProgramID
	memoProgramV1 = solana.MustPublicKeyFromBase58("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
)

// Requirement is what a payment must do.
type Requirement struct {
	Treasury Address
	Lamports uint64 // at least this much must reach the treasury
	Memo     string // exact memo bytes, raw as wallets send them
}

// Payment is what a verified transaction paid.
type Payment struct {
	Signature Signature // the transaction's first signature: its id on Solana, usable once
	Payer     Address   // the fee payer
	Lamports  uint64    // total transferred to the treasury
}

// Reason says why Verify rejected a transaction. Reasons are stable strings:
// nodes and clients compare them.
type Reason string

// The reasons of Verify, in the order it checks them.
const (
	ReasonMalformed    Reason = "malformed"     // does not decode, trailing bytes, too big, bad indexes
	ReasonNoTransfer   Reason = "no-transfer"   // no System transfer from a signer to the treasury
	ReasonUnderpaid    Reason = "underpaid"     // the transfers to the treasury sum to less than required
	ReasonMemoMissing  Reason = "memo-missing"  // no Memo program instruction
	ReasonMemoMismatch Reason = "memo-mismatch" // Memo program instructions, none with the required memo
	ReasonSignature    Reason = "bad-signature" // a required signature is missing or does not verify
)

// Error is the error of Verify.
type Error struct {
	Reason Reason
	Detail string // for people: what was found and, where useful, what to do
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

// ReasonOf returns the reason of a Verify error: "" for nil and
// ReasonMalformed for an error that is not an *Error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonMalformed
}

func reject(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verify checks a serialized Solana transaction (wire bytes, legacy or v0
// message) against req, offline and deterministically, and never panics.
//
// Signatures are checked last: ed25519 verification dominates the cost, and a
// transaction that pays the wrong amount or names the wrong request is
// rejected without it. The error's Reason is that of the first failed check in
// the order of the Reason constants.
func Verify(tx []byte, req Requirement) (Payment, error) {
	if len(tx) > MaxTxBytes {
		return Payment{}, reject(ReasonMalformed, "transaction is %d bytes; Solana accepts at most %d", len(tx), MaxTxBytes)
	}
	t, msg, err := decode(tx)
	if err != nil {
		return Payment{}, err
	}
	if err := sanitize(&t.Message); err != nil {
		return Payment{}, err
	}
	v := view{m: &t.Message}
	lamports, err := v.paid(req.Treasury)
	if err != nil {
		return Payment{}, err
	}
	if lamports < req.Lamports {
		return Payment{}, reject(ReasonUnderpaid, "transfers to treasury %s total %d lamports; the price is %d (%d short)",
			req.Treasury, lamports, req.Lamports, req.Lamports-lamports)
	}
	if err := v.memo(req.Memo); err != nil {
		return Payment{}, err
	}
	if err := verifySignatures(t, msg); err != nil {
		return Payment{}, err
	}
	return Payment{
		Signature: Signature(t.Signatures[0]),
		Payer:     Address(t.Message.AccountKeys[0]),
		Lamports:  lamports,
	}, nil
}

// decode decodes tx and returns it with the wire bytes of its message. It
// insists that the message re-encodes to exactly those bytes: the signatures
// cover the bytes, the checks cover the decoded structure, and only a
// canonical encoding makes them one and the same.
func decode(tx []byte) (t *solana.Transaction, msg []byte, err error) {
	// The decoder is a third-party parser of hostile input: a panic in it is
	// a malformed transaction, not a crashed node.
	defer func() {
		if r := recover(); r != nil {
			t, msg, err = nil, nil, reject(ReasonMalformed, "transaction does not decode: %v", r)
		}
	}()
	if len(tx) == 0 {
		return nil, nil, reject(ReasonMalformed, "transaction is empty")
	}
	dec := bin.NewBinDecoder(tx)
	t, err = solana.TransactionFromDecoder(dec)
	if err != nil {
		return nil, nil, reject(ReasonMalformed, "transaction does not decode: %v", err)
	}
	if n := dec.Remaining(); n != 0 {
		return nil, nil, reject(ReasonMalformed, "%d trailing bytes after the transaction", n)
	}
	msg, err = t.Message.MarshalBinary()
	if err != nil {
		return nil, nil, reject(ReasonMalformed, "message does not re-encode: %v", err)
	}
	var prefix []byte
	bin.EncodeCompactU16Length(&prefix, len(t.Signatures))
	start := len(prefix) + len(t.Signatures)*ed25519.SignatureSize
	if start > len(tx) || !bytes.Equal(tx[start:], msg) {
		return nil, nil, reject(ReasonMalformed, "message is not canonically encoded (unsupported version byte or non-minimal encoding)")
	}
	return t, msg, nil
}

// sanitize applies Solana's structural rules for messages, so that every index
// used later is in range and a transaction the cluster would refuse to even
// execute is refused here too.
func sanitize(m *solana.Message) error {
	h := m.Header
	nStatic := len(m.AccountKeys)
	nAll := nStatic + m.NumLookups()
	switch {
	case h.NumRequiredSignatures == 0:
		return reject(ReasonMalformed, "message requires no signatures, so it has no fee payer")
	case int(h.NumRequiredSignatures) > nStatic:
		return reject(ReasonMalformed, "message requires %d signatures but has %d account keys", h.NumRequiredSignatures, nStatic)
	case h.NumReadonlySignedAccounts >= h.NumRequiredSignatures:
		return reject(ReasonMalformed, "message has no writable signer to pay the fee")
	case int(h.NumReadonlyUnsignedAccounts) > nStatic-int(h.NumRequiredSignatures):
		return reject(ReasonMalformed, "message marks %d unsigned accounts read-only but has %d", h.NumReadonlyUnsignedAccounts, nStatic-int(h.NumRequiredSignatures))
	case nAll > maxAccounts:
		return reject(ReasonMalformed, "message has %d accounts; at most %d", nAll, maxAccounts)
	}
	for i, l := range m.AddressTableLookups {
		if len(l.WritableIndexes) == 0 && len(l.ReadonlyIndexes) == 0 {
			return reject(ReasonMalformed, "address table lookup %d loads no accounts", i)
		}
	}
	// At most 38 keys fit in MaxTxBytes, so a quadratic scan is cheapest.
	for i := range m.AccountKeys {
		for j := range i {
			if m.AccountKeys[i] == m.AccountKeys[j] {
				return reject(ReasonMalformed, "account %s appears twice", m.AccountKeys[i])
			}
		}
	}
	for i, ix := range m.Instructions {
		// Programs must be static keys, and the fee payer cannot be one.
		if ix.ProgramIDIndex == 0 || int(ix.ProgramIDIndex) >= nStatic {
			return reject(ReasonMalformed, "instruction %d: program index %d out of range", i, ix.ProgramIDIndex)
		}
		for _, a := range ix.Accounts {
			if int(a) >= nAll {
				return reject(ReasonMalformed, "instruction %d: account index %d out of range (%d accounts)", i, a, nAll)
			}
		}
	}
	return nil
}

// view answers questions about a sanitized message.
type view struct{ m *solana.Message }

// static returns the key at account index i, and false for an account loaded
// from an address lookup table, whose key cannot be known offline.
func (v view) static(i uint16) (solana.PublicKey, bool) {
	if int(i) < len(v.m.AccountKeys) {
		return v.m.AccountKeys[i], true
	}
	return solana.PublicKey{}, false
}

// name names account index i for people.
func (v view) name(i uint16) string {
	if k, ok := v.static(i); ok {
		return k.String()
	}
	return "an account from an address lookup table"
}

func (v view) signer(i uint16) bool { return i < uint16(v.m.Header.NumRequiredSignatures) }

func (v view) writable(i uint16) bool {
	h := v.m.Header
	n, req := len(v.m.AccountKeys), int(h.NumRequiredSignatures)
	switch idx := int(i); {
	case idx < req:
		return idx < req-int(h.NumReadonlySignedAccounts)
	case idx < n:
		return idx-req < n-req-int(h.NumReadonlyUnsignedAccounts)
	default:
		return idx-n < v.m.NumWritableLookups()
	}
}

// paid sums the System transfers into the treasury. A transfer counts only if
// it could move lamports: its source signed and is writable, its destination
// is the treasury as a writable static key, and the two differ.
func (v view) paid(treasury Address) (uint64, error) {
	to := solana.PublicKey(treasury)
	var sum uint64
	found := false
	skipped := ""
	skip := func(format string, args ...any) {
		if skipped == "" {
			skipped = "; " + fmt.Sprintf(format, args...)
		}
	}
	for i, ix := range v.m.Instructions {
		if v.m.AccountKeys[ix.ProgramIDIndex] != solana.SystemProgramID {
			continue
		}
		lamports, ok := transferLamports(ix.Data)
		if !ok || len(ix.Accounts) < 2 {
			continue
		}
		src, dst := ix.Accounts[0], ix.Accounts[1]
		dstKey, known := v.static(dst)
		if !known {
			skip("instruction %d transfers to an account from an address lookup table, which cannot be checked offline: put the treasury in the account keys", i)
			continue
		}
		if dstKey != to {
			continue
		}
		switch {
		case src == dst:
			skip("instruction %d transfers from the treasury to itself", i)
		case !v.signer(src):
			skip("instruction %d transfers from %s, which did not sign the transaction", i, v.name(src))
		case !v.writable(src) || !v.writable(dst):
			skip("instruction %d marks its source or the treasury read-only, so it cannot move lamports", i)
		default:
			var carry uint64
			sum, carry = bits.Add64(sum, lamports, 0)
			if carry != 0 {
				return 0, reject(ReasonMalformed, "transfers to the treasury overflow 64 bits")
			}
			found = true
		}
	}
	if !found {
		return 0, reject(ReasonNoTransfer, "no System Program transfer from a signer to treasury %s%s", treasury, skipped)
	}
	return sum, nil
}

// transferLamports decodes a System Program instruction and returns the
// amount of a Transfer. Like the runtime, it ignores trailing data.
func transferLamports(data []byte) (lamports uint64, ok bool) {
	defer func() {
		if recover() != nil {
			lamports, ok = 0, false
		}
	}()
	inst, err := system.DecodeInstruction(nil, data)
	if err != nil {
		return 0, false
	}
	tr, isTransfer := inst.Impl.(*system.Transfer)
	if !isTransfer || tr.Lamports == nil {
		return 0, false
	}
	return *tr.Lamports, true
}

// memo requires a Memo program instruction carrying want exactly.
func (v view) memo(want string) error {
	var first []byte
	n, prefixBytes := 0, 0
	for _, ix := range v.m.Instructions {
		p := v.m.AccountKeys[ix.ProgramIDIndex]
		if p != memoProgramV2 && p != memoProgramV1 {
			continue
		}
		if string(ix.Data) == want {
			return nil
		}
		if n == 0 {
			first = ix.Data
		}
		n++
		if prefixBytes == 0 {
			prefixBytes = lengthPrefix(ix.Data, want)
		}
	}
	if n == 0 {
		return reject(ReasonMemoMissing, "no Memo program instruction; add one whose data is the memo %s as raw bytes", quote([]byte(want)))
	}
	if prefixBytes > 0 {
		return reject(ReasonMemoMismatch, "memo is the expected memo %s with a %d-byte length prefix, as solana-go's memo helper encodes it; send the raw memo bytes instead (solana.NewInstruction with the Memo program id)",
			quote([]byte(want)), prefixBytes)
	}
	others := ""
	if n > 1 {
		others = fmt.Sprintf(" (and %d other memos)", n-1)
	}
	return reject(ReasonMemoMismatch, "memo is %s%s; want %s", quote(first), others, quote([]byte(want)))
}

// lengthPrefix returns the size of the prefix if data is want as solana-go's
// memo helper encodes it, with a uvarint length prefix (one byte for memos
// under 128 bytes), and 0 otherwise. Wallets send the raw bytes, so this is
// the likeliest mistake of a Go client.
func lengthPrefix(data []byte, want string) int {
	n, size := binary.Uvarint(data)
	if size > 0 && n == uint64(len(want)) && string(data[size:]) == want {
		return size
	}
	return 0
}

func quote(b []byte) string {
	if len(b) > memoDetailBytesMax {
		return fmt.Sprintf("%q... (%d bytes)", b[:memoDetailBytesMax], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// verifySignatures checks every required signature over the message bytes.
func verifySignatures(t *solana.Transaction, msg []byte) error {
	want := int(t.Message.Header.NumRequiredSignatures)
	if len(t.Signatures) != want {
		return reject(ReasonSignature, "transaction has %d signatures; its message requires %d", len(t.Signatures), want)
	}
	for i, sig := range t.Signatures {
		key := t.Message.AccountKeys[i]
		if sig == (solana.Signature{}) {
			return reject(ReasonSignature, "signature %d, by %s, is missing: have that account sign the transaction", i, key)
		}
		if !ed25519.Verify(key[:], msg, sig[:]) {
			return reject(ReasonSignature, "signature %d, by %s, does not verify: the transaction was altered after signing or signed by another key", i, key)
		}
	}
	return nil
}
