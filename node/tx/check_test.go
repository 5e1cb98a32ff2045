package tx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// order2 encodes (0, -1), the point of order 2.
var order2 = append(append([]byte{0xec}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f)

// identity encodes (0, 1), the neutral point: a public key of small order.
var identity = append([]byte{1}, make([]byte, 31)...)

// signTorsioned signs t with key like RFC 8032, except that R = [r]B + T
// with T of order 2: valid under the cofactored equation, invalid under
// the cofactorless one (crypto/ed25519's).
func signTorsioned(t *testing.T, tx *Tx, key ed25519.PrivateKey) {
	t.Helper()
	copy(tx.Author[:], key.Public().(ed25519.PublicKey))
	id := tx.ID()
	h := sha512.Sum512(key.Seed())
	a, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		t.Fatal(err)
	}
	nonce := sha512.Sum512(append([]byte("torsioned r"), id[:]...))
	r, _ := edwards25519.NewScalar().SetUniformBytes(nonce[:])
	T, err := new(edwards25519.Point).SetBytes(order2)
	if err != nil {
		t.Fatal(err)
	}
	R := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(r), T).Bytes()
	kh := sha512.New()
	kh.Write(R)
	kh.Write(tx.Author[:])
	kh.Write(id[:])
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	S := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	copy(tx.Sig[:32], R)
	copy(tx.Sig[32:], S.Bytes())
}

// signatureCases returns encodings with what the rule says of them: nil
// for a valid signature.
func signatureCases(t *testing.T) (encs [][]byte, valid []bool) {
	add := func(b []byte, ok bool) { encs, valid = append(encs, b), append(valid, ok) }
	for i, s := range samples() {
		s.Sign(testKey(byte(1 + i%3)))
		add(s.Encode(), true)
		bad := s.Encode()
		bad[len(bad)-40] ^= 0x10 // a bit of S
		add(bad, false)
		body := s.Encode()
		body[len(Magic)+2] ^= 0x01 // the nonce: the id changes
		add(body, false)
	}
	s := samples()[9]
	// S + L: the same scalar, not canonically encoded.
	s.Sign(testKey(4))
	sc, _ := edwards25519.NewScalar().SetCanonicalBytes(s.Sig[32:])
	var wide [32]byte
	copy(wide[:], sc.Bytes())
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}
	carry := 0
	for i := range wide {
		v := int(wide[i]) + int(l[i]) + carry
		wide[i], carry = byte(v), v>>8
	}
	if carry == 0 && wide[31] < 0x20 {
		copy(s.Sig[32:], wide[:])
		add(s.Encode(), false)
	}
	// A key of small order: its "signature" with R = B·0 + identity, S = 0
	// holds under both equations, and the rule refuses the key.
	s = samples()[3]
	copy(s.Author[:], identity)
	copy(s.Sig[:32], identity)
	clear(s.Sig[32:])
	add(s.Encode(), false)
	// R with a part of order 2.
	s = samples()[5]
	signTorsioned(t, s, testKey(5))
	add(s.Encode(), true)
	// An author that is not the encoding of a point.
	s = samples()[6]
	s.Sign(testKey(6))
	for y := byte(2); ; y++ {
		s.Author = Key{0: y}
		if _, err := new(edwards25519.Point).SetBytes(s.Author[:]); err != nil {
			break
		}
	}
	add(s.Encode(), false)
	// Not a transaction.
	add([]byte("DGR"), false)
	add(append([]byte(Magic), 0xff), false)
	return encs, valid
}

// TestSignatureRule: what the rule accepts, alone and in a batch.
func TestSignatureRule(t *testing.T) {
	encs, valid := signatureCases(t)
	batch := CheckAll(encs)
	for i, b := range encs {
		one := Check(b)
		if (one.Err == nil) != valid[i] {
			t.Errorf("case %d: Check says %v, want valid=%v", i, one.Err, valid[i])
		}
		if (batch[i].Err == nil) != valid[i] || batch[i].ID != one.ID || (batch[i].Tx == nil) != (one.Tx == nil) {
			t.Errorf("case %d: CheckAll says %+v, Check %+v", i, batch[i], one)
		}
	}
	// The torsioned signature is the case where the equations differ.
	s := samples()[5]
	signTorsioned(t, s, testKey(5))
	id := s.ID()
	if ed25519.Verify(s.Author[:], id[:], s.Sig[:]) {
		t.Fatal("crypto/ed25519 accepts the torsioned signature: the case tests nothing")
	}
}

// TestCheckAllAgreesWithCheck: for batches of every size drawn from valid
// and invalid transactions, in any order, CheckAll answers as Check does
// one by one.
func TestCheckAllAgreesWithCheck(t *testing.T) {
	encs, _ := signatureCases(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := 1 + rng.IntN(2*len(encs))
		if round%50 == 0 {
			n = 200 // above the size where the batch switches algorithm
		}
		var batch [][]byte
		for range n {
			if rng.IntN(4) == 0 {
				batch = append(batch, encs[rng.IntN(len(encs))])
				continue
			}
			s := samples()[rng.IntN(10)]
			s.Nonce = rng.Uint64()
			s.Sign(testKey(byte(rng.IntN(8))))
			batch = append(batch, s.Encode())
		}
		got := CheckAll(batch)
		for i, b := range batch {
			want := Check(b)
			if (got[i].Err == nil) != (want.Err == nil) || got[i].ID != want.ID {
				t.Fatalf("round %d, %d of %d: CheckAll %+v, Check %+v", round, i, n, got[i], want)
			}
		}
	}
}

// TestKeyCacheIsBounded: the oldest keys make room for new ones, and a
// key kept answers as one decoded afresh.
func TestKeyCacheIsBounded(t *testing.T) {
	c := &keyCache{byKey: map[Key]*voi.ExpandedPublicKey{}}
	var first Key
	for i := range MaxCachedKeys + 10 {
		var seed [32]byte
		seed[0], seed[1] = byte(i), byte(i>>8)
		var k Key
		copy(k[:], ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
		if i == 0 {
			first = k
		}
		x := c.get(k)
		if x == nil {
			t.Fatal("a public key was not expanded")
		}
		if again := c.get(k); again != x {
			t.Fatal("a key was not kept")
		}
	}
	if len(c.byKey) != MaxCachedKeys || len(c.ring) != MaxCachedKeys {
		t.Fatalf("%d keys kept, ring of %d, want %d", len(c.byKey), len(c.ring), MaxCachedKeys)
	}
	if _, ok := c.byKey[first]; ok {
		t.Fatal("the oldest key was not the one forgotten")
	}
}

// BenchmarkCheck: a signed vm-get checked alone and in batches of n, per
// transaction (ns/op). keys is how many authors signed them; with more
// than MaxCachedKeys every author's key is decoded afresh.
func BenchmarkCheck(b *testing.B) {
	for _, keys := range []int{1, 2 * MaxCachedKeys} {
		for _, n := range []int{1, 16, 256, 1024} {
			b.Run(fmt.Sprintf("keys=%d/batch=%d", keys, n), func(b *testing.B) {
				encs := make([][]byte, 8192)
				for i := range encs {
					var seed [32]byte
					binary.BigEndian.PutUint64(seed[:], uint64(i%keys))
					s := &Tx{Kind: KindVMGet, Nonce: uint64(i), Expiry: 1}
					s.Sign(ed25519.NewKeyFromSeed(seed[:]))
					encs[i] = s.Encode()
				}
				b.ResetTimer()
				for i := 0; i < b.N; i += n {
					at := i % len(encs)
					batch := encs[at:min(at+n, len(encs))]
					if n == 1 {
						if Check(batch[0]).Err != nil {
							b.Fatal("a valid signature was refused")
						}
						continue
					}
					for _, c := range CheckAll(batch) {
						if c.Err != nil {
							b.Fatal("a valid signature was refused")
						}
					}
				}
			})
		}
	}
}
