package graph

import (
	"errors"
	"fmt"
)

// Validation errors. Each rejection wraps one of these with the detail, so
// callers can count rejections by kind and peers can be scored.
var (
	ErrWrongEpoch      = errors.New("event of another epoch")
	ErrUnknownCreator  = errors.New("creator not in committee")
	ErrBadSignature    = errors.New("bad signature")
	ErrTxRoot          = errors.New("transaction root does not match batch")
	ErrNoQuorum        = errors.New("parents of the previous round lack a quorum")
	ErrOwnParent       = errors.New("own previous event not referenced exactly once")
	ErrParentMismatch  = errors.New("parent reference disagrees with the parent")
	ErrBelowHorizon    = errors.New("event below the garbage-collection horizon")
	ErrBufferFull      = errors.New("buffer of events waiting for parents is full for this creator")
	ErrSlotFull        = errors.New("too many equivocating events in one slot")
	ErrInvalidAncestor = errors.New("an ancestor was rejected")
)

// Verify checks everything about e that depends only on the committee:
// structure and limits, epoch, creator, quorum of previous-round parents
// (by their references), exactly one reference to the creator's own
// previous event, the Merkle root of the batch, and the signature. It is
// pure and may run on many goroutines at once (each event on one); the
// graph skips these checks for events that passed them here under the same
// limits and an equal committee.
func (c *Committee) Verify(e *Event, v Verifier, lim Limits) error {
	lim = lim.withDefaults()
	if e.verifiedBy.sameAs(c) && e.verifiedLim == lim {
		return nil
	}
	leaves, err := c.Check(e, v, lim)
	if err != nil {
		return err
	}
	e.txHashes = leaves
	e.verifiedBy, e.verifiedLim = c, lim
	return nil
}

// Check makes Verify's checks of e without its memory: it neither reads
// nor records that e passed them before, so it may run on one goroutine
// while another holds e in a graph (e's hash must have been taken, as
// every graph that holds e took it). It returns the transactions' leaf
// hashes.
func (c *Committee) Check(e *Event, v Verifier, lim Limits) ([]Hash, error) {
	lim = lim.withDefaults()
	if err := e.checkStructure(lim); err != nil {
		return nil, err
	}
	if err := c.checkRefs(e); err != nil {
		return nil, err
	}
	root, leaves := BatchRoot(e.Txs)
	if root != e.TxRoot {
		return nil, fmt.Errorf("%w: event %s declares %s, batch hashes to %s", ErrTxRoot, e.Ref(), e.TxRoot, root)
	}
	if !v.Verify(c.members[e.Creator].Key, e.Hash(), e.Sig) {
		return nil, fmt.Errorf("%w: event %s by member %d", ErrBadSignature, e.Ref(), e.Creator)
	}
	return leaves, nil
}

// checkRefs checks the parts of validity that read only the references: the
// creator, the epoch, the quorum at round-1 and the own-parent rule.
func (c *Committee) checkRefs(e *Event) error {
	if e.Epoch != c.epoch {
		return fmt.Errorf("%w: event epoch %d, committee epoch %d", ErrWrongEpoch, e.Epoch, c.epoch)
	}
	if int(e.Creator) >= len(c.members) {
		return fmt.Errorf("%w: member %d of %d", ErrUnknownCreator, e.Creator, len(c.members))
	}
	if e.Round == 0 {
		return nil
	}
	var weight uint64
	own := 0
	prev := MemberID(0)
	for i, p := range e.Parents {
		if int(p.Creator) >= len(c.members) {
			return fmt.Errorf("%w: parent %s names member %d of %d", ErrUnknownCreator, p, p.Creator, len(c.members))
		}
		if p.Creator == e.Creator {
			own++
		}
		// Parents are sorted by round then creator, so the previous round's
		// references come first and repeated creators are adjacent.
		if p.Round == e.Round-1 && (i == 0 || p.Creator != prev) {
			weight += c.members[p.Creator].Weight
		}
		prev = p.Creator
	}
	if !c.IsQuorum(weight) {
		return fmt.Errorf("%w: event %s has weight %d at round %d, quorum is %d", ErrNoQuorum, e.Ref(), weight, e.Round-1, c.QuorumWeight())
	}
	if own != 1 {
		return fmt.Errorf("%w: event %s references %d events of its creator", ErrOwnParent, e.Ref(), own)
	}
	return nil
}
