package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"

	"dagger/graph"
	"dagger/node"
)

// Key kinds; see the package comment for the layout.
const (
	kindHeader     = 'h'
	kindEvent      = 'e'
	kindIndex      = 'x'
	kindSeq        = 'q'
	kindLastSigned = 's'
	kindCommitted  = 'c'
	kindSnapshot   = 'p'
	kindMarked     = 'm'
)

// Sizes of keys and fixed-size payloads.
const (
	eventKeySize      = 1 + 8 + 8 + 8
	indexKeySize      = 1 + graph.HashSize
	snapshotKeySize   = 1 + 8
	headerSize        = 4 + 32
	seqSize           = 8
	lastSignedSize    = 8 + 8 + 4 + graph.HashSize
	committedSize     = 8 + 8 + 8
	recordFrameSize   = 4 + 4
	recordLengthBytes = 4
)

// MaxRecordBytes bounds the payload of one record: an event encoding or a
// snapshot. Events are far smaller (graph.DefaultMaxEventBytes).
const MaxRecordBytes = 1 << 30

// ErrCorrupt is wrapped by every error about a record that fails its
// length or checksum check.
var ErrCorrupt = errors.New("corrupt store record")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	keyHeader     = []byte{kindHeader}
	keySeq        = []byte{kindSeq}
	keyLastSigned = []byte{kindLastSigned}
	keyCommitted  = []byte{kindCommitted}
	keyMarked     = []byte{kindMarked}
)

// appendRecord frames payload as stored under key. The checksum covers the
// key so that a value that ends up under another key is caught too.
func appendRecord(dst, key, payload []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, dst[start:])
	return binary.BigEndian.AppendUint32(dst, sum)
}

// decodeRecord checks the frame of the value stored under key and returns
// its payload, a subslice of val.
func decodeRecord(key, val []byte) ([]byte, error) {
	if len(val) < recordFrameSize {
		return nil, corrupt(key, "value is %d bytes, shorter than its %d-byte frame", len(val), recordFrameSize)
	}
	n := binary.BigEndian.Uint32(val)
	body := len(val) - recordFrameSize
	if uint64(n) != uint64(body) {
		return nil, corrupt(key, "value says %d payload bytes but holds %d", n, body)
	}
	end := recordLengthBytes + body
	want := binary.BigEndian.Uint32(val[end:])
	got := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, val[:end])
	if got != want {
		return nil, corrupt(key, "checksum %08x, want %08x", got, want)
	}
	return val[recordLengthBytes:end:end], nil
}

// decodeFixed is decodeRecord for payloads of one known size.
func decodeFixed(key, val []byte, size int) ([]byte, error) {
	p, err := decodeRecord(key, val)
	if err == nil && len(p) != size {
		err = corrupt(key, "payload is %d bytes, want %d", len(p), size)
	}
	return p, err
}

func corrupt(key []byte, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrCorrupt, describeKey(key), fmt.Sprintf(format, args...))
}

// describeKey names a key for an operator reading an error.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "(empty key)"
	}
	switch {
	case len(k) == 1 && k[0] == kindHeader:
		return "header"
	case len(k) == 1 && k[0] == kindSeq:
		return "sequence counter"
	case len(k) == 1 && k[0] == kindLastSigned:
		return "last-signed record"
	case len(k) == 1 && k[0] == kindCommitted:
		return "commit position"
	case len(k) == 1 && k[0] == kindMarked:
		return "mark flag"
	case len(k) == eventKeySize && k[0] == kindEvent:
		pos, seq := parseEventKey(k)
		return fmt.Sprintf("event (epoch %d, round %d, seq %d)", pos.Epoch, pos.Round, seq)
	case len(k) == indexKeySize && k[0] == kindIndex:
		return "index entry of event " + hex.EncodeToString(k[1:])
	case len(k) == snapshotKeySize && k[0] == kindSnapshot:
		return fmt.Sprintf("snapshot %d", binary.BigEndian.Uint64(k[1:]))
	}
	return "key " + hex.EncodeToString(k)
}

func eventKey(pos node.Position, seq uint64) []byte {
	k := make([]byte, 1, eventKeySize)
	k[0] = kindEvent
	k = binary.BigEndian.AppendUint64(k, pos.Epoch)
	k = binary.BigEndian.AppendUint64(k, pos.Round)
	return binary.BigEndian.AppendUint64(k, seq)
}

// parseEventKey reads a key of eventKeySize bytes.
func parseEventKey(k []byte) (node.Position, uint64) {
	return node.Position{Epoch: binary.BigEndian.Uint64(k[1:]), Round: binary.BigEndian.Uint64(k[9:])},
		binary.BigEndian.Uint64(k[17:])
}

func isEventKey(k []byte) bool { return len(k) == eventKeySize && k[0] == kindEvent }

func indexKey(h graph.Hash) []byte { return append([]byte{kindIndex}, h[:]...) }

func snapshotKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindSnapshot}, index)
}

func encodeLastSigned(s node.Signed) []byte {
	b := make([]byte, 0, lastSignedSize)
	b = binary.BigEndian.AppendUint64(b, s.Epoch)
	b = binary.BigEndian.AppendUint64(b, s.Ref.Round)
	b = binary.BigEndian.AppendUint32(b, uint32(s.Ref.Creator))
	return append(b, s.Ref.Hash[:]...)
}

func decodeLastSigned(p []byte) node.Signed {
	s := node.Signed{Epoch: binary.BigEndian.Uint64(p)}
	s.Ref.Round = binary.BigEndian.Uint64(p[8:])
	s.Ref.Creator = graph.MemberID(binary.BigEndian.Uint32(p[16:]))
	copy(s.Ref.Hash[:], p[20:])
	return s
}
