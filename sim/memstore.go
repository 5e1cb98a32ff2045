package sim

// The nodes' stores in memory. Every node of a run stores nearly the same
// events, and a live node's store keeps them for many epochs; keeping a
// copy of each encoding per node, and a slice header per node and event,
// was most of a large run's memory. A run's stores share one archive that
// holds each encoding once, and a node's store holds indexes into it.

import (
	"bytes"
	"slices"
	"unsafe"

	"dagger/graph"
	"dagger/node"
)

// archive holds one copy of every event encoding the run's stores hold,
// by index. An encoding is found again by its event's hash and its bytes:
// equal bytes are one entry, whichever message brought them. Entries stay
// for the whole run, as the stores keep their events (node.KeepEpochs).
//
// It also shares the snapshots' data: the nodes of a run store the same
// state at the same epoch start, so a snapshot equal to a recent one is
// kept as the same bytes.
type archive struct {
	encs [][]byte
	// byHash is the first entry of each event hash; next chains the
	// entries of one hash (the same header with another signature),
	// noEntry ending the chain.
	byHash map[graph.Hash]uint32
	next   []uint32
	// recent remembers the entries of recently put events by the event:
	// the nodes of a run store one decoded event (see decodeMemo), so most
	// puts find it here without a lookup or a comparison.
	recent [recentEvents]struct {
		e  *graph.Event
		id uint32
	}
	snaps  [recentSnapshots][]byte
	snapAt int
}

const (
	noEntry         = ^uint32(0)
	recentEvents    = 1 << 10
	recentSnapshots = 8
)

func newArchive() *archive { return &archive{byHash: make(map[graph.Hash]uint32)} }

// put returns the index of e's encoding, archiving it if it is new.
func (a *archive) put(e *graph.Event) uint32 {
	slot := &a.recent[uintptr(unsafe.Pointer(e))/unsafe.Sizeof(*e)%recentEvents]
	if slot.e == e {
		return slot.id
	}
	id := a.lookup(e)
	slot.e, slot.id = e, id
	return id
}

// lookup returns the index of e's encoding, archiving it if it is new.
func (a *archive) lookup(e *graph.Event) uint32 {
	enc := e.Encode()
	h := e.Hash()
	first, known := a.byHash[h]
	last := noEntry
	for i := first; known && i != noEntry; i = a.next[i] {
		if sameBytes(a.encs[i], enc) {
			return i
		}
		last = i
	}
	i := uint32(len(a.encs))
	if i == noEntry {
		panic("sim: event archive full")
	}
	a.encs = append(a.encs, enc)
	a.next = append(a.next, noEntry)
	if known {
		a.next[last] = i
	} else {
		a.byHash[h] = i
	}
	return i
}

// snapshot returns data, or equal bytes a recent snapshot kept.
func (a *archive) snapshot(data []byte) []byte {
	for _, d := range a.snaps {
		if sameBytes(d, data) {
			return d
		}
	}
	a.snaps[a.snapAt] = data
	a.snapAt = (a.snapAt + 1) % recentSnapshots
	return data
}

// sameBytes compares two byte slices, at once if they are one slice.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b) || bytes.Equal(a, b)
}

// memStore is what node.MemStore is, over an archive: every event put, as
// encoded, the last event the node signed, and the newest two snapshots.
// The encodings it passes to Scan are the archive's, never modified.
type memStore struct {
	ar     *archive
	epochs [][][]uint32 // by epoch, then round: archive indexes in put order
	last   node.Signed
	signed bool
	events int
	snaps  node.Snapshots
}

var _ node.Store = (*memStore)(nil)

func newMemStore(ar *archive) *memStore { return &memStore{ar: ar} }

// PutEvent implements node.Store.
func (s *memStore) PutEvent(e *graph.Event) error {
	for uint64(len(s.epochs)) <= e.Epoch {
		s.epochs = append(s.epochs, nil)
	}
	rounds := &s.epochs[e.Epoch]
	for uint64(len(*rounds)) <= e.Round {
		*rounds = append(*rounds, nil)
	}
	(*rounds)[e.Round] = append((*rounds)[e.Round], s.ar.put(e))
	s.events++
	return nil
}

// SetLastSigned implements node.Store.
func (s *memStore) SetLastSigned(sg node.Signed) error {
	s.last, s.signed = sg, true
	return nil
}

// LastSigned implements node.Store.
func (s *memStore) LastSigned() (node.Signed, bool, error) { return s.last, s.signed, nil }

// Scan implements node.Store.
func (s *memStore) Scan(from node.Position, fn func(node.Position, []byte) bool) error {
	for ep := from.Epoch; ep < uint64(len(s.epochs)); ep++ {
		r := uint64(0)
		if ep == from.Epoch {
			r = from.Round
		}
		for ; r < uint64(len(s.epochs[ep])); r++ {
			evs := s.epochs[ep][r]
			if ep == from.Epoch && r == from.Round {
				evs = evs[min(int(from.Index), len(evs)):]
			}
			for j, i := range evs {
				pos := node.Position{Epoch: ep, Round: r, Index: uint32(len(s.epochs[ep][r]) - len(evs) + j)}
				if !fn(pos, s.ar.encs[i]) {
					return nil
				}
			}
		}
	}
	return nil
}

// PutSnapshot implements node.Store.
func (s *memStore) PutSnapshot(sn node.Snapshot) error {
	sn.Data = s.ar.snapshot(sn.Data)
	return s.snaps.Put(sn)
}

// LatestSnapshot implements node.Store.
func (s *memStore) LatestSnapshot() (node.Snapshot, bool, error) {
	sn, ok := s.snaps.Latest()
	return sn, ok, nil
}

// Prune implements node.Store.
func (s *memStore) Prune(epoch uint64) error {
	for ep := range min(epoch, uint64(len(s.epochs))) {
		for _, r := range s.epochs[ep] {
			s.events -= len(r)
		}
		s.epochs[ep] = nil
	}
	return nil
}

// Clone returns a copy of the store as it is now, as a backup would be:
// later writes to either do not reach the other.
func (s *memStore) Clone() *memStore {
	c := &memStore{ar: s.ar, last: s.last, signed: s.signed, events: s.events, snaps: slices.Clone(s.snaps)}
	c.epochs = make([][][]uint32, len(s.epochs))
	for ep, rounds := range s.epochs {
		c.epochs[ep] = make([][]uint32, len(rounds))
		for r, ids := range rounds {
			c.epochs[ep][r] = slices.Clone(ids)
		}
	}
	return c
}

// Len returns the number of stored events.
func (s *memStore) Len() int { return s.events }

// DropNewest removes the newest event stored at pos and reports whether
// there was one: the writes a crash caught before they were synced are
// the newest puts, so dropping them newest first undoes them.
func (s *memStore) DropNewest(pos node.Position) bool {
	if pos.Epoch >= uint64(len(s.epochs)) || pos.Round >= uint64(len(s.epochs[pos.Epoch])) {
		return false
	}
	r := &s.epochs[pos.Epoch][pos.Round]
	if len(*r) == 0 {
		return false
	}
	*r = (*r)[:len(*r)-1]
	s.events--
	return true
}
