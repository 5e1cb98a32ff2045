// Command dagger is DAGGER's one command-line tool.
package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func init() {
	// Commands are listed in the order they are added, most used first.
	cobra.EnableCommandSorting = false
}

// run runs the command that args name and returns the exit status: 0
// success, 1 the command ran and failed, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	root := newCLI(stdout, stderr)
	// goStyleFlags returns a slice even for no arguments: given nil, cobra
	// would read os.Args instead.
	root.SetArgs(goStyleFlags(root, args))
	cmd, err := root.ExecuteC()
	if cmd == nil {
		cmd = root
	}
	return exitStatus(cmd, err, stderr)
}

// newCLI is the whole command tree, writing to stdout and stderr.
func newCLI(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "dagger <command> [flags]",
		Short: "DAGGER's command-line tool",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	root.AddCommand(
		newSimCmd(),
		newPayCmd(),
		newNodeCmd(),
		newGenesisCmd(),
		newDevnetCmd(),
		newKeysCmd(),
		newVMCmd(),
		newTxCmd(),
		newBenchCmd(),
		newVersionCmd(),
	)
	root.SetOut(stdout)
	root.SetErr(stderr)
	setUp(root)
	return root
}
