package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var errTest = errors.New("test")

func wrap(msg string) error { return errors.Join(errTest, errors.New(msg)) }

// TestRoundTrip: what a Writer writes, a Reader reads back field by field,
// to the last byte.
func TestRoundTrip(t *testing.T) {
	var w Writer
	w.U8(7)
	w.U16(0xbeef)
	w.U32(0xdeadbeef)
	w.U64(1 << 60)
	w.I64(-5)
	w.Flag(true)
	w.Flag(false)
	w.Raw([]byte{1, 2, 3})
	w.Count(2)
	w.Bytes16([]byte("ab"))
	w.Bytes32([]byte("cde"))
	w.Str16("héllo")
	w.Str32("wörld")

	r := NewReader(w.B, wrap)
	var fixed [3]byte
	got := []any{r.U8("a"), r.U16("b"), r.U32("c"), r.U64("d"), r.I64("e"), r.Flag("f"), r.Flag("g")}
	r.Fixed(fixed[:], "h")
	got = append(got, fixed, r.Count("i", 2, 1), string(r.Bytes16(2, "j")), string(r.Bytes32(3, "k")), r.Str16(6, "l"), r.Str32(6, "m"))
	r.End()
	want := []any{uint8(7), uint16(0xbeef), uint32(0xdeadbeef), uint64(1 << 60), int64(-5), true, false, [3]byte{1, 2, 3}, 2, "ab", "cde", "héllo", "wörld"}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// TestErrorsStickAndNameTheField: the first error is kept, names the field
// and the offset, and is the caller's kind; later reads return zero values.
func TestErrorsStickAndNameTheField(t *testing.T) {
	r := NewReader([]byte{0, 1, 2}, wrap)
	r.U16("first")
	if v := r.U32("length"); v != 0 || r.Err() == nil {
		t.Fatalf("read past the end: %d, %v", v, r.Err())
	}
	first := r.Err()
	if !errors.Is(first, errTest) || !strings.Contains(first.Error(), "reading length") || !strings.Contains(first.Error(), "byte 2") {
		t.Fatalf("error %q", first)
	}
	if r.U8("next") != 0 || r.Err() != first {
		t.Fatal("a later read replaced the first error or returned a value")
	}
}

// TestLimits: lengths beyond their limit, counts the remaining bytes cannot
// hold, flags other than 0 and 1, strings that are not UTF-8 and trailing
// bytes are refused.
func TestLimits(t *testing.T) {
	cases := []struct {
		name string
		in   func(w *Writer)
		read func(r *Reader)
		want string
	}{
		{"bytes16 over max", func(w *Writer) { w.Bytes16(make([]byte, 10)) }, func(r *Reader) { r.Bytes16(9, "x") }, "x: 10 bytes, at most 9"},
		{"bytes32 over max", func(w *Writer) { w.U32(1 << 31) }, func(r *Reader) { r.Bytes32(100, "x") }, "at most 100"},
		{"count over max", func(w *Writer) { w.Count(11) }, func(r *Reader) { r.Count("items", 10, 1) }, "11 items, at most 10"},
		{"count beyond input", func(w *Writer) { w.Count(5); w.Raw(make([]byte, 9)) }, func(r *Reader) { r.Count("items", 10, 2) }, "cannot fit in the 9 bytes left"},
		{"flag", func(w *Writer) { w.U8(2) }, func(r *Reader) { r.Flag("on") }, "on: flag 2"},
		{"utf8", func(w *Writer) { w.Bytes16([]byte{0xff}) }, func(r *Reader) { r.Str16(5, "name") }, "name is not UTF-8"},
		{"trailing", func(w *Writer) { w.U16(1) }, func(r *Reader) { r.U8("x") }, "1 trailing bytes"},
	}
	for _, c := range cases {
		var w Writer
		c.in(&w)
		r := NewReader(w.B, wrap)
		c.read(&r)
		r.End()
		if r.Err() == nil || !strings.Contains(r.Err().Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, r.Err(), c.want)
		}
	}
}

// TestTakenSlicesCannotGrowIntoTheInput: appending to a slice a Reader
// returned never writes over the bytes after it.
func TestTakenSlicesCannotGrowIntoTheInput(t *testing.T) {
	in := []byte("abcdef")
	r := NewReader(in, wrap)
	s := r.Take(3, "x")
	_ = append(s, 'X')
	if !bytes.Equal(in, []byte("abcdef")) || cap(s) != 3 {
		t.Fatalf("input %q, cap %d", in, cap(s))
	}
}

// FuzzReader: any input, read as any sequence of fields, never panics,
// never allocates for a length beyond the input, and either fails or
// accounts for every byte it read.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c'}, []byte{9, 8})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, []byte{7, 6, 5})
	f.Fuzz(func(t *testing.T, in, ops []byte) {
		r := NewReader(in, wrap)
		for _, op := range ops {
			switch op % 11 {
			case 0:
				r.U8("u8")
			case 1:
				r.U16("u16")
			case 2:
				r.U32("u32")
			case 3:
				r.U64("u64")
			case 4:
				r.Flag("flag")
			case 5:
				if n := r.Count("list", 1<<20, 4); n*4 > len(in) {
					t.Fatalf("count %d for %d bytes of input", n, len(in))
				}
			case 6:
				if b := r.Bytes16(1<<16, "b16"); len(b) > len(in) {
					t.Fatal("bytes16 longer than the input")
				}
			case 7:
				r.Bytes32(1<<30, "b32")
			case 8:
				r.Str16(64, "s16")
			case 9:
				r.Str32(64, "s32")
			case 10:
				r.Take(int(op), "take")
			}
		}
		if r.Err() == nil && r.Offset()+r.Left() != len(in) {
			t.Fatalf("offset %d + left %d != %d", r.Offset(), r.Left(), len(in))
		}
	})
}
