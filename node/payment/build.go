package payment

import (
	"crypto/ed25519"
	"fmt"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/system"
)

// Build makes a signed legacy transaction in which payer pays lamports to
// treasury, with a Memo program instruction carrying memo as raw bytes and
// the given recent blockhash. It returns the wire bytes and the signature,
// which is the transaction's id.
//
// The memo instruction is built by hand because solana-go's memo helper
// prefixes the memo with its length, which is not what wallets send.
func Build(payer ed25519.PrivateKey, treasury Address, lamports uint64, memo string, blockhash [32]byte) ([]byte, Signature, error) {
	if len(payer) != ed25519.PrivateKeySize {
		return nil, Signature{}, fmt.Errorf("build payment: payer key is %d bytes, want %d", len(payer), ed25519.PrivateKeySize)
	}
	from := solana.PublicKey(payer[32:])
	to := solana.PublicKey(treasury)
	if from == to {
		return nil, Signature{}, fmt.Errorf("build payment: payer %s is the treasury", Address(from))
	}
	tx, err := solana.NewTransaction([]solana.Instruction{
		system.NewTransferInstruction(lamports, from, to).Build(),
		solana.NewInstruction(memoProgramV2, solana.AccountMetaSlice{solana.Meta(from).SIGNER()}, []byte(memo)),
	}, solana.Hash(blockhash), solana.TransactionPayer(from))
	if err != nil {
		return nil, Signature{}, fmt.Errorf("build payment: %w", err)
	}
	msg, err := tx.Message.MarshalBinary()
	if err != nil {
		return nil, Signature{}, fmt.Errorf("build payment: encode message: %w", err)
	}
	sig := solana.Signature(ed25519.Sign(payer, msg))
	tx.Signatures = []solana.Signature{sig}
	wire, err := tx.MarshalBinary()
	if err != nil {
		return nil, Signature{}, fmt.Errorf("build payment: encode transaction: %w", err)
	}
	if len(wire) > MaxTxBytes {
		return nil, Signature{}, fmt.Errorf("build payment: transaction is %d bytes, Solana accepts at most %d: shorten the memo (%d bytes)", len(wire), MaxTxBytes, len(memo))
	}
	return wire, Signature(sig), nil
}
