package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"dagger/node/payment"
)

const (
	payTreasury = "DaGGerTreasury111111111111111111111111111111"
	payMemo     = "dagger:vm-request:42"
)

// paymentB64 is a signed payment of lamports to payTreasury with memo.
func paymentB64(t *testing.T, lamports uint64, memo string) string {
	t.Helper()
	treasury, err := payment.ParseAddress(payTreasury)
	if err != nil {
		t.Fatal(err)
	}
	payer := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	tx, _, err := payment.Build(payer, treasury, lamports, memo, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(tx)
}

func TestPayVerifyExitCodes(t *testing.T) {
	good := paymentB64(t, 5000, payMemo)
	flags := func(tx, treasury, lamports, memo string) []string {
		return []string{"pay", "verify", "--tx", tx, "--treasury", treasury, "--lamports", lamports, "--memo", memo}
	}
	cases := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{name: "accepted", args: flags(good, payTreasury, "5000", payMemo), code: 0,
			stdout: "paid 5000 lamports to " + payTreasury + " (signature "},
		{name: "accepted from stdin, wrapped", args: flags("-", payTreasury, "4000", payMemo), code: 0,
			stdin: good[:40] + "\n" + good[40:] + "\n", stdout: "accepted: "},
		{name: "underpaid", args: flags(good, payTreasury, "5001", payMemo), code: 1,
			stdout: "rejected (underpaid): "},
		{name: "memo mismatch", args: flags(good, payTreasury, "5000", "dagger:vm-request:43"), code: 1,
			stdout: "rejected (memo-mismatch): "},
		{name: "another treasury", args: flags(good, "11111111111111111111111111111111", "5000", payMemo), code: 1,
			stdout: "next: check --treasury"},
		{name: "truncated", args: flags(base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), payTreasury, "5000", payMemo), code: 1,
			stdout: "rejected (malformed): "},

		{name: "no subcommand", args: []string{"pay"}, code: 2, stderr: "usage: dagger pay verify"},
		{name: "help", args: []string{"pay", "verify", "-h"}, code: 0, stderr: "Example:"},
		{name: "missing memo", args: []string{"pay", "verify", "--tx", good, "--treasury", payTreasury, "--lamports", "1"}, code: 2,
			stderr: "--memo is required"},
		{name: "bad base64", args: flags("not base64!", payTreasury, "5000", payMemo), code: 2, stderr: "not standard base64"},
		{name: "empty tx", args: flags("", payTreasury, "5000", payMemo), code: 2, stderr: "--tx is empty"},
		{name: "bad treasury", args: flags(good, "0xdead", "5000", payMemo), code: 2, stderr: "--treasury"},
		{name: "bad lamports", args: flags(good, payTreasury, "0.5", payMemo), code: 2, stderr: "whole number"},
		{name: "stray argument", args: append(flags(good, payTreasury, "5000", payMemo), "extra"), code: 2, stderr: "unexpected argument"},
		{name: "unknown flag", args: []string{"pay", "verify", "--sol", "1"}, code: 2, stderr: "flag provided but not defined"},
		{name: "stdin too long", args: flags("-", payTreasury, "5000", payMemo), code: 2,
			stdin: strings.Repeat("A", 10000), stderr: "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := payStdin
			payStdin = strings.NewReader(c.stdin)
			defer func() { payStdin = old }()
			code, out, errs := runCLI(c.args...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errs, c.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout containing %q and stderr containing %q",
					code, c.code, out, errs, c.stdout, c.stderr)
			}
		})
	}
}

func TestPayIsListedInUsage(t *testing.T) {
	code, out, _ := runCLI("help")
	if code != 0 || !strings.Contains(out, "pay ") {
		t.Fatalf("exit %d, usage lacks pay:\n%s", code, out)
	}
}
