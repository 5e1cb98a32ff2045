// Command dagger is DAGGER's one command-line tool.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"sim", "run scenarios in the deterministic simulator (sim run, sim sweep)", runSim},
		{"pay", "check a Solana payment (pay verify)", runPay},
		{"node", "prepare, run and admit live nodes (node init|run|bootstrap|join|approve|remove|leave)", runNode},
		{"genesis", "assemble a cluster's genesis file from its operators' member.json files", runGenesis},
		{"devnet", "run a cluster of real node processes on this machine", runDevnet},
		{"keys", "make or show a key file (keys new, keys show)", runKeys},
		{"vm", "pay for, change and read VMs through a node (vm create|renew|delete|get|list)", runVM},
		{"tx", "what a node knows of a transaction (tx status)", runTx},
		{"version", "print the version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dagger <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'dagger <command> -h' for a command's flags.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches to a command and returns the exit code: 0 success, 1 the
// command ran and failed, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "dagger: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
