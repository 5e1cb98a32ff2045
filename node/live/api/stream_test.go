package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"dagger/graph"
)

func hashes(n int, seed byte) []graph.Hash {
	hs := make([]graph.Hash, n)
	for i := range hs {
		hs[i] = graph.TxHash([]byte{seed, byte(i), byte(i >> 8), byte(i >> 16)})
	}
	return hs
}

// readFrames decodes every frame of b.
func readFrames(t *testing.T, b []byte) ([]CommitTxs, error) {
	t.Helper()
	s := NewCommitStream(bytes.NewReader(b), nil)
	var out []CommitTxs
	for {
		c, err := s.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, c)
	}
}

// TestCommitFrames: a commit's frames decode to its hashes in order; an
// empty commit is one frame; a large one is split into frames of at most
// MaxStreamFrameTxs with the same index; an end frame carries its reason.
func TestCommitFrames(t *testing.T) {
	big := hashes(MaxStreamFrameTxs+5, 3)
	b := AppendCommitFrames(nil, CommitTxs{Index: 7, TimeUnixNs: -1})
	b = AppendCommitFrames(b, CommitTxs{Index: 8, TimeUnixNs: 1234, Hashes: hashes(3, 1)})
	b = AppendCommitFrames(b, CommitTxs{Index: 9, TimeUnixNs: 99, Hashes: big})
	b = AppendEndFrame(b, "the node stopped")
	got, err := readFrames(t, b)
	var end *StreamEndedError
	if !errors.As(err, &end) || end.Reason != "the node stopped" {
		t.Fatalf("end: %v", err)
	}
	if len(got) != 4 {
		t.Fatalf("%d frames, want 4", len(got))
	}
	if got[0].Index != 7 || got[0].TimeUnixNs != -1 || len(got[0].Hashes) != 0 {
		t.Fatalf("empty commit: %+v", got[0])
	}
	if got[1].Index != 8 || got[1].TimeUnixNs != 1234 || !slices.Equal(got[1].Hashes, hashes(3, 1)) {
		t.Fatalf("small commit: %+v", got[1])
	}
	if got[2].Index != 9 || got[3].Index != 9 || len(got[2].Hashes) != MaxStreamFrameTxs ||
		!slices.Equal(append(got[2].Hashes, got[3].Hashes...), big) {
		t.Fatalf("split commit: %d + %d hashes", len(got[2].Hashes), len(got[3].Hashes))
	}
}

// TestCommitStreamRefusesMalformedFrames: each damage is an error that
// says what is wrong, never a panic or a wrong commit.
func TestCommitStreamRefusesMalformedFrames(t *testing.T) {
	good := AppendCommitFrames(nil, CommitTxs{Index: 1, Hashes: hashes(2, 0)})
	frame := func(body ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"zero length", binary.BigEndian.AppendUint32(nil, 0)},
		{"huge length", binary.BigEndian.AppendUint32(nil, MaxStreamFrameBytes+1)},
		{"cut inside a frame", good[:len(good)-3]},
		{"cut inside the length", good[:2]},
		{"unknown kind", frame(9, 0, 0)},
		{"count over the hashes", frame(append([]byte{FrameCommit}, make([]byte, 8+8)...)...)},
		{"trailing bytes", frame(append(good[4:], 0)...)},
		{"count past the bound", frame(append(append([]byte{FrameCommit}, make([]byte, 16)...), 0xff, 0xff, 0xff, 0xff)...)},
	} {
		_, err := readFrames(t, tc.b)
		var end *StreamEndedError
		if err == nil || errors.As(err, &end) {
			t.Errorf("%s: %v, want an error", tc.name, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendCommitFrames(nil, CommitTxs{Index: 3, TimeUnixNs: 4, Hashes: hashes(2, 9)})[4:])
	f.Add(AppendEndFrame(nil, "bye")[4:])
	f.Add([]byte{FrameCommit})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeFrame(b)
		if err != nil {
			return
		}
		// What decodes encodes back to the same bytes.
		if again := AppendCommitFrames(nil, c); !bytes.Equal(again[4:], b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, c, again[4:])
		}
	})
}

// TestCommitStreamServes: a client sees each commit the node publishes,
// in order, then the node's reason when it ends the stream; a stream over
// the bound is refused with 503 and Retry-After.
func TestCommitStreamServes(t *testing.T) {
	f := newFake()
	f.watch = make(chan CommitTxs, 4)
	c := newClient(t, f, Options{MaxWatchers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.WatchCommits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, err = c.WatchCommits(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Code != CodeBusy {
		t.Fatalf("a second stream over the bound: %v", err)
	}

	want := []CommitTxs{{Index: 1, TimeUnixNs: 10, Hashes: hashes(2, 1)}, {Index: 2, TimeUnixNs: 20}, {Index: 3, TimeUnixNs: 30, Hashes: hashes(5, 2)}}
	for _, cm := range want {
		f.watch <- cm
	}
	for i, w := range want {
		got, err := s.Next()
		if err != nil || got.Index != w.Index || got.TimeUnixNs != w.TimeUnixNs || !slices.Equal(got.Hashes, w.Hashes) {
			t.Fatalf("commit %d: %+v %v, want %+v", i, got, err, w)
		}
	}
	f.mu.Lock()
	f.watchErr = ErrWatchBehind
	f.mu.Unlock()
	close(f.watch)
	_, err = s.Next()
	var end *StreamEndedError
	if !errors.As(err, &end) || end.Reason != ErrWatchBehind.Error() {
		t.Fatalf("the end: %v", err)
	}
}

// TestClientSubmitOpaque: the client reports what a full queue took and
// that the node says slow down.
func TestClientSubmitOpaque(t *testing.T) {
	f := newFake()
	c := newClient(t, f, Options{Opaque: true})
	ctx := context.Background()
	res, err := c.SubmitOpaque(ctx, [][]byte{[]byte("a"), []byte("b")})
	if err != nil || res.Accepted != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	f.opaqueRoom = 3
	res, err = c.SubmitOpaque(ctx, [][]byte{[]byte("c"), []byte("d"), []byte("e")})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBusy || e.Status != http.StatusServiceUnavailable || res.Accepted != 1 || res.Refused != 2 {
		t.Fatalf("a full queue: %+v %v", res, err)
	}
	off := newClient(t, newFake(), Options{})
	if _, err := off.SubmitOpaque(ctx, [][]byte{[]byte("a")}); !errors.As(err, &e) || e.Code != CodeNotFound {
		t.Fatalf("disabled: %v", err)
	}
}
