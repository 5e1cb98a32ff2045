package node

import (
	"dagger/graph"
)

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
	SetLastSigned(ref graph.EventRef) error
	// LastSigned returns the latest event this node signed, if any.
	LastSigned() (graph.EventRef, bool, error)
	// Scan calls fn with the encoding of every stored event of round from
	// or above, lowest round first and in insertion order within a round,
	// until fn returns false. The slices are the store's: fn must not keep
	// or modify them beyond the call unless the store says otherwise.
	Scan(from uint64, fn func(round uint64, enc []byte) bool) error
}

// MemStore keeps everything in memory. It is the simulator's store, where
// "restart with stored state" keeps the MemStore and "state lost" replaces
// it. Encodings are kept as given (never modified), so many nodes' stores
// share the bytes of one message.
type MemStore struct {
	rounds [][][]byte // by round
	last   graph.EventRef
	signed bool
	events int
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{} }

// PutEvent implements Store.
func (s *MemStore) PutEvent(e *graph.Event) error {
	for uint64(len(s.rounds)) <= e.Round {
		s.rounds = append(s.rounds, nil)
	}
	s.rounds[e.Round] = append(s.rounds[e.Round], e.Encode())
	s.events++
	return nil
}

// SetLastSigned implements Store.
func (s *MemStore) SetLastSigned(ref graph.EventRef) error {
	s.last, s.signed = ref, true
	return nil
}

// LastSigned implements Store.
func (s *MemStore) LastSigned() (graph.EventRef, bool, error) { return s.last, s.signed, nil }

// Scan implements Store; the slices it passes stay valid and unmodified.
func (s *MemStore) Scan(from uint64, fn func(uint64, []byte) bool) error {
	for r := from; r < uint64(len(s.rounds)); r++ {
		for _, enc := range s.rounds[r] {
			if !fn(r, enc) {
				return nil
			}
		}
	}
	return nil
}

// Len returns the number of stored events.
func (s *MemStore) Len() int { return s.events }
