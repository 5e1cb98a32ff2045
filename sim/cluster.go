package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/provision"
	"dagger/sim/check"
	"dagger/sim/linear"
	"dagger/sim/scenario"
)

// simCluster is what the simulator runs above consensus: the genesis every
// node starts from, each operator's simulated host, the simulated Solana
// ledger, and the customers of the VM workload.
type simCluster struct {
	s                *Sim
	genesis          cluster.Genesis
	genesisCommittee *graph.Committee
	chain            *payment.MemChain
	epochs           map[uint64]bool
	vm               *vmWorkload
	// firstHonest is the lowest honest node: it alone counts coverage
	// read off commits, which every honest node applies.
	firstHonest int
	// async counts the work of the wrappers closed so far.
	async AsyncStats
}

// paymentFinality is how long a simulated Solana payment takes to be
// finalized when nothing delays it.
const paymentFinality = time.Second

// How long the calls the live node makes off its loop take in the
// simulator: a libvirt operation on the host (one at a time, in order, as
// provision.Async applies them) and a Solana JSON-RPC status query (run
// side by side, as payment.AsyncChain's workers run them).
const (
	provisionCallTime = 50 * time.Millisecond
	paymentQueryTime  = 100 * time.Millisecond
)

// executor runs an async wrapper's work on the agenda, on virtual time:
// what the live node runs on the wrapper's goroutines. A serial one runs
// one call at a time, so a burst of calls queues as it would in front of
// libvirt.
type executor struct {
	s      *Sim
	call   int64
	serial bool
	busy   int64 // when a serial one is done with what it has
}

// Go implements provision.Executor and payment.Executor.
func (x *executor) Go(fn func()) {
	at := x.s.now + x.call
	if x.serial {
		at = max(x.s.now, x.busy) + x.call
		x.busy = at
	}
	x.s.agenda.push(item{at: at, kind: itemCall, call: fn})
}

// AfterFunc implements provision.Executor.
func (x *executor) AfterFunc(d time.Duration, fn func()) {
	x.s.agenda.push(item{at: x.s.now + int64(d), kind: itemCall, call: fn})
}

// AsyncStats counts the work of the nodes' asynchronous wrappers, which
// the simulator runs on virtual time where the live node runs them on
// goroutines: calls to the hosts through provision.Async, and payment
// status queries through payment.AsyncChain.
type AsyncStats struct {
	ProvisionCalls    uint64 `json:"provision_calls"`
	ProvisionFailures uint64 `json:"provision_failures"`
	Refreshes         uint64 `json:"refreshes"`
	Busy              uint64 `json:"busy"`
	PaymentQueries    uint64 `json:"payment_queries"`
	PaymentErrors     uint64 `json:"payment_errors"`
	PaymentDropped    uint64 `json:"payment_dropped"`
}

func (a *AsyncStats) addProvision(st provision.AsyncStats) {
	for _, o := range []provision.OpStats{st.Define, st.Start, st.Stop, st.Destroy} {
		a.ProvisionCalls += o.Calls
		a.ProvisionFailures += o.Failures
	}
	a.Refreshes += st.Refresh.Calls
	a.Busy += st.Busy
}

func (a *AsyncStats) addPayments(st payment.AsyncStats) {
	a.PaymentQueries += st.Queries
	a.PaymentErrors += st.Errors
	a.PaymentDropped += st.Dropped
}

func newSimCluster(s *Sim, keys []ed25519.PrivateKey) (*simCluster, error) {
	sc := s.sc
	cc := &sc.Cluster
	c := &simCluster{s: s, epochs: map[uint64]bool{0: true}}
	treasury := payment.Address(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("dagger/sim/treasury"), sc.Seed)))
	c.genesis = cluster.Genesis{Time: StartTime, Params: cluster.Params{
		Treasury:      treasury,
		Price:         cluster.Price{VCPUHour: cc.PriceVCPUHour, MemoryGiBHour: cc.PriceMemoryGiBHour, DiskGiBHour: cc.PriceDiskGiBHour},
		EpochLength:   cc.EpochLength.D(),
		StatusTimeout: cc.StatusTimeout.D(),
	}}
	for i := range cc.Genesis {
		c.genesis.Operators = append(c.genesis.Operators, cluster.GenesisOperator{
			Key: pubKey(keys[i]), PeerID: fmt.Sprintf("n%d", i), Region: c.region(i),
			Capacity: c.capacity(), Payout: pubKey(keys[i]), Weight: sc.Weights[i]})
	}
	st, err := cluster.New(c.genesis, s.verifier)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	c.genesisCommittee = st.Committee()
	for c.firstHonest < sc.Nodes-1 && !sc.Honest(c.firstHonest) {
		c.firstHonest++
	}
	c.chain = payment.NewMemChain(func() int64 { return StartTime + s.now })
	c.vm = newVMWorkload(c)
	return c, nil
}

func pubKey(k ed25519.PrivateKey) tx.Key { return tx.Key(k.Public().(ed25519.PublicKey)) }

func (c *simCluster) region(i int) string {
	r := c.s.sc.Cluster.Regions
	return r[i%len(r)]
}

func (c *simCluster) capacity() tx.Capacity {
	cc := &c.s.sc.Cluster
	return tx.Capacity{VCPU: uint32(cc.VCPU), MemoryMiB: cc.MemoryMiB, DiskGiB: cc.DiskGiB}
}

func (c *simCluster) newHost(ep *endpoint) *provision.Sim {
	cc := &c.s.sc.Cluster
	hv, err := provision.NewSim(provision.SimConfig{
		Capacity:    provision.Capacity{VCPU: uint32(cc.VCPU), MemoryMiB: cc.MemoryMiB, DiskGiB: cc.DiskGiB},
		BootTime:    cc.BootTime.D(),
		Now:         func() int64 { return StartTime + c.s.now },
		Rand:        newRand(c.s.sc.Seed, "host/"+string(ep.name), ep.id),
		BootFailure: cc.BootFailure,
		// Each host publishes its VMs at an address of its own, as a
		// live host with port forwarding does.
		Address: fmt.Sprintf("10.%d.%d.1", 64+ep.id/256, ep.id%256),
	})
	if err != nil {
		panic(fmt.Sprintf("sim: host of %s: %v", ep.name, err)) // the scenario was validated; this is a bug
	}
	return hv
}

// nodeConfig completes a node's configuration around its ledger's. Like
// the live node, it reaches its host through a provision.Async and the
// Solana ledger through a payment.AsyncChain, new in every incarnation
// and closed when it goes down (closeWrappers).
func (c *simCluster) nodeConfig(ep *endpoint, lcfg node.LedgerConfig) node.Config {
	now := func() int64 { return StartTime + c.s.now }
	ep.chain = payment.NewAsyncChain(c.chain, payment.AsyncConfig{Now: now,
		Executor: &executor{s: c.s, call: int64(paymentQueryTime)}})
	cfg := node.Config{Key: ep.key, Genesis: c.genesis, Ledger: lcfg, Chain: ep.chain,
		AutoApprove: c.s.sc.Cluster.AutoApprove}
	if ep.hv != nil {
		prov, err := provision.NewAsync(ep.hv, provision.AsyncConfig{
			Executor: &executor{s: c.s, call: int64(provisionCallTime), serial: true}})
		if err != nil {
			panic(fmt.Sprintf("sim: host of %s: %v", ep.name, err)) // a valid configuration; this is a bug
		}
		ep.prov, cfg.Provisioner = prov, prov
	}
	if ep.twin || !c.s.sc.Honest(ep.node) {
		return cfg
	}
	i := ep.node
	cfg.Hooks = node.NodeHooks{
		Applied: func(cm graph.Commit, res cluster.Result, hash [32]byte) {
			if i == c.firstHonest {
				for _, o := range res.Outcomes {
					if o.Kind == tx.KindVMCreate && o.OK && o.View.State == cluster.VMPending {
						c.s.hit("vm-waited", 1)
					}
				}
			}
			if e := res.Epoch; e != nil && !c.epochs[e.Epoch] {
				c.epochs[e.Epoch] = true
				c.s.obs.epoch(e.Committee)
				c.s.traceFault(fmt.Sprintf("epoch %d starts with %d members", e.Epoch, e.Committee.Size()))
			}
			c.s.obs.stateHash(i, cm.Index, hash)
		},
		Done: func(id tx.ID, st node.TxStatus) { c.vm.done(id, st) },
	}
	return cfg
}

// closeWrappers closes an incarnation's async wrappers, as the end of its
// process does, and keeps their counts.
func (c *simCluster) closeWrappers(ep *endpoint) {
	if ep.prov != nil {
		ep.prov.Close()
		c.async.addProvision(ep.prov.Stats())
		ep.prov = nil
	}
	if ep.chain != nil {
		ep.chain.Close()
		c.async.addPayments(ep.chain.Stats())
		ep.chain = nil
	}
}

// asyncStats are the wrappers' counts over the run so far.
func (c *simCluster) asyncStats() AsyncStats {
	st := c.async
	for _, ep := range c.s.eps {
		if ep.prov != nil {
			st.addProvision(ep.prov.Stats())
		}
		if ep.chain != nil {
			st.addPayments(ep.chain.Stats())
		}
	}
	return st
}

// action applies a cluster fault of the timeline; it reports whether f
// was one.
func (c *simCluster) action(f *scenario.Fault) bool {
	s := c.s
	switch {
	case f.Join != nil:
		ep := s.eps[*f.Join]
		if ep.up {
			ep.nd.Join(ep.name, c.region(ep.node), c.capacity(), [32]byte(pubKey(ep.key)))
		}
		s.traceFault(fmt.Sprintf("join %d", *f.Join))
	case f.Leave != nil:
		if ep := s.eps[*f.Leave]; ep.up {
			ep.nd.Leave()
		}
		s.traceFault(fmt.Sprintf("leave %d", *f.Leave))
	case f.Remove != nil:
		target := pubKey(s.eps[*f.Remove].key)
		for _, ep := range s.eps[:s.sc.Nodes] {
			if ep.up && ep.nd.State().IsMember(pubKey(ep.key)) && ep.nd.Key() != target {
				ep.nd.VoteRemove(target)
			}
		}
		s.traceFault(fmt.Sprintf("remove %d", *f.Remove))
	case f.HostDown != nil:
		s.eps[*f.HostDown].hv.Kill()
		s.traceFault(fmt.Sprintf("host-down %d", *f.HostDown))
	case f.HostUp != nil:
		s.eps[*f.HostUp].hv.Revive()
		s.traceFault(fmt.Sprintf("host-up %d", *f.HostUp))
	case f.VMCrash != nil:
		hv := s.eps[*f.VMCrash].hv
		doms, _ := hv.List()
		for _, d := range doms {
			if d.State == provision.StateRunning {
				_ = hv.Crash(d.ID)
				s.traceFault(fmt.Sprintf("vm-crash %d %s", *f.VMCrash, d.ID[:8]))
				break
			}
		}
	default:
		return false
	}
	return true
}

// reference returns the honest, running node that applied the most
// commits: the state the end-of-run checks judge against.
func (c *simCluster) reference() *endpoint {
	var best *endpoint
	for _, ep := range c.s.eps[:c.s.sc.Nodes] {
		if ep.up && c.s.sc.Honest(ep.node) && (best == nil || ep.nd.State().Commits() > best.nd.State().Commits()) {
			best = ep
		}
	}
	return best
}

// provisioningResult judges the hosts at the end of the run: every paid,
// unexpired VM placed long enough ago runs on exactly its host, which is
// live; no VM runs on two live hosts; nothing runs that the cluster does
// not want run.
func (c *simCluster) provisioningResult() check.Result {
	s := c.s
	ex := s.sc.Expect.Provisioning
	if ex.Disabled {
		return check.Result{Name: "provisioning", Pass: true, Detail: "disabled by the scenario"}
	}
	ref := c.reference()
	if ref == nil {
		return check.Result{Name: "provisioning", Pass: false, Detail: "no honest node is running at the end"}
	}
	end := StartTime + s.end
	cut := end - int64(ex.Settle)
	st := ref.nd.State()
	hostOf := map[tx.Key]*endpoint{}
	for _, ep := range s.eps[:s.sc.Nodes] {
		hostOf[pubKey(ep.key)] = ep
	}
	live := func(ep *endpoint) bool { return ep.up && !ep.hv.Down() }
	// What runs where is judged on honest hosts: a Byzantine operator may
	// run anything on its own machine (a mute one, say, never hears of a
	// deletion it cannot fetch), and the cluster cannot stop it.
	// Whether a placed VM runs on its host is judged on every live host.
	running, placedRuns := map[string][]int{}, map[string][]int{}
	published := map[string]map[int]provision.Access{} // what each live host publishes for a VM it runs
	for _, ep := range s.eps[:s.sc.Nodes] {
		if !live(ep) {
			continue
		}
		doms, _ := ep.hv.List()
		for _, d := range doms {
			if d.State == provision.StateRunning {
				if published[d.ID] == nil {
					published[d.ID] = map[int]provision.Access{}
				}
				published[d.ID][ep.node] = d.Access
			}
			if d.State == provision.StateRunning || d.State == provision.StateBooting {
				placedRuns[d.ID] = append(placedRuns[d.ID], ep.node)
				if s.sc.Honest(ep.node) {
					running[d.ID] = append(running[d.ID], ep.node)
				}
			}
		}
	}
	var bad []string
	checked, unsettled, waiting, reachable := 0, 0, 0, 0
	for _, v := range st.LiveVMs() {
		host := hostOf[v.Host]
		switch {
		case v.State == cluster.VMPending:
			waiting++
			continue
		case v.PlacedAt > cut || v.LeaseEnd <= end+int64(ex.Settle) || host != nil && !host.up && host.downAt > cut-StartTime:
			unsettled++
			continue
		}
		checked++
		on := placedRuns[v.ID.String()]
		switch {
		case host == nil || !live(host):
			bad = append(bad, fmt.Sprintf("VM %s is placed on %s, which is not a live host", v.ID.Short(), v.Host.Short()))
		case !slices.Contains(on, host.node):
			bad = append(bad, fmt.Sprintf("VM %s is placed on node %d (since %s) but does not run there", v.ID.Short(), host.node, time.Duration(v.PlacedAt-StartTime)))
		case v.State == cluster.VMRunning && s.sc.Honest(host.node):
			// A running VM is reachable: the cluster holds the access its
			// honest host publishes for it.
			pub, runs := published[v.ID.String()][host.node]
			want := tx.Access{Host: pub.Host, Port: pub.Port}
			switch {
			case !runs:
			case v.Access.IsZero():
				bad = append(bad, fmt.Sprintf("VM %s runs on node %d but the cluster has no access for it (the host publishes %s)", v.ID.Short(), host.node, want))
			case v.Access != want:
				bad = append(bad, fmt.Sprintf("VM %s runs on node %d, which publishes %s, but the cluster says %s", v.ID.Short(), host.node, want, v.Access))
			default:
				reachable++
			}
		}
	}
	// What the cluster ended owes its owner what was paid for time it
	// never ran; what its owner deleted owes nothing.
	refunds := 0
	for _, v := range st.VMs() {
		switch {
		case v.State.Lost() && v.RanNs == 0 && v.RefundDue != v.Paid:
			bad = append(bad, fmt.Sprintf("VM %s never ran and is %s, but %d of the %d lamports paid are recorded as owed", v.ID.Short(), v.State, v.RefundDue, v.Paid))
		case v.State.Lost() && v.RefundDue > v.Paid:
			bad = append(bad, fmt.Sprintf("VM %s is %s and owes %d lamports, more than the %d paid", v.ID.Short(), v.State, v.RefundDue, v.Paid))
		case v.State == cluster.VMDeleted && v.RefundDue != 0:
			bad = append(bad, fmt.Sprintf("VM %s was deleted by its owner but owes %d lamports", v.ID.Short(), v.RefundDue))
		case v.State.Lost() && v.RefundDue > 0:
			refunds++
		}
	}
	ids := make([]string, 0, len(running))
	for id := range running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		on := running[id]
		vid, err := tx.ParseID(id)
		v, ok := st.VM(vid)
		switch {
		case err != nil || !ok:
			bad = append(bad, fmt.Sprintf("node %d runs %s, which no one paid for", on[0], id[:8]))
		case v.State.Final() && v.Updated < cut:
			bad = append(bad, fmt.Sprintf("nodes %v run VM %s, which is %s since %s", on, v.ID.Short(), v.State, time.Duration(v.Updated-StartTime)))
		case len(on) > 1 && v.PlacedAt < cut:
			bad = append(bad, fmt.Sprintf("VM %s runs on %d live hosts %v", v.ID.Short(), len(on), on))
		}
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 3 {
			more = fmt.Sprintf(" (and %d more)", len(bad)-3)
		}
		return check.Result{Name: "provisioning", Detail: strings.Join(bad[:min(3, len(bad))], "; ") + more}
	}
	return check.Result{Name: "provisioning", Pass: true, Detail: fmt.Sprintf(
		"%d VMs placed and running where the cluster put them, %d reachable at the access their hosts publish; %d still settling, "+
			"%d waiting for room; %d domains on live hosts; %d ended VMs with a refund recorded",
		checked, reachable, unsettled, waiting, len(ids), refunds)}
}

// vmWorkload is the customers: each has a wallet and runs one operation
// at a time (vm-create with a Solana payment, vm-delete, vm-get) against a
// random honest node; calls and returns go into the history that the
// linearizability check judges.
type vmWorkload struct {
	c        *simCluster
	rng      *rand.Rand
	clients  []*vmClient
	ops      []linear.Op
	known    []tx.ID // every VM a create was attempted for
	created  []tx.ID // the VMs whose create returned OK, newest last
	inflight map[tx.ID]int
	payments [][]byte // recent payments, for replays
	blocks   uint64
	stats    VMStats
}

type vmClient struct {
	key    ed25519.PrivateKey
	sshKey string // what its VMs let in: its wallet key, as an SSH key
	busy   bool
	vms    []tx.ID // created and not deleted, as far as it knows
	nonce  uint64
}

// VMStats counts the VM workload's operations.
type VMStats struct {
	Ops         int `json:"ops"`
	Creates     int `json:"creates"`
	CreatedOK   int `json:"created"`
	Deletes     int `json:"deletes"`
	DeletedOK   int `json:"deleted"`
	Gets        int `json:"gets"`
	Unfinished  int `json:"unfinished"`
	Refused     int `json:"refused"` // rejected by the node asked, before ordering
	Skipped     int `json:"skipped"` // arrivals that found their client busy or no node up
	PaymentFlaw int `json:"payment_faults"`
}

func newVMWorkload(c *simCluster) *vmWorkload {
	sc := c.s.sc
	w := &vmWorkload{c: c, rng: newRand(sc.Seed, "vm-workload", 0), inflight: map[tx.ID]int{}}
	for i := range sc.Workload.VM.Clients {
		seed := sha256.Sum256(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("dagger/sim/wallet"), sc.Seed), uint64(i)))
		key := ed25519.NewKeyFromSeed(seed[:])
		w.clients = append(w.clients, &vmClient{key: key, sshKey: sshKeyOf(key, i)})
	}
	return w
}

// sshKeyOf is the OpenSSH public key line of client i's key: a real key, as
// every vm-create must carry if it carries one.
func sshKeyOf(key ed25519.PrivateKey, i int) string {
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		panic(fmt.Sprintf("sim: SSH key of client %d: %v", i, err)) // an ed25519 key always converts
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n") + fmt.Sprintf(" client-%d", i)
}

func (w *vmWorkload) start() {
	if w.c.s.sc.Workload.VM.Rate > 0 {
		w.schedule(int64(w.c.s.sc.Workload.VM.From))
	}
}

func (w *vmWorkload) until() int64 {
	if u := int64(w.c.s.sc.Workload.VM.Until); u > 0 {
		return min(u, w.c.s.end)
	}
	return w.c.s.end
}

func (w *vmWorkload) schedule(after int64) {
	at := after + int64(w.rng.ExpFloat64()/w.c.s.sc.Workload.VM.Rate*1e9)
	if at <= w.until() {
		w.c.s.agenda.push(item{at: at, kind: itemCall, call: w.arrive})
	}
}

// arrive starts one operation by a random client at a random honest node.
func (w *vmWorkload) arrive() {
	s := w.c.s
	w.schedule(s.now)
	ci := w.rng.IntN(len(w.clients))
	cl := w.clients[ci]
	var targets []*endpoint
	for _, ep := range s.eps[:s.sc.Nodes] {
		if ep.up && s.sc.Honest(ep.node) {
			targets = append(targets, ep)
		}
	}
	if cl.busy || len(targets) == 0 {
		w.stats.Skipped++
		return
	}
	ep := targets[w.rng.IntN(len(targets))]
	p := w.rng.Float64()
	switch {
	case len(cl.vms) == 0 && len(w.known) == 0 || p < 0.4:
		w.create(ci, ep)
	case p < 0.6 && len(cl.vms) > 0:
		id := cl.vms[w.rng.IntN(len(cl.vms))]
		w.send(ci, ep, linear.Delete, id, &tx.Tx{Kind: tx.KindVMDelete, VM: id})
	default:
		// Reads favour the VM created last: its creation is the one most
		// likely still on its way to some node.
		id := w.known[len(w.known)-1]
		if len(w.created) > 0 {
			id = w.created[len(w.created)-1]
		}
		switch q := w.rng.IntN(3); {
		case q == 1:
			id = w.known[w.rng.IntN(len(w.known))]
		case q == 2 && len(cl.vms) > 0:
			id = cl.vms[w.rng.IntN(len(cl.vms))]
		}
		if s.sc.Workload.VM.StaleReads {
			v, ok := ep.nd.State().VM(id)
			w.stats.Ops++
			w.stats.Gets++
			w.ops = append(w.ops, linear.Op{Client: ci, Kind: linear.Get, VM: id.String(), Call: s.now, Return: s.now,
				Found: ok && !v.State.Final(), Lost: ok && v.State.Lost()})
			return
		}
		w.send(ci, ep, linear.Get, id, &tx.Tx{Kind: tx.KindVMGet, VM: id})
	}
}

// create pays for a VM on the simulated Solana ledger, with the payment
// fault the scenario's probabilities draw, and asks for it.
func (w *vmWorkload) create(ci int, ep *endpoint) {
	s := w.c.s
	vw := &s.sc.Workload.VM
	cl := w.clients[ci]
	t := &tx.Tx{Kind: tx.KindVMCreate, Lease: vw.Lease.D(), Spec: tx.Spec{
		VCPU: uint32(vw.VCPU), MemoryMiB: vw.MemoryMiB, DiskGiB: vw.DiskGiB, Image: vw.Image,
		Region: w.c.region(w.rng.IntN(len(s.sc.Cluster.Regions))), SSHKey: cl.sshKey}}
	cl.nonce++
	t.Nonce, t.Author = cl.nonce, pubKey(cl.key)
	t.Expiry = StartTime + s.now + int64(tx.DefaultValidity)
	price, err := w.c.genesis.Params.PriceOf(t.Spec, t.Lease)
	if err != nil {
		panic(fmt.Sprintf("sim: price of the workload's VM: %v", err)) // validated limits keep it in range
	}
	p := w.rng.Float64()
	fault := ""
	for _, f := range []struct {
		name string
		p    float64
	}{{"bounce", vw.Bounce}, {"late", vw.Late}, {"replay", vw.Replay}, {"underpay", vw.Underpay}} {
		if p < f.p {
			fault = f.name
			break
		}
		p -= f.p
	}
	if fault == "replay" && len(w.payments) > 0 {
		t.Payment = w.payments[w.rng.IntN(len(w.payments))]
	} else {
		if fault == "underpay" && price > 0 {
			price--
		}
		w.blocks++
		block := sha256.Sum256(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("dagger/sim/block"), s.sc.Seed), w.blocks))
		pay, sig, err := payment.Build(cl.key, w.c.genesis.Params.Treasury, price, t.Memo(), block)
		if err != nil {
			panic(fmt.Sprintf("sim: build payment: %v", err))
		}
		t.Payment = pay
		switch fault {
		case "bounce":
			w.c.chain.RecordFailed(sig)
		case "late":
			w.c.chain.Record(sig, StartTime+s.now+int64(vw.LateBy))
		default:
			w.c.chain.Record(sig, StartTime+s.now+int64(paymentFinality))
		}
		if len(w.payments) >= 64 {
			w.payments = w.payments[1:]
		}
		w.payments = append(w.payments, pay)
	}
	if fault != "" {
		w.stats.PaymentFlaw++
	}
	t.Sign(cl.key)
	w.known = append(w.known, t.ID())
	w.submit(ci, ep, linear.Create, t.ID(), t)
}

func (w *vmWorkload) send(ci int, ep *endpoint, kind linear.Kind, vm tx.ID, t *tx.Tx) {
	cl := w.clients[ci]
	cl.nonce++
	t.Nonce = cl.nonce
	t.Expiry = StartTime + w.c.s.now + int64(tx.DefaultValidity)
	t.Sign(cl.key)
	w.submit(ci, ep, kind, vm, t)
}

func (w *vmWorkload) submit(ci int, ep *endpoint, kind linear.Kind, vm tx.ID, t *tx.Tx) {
	s := w.c.s
	w.stats.Ops++
	switch kind {
	case linear.Create:
		w.stats.Creates++
	case linear.Delete:
		w.stats.Deletes++
	case linear.Get:
		w.stats.Gets++
	}
	op := linear.Op{Client: ci, Kind: kind, VM: vm.String(), Call: s.now}
	id, err := ep.nd.Submit(t.Encode())
	if err != nil {
		// Refused before ordering: it took no effect, which is an answer
		// for a create or a delete, and none for a read.
		w.stats.Refused++
		if kind != linear.Get {
			// Refused for a final reason, seen in the node's own state.
			v, ok := ep.nd.State().VM(vm)
			op.Return, op.Lost = s.now, kind == linear.Delete && ok && v.State.Lost()
			w.ops = append(w.ops, op)
		}
		return
	}
	idx := len(w.ops)
	w.ops = append(w.ops, op)
	w.inflight[id] = idx
	w.clients[ci].busy = true
	s.agenda.push(item{at: s.now + int64(s.sc.Workload.VM.Timeout), kind: itemCall, call: func() {
		if i, ok := w.inflight[id]; ok && i == idx {
			delete(w.inflight, id)
			w.ops[idx].Pending = true
			w.clients[ci].busy = false
		}
	}})
}

// done receives a node's answer to an operation.
func (w *vmWorkload) done(id tx.ID, st node.TxStatus) {
	idx, ok := w.inflight[id]
	if !ok {
		return
	}
	delete(w.inflight, id)
	op := &w.ops[idx]
	cl := w.clients[op.Client]
	cl.busy = false
	op.Return = w.c.s.now
	if st.State != node.TxCommitted && op.Kind == linear.Get {
		op.Pending = true // a read that was not ordered says nothing
		return
	}
	op.OK = st.State == node.TxCommitted && st.Outcome.OK
	op.Found = st.Outcome.Found
	switch op.Kind {
	case linear.Get:
		op.Lost = st.State == node.TxCommitted && !op.Found && st.Outcome.View.State.Lost()
	case linear.Delete:
		op.Lost = !op.OK && st.Outcome.View.State.Lost()
	}
	vm, _ := tx.ParseID(op.VM)
	switch {
	case op.Kind == linear.Create && op.OK:
		w.stats.CreatedOK++
		cl.vms = append(cl.vms, vm)
		w.created = append(w.created, vm)
	case op.Kind == linear.Delete && op.OK:
		w.stats.DeletedOK++
		cl.vms = slices.DeleteFunc(cl.vms, func(x tx.ID) bool { return x == vm })
	}
}

// result checks the history.
func (w *vmWorkload) result() (check.Result, *linear.Result) {
	for _, idx := range w.inflight {
		w.ops[idx].Pending = true // still waiting at the end
	}
	w.stats.Unfinished = 0
	for i := range w.ops {
		if w.ops[i].Pending {
			w.stats.Unfinished++
		}
	}
	if len(w.ops) == 0 {
		return check.Result{Name: "linearizable", Pass: true, Detail: "no VM operations"}, nil
	}
	res := linear.Check(w.ops, time.Minute)
	switch {
	case res.Unknown:
		return check.Result{Name: "linearizable", Detail: fmt.Sprintf("the check timed out on %d operations over %d VMs", res.Ops, res.VMs)}, &res
	case !res.Linearizable:
		return check.Result{Name: "linearizable", Detail: fmt.Sprintf("%d of %d VMs have a non-linearizable history: %s",
			len(res.Failed), res.VMs, res.Describe())}, &res
	}
	return check.Result{Name: "linearizable", Pass: true, Detail: fmt.Sprintf("%d operations on %d VMs (%d unfinished) linearize",
		res.Ops, res.VMs, w.stats.Unfinished)}, &res
}
