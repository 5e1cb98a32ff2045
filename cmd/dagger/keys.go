package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/node/tx"
)

func newKeysCmd() *cobra.Command {
	c := group("keys", "make or show a key file (keys new, keys show)",
		`Makes or reads an ed25519 key file in the Solana keypair format: an operator's identity or a
customer's wallet (solana-keygen's files work as they are).`)
	c.AddCommand(newKeysNewCmd(), newKeysShowCmd())
	return c
}

func newKeysNewCmd() *cobra.Command {
	var out string
	var asJSON bool
	c := &cobra.Command{
		Use:   "new --out FILE [--json]",
		Short: "make a fresh key file",
		Long:  "Makes a fresh key and prints its public key (hex) and Solana address (base58).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unexpected argument %q: name the file with --out", args[0])
			}
			if out == "" {
				return usageErr("--out is required")
			}
			k, err := keyfile.New()
			if err == nil {
				err = keyfile.Save(out, k)
			}
			if err != nil {
				return failf(1, "%v", err)
			}
			return printKey(cmd.OutOrStdout(), out, k, asJSON)
		},
	}
	c.Flags().StringVar(&out, "out", "", "the key file to write (mode 0600); an existing file is never overwritten")
	c.Flags().BoolVar(&asJSON, "json", false, "print the key's public halves as JSON")
	return c
}

func newKeysShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show [--json] FILE",
		Short: "print a key file's public key and address",
		Long:  "Prints a key file's public key (hex) and Solana address (base58); never the private key.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("want one key file, got %d arguments", len(args))
			}
			k, err := keyfile.Load(args[0])
			if err != nil {
				return failf(1, "%v", err)
			}
			return printKey(cmd.OutOrStdout(), args[0], k, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the key's public halves as JSON")
	return c
}

// keyView is what --json prints of a key.
type keyView struct {
	File      string `json:"file"`
	PublicKey string `json:"public_key"`
	Address   string `json:"address"`
}

func printKey(stdout io.Writer, file string, k ed25519.PrivateKey, asJSON bool) error {
	pub := tx.Key(k.Public().(ed25519.PublicKey))
	v := keyView{File: file, PublicKey: pub.String(), Address: payment.Address(pub).String()}
	if asJSON {
		return printJSON(stdout, v)
	}
	fmt.Fprintf(stdout, "file        %s\npublic key  %s\naddress     %s\n", v.File, v.PublicKey, v.Address)
	return nil
}

func printJSON(stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return failf(1, "encode the output: %v", err)
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}
