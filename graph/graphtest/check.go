package graphtest

import (
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

// CheckPrefix reports the first place where two commit sequences disagree
// on the commits both hold: leader, time, events or delivered transactions.
func CheckPrefix(a, b []graph.Commit) error {
	for i := range min(len(a), len(b)) {
		x, y := &a[i], &b[i]
		if x.Leader != y.Leader || x.Time != y.Time || x.Index != y.Index {
			return fmt.Errorf("commit %d: leader %s at %d vs leader %s at %d", i, x.Leader, x.Time, y.Leader, y.Time)
		}
		if len(x.Events) != len(y.Events) || len(x.Txs) != len(y.Txs) {
			return fmt.Errorf("commit %d (leader %s): %d events and %d txs vs %d and %d", i, x.Leader, len(x.Events), len(x.Txs), len(y.Events), len(y.Txs))
		}
		for j := range x.Events {
			if x.Events[j].Hash() != y.Events[j].Hash() {
				return fmt.Errorf("commit %d (leader %s): event %d is %s vs %s", i, x.Leader, j, x.Events[j].Ref(), y.Events[j].Ref())
			}
		}
		for j := range x.Txs {
			if x.Txs[j].Hash != y.Txs[j].Hash {
				return fmt.Errorf("commit %d (leader %s): tx %d differs", i, x.Leader, j)
			}
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
