package provision

// The cloud-init seed: how a customer's SSH key reaches the guest. Each VM
// gets a small ISO image that Libvirt attaches as a read-only CD-ROM; a
// cloud image's cloud-init finds it by its volume label (its NoCloud data
// source) and reads two files from it: meta-data names the instance, and
// user-data installs the key and turns password logins off.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// seedLabel is the volume label cloud-init's NoCloud data source looks for.
const seedLabel = "cidata"

// The seed's two files, named as cloud-init expects them.
const (
	seedMetaData = "meta-data"
	seedUserData = "user-data"
)

// maxSeedBytes bounds what readSeed reads back: a seed holds two files of
// at most a few KiB (the key is at most MaxSSHKeyBytes), which the ISO's
// system area and descriptors round up to well under it.
const maxSeedBytes = 1 << 20

// seed is what the guest reads from its seed image.
type seed struct {
	MetaData []byte
	UserData []byte
}

// seedOf returns the seed of s, a spec that checkSpec accepts: its key, if
// any, is one line.
func seedOf(s Spec) seed {
	var meta bytes.Buffer
	fmt.Fprintf(&meta, "instance-id: %s\n", yamlString(s.ID))
	fmt.Fprintf(&meta, "local-hostname: %s\n", yamlString(seedHostname(s.ID)))

	var user bytes.Buffer
	user.WriteString("#cloud-config\n")
	// cloud-init creates the owner's account, GuestUser, whatever the
	// image's default user is called, so that the access the cluster
	// publishes is one command line; it gets the owner's key, a locked
	// password and sudo. sshd refuses passwords (ssh_pwauth) and turns
	// root's SSH logins away (disable_root).
	user.WriteString("users:\n")
	fmt.Fprintf(&user, "  - name: %s\n", GuestUser)
	user.WriteString("    shell: /bin/bash\n")
	user.WriteString("    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n")
	user.WriteString("    lock_passwd: true\n")
	if s.SSHKey != "" {
		fmt.Fprintf(&user, "    ssh_authorized_keys:\n      - %s\n", yamlString(s.SSHKey))
	}
	user.WriteString("ssh_pwauth: false\n")
	user.WriteString("disable_root: true\n")
	return seed{MetaData: meta.Bytes(), UserData: user.Bytes()}
}

// yamlString quotes s as a YAML double-quoted scalar: a JSON string is one,
// and JSON escapes every character YAML would read as syntax.
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(fmt.Sprintf("provision: quote %q: %v", s, err)) // a string always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// seedHostname is the guest's host name: "vm-" and the start of its ID, a
// valid DNS label whatever the ID (IDs may hold '_' and upper case).
func seedHostname(id string) string {
	const idChars = 12
	h := strings.ToLower(id[:min(len(id), idChars)])
	h = strings.ReplaceAll(h, "_", "-")
	return strings.TrimRight("vm-"+h, "-")
}

// writeSeed writes sd as an ISO image at path, atomically: the image is
// built in a temporary file beside it, read back and compared, and only
// then renamed into place, so that the hypervisor never sees half a seed.
func writeSeed(path string, sd seed) (err error) {
	dir := filepath.Dir(path)
	if err := makeSeedDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := buildSeed(f, sd); err != nil {
		return fmt.Errorf("build the ISO image: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	err, f = f.Close(), nil
	if err != nil {
		return err
	}
	// The ISO writer leaves some of its writes unchecked: what it wrote
	// is read back before the hypervisor may use it.
	back, err := readSeed(tmp)
	if err != nil {
		return fmt.Errorf("read back the ISO image: %w", err)
	}
	if !bytes.Equal(back.MetaData, sd.MetaData) || !bytes.Equal(back.UserData, sd.UserData) {
		return errors.New("read back the ISO image: its files differ from what was written")
	}
	return os.Rename(tmp, path)
}

// makeSeedDir makes the seed directory if there is none, readable by all:
// the hypervisor reads the seeds as another user, whatever the node's
// umask. A directory that exists is the operator's, and left as it is.
func makeSeedDir(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// buildSeed writes sd's ISO 9660 image to f. Rock Ridge and Joliet carry
// the files' real names: plain ISO 9660 would show them as META_DAT.
func buildSeed(f *os.File, sd seed) (err error) {
	// The writer copies the workspace's modes into the image: its root
	// is made readable by all, as a CD-ROM's is, not the 0700 of a
	// temporary directory.
	ws, err := os.MkdirTemp("", "dagger-seed-")
	if err != nil {
		return err
	}
	if err := os.Chmod(ws, 0o755); err != nil {
		os.RemoveAll(ws)
		return err
	}
	iso, err := iso9660.Create(file.New(f, false), 0, 0, 2048, ws)
	if err != nil {
		os.RemoveAll(ws)
		return err
	}
	defer func() {
		if cerr := iso.Close(); err == nil {
			err = cerr
		}
	}()
	for _, c := range []struct {
		name string
		data []byte
	}{{seedMetaData, sd.MetaData}, {seedUserData, sd.UserData}} {
		w, err := iso.OpenFile(c.name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return err
		}
		_, err = w.Write(c.data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return iso.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: seedLabel})
}

// readSeed reads a seed image back: its label must be seedLabel, and it
// must hold meta-data and user-data and nothing else.
func readSeed(path string) (seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return seed{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return seed{}, err
	}
	if st.Size() > maxSeedBytes {
		return seed{}, fmt.Errorf("%d bytes: a seed has at most %d", st.Size(), maxSeedBytes)
	}
	iso, err := iso9660.Read(file.New(f, true), st.Size(), 0, 2048)
	if err != nil {
		return seed{}, err
	}
	// The writer pads the label with NULs where ISO 9660 says spaces; the
	// guest's tools read up to either.
	if got := strings.TrimRight(iso.Label(), "\x00 "); got != seedLabel {
		return seed{}, fmt.Errorf("volume label %q, want %q", got, seedLabel)
	}
	entries, err := iso.ReadDir(".")
	if err != nil {
		return seed{}, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	slices.Sort(names)
	if want := []string{seedMetaData, seedUserData}; !slices.Equal(names, want) {
		return seed{}, fmt.Errorf("files %q, want %q", names, want)
	}
	var sd seed
	for _, c := range []struct {
		name string
		to   *[]byte
	}{{seedMetaData, &sd.MetaData}, {seedUserData, &sd.UserData}} {
		if *c.to, err = fs.ReadFile(iso, c.name); err != nil {
			return seed{}, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return sd, nil
}
