package node

import (
	"dagger/graph"
)

// Position orders stored events: by epoch, then round.
type Position struct {
	Epoch, Round uint64
}

// Less orders positions.
func (p Position) Less(o Position) bool {
	return p.Epoch < o.Epoch || p.Epoch == o.Epoch && p.Round < o.Round
}

// Signed is the latest event a node signed, with its epoch.
type Signed struct {
	Epoch uint64
	Ref   graph.EventRef
}

// Store is what the ledger persists: every event its graph inserted, as
// encoded, and the last event this node signed. The ledger writes an own
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
	// Scan calls fn with the encoding of every stored event at position
	// from or above, in position order and in insertion order within a
	// round, until fn returns false. The slices are the store's: fn must not
	// keep or modify them beyond the call unless the store says otherwise.
	Scan(from Position, fn func(pos Position, enc []byte) bool) error
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
			for _, enc := range s.epochs[ep][r] {
				if !fn(Position{Epoch: ep, Round: r}, enc) {
					return nil
				}
			}
		}
	}
	return nil
}

// Len returns the number of stored events.
func (s *MemStore) Len() int { return s.events }
