package graph

import (
	"cmp"
	"dagger/graph/codec"
	"errors"
	"fmt"
	"slices"
)

// TxWindow is the part of the transaction replay window that crosses an
// epoch boundary: the transactions the ending epoch delivered within its
// last GC depth leader rounds, each with the leader round of the next
// epoch after whose commit it leaves the window.
//
// Rounds restart at 0 in every epoch; the window does not. On the axis
// that lines the epochs up, where an epoch's round 0 directly follows its
// predecessor's last committed leader round, a transaction is delivered at
// most once within GC depth leader rounds, whatever the epoch: a commit
// with leader round L leaves out every transaction delivered at a leader
// round of L-GCDepth-1 or above (on that axis) by an earlier commit.
// Config.Window hands the window to the next epoch's graph, and a snapshot
// of the state at an epoch start carries it across a restart.
type TxWindow []WindowTx

// WindowTx is one delivered transaction in a TxWindow.
type WindowTx struct {
	Hash Hash
	// Expires is the leader round (of the epoch the window is handed to)
	// after whose commit the transaction leaves the window. It is at most
	// the GC depth.
	Expires uint64
}

// MaxWindowTxs bounds a decoded TxWindow: as many transactions as 64
// rounds of full events from a committee of 256, far more than GC depth
// leader rounds deliver at any throughput the design targets.
const MaxWindowTxs = 1 << 24

const windowVersion = 1

// Encode returns the window's canonical encoding: a version byte, the
// number of expiry groups, and per group its expiry, its count and its
// hashes in increasing order. WindowAt leaves each expiry's hashes in the
// order they were delivered, which saves its caller, a node's loop at an
// epoch's end, the sort (40 ms for the 210,000 transactions of a node
// committing 80,000 a second); Encode sorts a copy of any window not in
// canonical order, and whatever order a window is in, its encoding is the
// same.
func (w TxWindow) Encode() []byte {
	if !slices.IsSortedFunc(w, cmpWindowTx) {
		w = slices.Clone(w)
		slices.SortFunc(w, cmpWindowTx)
	}
	groups := 0
	for i := range w {
		if i == 0 || w[i].Expires != w[i-1].Expires {
			groups++
		}
	}
	wr := codec.Writer{B: make([]byte, 0, 5+12*groups+HashSize*len(w))}
	wr.U8(windowVersion)
	wr.Count(groups)
	for i := 0; i < len(w); {
		j := i
		for j < len(w) && w[j].Expires == w[i].Expires {
			j++
		}
		wr.U64(w[i].Expires)
		wr.Count(j - i)
		for _, t := range w[i:j] {
			wr.Raw(t.Hash[:])
		}
		i = j
	}
	return wr.B
}

// ErrWindow wraps every reason DecodeTxWindow refuses an encoding.
var ErrWindow = errors.New("bad transaction window")

// DecodeTxWindow decodes what Encode wrote. It accepts only the
// canonical encoding: groups by increasing expiry, none beyond maxExpiry
// (a graph's GC depth; New checks that bound again), hashes increasing
// within a group and never repeated, at most MaxWindowTxs in all.
func DecodeTxWindow(b []byte, maxExpiry uint64) (TxWindow, error) {
	r := codec.NewReader(b, func(msg string) error { return fmt.Errorf("%w: %s", ErrWindow, msg) })
	if v := r.U8("version"); r.Err() == nil && v != windowVersion {
		r.Fail("version %d, want %d", v, windowVersion)
	}
	// A group takes at least 12 bytes and one hash.
	groups := r.Count("expiry groups", MaxWindowTxs, 12+HashSize)
	var w TxWindow
	seen := make(map[Hash]struct{})
	for g := 0; g < groups && r.Err() == nil; g++ {
		exp := r.U64("expiry")
		n := r.Count("hashes", MaxWindowTxs-len(w), HashSize)
		switch {
		case r.Err() != nil:
		case exp > maxExpiry:
			r.Fail("group %d expires at round %d, beyond %d", g, exp, maxExpiry)
		case g > 0 && exp <= w[len(w)-1].Expires:
			r.Fail("group %d expires at round %d, not after the group before it", g, exp)
		case n == 0:
			r.Fail("group %d is empty", g)
		}
		for i := 0; i < n && r.Err() == nil; i++ {
			var h Hash
			r.Fixed(h[:], "hash")
			if i > 0 && !w[len(w)-1].Hash.Less(h) {
				r.Fail("group %d: hashes out of order", g)
			} else if _, dup := seen[h]; dup {
				r.Fail("transaction %s appears twice", h)
			}
			seen[h] = struct{}{}
			w = append(w, WindowTx{Hash: h, Expires: exp})
		}
	}
	if r.End(); r.Err() != nil {
		return nil, r.Err()
	}
	return w, nil
}

func cmpWindowTx(a, b WindowTx) int {
	if a.Expires != b.Expires {
		return cmp.Compare(a.Expires, b.Expires)
	}
	return a.Hash.Compare(b.Hash)
}

// commitLog is what one commit of the batch Ready hands out did to the
// replay window, so that WindowAt can rewind to it.
type commitLog struct {
	index  uint64
	leader uint64 // the commit's leader round
	added  uint64 // the expiry its deliveries were filed under
	pruned []expiryGroup
}

// expiryGroup is the list of the delivered transactions that leave the
// window after one leader round's commit.
type expiryGroup struct {
	expires uint64
	hashes  []Hash
}

// maxSpare bounds the emptied hash lists a graph keeps for reuse: a few
// batches' worth.
const maxSpare = 64

// bucket returns an empty hash list with room for about n hashes, reusing
// a spare one if it can.
func (g *Graph) bucket(n int) []Hash {
	if k := len(g.spare); k > 0 {
		b := g.spare[k-1]
		g.spare = g.spare[:k-1]
		return b
	}
	return make([]Hash, 0, n)
}

// file adds hashes, delivered, to the group that expires at expires.
func (g *Graph) file(expires uint64, hashes []Hash) {
	if len(hashes) == 0 {
		if len(g.spare) < maxSpare {
			g.spare = append(g.spare, hashes)
		}
		return
	}
	if old := g.deliveredByExp[expires]; len(old) > 0 {
		hashes = append(old, hashes...)
	}
	g.deliveredByExp[expires] = hashes
}

// pruneDelivered drops from the window what leaves it after the commit
// with leader round l, and logs it.
func (g *Graph) pruneDelivered(l uint64, log *commitLog) {
	if l < g.expNext {
		return
	}
	drop := func(k uint64) {
		hs, ok := g.deliveredByExp[k]
		if !ok {
			return
		}
		for _, h := range hs {
			g.delivered.del(h)
		}
		log.pruned = append(log.pruned, expiryGroup{expires: k, hashes: hs})
		delete(g.deliveredByExp, k)
	}
	if l-g.expNext < uint64(len(g.deliveredByExp)) {
		for k := g.expNext; k <= l; k++ {
			drop(k)
		}
	} else {
		var ks []uint64
		for k := range g.deliveredByExp {
			if k <= l {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		for _, k := range ks {
			drop(k)
		}
	}
	g.expNext = l + 1
}

// WindowAt returns the replay window as it stood right after the commit
// with the given index, shifted for the epoch that would start after it:
// the window Config.Window takes. The commit must be one of those the
// last call of Ready returned (an epoch ends at a commit the caller is
// applying, and the graph may have committed past it in the same batch).
func (g *Graph) WindowAt(index uint64) (TxWindow, error) {
	at := -1
	for i := range g.logs {
		if g.logs[i].index == index {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("graph: commit %d is not in the batch Ready returned last", index)
	}
	// What later commits of the batch delivered is filed under their own
	// expiries, which no other delivery shares; what they pruned goes back.
	later := make(map[uint64]bool)
	for _, lg := range g.logs[at+1:] {
		later[lg.added] = true
	}
	shift := g.logs[at].leader + 1
	var groups []expiryGroup
	for k, hs := range g.deliveredByExp {
		if !later[k] {
			groups = append(groups, expiryGroup{expires: k, hashes: hs})
		}
	}
	for _, lg := range g.logs[at+1:] {
		for _, p := range lg.pruned {
			if !later[p.expires] {
				groups = append(groups, p)
			}
		}
	}
	// By expiry, each expiry's hashes in delivery order (see Encode). No
	// two groups share an expiry: a later commit files its deliveries
	// above every expiry it prunes.
	slices.SortFunc(groups, func(a, b expiryGroup) int { return cmp.Compare(a.expires, b.expires) })
	w := make(TxWindow, 0, g.delivered.len())
	for _, gr := range groups {
		for _, h := range gr.hashes {
			w = append(w, WindowTx{Hash: h, Expires: gr.expires - shift})
		}
	}
	return w, nil
}
