package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/node/tx"
)

func runKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "new":
			return runKeysNew(args[1:], stdout, stderr)
		case "show":
			return runKeysShow(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: dagger keys new --out FILE [--json]")
	fmt.Fprintln(stderr, "       dagger keys show [--json] FILE")
	fmt.Fprintln(stderr, "Makes or reads an ed25519 key file in the Solana keypair format: an operator's identity or a")
	fmt.Fprintln(stderr, "customer's wallet (solana-keygen's files work as they are).")
	if len(args) > 0 && isHelp(args[0]) {
		return 0
	}
	return 2
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func runKeysNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the key file to write (mode 0600); an existing file is never overwritten")
	asJSON := fs.Bool("json", false, "print the key's public halves as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger keys new --out FILE [--json]")
		fmt.Fprintln(stderr, "Makes a fresh key and prints its public key (hex) and Solana address (base58).")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "keys new", "unexpected argument %q: name the file with --out", pos[0])
	}
	if *out == "" {
		return usageErr(stderr, "keys new", "--out is required")
	}
	k, err := keyfile.New()
	if err == nil {
		err = keyfile.Save(*out, k)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dagger keys new: %v\n", err)
		return 1
	}
	return printKey(stdout, stderr, *out, k, *asJSON)
}

func runKeysShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the key's public halves as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger keys show [--json] FILE")
		fmt.Fprintln(stderr, "Prints a key file's public key (hex) and Solana address (base58); never the private key.")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, "keys show", "want one key file, got %d arguments", len(pos))
	}
	k, err := keyfile.Load(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "dagger keys show: %v\n", err)
		return 1
	}
	return printKey(stdout, stderr, pos[0], k, *asJSON)
}

// keyView is what --json prints of a key.
type keyView struct {
	File      string `json:"file"`
	PublicKey string `json:"public_key"`
	Address   string `json:"address"`
}

func printKey(stdout, stderr io.Writer, file string, k ed25519.PrivateKey, asJSON bool) int {
	pub := tx.Key(k.Public().(ed25519.PublicKey))
	v := keyView{File: file, PublicKey: pub.String(), Address: payment.Address(pub).String()}
	if asJSON {
		return printJSON(stdout, stderr, v)
	}
	fmt.Fprintf(stdout, "file        %s\npublic key  %s\naddress     %s\n", v.File, v.PublicKey, v.Address)
	return 0
}

// parseFlags parses flags wherever they stand among the positional
// arguments, which it returns. code is -1 to go on, or the exit code: 0
// after -h, 2 after a bad flag (the flag package said which).
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, code int) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func usageErr(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "dagger %s: %s\n", cmd, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'dagger %s -h' for the flags.\n", cmd)
	return 2
}

func printJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "dagger: encode the output: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
