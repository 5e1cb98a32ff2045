package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"dagger/graph"
	"dagger/node"
)

// KeepSnapshots is how many snapshots PutSnapshot keeps: the newest, and
// the one before it in case the newest cannot be used.
const KeepSnapshots = 2

// SetCommitted records that the node applied the order up to commit index,
// whose leader is at pos. The write is not synced: the order is rebuilt
// from the events on restart, and the record only tells the runtime how
// far it had got, so after a crash it may lag behind.
func (d *DB) SetCommitted(index uint64, pos node.Position) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	p := make([]byte, 0, committedSize)
	p = binary.BigEndian.AppendUint64(p, index)
	p = binary.BigEndian.AppendUint64(p, pos.Epoch)
	p = binary.BigEndian.AppendUint64(p, pos.Round)
	if err := d.kv.Set(keyCommitted, appendRecord(nil, keyCommitted, p)); err != nil {
		return fmt.Errorf("write commit position %d: %w", index, err)
	}
	return nil
}

// Committed returns what SetCommitted recorded last, if anything.
func (d *DB) Committed() (index uint64, pos node.Position, ok bool, err error) {
	if err := d.enter(); err != nil {
		return 0, node.Position{}, false, err
	}
	defer d.leave()
	v, err := d.kv.Get(keyCommitted)
	if err != nil {
		return 0, node.Position{}, false, d.damaged(fmt.Errorf("read %s: %w", describeKey(keyCommitted), err))
	}
	if v == nil {
		return 0, node.Position{}, false, nil
	}
	p, err := decodeFixed(keyCommitted, v, committedSize)
	if err != nil {
		return 0, node.Position{}, false, d.damaged(err)
	}
	pos = node.Position{Epoch: binary.BigEndian.Uint64(p[8:]), Round: binary.BigEndian.Uint64(p[16:])}
	return binary.BigEndian.Uint64(p), pos, true, nil
}

// PutSnapshot implements node.Store: it stores a snapshot of the state at
// the start of epoch s.Epoch, keyed by its commit index, and drops all but
// the newest KeepSnapshots. The commit index must not be below the newest
// stored one; storing the same index again replaces it. The write is
// synced: snapshots are rare and large, so the flush costs little next to
// the write, and the node prunes the events below a snapshot it was told
// is stored.
func (d *DB) PutSnapshot(sn node.Snapshot) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	index := sn.Commit
	if len(sn.Data)+8 > MaxRecordBytes {
		return fmt.Errorf("snapshot %d is %d bytes, more than the store's limit of %d", index, len(sn.Data), MaxRecordBytes-8)
	}
	stored, err := d.snapshotKeys()
	if err != nil {
		return err
	}
	if n := len(stored); n > 0 {
		if newest := binary.BigEndian.Uint64(stored[n-1][1:]); newest > index {
			return fmt.Errorf("snapshot %d is older than the stored snapshot %d", index, newest)
		}
	}
	k := snapshotKey(index)
	p := make([]byte, 0, 8+len(sn.Data))
	p = binary.BigEndian.AppendUint64(p, sn.Epoch)
	p = append(p, sn.Data...)
	b := d.kv.NewBatch()
	defer b.Close()
	errs := []error{b.Set(k, appendRecord(nil, k, p))}
	// Keep the newest KeepSnapshots-1 others besides k.
	var others [][]byte
	for _, s := range stored {
		if !bytes.Equal(s, k) {
			others = append(others, s)
		}
	}
	for _, s := range others[:max(0, len(others)-(KeepSnapshots-1))] {
		errs = append(errs, b.Delete(s))
	}
	err = errors.Join(errs...)
	if err == nil {
		err = b.WriteSync()
	}
	if err != nil {
		return fmt.Errorf("write snapshot %d: %w", index, err)
	}
	return nil
}

// snapshotKeys returns the keys of the stored snapshots, oldest first.
func (d *DB) snapshotKeys() ([][]byte, error) {
	it, err := d.kv.Iterator([]byte{kindSnapshot}, []byte{kindSnapshot + 1})
	if err != nil {
		return nil, d.damaged(fmt.Errorf("list snapshots: %w", err))
	}
	defer it.Close()
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != snapshotKeySize {
			return nil, d.damaged(fmt.Errorf("%w %s: a snapshot key is %d bytes", ErrCorrupt, describeKey(k), snapshotKeySize))
		}
		keys = append(keys, bytes.Clone(k))
	}
	if err := it.Error(); err != nil {
		return nil, d.damaged(fmt.Errorf("list snapshots: %w", err))
	}
	return keys, nil
}

// LatestSnapshot implements node.Store; the data is the caller's.
func (d *DB) LatestSnapshot() (node.Snapshot, bool, error) {
	if err := d.enter(); err != nil {
		return node.Snapshot{}, false, err
	}
	defer d.leave()
	it, err := d.kv.ReverseIterator([]byte{kindSnapshot}, []byte{kindSnapshot + 1})
	if err != nil {
		return node.Snapshot{}, false, d.damaged(fmt.Errorf("read snapshots: %w", err))
	}
	defer it.Close()
	if !it.Valid() {
		if err := it.Error(); err != nil {
			return node.Snapshot{}, false, d.damaged(fmt.Errorf("read snapshots: %w", err))
		}
		return node.Snapshot{}, false, nil
	}
	k := it.Key()
	if len(k) != snapshotKeySize {
		return node.Snapshot{}, false, d.damaged(fmt.Errorf("%w %s: a snapshot key is %d bytes", ErrCorrupt, describeKey(k), snapshotKeySize))
	}
	p, err := decodeRecord(k, it.Value())
	if err == nil && len(p) < 8 {
		err = corrupt(k, "holds %d bytes, less than its epoch", len(p))
	}
	if err != nil {
		return node.Snapshot{}, false, d.damaged(err)
	}
	return node.Snapshot{Epoch: binary.BigEndian.Uint64(p), Commit: binary.BigEndian.Uint64(k[1:]), Data: bytes.Clone(p[8:])}, true, nil
}

// pruneBatch bounds the events one batch of Prune deletes.
const pruneBatch = 4096

// Prune implements node.Store: it deletes the events of the epochs below
// epoch and their index entries, a batch at a time. The batches are not
// synced: after a crash, Prune simply finds the rest again.
func (d *DB) Prune(epoch uint64) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	stored := d.stored.Swap(math.MaxUint64)
	from := min(d.pruned.Load(), stored)
	if epoch <= from {
		d.noteStored(stored)
		return nil
	}
	done := false
	defer func() {
		if done {
			d.pruned.Store(epoch)
		} else {
			d.noteStored(from) // the next Prune looks again
		}
	}()
	start, end := eventKey(node.Position{Epoch: from}, 0), eventKey(node.Position{Epoch: epoch}, 0)
	for {
		var keys, index [][]byte
		it, err := d.kv.Iterator(start, end)
		if err != nil {
			return d.damaged(fmt.Errorf("prune events: %w", err))
		}
		for ; it.Valid() && len(keys) < pruneBatch; it.Next() {
			k := it.Key()
			if !isEventKey(k) {
				it.Close()
				return d.damaged(fmt.Errorf("%w %s: an event key is %d bytes", ErrCorrupt, describeKey(k), eventKeySize))
			}
			p, err := decodeRecord(k, it.Value())
			var h graph.Hash
			if err == nil {
				if h, err = graph.EncodedHash(p); err != nil {
					err = corrupt(k, "holds no event: %v", err)
				}
			}
			if err != nil {
				it.Close()
				return d.damaged(err)
			}
			keys = append(keys, bytes.Clone(k))
			index = append(index, indexKey(h))
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return d.damaged(fmt.Errorf("prune events: %w", err))
		}
		if len(keys) == 0 {
			done = true
			return nil
		}
		// The next batch starts past this one, not over its tombstones.
		start = append(bytes.Clone(keys[len(keys)-1]), 0)
		b := d.kv.NewBatch()
		var errs []error
		for i, k := range keys {
			errs = append(errs, b.Delete(k))
			// An event stored twice has one index entry, naming the later
			// copy, which lies in the same epoch: it goes too.
			errs = append(errs, b.Delete(index[i]))
		}
		err = errors.Join(errs...)
		if err == nil {
			err = b.Write()
		}
		b.Close()
		if err != nil {
			return fmt.Errorf("prune events below epoch %d: %w", epoch, err)
		}
	}
}
