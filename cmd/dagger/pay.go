package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"dagger/node/payment"
)

// payStdin is where --tx - reads from; tests replace it.
var payStdin io.Reader = os.Stdin

// maxTxBase64Bytes bounds what --tx - reads: base64 of the largest
// transaction Solana accepts, with room for line breaks.
const maxTxBase64Bytes = 4 * payment.MaxTxBytes

func newPayCmd() *cobra.Command {
	c := group("pay", "check a Solana payment (pay verify)",
		"Checks offline that a signed Solana transaction pays a VM request, as every node does.")
	c.AddCommand(newPayVerifyCmd())
	return c
}

func newPayVerifyCmd() *cobra.Command {
	var txFlag, treasuryFlag, lamportsFlag, memoFlag string
	c := &cobra.Command{
		Use:   "verify --tx BASE64|- --treasury ADDR --lamports N --memo TEXT",
		Short: "check offline that a signed Solana transaction pays a VM request",
		Long: `Checks offline that a signed Solana transaction pays the treasury at least N lamports with
a System transfer from a signer and carries the memo, and that its signatures verify.
It does not ask Solana whether the transaction landed or was used before.
Exit status: 0 accepted, 1 rejected, 2 invalid arguments.`,
		Example: `  dagger pay verify --tx "$(cat tx.b64)" --treasury DaGGerTreasury111111111111111111111111111111 \
      --lamports 5000000 --memo dagger:vm-request:42`,
		Args: flagsOnly,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range []string{"tx", "treasury", "lamports", "memo"} {
				if !cmd.Flags().Changed(name) {
					return usageErr("--%s is required", name)
				}
			}
			return payVerify(cmd.OutOrStdout(), txFlag, treasuryFlag, lamportsFlag, memoFlag)
		},
	}
	f := c.Flags()
	f.StringVar(&txFlag, "tx", "", "the signed transaction's wire bytes as standard base64, or '-' to read them from stdin")
	f.StringVar(&treasuryFlag, "treasury", "", "the cluster treasury's address (base58)")
	f.StringVar(&lamportsFlag, "lamports", "", "the price in lamports (1 SOL = 1000000000); at least this much must reach the treasury")
	f.StringVar(&memoFlag, "memo", "", "the memo that binds the payment to the request, exactly")
	return c
}

func payVerify(stdout io.Writer, txFlag, treasuryFlag, lamportsFlag, memoFlag string) error {
	treasury, err := payment.ParseAddress(treasuryFlag)
	if err != nil {
		return usageErr("--treasury: %v", err)
	}
	lamports, err := strconv.ParseUint(lamportsFlag, 10, 64)
	if err != nil {
		return usageErr("--lamports %q: want a whole number of lamports, e.g. 5000000 for 0.005 SOL", lamportsFlag)
	}
	text := txFlag
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(payStdin, maxTxBase64Bytes+1))
		if err != nil {
			return usageErr("--tx -: read stdin: %v", err)
		}
		if len(b) > maxTxBase64Bytes {
			return usageErr("--tx -: stdin holds more than %d bytes; a Solana transaction is at most %d bytes, %d in base64",
				maxTxBase64Bytes, payment.MaxTxBytes, base64.StdEncoding.EncodedLen(payment.MaxTxBytes))
		}
		text = string(b)
	}
	// Wallets and terminals wrap long base64; the line breaks are not data.
	text = strings.Join(strings.Fields(text), "")
	if text == "" {
		return usageErr("--tx is empty: pass the signed transaction as base64")
	}
	tx, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return usageErr("--tx is not standard base64 (%v); pass the wire bytes as a wallet's serialize() gives them, base64-encoded", err)
	}
	p, err := payment.Verify(tx, payment.Requirement{Treasury: treasury, Lamports: lamports, Memo: memoFlag})
	if err != nil {
		fmt.Fprintf(stdout, "rejected (%s): %s\n", payment.ReasonOf(err), detailOf(err))
		if hint := payHint(payment.ReasonOf(err)); hint != "" {
			fmt.Fprintf(stdout, "next: %s\n", hint)
		}
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "accepted: %s paid %d lamports to %s (signature %s)\n", p.Payer, p.Lamports, treasury, p.Signature)
	fmt.Fprintln(stdout, "next: a node admits it only once Solana reports the signature finalized, and only once per signature")
	return nil
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
