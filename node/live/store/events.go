package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"dagger/graph"
	"dagger/node"
)

var _ node.Store = (*DB)(nil)

// PutEvent implements node.Store. The write is not synced: see the package
// comment. An event put twice is stored twice, as the MemStore does; the
// ledger puts each inserted event once.
func (d *DB) PutEvent(e *graph.Event) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	enc := e.Encode()
	if len(enc) > MaxRecordBytes {
		return fmt.Errorf("event %s is %d bytes, more than the store's limit of %d", e.Ref(), len(enc), MaxRecordBytes)
	}
	ek := eventKey(node.Position{Epoch: e.Epoch, Round: e.Round}, d.nextSeq)
	ik := indexKey(e.Hash())
	var seq [seqSize]byte
	binary.BigEndian.PutUint64(seq[:], d.nextSeq+1)
	// Both backends copy what a batch is given before Set returns, so the
	// scratch buffer may be reused for the next event.
	d.scratch = appendRecord(d.scratch[:0], ek, enc)
	b := d.kv.NewBatch()
	defer b.Close()
	err := errors.Join(
		b.Set(ek, d.scratch),
		b.Set(ik, appendRecord(nil, ik, ek)),
		b.Set(keySeq, appendRecord(nil, keySeq, seq[:])),
	)
	if err == nil {
		err = b.Write()
	}
	if err != nil {
		return fmt.Errorf("write event %s: %w", e.Ref(), err)
	}
	d.nextSeq++
	d.noteStored(e.Epoch)
	return nil
}

// noteStored records that an event of epoch was stored, so that the next
// Prune looks there again if a Prune passed it or is passing it now.
func (d *DB) noteStored(epoch uint64) {
	for {
		s := d.stored.Load()
		if epoch >= s || d.stored.CompareAndSwap(s, epoch) {
			return
		}
	}
}

// SetLastSigned implements node.Store; the event s names must have been
// put. It returns once the record and the event are on disk.
//
// A synced write alone would not cover the event's earlier unsynced write
// on goleveldb: when its journal fills up, goleveldb starts a new journal
// file and closes the old one without fsync (leveldb/db_state.go, newMem),
// and a later sync flushes only the new file. (Pebble does sync its old log
// on rotation.) So the event and its index entry are written again, with
// the counter that lies beyond the event's seq, in the synced batch itself:
// durability then rests on one batch, on either backend.
func (d *DB) SetLastSigned(s node.Signed) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	ik := indexKey(s.Ref.Hash)
	iv, err := d.kv.Get(ik)
	if err != nil {
		return d.damaged(fmt.Errorf("read %s: %w", describeKey(ik), err))
	}
	if iv == nil {
		return fmt.Errorf("store last signed %s: the event is not stored; the ledger must put an event before recording it as signed", s.Ref)
	}
	ek, ev, _, err := d.eventByIndex(ik, iv)
	if err != nil {
		return err
	}
	if pos, _ := parseEventKey(ek); pos != (node.Position{Epoch: s.Epoch, Round: s.Ref.Round}) {
		return fmt.Errorf("store last signed %s of epoch %d: the stored event with that hash is at epoch %d, round %d",
			s.Ref, s.Epoch, pos.Epoch, pos.Round)
	}
	var seq [seqSize]byte
	binary.BigEndian.PutUint64(seq[:], d.nextSeq)
	b := d.kv.NewBatch()
	defer b.Close()
	err = errors.Join(
		b.Set(ek, ev),
		b.Set(ik, iv),
		b.Set(keySeq, appendRecord(nil, keySeq, seq[:])),
		b.Set(keyLastSigned, appendRecord(nil, keyLastSigned, encodeLastSigned(s))),
	)
	if err == nil {
		err = b.WriteSync()
	}
	if err != nil {
		return fmt.Errorf("write last signed %s: %w", s.Ref, err)
	}
	d.noteStored(s.Epoch)
	// The mark follows the store: a crash between the two leaves the store
	// ahead, which the next Open accepts (checkMark).
	return d.mark.setSigned(s)
}

// LastSigned implements node.Store.
func (d *DB) LastSigned() (node.Signed, bool, error) {
	if err := d.enter(); err != nil {
		return node.Signed{}, false, err
	}
	defer d.leave()
	return d.lastSigned()
}

func (d *DB) lastSigned() (node.Signed, bool, error) {
	v, err := d.kv.Get(keyLastSigned)
	if err != nil {
		return node.Signed{}, false, d.damaged(fmt.Errorf("read %s: %w", describeKey(keyLastSigned), err))
	}
	if v == nil {
		return node.Signed{}, false, nil
	}
	p, err := decodeFixed(keyLastSigned, v, lastSignedSize)
	if err != nil {
		return node.Signed{}, false, d.damaged(err)
	}
	return decodeLastSigned(p), true, nil
}

// Scan implements node.Store. The slices it passes are copies that fn may
// keep: the ledger's decoder keeps them as the events' encodings. fn may
// call the store's other methods, except Close; it sees the events stored
// before Scan began.
func (d *DB) Scan(from node.Position, fn func(node.Position, []byte) bool) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	it, err := d.kv.Iterator(eventKey(from, 0), []byte{kindEvent + 1})
	if err != nil {
		return d.damaged(fmt.Errorf("scan events: %w", err))
	}
	// Both backends iterate over an implicit snapshot, so writes made by
	// fn neither disturb nor appear in this scan.
	defer it.Close()
	// Index counts the round's events in key order (their insertion
	// order); those of from's round below from.Index are passed over by
	// their keys, without reading their values.
	at, index := from.RoundStart(), uint32(0)
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if !isEventKey(k) {
			return d.damaged(fmt.Errorf("%w %s: an event key is %d bytes", ErrCorrupt, describeKey(k), eventKeySize))
		}
		pos, _ := parseEventKey(k)
		if pos != at {
			at, index = pos, 0
		}
		pos.Index = index
		if index++; pos.Less(from) {
			continue
		}
		p, err := decodeRecord(k, it.Value())
		if err != nil {
			return d.damaged(err)
		}
		if !fn(pos, bytes.Clone(p)) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return d.damaged(fmt.Errorf("scan events: %w", err))
	}
	return nil
}

// Get returns the encoding of the stored event with hash h; the slice is
// the caller's. It may be called from any goroutine.
func (d *DB) Get(h graph.Hash) ([]byte, bool, error) {
	if err := d.enter(); err != nil {
		return nil, false, err
	}
	defer d.leave()
	ik := indexKey(h)
	iv, err := d.kv.Get(ik)
	if err != nil {
		return nil, false, d.damaged(fmt.Errorf("read %s: %w", describeKey(ik), err))
	}
	if iv == nil {
		return nil, false, nil
	}
	_, _, p, err := d.eventByIndex(ik, iv)
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// eventByIndex follows the index entry iv stored at ik and returns the
// event's key, its checked value and the encoding framed in it.
func (d *DB) eventByIndex(ik, iv []byte) (ek, ev, enc []byte, err error) {
	ek, err = decodeRecord(ik, iv)
	if err == nil && !isEventKey(ek) {
		err = corrupt(ik, "holds %d bytes that are not an event key", len(ek))
	}
	if err != nil {
		return nil, nil, nil, d.damaged(err)
	}
	ev, err = d.kv.Get(ek)
	if err != nil {
		return nil, nil, nil, d.damaged(fmt.Errorf("read %s: %w", describeKey(ek), err))
	}
	if ev == nil {
		return nil, nil, nil, d.damaged(fmt.Errorf("%w %s: names %s, which is missing", ErrCorrupt, describeKey(ik), describeKey(ek)))
	}
	if enc, err = decodeRecord(ek, ev); err != nil {
		return nil, nil, nil, d.damaged(err)
	}
	return ek, ev, enc, nil
}
