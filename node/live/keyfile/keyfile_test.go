package keyfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node.key")
	if err := Save(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, k) {
		t.Fatal("loaded key differs from the saved one")
	}
	if err := Save(path, k); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second save: %v, want a refusal", err)
	}
}

func TestDecodeRejectsDamagedFiles(t *testing.T) {
	k, _ := New()
	good := Encode(k)
	damaged := bytes.Replace(good, []byte("["), []byte("[1,"), 1) // 65 bytes
	flipped := Encode(append(append([]byte{}, k[:63]...), k[63]^1))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("hello"), "JSON array"},
		{"too long", damaged, "want 64"},
		{"byte out of range", []byte("[" + strings.Repeat("300,", 63) + "1]"), "want 0 to 255"},
		{"public half altered", flipped, "does not match"},
		{"huge", bytes.Repeat([]byte(" "), MaxFileBytes+1), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	k, _ := New()
	f.Add(Encode(k))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Decode(data)
		if err != nil {
			return
		}
		back, err := Decode(Encode(k))
		if err != nil || !bytes.Equal(back, k) {
			t.Fatalf("an accepted key does not round-trip: %v", err)
		}
	})
}

// TestLoadRefusesAKeyOthersMayRead: a key file readable or writable by the
// group or others is refused, with the chmod that fixes it.
func TestLoadRefusesAKeyOthersMayRead(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "node.key")
	if err := Save(p, k); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o602} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(p); err != nil || !got.Equal(k) {
		t.Fatalf("mode 0400: %v", err)
	}
}
