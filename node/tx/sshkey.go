package tx

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// MinRSABits is the smallest RSA key a vm-create may carry: smaller ones
// are breakable, and current OpenSSH refuses them.
const MinRSABits = 2048

// sshKeyTypes are the key types a vm-create may carry: those a current
// OpenSSH server accepts by default, without certificates (which would need
// a certificate authority in the guest) and without DSA.
var sshKeyTypes = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSA,
	ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256,
}

// CheckSSHKey checks that k is one OpenSSH public key line, as a .pub file
// holds it and a guest's authorized_keys takes it: "TYPE BASE64 [COMMENT]",
// with nothing before the type (no options such as command=), nothing on
// another line, and a key of an accepted type and size. Every node applies
// it to every vm-create (Validate), so it is a pure function of k; clients
// apply it before they sign.
func CheckSSHKey(k string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ssh key: not an OpenSSH public key line: "+format, args...)
	}
	// ParseAuthorizedKey skips lines it cannot parse, and comments: the
	// key must be the whole of k, so k must be one line.
	switch {
	case k == "":
		return bad("empty")
	case len(k) > MaxSSHKeyBytes:
		return bad("%d bytes, at most %d", len(k), MaxSSHKeyBytes)
	case !utf8.ValidString(k):
		return bad("not UTF-8")
	case strings.ContainsAny(k, "\r\n"):
		return bad("it holds a line break: pass one key, on one line")
	case strings.ContainsFunc(k, unicode.IsControl):
		return bad("it holds a control character")
	case strings.TrimSpace(k) != k:
		return bad("it starts or ends with white space")
	}
	pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(k))
	if err != nil {
		return bad("%v", err)
	}
	if len(options) > 0 {
		return bad("it starts with options (%.40q): pass the bare key, as in the .pub file", options[0])
	}
	// ParseAuthorizedKey reads the type from the key itself and ignores
	// the word before it, which OpenSSH does not.
	if typ, _, _ := strings.Cut(k, " "); typ != pub.Type() {
		return bad("it says %.40q but holds a %s key", typ, pub.Type())
	}
	// The key is written as OpenSSH writes it, so that what the cluster
	// commits is read the same by any parser: one space after the type,
	// the key in canonical base64, then the comment if any.
	line := pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal())
	if rest, ok := strings.CutPrefix(k, line); !ok || rest != "" && rest[0] != ' ' {
		return bad("the key is not written as OpenSSH writes it (one space after the type, then canonical base64)")
	}
	if !slices.Contains(sshKeyTypes, pub.Type()) {
		return fmt.Errorf("ssh key: type %s is not accepted: use one of %s", pub.Type(), strings.Join(sshKeyTypes, ", "))
	}
	if pub.Type() == ssh.KeyAlgoRSA {
		if bits := rsaBits(pub); bits < MinRSABits {
			return fmt.Errorf("ssh key: an RSA key of %d bits: want at least %d (or an ed25519 key)", bits, MinRSABits)
		}
	}
	return nil
}

// rsaBits is the size of an ssh-rsa key's modulus, 0 if pub is not one.
func rsaBits(pub ssh.PublicKey) int {
	c, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return 0
	}
	k, ok := c.CryptoPublicKey().(*rsa.PublicKey)
	if !ok {
		return 0
	}
	return k.N.BitLen()
}
