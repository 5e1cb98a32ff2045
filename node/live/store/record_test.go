package store

import (
	"bytes"
	"errors"
	"testing"

	"dagger/node"
)

// TestRecordDetectsEveryFlippedByte: no single-byte change to a record, or
// moving it under another key, goes unnoticed.
func TestRecordDetectsEveryFlippedByte(t *testing.T) {
	k := eventKey(node.Position{Epoch: 1, Round: 2}, 3)
	v := appendRecord(nil, k, []byte("payload"))
	if p, err := decodeRecord(k, v); err != nil || string(p) != "payload" {
		t.Fatalf("decode = %q, %v", p, err)
	}
	for i := range v {
		bad := bytes.Clone(v)
		bad[i] ^= 1
		if _, err := decodeRecord(k, bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: err = %v", i, err)
		}
	}
	if _, err := decodeRecord(eventKey(node.Position{Epoch: 1, Round: 2}, 4), v); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("record under another key: err = %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	k := eventKey(node.Position{Epoch: 1, Round: 2}, 3)
	f.Add(k, appendRecord(nil, k, []byte("payload")))
	f.Add(keyLastSigned, appendRecord(nil, keyLastSigned, make([]byte, lastSignedSize)))
	f.Add(keyHeader, appendRecord(nil, keyHeader, nil))
	f.Add([]byte{}, []byte{})
	f.Add(k, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, val []byte) {
		p, err := decodeRecord(key, val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := appendRecord(nil, key, p); !bytes.Equal(again, val) {
			t.Fatalf("decoded %x from %x, which encodes as %x", p, val, again)
		}
		if p2, err := decodeRecord(key, appendRecord(nil, key, val)); err != nil || !bytes.Equal(p2, val) {
			t.Fatalf("round trip of %x: %x, %v", val, p2, err)
		}
	})
}
