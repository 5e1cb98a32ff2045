// Package codec reads and writes the fields of DAGGER's canonical binary
// encodings: events (package graph), cluster transactions (node/tx) and
// snapshots of the cluster state (node/cluster). Every field has a fixed
// width and is big-endian; a string or byte string is its length (16 or 32
// bits) followed by its bytes; a flag is one byte, 0 or 1.
//
// A Reader keeps the first error it meets and returns zero values after
// it, so a decoder reads every field in order and checks Err once. It
// never allocates for a length it has not checked against a limit and
// against the bytes that are left, and the slices it returns alias its
// input with their capacity cut to their length, so appending to one can
// never overwrite the input. The package is pure: no reflection, no I/O.
package codec

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Reader decodes fields from a byte slice. The zero value reads nothing;
// use NewReader.
type Reader struct {
	b    []byte
	off  int
	err  error
	wrap func(msg string) error
}

// NewReader reads b. wrap turns a message into the caller's error (its
// kind and context), e.g. "transaction malformed: <msg>".
func NewReader(b []byte, wrap func(msg string) error) Reader {
	return Reader{b: b, wrap: wrap}
}

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Fail records an error unless one is recorded already.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = r.wrap(fmt.Sprintf(format, args...))
	}
}

// Offset is the number of bytes read.
func (r *Reader) Offset() int { return r.off }

// Left is the number of bytes not yet read.
func (r *Reader) Left() int { return len(r.b) - r.off }

// End fails unless every byte was read.
func (r *Reader) End() {
	if r.err == nil && r.off != len(r.b) {
		r.Fail("%d trailing bytes", len(r.b)-r.off)
	}
}

// Take returns the next n bytes, sharing the input.
func (r *Reader) Take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.Left() < n {
		r.Fail("truncated at byte %d reading %s: %d bytes left, want %d", r.off, what, r.Left(), n)
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// U8 reads a byte.
func (r *Reader) U8(what string) uint8 {
	if s := r.Take(1, what); s != nil {
		return s[0]
	}
	return 0
}

// U16 reads a 16-bit integer.
func (r *Reader) U16(what string) uint16 {
	if s := r.Take(2, what); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

// U32 reads a 32-bit integer.
func (r *Reader) U32(what string) uint32 {
	if s := r.Take(4, what); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// U64 reads a 64-bit integer.
func (r *Reader) U64(what string) uint64 {
	if s := r.Take(8, what); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

// I64 reads a 64-bit signed integer (two's complement).
func (r *Reader) I64(what string) int64 { return int64(r.U64(what)) }

// Fixed fills dst.
func (r *Reader) Fixed(dst []byte, what string) {
	if s := r.Take(len(dst), what); s != nil {
		copy(dst, s)
	}
}

// Flag reads a byte that must be 0 or 1.
func (r *Reader) Flag(what string) bool {
	v := r.U8(what)
	if v > 1 {
		r.Fail("%s: flag %d, want 0 or 1", what, v)
	}
	return v == 1
}

// Count reads a list's 32-bit length and checks it against max and
// against the bytes left, each entry taking at least min bytes, so that
// nothing is allocated for a list the input cannot hold.
func (r *Reader) Count(what string, max, min int) int {
	n := uint64(r.U32(what + " count"))
	switch {
	case r.err != nil:
		return 0
	case n > uint64(max):
		r.Fail("%d %s, at most %d", n, what, max)
		return 0
	case n*uint64(min) > uint64(r.Left()):
		r.Fail("%d %s cannot fit in the %d bytes left", n, what, r.Left())
		return 0
	}
	return int(n)
}

// Bytes16 reads a byte string with a 16-bit length of at most max,
// sharing the input.
func (r *Reader) Bytes16(max int, what string) []byte {
	return r.sized(uint64(r.U16(what+" length")), max, what)
}

// Bytes32 reads a byte string with a 32-bit length of at most max,
// sharing the input.
func (r *Reader) Bytes32(max int, what string) []byte {
	return r.sized(uint64(r.U32(what+" length")), max, what)
}

func (r *Reader) sized(n uint64, max int, what string) []byte {
	if r.err == nil && n > uint64(max) {
		r.Fail("%s: %d bytes, at most %d", what, n, max)
	}
	return r.Take(int(n), what)
}

// Str16 reads a UTF-8 string with a 16-bit length of at most max bytes.
func (r *Reader) Str16(max int, what string) string { return r.utf8(r.Bytes16(max, what), what) }

// Str32 reads a UTF-8 string with a 32-bit length of at most max bytes.
func (r *Reader) Str32(max int, what string) string { return r.utf8(r.Bytes32(max, what), what) }

func (r *Reader) utf8(v []byte, what string) string {
	if r.err == nil && !utf8.Valid(v) {
		r.Fail("%s is not UTF-8", what)
	}
	return string(v)
}

// Writer appends fields to B in the encoding Reader reads.
type Writer struct{ B []byte }

// Raw appends p as it is.
func (w *Writer) Raw(p []byte) { w.B = append(w.B, p...) }

// U8 appends a byte.
func (w *Writer) U8(v uint8) { w.B = append(w.B, v) }

// U16 appends a 16-bit integer.
func (w *Writer) U16(v uint16) { w.B = binary.BigEndian.AppendUint16(w.B, v) }

// U32 appends a 32-bit integer.
func (w *Writer) U32(v uint32) { w.B = binary.BigEndian.AppendUint32(w.B, v) }

// U64 appends a 64-bit integer.
func (w *Writer) U64(v uint64) { w.B = binary.BigEndian.AppendUint64(w.B, v) }

// I64 appends a 64-bit signed integer.
func (w *Writer) I64(v int64) { w.U64(uint64(v)) }

// Flag appends 1 for true, 0 for false.
func (w *Writer) Flag(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// Count appends a list's 32-bit length.
func (w *Writer) Count(n int) { w.U32(uint32(n)) }

// Bytes16 appends a byte string with a 16-bit length; the caller keeps
// it within its limit.
func (w *Writer) Bytes16(p []byte) {
	w.U16(uint16(len(p)))
	w.Raw(p)
}

// Bytes32 appends a byte string with a 32-bit length.
func (w *Writer) Bytes32(p []byte) {
	w.U32(uint32(len(p)))
	w.Raw(p)
}

// Str16 appends a string with a 16-bit length.
func (w *Writer) Str16(s string) {
	w.U16(uint16(len(s)))
	w.B = append(w.B, s...)
}

// Str32 appends a string with a 32-bit length.
func (w *Writer) Str32(s string) {
	w.U32(uint32(len(s)))
	w.B = append(w.B, s...)
}
