package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"dagger/graph"
	"dagger/node"
	"dagger/node/payment"
	"dagger/provision"
	"dagger/sim/check"
	"dagger/sim/scenario"
	"dagger/transport"
)

// StartTime is the wall-clock time virtual time 0 stands for, in Unix
// nanoseconds: nodes' clocks and consensus time count from it.
var StartTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// Options are a run's settings beyond its scenario.
type Options struct {
	// Trace receives one line per delivered message and fault (JSON
	// lines); nil writes none.
	Trace io.Writer
	// HeapProfile, if set, receives a heap profile (runtime/pprof's
	// "heap", after a collection) taken when simulated time ends, before
	// the report is made: the in-use part shows what the run still holds
	// at its largest, the allocated part what it allocated in all.
	HeapProfile io.Writer
}

// Sim is one run of a scenario: the nodes, the network, the agenda of
// pending happenings, and the checkers watching the outcome. The nodes
// run on one goroutine in virtual time; the checkers on the observer's.
type Sim struct {
	sc        *scenario.Scenario
	opt       Options
	committee *graph.Committee
	verifier  graph.Verifier // the nodes' memo of verdicts
	plain     graph.Verifier // the scheme's verifier, for other goroutines
	limits    graph.Limits
	decoder   *decodeMemo
	archive   *archive    // the encodings the nodes' stores hold
	eps       []*endpoint // the scenario's nodes, then twins
	byName    map[transport.PeerID]int
	net       *network
	agenda    agenda
	now       int64
	end       int64
	checker   *check.Checker
	obs       *observer // runs checker and the workload's book (observe.go)
	workload  *workload
	cluster   *simCluster
	trace     *tracer
	profErr   error
	fp        [32]byte // the delivered-message trace, chained
	fpBuf     []byte
	// cov counts coverage points as they happen (see Coverage).
	cov map[string]uint64

	stats runStats
	// prefetch turns decoding ahead on (prefetch.go): for the schemes
	// whose signature checks cost more than handing a job to the other
	// goroutine and back. With the fast scheme a job is a few
	// microseconds, and waking the observer's goroutine for it made the
	// quick start 4-7% slower, not faster (farm-bench, paired). Tests set
	// it either way.
	prefetch bool
}

type runStats struct {
	messages, bytes, dropped uint64
	invalid                  uint64 // messages honest nodes rejected
	snapshotStarts           uint64 // restarts from a stored snapshot
	store                    StoreStats
	// leaderLat holds, for each commit an honest node applies the first
	// time, the time from its leader's creation (the leader's timestamp)
	// to that commit at that node, in nanoseconds.
	leaderLat []int64
}

// endpoint is one network identity running a ledger: a scenario node, or
// the twin of a Byzantine one.
type endpoint struct {
	s      *Sim
	id     int
	node   int // the scenario node whose key it holds
	slot   int // its place in the network's partitions: node, or n+node for a twin
	name   transport.PeerID
	twin   bool
	signer graph.Signer
	key    ed25519.PrivateKey // operator identity
	store  *simStore
	// backup is the newest backup of its store, nil if none was taken.
	backup *simStore
	// lossy says a crash of the scenario loses this node's unsynced
	// writes, or a backup of its store leaves them out.
	lossy bool
	// starting is set while the node replays its store: a store fault
	// then is a refusal to start.
	starting bool
	nd       *node.Node // the node running on it
	ledger   *node.Ledger
	hv       *provision.Sim // the operator's host; it survives the node's crashes
	// prov and chain are this incarnation's async wrappers of the host
	// and of the simulated Solana ledger; nil while it is down.
	prov   *provision.Async
	chain  *payment.AsyncChain
	downAt int64 // when the node last went down
	up     bool
	gen    uint64
	skew   int64
	slow   int64 // processing delay per message
	busy   int64 // when a slow node is done with what it has
	rng    *rand.Rand
	link   uplink // its messages waiting to leave, under a bandwidth limit
	byz    *byzantine
	slots  *slotWatch // equivocations this endpoint saw
	peers  []transport.PeerID
	// created counts the events of earlier incarnations.
	created uint64
}

// New prepares a run of sc.
func New(sc *scenario.Scenario, opt Options) (*Sim, error) {
	s := &Sim{sc: sc, opt: opt, end: int64(sc.Duration), net: newNetwork(sc), cov: make(map[string]uint64),
		archive: newArchive()}
	newSigner := func(seed [32]byte) graph.Signer { return graph.Ed25519SignerFromSeed(seed) }
	var verifier graph.Verifier = graph.Ed25519{}
	if sc.Crypto == "fast" {
		newSigner = func(seed [32]byte) graph.Signer { return NewFastSigner(seed) }
		verifier = FastVerifier{}
	}
	s.verifier, s.plain = newMemoVerifier(verifier), verifier
	s.prefetch = sc.Crypto != scenario.CryptoFast
	s.limits = graph.Limits{MaxEventTxs: sc.Consensus.MaxEventTxs, MaxTxBytes: sc.Consensus.MaxTxBytes}
	signers := make([]graph.Signer, sc.Nodes)
	keys := make([]ed25519.PrivateKey, sc.Nodes)
	for i := range signers {
		seed := graph.KeySeed(sc.Seed, i)
		signers[i] = newSigner(seed)
		keys[i] = ed25519.NewKeyFromSeed(seed[:])
	}
	cl, err := newSimCluster(s, keys)
	if err != nil {
		return nil, err
	}
	s.cluster = cl
	committee := cl.genesisCommittee
	g, err := graph.New(graph.Config{Committee: committee, Limits: s.limits})
	if err != nil {
		return nil, err
	}
	s.decoder = newDecodeMemo(g.Limits())
	s.committee = committee
	for i := range sc.Nodes {
		s.addEndpoint(i, signers[i], false).key = keys[i]
	}
	for bi, b := range sc.Byzantine {
		ep := s.eps[b.Node]
		if ep.byz == nil {
			ep.byz = newByzantine(s, ep)
		}
		ep.byz.entries = append(ep.byz.entries, bi)
		if b.Behavior == "twin" {
			tw := s.addEndpoint(b.Node, signers[b.Node], true)
			tw.key = keys[b.Node]
			s.agenda.push(item{at: int64(b.From), kind: itemTwin, to: int32(tw.id), index: int32(bi)})
		}
	}
	s.byName = make(map[transport.PeerID]int, len(s.eps))
	for _, ep := range s.eps {
		s.byName[ep.name] = ep.id
		for _, o := range s.eps {
			if o != ep {
				ep.peers = append(ep.peers, o.name)
			}
		}
	}
	honest := make([]bool, sc.Nodes)
	signing := make([]graph.PublicKey, sc.Nodes)
	for i := range honest {
		honest[i] = sc.Honest(i)
		signing[i] = signers[i].PublicKey()
	}
	live := sc.Expect.Liveness
	s.checker = check.New(check.Config{
		// The checker runs on the observer's goroutine, with a verifier of
		// its own: the memo the nodes share is for one goroutine.
		Committee: committee, Verifier: verifier, Limits: s.limits, GCDepth: sc.Consensus.GCDepth,
		Honest: honest, LivenessAfter: int64(live.After), LivenessDeadline: s.end - int64(live.Within),
		LivenessDisabled: live.Disabled, Keys: signing,
	})
	for _, f := range sc.Faults {
		if f.LoseUnsynced {
			for _, n := range f.Crash {
				s.eps[n].lossy = true
			}
		}
		for _, n := range f.Backup {
			s.eps[n].lossy = true
		}
	}
	s.workload = newWorkload(s)
	s.obs = newObserver(s.checker, &s.workload.book)
	if opt.Trace != nil {
		s.trace = newTracer(opt.Trace)
	}
	for i := range sc.Faults {
		s.agenda.push(item{at: int64(sc.Faults[i].At), kind: itemFault, index: int32(i)})
	}
	return s, nil
}

func (s *Sim) addEndpoint(nodeIdx int, signer graph.Signer, twin bool) *endpoint {
	ep := &endpoint{s: s, id: len(s.eps), node: nodeIdx, slot: s.net.slot(nodeIdx, twin), twin: twin, signer: signer,
		name: transport.PeerID(fmt.Sprintf("n%d", nodeIdx))}
	if twin {
		ep.name = transport.PeerID(fmt.Sprintf("n%d-twin%d", nodeIdx, ep.id))
	}
	ep.rng = newRand(s.sc.Seed, "net/"+string(ep.name), ep.id)
	if !twin {
		ep.hv = s.cluster.newHost(ep)
	}
	ep.slots = newSlotWatch(s.sc.Nodes)
	s.eps = append(s.eps, ep)
	return ep
}

// Run runs the scenario to its end and reports.
func Run(sc *scenario.Scenario, opt Options) (*Report, error) {
	s, err := New(sc, opt)
	if err != nil {
		return nil, err
	}
	r := s.Run()
	if s.trace != nil && s.trace.err != nil {
		return r, fmt.Errorf("write trace: %w", s.trace.err)
	}
	if s.profErr != nil {
		return r, fmt.Errorf("write heap profile: %w", s.profErr)
	}
	return r, nil
}

// Run runs the simulation to the scenario's end and returns the report.
func (s *Sim) Run() *Report {
	wall := time.Now()
	var ahead *prefetcher
	if s.prefetch {
		ahead = s.decoder.startPrefetch(s.plain)
		defer s.decoder.stopPrefetch()
	}
	s.obs.start(ahead)
	defer s.obs.stop()
	for _, ep := range s.eps {
		if !ep.twin {
			s.start(ep, false)
		}
	}
	s.workload.start()
	defer s.workload.stop()
	s.cluster.vm.start()
	for s.agenda.len() > 0 && s.agenda.peekAt() <= s.end {
		it := s.agenda.pop()
		s.now = it.at
		s.dispatch(&it)
	}
	s.now = s.end
	s.obs.wait()
	if s.trace != nil {
		s.trace.flush()
	}
	if s.opt.HeapProfile != nil {
		runtime.GC()
		s.profErr = pprof.Lookup("heap").WriteTo(s.opt.HeapProfile, 0)
	}
	return s.report(time.Since(wall))
}

func (s *Sim) dispatch(it *item) {
	switch it.kind {
	case itemDeliver:
		s.deliver(it)
	case itemProcess:
		ep := s.eps[it.to]
		if ep.up && ep.gen == uint64(it.index) {
			if it.direct {
				ep.nd.Receive(s.eps[it.from].name, it.pkt.data)
			} else {
				s.handle(ep, int(it.from), it.pkt)
			}
		}
	case itemTimer:
		t := it.timer
		if !t.stopped && t.ep.up && t.ep.gen == t.gen {
			t.stopped = true
			t.fn()
		}
	case itemFault:
		s.applyFault(int(it.index))
	case itemSubmit:
		s.workload.submit()
	case itemTwin:
		s.toggleTwin(s.eps[it.to], int(it.index))
	case itemCall:
		it.call()
	case itemLink:
		s.linkSent(s.eps[it.to])
	}
}

// start boots an endpoint's ledger on its store. A store whose damage
// shows as the node reads it makes the node refuse to start, as the live
// node does: it stays down.
func (s *Sim) start(ep *endpoint, rejoin bool) {
	s.storeOf(ep)
	ep.gen++
	ep.busy = 0
	lcfg := node.LedgerConfig{
		Graph: graph.Config{Verifier: s.verifier, Limits: s.limits, Signer: ep.signer,
			GCDepth: s.sc.Consensus.GCDepth},
		Transport:        (*simTransport)(ep),
		Clock:            (*simClock)(ep),
		Store:            ep.store,
		LeaderTimeout:    time.Duration(s.sc.Consensus.LeaderTimeout),
		FetchRetry:       time.Duration(s.sc.Consensus.FetchRetry),
		MinRoundInterval: time.Duration(s.sc.Consensus.MinRoundInterval),
		MaxEventTxBytes:  s.sc.Consensus.MaxEventTxBytes,
		Rejoin:           rejoin,
		SignAtOnce:       ep.twin, // the attack signs at once, as it pleases
		Decode:           s.decoder.decode,
		Hooks:            s.hooks(ep),
	}
	n, err := node.NewNode(s.cluster.nodeConfig(ep, lcfg))
	if err != nil {
		s.cluster.closeWrappers(ep)
		if !errors.Is(err, errStore) {
			panic(fmt.Sprintf("sim: node %s: %v", ep.name, err)) // the scenario was validated; this is a bug
		}
		s.stats.store.RefusedStarts++
		s.traceFault(fmt.Sprintf("%s refuses to start: %v", ep.name, err))
		return
	}
	ep.up = true
	ep.nd, ep.ledger = n, n.Ledger()
	if !ep.twin {
		s.obs.restart(ep.node, n.FirstCommit())
	}
	first, epoch := n.FirstCommit(), n.Ledger().Epoch()
	ep.starting = true
	n.Start()
	ep.starting = false
	if !ep.up {
		return // its store failed the replay: it refused to start
	}
	if first > 0 {
		s.stats.snapshotStarts++
		s.traceEvent(fmt.Sprintf("start from the snapshot at commit %d (epoch %d):", first, epoch), ep.id)
	}
}

// storeOf returns the endpoint's store, a new empty one if it has none.
func (s *Sim) storeOf(ep *endpoint) *simStore {
	if ep.store == nil {
		ep.store = newSimStore(s.archive, newRand(s.sc.Seed, "store/"+string(ep.name), ep.id), ep.lossy)
	}
	return ep.store
}

func (s *Sim) crash(ep *endpoint) {
	if s.down(ep) {
		s.traceEvent("crash", ep.id)
	}
}

// down takes a running endpoint down, crashed or stopped by a fault, and
// reports whether it was running: nothing reaches it until a restart,
// and the transactions it was asked to commit are no longer required of
// it.
func (s *Sim) down(ep *endpoint) bool {
	if !ep.up {
		return false
	}
	ep.up = false
	ep.gen++
	ep.downAt = s.now
	ep.nd.Stop()
	ep.created += ep.ledger.Stats().EventsCreated
	coverNode(s.cov, ep.ledger.Stats(), ep.nd.Stats())
	s.cluster.closeWrappers(ep)
	if !ep.twin {
		s.obs.down(ep.node)
	}
	return true
}

// fault is the ledger's Fault hook: the node stops, as the live runtime
// stops it. A store that failed is an operating error, which the run
// counts; any other fault of an honest node (a safety fault, a broken
// invariant) fails the agreement check.
func (s *Sim) fault(ep *endpoint, err error) {
	switch {
	case errors.Is(err, errStore) && ep.starting:
		s.stats.store.RefusedStarts++
		s.traceFault(fmt.Sprintf("%s refuses to start: %v", ep.name, err))
	case errors.Is(err, errStore):
		s.stats.store.Stops++
		s.traceFault(fmt.Sprintf("%s stopped by its store: %v", ep.name, err))
	case s.sc.Honest(ep.node):
		s.obs.fault(ep.node, err)
	}
	s.down(ep)
}

func (s *Sim) hooks(ep *endpoint) node.Hooks {
	i := ep.node
	if ep.twin {
		return node.Hooks{}
	}
	fault := func(err error) { s.fault(ep, err) }
	learn := func(r node.LearnReport) { s.learned(ep, r) }
	if !s.sc.Honest(i) {
		return node.Hooks{Fault: fault, Learn: learn}
	}
	return node.Hooks{
		Commit: func(c graph.Commit) {
			first := c.Index >= ep.slots.delivered
			s.obs.commit(i, &c, s.now, first)
			if first {
				ep.slots.delivered = c.Index + 1
				if n := len(c.Events); n > 0 && c.Events[n-1].Hash() == c.Leader.Hash {
					s.stats.leaderLat = append(s.stats.leaderLat, StartTime+s.now-c.Events[n-1].Time)
				}
			}
		},
		Evidence: func(ev graph.Evidence) { s.obs.evidence(i, ev) },
		Inserted: func(e *graph.Event) {
			if ep.slots.insert(e, ep.ledger.Graph().Horizon()) {
				s.obs.equivocation(i, e.Creator, check.Round(e.Epoch, e.Round))
			}
		},
		Fault:   fault,
		Invalid: func(transport.PeerID, error) { s.stats.invalid++ },
		Learn:   learn,
	}
}

// learned is the ledger's Learn hook: a starting node heard from its
// peers how far it signed. That its store is behind what its key signed
// (lost, or restored from a backup) is a coverage point and a line of the
// trace, and so is the round it then signs again from.
func (s *Sim) learned(ep *endpoint, r node.LearnReport) {
	switch {
	case r.Behind && !r.Done:
		s.hit("learn-behind", 1)
		stored := "nothing"
		if r.HasStored {
			stored = fmt.Sprintf("round %d of epoch %d", r.Stored.Ref.Round, r.Stored.Epoch)
		}
		s.traceEvent(fmt.Sprintf("store behind what the key signed (peers hold its event of round %d of epoch %d, the store says %s):", r.Round, r.Epoch, stored), ep.id)
	case r.Behind:
		s.traceEvent(fmt.Sprintf("learned how far it signed (peers of weight %d answered), signs again from round %d of epoch %d:", r.Weight, r.Floor, r.Epoch), ep.id)
	}
}

// send puts a message on the network from one endpoint to another.
func (s *Sim) send(from *endpoint, to int, pkt *packet) { s.sendClass(from, to, pkt, false) }

// sendClass sends a message; a bulk one (transport.BulkSender) waits in its
// peer's queue behind the others.
func (s *Sim) sendClass(from *endpoint, to int, pkt *packet, bulk bool) {
	s.stats.messages++
	s.stats.bytes += uint64(len(pkt.data))
	if s.net.bandwidth == 0 {
		if s.net.blocked(from.slot, s.eps[to].slot) {
			s.stats.dropped++
			return
		}
		s.depart(from, to, pkt, s.now, s.fate(from, to))
		return
	}
	// The message's fate is drawn now, in the order messages are sent; the
	// partitions it meets are those in force when it leaves.
	from.link.push(&outMsg{pkt: pkt, to: to, left: len(pkt.data), since: s.now, fate: s.fate(from, to)}, bulk, len(s.eps))
	if !from.link.busy {
		s.serveLink(from)
	}
}

// fate is what the network does to a message from one endpoint to another:
// dropped, or the delays after it leaves of each copy that arrives.
type fate struct {
	dropped bool
	copies  int
	delay   [2]int64
}

func (s *Sim) fate(from *endpoint, to int) fate {
	m := &s.net.links[from.node*s.net.n+s.eps[to].node]
	r := from.rng
	if m.drop > 0 && r.Float64() < m.drop {
		return fate{dropped: true}
	}
	f := fate{copies: 1}
	if m.duplicate > 0 && r.Float64() < m.duplicate {
		f.copies = 2
	}
	for c := range f.copies {
		f.delay[c] = sample(m.latency, r)
		if m.reorder > 0 && r.Float64() < m.reorder {
			f.delay[c] += sample(m.latency, r)
		}
	}
	return f
}

// depart puts a message on the network as it leaves its sender's uplink at
// time at (the partitions it meets are checked by the caller).
func (s *Sim) depart(from *endpoint, to int, pkt *packet, at int64, f fate) {
	if f.dropped {
		s.stats.dropped++
		return
	}
	for c := range f.copies {
		s.agenda.push(item{at: at + f.delay[c], kind: itemDeliver, to: int32(to), from: int32(from.id), pkt: pkt})
	}
}

// linkQuantum is how many bytes an uplink sends to one peer before it
// turns to the next.
const linkQuantum = 16 << 10

// uplink is an endpoint's link to the network under a bandwidth limit, as
// the live transport drives one (transport/p2p): a queue of messages per
// peer, each written whole before the next, the peers served in turn a
// quantum at a time, so that a large message to one peer (a sync answer of
// megabytes) shares the link with the messages to the others rather than
// holding them all behind it, and each peer's backlog is its own. In a
// peer's queue, bulk messages (transport.BulkSender) wait behind the
// others.
type uplink struct {
	peers []peerQueue // by destination endpoint
	ring  []int       // destinations with messages to send, in service order
	next  int         // the ring's entry served next, or being served
	busy  bool        // a quantum is on its way (an itemLink)
	chunk int         // its size
}

// peerQueue is what an uplink holds for one peer: the message being sent,
// and the ones waiting, in two classes.
type peerQueue struct {
	cur          *outMsg
	urgent, bulk []*outMsg
}

func (q *peerQueue) empty() bool { return q.cur == nil && len(q.urgent) == 0 && len(q.bulk) == 0 }

// since returns when the oldest message not yet sent was queued, and
// false if there is none.
func (q *peerQueue) since() (int64, bool) {
	t, ok := int64(0), false
	for _, m := range [3]*outMsg{q.cur, head(q.urgent), head(q.bulk)} {
		if m != nil && (!ok || m.since < t) {
			t, ok = m.since, true
		}
	}
	return t, ok
}

func head(q []*outMsg) *outMsg {
	if len(q) == 0 {
		return nil
	}
	return q[0]
}

// outMsg is a message waiting in an uplink.
type outMsg struct {
	pkt   *packet
	to    int
	left  int   // bytes not yet sent
	since int64 // when it was queued
	fate  fate
}

func (u *uplink) push(m *outMsg, bulk bool, n int) {
	if u.peers == nil {
		u.peers = make([]peerQueue, n)
	}
	q := &u.peers[m.to]
	if q.empty() {
		u.ring = append(u.ring, m.to)
	}
	if bulk {
		q.bulk = append(q.bulk, m)
	} else {
		q.urgent = append(q.urgent, m)
	}
}

// serveLink sends one quantum to the next peer in turn; linkSent goes on
// when it has left.
func (s *Sim) serveLink(ep *endpoint) {
	u := &ep.link
	if len(u.ring) == 0 {
		u.busy = false
		return
	}
	u.busy = true
	u.next %= len(u.ring)
	q := &u.peers[u.ring[u.next]]
	if q.cur == nil {
		if len(q.urgent) > 0 {
			q.cur, q.urgent[0], q.urgent = q.urgent[0], nil, q.urgent[1:]
		} else {
			q.cur, q.bulk[0], q.bulk = q.bulk[0], nil, q.bulk[1:]
		}
	}
	u.chunk = min(q.cur.left, linkQuantum)
	s.agenda.push(item{at: s.now + s.net.transmit(u.chunk), kind: itemLink, to: int32(ep.id)})
}

// linkSent is an endpoint's quantum leaving its uplink: a message whose
// last byte it was goes on the network.
func (s *Sim) linkSent(ep *endpoint) {
	u := &ep.link
	to := u.ring[u.next]
	q := &u.peers[to]
	m := q.cur
	if m.left -= u.chunk; m.left == 0 {
		q.cur = nil
		if s.net.blocked(ep.slot, s.eps[to].slot) {
			s.stats.dropped++
		} else {
			s.depart(ep, to, m.pkt, s.now, m.fate)
		}
	}
	if q.empty() {
		q.urgent, q.bulk = nil, nil
		u.ring = append(u.ring[:u.next], u.ring[u.next+1:]...)
	} else {
		u.next++
	}
	s.serveLink(ep)
}

// newPacket wraps a message with the digest the run's fingerprint takes of
// it. The fingerprint tells runs apart, it does not resist an adversary,
// so a fast non-cryptographic hash serves (every byte on the wire passes
// through it: SHA-256 here was 3% of a run).
func newPacket(data []byte) *packet {
	return &packet{data: data, digest: xxhash.Sum64(data)}
}

func (s *Sim) deliver(it *item) {
	ep := s.eps[it.to]
	if !ep.up {
		s.stats.dropped++
		return
	}
	s.fpBuf = binary.BigEndian.AppendUint64(s.fpBuf[:0], uint64(it.at))
	s.fpBuf = binary.BigEndian.AppendUint32(s.fpBuf, uint32(it.from))
	s.fpBuf = binary.BigEndian.AppendUint32(s.fpBuf, uint32(it.to))
	s.fpBuf = binary.BigEndian.AppendUint64(s.fpBuf, it.pkt.digest)
	s.fpBuf = append(s.fpBuf, s.fp[:]...)
	s.fp = sha256.Sum256(s.fpBuf)
	if s.trace != nil {
		s.trace.deliver(it.at, s.eps[it.from].name, ep.name, it.pkt.data)
	}
	if ep.slow > 0 {
		at := max(s.now, ep.busy) + ep.slow
		ep.busy = at
		s.agenda.push(item{at: at, kind: itemProcess, to: it.to, from: it.from, pkt: it.pkt, index: int32(ep.gen)})
		return
	}
	s.handle(ep, int(it.from), it.pkt)
}

func (s *Sim) handle(ep *endpoint, from int, pkt *packet) {
	if ep.byz != nil && ep.byz.incoming(from, pkt) {
		return
	}
	ep.nd.Receive(s.eps[from].name, pkt.data)
}

// simTransport is an endpoint's transport.Transport.
type simTransport endpoint

func (t *simTransport) Send(to transport.PeerID, msg []byte) {
	ep := (*endpoint)(t)
	id := ep.peerIndex(to)
	if id < 0 {
		return
	}
	ep.out(id, newPacket(msg), false)
}

// SendBulk implements transport.BulkSender.
func (t *simTransport) SendBulk(to transport.PeerID, msg []byte) {
	ep := (*endpoint)(t)
	id := ep.peerIndex(to)
	if id < 0 {
		return
	}
	if ep.byz != nil {
		ep.out(id, newPacket(msg), false)
		return
	}
	ep.s.sendClass(ep, id, newPacket(msg), true)
}

func (t *simTransport) Broadcast(msg []byte) {
	ep := (*endpoint)(t)
	ep.s.decoder.prefetch(msg, ep.ledger.Graph().Committee())
	pkt := newPacket(msg)
	for _, o := range ep.s.eps {
		if o != ep {
			ep.out(o.id, pkt, true)
		}
	}
}

func (t *simTransport) Peers() []transport.PeerID { return t.peers }

// Backlog implements transport.Backlogger as the live transport does: how
// long the oldest message still queued for the k-th least backlogged peer
// has waited (the most backlogged one's when there are fewer peers).
func (t *simTransport) Backlog(k int) time.Duration {
	ep := (*endpoint)(t)
	if k < 1 || len(ep.s.eps) < 2 {
		return 0
	}
	waits := make([]int64, 0, len(ep.s.eps)-1)
	for id := range ep.s.eps {
		if id == ep.id {
			continue
		}
		var w int64
		if id < len(ep.link.peers) {
			if since, ok := ep.link.peers[id].since(); ok {
				w = ep.s.now - since
			}
		}
		waits = append(waits, w)
	}
	slices.Sort(waits)
	return time.Duration(waits[min(k, len(waits))-1])
}

func (ep *endpoint) peerIndex(name transport.PeerID) int {
	if id, ok := ep.s.byName[name]; ok {
		return id
	}
	return -1
}

// out sends through the endpoint's Byzantine behaviour, if it has one.
func (ep *endpoint) out(to int, pkt *packet, broadcast bool) {
	if ep.byz != nil {
		ep.byz.outgoing(to, pkt, broadcast)
		return
	}
	ep.s.send(ep, to, pkt)
}

// simClock is an endpoint's node.Clock: virtual time plus its skew.
type simClock endpoint

func (c *simClock) Now() int64 { return StartTime + c.s.now + c.skew }

func (c *simClock) AfterFunc(d time.Duration, f func()) node.Timer {
	ep := (*endpoint)(c)
	t := &simTimer{ep: ep, gen: ep.gen, fn: f}
	ep.s.agenda.push(item{at: ep.s.now + int64(d), kind: itemTimer, timer: t})
	return t
}

type simTimer struct {
	ep      *endpoint
	gen     uint64
	fn      func()
	stopped bool
}

func (t *simTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

// slotWatch notices when an endpoint inserts a second event in one slot:
// an equivocation reached it, and it must report evidence. It keeps the
// first hash of every slot at or above the graph's horizon, a row of
// committee size per round, so the check is an array lookup.
type slotWatch struct {
	n         int
	epoch     uint64
	base      uint64 // round of rows[0]
	rows      [][]graph.Hash
	delivered uint64 // commits delivered to the workload, across restarts
}

func newSlotWatch(n int) *slotWatch { return &slotWatch{n: n} }

func (w *slotWatch) insert(e *graph.Event, horizon uint64) bool {
	if e.Epoch != w.epoch {
		w.epoch, w.base, w.rows = e.Epoch, 0, nil
	}
	if horizon > w.base {
		drop := min(horizon-w.base, uint64(len(w.rows)))
		w.rows = w.rows[drop:]
		w.base = horizon
	}
	if e.Round < w.base || int(e.Creator) >= w.n {
		return false
	}
	i := e.Round - w.base
	for uint64(len(w.rows)) <= i {
		w.rows = append(w.rows, make([]graph.Hash, w.n))
	}
	first := &w.rows[i][e.Creator]
	if first.IsZero() {
		*first = e.Hash()
		return false
	}
	return *first != e.Hash()
}
