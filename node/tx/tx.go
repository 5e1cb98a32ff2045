// Package tx defines the cluster's transactions: what operators and
// customers ask the cluster to do, signed by their author's ed25519 key (a
// Solana wallet key works as it is). Their encoding is canonical and
// bounded: one transaction has exactly one encoding, and Decode accepts
// nothing else. Bytes that do not start with Magic are not cluster
// transactions; the cluster orders them like any other and ignores them.
package tx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"dagger/graph/codec"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Magic opens every cluster transaction (with the format version).
const Magic = "DGR\x01"

// Kind is what a transaction asks for.
type Kind uint8

// The kinds of transaction.
const (
	KindOperatorJoin    Kind = 1  // a host asks to join the committee
	KindOperatorApprove Kind = 2  // an operator votes to admit a joining one
	KindOperatorRemove  Kind = 3  // an operator votes to remove another
	KindOperatorLeave   Kind = 4  // an operator leaves at the next epoch boundary
	KindVMCreate        Kind = 5  // a customer pays for a VM
	KindVMDelete        Kind = 6  // the owner deletes a VM
	KindVMRenew         Kind = 7  // anyone extends a VM's lease with a payment
	KindVMStatus        Kind = 8  // the hosting operator reports a VM's state
	KindEvidence        Kind = 9  // proof that an operator equivocated
	KindVMGet           Kind = 10 // a read ordered with the writes (linearizable)
	maxKind                  = KindVMGet
)

var kindNames = [...]string{"", "operator-join", "operator-approve", "operator-remove", "operator-leave",
	"vm-create", "vm-delete", "vm-renew", "vm-status", "evidence", "vm-get"}

func (k Kind) String() string {
	if k == 0 || k > maxKind {
		return fmt.Sprintf("kind(%d)", k)
	}
	return kindNames[k]
}

// ParseKind returns the kind with the given name.
func ParseKind(s string) (Kind, bool) {
	for k := Kind(1); k <= maxKind; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// Key is an author's ed25519 public key.
type Key [32]byte

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Short is the key's first 8 hex digits, for logs and tables.
func (k Key) Short() string { return hex.EncodeToString(k[:4]) }

// ParseKey parses a key in hex.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("key %q: want 64 hex digits", s)
	}
	copy(k[:], b)
	return k, nil
}

// ID names a transaction: the hash of its unsigned encoding. A VM's id is
// the id of the vm-create that made it.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the id's first 8 hex digits.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// ParseID parses an id in hex.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("id %q: want 64 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// Limits of a transaction. They are part of the protocol: every honest
// node applies the same.
const (
	MaxBytes         = 64 << 10
	MaxPeerIDBytes   = 128
	MaxRegionBytes   = 64
	MaxImageBytes    = 256
	MaxSSHKeyBytes   = 2048
	MaxReasonBytes   = 256
	MaxHostBytes     = 253  // a DNS name's limit; an IP address is shorter
	MaxPaymentBytes  = 1232 // a Solana transaction's packet limit
	MaxEvidenceBytes = 60 << 10
	MaxVCPU          = 1024
	MaxMemoryMiB     = 16 << 20 // 16 TiB
	MaxDiskGiB       = 1 << 20  // 1 PiB
	MinLease         = time.Minute
	MaxLease         = 366 * 24 * time.Hour
	// MaxValidity bounds how far past the consensus time a transaction's
	// expiry may lie when it commits. The cluster remembers every committed
	// id until its expiry passes (replay protection, see cluster.State),
	// so this window, times the rate, is what it holds: at 15,000 tx/s,
	// at most 1.8 million ids, where an hour would be 54 million. Like
	// Solana's recent blockhash (about a minute), a short window keeps
	// that set small; it has to leave room for what a transaction waits
	// for before it can commit, which DefaultValidity covers, plus a
	// client's clock running ahead of consensus time (a quorum median of
	// the operators' clocks): MaxValidity - DefaultValidity, 30 s.
	MaxValidity = 2 * time.Minute
	// DefaultValidity is how far ahead of its own clock a client (the CLI,
	// the load generators, a node for its own transactions) sets a
	// transaction's expiry. It covers the longest wait before a
	// transaction can commit: a vm-create or vm-renew waits for its Solana
	// payment to be finalized (about 13 s after it lands, 32 slots; a
	// node gives up after node.DefaultConfirmTimeout, 1 min), then for
	// ordering (a few seconds; a node queues it again every 5 s while it
	// has not committed), with about 25 s for a client's clock running
	// behind consensus time.
	DefaultValidity = 90 * time.Second
)

// Capacity is what a host offers.
type Capacity struct {
	VCPU      uint32
	MemoryMiB uint64
	DiskGiB   uint64
}

// Spec is what a customer asks for.
type Spec struct {
	VCPU      uint32
	MemoryMiB uint64
	DiskGiB   uint64
	Image     string
	Region    string
	SSHKey    string
}

// Access is how a VM's owner reaches it: an address of its host (an IP
// address or a DNS name) and the port there that the host forwards to the
// guest's SSH port. The zero Access is none.
type Access struct {
	Host string
	Port uint16
}

// IsZero says a is no access.
func (a Access) IsZero() bool { return a == Access{} }

func (a Access) String() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// Check says whether a is no access or a usable one: a port, and a host
// that is an IP address in its canonical text or a DNS name.
func (a Access) Check() error {
	switch {
	case a.IsZero():
		return nil
	case a.Port == 0 || a.Host == "":
		return malformed("access %q port %d: want both a host and a port, or neither", a.Host, a.Port)
	}
	if ip, err := netip.ParseAddr(a.Host); err == nil {
		if ip.Zone() != "" || ip.String() != a.Host {
			return malformed("access host %q: write an IP address in its canonical form, without a zone", a.Host)
		}
		return nil
	}
	if len(a.Host) > MaxHostBytes {
		return malformed("access host: %d bytes, at most %d", len(a.Host), MaxHostBytes)
	}
	for _, label := range strings.Split(a.Host, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return malformed("access host %q: not an IP address or a DNS name", a.Host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return malformed("access host %q: not an IP address or a DNS name", a.Host)
			}
		}
	}
	return nil
}

// VMState is what the hosting operator reports about a VM.
type VMState uint8

// The states a host reports.
const (
	VMProvisioning VMState = 1
	VMRunning      VMState = 2
	VMFailed       VMState = 3
	VMStopped      VMState = 4
	maxVMState             = VMStopped
)

var vmStateNames = [...]string{"", "provisioning", "running", "failed", "stopped"}

func (s VMState) String() string {
	if s == 0 || s > maxVMState {
		return fmt.Sprintf("state(%d)", s)
	}
	return vmStateNames[s]
}

// Tx is one transaction. Which fields matter depends on Kind:
//
//	operator-join     PeerID, Region, Capacity, Payout
//	operator-approve  Operator
//	operator-remove   Operator
//	operator-leave    (none)
//	vm-create         Spec, Lease, Payment
//	vm-delete         VM
//	vm-renew          VM, Lease, Payment
//	vm-status         VM, State, Reason, Access
//	evidence          Evidence (an encoded graph.Evidence)
//	vm-get            VM
//
// Author is the signer: the operator's identity key, or the customer's
// wallet key. Nonce makes otherwise equal requests distinct. Expiry (Unix
// nanoseconds) is the consensus time after which the transaction can no
// longer commit.
type Tx struct {
	Kind   Kind
	Author Key
	Nonce  uint64
	Expiry int64

	PeerID   string
	Region   string
	Capacity Capacity
	Payout   [32]byte
	Operator Key
	VM       ID
	Spec     Spec
	Lease    time.Duration // whole seconds
	Payment  []byte        // a signed Solana transaction paying the treasury
	State    VMState
	Reason   string
	Access   Access // vm-status of a running VM: how its owner reaches it
	Evidence []byte

	Sig [64]byte
}

// ErrMalformed wraps every reason bytes are not a valid transaction.
var ErrMalformed = errors.New("malformed transaction")

// ErrSignature says a transaction's signature does not verify.
var ErrSignature = errors.New("transaction signature does not verify")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// IsCluster says whether b claims to be a cluster transaction.
func IsCluster(b []byte) bool { return len(b) >= len(Magic) && string(b[:len(Magic)]) == Magic }

const sigDomain = "dagger/tx/v1\x00"
const memoDomain = "dagger/payment/v1\x00"

// body appends the unsigned encoding; withPayment false leaves the payment
// out, which is what the payment's memo binds to.
func (t *Tx) body(b []byte, withPayment bool) []byte {
	w := codec.Writer{B: append(b, Magic...)}
	w.U8(byte(t.Kind))
	w.Raw(t.Author[:])
	w.U64(t.Nonce)
	w.I64(t.Expiry)
	switch t.Kind {
	case KindOperatorJoin:
		w.Str16(t.PeerID)
		w.Str16(t.Region)
		w.U32(t.Capacity.VCPU)
		w.U64(t.Capacity.MemoryMiB)
		w.U64(t.Capacity.DiskGiB)
		w.Raw(t.Payout[:])
	case KindOperatorApprove, KindOperatorRemove:
		w.Raw(t.Operator[:])
	case KindVMCreate:
		w.U32(t.Spec.VCPU)
		w.U64(t.Spec.MemoryMiB)
		w.U64(t.Spec.DiskGiB)
		w.Str16(t.Spec.Image)
		w.Str16(t.Spec.Region)
		w.Str16(t.Spec.SSHKey)
		w.U64(uint64(t.Lease / time.Second))
		writePayment(&w, t.Payment, withPayment)
	case KindVMRenew:
		w.Raw(t.VM[:])
		w.U64(uint64(t.Lease / time.Second))
		writePayment(&w, t.Payment, withPayment)
	case KindVMDelete, KindVMGet:
		w.Raw(t.VM[:])
	case KindVMStatus:
		w.Raw(t.VM[:])
		w.U8(byte(t.State))
		w.Str16(t.Reason)
		w.Str16(t.Access.Host)
		w.U16(t.Access.Port)
	case KindEvidence:
		w.Bytes32(t.Evidence)
	}
	return w.B
}

// writePayment writes the payment, or an empty one: the memo binds to the
// transaction without its payment.
func writePayment(w *codec.Writer, p []byte, with bool) {
	if !with {
		p = nil
	}
	w.Bytes16(p)
}

// ID returns the transaction's id.
func (t *Tx) ID() ID {
	h := sha256.New()
	h.Write([]byte(sigDomain))
	h.Write(t.body(nil, true))
	var id ID
	h.Sum(id[:0])
	return id
}

// Memo is the text the payment of a vm-create or vm-renew must carry in
// its Solana memo: it binds the payment to this request (everything but
// the payment itself and the signature, the author included), so a payment
// cannot be moved to another request. Set Author before asking for it.
func (t *Tx) Memo() string {
	h := sha256.New()
	h.Write([]byte(memoDomain))
	h.Write(t.body(nil, false))
	return "dagger:" + hex.EncodeToString(h.Sum(nil))
}

// Encode returns the signed encoding.
func (t *Tx) Encode() []byte {
	b := t.body(make([]byte, 0, 256+len(t.Payment)+len(t.Evidence)), true)
	return append(b, t.Sig[:]...)
}

// Sign sets the author to key's public key and signs. A payment's memo
// must have been made for that author.
func (t *Tx) Sign(key ed25519.PrivateKey) {
	copy(t.Author[:], key.Public().(ed25519.PublicKey))
	id := t.ID()
	copy(t.Sig[:], ed25519.Sign(key, id[:]))
}

// VerifySignature checks the author's signature.
func (t *Tx) VerifySignature() error { return t.verify(t.ID()) }

// verify checks the signature over id, which must be t.ID().
func (t *Tx) verify(id ID) error {
	if k := authorKeys.get(t.Author); k != nil {
		if !voi.VerifyExpandedWithOptions(k, id[:], t.Sig[:], sigRule) {
			return ErrSignature
		}
		return nil
	}
	if !voi.VerifyWithOptions(t.Author[:], id[:], t.Sig[:], sigRule) {
		return ErrSignature
	}
	return nil
}

// MaxCachedKeys bounds the authors' keys kept in their expanded form
// (about 1.5 KiB each, 6 MiB in all): signatures by a key kept cost a
// quarter less to check, in a batch or alone, than by a key decoded
// afresh. The oldest make room for new ones.
const MaxCachedKeys = 4096

// authorKeys keeps the expanded keys of the authors checked last, for
// every goroutine of the process (the simulator's nodes share it): what
// it holds changes how fast a signature is checked, never the answer.
var authorKeys = &keyCache{byKey: map[Key]*voi.ExpandedPublicKey{}}

type keyCache struct {
	mu    sync.Mutex
	byKey map[Key]*voi.ExpandedPublicKey
	// ring holds the keys in the order they came, and wraps at next once
	// it holds MaxCachedKeys.
	ring []Key
	next int
}

// get returns k expanded, or nil if k is not the encoding of a point
// (the rule then refuses its signatures).
func (c *keyCache) get(k Key) *voi.ExpandedPublicKey {
	c.mu.Lock()
	x, ok := c.byKey[k]
	c.mu.Unlock()
	if ok {
		return x
	}
	x, err := voi.NewExpandedPublicKey(k[:])
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok {
		return x
	}
	c.byKey[k] = x
	if len(c.ring) < MaxCachedKeys {
		c.ring = append(c.ring, k)
		return x
	}
	delete(c.byKey, c.ring[c.next])
	c.ring[c.next] = k
	c.next = (c.next + 1) % MaxCachedKeys
	return x
}

// sigRule is the rule transaction signatures are verified by: RFC 8032's
// cofactored equation ([8][S]B = [8]R + [8][k]A), canonical encodings of
// A, R and S, and no author key of small order (a key anyone can sign
// for). Under it, checking a signature alone and checking it in a batch
// (CheckAll) give the same answer for every input, which crypto/ed25519's
// cofactorless equation cannot promise: a node's answer must not depend
// on how its checks were grouped. Every signature crypto/ed25519 makes
// passes it; of those it accepts, only small-order keys' fail, and
// signatures whose R has a small-order part pass here and fail there.
var sigRule = &voi.Options{Verify: voi.VerifyOptionsDefault}

// Checked is what Check found of a transaction's bytes.
type Checked struct {
	// Tx is the decoded transaction and ID its id; nil if the bytes do not
	// decode.
	Tx *Tx
	ID ID
	// Err is why the bytes are not a valid signed transaction: an error
	// wrapping ErrMalformed (Tx is nil) or ErrSignature.
	Err error
}

// Known says whether c holds Check's answer (the zero Checked does not).
func (c Checked) Known() bool { return c.Tx != nil || c.Err != nil }

// Check decodes b and checks its signature: what a node must know of a
// cluster transaction before it admits or applies it, with each step
// done once (the id is hashed once, for the signature and for the
// caller). It is a pure function of b, so its answer may be computed on
// any goroutine and kept for the same bytes.
func Check(b []byte) Checked {
	t, err := Decode(b)
	if err != nil {
		return Checked{Err: err}
	}
	c := Checked{Tx: t, ID: t.ID()}
	c.Err = t.verify(c.ID)
	return c
}

// CheckAll returns Check of each of bs, verifying their signatures
// together: a batch costs about half as much per signature as checking
// them one by one (curve25519-voi's batch verification). Group what one
// author vouches for (an event's transactions, a client's batch): a
// batch with a bad signature is checked again one by one, so it costs
// half again as much as checking it that way from the start.
//
// The batch's random coefficients come from ChaCha8 keyed by a hash of
// everything it checks (SHA-256 over the ids, which cover the authors,
// and the signatures), so they are fixed by the batch, unknown before it
// is complete, and the same on every run.
func CheckAll(bs [][]byte) []Checked {
	out := make([]Checked, len(bs))
	if len(bs) == 1 {
		out[0] = Check(bs[0])
		return out
	}
	v := voi.NewBatchVerifierWithCapacity(len(bs))
	seed := sha256.New()
	signed := make([]int, 0, len(bs))
	for i, b := range bs {
		t, err := Decode(b)
		if err != nil {
			out[i] = Checked{Err: err}
			continue
		}
		out[i] = Checked{Tx: t, ID: t.ID()}
		id := &out[i].ID
		if k := authorKeys.get(t.Author); k != nil {
			v.AddExpandedWithOptions(k, id[:], t.Sig[:], sigRule)
		} else {
			v.AddWithOptions(t.Author[:], id[:], t.Sig[:], sigRule)
		}
		seed.Write(id[:])
		seed.Write(t.Sig[:])
		signed = append(signed, i)
	}
	if len(signed) == 0 {
		return out
	}
	var key [32]byte
	seed.Sum(key[:0])
	_, valid := v.Verify(rand.NewChaCha8(key))
	for j, i := range signed {
		if !valid[j] {
			out[i].Err = ErrSignature
		}
	}
	return out
}

// decoder reads a transaction's fields (package codec) with its own:
// payments and leases.
type decoder struct{ codec.Reader }

func (d *decoder) payment() []byte { return bytes.Clone(d.Bytes16(MaxPaymentBytes, "payment")) }

func (d *decoder) lease() time.Duration {
	s := d.U64("lease")
	if d.Err() == nil && s > uint64(MaxLease/time.Second) {
		d.Fail("lease of %d s exceeds %v", s, MaxLease)
		return 0
	}
	return time.Duration(s) * time.Second
}

// Decode parses a signed transaction. It checks the encoding and the
// fields' limits (Validate), not the signature.
func Decode(b []byte) (*Tx, error) {
	if len(b) > MaxBytes {
		return nil, malformed("%d bytes, at most %d", len(b), MaxBytes)
	}
	if !IsCluster(b) {
		return nil, malformed("no %q prefix: not a cluster transaction", Magic)
	}
	d := &decoder{codec.NewReader(b[len(Magic):], func(msg string) error { return malformed("%s", msg) })}
	t := &Tx{Kind: Kind(d.U8("kind"))}
	if d.Err() == nil && (t.Kind == 0 || t.Kind > maxKind) {
		return nil, malformed("unknown kind %d", t.Kind)
	}
	d.Fixed(t.Author[:], "author")
	t.Nonce = d.U64("nonce")
	t.Expiry = int64(d.U64("expiry"))
	switch t.Kind {
	case KindOperatorJoin:
		t.PeerID = d.Str16(MaxPeerIDBytes, "peer id")
		t.Region = d.Str16(MaxRegionBytes, "region")
		t.Capacity.VCPU = d.U32("vcpu")
		t.Capacity.MemoryMiB = d.U64("memory")
		t.Capacity.DiskGiB = d.U64("disk")
		d.Fixed(t.Payout[:], "payout address")
	case KindOperatorApprove, KindOperatorRemove:
		d.Fixed(t.Operator[:], "operator")
	case KindVMCreate:
		t.Spec.VCPU = d.U32("vcpu")
		t.Spec.MemoryMiB = d.U64("memory")
		t.Spec.DiskGiB = d.U64("disk")
		t.Spec.Image = d.Str16(MaxImageBytes, "image")
		t.Spec.Region = d.Str16(MaxRegionBytes, "region")
		t.Spec.SSHKey = d.Str16(MaxSSHKeyBytes, "ssh key")
		t.Lease = d.lease()
		t.Payment = d.payment()
	case KindVMRenew:
		d.Fixed(t.VM[:], "vm")
		t.Lease = d.lease()
		t.Payment = d.payment()
	case KindVMDelete, KindVMGet:
		d.Fixed(t.VM[:], "vm")
	case KindVMStatus:
		d.Fixed(t.VM[:], "vm")
		t.State = VMState(d.U8("state"))
		t.Reason = d.Str16(MaxReasonBytes, "reason")
		t.Access.Host = d.Str16(MaxHostBytes, "access host")
		t.Access.Port = d.U16("access port")
	case KindEvidence:
		t.Evidence = bytes.Clone(d.Bytes32(MaxEvidenceBytes, "evidence"))
	}
	d.Fixed(t.Sig[:], "signature")
	if d.End(); d.Err() != nil {
		return nil, d.Err()
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// Validate checks the fields' limits: what Decode guarantees of what it
// returns, and what a client should check before signing.
func (t *Tx) Validate() error {
	if t.Expiry <= 0 {
		return malformed("expiry %d: want a Unix time in nanoseconds", t.Expiry)
	}
	for _, f := range []struct {
		what string
		n    int
		max  int
	}{{"peer id", len(t.PeerID), MaxPeerIDBytes}, {"region", len(t.Region), MaxRegionBytes},
		{"image", len(t.Spec.Image), MaxImageBytes}, {"region", len(t.Spec.Region), MaxRegionBytes},
		{"ssh key", len(t.Spec.SSHKey), MaxSSHKeyBytes}, {"reason", len(t.Reason), MaxReasonBytes},
		{"payment", len(t.Payment), MaxPaymentBytes}, {"evidence", len(t.Evidence), MaxEvidenceBytes},
		{"access host", len(t.Access.Host), MaxHostBytes}} {
		if f.n > f.max {
			return malformed("%s: %d bytes, at most %d", f.what, f.n, f.max)
		}
	}
	if t.Kind != KindVMStatus && !t.Access.IsZero() {
		return malformed("%s carries no access", t.Kind)
	}
	if err := t.Access.Check(); err != nil {
		return err
	}
	switch t.Kind {
	case KindOperatorJoin:
		if t.PeerID == "" {
			return malformed("operator-join needs a peer id")
		}
		if err := checkRegion(t.Region); err != nil {
			return err
		}
		c := t.Capacity
		if c.VCPU == 0 || c.MemoryMiB == 0 || c.DiskGiB == 0 {
			return malformed("operator-join capacity %d vCPU, %d MiB, %d GiB: every part must be positive", c.VCPU, c.MemoryMiB, c.DiskGiB)
		}
	case KindVMCreate:
		s := t.Spec
		switch {
		case s.VCPU == 0 || s.VCPU > MaxVCPU:
			return malformed("vcpu %d: want 1..%d", s.VCPU, MaxVCPU)
		case s.MemoryMiB == 0 || s.MemoryMiB > MaxMemoryMiB:
			return malformed("memory %d MiB: want 1..%d", s.MemoryMiB, MaxMemoryMiB)
		case s.DiskGiB == 0 || s.DiskGiB > MaxDiskGiB:
			return malformed("disk %d GiB: want 1..%d", s.DiskGiB, MaxDiskGiB)
		case s.Image == "":
			return malformed("vm-create needs an image")
		}
		if s.SSHKey != "" {
			if err := CheckSSHKey(s.SSHKey); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		}
		if err := checkRegion(s.Region); err != nil {
			return err
		}
		if err := checkLease(t.Lease); err != nil {
			return err
		}
		if len(t.Payment) == 0 {
			return malformed("vm-create needs a payment")
		}
	case KindVMRenew:
		if err := checkLease(t.Lease); err != nil {
			return err
		}
		if len(t.Payment) == 0 {
			return malformed("vm-renew needs a payment")
		}
	case KindVMStatus:
		if t.State == 0 || t.State > maxVMState {
			return malformed("unknown vm state %d", t.State)
		}
		if !t.Access.IsZero() && t.State != VMRunning {
			return malformed("access %s reported for a %s VM: only a running one is reachable", t.Access, t.State)
		}
	case KindEvidence:
		if len(t.Evidence) == 0 {
			return malformed("evidence is empty")
		}
	}
	return nil
}

func checkRegion(r string) error {
	if r == "" {
		return malformed("region is empty")
	}
	for _, c := range []byte(r) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return malformed("region %q: use lower-case letters, digits and '-'", r)
		}
	}
	return nil
}

func checkLease(d time.Duration) error {
	if d < MinLease || d > MaxLease || d%time.Second != 0 {
		return malformed("lease %v: want whole seconds in %v..%v", d, MinLease, MaxLease)
	}
	return nil
}
