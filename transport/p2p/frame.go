package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// frameHeaderBytes is the size of a frame's length prefix.
const frameHeaderBytes = 4

// errFrame marks a frame that breaks the wire format, as opposed to a
// stream that ended or failed.
var errFrame = errors.New("invalid frame")

// writeFrame appends one frame carrying msg to w. The caller flushes w.
func writeFrame(w *bufio.Writer, msg []byte) error {
	var hdr [frameHeaderBytes]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
}

// readFrameLength reads a frame's length prefix and checks it against
// maxBytes before the caller allocates for the message.
func readFrameLength(r io.Reader, maxBytes int) (int, error) {
	var hdr [frameHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || uint64(n) > uint64(maxBytes) {
		return 0, fmt.Errorf("%w: %d bytes, want 1..%d", errFrame, n, maxBytes)
	}
	return int(n), nil
}
