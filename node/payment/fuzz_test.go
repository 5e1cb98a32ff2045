package payment

import (
	"testing"

	"github.com/gagliardetto/solana-go"
)

// FuzzVerify feeds Verify arbitrary bytes against a fixed requirement: it
// must never panic, must reject with a known Reason, and must accept only
// what an independent reading with solana-go shows to pay the requirement.
func FuzzVerify(f *testing.F) {
	p, tr := pub(payerKey), solana.PublicKey(treasury)
	seeds := [][]byte{
		build(f, price, reqMemo),
		build(f, price*2, reqMemo),
		build(f, price-1, reqMemo),
		build(f, price, ""),
		build(f, price, "dagger:vm-request:43"),
		sign(f, txOpts{}, transfer(price-1, p, tr), transfer(1, p, tr), rawMemo(memoProgramV1, p, reqMemo)),
		sign(f, txOpts{v0: true}, transfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo)),
		sign(f, txOpts{tables: map[solana.PublicKey]solana.PublicKeySlice{pub(key(7)): {tr}}},
			transfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo)),
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(flip(s, 1))
		f.Add(flip(s, len(s)-1))
		f.Add(append(append([]byte(nil), s...), 0))
	}
	known := map[Reason]bool{ReasonMalformed: true, ReasonSignature: true, ReasonNoTransfer: true,
		ReasonUnderpaid: true, ReasonMemoMissing: true, ReasonMemoMismatch: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Verify(b, want)
		if err != nil {
			if _, ok := err.(*Error); !ok || !known[ReasonOf(err)] {
				t.Fatalf("error %v (%T) is not an *Error with a known reason", err, err)
			}
			return
		}
		if got.Lamports < want.Lamports {
			t.Fatalf("accepted %d lamports, need %d", got.Lamports, want.Lamports)
		}
		if len(b) > MaxTxBytes {
			t.Fatalf("accepted %d bytes", len(b))
		}
		tx, err := solana.TransactionFromBytes(b)
		if err != nil {
			t.Fatalf("accepted what solana-go cannot decode: %v", err)
		}
		if err := tx.VerifySignatures(); err != nil {
			t.Fatalf("accepted with bad signatures: %v", err)
		}
		if got.Signature != Signature(tx.Signatures[0]) || got.Payer != Address(tx.Message.AccountKeys[0]) {
			t.Fatalf("payment %+v does not match the transaction", got)
		}
		var memo bool
		for _, ix := range tx.Message.Instructions {
			prog := tx.Message.AccountKeys[ix.ProgramIDIndex]
			memo = memo || (prog == memoProgramV2 || prog == memoProgramV1) && string(ix.Data) == want.Memo
		}
		if !memo {
			t.Fatal("accepted without the memo")
		}
	})
}
