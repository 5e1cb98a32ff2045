// Package check judges a simulated run while it happens. The simulator
// feeds one Checker every node's commits, submitted transactions,
// equivocations seen, evidence and faults; at the end Finish gives four
// verdicts about the honest nodes: agreement (their commit sequences are
// prefixes of one another; a fork is described by the first commit where
// they part, what each side committed there and which nodes are on it),
// integrity (each sequence is one a correct
// linearizer could emit), liveness (the transactions submitted to them in
// the liveness window were committed), evidence (every equivocation they
// saw they reported, with valid proof) and state-agreement (their cluster
// states hash the same after the same commit).
//
// A run may have a hundred nodes and tens of thousands of events, so the
// Checker keeps neither commits nor events: one digest per commit index,
// and only the window of rounds the graph itself still remembers (GC depth
// below the last committed leader), once for all the nodes that committed
// the same sequence (lineage.go). The verdicts depend only on
// the order of the calls, never on map iteration, clocks or randomness.
package check

import (
	"crypto/sha256"
	"fmt"

	"dagger/graph"
)

// Round maps an epoch's round onto one axis for the whole run: rounds
// start again at 0 in every epoch, and the checkers' windows need an order
// that keeps going up.
func Round(epoch, round uint64) uint64 { return epoch<<40 | round }

// epochOf is the epoch of a round on that axis.
func epochOf(round uint64) uint64 { return round >> 40 }

// Config describes the run being checked.
type Config struct {
	// Committee is epoch 0's; AddEpoch adds later ones.
	Committee *graph.Committee
	// Verifier validates committed events and evidence; nil means Ed25519.
	Verifier graph.Verifier
	Limits   graph.Limits
	// GCDepth is the graph's GC depth: the linearizer never commits an
	// event below leaderRound-GCDepth. 0 means graph.DefaultGCDepth, as in
	// graph.Config.
	GCDepth uint64
	// Honest says, per node index, whether the node is judged. Its length
	// is the number of nodes.
	Honest []bool
	// Every transaction submitted to an honest node at a virtual time t
	// with LivenessAfter <= t <= LivenessDeadline must be committed at that
	// node before Finish, unless LivenessDisabled.
	LivenessAfter, LivenessDeadline int64
	LivenessDisabled                bool
	// Keys, if set, holds each node's signing key, so that the evidence
	// check also fails when an equivocation's creator is an honest node:
	// an honest node never signs two events for one slot, whatever
	// happened to it (a crash, a lost or damaged store).
	Keys []graph.PublicKey
}

// Result is one checker's verdict.
type Result struct {
	// Name is "agreement", "integrity", "liveness" or "evidence".
	Name string
	Pass bool
	// Detail is one line: the smallest few violations on failure (after
	// a description of the fork, for agreement), a summary on success.
	Detail string
}

// Checker receives a run's outputs as they happen and judges them. It is
// not safe for concurrent use; the simulator drives it from one goroutine,
// its observer's, beside the one running the nodes: what it is handed
// (commits, events, committees) must not change after, and it verifies
// events with Committee.Check, which reads nothing a graph records in
// them.
type Checker struct {
	cfg      Config
	verifier graph.Verifier
	depth    uint64
	nodes    []*nodeState

	// agreed holds, per commit index, what the first honest node to
	// deliver it delivered.
	agreed    map[uint64]*agreed
	longest   uint64
	agreement violations

	// memo holds the events found valid, so that each is verified once
	// however many nodes commit it; evMemo does the same for evidence.
	memo      window[graph.Hash, verified]
	evMemo    window[graph.Hash, struct{}]
	integrity violations
	checked   struct{ commits, events, txs, verified uint64 }

	// firstTx maps each transaction delivered by an honest node to the
	// first index delivering it, so that a submission of a transaction
	// already committed counts as satisfied.
	firstTx  map[graph.Hash]uint64
	required uint64

	evidence  violations
	sightings uint64
	eqSlots   map[slot]struct{}
	// byKey maps Config.Keys to node indices; honestEq holds the slots
	// in which an honest node was seen to equivocate.
	byKey    map[graph.PublicKey]int
	honestEq map[slot]struct{}
	// excused counts required transactions dropped by Down.
	excused uint64

	buf    []byte
	leaves [][]graph.Hash

	// lineages are the windows of what honest nodes committed before,
	// each shared by the nodes that committed the same (lineage.go);
	// share is false only in the tests that compare the checker with one
	// that gives every node windows of its own.
	lineages []*lineage
	share    bool

	committees map[uint64]*graph.Committee
	// epochBase maps an epoch to the TxRound of its round 0, as the first
	// honest node to enter it derived it.
	epochBase map[uint64]uint64
	state     stateAgreement
}

// nodeState is what the checkers remember of one node.
type nodeState struct {
	honest bool
	// next is the index the node must deliver next.
	next        uint64
	fingerprint graph.Hash
	// synced says every commit since the node (re)started was delivered in
	// sequence and equals the agreed one.
	synced bool
	// reached is one past the highest index the node ever delivered,
	// across restarts; fork is the lowest index at which it delivered a
	// commit other than the agreed one, if any: the agreement report
	// names the sides of a fork with them.
	reached uint64
	fork    *commitSummary

	// Integrity: the leader round of the last commit, the cutoff of the
	// events it committed within GC depth of it, which its lineage holds
	// with those of the other nodes that committed the same, and the
	// cutoff of the transactions (txCutoff), on the axis that chains the
	// epochs (TxRound): that window does not end with an epoch. txEpoch is
	// the epoch of the last commit, txLeader its leader's round there.
	// Reset by Restart.
	hasLeader  bool
	lastLeader uint64
	cutoff     uint64
	lin        *lineage
	txEpoch    uint64
	txLeader   uint64
	txCutoff   uint64

	// pending maps the required transactions not yet committed here to
	// their submission time.
	pending map[graph.Hash]int64
	// down: the node went down (Down) and has not restarted since.
	// lastCommitAt is when it last delivered a commit, if it did
	// (delivered).
	down         bool
	delivered    bool
	lastCommitAt int64

	// slots holds the equivocations this node saw and reported.
	slots map[slot]uint8
}

// New returns a checker for a run of len(cfg.Honest) nodes.
func New(cfg Config) *Checker {
	if cfg.Committee == nil {
		panic("check: Config.Committee is nil")
	}
	c := &Checker{
		cfg:        cfg,
		verifier:   cfg.Verifier,
		depth:      cfg.GCDepth,
		agreed:     make(map[uint64]*agreed),
		memo:       newWindow[graph.Hash, verified](),
		evMemo:     newWindow[graph.Hash, struct{}](),
		firstTx:    make(map[graph.Hash]uint64),
		eqSlots:    make(map[slot]struct{}),
		committees: map[uint64]*graph.Committee{cfg.Committee.Epoch(): cfg.Committee},
		share:      true,
		epochBase:  map[uint64]uint64{cfg.Committee.Epoch(): 0},
	}
	if c.verifier == nil {
		c.verifier = graph.Ed25519{}
	}
	if cfg.Keys != nil {
		c.byKey, c.honestEq = make(map[graph.PublicKey]int, len(cfg.Keys)), make(map[slot]struct{})
		for i, k := range cfg.Keys {
			c.byKey[k] = i
		}
	}
	if c.depth == 0 {
		c.depth = graph.DefaultGCDepth
	}
	for _, h := range cfg.Honest {
		n := &nodeState{honest: h, synced: true}
		if h {
			n.pending = make(map[graph.Hash]int64)
			n.slots = make(map[slot]uint8)
		}
		c.nodes = append(c.nodes, n)
	}
	for i, n := range c.nodes {
		if n.honest {
			c.join(i, 0)
		}
	}
	return c
}

// AddEpoch tells the checker about an epoch's committee, before any of
// its commits.
func (c *Checker) AddEpoch(com *graph.Committee) { c.committees[com.Epoch()] = com }

func (c *Checker) committee(epoch uint64) *graph.Committee { return c.committees[epoch] }

func (c *Checker) node(i int) *nodeState {
	if i < 0 || i >= len(c.nodes) {
		panic(fmt.Sprintf("check: node %d of %d", i, len(c.nodes)))
	}
	return c.nodes[i]
}

// resetIntegrity starts node's integrity state afresh, delivering from
// index from.
func (c *Checker) resetIntegrity(node int, from uint64) {
	n := c.nodes[node]
	n.hasLeader, n.lastLeader, n.cutoff = false, 0, 0
	n.txEpoch, n.txLeader, n.txCutoff = 0, 0, 0
	c.leave(node)
	c.join(node, from)
}

// Commit is called every time node delivers a commit, at virtual time now.
// After Restart a node delivers its sequence again from index 0; the
// re-delivered commits are compared with what the cluster agreed on.
func (c *Checker) Commit(node int, cm *graph.Commit, now int64) {
	n := c.node(node)
	n.delivered, n.lastCommitAt = true, now
	d := c.digest(cm)
	n.fingerprint = chain(n.fingerprint, d.all)
	if !n.honest {
		return
	}
	pos := n.next
	a := c.agree(node, n, cm, d, now)
	c.checkIntegrity(node, n, cm, a, pos)
	c.satisfy(n, cm)
}

// Restart tells the checker that node restarted with a fresh graph: it
// will deliver commits from index from again (0, or the first commit of
// the epoch its stored snapshot starts). What it saw and was asked to
// commit before stays on record.
func (c *Checker) Restart(node int, from uint64) {
	n := c.node(node)
	n.down = false
	n.next = from
	n.fingerprint = graph.Hash{}
	n.synced = true
	if n.honest {
		c.resetIntegrity(node, from)
	}
}

// Finish returns the verdicts: agreement, integrity, liveness, evidence
// and state-agreement.
func (c *Checker) Finish() []Result {
	return []Result{c.agreementResult(), c.integrityResult(), c.livenessResult(), c.evidenceResult(), c.stateResult()}
}

// Commits returns the length of the longest honest sequence seen.
func (c *Checker) Commits() uint64 { return c.longest }

// Fingerprint returns a running hash of the commit digests node delivered
// since its last restart, honest or not: nodes that delivered the same
// sequence have the same fingerprint.
func (c *Checker) Fingerprint(node int) graph.Hash { return c.node(node).fingerprint }

func chain(prev, d graph.Hash) graph.Hash {
	var b [2 * graph.HashSize]byte
	copy(b[:], prev[:])
	copy(b[graph.HashSize:], d[:])
	return sha256.Sum256(b[:])
}
