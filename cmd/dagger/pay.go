package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"dagger/node/payment"
)

// payStdin is where --tx - reads from; tests replace it.
var payStdin io.Reader = os.Stdin

// maxTxBase64Bytes bounds what --tx - reads: base64 of the largest
// transaction Solana accepts, with room for line breaks.
const maxTxBase64Bytes = 4 * payment.MaxTxBytes

func runPay(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return runPayVerify(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: dagger pay verify --tx BASE64 --treasury ADDR --lamports N --memo TEXT")
	fmt.Fprintln(stderr, "Checks offline that a signed Solana transaction pays a VM request, as every node does.")
	fmt.Fprintln(stderr, "Run 'dagger pay verify -h' for the flags.")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}

func runPayVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pay verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	txFlag := fs.String("tx", "", "the signed transaction's wire bytes as standard base64, or '-' to read them from stdin")
	treasuryFlag := fs.String("treasury", "", "the cluster treasury's address (base58)")
	lamportsFlag := fs.String("lamports", "", "the price in lamports (1 SOL = 1000000000); at least this much must reach the treasury")
	memoFlag := fs.String("memo", "", "the memo that binds the payment to the request, exactly")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger pay verify --tx BASE64|- --treasury ADDR --lamports N --memo TEXT")
		fmt.Fprintln(stderr, "Checks offline that a signed Solana transaction pays the treasury at least N lamports with")
		fmt.Fprintln(stderr, "a System transfer from a signer and carries the memo, and that its signatures verify.")
		fmt.Fprintln(stderr, "It does not ask Solana whether the transaction landed or was used before.")
		fmt.Fprintln(stderr, "Exit status: 0 accepted, 1 rejected, 2 invalid arguments.")
		fmt.Fprintln(stderr, "Example:")
		fmt.Fprintln(stderr, "  dagger pay verify --tx \"$(cat tx.b64)\" --treasury DaGGerTreasury111111111111111111111111111111 \\")
		fmt.Fprintln(stderr, "      --lamports 5000000 --memo dagger:vm-request:42")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "dagger pay verify: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'dagger pay verify -h' for the flags and an example.")
		return 2
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q: every input is a flag", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"tx", "treasury", "lamports", "memo"} {
		if !set[name] {
			return usageError("--%s is required", name)
		}
	}
	treasury, err := payment.ParseAddress(*treasuryFlag)
	if err != nil {
		return usageError("--treasury: %v", err)
	}
	lamports, err := strconv.ParseUint(*lamportsFlag, 10, 64)
	if err != nil {
		return usageError("--lamports %q: want a whole number of lamports, e.g. 5000000 for 0.005 SOL", *lamportsFlag)
	}
	text := *txFlag
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(payStdin, maxTxBase64Bytes+1))
		if err != nil {
			return usageError("--tx -: read stdin: %v", err)
		}
		if len(b) > maxTxBase64Bytes {
			return usageError("--tx -: stdin holds more than %d bytes; a Solana transaction is at most %d bytes, %d in base64",
				maxTxBase64Bytes, payment.MaxTxBytes, base64.StdEncoding.EncodedLen(payment.MaxTxBytes))
		}
		text = string(b)
	}
	// Wallets and terminals wrap long base64; the line breaks are not data.
	text = strings.Join(strings.Fields(text), "")
	if text == "" {
		return usageError("--tx is empty: pass the signed transaction as base64")
	}
	tx, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return usageError("--tx is not standard base64 (%v); pass the wire bytes as a wallet's serialize() gives them, base64-encoded", err)
	}
	p, err := payment.Verify(tx, payment.Requirement{Treasury: treasury, Lamports: lamports, Memo: *memoFlag})
	if err != nil {
		fmt.Fprintf(stdout, "rejected (%s): %s\n", payment.ReasonOf(err), detailOf(err))
		if hint := payHint(payment.ReasonOf(err)); hint != "" {
			fmt.Fprintf(stdout, "next: %s\n", hint)
		}
		return 1
	}
	fmt.Fprintf(stdout, "accepted: %s paid %d lamports to %s (signature %s)\n", p.Payer, p.Lamports, treasury, p.Signature)
	fmt.Fprintln(stdout, "next: a node admits it only once Solana reports the signature finalized, and only once per signature")
	return 0
}

func detailOf(err error) string {
	var e *payment.Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return err.Error()
}

// payHint says what to try after a rejection, from the command line's side.
func payHint(r payment.Reason) string {
	switch r {
	case payment.ReasonMalformed:
		return "pass the whole signed transaction (signatures and message), base64-encoded, as the wallet serialized it"
	case payment.ReasonSignature:
		return "have every required signer sign the final transaction, and change nothing after signing"
	case payment.ReasonNoTransfer:
		return "check --treasury; the payment must be a System Program transfer signed by the payer"
	case payment.ReasonUnderpaid:
		return "pay at least the price quoted for the VM in one transaction"
	case payment.ReasonMemoMissing, payment.ReasonMemoMismatch:
		return "check --memo; the memo must be exactly the request's, as raw bytes"
	}
	return ""
}
