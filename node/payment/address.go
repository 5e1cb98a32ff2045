package payment

import (
	"fmt"

	"github.com/gagliardetto/solana-go"
)

// Address is a Solana account address (an ed25519 public key); String is
// base58.
type Address [32]byte

// ParseAddress reads a base58 address.
func ParseAddress(s string) (Address, error) {
	k, err := solana.PublicKeyFromBase58(s)
	if err != nil {
		return Address{}, fmt.Errorf("parse address %q: %w", s, err)
	}
	return Address(k), nil
}

func (a Address) String() string { return solana.PublicKey(a).String() }

// Signature is a Solana transaction signature; String is base58. A
// transaction's first signature is its id.
type Signature [64]byte

// ParseSignature reads a base58 signature.
func ParseSignature(s string) (Signature, error) {
	sig, err := solana.SignatureFromBase58(s)
	if err != nil {
		return Signature{}, fmt.Errorf("parse signature %q: %w", s, err)
	}
	return Signature(sig), nil
}

func (s Signature) String() string { return solana.Signature(s).String() }
