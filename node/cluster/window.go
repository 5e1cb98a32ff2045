// The replay window: the ids of committed transactions whose expiry has
// not passed, so that none commits twice.

package cluster

import (
	"fmt"
	"slices"
	"time"

	"dagger/node/tx"
)

// A transaction commits only with an expiry in [time, time+MaxValidity],
// so the ids the state remembers have expiries within MaxValidity of each
// other. They are kept in a ring of windowSeconds buckets, one per second
// of expiry: remembering an id is one map insert, forgetting the ids of a
// second that passed drops its bucket at once (no per-id work, no
// per-id ordering entry), and a lookup goes straight to the bucket of the
// transaction's expiry, which its id covers. An id is forgotten at the
// first commit whose time is in a later second than its expiry: up to a
// second after it can no longer commit.
const (
	windowSecond  = int64(time.Second)
	windowSeconds = int64(tx.MaxValidity/time.Second) + 1
)

func init() {
	if tx.MaxValidity%time.Second != 0 {
		panic("cluster: tx.MaxValidity must be whole seconds")
	}
}

// seenWindow is the replay window: committed ids by the second of their
// expiry, each with the index of the commit that held it.
type seenWindow struct {
	buckets [windowSeconds]seenBucket
	n       int      // ids in all buckets
	hash    [32]byte // XOR of the buckets' hashes
}

// seenBucket holds the ids whose expiry is in second sec (Unix seconds),
// while ids is not empty.
type seenBucket struct {
	sec  int64
	ids  map[tx.ID]uint64 // id → commit
	hash [32]byte         // XOR of the hashes of the ids with their commits (xorSeen)
}

// expirySecond is the second a time (Unix ns) falls in.
func expirySecond(t int64) int64 {
	s := t / windowSecond
	if t%windowSecond < 0 {
		s--
	}
	return s
}

func (w *seenWindow) bucket(sec int64) *seenBucket {
	i := sec % windowSeconds
	if i < 0 {
		i += windowSeconds
	}
	return &w.buckets[i]
}

// lookup returns the commit of id if it is remembered with an expiry in
// the given second.
func (w *seenWindow) lookup(id tx.ID, sec int64) (uint64, bool) {
	b := w.bucket(sec)
	if len(b.ids) == 0 || b.sec != sec {
		return 0, false
	}
	c, ok := b.ids[id]
	return c, ok
}

// find looks id up in every bucket: for callers that know only the id.
func (w *seenWindow) find(id tx.ID) (uint64, bool) {
	for i := range w.buckets {
		if c, ok := w.buckets[i].ids[id]; ok {
			return c, true
		}
	}
	return 0, false
}

// add remembers id, with its expiry and commit. The caller (CheckWindow)
// made sure that the expiry lies within MaxValidity of the time, and
// prune that every bucket of an earlier second than the time's is empty,
// so the expiry's bucket is empty or already holds its second.
func (w *seenWindow) add(id tx.ID, expiry int64, commit uint64) {
	sec := expirySecond(expiry)
	b := w.bucket(sec)
	switch {
	case len(b.ids) == 0:
		b.sec = sec
		if b.ids == nil {
			b.ids = map[tx.ID]uint64{}
		}
	case b.sec != sec:
		panic(fmt.Sprintf("cluster: replay window: second %d's bucket still holds second %d", sec, b.sec))
	}
	b.ids[id] = commit
	xorSeen(&b.hash, id, commit)
	xorSeen(&w.hash, id, commit)
	w.n++
}

// prune forgets the ids whose expiry is in an earlier second than now:
// they can no longer commit. An emptied bucket keeps its map's room for
// the second that reuses it.
func (w *seenWindow) prune(now int64) {
	floor := expirySecond(now)
	for i := range w.buckets {
		b := &w.buckets[i]
		if len(b.ids) == 0 || b.sec >= floor {
			continue
		}
		w.n -= len(b.ids)
		for j := range w.hash {
			w.hash[j] ^= b.hash[j]
		}
		clear(b.ids)
		b.hash = [32]byte{}
	}
}

// seconds returns the seconds that hold ids, in increasing order.
func (w *seenWindow) seconds() []int64 {
	var out []int64
	for i := range w.buckets {
		if b := &w.buckets[i]; len(b.ids) > 0 {
			out = append(out, b.sec)
		}
	}
	slices.Sort(out)
	return out
}
