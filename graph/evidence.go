package graph

import (
	"errors"
	"fmt"
)

// Evidence proves that a creator equivocated: two different headers it
// signed for one round of one epoch. Anyone holding the committee can check
// it without the rest of the graph.
type Evidence struct {
	First, Second Header
}

// ErrInvalidEvidence wraps every reason evidence does not prove anything.
var ErrInvalidEvidence = errors.New("invalid evidence")

// Creator returns the member the evidence accuses.
func (ev *Evidence) Creator() MemberID { return ev.First.Creator }

// Round returns the round in which the creator equivocated.
func (ev *Evidence) Round() uint64 { return ev.First.Round }

// Verify checks that both headers are signed by the same member of c for
// the same epoch and round, and that they differ.
func (ev *Evidence) Verify(c *Committee, v Verifier) error {
	a, b := &ev.First, &ev.Second
	switch {
	case a.Epoch != c.epoch || b.Epoch != c.epoch:
		return fmt.Errorf("%w: epochs %d and %d, committee epoch %d", ErrInvalidEvidence, a.Epoch, b.Epoch, c.epoch)
	case a.Creator != b.Creator:
		return fmt.Errorf("%w: creators %d and %d differ", ErrInvalidEvidence, a.Creator, b.Creator)
	case a.Round != b.Round:
		return fmt.Errorf("%w: rounds %d and %d differ", ErrInvalidEvidence, a.Round, b.Round)
	case int(a.Creator) >= len(c.members):
		return fmt.Errorf("%w: member %d of %d", ErrInvalidEvidence, a.Creator, len(c.members))
	}
	ha, hb := a.Hash(), b.Hash()
	if ha == hb {
		return fmt.Errorf("%w: both headers are event %s", ErrInvalidEvidence, ha)
	}
	key := c.members[a.Creator].Key
	if !v.Verify(key, ha, a.Sig) || !v.Verify(key, hb, b.Sig) {
		return fmt.Errorf("%w: a signature does not verify", ErrInvalidEvidence)
	}
	return nil
}

// Encode returns the evidence's canonical encoding: the two signed headers,
// the one with the smaller hash first, so one equivocation has one encoding.
func (ev *Evidence) Encode() []byte {
	a, b := &ev.First, &ev.Second
	if b.Hash().Less(a.Hash()) {
		a, b = b, a
	}
	return b.AppendEncode(a.AppendEncode(nil))
}

// DecodeEvidence parses evidence; it checks the encoding, not the
// signatures (Verify does).
func DecodeEvidence(data []byte, lim Limits) (*Evidence, error) {
	lim = lim.withDefaults()
	d := newDecoder(data)
	ev := &Evidence{First: d.signedHeader(lim)}
	ev.Second = d.signedHeader(lim)
	if d.End(); d.Err() != nil {
		return nil, fmt.Errorf("evidence: %w", d.Err())
	}
	if !ev.First.Hash().Less(ev.Second.Hash()) {
		return nil, fmt.Errorf("evidence: %w", malformed("headers not in canonical order"))
	}
	return ev, nil
}
