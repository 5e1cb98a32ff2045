package payment_test

import (
	"crypto/ed25519"
	"fmt"

	"dagger/node/payment"
)

func Example() {
	payer := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	treasury, _ := payment.ParseAddress("DaGGerTreasury111111111111111111111111111111")
	req := payment.Requirement{Treasury: treasury, Lamports: 10_000_000, Memo: "dagger:vm-request:7"}

	// The customer's wallet signs a payment and sends it to Solana.
	tx, sig, _ := payment.Build(payer, treasury, 10_000_000, req.Memo, [32]byte{1})

	// Every node checks the request's transaction offline...
	p, err := payment.Verify(tx, req)
	fmt.Println(p.Lamports, p.Signature == sig, err)

	// ...and the admitting node waits until Solana has finalized it.
	var now int64
	chain := payment.NewMemChain(func() int64 { return now })
	chain.Record(p.Signature, 2_000_000_000)
	st, _ := chain.Status(p.Signature)
	fmt.Println(st)
	now = 2_000_000_000
	st, _ = chain.Status(p.Signature)
	fmt.Println(st)

	// A payment for another request does not pay for this one.
	other, _, _ := payment.Build(payer, treasury, 10_000_000, "dagger:vm-request:8", [32]byte{1})
	_, err = payment.Verify(other, req)
	fmt.Println(payment.ReasonOf(err))
	// Output:
	// 10000000 true <nil>
	// pending
	// finalized
	// memo-mismatch
}
