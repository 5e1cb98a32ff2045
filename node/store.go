package node

import (
	"fmt"
	"slices"

	"dagger/graph"
)

// Position orders stored events: by epoch, then round, then Index, the
// event's place among its round's events in the store's own order
// (insertion order). A position with Index 0 is the start of its round.
// Index is local to one store: another node's store may hold the round's
// events in another order, or other events, so a position with a non-zero
// Index is only ever handed back to the store (the peer) that made it, as a
// sync continues where the peer's last batch ended inside a round.
type Position struct {
	Epoch, Round uint64
	Index        uint32
}

// Less orders positions.
func (p Position) Less(o Position) bool {
	if p.Epoch != o.Epoch {
		return p.Epoch < o.Epoch
	}
	if p.Round != o.Round {
		return p.Round < o.Round
	}
	return p.Index < o.Index
}

// RoundStart is the start of p's round: the same position in any store.
func (p Position) RoundStart() Position { return Position{Epoch: p.Epoch, Round: p.Round} }

// Signed is the latest event a node signed, with its epoch.
type Signed struct {
	Epoch uint64
	Ref   graph.EventRef
}

// Snapshot is the cluster state at the start of an epoch, after the
// boundary commit that ended the epoch before. A node restarts from its
// latest snapshot and replays only the events of the epochs since: a new
// epoch starts a fresh graph at round 0, so nothing below it is needed.
type Snapshot struct {
	// Epoch is the epoch the state starts.
	Epoch uint64
	// Commit is the global index of the epoch's first commit: the number
	// of commits the state has applied.
	Commit uint64
	// Data is the encoded state (cluster.State.Snapshot).
	Data []byte
}

// Store is what a node persists: every event its graph inserted, as
// encoded, the last event this node signed, and snapshots of the cluster
// state at epoch starts. The ledger writes an own
// event and its round before sending it, so a restarted node never signs a
// second event for a round it already signed. A write error stops the node:
// continuing could make it equivocate or lose events it acknowledged.
type Store interface {
	// PutEvent persists an inserted event.
	PutEvent(e *graph.Event) error
	// SetLastSigned records the latest event this node signed; the event
	// itself was put first.
	SetLastSigned(s Signed) error
	// LastSigned returns the latest event this node signed, if any.
	LastSigned() (Signed, bool, error)
	// Scan calls fn with the position and encoding of every stored event
	// at position from or above, in position order (insertion order within
	// a round, which Index counts), until fn returns false. The slices are
	// the store's: fn must not keep or modify them beyond the call unless
	// the store says otherwise.
	Scan(from Position, fn func(pos Position, enc []byte) bool) error
	// PutSnapshot stores a snapshot, durably, and keeps at least the
	// newest two. A snapshot older than the newest stored one is refused.
	PutSnapshot(s Snapshot) error
	// LatestSnapshot returns the newest snapshot, if any.
	LatestSnapshot() (Snapshot, bool, error)
	// Prune drops the events of the epochs below epoch. Snapshots and the
	// last-signed record stay.
	Prune(epoch uint64) error
}

// MemStore keeps everything in memory. It is the simulator's store, where
// "restart with stored state" keeps the MemStore and "state lost" replaces
// it. Encodings are kept as given (never modified), so many nodes' stores
// share the bytes of one message.
type MemStore struct {
	epochs [][][][]byte // by epoch, then round
	last   Signed
	signed bool
	events int
	snaps  Snapshots
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{} }

// PutEvent implements Store.
func (s *MemStore) PutEvent(e *graph.Event) error {
	for uint64(len(s.epochs)) <= e.Epoch {
		s.epochs = append(s.epochs, nil)
	}
	rounds := &s.epochs[e.Epoch]
	for uint64(len(*rounds)) <= e.Round {
		*rounds = append(*rounds, nil)
	}
	(*rounds)[e.Round] = append((*rounds)[e.Round], e.Encode())
	s.events++
	return nil
}

// SetLastSigned implements Store.
func (s *MemStore) SetLastSigned(sg Signed) error {
	s.last, s.signed = sg, true
	return nil
}

// LastSigned implements Store.
func (s *MemStore) LastSigned() (Signed, bool, error) { return s.last, s.signed, nil }

// Scan implements Store; the slices it passes stay valid and unmodified.
func (s *MemStore) Scan(from Position, fn func(Position, []byte) bool) error {
	for ep := from.Epoch; ep < uint64(len(s.epochs)); ep++ {
		r := uint64(0)
		if ep == from.Epoch {
			r = from.Round
		}
		for ; r < uint64(len(s.epochs[ep])); r++ {
			i := 0
			if ep == from.Epoch && r == from.Round {
				i = int(min(from.Index, uint32(len(s.epochs[ep][r]))))
			}
			for ; i < len(s.epochs[ep][r]); i++ {
				if !fn(Position{Epoch: ep, Round: r, Index: uint32(i)}, s.epochs[ep][r][i]) {
					return nil
				}
			}
		}
	}
	return nil
}

// Clone returns a copy of the store as it is now, as a backup would be:
// later writes to either do not reach the other. The copy shares the
// event encodings, which neither modifies.
func (s *MemStore) Clone() *MemStore {
	c := &MemStore{last: s.last, signed: s.signed, events: s.events, snaps: slices.Clone(s.snaps)}
	c.epochs = make([][][][]byte, len(s.epochs))
	for ep, rounds := range s.epochs {
		c.epochs[ep] = make([][][]byte, len(rounds))
		for r, encs := range rounds {
			c.epochs[ep][r] = slices.Clone(encs)
		}
	}
	return c
}

// Len returns the number of stored events.
func (s *MemStore) Len() int { return s.events }

// DropNewest removes the newest event stored at pos and reports whether
// there was one. The simulator loses writes a crash caught before they
// were synced with it: those are the newest puts, so at each position they
// are the newest events, and dropping them newest first undoes them.
func (s *MemStore) DropNewest(pos Position) bool {
	if pos.Epoch >= uint64(len(s.epochs)) || pos.Round >= uint64(len(s.epochs[pos.Epoch])) {
		return false
	}
	r := &s.epochs[pos.Epoch][pos.Round]
	if len(*r) == 0 {
		return false
	}
	(*r)[len(*r)-1] = nil
	*r = (*r)[:len(*r)-1]
	s.events--
	return true
}

// PutSnapshot implements Store. It keeps the data as given.
func (s *MemStore) PutSnapshot(sn Snapshot) error { return s.snaps.Put(sn) }

// LatestSnapshot implements Store.
func (s *MemStore) LatestSnapshot() (Snapshot, bool, error) {
	sn, ok := s.snaps.Latest()
	return sn, ok, nil
}

// Snapshots are the newest two snapshots a store in memory keeps, oldest
// first, as Store.PutSnapshot promises.
type Snapshots []Snapshot

// Put keeps sn and refuses one older than the newest kept; one of the
// same commit replaces it.
func (ss *Snapshots) Put(sn Snapshot) error {
	s := *ss
	if n := len(s); n > 0 {
		switch last := s[n-1]; {
		case sn.Commit < last.Commit:
			return fmt.Errorf("snapshot at commit %d is older than the stored one at commit %d", sn.Commit, last.Commit)
		case sn.Commit == last.Commit:
			s[n-1] = sn
			return nil
		}
	}
	s = append(s, sn)
	if len(s) > 2 {
		s = append(s[:0], s[len(s)-2:]...)
	}
	*ss = s
	return nil
}

// Latest is the newest snapshot kept, if any.
func (ss Snapshots) Latest() (Snapshot, bool) {
	if len(ss) == 0 {
		return Snapshot{}, false
	}
	return ss[len(ss)-1], true
}

// Prune implements Store.
func (s *MemStore) Prune(epoch uint64) error {
	for ep := range min(epoch, uint64(len(s.epochs))) {
		for _, r := range s.epochs[ep] {
			s.events -= len(r)
		}
		s.epochs[ep] = nil
	}
	return nil
}
