package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"dagger/node"
)

// The mark is a small file beside the database, written (and synced) when
// a store is created and written again each time the node signs. It is the store's witness of
// itself: a database that comes back empty, shorter or older than its
// mark says was lost, truncated or restored from an older copy, and a
// node that trusted it could sign a second event for a round it already
// signed. goleveldb recovers a cut journal by dropping what is missing and
// an empty directory by creating a new database; neither can tell that
// from a crash or a first start, the mark can.
//
// The file holds two slots, each in its own 4 KiB block, written in turn
// with the higher generation winning: a write torn by a power failure
// leaves the other slot, one signature older, intact. A slot is
//
//	magic(8) crc(4) gen(8) state(1) key(32) signed(1) epoch(8) round(8) creator(4) hash(32)
//
// where the CRC-32C covers everything after it.
const (
	markSlotSpan = 4096
	markSlotSize = 8 + 4 + 8 + 1 + ed25519.PublicKeySize + 1 + lastSignedSize
	markMagic    = "DGRMARK1"
)

// Mark states. A store is marked creating before its database header is
// written and created after: a crash between the two leaves a mark that
// lets the next start finish the creation, not one that calls the empty
// database lost.
const (
	markCreating byte = 1
	markCreated  byte = 2
)

// mark is one slot's content.
type mark struct {
	gen    uint64
	state  byte
	key    ed25519.PublicKey
	signed bool
	last   node.Signed
}

// markFile is an open mark.
type markFile struct {
	path string
	f    *os.File
	cur  mark
}

func (m mark) encode() []byte {
	p := make([]byte, 0, markSlotSize-12)
	p = binary.BigEndian.AppendUint64(p, m.gen)
	p = append(p, m.state)
	p = append(p, m.key...)
	if m.signed {
		p = append(p, 1)
		p = append(p, encodeLastSigned(m.last)...)
	} else {
		p = append(p, 0)
	}
	b := make([]byte, markSlotSize)
	copy(b, markMagic)
	copy(b[12:], p)
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[12:], castagnoli))
	return b
}

// decodeMark reads a slot; ok is false for a slot that is not a valid mark
// (never written, or torn).
func decodeMark(b []byte) (m mark, ok bool) {
	if len(b) < markSlotSize || string(b[:8]) != markMagic ||
		binary.BigEndian.Uint32(b[8:]) != crc32.Checksum(b[12:markSlotSize], castagnoli) {
		return mark{}, false
	}
	p := b[12:markSlotSize]
	m.gen = binary.BigEndian.Uint64(p)
	m.state = p[8]
	m.key = bytes.Clone(p[9 : 9+ed25519.PublicKeySize])
	p = p[9+ed25519.PublicKeySize:]
	m.signed = p[0] == 1
	if m.signed {
		m.last = decodeLastSigned(p[1:])
	}
	return m, m.state == markCreating || m.state == markCreated
}

// readMark reads the mark at path: exists is false when there is no file,
// and an error means a file that holds no valid slot.
func readMark(path string) (m mark, exists bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return mark{}, false, nil
	}
	if err != nil {
		return mark{}, true, fmt.Errorf("read store mark: %w", err)
	}
	found := false
	for off := 0; off < len(b); off += markSlotSpan {
		if s, ok := decodeMark(b[off:]); ok && (!found || s.gen > m.gen) {
			m, found = s, true
		}
	}
	if !found {
		return mark{}, true, fmt.Errorf("store mark %s is %d bytes and holds no valid slot: it is damaged", path, len(b))
	}
	return m, true, nil
}

// createMark writes a new mark at path, both slots, and syncs the file
// and its directory so that the file's existence is durable too.
func createMark(path string, m mark) (*markFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create store mark: %w", err)
	}
	mf := &markFile{path: path, f: f, cur: m}
	buf := make([]byte, 2*markSlotSpan)
	enc := m.encode()
	copy(buf, enc)
	copy(buf[markSlotSpan:], enc)
	if _, err = f.WriteAt(buf, 0); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write store mark %s: %w", path, err)
	}
	return mf, nil
}

// openMark opens an existing mark whose content m was read.
func openMark(path string, m mark) (*markFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open store mark: %w", err)
	}
	return &markFile{path: path, f: f, cur: m}, nil
}

// write records m as the next generation, in the slot the current one
// does not use, and returns once it is on disk.
func (mf *markFile) write(m mark) error { return mf.put(m, true) }

// put is write, syncing only if sync is set.
func (mf *markFile) put(m mark, sync bool) error {
	m.gen = mf.cur.gen + 1
	m.key = mf.cur.key
	_, err := mf.f.WriteAt(m.encode(), int64(m.gen%2)*markSlotSpan)
	if err == nil && sync {
		err = mf.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write store mark %s: %w", mf.path, err)
	}
	mf.cur = m
	return nil
}

// setSigned records s as the latest signed event, after the store has it
// on disk. It does not sync: the mark is never ahead of the store, and a
// mark a crash leaves behind it is brought up to date at the next start
// (checkMark). What it guards against is the store losing what it had
// synced, or being replaced by an older copy, after the page cache wrote
// the mark out, within seconds. A torn slot leaves the other one.
func (mf *markFile) setSigned(s node.Signed) error {
	m := mf.cur
	m.signed, m.last = true, s
	return mf.put(m, false)
}

func (mf *markFile) close() error {
	if mf == nil {
		return nil
	}
	return mf.f.Close()
}

// before says whether signed event a comes before b in the node's signing
// order: by epoch, then round.
func before(a, b node.Signed) bool {
	if a.Epoch != b.Epoch {
		return a.Epoch < b.Epoch
	}
	return a.Ref.Round < b.Ref.Round
}

func describeSigned(signed bool, s node.Signed) string {
	if !signed {
		return "no event"
	}
	return fmt.Sprintf("epoch %d round %d (event %s)", s.Epoch, s.Ref.Round, s.Ref.Hash)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
