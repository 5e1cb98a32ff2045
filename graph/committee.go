package graph

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// MemberID is a member's index in its committee, the form in which events
// name their creator.
type MemberID uint32

// PublicKeySize is the size of a member's public key.
const PublicKeySize = 32

// PublicKey is a member's signing key (an ed25519 public key in production).
type PublicKey [PublicKeySize]byte

// Member is one validator of an epoch.
type Member struct {
	Key    PublicKey
	Weight uint64
}

// Limits on committees: a bound on size keeps per-event work O(n) with a
// known n, and a bound on total weight keeps 3*weight from overflowing.
const (
	MaxCommitteeSize   = 1024
	MaxCommitteeWeight = 1 << 60
)

// Committee is the fixed set of members of one epoch with their weights.
// All thresholds are strict: a quorum is more than 2/3 of the total
// weight, validity more than 1/3. With n equal weights and n >= 3f+1 any
// 2f+1 members form a quorum and any f+1 are valid, so f faulty members can
// neither form a quorum alone nor block one.
type Committee struct {
	epoch   uint64
	members []Member
	total   uint64
	// leaderSeed makes the leader schedule depend on the epoch and the
	// committee, so that two epochs do not share one schedule.
	leaderSeed [HashSize]byte
}

// NewCommittee checks and builds the committee of an epoch. Members keep the
// order given: a member's index is its MemberID.
func NewCommittee(epoch uint64, members []Member) (*Committee, error) {
	if len(members) == 0 {
		return nil, errors.New("committee: no members")
	}
	if len(members) > MaxCommitteeSize {
		return nil, fmt.Errorf("committee: %d members, at most %d allowed", len(members), MaxCommitteeSize)
	}
	c := &Committee{epoch: epoch, members: make([]Member, len(members))}
	copy(c.members, members)
	seen := make(map[PublicKey]int, len(members))
	d := sha256.New()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], epoch)
	d.Write([]byte("shadowgraph/leaders/v1\x00"))
	d.Write(buf[:])
	for i, m := range members {
		if m.Weight == 0 {
			return nil, fmt.Errorf("committee: member %d has weight 0; remove it instead", i)
		}
		if j, dup := seen[m.Key]; dup {
			return nil, fmt.Errorf("committee: members %d and %d share a key", j, i)
		}
		seen[m.Key] = i
		sum, carry := bits.Add64(c.total, m.Weight, 0)
		if carry != 0 || sum > MaxCommitteeWeight {
			return nil, fmt.Errorf("committee: total weight exceeds %d", uint64(MaxCommitteeWeight))
		}
		c.total = sum
		d.Write(m.Key[:])
		binary.BigEndian.PutUint64(buf[:], m.Weight)
		d.Write(buf[:])
	}
	d.Sum(c.leaderSeed[:0])
	return c, nil
}

// sameAs reports whether c and o are one committee: the same epoch and
// members with the same weights in the same order, which the leader seed
// hashes. Every node derives its own Committee value for an epoch from the
// commits, so an event shared by many nodes of one process (as the
// simulator shares them) is verified once, not once per node.
func (c *Committee) sameAs(o *Committee) bool {
	return c != nil && o != nil && (c == o || c.leaderSeed == o.leaderSeed)
}

// EqualCommittee builds a committee of the given keys, each of weight 1.
func EqualCommittee(epoch uint64, keys []PublicKey) (*Committee, error) {
	members := make([]Member, len(keys))
	for i, k := range keys {
		members[i] = Member{Key: k, Weight: 1}
	}
	return NewCommittee(epoch, members)
}

// Epoch returns the epoch this committee runs.
func (c *Committee) Epoch() uint64 { return c.epoch }

// Size returns the number of members.
func (c *Committee) Size() int { return len(c.members) }

// Member returns member id; ok is false if there is no such member.
func (c *Committee) Member(id MemberID) (Member, bool) {
	if int(id) >= len(c.members) {
		return Member{}, false
	}
	return c.members[id], true
}

// Weight returns the weight of member id, 0 if it is not a member.
func (c *Committee) Weight(id MemberID) uint64 {
	if int(id) >= len(c.members) {
		return 0
	}
	return c.members[id].Weight
}

// TotalWeight returns the sum of all members' weights.
func (c *Committee) TotalWeight() uint64 { return c.total }

// IsQuorum reports whether weight w is more than 2/3 of the total.
func (c *Committee) IsQuorum(w uint64) bool { return 3*w > 2*c.total }

// IsValidity reports whether weight w is more than 1/3 of the total: such a
// set holds at least one honest member when at most f are faulty.
func (c *Committee) IsValidity(w uint64) bool { return 3*w > c.total }

// QuorumWeight returns the least weight that is a quorum.
func (c *Committee) QuorumWeight() uint64 { return 2*c.total/3 + 1 }

// ValidityWeight returns the least weight that reaches validity.
func (c *Committee) ValidityWeight() uint64 { return c.total/3 + 1 }

// Leader returns the creator whose event at round is the round's leader.
// The choice is a hash of the committee seed and the round mapped onto the
// members' cumulative weights, so each member leads in proportion to its
// weight and every node computes the same schedule without communication.
func (c *Committee) Leader(round uint64) MemberID {
	var buf [HashSize + 8]byte
	copy(buf[:], c.leaderSeed[:])
	binary.BigEndian.PutUint64(buf[HashSize:], round)
	h := sha256.Sum256(buf[:])
	// 128-bit product maps the 64-bit hash onto [0, total) without modulo bias
	// worth speaking of at these weights.
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(h[:8]), c.total)
	for i, m := range c.members {
		if hi < m.Weight {
			return MemberID(i)
		}
		hi -= m.Weight
	}
	panic("graph: leader schedule ran past the committee")
}

// MemberByKey returns the id of the member holding key.
func (c *Committee) MemberByKey(key PublicKey) (MemberID, bool) {
	for i, m := range c.members {
		if m.Key == key {
			return MemberID(i), true
		}
	}
	return 0, false
}
