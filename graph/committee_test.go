package graph_test

import (
	"errors"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
)

func keys(n int) []graph.PublicKey {
	out := make([]graph.PublicKey, n)
	for i := range out {
		out[i][0], out[i][1] = byte(i), byte(i>>8)
	}
	return out
}

func TestQuorumIsMoreThanTwoThirdsAndToleratesF(t *testing.T) {
	for n := 1; n <= 40; n++ {
		c, err := graph.EqualCommittee(0, keys(n))
		if err != nil {
			t.Fatal(err)
		}
		f := (n - 1) / 3 // the most faulty members n >= 3f+1 tolerates
		q := uint64(n - f)
		if !c.IsQuorum(q) {
			t.Errorf("n=%d: the %d honest members are no quorum", n, q)
		}
		if c.IsQuorum(uint64(2 * f)) {
			t.Errorf("n=%d: 2f=%d members form a quorum", n, 2*f)
		}
		if c.QuorumWeight() != uint64(2*n/3+1) || !c.IsQuorum(c.QuorumWeight()) || c.IsQuorum(c.QuorumWeight()-1) {
			t.Errorf("n=%d: quorum weight %d is not the least quorum", n, c.QuorumWeight())
		}
		// Any two quorums intersect in more than f members.
		if 2*c.QuorumWeight()-uint64(n) <= uint64(f) {
			t.Errorf("n=%d: two quorums may share only f members", n)
		}
		if c.IsValidity(uint64(f)) {
			t.Errorf("n=%d: f=%d members reach validity", n, f)
		}
		if n == 3*f+1 && !c.IsValidity(uint64(f+1)) {
			t.Errorf("n=%d: f+1 members do not reach validity", n)
		}
	}
}

func TestQuorumCountsWeightNotMembers(t *testing.T) {
	k := keys(4)
	c, err := graph.NewCommittee(0, []graph.Member{{k[0], 5}, {k[1], 1}, {k[2], 1}, {k[3], 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsQuorum(6) || c.IsQuorum(5) || c.TotalWeight() != 8 {
		t.Fatal("weighted quorum wrong")
	}
	if !c.IsValidity(5) || c.IsValidity(2) {
		t.Fatal("weighted validity wrong")
	}
}

func TestCommitteeRejectsBadMembers(t *testing.T) {
	k := keys(3)
	bad := map[string][]graph.Member{
		"empty":         nil,
		"zero weight":   {{k[0], 1}, {k[1], 0}},
		"duplicate key": {{k[0], 1}, {k[0], 1}},
		"overflow":      {{k[0], graph.MaxCommitteeWeight}, {k[1], 1}},
	}
	for name, ms := range bad {
		if _, err := graph.NewCommittee(0, ms); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLeaderScheduleIsDeterministicAndFollowsWeight(t *testing.T) {
	k := keys(4)
	c1, _ := graph.NewCommittee(3, []graph.Member{{k[0], 6}, {k[1], 2}, {k[2], 1}, {k[3], 1}})
	c2, _ := graph.NewCommittee(3, []graph.Member{{k[0], 6}, {k[1], 2}, {k[2], 1}, {k[3], 1}})
	other, _ := graph.NewCommittee(4, []graph.Member{{k[0], 6}, {k[1], 2}, {k[2], 1}, {k[3], 1}})
	counts := make([]int, 4)
	differ := 0
	const rounds = 20000
	for r := uint64(0); r < rounds; r++ {
		l := c1.Leader(r)
		if l != c2.Leader(r) {
			t.Fatalf("round %d: two equal committees disagree on the leader", r)
		}
		if l != other.Leader(r) {
			differ++
		}
		counts[l]++
	}
	// The schedule is a fixed function, so these shares are exact for this
	// committee; the bounds say it follows weight (6:2:1:1).
	if counts[0] < rounds*55/100 || counts[0] > rounds*65/100 || counts[1] < rounds*15/100 || counts[1] > rounds*25/100 {
		t.Fatalf("leader shares %v do not follow the weights 6:2:1:1", counts)
	}
	if differ == 0 {
		t.Fatal("two epochs share one schedule")
	}
}

// countingVerifier counts the signatures it is asked to check.
type countingVerifier struct{ n int }

func (v *countingVerifier) Verify(key graph.PublicKey, d graph.Hash, sig graph.Signature) bool {
	v.n++
	return graph.Ed25519{}.Verify(key, d, sig)
}

// An event verified under one committee is not verified again under an
// equal committee built separately (as every node of one process builds
// its own), but is under one that differs in anything.
func TestVerifyOnceUnderEqualCommittees(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	e := b.Layered(2, 2, 10)[1][0]
	members := make([]graph.Member, b.Committee.Size())
	for i := range members {
		members[i], _ = b.Committee.Member(graph.MemberID(i))
	}
	equal, err := graph.NewCommittee(0, members)
	if err != nil {
		t.Fatal(err)
	}
	members[3].Weight = 2
	heavier, err := graph.NewCommittee(0, members)
	if err != nil {
		t.Fatal(err)
	}
	v := &countingVerifier{}
	for _, c := range []*graph.Committee{b.Committee, equal, b.Committee} {
		if err := c.Verify(e, v, graph.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if v.n != 1 {
		t.Fatalf("equal committees verified the event %d times, want once", v.n)
	}
	if err := heavier.Verify(e, v, graph.Limits{}); err != nil {
		t.Fatal(err)
	}
	if v.n != 2 {
		t.Fatalf("a committee with other weights did not verify the event again (%d checks)", v.n)
	}
}

// Check verifies every time and records nothing: after it, Verify still
// verifies; after Verify, Check still finds what is wrong with an event
// altered since; and both give the same leaf hashes.
func TestCheckNeitherReadsNorRecordsAVerdict(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	e := b.Layered(2, 2, 10)[1][0]
	v := &countingVerifier{}
	leaves, err := b.Committee.Check(e, v, graph.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaves) != len(e.Txs) {
		t.Fatalf("%d leaves for %d transactions", len(leaves), len(e.Txs))
	}
	for i := range leaves {
		if leaves[i] != graph.TxHash(e.Txs[i]) {
			t.Fatalf("leaf %d is not the transaction's hash", i)
		}
	}
	if err := b.Committee.Verify(e, v, graph.Limits{}); err != nil || v.n != 2 {
		t.Fatalf("Verify after Check: %v, %d signature checks, want 2", err, v.n)
	}
	if _, err := b.Committee.Check(e, v, graph.Limits{}); err != nil || v.n != 3 {
		t.Fatalf("Check after Verify: %v, %d signature checks, want 3", err, v.n)
	}
	e.Sig[0] ^= 1 // altered after Verify accepted it
	if err := b.Committee.Verify(e, v, graph.Limits{}); err != nil {
		t.Fatalf("Verify remembers its verdict, got %v", err)
	}
	if _, err := b.Committee.Check(e, v, graph.Limits{}); !errors.Is(err, graph.ErrBadSignature) {
		t.Fatalf("Check of the altered event: %v, want %v", err, graph.ErrBadSignature)
	}
}
