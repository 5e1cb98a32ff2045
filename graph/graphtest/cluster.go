// Package graphtest runs several ShadowGraph nodes in one process with a
// caller-chosen delivery order: the harness behind graph's property tests.
// It has no clock and no network model; each step
// delivers one in-flight message or fires one node's leader timeout, and
// the Scheduler decides which. Events travel encoded, so every delivery
// exercises the codec. The full simulator (virtual time, faults, scenario
// files) lives in sim/.
package graphtest

import (
	"fmt"
	"slices"

	"dagger/graph"
)

// Scheduler picks the next step among n choices; it must return a value in
// [0, n).
type Scheduler interface {
	Choose(n int) int
}

// Config describes a cluster.
type Config struct {
	// Weights of the members; empty means N members of weight 1.
	Weights []uint64
	N       int
	// Seed derives the members' keys.
	Seed uint64
	// GCDepth of every node's graph (0: the graph's default).
	GCDepth uint64
	// Equivocators sign two events in every round, one for the even-indexed
	// peers and one for the odd-indexed ones.
	Equivocators []int
	// Silent members never create events (crashed from the start).
	Silent []int
	// MaxRound stops every node from creating events above this round.
	MaxRound uint64
	// TxsPerEvent unique transactions are offered to each event.
	TxsPerEvent int
	// Verifier and signers: nil means ed25519.
	Verifier  graph.Verifier
	NewSigner func(seed [32]byte) graph.Signer
}

type msgKind uint8

const (
	msgEvent msgKind = iota
	msgFetch
)

type message struct {
	kind     msgKind
	from, to int
	data     []byte     // encoded event
	want     graph.Hash // fetch
}

// Node is one member's graph and what it has output.
type Node struct {
	ID       int
	Graph    *graph.Graph
	Commits  []graph.Commit
	Evidence []graph.Evidence
	// Created are the events this node signed, in order.
	Created []*graph.Event
	// Errors are insertion errors other than duplicates and the
	// horizon, which an honest execution should never produce.
	Errors []error

	signer graph.Signer
	byz    bool
	silent bool
	nextTx uint64
}

// Cluster is the set of nodes and the messages in flight between them.
type Cluster struct {
	Committee *graph.Committee
	Nodes     []*Node
	cfg       Config
	inflight  []message
	now       int64
	delivered int
}

// New builds the cluster and lets every node create its round-0 event.
func New(cfg Config) (*Cluster, error) {
	if len(cfg.Weights) == 0 {
		for range cfg.N {
			cfg.Weights = append(cfg.Weights, 1)
		}
	}
	if cfg.NewSigner == nil {
		cfg.NewSigner = func(seed [32]byte) graph.Signer { return graph.Ed25519SignerFromSeed(seed) }
	}
	if cfg.Verifier == nil {
		cfg.Verifier = graph.Ed25519{}
	}
	members := make([]graph.Member, len(cfg.Weights))
	signers := make([]graph.Signer, len(cfg.Weights))
	for i, w := range cfg.Weights {
		signers[i] = cfg.NewSigner(graph.KeySeed(cfg.Seed, i))
		members[i] = graph.Member{Key: signers[i].PublicKey(), Weight: w}
	}
	committee, err := graph.NewCommittee(0, members)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Committee: committee, cfg: cfg}
	for i := range members {
		g, err := graph.New(graph.Config{Committee: committee, Verifier: cfg.Verifier, Signer: signers[i], GCDepth: cfg.GCDepth})
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, &Node{ID: i, Graph: g, signer: signers[i],
			byz: slices.Contains(cfg.Equivocators, i), silent: slices.Contains(cfg.Silent, i)})
	}
	for _, n := range c.Nodes {
		c.react(n, -1)
	}
	return c, nil
}

// Honest reports whether node i follows the protocol.
func (c *Cluster) Honest(i int) bool { return !c.Nodes[i].byz }

// InFlight returns the number of messages sent and not yet delivered.
func (c *Cluster) InFlight() int { return len(c.inflight) }

// Delivered returns the number of messages delivered so far.
func (c *Cluster) Delivered() int { return c.delivered }

// Step takes one step chosen by s: deliver one in-flight message, or fire
// the leader timeout of one node. It reports false when nothing is left to
// do.
func (c *Cluster) Step(s Scheduler) bool {
	waiting := c.waitingForLeader()
	n := len(c.inflight) + len(waiting)
	if n == 0 {
		return false
	}
	k := s.Choose(n)
	if k < len(c.inflight) {
		c.Deliver(k)
	} else {
		c.Timeout(waiting[k-len(c.inflight)])
	}
	return true
}

// Run takes up to steps steps chosen by s and returns how many it took.
func (c *Cluster) Run(s Scheduler, steps int) int {
	for i := range steps {
		if !c.Step(s) {
			return i
		}
	}
	return steps
}

// Drain delivers every message in the order sent, firing leader timeouts
// only when nothing is in flight, until nothing is left to do or the step
// limit is reached. It reports whether the cluster went quiet.
func (c *Cluster) Drain(maxSteps int) bool {
	for range maxSteps {
		if len(c.inflight) > 0 {
			c.Deliver(0)
			continue
		}
		waiting := c.waitingForLeader()
		if len(waiting) == 0 {
			return true
		}
		c.Timeout(waiting[0])
	}
	return false
}

func (c *Cluster) waitingForLeader() []int {
	var out []int
	for _, n := range c.Nodes {
		if c.mayPropose(n) {
			if n.Graph.Waiting() == graph.WaitLeader {
				out = append(out, n.ID)
			}
		}
	}
	return out
}

func (c *Cluster) mayPropose(n *Node) bool {
	return !n.silent && (c.cfg.MaxRound == 0 || n.Graph.NextRound() <= c.cfg.MaxRound)
}

// Deliver delivers in-flight message k.
func (c *Cluster) Deliver(k int) {
	m := c.inflight[k]
	c.inflight = slices.Delete(c.inflight, k, k+1)
	c.delivered++
	c.now += 1_000_000 // a millisecond per delivery keeps creator times moving
	to := c.Nodes[m.to]
	switch m.kind {
	case msgFetch:
		if e, ok := to.Graph.Get(m.want); ok {
			c.send(message{kind: msgEvent, from: to.ID, to: m.from, data: e.Encode()})
		}
	case msgEvent:
		e, err := graph.Decode(m.data, to.Graph.Limits())
		if err == nil {
			_, err = to.Graph.Insert(e)
		}
		if err != nil {
			to.Errors = append(to.Errors, fmt.Errorf("from %d: %w", m.from, err))
		}
		c.react(to, m.from)
	}
}

// Timeout fires node i's leader timer for the round it waits on.
func (c *Cluster) Timeout(i int) {
	n := c.Nodes[i]
	n.Graph.LeaderTimeout(n.Graph.NextRound() - 1)
	c.react(n, -1)
}

func (c *Cluster) send(m message) { c.inflight = append(c.inflight, m) }

// react lets node n create what events it may, fetches missing parents
// from the peer whose message caused them, and records the output.
func (c *Cluster) react(n *Node, from int) {
	for c.mayPropose(n) {
		txs := make([][]byte, c.cfg.TxsPerEvent)
		for i := range txs {
			txs[i] = []byte(fmt.Sprintf("tx/%d/%d", n.ID, n.nextTx))
			n.nextTx++
		}
		e, _, w := n.Graph.Propose(c.now, txs, nil)
		if w != graph.WaitNone {
			break
		}
		n.Created = append(n.Created, e)
		if n.byz {
			c.equivocate(n, e)
			continue
		}
		c.broadcast(n.ID, e.Encode())
	}
	rd := n.Graph.Ready()
	if from >= 0 {
		for _, ref := range rd.Missing {
			c.send(message{kind: msgFetch, from: n.ID, to: from, want: ref.Hash})
		}
	}
	n.Commits = append(n.Commits, rd.Commits...)
	n.Evidence = append(n.Evidence, rd.Evidence...)
	if err := n.Graph.Fault(); err != nil {
		n.Errors = append(n.Errors, err)
	}
}

func (c *Cluster) broadcast(from int, data []byte) {
	for to := range c.Nodes {
		if to != from {
			c.send(message{kind: msgEvent, from: from, to: to, data: data})
		}
	}
}

// equivocate sends e to the even-indexed peers and a twin of e, with one
// more transaction, to the odd-indexed ones.
func (c *Cluster) equivocate(n *Node, e *graph.Event) {
	twin := &graph.Event{Epoch: e.Epoch, Round: e.Round, Creator: e.Creator, Time: e.Time, Parents: e.Parents,
		Txs: append(slices.Clone(e.Txs), []byte(fmt.Sprintf("twin/%d/%d", n.ID, e.Round)))}
	twin.TxRoot, _ = graph.BatchRoot(twin.Txs)
	twin.Sig = n.signer.Sign(twin.Hash())
	a, b := e.Encode(), twin.Encode()
	for to := range c.Nodes {
		switch {
		case to == n.ID:
		case to%2 == 0:
			c.send(message{kind: msgEvent, from: n.ID, to: to, data: a})
		default:
			c.send(message{kind: msgEvent, from: n.ID, to: to, data: b})
		}
	}
}
