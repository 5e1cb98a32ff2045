package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeysNewAndShow(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wallet.json")
	out, _ := wantRun(t, []string{"keys", "new", "--out", file}, 0, "public key  ", "")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	shown, _ := wantRun(t, []string{"keys", "show", file}, 0, "address     ", "")
	if shown != out {
		t.Fatalf("keys show prints\n%s\nkeys new printed\n%s", shown, out)
	}
	js, _ := wantRun(t, []string{"keys", "show", file, "--json"}, 0, "", "")
	var v keyView
	if err := json.Unmarshal([]byte(js), &v); err != nil || len(v.PublicKey) != 64 || !strings.Contains(out, v.Address) || v.File != file {
		t.Fatalf("--json: %+v, %v\n%s", v, err, js)
	}
	wantRun(t, []string{"keys", "new", "--out", file}, 1, "", "refusing to overwrite")
	if again, _ := wantRun(t, []string{"keys", "show", file}, 0, "", ""); again != out {
		t.Fatal("a refused keys new changed the key")
	}
}

func TestKeysUsage(t *testing.T) {
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.json")
	os.WriteFile(damaged, []byte("[1,2,3]"), 0o600)
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"keys"}, 2, "usage: dagger keys new"},
		{[]string{"keys", "-h"}, 0, "usage: dagger keys new"},
		{[]string{"keys", "rotate"}, 2, "usage: dagger keys new"},
		{[]string{"keys", "new"}, 2, "--out is required"},
		{[]string{"keys", "new", "--out", filepath.Join(dir, "k"), "extra"}, 2, "unexpected argument"},
		{[]string{"keys", "new", "--out", filepath.Join(dir, "missing", "k")}, 1, "no such file"},
		{[]string{"keys", "new", "-h"}, 0, "Solana address"},
		{[]string{"keys", "show"}, 2, "want one key file"},
		{[]string{"keys", "show", "a", "b"}, 2, "want one key file"},
		{[]string{"keys", "show", filepath.Join(dir, "none")}, 1, "no such file"},
		{[]string{"keys", "show", damaged}, 1, "holds 3 bytes"},
		{[]string{"keys", "show", "--nope", damaged}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		wantRun(t, c.args, c.code, "", c.stderr)
	}
}
