package main

// What every command shares: how it fails, how its help reads, and how
// the command line is read before cobra sees it.

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitError ends a command with a status other than 0. run prints msg, if
// any, on stderr after the command's name; with hint, it also points to the
// command's help.
type exitError struct {
	code int
	msg  string
	hint bool
}

func (e *exitError) Error() string { return e.msg }

// usageErr says the command line is wrong: exit status 2, with a pointer
// to the command's flags.
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...), hint: true}
}

// failf ends the command with code and a message: 1 when it ran and
// failed, 2 when its input is invalid.
func failf(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// exitCode ends the command with code; it said why already.
func exitCode(code int) error { return &exitError{code: code} }

// exitStatus reports err, which cmd returned, and turns it into the exit
// status. An error that is not an exitError is the command failing (1).
func exitStatus(cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{code: 1, msg: err.Error()}
	}
	if e.msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), e.msg)
	}
	if e.hint {
		what := "the flags"
		if cmd.Example != "" {
			what += " and an example"
		}
		fmt.Fprintf(stderr, "Run '%s -h' for %s.\n", cmd.CommandPath(), what)
	}
	return e.code
}

// flagsOnly refuses positional arguments for a command whose every input
// is a flag.
func flagsOnly(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unexpected argument %q: every input is a flag", args[0])
	}
	return nil
}

// group is a command that only holds others.
func group(name, short, long string) *cobra.Command {
	return &cobra.Command{Use: name, Short: short, Long: long, Args: cobra.ArbitraryArgs, RunE: groupRun}
}

// groupRun is what a command that holds others does when it is run
// itself: "help" prints its help; no command, or an unknown one, is bad
// usage, answered with the help on stderr.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && args[0] == "help" {
		return cmd.Help()
	}
	stderr := cmd.ErrOrStderr()
	if len(args) > 0 {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", cmd.CommandPath(), args[0])
	}
	printHelp(stderr, cmd)
	return exitCode(2)
}

// setUp gives root and every command under it the same help, errors and
// exit statuses, and adds the help and completion commands.
func setUp(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	// dagger's own help goes to stdout, a command's to stderr, as the
	// command line always had it.
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		w := c.ErrOrStderr()
		if !c.HasParent() {
			w = c.OutOrStdout()
		}
		printHelp(w, c)
	})
	root.SetUsageFunc(func(c *cobra.Command) error {
		printHelp(c.ErrOrStderr(), c)
		return nil
	})
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "print a command's help",
		Long:  "Prints the help of the command named, or dagger's own.",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil {
				return usageErr("%v", err)
			}
			if len(rest) > 0 {
				return groupRun(target, rest)
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var out []cobra.Completion
			if target, _, err := cmd.Root().Find(args); err == nil {
				for _, c := range target.Commands() {
					if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
						out = append(out, cobra.CompletionWithDesc(c.Name(), c.Short))
					}
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	})
	root.InitDefaultHelpCmd()
	// cobra's completion command writes its scripts to root's stdout.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "print a shell completion script (bash, zsh, fish, powershell)"
			c.Args, c.RunE = cobra.ArbitraryArgs, groupRun
			for _, shell := range c.Commands() {
				if shell.Flags().Lookup("no-descriptions") != nil {
					shell.Use += " [--no-descriptions]"
				}
			}
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		// Each command's Use spells out its own flags.
		c.DisableFlagsInUseLine = true
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return usageErr("%v", err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// flagError is a flag that cobra could not parse: bad usage. An unknown
// flag is named as Go's flag package named it, which scripts may look for.
func flagError(cmd *cobra.Command, err error) error {
	if cmd.HasAvailableSubCommands() && cmd.Flags().NArg() > 0 {
		// "dagger nosuch --flag": the command is what is wrong.
		return groupRun(cmd, cmd.Flags().Args())
	}
	var unknown *pflag.NotExistError
	if errors.As(err, &unknown) {
		name := "--" + unknown.GetSpecifiedName()
		if s := unknown.GetSpecifiedShortnames(); s != "" {
			name = "-" + s
		}
		return usageErr("flag provided but not defined: %s", name)
	}
	return usageErr("%v", err)
}

// goStyleFlags rewrites "-name" to "--name" for the long flags of the
// command that args run, so that the spellings of Go's flag package, on
// which this command line was first built, keep working: "-seed 3",
// "-json=out.json", "-help". pflag would read "-seed" as the shorthands s,
// e, e, d. A flag's value and everything after "--" are left alone, and so
// is anything that is not the name of one of the command's flags.
func goStyleFlags(root *cobra.Command, args []string) []string {
	out := append([]string{}, args...)
	cmd, i := root, 0
	for ; i < len(out); i++ {
		next := subcommand(cmd, out[i])
		if next == nil {
			break
		}
		cmd = next
	}
	cmd.InitDefaultHelpFlag()
	flags := cmd.Flags()
	for ; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := flags.Lookup(name)
		if f == nil {
			continue
		}
		if !strings.HasPrefix(a, "--") {
			out[i] = "-" + a
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag's value, whatever it looks like
		}
	}
	return out
}

// subcommand is cmd's command called name, or nil.
func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// printHelp writes c's help: how to call it (for a command that holds
// others, how to call each of them), what it does, its commands, flags
// and example.
func printHelp(w io.Writer, c *cobra.Command) {
	var b strings.Builder
	var subs []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, s)
		}
	}
	lines := []string{c.UseLine()}
	if c.HasParent() && len(subs) > 0 {
		lines = lines[:0]
		for _, s := range subs {
			lines = append(lines, s.UseLine())
		}
	}
	b.WriteString("usage: " + strings.Join(lines, "\n       ") + "\n")
	if long := strings.TrimRight(c.Long, "\n"); long != "" {
		b.WriteString(long + "\n")
	}
	if len(subs) > 0 {
		width := 0
		for _, s := range subs {
			width = max(width, len(s.Name()))
		}
		b.WriteString("\nCommands:\n")
		for _, s := range subs {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, s.Name(), s.Short)
		}
	}
	flags := c.LocalFlags()
	if flags.HasAvailableFlags() && !onlyHelp(flags) {
		b.WriteString("\nFlags:\n" + flags.FlagUsagesWrapped(0))
	}
	if c.Example != "" {
		b.WriteString("\nExample:\n" + strings.TrimRight(c.Example, "\n") + "\n")
	}
	if len(subs) > 0 {
		fmt.Fprintf(&b, "\nRun '%s <command> -h' for a command's flags.\n", c.CommandPath())
	}
	io.WriteString(w, b.String())
}

// onlyHelp says whether the help flag is the only one in flags.
func onlyHelp(flags *pflag.FlagSet) bool {
	only := true
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			only = false
		}
	})
	return only
}
