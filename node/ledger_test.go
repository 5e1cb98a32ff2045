package node_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/transport"
)

// cluster is a minimal runtime for ledgers: a manual clock, FIFO delivery
// with a fixed delay, and a switch to cut nodes off. The simulator in sim/
// is the full one; this keeps the ledger's tests independent of it.
type mesh struct {
	t         *testing.T
	committee *graph.Committee
	signers   []graph.Signer
	nodes     []*member
	now       int64
	queue     []pending
	cut       []bool
	blocked   map[[2]int]bool  // from, to
	slow      map[[2]int]int64 // from, to: delay beyond the common one
	// epochs: after the commit with this index, the committee takes over
	epochs map[uint64]*graph.Committee
	// uplink bounds a node's sending in bytes a second: its messages leave
	// one after another, as the simulator's do. upFree is when each
	// node's uplink is next free.
	uplink map[int]int64
	upFree map[int]int64
	// configure, if set, adjusts each node's ledger configuration.
	configure func(id int, cfg *node.LedgerConfig)
}

type member struct {
	c        *mesh
	id       int
	observer bool // signs nothing
	ledger   *node.Ledger
	store    *node.MemStore
	commits  []graph.Commit
	evidence []graph.Evidence
	gen      int
}

type pending struct {
	at       int64
	from, to int
	msg      []byte
	fn       func()
	gen      int
}

const delay = int64(10 * time.Millisecond)

func newCluster(t *testing.T, n int) *mesh { return newClusterWith(t, n, nil) }

// newClusterWith is newCluster with each node's ledger configuration
// adjusted by configure.
func newClusterWith(t *testing.T, n int, configure func(id int, cfg *node.LedgerConfig)) *mesh {
	c := &mesh{t: t, cut: make([]bool, n), epochs: map[uint64]*graph.Committee{}, blocked: map[[2]int]bool{}, slow: map[[2]int]int64{},
		uplink: map[int]int64{}, upFree: map[int]int64{}, configure: configure}
	members := make([]graph.Member, n)
	for i := range n {
		s := graph.Ed25519SignerFromSeed(graph.KeySeed(1, i))
		c.signers = append(c.signers, s)
		members[i] = graph.Member{Key: s.PublicKey(), Weight: 1}
	}
	var err error
	if c.committee, err = graph.NewCommittee(0, members); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := &member{c: c, id: i, store: node.NewMemStore()}
		c.nodes = append(c.nodes, m)
	}
	for _, m := range c.nodes {
		m.start(false)
	}
	return c
}

func (m *member) start(rejoin bool) {
	m.gen++
	m.commits = nil
	var signer graph.Signer
	if !m.observer {
		signer = m.c.signers[m.id]
	}
	cfg := node.LedgerConfig{
		Graph:     graph.Config{Committee: m.c.committee, Signer: signer},
		Transport: m, Clock: (*clock)(m), Store: m.store, Rejoin: rejoin,
		LeaderTimeout: 50 * time.Millisecond, FetchRetry: 20 * time.Millisecond,
		Hooks: node.Hooks{
			Commit: func(c graph.Commit) {
				m.commits = append(m.commits, c)
				if e := m.c.epochs[c.Index]; e != nil {
					m.ledger.EndEpoch(node.Epoch{Committee: e, Time: c.Time})
				}
			},
			Evidence: func(ev graph.Evidence) { m.evidence = append(m.evidence, ev) },
			Fault:    func(err error) { m.c.t.Errorf("node %d: %v", m.id, err) },
		},
	}
	if m.c.configure != nil {
		m.c.configure(m.id, &cfg)
	}
	l, err := node.NewLedger(cfg)
	if err != nil {
		m.c.t.Fatal(err)
	}
	m.ledger = l
	l.Start()
}

func (m *member) Send(to transport.PeerID, msg []byte) {
	var i int
	fmt.Sscanf(string(to), "n%d", &i)
	m.c.push(pending{at: m.depart(len(msg)) + delay + m.c.slow[[2]int{m.id, i}], from: m.id, to: i, msg: msg})
}

func (m *member) Broadcast(msg []byte) {
	for i := range m.c.nodes {
		if i != m.id {
			m.c.push(pending{at: m.depart(len(msg)) + delay + m.c.slow[[2]int{m.id, i}], from: m.id, to: i, msg: msg})
		}
	}
}

// depart returns when a message of size bytes sent now leaves the node.
func (m *member) depart(size int) int64 {
	bw := m.c.uplink[m.id]
	if bw == 0 {
		return m.c.now
	}
	at := max(m.c.now, m.c.upFree[m.id]) + int64(size)*int64(time.Second)/bw
	m.c.upFree[m.id] = at
	return at
}

// Backlog implements transport.Backlogger: the wait for the node's uplink.
func (m *member) Backlog(int) time.Duration {
	return time.Duration(max(0, m.c.upFree[m.id]-m.c.now))
}

func (m *member) Peers() []transport.PeerID {
	var out []transport.PeerID
	for i := range m.c.nodes {
		if i != m.id {
			out = append(out, transport.PeerID(fmt.Sprintf("n%d", i)))
		}
	}
	return out
}

type clock member

func (c *clock) Now() int64 { return c.c.now }

func (c *clock) AfterFunc(d time.Duration, f func()) node.Timer {
	t := &timer{}
	m := (*member)(c)
	c.c.push(pending{at: c.c.now + int64(d), to: -1, fn: func() {
		if !t.stopped {
			t.stopped = true
			f()
		}
	}, from: m.id, gen: m.gen})
	return t
}

type timer struct{ stopped bool }

func (t *timer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (c *mesh) push(p pending) {
	i, _ := slices.BinarySearchFunc(c.queue, p.at, func(x pending, at int64) int {
		if x.at <= at {
			return -1
		}
		return 1
	})
	c.queue = slices.Insert(c.queue, i, p)
}

// run processes everything due up to the given virtual time.
func (c *mesh) run(until time.Duration) {
	for len(c.queue) > 0 && c.queue[0].at <= int64(until) {
		p := c.queue[0]
		c.queue = c.queue[1:]
		c.now = p.at
		switch {
		case p.fn != nil:
			if p.gen == c.nodes[p.from].gen {
				p.fn()
			}
		case c.cut[p.from] || c.cut[p.to] || c.blocked[[2]int{p.from, p.to}]:
		default:
			c.nodes[p.to].ledger.Receive(transport.PeerID(fmt.Sprintf("n%d", p.from)), p.msg)
		}
	}
	c.now = int64(until)
}

func (c *mesh) checkAgreement() {
	c.t.Helper()
	var longest []graph.Commit
	for _, m := range c.nodes {
		if len(m.commits) > len(longest) {
			longest = m.commits
		}
	}
	for _, m := range c.nodes {
		for i, cm := range m.commits {
			if cm.Leader != longest[i].Leader || len(cm.Txs) != len(longest[i].Txs) {
				c.t.Fatalf("node %d commit %d: leader %s, another node has %s", m.id, i, cm.Leader, longest[i].Leader)
			}
		}
	}
}

// submitUntil submits tx-<n> to the nodes in turn, one every 5 ms, until
// the virtual time until, counting them in sent.
func (c *mesh) submitUntil(sent *int, until time.Duration) {
	for ; time.Duration(c.now) < until; *sent++ {
		if err := c.nodes[*sent%len(c.nodes)].ledger.Submit([]byte(fmt.Sprintf("tx-%d", *sent))); err != nil {
			c.t.Fatal(err)
		}
		c.run(time.Duration(c.now) + 5*time.Millisecond)
	}
}

func committed(m *member) map[string]bool {
	out := map[string]bool{}
	for _, c := range m.commits {
		for i := range c.Txs {
			out[string(c.TxData(i))] = true
		}
	}
	return out
}

func TestLedgersCommitSubmittedTransactionsInOneOrder(t *testing.T) {
	c := newCluster(t, 4)
	for i := range 40 {
		if err := c.nodes[i%4].ledger.Submit([]byte(fmt.Sprintf("tx-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.run(2 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if got := committed(m); len(got) != 40 {
			t.Fatalf("node %d committed %d of 40 transactions", m.id, len(got))
		}
		if m.ledger.QueueLen() != 0 {
			t.Fatalf("node %d still queues %d transactions", m.id, m.ledger.QueueLen())
		}
	}
}

func TestRestartFromStoreNeitherEquivocatesNorLosesCommits(t *testing.T) {
	c := newCluster(t, 4)
	c.run(500 * time.Millisecond)
	down := c.nodes[1]
	before := len(down.commits)
	lastRound := down.ledger.Graph().NextRound()
	down.ledger.Stop()
	c.cut[1] = true
	c.run(time.Second)
	c.cut[1] = false
	down.start(false)
	if len(down.commits) < before {
		t.Fatalf("restart replayed %d commits, had %d", len(down.commits), before)
	}
	c.run(3 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if len(m.evidence) > 0 {
			t.Fatalf("node %d holds evidence against node %d: the restart equivocated", m.id, m.evidence[0].Creator())
		}
	}
	if down.ledger.Graph().NextRound() <= lastRound+10 {
		t.Fatalf("restarted node stuck at round %d", down.ledger.Graph().NextRound())
	}
	if len(down.commits) <= before || len(down.commits)+5 < len(c.nodes[0].commits) {
		t.Fatalf("restarted node has %d commits, node 0 %d", len(down.commits), len(c.nodes[0].commits))
	}
}

func TestNodeThatLostItsStateLearnsItsEventsBeforeSigning(t *testing.T) {
	c := newCluster(t, 4)
	c.run(500 * time.Millisecond)
	down := c.nodes[2]
	down.ledger.Stop()
	down.store = node.NewMemStore()
	down.start(true)
	c.run(3 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if len(m.evidence) > 0 {
			t.Fatalf("node %d holds evidence against node %d", m.id, m.evidence[0].Creator())
		}
	}
	if down.ledger.Stats().EventsCreated == 0 || len(down.commits) < len(c.nodes[0].commits)-5 {
		t.Fatalf("rejoined node created %d events and has %d commits (node 0: %d)",
			down.ledger.Stats().EventsCreated, len(down.commits), len(c.nodes[0].commits))
	}
}

// TestRestoredStoreNeverSignsARoundTwice: a node restarted, without
// --rejoin, on a copy of its store taken before it signed its latest
// events cannot tell from the store that it signed them. Its peers hold
// some of them, so it learns them before it signs, as a node that lost
// its store does, and never signs a round twice: not when its newest
// events reached one peer only, nor when that peer is down as it starts
// (it then waits for it: its peers without it must be a quorum). Without
// the learning, the last two cases sign rounds twice.
func TestRestoredStoreNeverSignsARoundTwice(t *testing.T) {
	for _, c := range []struct {
		name         string
		newestToOne  bool // its events of the last 200 ms reached node 2 only
		downAtReturn bool // node 2 is cut off for a second as it starts
	}{
		{"plain", false, false},
		{"newest-to-one-peer", true, false},
		{"newest-to-one-peer-that-is-down", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newCluster(t, 4)
			m.run(300 * time.Millisecond)
			x := m.nodes[3]
			backup := x.store.Clone()
			m.run(400 * time.Millisecond)
			m.blocked[[2]int{3, 0}], m.blocked[[2]int{3, 1}] = c.newestToOne, c.newestToOne
			m.run(200 * time.Millisecond)
			before := x.ledger.Graph().NextRound()
			x.ledger.Stop()
			x.store = backup
			m.blocked[[2]int{3, 0}], m.blocked[[2]int{3, 1}] = false, false
			m.cut[2] = c.downAtReturn
			x.start(false)
			m.run(time.Second)
			m.cut[2] = false
			m.run(2 * time.Second)
			m.checkAgreement()
			for _, n := range m.nodes {
				if len(n.evidence) > 0 {
					t.Fatalf("node %d holds evidence against node %d: the restored node signed a round twice", n.id, n.evidence[0].Creator())
				}
			}
			if next := x.ledger.Graph().NextRound(); next <= before+2 {
				t.Fatalf("the restored node's next round is %d, about the %d it had reached before the restore: it did not sign again", next, before)
			}
		})
	}
}

// TestRestartWithAMemberDownSignsAgain: a node restarted on its own store
// while another member is down learns from the two others that its store
// is current, signs again, and the cluster commits without the member
// that is down.
func TestRestartWithAMemberDownSignsAgain(t *testing.T) {
	c := newCluster(t, 4)
	c.run(500 * time.Millisecond)
	c.cut[0] = true
	x := c.nodes[3]
	x.ledger.Stop()
	x.start(false)
	stalled := len(c.nodes[1].commits)
	c.run(time.Second)
	if n := len(c.nodes[1].commits); n < stalled+10 {
		t.Fatalf("node 1 has %d commits a second after node 3 restarted with node 0 down, %d before", n, stalled)
	}
	c.cut[0] = false
	c.run(time.Second)
	c.checkAgreement()
}

// TestRejoinLearnsItsLatestEventFromAQuorumNotFromOnePeer: a node that
// lost its store while the peer it syncs from lost its store too does not
// take that peer's empty answer for the truth; it signs again only after
// peers holding, with itself, a quorum told it its latest event, so it
// never signs a round twice.
func TestRejoinLearnsItsLatestEventFromAQuorumNotFromOnePeer(t *testing.T) {
	c := newCluster(t, 7) // two of seven lose their stores: within the bound
	c.run(500 * time.Millisecond)
	for _, i := range []int{2, 1} { // node 1's first sync peer is node 2
		m := c.nodes[i]
		m.ledger.Stop()
		m.store = node.NewMemStore()
		m.start(true)
	}
	c.run(3 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if len(m.evidence) > 0 {
			t.Fatalf("node %d holds evidence against node %d: an honest node signed a round twice", m.id, m.evidence[0].Creator())
		}
	}
	for _, i := range []int{1, 2} {
		if m := c.nodes[i]; m.ledger.Stats().EventsCreated == 0 {
			t.Fatalf("node %d never signed again after rejoining", i)
		}
	}
}

// TestRejoinNeverSignsARoundTwiceWhenOnlyAMinorityHeldItsLatestEvents:
// a node's latest events reached one peer only; it loses its store and
// cannot hear that peer. The other peers, with it, would be a quorum, but
// what they hold of it is older: it must wait for an answer from peers
// holding a quorum of the weight without it, and then sign above every
// round it may have signed.
func TestRejoinNeverSignsARoundTwiceWhenOnlyAMinorityHeldItsLatestEvents(t *testing.T) {
	c := newCluster(t, 4)
	c.run(300 * time.Millisecond)
	x := c.nodes[3]
	c.blocked[[2]int{3, 0}], c.blocked[[2]int{3, 1}] = true, true // its events reach node 2 only
	c.run(400 * time.Millisecond)
	x.ledger.Stop()
	x.store = node.NewMemStore()
	c.blocked[[2]int{3, 0}], c.blocked[[2]int{3, 1}] = false, false
	c.blocked[[2]int{2, 3}], c.blocked[[2]int{3, 2}] = true, true
	x.start(true)
	c.run(1500 * time.Millisecond)
	if n := x.ledger.Stats().EventsCreated; n != 0 {
		t.Fatalf("node 3 signed %d events before it heard from peers holding a quorum", n)
	}
	c.blocked[[2]int{2, 3}], c.blocked[[2]int{3, 2}] = false, false
	c.run(4 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if len(m.evidence) > 0 {
			t.Fatalf("node %d holds evidence against node %d: an honest node signed a round twice", m.id, m.evidence[0].Creator())
		}
	}
	if x.ledger.Stats().EventsCreated == 0 {
		t.Fatal("node 3 never signed again")
	}
}

// TestForwardedTransactionsAreHandedOnUntilCommitted: a node that does
// not sign hands its clients' transactions to a member; when that member
// loses them they are handed to another after ForwardRetry.
func TestForwardedTransactionsAreHandedOnUntilCommitted(t *testing.T) {
	c := newCluster(t, 5)
	obs := c.nodes[4]
	obs.ledger.Stop()
	obs.observer = true
	obs.start(false)
	c.run(300 * time.Millisecond)
	c.cut[1] = true // the observer's first forward goes to node 1, which is cut off for a moment
	if err := obs.ledger.Submit([]byte("forwarded transaction")); err != nil {
		t.Fatal(err)
	}
	c.run(400 * time.Millisecond)
	c.cut[1] = false
	c.run(5 * time.Second)
	if st := obs.ledger.Stats(); st.TxsReforwarded == 0 {
		t.Fatalf("nothing handed on again: %+v", st)
	}
	for _, m := range c.nodes {
		if !committed(m)["forwarded transaction"] {
			t.Fatalf("node %d never committed the forwarded transaction", m.id)
		}
	}
}

func TestHealedPartitionResumesCommitting(t *testing.T) {
	c := newCluster(t, 4)
	c.run(300 * time.Millisecond)
	c.cut[0], c.cut[1] = true, true // neither side holds a quorum
	c.run(time.Second)
	stalled := len(c.nodes[2].commits)
	c.run(2 * time.Second)
	if len(c.nodes[2].commits) > stalled+2 {
		t.Fatalf("a side without a quorum kept committing")
	}
	c.cut[0], c.cut[1] = false, false
	c.run(4 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if len(m.commits) < stalled+10 {
			t.Fatalf("node %d: %d commits after the heal, %d before", m.id, len(m.commits), stalled)
		}
	}
}

func TestSubmitRefusesWhatItCannotCarry(t *testing.T) {
	c := newCluster(t, 4)
	l := c.nodes[0].ledger
	if err := l.Submit(nil); !errors.Is(err, node.ErrTxSize) {
		t.Fatalf("empty transaction: %v", err)
	}
	if err := l.Submit(make([]byte, graph.DefaultMaxTxBytes+1)); !errors.Is(err, node.ErrTxSize) {
		t.Fatalf("oversized transaction: %v", err)
	}
	// A member of a committee of one: it learns at once that it has
	// signed nothing, and signs, so it queues what it is given.
	one := newCluster(t, 1)
	one.nodes[0].ledger.Stop()
	small, err := node.NewLedger(node.LedgerConfig{Graph: graph.Config{Committee: one.committee, Signer: one.signers[0]}, Transport: one.nodes[0],
		Clock: (*clock)(one.nodes[0]), Store: node.NewMemStore(), MaxQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	small.Start()
	for i := range 3 {
		err := small.Submit([]byte{byte(i)})
		if (i < 2) != (err == nil) || (i == 2 && !errors.Is(err, node.ErrQueueFull)) {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	l.Stop()
	if err := l.Submit([]byte("x")); !errors.Is(err, node.ErrStopped) {
		t.Fatalf("stopped ledger: %v", err)
	}
}

func TestEpochChangeHandsTheGraphToTheNewCommittee(t *testing.T) {
	c := newCluster(t, 4)
	const boundary = 15
	next, err := graph.NewCommittee(1, []graph.Member{
		{Key: c.signers[2].PublicKey(), Weight: 1}, {Key: c.signers[0].PublicKey(), Weight: 1}, {Key: c.signers[1].PublicKey(), Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	c.epochs[boundary] = next
	for i := range 20 {
		if err := c.nodes[i%4].ledger.Submit([]byte(fmt.Sprintf("before-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.run(2 * time.Second)
	for i := range 20 {
		if err := c.nodes[i%4].ledger.Submit([]byte(fmt.Sprintf("after-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.run(4 * time.Second)
	c.checkAgreement()
	for _, m := range c.nodes {
		if m.ledger.Epoch() != 1 {
			t.Fatalf("node %d is in epoch %d", m.id, m.ledger.Epoch())
		}
		if len(m.commits) < boundary+10 {
			t.Fatalf("node %d: %d commits", m.id, len(m.commits))
		}
		for i, cm := range m.commits {
			if cm.Index != uint64(i) {
				t.Fatalf("node %d: commit %d is numbered %d", m.id, i, cm.Index)
			}
			want := uint64(0)
			if i > boundary {
				want = 1
			}
			for _, e := range cm.Events {
				if e.Epoch != want {
					t.Fatalf("node %d commit %d holds an event of epoch %d", m.id, i, e.Epoch)
				}
			}
		}
		got := committed(m)
		for i := range 20 {
			if !got[fmt.Sprintf("after-%d", i)] {
				t.Fatalf("node %d never committed after-%d (submitted at node %d)", m.id, i, i%4)
			}
		}
	}
	if c.nodes[3].ledger.Member() || !c.nodes[0].ledger.Member() {
		t.Fatal("membership does not follow the new committee")
	}
	// A restart replays both epochs from the store and carries on.
	down := c.nodes[0]
	before := slices.Clone(down.commits)
	down.ledger.Stop()
	down.start(false)
	c.run(6 * time.Second)
	c.checkAgreement()
	if down.ledger.Epoch() != 1 || len(down.commits) <= len(before) {
		t.Fatalf("restarted node: epoch %d, %d commits (had %d)", down.ledger.Epoch(), len(down.commits), len(before))
	}
	for i, cm := range before {
		if down.commits[i].Leader != cm.Leader {
			t.Fatalf("replayed commit %d differs", i)
		}
	}
}

// TestNextEpochEventsWaitForTheSwitch: around an epoch change the members
// commit the epoch's last leader a message delay apart, so the first events
// of the next epoch reach some of them before they switch. They keep those
// events and insert them once they switch; none of them syncs from a
// peer's store for it, and nothing is lost. One node, cut off from the
// epoch's last events for longer than a retry tick, still learns them
// with a sync.
func TestNextEpochEventsWaitForTheSwitch(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			c := newCluster(t, 4)
			// Node 3 hears node 2 late, so it commits a leader of node 2
			// after the others and meets their next epoch's events first.
			c.slow[[2]int{2, 3}] = int64(25 * time.Millisecond)
			for e := uint64(1); e <= 4; e++ {
				next, err := graph.NewCommittee(e, []graph.Member{
					{Key: c.signers[0].PublicKey(), Weight: 1}, {Key: c.signers[1].PublicKey(), Weight: 1},
					{Key: c.signers[2].PublicKey(), Weight: 1}, {Key: c.signers[3].PublicKey(), Weight: 1}})
				if err != nil {
					t.Fatal(err)
				}
				c.epochs[e*10] = next
			}
			sent := 0
			submit := func(upTo time.Duration) { c.submitUntil(&sent, upTo) }
			if late {
				// Node 3 hears nothing from the others for 100 ms (five
				// retry ticks) while they pass the first boundary.
				submit(time.Duration(0))
				for len(c.nodes[0].commits) < 9 {
					submit(time.Duration(c.now) + 5*time.Millisecond)
				}
				for from := range 3 {
					c.blocked[[2]int{from, 3}] = true
				}
				submit(time.Duration(c.now) + 100*time.Millisecond)
				clear(c.blocked)
			}
			submit(3 * time.Second)
			c.run(6 * time.Second)
			c.checkAgreement()
			syncs := uint64(0)
			for _, m := range c.nodes {
				if m.ledger.Epoch() != 4 {
					t.Fatalf("node %d is in epoch %d, want 4", m.id, m.ledger.Epoch())
				}
				got := committed(m)
				for i := range sent {
					if !got[fmt.Sprintf("tx-%d", i)] {
						t.Fatalf("node %d never committed tx-%d", m.id, i)
					}
				}
				syncs += m.ledger.Stats().SyncsToNextEpoch
			}
			if !late && syncs != 0 {
				t.Fatalf("%d syncs for the next epoch across four epoch changes of a healthy cluster, want none", syncs)
			}
			if late && c.nodes[3].ledger.Stats().SyncsToNextEpoch == 0 {
				t.Fatal("the node cut off from an epoch's end never synced")
			}
		})
	}
}

// TestSyncCrossesRoundsOfEventsLargerThanABatch: a node that was cut off
// while its peers made events larger than a sync batch (each answer then
// carries one) catches up through rounds holding several of them. A batch
// that ended inside a round used to send the requester back to the
// round's start, which sent the round's first event again, forever.
func TestSyncCrossesRoundsOfEventsLargerThanABatch(t *testing.T) {
	c := newCluster(t, 4)
	c.run(200 * time.Millisecond)
	c.cut[3] = true
	big := node.SyncBatchBytes / 4 // five fill an event past a batch
	var want []string
	for round := range 3 {
		for i := range 3 {
			for k := range 5 {
				tx := make([]byte, big)
				copy(tx, fmt.Sprintf("big-%d-%d-%d", round, i, k))
				if err := c.nodes[i].ledger.Submit(tx); err != nil {
					t.Fatal(err)
				}
				want = append(want, string(tx))
			}
		}
		c.run(time.Duration(300*(round+2)) * time.Millisecond)
	}
	c.run(1500 * time.Millisecond)
	before := c.nodes[3].ledger.Stats().SyncsSent
	c.cut[3] = false
	c.run(4 * time.Second)
	c.checkAgreement()
	got := committed(c.nodes[3])
	for _, tx := range want {
		if !got[tx] {
			t.Fatalf("node 3 never committed %.12q after the cut (%d syncs asked)", tx, c.nodes[3].ledger.Stats().SyncsSent-before)
		}
	}
	if n := len(c.nodes[3].commits); n < len(c.nodes[0].commits)-2 {
		t.Fatalf("node 3 has %d commits, node 0 %d", n, len(c.nodes[0].commits))
	}
	if c.nodes[3].ledger.Stats().SyncsSent == before {
		t.Fatal("node 3 caught up without a sync: the test does not cover what it names")
	}
}

func TestFlowControlSizesEventsToWhatASlowUplinkCarries(t *testing.T) {
	c := newCluster(t, 4)
	c.run(200 * time.Millisecond)
	// Node 3 takes 2 MiB of transactions at once on a 1 MiB/s uplink: as
	// one event, its three copies would need 6 s to leave, long after its
	// round fell below the others' horizon (50 rounds of a few tens of
	// milliseconds), and its transactions would be queued again into
	// another such event, forever.
	slow := c.nodes[3]
	c.uplink[3] = 1 << 20
	const n = 8192
	for i := range n {
		tx := make([]byte, 256)
		copy(tx, fmt.Sprintf("tx-%d", i))
		if err := slow.ledger.Submit(tx); err != nil {
			t.Fatal(err)
		}
	}
	c.run(20 * time.Second)
	c.checkAgreement()
	got := committed(c.nodes[0])
	if len(got) != n {
		st := slow.ledger.Stats()
		t.Fatalf("%d of %d transactions committed; node 3 requeued %d, cut its budget %d times", len(got), n, st.TxsRequeued, st.FlowCuts)
	}
	if st := slow.ledger.Stats(); st.FlowCuts == 0 || st.FlowLimited == 0 {
		t.Fatalf("node 3 cut its budget %d times and limited %d events: flow control never acted", st.FlowCuts, st.FlowLimited)
	}
	for _, m := range c.nodes[:3] {
		if st := m.ledger.Stats(); st.FlowCuts != 0 {
			t.Fatalf("node %d, whose uplink is free, cut its budget %d times", m.id, st.FlowCuts)
		}
	}
}

func TestEventsCarryAtMostMaxEventTxBytesAndTheRestWaits(t *testing.T) {
	const bound = 16 << 10
	c := newClusterWith(t, 4, func(id int, cfg *node.LedgerConfig) {
		if id == 0 {
			cfg.MaxEventTxBytes = bound
		}
	})
	c.run(200 * time.Millisecond)
	// 512 KiB at once: unbounded, node 0's next event would carry it all.
	const n = 2048
	for i := range n {
		tx := make([]byte, 256)
		copy(tx, fmt.Sprintf("tx-%d", i))
		if err := c.nodes[0].ledger.Submit(tx); err != nil {
			t.Fatal(err)
		}
	}
	c.run(5 * time.Second)
	c.checkAgreement()
	if got := committed(c.nodes[1]); len(got) != n {
		t.Fatalf("%d of %d transactions committed", len(got), n)
	}
	carriers := 0
	for _, cm := range c.nodes[1].commits {
		for _, e := range cm.Events {
			size := 0
			for _, tx := range e.Txs {
				size += len(tx)
			}
			if e.Creator != 0 || size == 0 {
				continue
			}
			carriers++
			if size > bound {
				t.Fatalf("node 0's event %s carries %d transaction bytes, bound %d", e.Ref(), size, bound)
			}
		}
	}
	// Each full event carries 64 of the 256-byte transactions.
	if want := n * 256 / bound; carriers < want {
		t.Fatalf("node 0's transactions came in %d events, want at least %d", carriers, want)
	}
	// They are counted as full, not as flow control's doing.
	if st := c.nodes[0].ledger.Stats(); st.EventsFull == 0 || st.FlowLimited != 0 {
		t.Fatalf("node 0 counted %d events full and %d limited by flow control", st.EventsFull, st.FlowLimited)
	}
}

// TestOneMembersWordOfALaterEpochStopsNoNode: announcements of an event
// two epochs on from one peer of four (a Byzantine member's, say, that
// then serves no sync) neither stop a node signing nor make it sync more
// than once on that peer's word (and not at all while its rounds move);
// from peers holding more than a third of the weight the node takes itself
// to be behind and stops signing for a sync.
func TestOneMembersWordOfALaterEpochStopsNoNode(t *testing.T) {
	c := newCluster(t, 4)
	sent := 0
	submit := func(until time.Duration) { c.submitUntil(&sent, until) }
	announce := func(from ...string) {
		for i, p := range from {
			h := graph.TxHash([]byte(fmt.Sprint("later", c.now, i)))
			c.nodes[0].ledger.Receive(transport.PeerID(p), node.EncodeHave(node.Position{Epoch: 2, Round: 3}, h))
		}
	}
	submit(200 * time.Millisecond)
	before, made := c.nodes[0].ledger.Stats(), c.nodes[1].ledger.Stats().EventsCreated
	for time.Duration(c.now) < time.Second {
		announce("n3")
		submit(time.Duration(c.now) + 10*time.Millisecond)
	}
	st := c.nodes[0].ledger.Stats()
	if n := st.SyncsToNextEpoch - before.SyncsToNextEpoch; n > 1 {
		t.Fatalf("one peer's 80 announcements in 800 ms made node 0 sync %d times into a later epoch, want at most once", n)
	}
	// Node 1 hears no announcements: node 0 must have signed about as often.
	if mine, theirs := st.EventsCreated-before.EventsCreated, c.nodes[1].ledger.Stats().EventsCreated-made; mine*4 < theirs*3 {
		t.Fatalf("node 0 made %d events in 800 ms of announcements, node 1 %d: want it to go on signing", mine, theirs)
	}
	for i := 0; !c.nodes[0].ledger.Holding(); i++ {
		if i == 10 {
			t.Fatal("two peers of four announcing a later epoch did not make node 0 stop signing for a sync")
		}
		announce("n2", "n3") // once the sync running, if any, has ended
		if !c.nodes[0].ledger.Holding() {
			submit(time.Duration(c.now) + 10*time.Millisecond)
		}
	}
}
