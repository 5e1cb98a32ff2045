package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := [][]byte{{1}, bytes.Repeat([]byte{2}, 300), bytes.Repeat([]byte{3}, 100_000)}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, m := range msgs {
		if err := writeFrame(w, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	for i, want := range msgs {
		n, err := readFrameLength(r, 1<<20)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, err %v", i, len(got), err)
		}
	}
	if _, err := readFrameLength(r, 1<<20); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestFrameLengthRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty message", []byte{0, 0, 0, 0}},
		{"one over the limit", []byte{0, 0, 1, 1}},
		{"largest length", []byte{0xff, 0xff, 0xff, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readFrameLength(bytes.NewReader(tc.in), 256); !errors.Is(err, errFrame) {
				t.Fatalf("got %v, want errFrame", err)
			}
		})
	}
	if _, err := readFrameLength(bytes.NewReader([]byte{0, 0}), 256); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated header: got %v, want unexpected EOF", err)
	}
}

// FuzzFrame decodes arbitrary streams: the decoder never accepts a length
// outside 1..max, and every frame it accepts re-encodes to the bytes it
// consumed.
func FuzzFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 7}, uint16(16))
	f.Add([]byte{0, 0, 0, 2, 7, 8, 0, 0, 0, 1, 9}, uint16(16))
	f.Add([]byte{0, 0, 0, 0}, uint16(16))
	f.Add([]byte{0, 0, 0, 17}, uint16(16))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, uint16(0xffff))
	f.Fuzz(func(t *testing.T, in []byte, maxBytes uint16) {
		limit := int(maxBytes)
		r := bytes.NewReader(in)
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		for {
			n, err := readFrameLength(r, limit)
			if err != nil {
				if !errors.Is(err, errFrame) && err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if n < 1 || n > limit {
				t.Fatalf("accepted length %d, limit %d", n, limit)
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				break
			}
			if err := writeFrame(w, msg); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, out.Bytes()) {
			t.Fatalf("re-encoded frames %x are not a prefix of the input %x", out.Bytes(), in)
		}
	})
}
