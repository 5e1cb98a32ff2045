package p2p_test

import (
	"testing"

	"dagger/node"
	"dagger/transport/p2p"
)

// The transport must carry every message a node may build: a smaller
// frame limit would reset streams carrying large batches forever.
func TestDefaultMaxMessageBytesHoldsNodeMessages(t *testing.T) {
	if p2p.DefaultMaxMessageBytes < node.MaxMessageBytes {
		t.Fatalf("DefaultMaxMessageBytes %d below node.MaxMessageBytes %d", p2p.DefaultMaxMessageBytes, node.MaxMessageBytes)
	}
}
