package node

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"dagger/graph"
	"dagger/node/cluster"
)

func TestSnapshotDataCarriesTheReplayWindow(t *testing.T) {
	state := []byte("dagger/cluster-snapshot/v1\x00 the state")
	w := graph.TxWindow{{Hash: graph.TxHash([]byte("a")), Expires: 0}, {Hash: graph.TxHash([]byte("b")), Expires: 7}}
	data := encodeSnapshotData(state, w.Encode())
	gotState, gotW, err := decodeSnapshotData(data)
	if err != nil || !bytes.Equal(gotState, state) || !slices.Equal(gotW, w) {
		t.Fatalf("round trip: %q %v %v", gotState, gotW, err)
	}
	// A store written before the window was kept holds a bare cluster
	// snapshot: it decodes with an empty window.
	if gotState, gotW, err := decodeSnapshotData(state); err != nil || !bytes.Equal(gotState, state) || len(gotW) != 0 {
		t.Fatalf("bare cluster snapshot: %q %v %v", gotState, gotW, err)
	}
	for i := len(snapshotMagic); i < len(data); i++ {
		flipped := bytes.Clone(data)
		flipped[i] ^= 1
		for _, bad := range [][]byte{data[:i], flipped} {
			if _, _, err := decodeSnapshotData(bad); !errors.Is(err, cluster.ErrSnapshot) {
				t.Fatalf("damaged at byte %d: %v", i, err)
			}
		}
	}
}

func FuzzDecodeSnapshotData(f *testing.F) {
	f.Add(encodeSnapshotData([]byte("state"), graph.TxWindow{{Hash: graph.TxHash([]byte("a")), Expires: 3}}.Encode()))
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		state, w, err := decodeSnapshotData(data)
		if err != nil {
			return
		}
		if bytes.HasPrefix(data, []byte(snapshotMagic)) && !bytes.Equal(encodeSnapshotData(state, w.Encode()), data) {
			t.Fatal("accepted snapshot data that does not encode back to itself")
		}
	})
}
