package graphtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"dagger/graph"
)

// Fingerprint hashes a commit sequence: every commit's index, leader, time
// and events in order. Equal sequences have equal fingerprints.
func Fingerprint(commits []graph.Commit) graph.Hash {
	d := sha256.New()
	var buf [8]byte
	for _, c := range commits {
		binary.BigEndian.PutUint64(buf[:], c.Index)
		d.Write(buf[:])
		d.Write(c.Leader.Hash[:])
		binary.BigEndian.PutUint64(buf[:], uint64(c.Time))
		d.Write(buf[:])
		for _, e := range c.Events {
			h := e.Hash()
			d.Write(h[:])
		}
	}
	var h graph.Hash
	d.Sum(h[:0])
	return h
}

// CheckPrefix reports the first position where two commit sequences
// disagree on the commits both hold, comparing everything a consumer
// applies: index, leader, consensus time, events in order, and delivered
// transactions with their bytes and places.
func CheckPrefix(a, b []graph.Commit) error {
	for i := range min(len(a), len(b)) {
		if err := commitsEqual(&a[i], &b[i]); err != nil {
			return fmt.Errorf("sequences diverge at position %d: %w", i, err)
		}
	}
	return nil
}

func commitsEqual(a, b *graph.Commit) error {
	switch {
	case a.Index != b.Index:
		return fmt.Errorf("index %d vs %d", a.Index, b.Index)
	case a.Leader != b.Leader:
		return fmt.Errorf("commit %d: leader %s vs %s", a.Index, a.Leader, b.Leader)
	case a.Time != b.Time:
		return fmt.Errorf("commit %d: time %d vs %d", a.Index, a.Time, b.Time)
	case len(a.Events) != len(b.Events):
		return fmt.Errorf("commit %d: %d events vs %d", a.Index, len(a.Events), len(b.Events))
	case len(a.Txs) != len(b.Txs):
		return fmt.Errorf("commit %d: %d txs vs %d", a.Index, len(a.Txs), len(b.Txs))
	}
	for i := range a.Events {
		if a.Events[i].Hash() != b.Events[i].Hash() {
			return fmt.Errorf("commit %d: event %d is %s vs %s", a.Index, i, a.Events[i].Ref(), b.Events[i].Ref())
		}
	}
	for i := range a.Txs {
		x, y := a.Txs[i], b.Txs[i]
		if x.Hash != y.Hash || x.Event != y.Event || x.Index != y.Index || !bytes.Equal(a.TxData(i), b.TxData(i)) {
			return fmt.Errorf("commit %d: tx %d is %s (event %d #%d) vs %s (event %d #%d)", a.Index, i, x.Hash, x.Event, x.Index, y.Hash, y.Event, y.Index)
		}
	}
	return nil
}

// CheckAgreement checks that the honest nodes' commit sequences are
// prefixes of one another.
func (c *Cluster) CheckAgreement() error {
	var ref *Node
	for _, n := range c.Nodes {
		if !c.Honest(n.ID) {
			continue
		}
		if ref == nil || len(n.Commits) > len(ref.Commits) {
			ref = n
		}
	}
	for _, n := range c.Nodes {
		if c.Honest(n.ID) && n != ref {
			if err := CheckPrefix(ref.Commits, n.Commits); err != nil {
				return fmt.Errorf("nodes %d and %d: %w", ref.ID, n.ID, err)
			}
		}
	}
	return nil
}
