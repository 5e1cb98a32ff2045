package tx

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKey(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

// samples returns one valid transaction of every kind.
func samples() []*Tx {
	exp := int64(1_800_000_000) * 1e9
	vm := ID{1, 2, 3}
	op := Key{9}
	spec := Spec{VCPU: 2, MemoryMiB: 2048, DiskGiB: 20, Image: "debian-12", Region: "eu-west", SSHKey: testSSHKey + " me@host"}
	return []*Tx{
		{Kind: KindOperatorJoin, Nonce: 1, Expiry: exp, PeerID: "12D3KooW", Region: "eu-west",
			Capacity: Capacity{VCPU: 32, MemoryMiB: 65536, DiskGiB: 1000}, Payout: [32]byte{7}},
		{Kind: KindOperatorApprove, Nonce: 2, Expiry: exp, Operator: op},
		{Kind: KindOperatorRemove, Nonce: 3, Expiry: exp, Operator: op},
		{Kind: KindOperatorLeave, Nonce: 4, Expiry: exp},
		{Kind: KindVMCreate, Nonce: 5, Expiry: exp, Spec: spec, Lease: time.Hour, Payment: []byte("solana tx")},
		{Kind: KindVMDelete, Nonce: 6, Expiry: exp, VM: vm},
		{Kind: KindVMRenew, Nonce: 7, Expiry: exp, VM: vm, Lease: 2 * time.Hour, Payment: []byte("solana tx 2")},
		{Kind: KindVMStatus, Nonce: 8, Expiry: exp, VM: vm, State: VMFailed, Reason: "boot failed"},
		{Kind: KindEvidence, Nonce: 9, Expiry: exp, Evidence: []byte("proof")},
		{Kind: KindVMGet, Nonce: 10, Expiry: exp, VM: vm},
	}
}

func TestRoundTripEveryKind(t *testing.T) {
	for _, tx := range samples() {
		t.Run(tx.Kind.String(), func(t *testing.T) {
			tx.Sign(testKey(1))
			enc := tx.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := got.VerifySignature(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Encode(), enc) || got.ID() != tx.ID() {
				t.Fatal("re-encoding differs")
			}
			if k, ok := ParseKind(tx.Kind.String()); !ok || k != tx.Kind {
				t.Fatalf("ParseKind(%s) = %v", tx.Kind, k)
			}
		})
	}
}

func TestSignatureCoversEveryByte(t *testing.T) {
	for _, tx := range samples() {
		tx.Sign(testKey(1))
		enc := tx.Encode()
		for i := len(Magic); i < len(enc)-64; i++ {
			bad := bytes.Clone(enc)
			bad[i] ^= 0x01
			got, err := Decode(bad)
			if err != nil {
				continue // the flip broke the encoding
			}
			if got.VerifySignature() == nil {
				t.Fatalf("%s: flipping byte %d keeps the signature valid", tx.Kind, i)
			}
		}
	}
}

func TestMemoBindsRequestNotPayment(t *testing.T) {
	a := samples()[4]
	b := *a
	b.Payment = []byte("another payment")
	if a.Memo() != b.Memo() {
		t.Fatal("memo depends on the payment it is carried by")
	}
	c := *a
	c.Lease = 3 * time.Hour
	if a.Memo() == c.Memo() {
		t.Fatal("memo does not bind the lease")
	}
	if a.ID() == b.ID() {
		t.Fatal("id ignores the payment")
	}
	if !strings.HasPrefix(a.Memo(), "dagger:") || len(a.Memo()) != len("dagger:")+64 {
		t.Fatalf("memo %q", a.Memo())
	}
}

func TestDecodeRejects(t *testing.T) {
	good := samples()[4]
	good.Sign(testKey(1))
	enc := good.Encode()
	mut := func(f func(*Tx)) []byte {
		c := *good
		f(&c)
		c.Sign(testKey(1))
		return c.Encode()
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "prefix"},
		{"raw data", []byte("hello world"), "prefix"},
		{"truncated", enc[:len(enc)-1], "signature"},
		{"trailing", append(bytes.Clone(enc), 0), "trailing"},
		{"unknown kind", append([]byte(Magic), 99), "unknown kind"},
		{"too big", append([]byte(Magic), make([]byte, MaxBytes)...), "at most"},
		{"zero vcpu", mut(func(t *Tx) { t.Spec.VCPU = 0 }), "vcpu"},
		{"bad region", mut(func(t *Tx) { t.Spec.Region = "EU West" }), "region"},
		{"short lease", mut(func(t *Tx) { t.Lease = time.Second }), "lease"},
		{"no payment", mut(func(t *Tx) { t.Payment = nil }), "payment"},
		{"no image", mut(func(t *Tx) { t.Spec.Image = "" }), "image"},
		{"no expiry", mut(func(t *Tx) { t.Expiry = 0 }), "expiry"},
		{"not an ssh key", mut(func(t *Tx) { t.Spec.SSHKey = "ssh-ed25519 AAAA" }), "ssh key: not an OpenSSH public key line"},
		{"two ssh keys", mut(func(t *Tx) { t.Spec.SSHKey = testSSHKey + "\n" + testSSHKey }), "ssh key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Decode = %v, want ErrMalformed mentioning %q", err, c.want)
			}
		})
	}
}

func TestValidateBoundsStrings(t *testing.T) {
	tx := samples()[0]
	tx.PeerID = strings.Repeat("p", MaxPeerIDBytes+1)
	if err := tx.Validate(); err == nil {
		t.Fatal("an oversized peer id validates")
	}
}

func FuzzDecode(f *testing.F) {
	for _, tx := range samples() {
		tx.Sign(testKey(2))
		f.Add(tx.Encode())
	}
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(tx.Encode(), b) {
			t.Fatal("decoded transaction re-encodes differently: the encoding is not canonical")
		}
		if err := tx.Validate(); err != nil {
			t.Fatalf("decoded transaction does not validate: %v", err)
		}
	})
}

// TestDefaultValidityFitsTheWindow: what clients give their transactions
// leaves room, within what the cluster takes, for a client's clock
// running ahead of consensus time.
func TestDefaultValidityFitsTheWindow(t *testing.T) {
	if slack := MaxValidity - DefaultValidity; slack < 15*time.Second {
		t.Fatalf("DefaultValidity %v leaves %v below MaxValidity %v for clock skew", DefaultValidity, slack, MaxValidity)
	}
}
