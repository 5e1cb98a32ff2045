package node

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"dagger/graph"
	"dagger/node/cluster"
)

// snapshotMagic opens the data of a snapshot the node stores: the
// cluster state at an epoch start and the replay window the epoch's graph
// starts with, both functions of the commit sequence, so every honest
// node stores the same bytes for the same epoch.
//
//	magic     "dagger/node-snapshot/v1\x00"
//	state     u64 length, then cluster.State.Snapshot()
//	window    graph.TxWindow.Encode()
//	checksum  SHA-256 of everything before it
//
// Data that does not start with the magic is a bare cluster snapshot, as
// stores written before the window was kept hold: its window is empty.
const snapshotMagic = "dagger/node-snapshot/v1\x00"

// encodeSnapshotData joins an epoch start's state and window (encoded,
// graph.TxWindow.Encode).
func encodeSnapshotData(state, win []byte) []byte {
	b := make([]byte, 0, len(snapshotMagic)+8+len(state)+len(win)+sha256.Size)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(state)))
	b = append(b, state...)
	b = append(b, win...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// decodeSnapshotData splits what encodeSnapshotData joined. The window's
// expiries are bounded by the GC depth of the graph it is handed to,
// which checks them.
func decodeSnapshotData(data []byte) (state []byte, w graph.TxWindow, err error) {
	if !strings.HasPrefix(string(data[:min(len(data), len(snapshotMagic))]), snapshotMagic) {
		return data, nil, nil
	}
	if len(data) < len(snapshotMagic)+8+sha256.Size {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than a node snapshot's header and checksum", cluster.ErrSnapshot, len(data))
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); string(sum[:]) != string(data[len(body):]) {
		return nil, nil, fmt.Errorf("%w: the node snapshot's checksum does not match: it is damaged", cluster.ErrSnapshot)
	}
	rest := body[len(snapshotMagic):]
	n := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if n > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%w: it holds a %d-byte state but only %d bytes follow", cluster.ErrSnapshot, n, len(rest))
	}
	if w, err = graph.DecodeTxWindow(rest[n:], math.MaxUint64); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", cluster.ErrSnapshot, err)
	}
	return rest[:n], w, nil
}
