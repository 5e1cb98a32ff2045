package payment

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/memo"
	"github.com/gagliardetto/solana-go/programs/system"
)

// key derives a fixed test key, so failures reproduce byte for byte.
func key(n byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = n
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) solana.PublicKey { return solana.PublicKey(k[32:]) }

var (
	payerKey    = key(1)
	otherKey    = key(2)
	treasuryKey = key(3)
	treasury    = Address(pub(treasuryKey))
	blockhash   = [32]byte{9, 9, 9}
	price       = uint64(5_000_000)
	reqMemo     = "dagger:vm-request:42"
	want        = Requirement{Treasury: treasury, Lamports: price, Memo: reqMemo}
)

func transfer(lamports uint64, from, to solana.PublicKey) solana.Instruction {
	return system.NewTransferInstruction(lamports, from, to).Build()
}

func rawMemo(program solana.PublicKey, signer solana.PublicKey, m string) solana.Instruction {
	return solana.NewInstruction(program, solana.AccountMetaSlice{solana.Meta(signer).SIGNER()}, []byte(m))
}

// txOpts shapes a transaction built by sign.
type txOpts struct {
	payer   ed25519.PrivateKey   // fee payer; default payerKey
	signers []ed25519.PrivateKey // keys that sign; default the payer only
	v0      bool
	tables  map[solana.PublicKey]solana.PublicKeySlice
}

// sign builds a transaction from instructions with solana-go and signs it
// with the given keys; a required signer without a key gets solana-go's
// all-zero placeholder signature.
func sign(t testing.TB, o txOpts, ixs ...solana.Instruction) []byte {
	t.Helper()
	if o.payer == nil {
		o.payer = payerKey
	}
	if o.signers == nil {
		o.signers = []ed25519.PrivateKey{o.payer}
	}
	opts := []solana.TransactionOption{solana.TransactionPayer(pub(o.payer))}
	if o.tables != nil {
		opts = append(opts, solana.TransactionAddressTables(o.tables))
	}
	tx, err := solana.NewTransaction(ixs, solana.Hash(blockhash), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if o.v0 {
		tx.Message.SetVersion(solana.MessageVersionV0)
	}
	msg, err := tx.Message.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tx.Signatures = make([]solana.Signature, tx.Message.Header.NumRequiredSignatures)
	for i := range tx.Signatures {
		for _, k := range o.signers {
			if pub(k) == tx.Message.AccountKeys[i] {
				tx.Signatures[i] = solana.Signature(ed25519.Sign(k, msg))
			}
		}
	}
	b, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func build(t testing.TB, lamports uint64, m string) []byte {
	t.Helper()
	b, _, err := Build(payerKey, treasury, lamports, m, blockhash)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reencode decodes a transaction, lets mutate change it and encodes it again
// without re-signing, to make structures no honest builder makes.
func reencode(t testing.TB, b []byte, mutate func(*solana.Transaction)) []byte {
	t.Helper()
	tx, err := solana.TransactionFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	mutate(tx)
	out, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestVerifyAcceptsOnlyTransactionsThatPayTheRequirement(t *testing.T) {
	p, o := pub(payerKey), pub(otherKey)
	tr := solana.PublicKey(treasury)
	good := build(t, price, reqMemo)
	// The transfer's amount, little-endian, ends where the memo instruction
	// (program, account count, account, data length, memo) begins.
	lamportsAt := len(good) - (4 + len(reqMemo)) - 8
	huge := strings.Repeat("x", 1200)
	tables := map[solana.PublicKey]solana.PublicKeySlice{pub(key(7)): {tr}}

	cases := []struct {
		name     string
		tx       []byte
		reason   Reason
		lamports uint64 // when accepted
		detail   string // a substring of the detail when rejected
	}{
		{name: "built by Build", tx: good, lamports: price},
		{name: "overpaid", tx: build(t, price+1, reqMemo), lamports: price + 1},
		{name: "two transfers summing up", lamports: price,
			tx: sign(t, txOpts{}, transfer(price-1, p, tr), transfer(1, p, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "transfer from a second signer", lamports: price,
			tx: sign(t, txOpts{signers: []ed25519.PrivateKey{payerKey, otherKey}}, transfer(price, o, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "v1 memo program", lamports: price,
			tx: sign(t, txOpts{}, transfer(price, p, tr), rawMemo(memoProgramV1, p, reqMemo))},
		{name: "memo before transfer and a second memo", lamports: price,
			tx: sign(t, txOpts{}, rawMemo(memoProgramV2, p, "hello"), rawMemo(memoProgramV2, p, reqMemo), transfer(price, p, tr))},
		{name: "v0 message", lamports: price,
			tx: sign(t, txOpts{v0: true}, transfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo))},

		{name: "empty", tx: nil, reason: ReasonMalformed, detail: "empty"},
		{name: "trailing bytes", tx: append(append([]byte(nil), good...), 0), reason: ReasonMalformed, detail: "trailing"},
		{name: "truncated", tx: good[:len(good)-1], reason: ReasonMalformed, detail: "decode"},
		{name: "truncated in the signatures", tx: good[:40], reason: ReasonMalformed},
		{name: "oversize", reason: ReasonMalformed, detail: "at most 1232",
			tx: sign(t, txOpts{}, transfer(price, p, tr), rawMemo(memoProgramV2, p, huge))},
		{name: "unsupported message version", reason: ReasonMalformed, detail: "version",
			tx: func() []byte {
				b := sign(t, txOpts{v0: true}, transfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo))
				b[65] = 0x81 // v1, which Solana does not define
				return b
			}()},
		{name: "version byte solana-go misreads", reason: ReasonMalformed, detail: "canonical",
			tx: func() []byte {
				// Solana reads 0x7f as a legacy header; solana-go as a version.
				b := append(append(append([]byte(nil), good[:65]...), 0x7f), good[65:]...)
				return append(b, 0)
			}()},
		{name: "account index out of range", reason: ReasonMalformed, detail: "out of range",
			tx: reencode(t, good, func(tx *solana.Transaction) { tx.Message.Instructions[0].Accounts[1] = 200 })},
		{name: "fee payer as program", reason: ReasonMalformed, detail: "program index",
			tx: reencode(t, good, func(tx *solana.Transaction) { tx.Message.Instructions[0].ProgramIDIndex = 0 })},
		{name: "duplicate account", reason: ReasonMalformed, detail: "twice",
			tx: reencode(t, good, func(tx *solana.Transaction) { tx.Message.AccountKeys[1] = tx.Message.AccountKeys[0] })},
		{name: "no fee payer", reason: ReasonMalformed, detail: "no signatures",
			tx: reencode(t, good, func(tx *solana.Transaction) {
				tx.Signatures = nil
				tx.Message.Header.NumRequiredSignatures = 0
			})},
		{name: "read-only fee payer", reason: ReasonMalformed, detail: "writable signer",
			tx: reencode(t, good, func(tx *solana.Transaction) { tx.Message.Header.NumReadonlySignedAccounts = 1 })},
		{name: "transfers overflowing", reason: ReasonMalformed, detail: "overflow",
			tx: sign(t, txOpts{}, transfer(math.MaxUint64, p, tr), transfer(1, p, tr), rawMemo(memoProgramV2, p, reqMemo))},

		{name: "tampered signature", tx: flip(good, 1), reason: ReasonSignature, detail: "does not verify"},
		{name: "tampered amount", tx: flip(good, lamportsAt+3), reason: ReasonSignature, detail: "altered"},
		{name: "missing signer signature", reason: ReasonSignature, detail: "missing",
			tx: sign(t, txOpts{}, transfer(price, o, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "signature count below the required", reason: ReasonSignature, detail: "0 signatures",
			tx: append([]byte{0}, good[65:]...)},

		{name: "transfer to another account", reason: ReasonNoTransfer, detail: treasury.String(),
			tx: sign(t, txOpts{}, transfer(price, p, o), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "source is not a signer", reason: ReasonNoTransfer, detail: "did not sign",
			tx: sign(t, txOpts{}, unsignedTransfer(price, o, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "treasury read-only", reason: ReasonNoTransfer, detail: "read-only",
			tx: sign(t, txOpts{}, readonlyTransfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "treasury from an address lookup table", reason: ReasonNoTransfer, detail: "lookup table",
			tx: sign(t, txOpts{tables: tables}, transfer(price, p, tr), rawMemo(memoProgramV2, p, reqMemo))},
		{name: "no instructions but a memo", reason: ReasonNoTransfer,
			tx: sign(t, txOpts{}, rawMemo(memoProgramV2, p, reqMemo))},

		{name: "underpaid", tx: build(t, price-1, reqMemo), reason: ReasonUnderpaid, detail: "1 short"},
		{name: "underpaid by a second transfer elsewhere", reason: ReasonUnderpaid,
			tx: sign(t, txOpts{}, transfer(price-1, p, tr), transfer(1, p, o), rawMemo(memoProgramV2, p, reqMemo))},

		{name: "memo missing", reason: ReasonMemoMissing, detail: reqMemo,
			tx: sign(t, txOpts{}, transfer(price, p, tr))},
		{name: "memo mismatch", tx: build(t, price, "dagger:vm-request:43"), reason: ReasonMemoMismatch, detail: `"dagger:vm-request:43"`},
		{name: "memo with a trailing newline", tx: build(t, price, reqMemo+"\n"), reason: ReasonMemoMismatch, detail: `\n`},
		{name: "memo via solana-go's helper", reason: ReasonMemoMismatch, detail: "1-byte length prefix",
			tx: sign(t, txOpts{}, transfer(price, p, tr), memo.NewMemoInstruction([]byte(reqMemo), p).Build())},
		{name: "memo from another program", reason: ReasonMemoMissing,
			tx: sign(t, txOpts{}, transfer(price, p, tr), rawMemo(pub(key(8)), p, reqMemo))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Verify(c.tx, want)
			if ReasonOf(err) != c.reason {
				t.Fatalf("reason %q (%v), want %q", ReasonOf(err), err, c.reason)
			}
			if err != nil {
				if !strings.Contains(err.Error(), c.detail) {
					t.Fatalf("error %q does not mention %q", err, c.detail)
				}
				if got != (Payment{}) {
					t.Fatalf("rejected with a payment %+v", got)
				}
				return
			}
			if got.Lamports != c.lamports || got.Payer != Address(p) {
				t.Fatalf("payment %+v, want %d lamports from %s", got, c.lamports, Address(p))
			}
			if got.Signature != Signature(c.tx[1:65]) {
				t.Fatalf("signature %s is not the transaction's first", got.Signature)
			}
		})
	}
}

func unsignedTransfer(lamports uint64, from, to solana.PublicKey) solana.Instruction {
	data, err := system.NewTransferInstruction(lamports, from, to).Build().Data()
	if err != nil {
		panic(err)
	}
	return solana.NewInstruction(system.ProgramID, solana.AccountMetaSlice{solana.Meta(from).WRITE(), solana.Meta(to).WRITE()}, data)
}

func readonlyTransfer(lamports uint64, from, to solana.PublicKey) solana.Instruction {
	data, err := system.NewTransferInstruction(lamports, from, to).Build().Data()
	if err != nil {
		panic(err)
	}
	return solana.NewInstruction(system.ProgramID, solana.AccountMetaSlice{solana.Meta(from).WRITE().SIGNER(), solana.Meta(to)}, data)
}

func TestSolanaGoMemoHelperPrefixesTheLength(t *testing.T) {
	for _, n := range []int{1, 127, 128, 300} {
		m := strings.Repeat("m", n)
		data, err := memo.NewMemoInstruction([]byte(m), pub(payerKey)).Build().Data()
		if err != nil {
			t.Fatal(err)
		}
		if size := lengthPrefix(data, m); size == 0 || len(data) != size+n {
			t.Fatalf("memo of %d bytes: helper data of %d bytes is not recognised as length-prefixed", n, len(data))
		}
	}
}

func TestVerifyIsDeterministic(t *testing.T) {
	b := build(t, price, reqMemo)
	for _, tx := range [][]byte{b, flip(b, 1), b[:100], build(t, price-1, reqMemo)} {
		p1, err1 := Verify(tx, want)
		p2, err2 := Verify(tx, want)
		if p1 != p2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("two runs differ: %v %v / %v %v", p1, err1, p2, err2)
		}
	}
}

func TestVerifyDoesNotKeepOrChangeItsInput(t *testing.T) {
	b := build(t, price, reqMemo)
	c := append([]byte(nil), b...)
	if _, err := Verify(b, want); err != nil {
		t.Fatal(err)
	}
	if string(b) != string(c) {
		t.Fatal("Verify changed its input")
	}
}

func TestBuildRoundTripsThroughSolanaGo(t *testing.T) {
	b, sig, err := Build(payerKey, treasury, price, reqMemo, blockhash)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := solana.TransactionFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.VerifySignatures(); err != nil {
		t.Fatal(err)
	}
	if Signature(tx.Signatures[0]) != sig || tx.Message.RecentBlockhash != solana.Hash(blockhash) || tx.Message.IsVersioned() {
		t.Fatalf("unexpected transaction %v", tx)
	}
}

func TestBuildRefusesWhatCannotLand(t *testing.T) {
	if _, _, err := Build(payerKey[:10], treasury, 1, "m", blockhash); err == nil {
		t.Fatal("short key accepted")
	}
	if _, _, err := Build(treasuryKey, treasury, 1, "m", blockhash); err == nil {
		t.Fatal("payment from the treasury to itself accepted")
	}
	if _, _, err := Build(payerKey, treasury, 1, strings.Repeat("m", MaxTxBytes), blockhash); err == nil {
		t.Fatal("oversize transaction accepted")
	}
}

func TestReasonOf(t *testing.T) {
	cases := []struct {
		err  error
		want Reason
	}{
		{nil, ""},
		{&Error{Reason: ReasonUnderpaid, Detail: "x"}, ReasonUnderpaid},
		{fmt.Errorf("admit: %w", &Error{Reason: ReasonMemoMissing}), ReasonMemoMissing},
		{errors.New("other"), ReasonMalformed},
	}
	for _, c := range cases {
		if got := ReasonOf(c.err); got != c.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if s := (&Error{Reason: ReasonUnderpaid, Detail: "3 short"}).Error(); s != "underpaid: 3 short" {
		t.Errorf("Error() = %q", s)
	}
}

func TestAddressAndSignatureRoundTripBase58(t *testing.T) {
	a, err := ParseAddress(treasury.String())
	if err != nil || a != treasury {
		t.Fatalf("ParseAddress: %v %v", a, err)
	}
	if got := (Address{}).String(); got != "11111111111111111111111111111111" {
		t.Fatalf("zero address is %s, want the System Program's", got)
	}
	_, sig, err := Build(payerKey, treasury, price, reqMemo, blockhash)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSignature(sig.String())
	if err != nil || s != sig {
		t.Fatalf("ParseSignature: %v %v", s, err)
	}
	for _, bad := range []string{"", "0OIl", treasury.String() + "1"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "0OIl", treasury.String()} {
		if _, err := ParseSignature(bad); err == nil {
			t.Errorf("ParseSignature(%q) accepted", bad)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	tx := build(b, price, reqMemo)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tx, want); err != nil {
			b.Fatal(err)
		}
	}
}
