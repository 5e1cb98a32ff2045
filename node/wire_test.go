package node_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dagger/graph"
	"dagger/node"
)

func sampleMessages() [][]byte {
	h := graph.TxHash([]byte("x"))
	return [][]byte{
		node.EncodeEvent([]byte{1, 2, 3}),
		node.EncodeFetch([]graph.Hash{h, {}}),
		node.EncodeSync(node.Position{Epoch: 1, Round: 42}),
		node.EncodeSync(node.Position{Epoch: 1, Round: 42, Index: 3}),
		node.EncodeSyncBatch([][]byte{{1}, {2, 3}}, true, node.Position{Epoch: 2, Round: 7}),
		node.EncodeSyncBatch([][]byte{{1}}, true, node.Position{Epoch: 2, Round: 7, Index: 1}),
		node.EncodeSyncBatch(nil, false, node.Position{}),
		node.EncodeBatch([][]byte{{4}}),
		node.EncodeTxs([][]byte{[]byte("tx one"), {7}}, 2),
		node.EncodeOwn(3, 5),
		node.EncodeOwned(3, 2, nil),
		node.EncodeOwned(3, 3, [][]byte{{1, 2}, {3}}),
		node.EncodeHave(node.Position{Epoch: 4, Round: 17}, h),
		node.EncodeRound(node.Position{Epoch: 4, Round: 16}, nil),
		node.EncodeRound(node.Position{Epoch: 4, Round: 16}, []graph.MemberID{0, 2, 1023}),
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, b := range sampleMessages() {
		m, err := node.DecodeMessage(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatalf("%s message does not re-encode to its input", m.Kind)
		}
	}
}

func TestDecodeMessageRejectsMalformedInput(t *testing.T) {
	cases := map[string][]byte{
		"empty":                 nil,
		"unknown kind":          {10},
		"event without body":    {1},
		"fetch of zero":         {2, 0, 0},
		"fetch short":           append([]byte{2, 0, 2}, make([]byte, 32)...),
		"sync short":            {3, 0, 0},
		"batch count lies":      {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		"batch bad flags":       {4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"batch next no more":    {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		"batch trailing":        append(node.EncodeBatch([][]byte{{1}}), 0),
		"own truncated":         node.EncodeOwn(1, 2)[:10],
		"owned three events":    append(binary.BigEndian.AppendUint64([]byte{byte(node.KindOwned)}, 1), 0, 0, 0, 3, 0, 0, 0, 1, 1, 0, 0, 0, 1, 2, 0, 0, 0, 1, 3),
		"fetch batch with more": {byte(node.KindBatch), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		"txs none":              {5, 0, 0, 0, 0, 0},
		"txs count lies":        {5, 0, 0, 0, 0, 9, 0, 0, 0, 1, 1},
		"txs too many hops":     {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1},
		"batch empty event":     {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9},
		"sync without index":    node.EncodeSync(node.Position{Epoch: 1, Round: 2})[:17],
		"have short hash":       node.EncodeHave(node.Position{Epoch: 1, Round: 2}, graph.Hash{})[:40],
		"have trailing":         append(node.EncodeHave(node.Position{Epoch: 1, Round: 2}, graph.Hash{}), 0),
		"round count lies":      node.EncodeRound(node.Position{Epoch: 1, Round: 2}, []graph.MemberID{1, 2})[:22],
		"round too many":        binary.BigEndian.AppendUint16(make([]byte, 17), graph.MaxCommitteeSize+1),
	}
	cases["batch index no more"] = node.EncodeSyncBatch(nil, false, node.Position{})
	cases["batch index no more"][21] = 1 // next index 1 without more
	cases["round too many"][0] = byte(node.KindRound)
	for name, b := range cases {
		if _, err := node.DecodeMessage(b); !errors.Is(err, node.ErrBadMessage) {
			t.Errorf("%s: got %v, want ErrBadMessage", name, err)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, b := range sampleMessages() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := node.DecodeMessage(b)
		if err != nil {
			if !errors.Is(err, node.ErrBadMessage) {
				t.Fatalf("error does not wrap ErrBadMessage: %v", err)
			}
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatalf("accepted a non-canonical %s message", m.Kind)
		}
	})
}
