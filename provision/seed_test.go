package provision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"
)

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

// The seed is an ISO image labelled cidata whose files have the exact names
// cloud-init reads, and it holds what seedOf says.
func TestSeedImageHasTheLabelAndNamesCloudInitReads(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o077))
	s := xmlSpec()
	sd := seedOf(s)
	path := filepath.Join(t.TempDir(), "seeds", "dagger-3f2a-seed.iso")
	if err := writeSeed(path, sd); err != nil {
		t.Fatal(err)
	}
	back, err := readSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.MetaData) != string(sd.MetaData) || string(back.UserData) != string(sd.UserData) {
		t.Fatalf("read back %q %q, want %q %q", back.MetaData, back.UserData, sd.MetaData, sd.UserData)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644: the hypervisor's user reads it", st.Mode())
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("seed directory %v, %v: want 0755, whatever the umask", st.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// Written again, it is replaced whole.
	s.SSHKey = ""
	sd2 := seedOf(s)
	if err := writeSeed(path, sd2); err != nil {
		t.Fatal(err)
	}
	if back, err := readSeed(path); err != nil || string(back.UserData) != string(sd2.UserData) {
		t.Fatalf("rewritten seed %q, %v", back.UserData, err)
	}
}

func TestSeedContents(t *testing.T) {
	s := xmlSpec()
	s.ID = "4f2a9c01d3e5b7a8" + strings.Repeat("0", 48)
	sd := seedOf(s)
	wantMeta := "instance-id: \"" + s.ID + "\"\nlocal-hostname: \"vm-4f2a9c01d3e5\"\n"
	if string(sd.MetaData) != wantMeta {
		t.Fatalf("meta-data\n%s\nwant\n%s", sd.MetaData, wantMeta)
	}
	wantUser := "#cloud-config\nusers:\n  - name: dagger\n    shell: /bin/bash\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n" +
		"    lock_passwd: true\n    ssh_authorized_keys:\n      - \"" + testSSHKey + " op@host\"\nssh_pwauth: false\ndisable_root: true\n"
	if string(sd.UserData) != wantUser {
		t.Fatalf("user-data\n%s\nwant\n%s", sd.UserData, wantUser)
	}
	// IDs that YAML would read as a number, a boolean or null, unquoted.
	for _, id := range []string{"1e5", "0x10", "true", "null", "0123"} {
		s.ID = id
		sd := seedOf(s)
		var m map[string]any
		if err := yaml.Unmarshal(sd.MetaData, &m); err != nil {
			t.Fatal(err)
		}
		if m["instance-id"] != id {
			t.Errorf("instance-id %q reads back as %#v", id, m["instance-id"])
		}
	}
}

// Without a key the guest still refuses passwords, and has no key list.
func TestSeedWithoutAKeyStillRefusesPasswords(t *testing.T) {
	s := xmlSpec()
	s.SSHKey = ""
	sd := seedOf(s)
	u := string(sd.UserData)
	if !strings.HasPrefix(u, "#cloud-config\n") || !strings.Contains(u, "\nssh_pwauth: false\n") ||
		!strings.Contains(u, "\ndisable_root: true\n") || strings.Contains(u, "ssh_authorized_keys") {
		t.Fatalf("user-data\n%s", u)
	}
}

// Whatever the comment of a key holds, it stays one YAML string.
func TestSeedQuotesTheKey(t *testing.T) {
	for _, comment := range []string{`"quoted" \ back`, `x: y # not a comment`, `'single' {flow: [1]} &anchor *ref`,
		`<op@host> & "friends"`, "ünïcode ✓", "\u2028 line separator"} {
		s := xmlSpec()
		s.SSHKey = testSSHKey + " " + comment
		sd := seedOf(s)
		got := yamlListItem(t, string(sd.UserData), "ssh_authorized_keys")
		if got != s.SSHKey {
			t.Errorf("key %q reads back from YAML as %q", s.SSHKey, got)
		}
	}
}

// A key of more than one line never reaches a seed: no host defines it.
func TestSeedRefusesAKeyOfManyLines(t *testing.T) {
	for _, k := range []string{testSSHKey + "\n" + testSSHKey, testSSHKey + "\r", testSSHKey + "\x00", "\t" + testSSHKey,
		testSSHKey + " \x7f"} {
		s := xmlSpec()
		s.SSHKey = k
		if err := checkSpec(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("key %q: %v, want ErrInvalid", k, err)
		}
	}
}

func TestSeedHostname(t *testing.T) {
	for id, want := range map[string]string{
		"3f2a":              "vm-3f2a",
		"0123456789abcdef0": "vm-0123456789ab",
		"AB_cd":             "vm-ab-cd",
		"abcdefghijk-":      "vm-abcdefghijk",
		"a-----------x":     "vm-a",
		"_":                 "vm",
	} {
		if got := seedHostname(id); got != want {
			t.Errorf("seedHostname(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestReadSeedRefusesWhatIsNotASeed(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.iso")
	if err := os.WriteFile(junk, []byte("not an ISO image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSeed(junk); err == nil {
		t.Fatal("read a seed from junk")
	}
	if _, err := readSeed(filepath.Join(dir, "none.iso")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%v, want not exist", err)
	}
}

// yamlListItem parses doc as YAML and returns the only item of its list
// key, failing unless there is exactly one string.
// yamlListItem reads the one item of the list key of the one user in doc.
func yamlListItem(t *testing.T, doc, key string) string {
	t.Helper()
	var d struct {
		Users []map[string]any `yaml:"users"`
	}
	if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("%v in\n%s", err, doc)
	}
	if len(d.Users) != 1 || d.Users[0]["name"] != GuestUser || d.Users[0]["lock_passwd"] != true {
		t.Fatalf("users %#v, want one, %s, its password locked", d.Users, GuestUser)
	}
	m := d.Users[0]
	l, ok := m[key].([]any)
	if !ok || len(l) != 1 {
		t.Fatalf("%s: %#v, want a list of one", key, m[key])
	}
	s, ok := l[0].(string)
	if !ok {
		t.Fatalf("%s: %#v, want a string", key, l[0])
	}
	return s
}
