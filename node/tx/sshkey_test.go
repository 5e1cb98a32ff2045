package tx

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// testSSHKey is the OpenSSH public key of the ed25519 key whose seed is 32
// bytes of 0x01 (testKey(1)'s public key, as ssh.MarshalAuthorizedKey
// writes it).
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"

// authorizedKey is pub as a .pub file's line, without its newline.
func authorizedKey(t testing.TB, pub any) string {
	t.Helper()
	p, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(p)), "\n")
}

// skKey is a security key's public key line: x/crypto/ssh parses them but
// makes none, so the wire format is written here.
func skKey(t testing.TB, ecdsaP256 bool) string {
	t.Helper()
	if !ecdsaP256 {
		blob := ssh.Marshal(struct {
			Type, Key, App string
		}{ssh.KeyAlgoSKED25519, string(testKey(3).Public().(ed25519.PublicKey)), "ssh:"})
		return ssh.KeyAlgoSKED25519 + " " + base64.StdEncoding.EncodeToString(blob)
	}
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blob := ssh.Marshal(struct {
		Type, Curve, Key, App string
	}{ssh.KeyAlgoSKECDSA256, "nistp256", string(k.PublicKey().Bytes()), "ssh:"})
	return ssh.KeyAlgoSKECDSA256 + " " + base64.StdEncoding.EncodeToString(blob)
}

// nonCanonical sets bits of k's base64 that decoding drops: the last
// character before the padding stands for 2 or 4 bits fewer than its 6.
func nonCanonical(t testing.TB, k string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(k, '=') - 1
	if i < 0 {
		t.Fatalf("%q has no padding", k)
	}
	c := strings.IndexByte(alphabet, k[i])
	return k[:i] + string(alphabet[c|1]) + k[i+1:]
}

func TestTestSSHKeyIsTestKeyOne(t *testing.T) {
	if got := authorizedKey(t, testKey(1).Public()); got != testSSHKey {
		t.Fatalf("testKey(1) is %s", got)
	}
}

func TestCheckSSHKeyAcceptsEveryAcceptedType(t *testing.T) {
	keys := map[string]string{"ed25519": testSSHKey, "sk-ed25519": skKey(t, false), "sk-ecdsa": skKey(t, true)}
	for name, c := range map[string]elliptic.Curve{"ecdsa-256": elliptic.P256(), "ecdsa-384": elliptic.P384(), "ecdsa-521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = authorizedKey(t, &k.PublicKey)
	}
	rk, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		t.Fatal(err)
	}
	keys["rsa-2048"] = authorizedKey(t, &rk.PublicKey)
	for name, k := range keys {
		for _, line := range []string{k, k + " me@host", k + " a comment, with spaces and ünïcode"} {
			if err := CheckSSHKey(line); err != nil {
				t.Errorf("%s: %q: %v", name, line, err)
			}
		}
	}
	if len(keys) != len(sshKeyTypes) {
		t.Fatalf("tested %d key types, %d are accepted", len(keys), len(sshKeyTypes))
	}
}

func TestCheckSSHKeyRejects(t *testing.T) {
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(testKey(1).Public())
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: pub, CertType: ssh.UserCert, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	_, blob, _ := strings.Cut(testSSHKey, " ")
	for _, tc := range []struct{ name, key, want string }{
		{"empty", "", "empty"},
		{"garbage", "hello world", "not an OpenSSH public key line"},
		{"a type alone", "ssh-ed25519", "not an OpenSSH public key line"},
		{"bad base64", "ssh-ed25519 AAAA!!!!", "not an OpenSSH public key line"},
		{"a key alone", blob, "not an OpenSSH public key line"},
		{"a private key", "-----BEGIN OPENSSH PRIVATE KEY-----", "not an OpenSSH public key line"},
		{"a comment line", "# " + testSSHKey, "not an OpenSSH public key line"},
		{"two keys on two lines", testSSHKey + "\n" + skKey(t, false), "line break"},
		{"garbage then a key", "garbage\n" + testSSHKey, "line break"},
		{"a trailing newline", testSSHKey + "\n", "line break"},
		{"a carriage return", testSSHKey + "\r", "line break"},
		{"a tab", "ssh-ed25519\t" + blob, "control character"},
		{"a NUL in the comment", testSSHKey + " a\x00b", "control character"},
		{"a C1 control", testSSHKey + " a\u0085b", "control character"},
		{"not UTF-8", testSSHKey + " \xff", "not UTF-8"},
		{"a leading space", " " + testSSHKey, "white space"},
		{"a trailing space", testSSHKey + " ", "white space"},
		{"two spaces after the type", "ssh-ed25519  " + blob, "as OpenSSH writes it"},
		{"base64 that is not canonical", nonCanonical(t, skKey(t, false)), "as OpenSSH writes it"},
		{"the wrong type", "ssh-rsa " + blob, `says "ssh-rsa" but holds a ssh-ed25519 key`},
		{"a command option", `command="rm -rf /" ` + testSSHKey, "options"},
		{"a flag option", "no-pty " + testSSHKey, "options"},
		{"options with a comma", `from="10.0.0.1",no-agent-forwarding ` + testSSHKey, "options"},
		{"a short RSA key", authorizedKey(t, &short.PublicKey), "RSA key of 1024 bits"},
		{"a certificate", strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(cert)), "\n"), "is not accepted"},
		{"oversized", testSSHKey + " " + strings.Repeat("c", MaxSSHKeyBytes), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSSHKey(tc.key)
			if err == nil || !strings.HasPrefix(err.Error(), "ssh key: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckSSHKey(%q) = %v, want an error mentioning %q", tc.key, err, tc.want)
			}
		})
	}
}

// A comment is the rest of the line whatever it holds: what looks like a
// second key there is no key to sshd either.
func TestCheckSSHKeyTakesAKeyLikeCommentAsAComment(t *testing.T) {
	if err := CheckSSHKey(testSSHKey + " " + skKey(t, false)); err != nil {
		t.Fatal(err)
	}
}

// Validate, hence Decode on every node, refuses a vm-create whose key is
// not one; a vm-create without a key is valid.
func TestValidateChecksTheSSHKey(t *testing.T) {
	tx := samples()[4]
	tx.Spec.SSHKey = `command="sh" ` + testSSHKey
	if err := tx.Validate(); err == nil || !strings.Contains(err.Error(), "ssh key: not an OpenSSH public key line: it starts with options") {
		t.Fatalf("Validate = %v", err)
	}
	tx.Spec.SSHKey = ""
	if err := tx.Validate(); err != nil {
		t.Fatalf("a vm-create without a key: %v", err)
	}
}

// FuzzCheckSSHKey: the check never panics, is deterministic, and accepts
// only single lines without control characters that are a canonical
// OpenSSH public key of an accepted type, possibly with a comment.
func FuzzCheckSSHKey(f *testing.F) {
	f.Add(testSSHKey)
	f.Add(testSSHKey + " me@host")
	f.Add(skKey(f, false))
	f.Add(skKey(f, true))
	f.Add("no-pty " + testSSHKey)
	f.Add(testSSHKey + "\n" + testSSHKey)
	f.Add("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC")
	f.Fuzz(func(t *testing.T, k string) {
		err := CheckSSHKey(k)
		if again := CheckSSHKey(k); (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("two answers for %q: %v, %v", k, err, again)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ssh key: ") {
				t.Fatalf("error %q does not say it is about the ssh key", err)
			}
			return
		}
		if len(k) > MaxSSHKeyBytes || strings.ContainsFunc(k, unicode.IsControl) {
			t.Fatalf("accepted %q", k)
		}
		pub, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil || len(options) != 0 || len(rest) != 0 {
			t.Fatalf("accepted %q, which parses as options %q, rest %q, %v", k, options, rest, err)
		}
		line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n"))
		if after, ok := strings.CutPrefix(k, string(line)); !ok || after != "" && after[0] != ' ' {
			t.Fatalf("accepted %q, which is not the canonical line %q and a comment", k, line)
		}
	})
}
