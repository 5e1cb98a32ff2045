package sim

// The simulated store and its faults. A node in the simulator stores
// everything in a memStore (memstore.go); simStore wraps it with the failures of
// the live on-disk store (package node/live/store) that a scenario injects: a
// write that fails, a record whose bytes are damaged (found, as the live
// store finds it by its checksum, when the record is read), a write torn
// by a crash, and the loss at a machine crash of what was never synced.
// With no fault armed every call goes straight to the memStore. A backup
// is a copy of a simStore as it is on disk (copySynced).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"

	"dagger/graph"
	"dagger/node"
	"dagger/sim/scenario"
)

// errStore is wrapped by every error the injected faults cause. The
// simulator tells by it a node stopped by its store (an operating error:
// the node stops, and a restart may bring it back) from one stopped by a
// safety fault or a bug (which fails the run).
var errStore = errors.New("store fault")

// writeKind names the writes of a node.Store.
type writeKind uint8

const (
	writeNone writeKind = iota
	writeEvent
	writeLastSigned
	writeSnapshot
	writePrune
	writeAny
)

var writeNames = [...]string{"no write", "event", "last-signed record", "snapshot", "prune", "any write"}

func (k writeKind) String() string { return writeNames[k] }

// writeOf maps a scenario's write name to its kind.
func writeOf(name string) writeKind {
	switch name {
	case scenario.WriteEvent:
		return writeEvent
	case scenario.WriteLastSigned:
		return writeLastSigned
	case scenario.WriteSnapshot:
		return writeSnapshot
	case scenario.WritePrune:
		return writePrune
	}
	return writeAny
}

// recordOf maps a scenario's record name to the kind of write that
// stores it.
func recordOf(name string) writeKind {
	switch name {
	case scenario.RecordLastSigned:
		return writeLastSigned
	case scenario.RecordSnapshot:
		return writeSnapshot
	}
	return writeEvent
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// damage is one damaged record: which it is, the checksum of what was
// written, and what it holds now.
type damage struct {
	kind  writeKind
	pos   node.Position // an event's position
	index int           // and its place among the events of its round
	// commit is a snapshot's commit index.
	commit  uint64
	written int    // bytes written
	sum     uint32 // CRC-32C of what was written
	holds   []byte
}

// problem finds the damage as the live store's frame check does, by the
// length and then by the checksum, and describes it; "" if the record is
// intact.
func (d *damage) problem() string {
	what := d.kind.String()
	switch d.kind {
	case writeEvent:
		what = fmt.Sprintf("event (epoch %d, round %d, #%d)", d.pos.Epoch, d.pos.Round, d.index)
	case writeSnapshot:
		what = fmt.Sprintf("snapshot %d", d.commit)
	}
	if len(d.holds) != d.written {
		return fmt.Sprintf("corrupt store record %s: holds %d of its %d bytes", what, len(d.holds), d.written)
	}
	if sum := crc32.Checksum(d.holds, castagnoli); sum != d.sum {
		return fmt.Sprintf("corrupt store record %s: checksum %08x, want %08x", what, sum, d.sum)
	}
	return ""
}

// check is the read of a damaged record: an error if the damage shows.
func (d *damage) check() error {
	if p := d.problem(); p != "" {
		return fmt.Errorf("%w: %s", errStore, p)
	}
	return nil
}

// simStore is a node's store in the simulator. It outlives the node's
// crashes; a restart that loses the state replaces it, and so does one
// on a backup.
type simStore struct {
	mem *memStore
	rng *rand.Rand
	// fail is the write armed to fail next, writeNone if none is.
	fail writeKind
	// lossy says a crash of the scenario loses this store's unsynced
	// writes, or a backup leaves them out: only then does it track them
	// in unsynced, the positions of the events put since the last synced
	// write, oldest first.
	lossy    bool
	unsynced []node.Position
	// last is the latest write, lastEvent the position of the latest
	// event put: a torn write damages that record.
	last      writeKind
	lastEvent node.Position
	// damaged are the damaged records; empty on the fast path.
	damaged []damage
}

var _ node.Store = (*simStore)(nil)

func newSimStore(ar *archive, rng *rand.Rand, lossy bool) *simStore {
	return &simStore{mem: newMemStore(ar), rng: rng, lossy: lossy}
}

// failing reports whether the write k is armed to fail, and disarms it.
func (s *simStore) failing(k writeKind) error {
	if s.fail == writeNone || s.fail != writeAny && s.fail != k {
		return nil
	}
	s.fail = writeNone
	return fmt.Errorf("%w: write of the %s failed (injected)", errStore, k)
}

// PutEvent implements node.Store; the write is not synced.
func (s *simStore) PutEvent(e *graph.Event) error {
	if err := s.failing(writeEvent); err != nil {
		return err
	}
	pos := node.Position{Epoch: e.Epoch, Round: e.Round}
	s.last, s.lastEvent = writeEvent, pos
	if s.lossy {
		s.unsynced = append(s.unsynced, pos)
	}
	return s.mem.PutEvent(e)
}

// SetLastSigned implements node.Store. It is synced, with every write
// before it, as the live store's batch written with fsync is; it replaces
// the record, damaged or not.
func (s *simStore) SetLastSigned(sg node.Signed) error {
	if err := s.failing(writeLastSigned); err != nil {
		return err
	}
	s.last, s.unsynced = writeLastSigned, s.unsynced[:0]
	s.undamage(func(d *damage) bool { return d.kind == writeLastSigned })
	return s.mem.SetLastSigned(sg)
}

// LastSigned implements node.Store.
func (s *simStore) LastSigned() (node.Signed, bool, error) {
	if d := s.find(func(d *damage) bool { return d.kind == writeLastSigned }); d != nil {
		if err := d.check(); err != nil {
			return node.Signed{}, false, err
		}
	}
	return s.mem.LastSigned()
}

// Scan implements node.Store, checking the damaged events it passes over.
func (s *simStore) Scan(from node.Position, fn func(node.Position, []byte) bool) error {
	if len(s.damaged) == 0 {
		return s.mem.Scan(from, fn)
	}
	var found error
	err := s.mem.Scan(from, func(pos node.Position, enc []byte) bool {
		at := pos.RoundStart()
		if d := s.find(func(d *damage) bool { return d.kind == writeEvent && d.pos == at && d.index == int(pos.Index) }); d != nil {
			if found = d.check(); found != nil {
				return false
			}
		}
		return fn(pos, enc)
	})
	if found != nil {
		return found
	}
	return err
}

// PutSnapshot implements node.Store. It is synced, with every write
// before it.
func (s *simStore) PutSnapshot(sn node.Snapshot) error {
	if err := s.failing(writeSnapshot); err != nil {
		return err
	}
	if err := s.mem.PutSnapshot(sn); err != nil {
		return err
	}
	s.last, s.unsynced = writeSnapshot, s.unsynced[:0]
	s.undamage(func(d *damage) bool { return d.kind == writeSnapshot && d.commit == sn.Commit })
	return nil
}

// LatestSnapshot implements node.Store.
func (s *simStore) LatestSnapshot() (node.Snapshot, bool, error) {
	sn, ok, err := s.mem.LatestSnapshot()
	if err != nil || !ok {
		return sn, ok, err
	}
	if d := s.find(func(d *damage) bool { return d.kind == writeSnapshot && d.commit == sn.Commit }); d != nil {
		if err := d.check(); err != nil {
			return node.Snapshot{}, false, err
		}
	}
	return sn, true, nil
}

// Prune implements node.Store. The live store does not sync its prune
// batches, but losing one only brings back events of epochs the node no
// longer reads, so the simulated store does not model that loss.
func (s *simStore) Prune(epoch uint64) error {
	if err := s.failing(writePrune); err != nil {
		return err
	}
	s.undamage(func(d *damage) bool { return d.kind == writeEvent && d.pos.Epoch < epoch })
	return s.mem.Prune(epoch)
}

func (s *simStore) find(match func(*damage) bool) *damage {
	for i := range s.damaged {
		if match(&s.damaged[i]) {
			return &s.damaged[i]
		}
	}
	return nil
}

func (s *simStore) undamage(match func(*damage) bool) {
	if len(s.damaged) == 0 {
		return
	}
	keep := s.damaged[:0]
	for _, d := range s.damaged {
		if !match(&d) {
			keep = append(keep, d)
		}
	}
	s.damaged = keep
}

// failNext arms the next write of kind k (or any write) to fail.
func (s *simStore) failNext(k writeKind) { s.fail = k }

// corrupt damages the newest stored record of kind k: a flipped bit, or
// if torn the record cut short. It describes the damage as a read will
// find it, or says that there was no such record and reports false.
func (s *simStore) corrupt(k writeKind, torn bool) (string, bool) {
	d := damage{kind: k}
	var written []byte
	switch k {
	case writeEvent:
		pos := s.lastEvent
		n := 0
		var enc []byte
		_ = s.mem.Scan(pos, func(p node.Position, e []byte) bool {
			if p.RoundStart() != pos {
				return false
			}
			n, enc = n+1, e
			return true
		})
		if n == 0 {
			return "no event stored", false
		}
		d.pos, d.index, written = pos, n-1, enc
	case writeLastSigned:
		sg, ok, _ := s.mem.LastSigned()
		if !ok {
			return "no last-signed record stored", false
		}
		written = binary.BigEndian.AppendUint64(nil, sg.Epoch)
		written = binary.BigEndian.AppendUint64(written, sg.Ref.Round)
		written = binary.BigEndian.AppendUint32(written, uint32(sg.Ref.Creator))
		written = append(written, sg.Ref.Hash[:]...)
	case writeSnapshot:
		sn, ok, _ := s.mem.LatestSnapshot()
		if !ok {
			return "no snapshot stored", false
		}
		d.commit = sn.Commit
		written = binary.BigEndian.AppendUint64(nil, sn.Epoch)
		written = append(written, sn.Data...)
	default:
		return "nothing written", false
	}
	s.undamage(func(o *damage) bool {
		return o.kind == d.kind && o.pos == d.pos && o.index == d.index && o.commit == d.commit
	})
	d.written, d.sum = len(written), crc32.Checksum(written, castagnoli)
	// The damaged bytes are the store's own copy: the encodings it holds
	// are shared with other nodes' stores and must stay intact.
	if torn {
		d.holds = append([]byte(nil), written[:s.rng.IntN(len(written))]...)
	} else {
		d.holds = append([]byte(nil), written...)
		d.holds[s.rng.IntN(len(written))] ^= 1 << s.rng.IntN(8)
	}
	s.damaged = append(s.damaged, d)
	return d.problem(), true
}

// tear damages the record written last, as a crash in the middle of
// writing it would.
func (s *simStore) tear() (string, bool) { return s.corrupt(s.last, true) }

// loseUnsynced drops the events put since the last synced write, as a
// machine crash does, and returns how many it dropped.
func (s *simStore) loseUnsynced() int {
	n := 0
	for i := len(s.unsynced) - 1; i >= 0; i-- {
		pos := s.unsynced[i]
		var count int
		if len(s.damaged) > 0 {
			_ = s.mem.Scan(pos, func(p node.Position, _ []byte) bool {
				if p.RoundStart() == pos {
					count++
				}
				return p.RoundStart() == pos
			})
			s.undamage(func(d *damage) bool { return d.kind == writeEvent && d.pos == pos && d.index == count-1 })
		}
		if s.mem.DropNewest(pos) {
			n++
		}
	}
	s.unsynced = s.unsynced[:0]
	return n
}

// copySynced returns a copy of what the store holds on disk, as a backup
// (a snapshot of the disk) takes it and a restore puts it back: every
// record, damaged ones as they are, but not the events put since the last
// synced write (when the store tracks them: lossy). A write armed to fail
// is not copied: it is the disk's, not the data's. The copy shares the
// store's random source; only one of them runs at a time.
func (s *simStore) copySynced() *simStore {
	c := &simStore{mem: s.mem.Clone(), rng: s.rng, lossy: s.lossy, last: s.last, lastEvent: s.lastEvent,
		unsynced: slices.Clone(s.unsynced), damaged: slices.Clone(s.damaged)}
	c.loseUnsynced()
	return c
}

// describe says what the store holds, for traces.
func (s *simStore) describe() string {
	what := fmt.Sprintf("%d events", s.mem.Len())
	if sg, ok, _ := s.mem.LastSigned(); ok {
		what += fmt.Sprintf(", last signed round %d of epoch %d", sg.Ref.Round, sg.Epoch)
	}
	if sn, ok, _ := s.mem.LatestSnapshot(); ok {
		what += fmt.Sprintf(", snapshot at commit %d", sn.Commit)
	}
	if len(s.damaged) > 0 {
		what += fmt.Sprintf(", %d damaged records", len(s.damaged))
	}
	return what
}
