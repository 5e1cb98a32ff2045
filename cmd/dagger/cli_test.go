package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths is every command of the tree that help lists, as the
// arguments that name it: {} for dagger itself, {"sim", "run"}, ...
func commandPaths() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub, append(append([]string(nil), path...), sub.Name()))
			}
		}
	}
	walk(newCLI(io.Discard, io.Discard), []string{})
	return paths
}

func TestEveryCommandHasHelp(t *testing.T) {
	paths := commandPaths()
	if len(paths) < 30 {
		t.Fatalf("%d commands in the tree, want every group and its commands", len(paths))
	}
	for _, path := range paths {
		name := strings.Join(append([]string{"dagger"}, path...), " ")
		for _, args := range [][]string{slices.Concat(path, []string{"-h"}), slices.Concat(path, []string{"--help"}), slices.Concat([]string{"help"}, path)} {
			code, out, errs := runCLI(args...)
			help := errs // a command's help goes to stderr, dagger's own to stdout
			if len(path) == 0 {
				help = out
			}
			if code != 0 || !strings.HasPrefix(help, "usage: ") || !strings.Contains(help, name) {
				t.Errorf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
			}
		}
	}
	// Every command says what it does in the list of its group.
	code, out, _ := runCLI("-h")
	for _, path := range paths {
		if len(path) == 1 && !strings.Contains(out, "\n  "+path[0]+" ") {
			t.Errorf("dagger -h does not list %s:\n%s", path[0], out)
		}
	}
	if code != 0 {
		t.Fatalf("dagger -h: exit %d", code)
	}
}

func TestUnknownFlagsAndCommandsExitTwo(t *testing.T) {
	file := writeScenario(t, smallScenario)
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"sim", "run", file, "--bogus"}, "dagger sim run: flag provided but not defined: --bogus"},
		{[]string{"sim", "run", "-bogus", file}, "flag provided but not defined: -bogus"},
		{[]string{"sim", "sweep", file, "--jobs", "many"}, `invalid argument "many" for "--jobs"`},
		{[]string{"--bogus"}, "dagger: flag provided but not defined: --bogus"},
		{[]string{"nosuch"}, `dagger: unknown command "nosuch"`},
		{[]string{"nosuch", "--out", "x"}, `dagger: unknown command "nosuch"`},
		{[]string{"sim", "nosuch"}, `dagger sim: unknown command "nosuch"`},
		{[]string{"node", "nosuch", "--bogus"}, `dagger node: unknown command "nosuch"`},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"completion"}, "usage: dagger completion bash"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh"`},
		{[]string{"completion", "bash", "extra"}, `unknown command "extra"`},
	}
	for _, c := range cases {
		code, out, errs := runCLI(c.args...)
		if code != 2 || !strings.Contains(errs, c.stderr) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant 2 and stderr containing %q", c.args, code, out, errs, c.stderr)
		}
	}
}

func TestFlagsMayFollowPositionalArguments(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k.json")
	wantRun(t, []string{"keys", "new", "--out", file}, 0, "", "")
	before, _ := wantRun(t, []string{"keys", "show", "--json", file}, 0, `"public_key"`, "")
	after, _ := wantRun(t, []string{"keys", "show", file, "--json"}, 0, `"public_key"`, "")
	if before != after {
		t.Fatalf("--json before the file printed\n%s\nafter it\n%s", before, after)
	}

	scenario := writeScenario(t, smallScenario)
	fingerprint := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(args...)
		var r struct{ Fingerprint string }
		if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r) != nil || r.Fingerprint == "" {
			t.Fatalf("%q: exit %d\n%s\n%s", args, code, out, errs)
		}
		return r.Fingerprint
	}
	a := fingerprint("sim", "run", "--seed", "4", "--json", "-", scenario)
	b := fingerprint("sim", "run", scenario, "--seed", "4", "--json", "-")
	c := fingerprint("sim", "run", "--seed", "4", scenario, "--json", "-")
	if a != b || a != c {
		t.Fatalf("the flags' place changed the run: %s %s %s", a, b, c)
	}
}

// TestGoStyleFlagsStillWork: the single-dash long flags of Go's flag
// package, which the command line accepted before, mean what they meant.
func TestGoStyleFlagsStillWork(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k.json")
	out, _ := wantRun(t, []string{"keys", "new", "-out", file, "-json"}, 0, `"address"`, "")
	if again, _ := wantRun(t, []string{"keys", "show", "-json=true", file}, 0, "", ""); again != out {
		t.Fatalf("keys show -json=true printed\n%s\nkeys new -json printed\n%s", again, out)
	}
	wantRun(t, []string{"keys", "-help"}, 0, "", "usage: dagger keys new")
	wantRun(t, []string{"keys", "new", "-help"}, 0, "", "usage: dagger keys new")
	if code, out, _ := runCLI("-help"); code != 0 || !strings.HasPrefix(out, "usage: dagger") {
		t.Fatalf("dagger -help: exit %d\n%s", code, out)
	}

	scenario := writeScenario(t, smallScenario)
	_, single, _ := runCLI("sim", "run", scenario, "-seed", "6", "-set", "workload.rate=100")
	_, double, _ := runCLI("sim", "run", scenario, "--seed", "6", "--set", "workload.rate=100")
	if cut(single) != cut(double) || !strings.Contains(single, "seed 6") {
		t.Fatalf("-seed 6 -set ... printed\n%s\n--seed 6 --set ... printed\n%s", single, double)
	}
	// A flag's value and whatever follows "--" are not flags.
	wantRun(t, []string{"sim", "run", "--", "-seed"}, 2, "", "open -seed")
	t.Chdir(dir)
	wantRun(t, []string{"keys", "new", "--out", "-json"}, 0, "file        -json", "")
	if _, err := os.Stat(filepath.Join(dir, "-json")); err != nil {
		t.Fatal(err)
	}
}

// cut drops a run summary's first line, which holds the wall-clock time.
func cut(summary string) string {
	_, rest, _ := strings.Cut(summary, "\n")
	return rest
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "__start_dagger",
		"zsh":        "#compdef dagger",
		"fish":       "complete -c dagger",
		"powershell": "Register-ArgumentCompleter",
	} {
		code, out, errs := runCLI("completion", shell)
		if code != 0 || !strings.Contains(out, want) || errs != "" {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errs, want)
		}
	}
	// What the scripts ask the command line.
	code, out, _ := runCLI("__complete", "sim", "")
	for _, c := range []string{"run", "sweep", "fuzz", "shrink", "merge"} {
		if code != 0 || !strings.Contains(out, "\n"+c+"\t") && !strings.HasPrefix(out, c+"\t") {
			t.Errorf("__complete sim: exit %d, lacks %s:\n%s", code, c, out)
		}
	}
	if _, out, _ := runCLI("__complete", "vm", "create", "--no"); !strings.Contains(out, "--node\t") {
		t.Errorf("__complete vm create --no does not offer --node:\n%s", out)
	}
}
