// Package keyfile reads and writes ed25519 keys in the Solana keypair
// format: a JSON array of the 64 bytes of the private key (seed, then
// public key). An operator key and a customer's wallet are the same kind of
// file, so a key made by solana-keygen works as is.
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileBytes bounds what Load reads: a keypair file is about 250 bytes.
const MaxFileBytes = 4096

// New makes a fresh key from the operating system's randomness.
func New() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// Encode returns the key in the keypair format.
func Encode(k ed25519.PrivateKey) []byte {
	nums := make([]int, len(k))
	for i, b := range k {
		nums[i] = int(b)
	}
	out, _ := json.Marshal(nums) // []int always encodes
	return append(out, '\n')
}

// Decode parses the keypair format and checks that the public half matches
// the seed, so a damaged file is never used to sign.
func Decode(data []byte) (ed25519.PrivateKey, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("key file of %d bytes: want at most %d", len(data), MaxFileBytes)
	}
	var nums []int
	if err := json.Unmarshal(bytes.TrimSpace(data), &nums); err != nil {
		return nil, fmt.Errorf("key file: want a JSON array of %d bytes: %v", ed25519.PrivateKeySize, err)
	}
	if len(nums) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key file holds %d bytes: want %d (seed and public key)", len(nums), ed25519.PrivateKeySize)
	}
	raw := make([]byte, len(nums))
	for i, n := range nums {
		if n < 0 || n > 255 {
			return nil, fmt.Errorf("key file: byte %d is %d: want 0 to 255", i, n)
		}
		raw[i] = byte(n)
	}
	k := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if !bytes.Equal(k[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
		return nil, errors.New("key file: the public key does not match the seed: the file is damaged")
	}
	return k, nil
}

// Load reads a key file. It refuses one that others than its owner may
// read or write, as ssh does: a key others can read is no longer secret.
func Load(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: others than its owner may read or change it, so it may no longer be secret; "+
			"run chmod 600 %s (and make a new key if others did read it)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	k, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Save writes k to path with mode 0600. It never overwrites: losing an
// operator key loses the operator's identity.
func Save(path string, k ed25519.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("write key: %s already exists: refusing to overwrite a key", path)
		}
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(Encode(k)); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}
