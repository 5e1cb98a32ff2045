package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"dagger/graph"
	"dagger/graph/codec"
)

// The commit stream (GET /v1/commits/stream) tells a client, as they
// happen, which transactions each commit delivered: what a benchmark's
// load generator needs to time every transaction it sent, and what any
// client that follows the ledger needs, without polling. It is a
// sequence of frames, each a 4-byte big-endian length and then that many
// bytes, the first of which is the frame's kind:
//
//	commit (1): index u64, consensus time in Unix ns i64, count u32, then
//	            count transaction hashes (graph.TxHash) of 32 bytes each,
//	            in the commit's order. A commit of more than
//	            MaxStreamFrameTxs transactions takes several frames with
//	            the same index.
//	end (2):    the rest is UTF-8 text saying why the node ends the
//	            stream (it stopped, or the client fell behind); the
//	            connection closes after it.
//
// The stream starts with the next commit the node applies. A client
// that does not read loses its place: once more than MaxWatchBytes of
// hashes wait for it, the node ends its stream.
const (
	FrameCommit = 1
	FrameEnd    = 2
	// MaxStreamFrameTxs bounds the hashes of one commit frame.
	MaxStreamFrameTxs = 1 << 16
	// MaxStreamFrameBytes bounds a frame: a full commit frame.
	MaxStreamFrameBytes = 1 + 8 + 8 + 4 + MaxStreamFrameTxs*32
	// MaxWatchBytes bounds the hashes queued for one watcher.
	MaxWatchBytes = 32 << 20
	// DefaultMaxWatchers bounds the streams served at once.
	DefaultMaxWatchers = 8
	// streamWriteTime bounds the write of one frame: a client that stops
	// reading is cut off after it.
	streamWriteTime = 30 * time.Second
	// streamEndTextMax bounds an end frame's text.
	streamEndTextMax = 1024
)

// CommitTxs is one commit as the stream tells it.
type CommitTxs struct {
	Index      uint64
	TimeUnixNs int64
	Hashes     []graph.Hash
}

// Watch is one subscription to the commits a node applies: C yields them
// in order; once C is closed, Err says why (nil: the subscriber's
// context ended).
type Watch struct {
	C   <-chan CommitTxs
	Err func() error
}

// ErrWatchBehind ends the stream of a watcher that fell behind.
var ErrWatchBehind = errors.New("the client fell behind the commits: more than 32 MiB of transaction hashes waited for it")

// AppendCommitFrames appends c's frames to b.
func AppendCommitFrames(b []byte, c CommitTxs) []byte {
	hs := c.Hashes
	for first := true; first || len(hs) > 0; first = false {
		n := min(len(hs), MaxStreamFrameTxs)
		w := codec.Writer{B: b}
		w.U32(uint32(1 + 8 + 8 + 4 + 32*n))
		w.U8(FrameCommit)
		w.U64(c.Index)
		w.I64(c.TimeUnixNs)
		w.Count(n)
		for _, h := range hs[:n] {
			w.Raw(h[:])
		}
		b, hs = w.B, hs[n:]
	}
	return b
}

// AppendEndFrame appends an end frame saying why to b.
func AppendEndFrame(b []byte, why string) []byte {
	if len(why) > streamEndTextMax {
		why = why[:streamEndTextMax]
	}
	w := codec.Writer{B: b}
	w.U32(uint32(1 + len(why)))
	w.U8(FrameEnd)
	w.Raw([]byte(why))
	return w.B
}

// StreamEndedError is what a stream's end frame said.
type StreamEndedError struct{ Reason string }

func (e *StreamEndedError) Error() string { return "the node ended the commit stream: " + e.Reason }

// CommitStream reads a commit stream's frames.
type CommitStream struct {
	r    *bufio.Reader
	body io.Closer
	buf  []byte
}

// NewCommitStream reads frames from r; Close closes c, if set.
func NewCommitStream(r io.Reader, c io.Closer) *CommitStream {
	return &CommitStream{r: bufio.NewReaderSize(r, 64<<10), body: c}
}

// Next returns the next commit frame. At an end frame it returns a
// *StreamEndedError; at the end of the input without one, io.EOF (or
// io.ErrUnexpectedEOF inside a frame). A malformed frame is an error
// naming what is wrong.
func (s *CommitStream) Next() (CommitTxs, error) {
	var head [4]byte
	if _, err := io.ReadFull(s.r, head[:]); err != nil {
		return CommitTxs{}, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n == 0 || n > MaxStreamFrameBytes {
		return CommitTxs{}, fmt.Errorf("commit stream: a frame of %d bytes, want 1..%d", n, MaxStreamFrameBytes)
	}
	if cap(s.buf) < int(n) {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return CommitTxs{}, err
	}
	return DecodeFrame(s.buf)
}

// Close closes what the stream reads from.
func (s *CommitStream) Close() error {
	if s.body == nil {
		return nil
	}
	return s.body.Close()
}

// DecodeFrame decodes one frame's bytes (after its length).
func DecodeFrame(b []byte) (CommitTxs, error) {
	r := codec.NewReader(b, func(msg string) error { return fmt.Errorf("commit stream: %s", msg) })
	switch kind := r.U8("frame kind"); {
	case r.Err() != nil:
		return CommitTxs{}, r.Err()
	case kind == FrameEnd:
		why := r.Take(r.Left(), "reason")
		return CommitTxs{}, &StreamEndedError{Reason: string(why)}
	case kind != FrameCommit:
		return CommitTxs{}, fmt.Errorf("commit stream: frame kind %d, want %d (commit) or %d (end)", kind, FrameCommit, FrameEnd)
	}
	c := CommitTxs{Index: r.U64("index"), TimeUnixNs: r.I64("consensus time")}
	n := r.Count("transactions", MaxStreamFrameTxs, 32)
	if r.Err() == nil {
		c.Hashes = make([]graph.Hash, n)
		for i := range c.Hashes {
			r.Fixed(c.Hashes[i][:], "transaction hash")
		}
	}
	r.End()
	if r.Err() != nil {
		return CommitTxs{}, r.Err()
	}
	return c, nil
}

// commitStream serves GET /v1/commits/stream.
func (s *server) commitStream(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	select {
	case s.watchers <- struct{}{}:
	default:
		e := errorf(http.StatusServiceUnavailable, CodeBusy, "%d commit streams are open, the most this node serves at once; retry later, or ask another node",
			cap(s.watchers))
		e.retryAfter = 5
		return 0, nil, e
	}
	defer func() { <-s.watchers }()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	watch, err := s.b.WatchCommits(ctx)
	if err != nil {
		return 0, nil, err
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush() // the client learns the stream is open before the first commit
	var buf []byte
	for {
		c, ok := <-watch.C
		if !ok {
			why := "the stream was closed"
			if err := watch.Err(); err != nil {
				why = err.Error()
			} else if r.Context().Err() != nil {
				return 0, written{}, nil // the client left
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTime))
			_, _ = w.Write(AppendEndFrame(buf[:0], why))
			return 0, written{}, nil
		}
		buf = AppendCommitFrames(buf[:0], c)
		// Whatever else waits goes in the same write.
		for more := true; more && len(buf) < 1<<20; {
			select {
			case c, ok := <-watch.C:
				if !ok {
					more = false
					break
				}
				buf = AppendCommitFrames(buf, c)
			default:
				more = false
			}
		}
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTime))
		if _, err := w.Write(buf); err != nil {
			return 0, written{}, nil // the client left or stopped reading
		}
		if err := rc.Flush(); err != nil {
			return 0, written{}, nil
		}
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
}
