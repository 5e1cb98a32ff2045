// Package cluster is the cluster's state machine: operators, the committee
// and its epochs, VMs with their placement and leases, consumed payments and
// equivocation evidence. It is applied commit by commit, and its only
// inputs are the committed transactions and each commit's consensus time,
// so every honest node holds the same state after the same commit and
// computes the same Hash. Like graph/ it is pure: no clock, no randomness,
// no I/O; map order never reaches an output.
package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"dagger/graph"
	"dagger/node/payment"
	"dagger/node/tx"
)

// Price is what a VM costs per hour, in lamports.
type Price struct {
	VCPUHour      uint64 // per vCPU
	MemoryGiBHour uint64 // per GiB of memory
	DiskGiBHour   uint64 // per GiB of disk
}

// Params are the cluster's rules, fixed at genesis.
type Params struct {
	// Treasury is the Solana account VM payments go to.
	Treasury payment.Address
	Price    Price
	// EpochLength is the consensus time between epoch boundaries, where
	// approved membership changes take effect.
	EpochLength time.Duration
	// StatusTimeout: a placed VM whose host has reported nothing for this
	// long is rescheduled (the host stopped reporting).
	StatusTimeout time.Duration
	// MaxAttempts bounds how many hosts a VM is tried on before it is
	// given up as failed.
	MaxAttempts int
	// PendingTimeout: a VM that has waited this long for a host with room
	// fails, and what it paid is recorded as owed to its owner.
	PendingTimeout time.Duration
}

// Defaults for Params.
const (
	DefaultEpochLength   = 30 * time.Second
	DefaultStatusTimeout = 30 * time.Second
	DefaultMaxAttempts   = 3
	// DefaultPendingTimeout is how long a paid VM may wait for room.
	DefaultPendingTimeout = 15 * time.Minute
)

// Genesis is the cluster's starting point.
type Genesis struct {
	// Time is the consensus time of the start, Unix nanoseconds.
	Time   int64
	Params Params
	// Operators form the first committee (epoch 0), in this order.
	Operators []GenesisOperator
}

// GenesisOperator is a founding operator.
type GenesisOperator struct {
	Key      tx.Key
	PeerID   string
	Region   string
	Capacity tx.Capacity
	Payout   [32]byte
	Weight   uint64
}

// OperatorStatus is where an operator stands.
type OperatorStatus uint8

// Operator statuses.
const (
	OperatorPending OperatorStatus = iota + 1 // asked to join, not yet admitted
	OperatorActive                            // in the committee, hosts VMs
	OperatorRemoved                           // removed or left
)

func (s OperatorStatus) String() string {
	switch s {
	case OperatorPending:
		return "pending"
	case OperatorActive:
		return "active"
	case OperatorRemoved:
		return "removed"
	}
	return fmt.Sprintf("status(%d)", s)
}

// Operator is one host's entry.
type Operator struct {
	Key      tx.Key
	PeerID   string
	Region   string
	Capacity tx.Capacity
	Payout   [32]byte
	Weight   uint64
	Status   OperatorStatus
	// Used is the capacity taken by VMs placed on it.
	Used tx.Capacity
	// Equivocated: evidence proved it signed two events for one slot; it
	// gets no more VMs.
	Equivocated bool
	// Leaving: it asked to leave at the next epoch boundary.
	Leaving bool
	// Approvals and Removals are the operators voting to admit or remove
	// it, sorted.
	Approvals []tx.Key
	Removals  []tx.Key
	// Since is the epoch from which the status holds.
	Since uint64
	// HostedNs is how long the VMs placed on it ran there (nanoseconds of
	// consensus time, the VMs running now counted up to when they stop),
	// and Earned what that time is worth at the cluster's price: what
	// the operator is owed for hosting. State.Hosted adds the VMs running
	// now.
	HostedNs int64
	Earned   uint64
	order    uint64 // join order: committee order
}

// VMState is where a VM stands in the cluster.
type VMState uint8

// VM states. Deleted, expired and failed are final.
const (
	VMPending      VMState = iota + 1 // paid, waiting for a host with room
	VMProvisioning                    // placed; the host has not reported it running
	VMRunning
	VMStopped // the host reports it stopped
	VMFailed  // tried on MaxAttempts hosts, or no host can take it
	VMDeleted
	VMExpired
)

var vmStateNames = [...]string{"", "pending", "provisioning", "running", "stopped", "failed", "deleted", "expired"}

func (s VMState) String() string {
	if int(s) < len(vmStateNames) && s > 0 {
		return vmStateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// Final says the VM is gone for good.
func (s VMState) Final() bool { return s == VMFailed || s == VMDeleted || s == VMExpired }

// Lost says the cluster itself ended the VM: its lease ran out or no host
// could run it.
func (s VMState) Lost() bool { return s == VMFailed || s == VMExpired }

// Placed says the VM has a host that should run it.
func (s VMState) Placed() bool { return s == VMProvisioning || s == VMRunning || s == VMStopped }

// VM is one customer VM.
type VM struct {
	ID    tx.ID
	Owner tx.Key
	Spec  tx.Spec
	State VMState
	// Reason explains the latest state change.
	Reason string
	// Host is the operator it is placed on, when State.Placed().
	Host tx.Key
	// Created, LeaseEnd, Updated and PlacedAt are consensus times (Unix
	// ns); Updated is the last change or host report, PlacedAt the last
	// placement.
	Created  int64
	LeaseEnd int64
	Updated  int64
	PlacedAt int64
	// Paid is the total lamports paid for it.
	Paid uint64
	// Tried are the hosts it failed on, in order.
	Tried []tx.Key
	// Access is how its owner reaches it, as its host last reported while
	// it runs; zero otherwise.
	Access tx.Access
	// RanNs is how long it ran before RunningSince (consensus time, ns);
	// RunningSince is when it last started running, PendingSince when it
	// last started waiting for a host.
	RanNs        int64
	RunningSince int64
	PendingSince int64
	// RefundDue is what the cluster owes its owner, in lamports: what was
	// paid for time it never ran, recorded when the cluster ended it
	// (failed, waited too long, expired). Paying it back is the treasury
	// holder's job.
	RefundDue uint64
	// History is what happened to it, oldest first: its first event and
	// up to MaxVMHistory-1 latest.
	History []VMEvent
}

// Outcome is what one committed transaction did.
type Outcome struct {
	// ID is the transaction's id; zero for data that is not a decodable,
	// signed cluster transaction.
	ID   tx.ID
	Kind tx.Kind
	// OK: it took effect. Otherwise Reason says why not.
	OK     bool
	Reason string
	// VM is the VM a vm-* transaction is about (for vm-create, the new VM).
	VM tx.ID
	// Found answers a vm-get. View is the VM as of this point of the
	// order, for every vm-* transaction about a VM that exists.
	Found bool
	View  VM
}

// EpochChange is a new committee that takes over after a commit.
type EpochChange struct {
	Epoch     uint64
	Committee *graph.Committee
	// Time is the consensus time the epoch starts at.
	Time int64
}

// State is the cluster's state after some prefix of the commit sequence.
type State struct {
	params   Params
	verifier graph.Verifier

	epoch      uint64
	committee  *graph.Committee
	committees map[uint64]*graph.Committee // recent epochs, for evidence
	boundary   int64                       // next epoch boundary
	epochStart int64                       // consensus time the epoch started at
	time       int64                       // consensus time of the last commit
	commits    uint64

	operators map[tx.Key]*Operator
	opOrder   []tx.Key // by join order
	joined    uint64

	vms     map[tx.ID]*VM
	live    []tx.ID // VMs not final, sorted
	byOwner map[tx.Key][]tx.ID

	payments map[payment.Signature]struct{}
	payHash  [32]byte // XOR of the consumed signatures' hashes
	seen     seenWindow
	evidence map[evidenceKey]struct{}

	hash  [32]byte
	dirty bool
	// hashBuf is Hash's scratch space: a state is hashed after every
	// commit.
	hashBuf []byte
}

type evidenceKey struct {
	epoch   uint64
	creator graph.MemberID
}

// ErrGenesis wraps every reason a genesis is unusable.
var ErrGenesis = errors.New("bad genesis")

// New returns the state at genesis. verifier checks equivocation evidence
// (nil means ed25519).
func New(g Genesis, verifier graph.Verifier) (*State, error) {
	p := &g.Params
	if p.EpochLength <= 0 {
		p.EpochLength = DefaultEpochLength
	}
	if p.StatusTimeout <= 0 {
		p.StatusTimeout = DefaultStatusTimeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.PendingTimeout <= 0 {
		p.PendingTimeout = DefaultPendingTimeout
	}
	if len(g.Operators) == 0 {
		return nil, fmt.Errorf("%w: no operators", ErrGenesis)
	}
	if verifier == nil {
		verifier = graph.Ed25519{}
	}
	s := &State{params: *p, verifier: verifier, committees: map[uint64]*graph.Committee{},
		boundary: g.Time + int64(p.EpochLength), time: g.Time, epochStart: g.Time,
		operators: map[tx.Key]*Operator{}, vms: map[tx.ID]*VM{}, byOwner: map[tx.Key][]tx.ID{},
		payments: map[payment.Signature]struct{}{}, evidence: map[evidenceKey]struct{}{},
		dirty: true}
	for i, o := range g.Operators {
		if _, dup := s.operators[o.Key]; dup {
			return nil, fmt.Errorf("%w: operator %d repeats key %s", ErrGenesis, i, o.Key.Short())
		}
		w := o.Weight
		if w == 0 {
			w = 1
		}
		s.addOperator(&Operator{Key: o.Key, PeerID: o.PeerID, Region: o.Region, Capacity: o.Capacity,
			Payout: o.Payout, Weight: w, Status: OperatorActive})
	}
	c, err := s.buildCommittee(0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGenesis, err)
	}
	s.committee = c
	s.committees[0] = c
	return s, nil
}

func (s *State) addOperator(o *Operator) {
	o.order = s.joined
	s.joined++
	s.operators[o.Key] = o
	s.opOrder = append(s.opOrder, o.Key)
}

func (s *State) buildCommittee(epoch uint64) (*graph.Committee, error) {
	var members []graph.Member
	for _, k := range s.opOrder {
		if o := s.operators[k]; o.Status == OperatorActive {
			members = append(members, graph.Member{Key: graph.PublicKey(k), Weight: o.Weight})
		}
	}
	return graph.NewCommittee(epoch, members)
}

// Params returns the cluster's rules.
func (s *State) Params() Params { return s.params }

// Epoch returns the current epoch.
func (s *State) Epoch() uint64 { return s.epoch }

// Committee returns the current epoch's committee.
func (s *State) Committee() *graph.Committee { return s.committee }

// EpochStart returns the consensus time the current epoch started at: its
// graph's start time.
func (s *State) EpochStart() int64 { return s.epochStart }

// Time returns the consensus time of the last applied commit.
func (s *State) Time() int64 { return s.time }

// Commits returns how many commits were applied.
func (s *State) Commits() uint64 { return s.commits }

// Operator returns an operator by key, its hosting account (HostedNs,
// Earned) as of the last commit.
func (s *State) Operator(k tx.Key) (Operator, bool) {
	o, ok := s.operators[k]
	if !ok {
		return Operator{}, false
	}
	c := o.clone()
	s.accrueRunning(func(host tx.Key) *Operator {
		if host == k {
			return &c
		}
		return nil
	})
	return c, true
}

// Operators returns every operator, in join order, their hosting accounts
// as of the last commit.
func (s *State) Operators() []Operator {
	out := make([]Operator, 0, len(s.opOrder))
	at := make(map[tx.Key]int, len(s.opOrder))
	for _, k := range s.opOrder {
		at[k] = len(out)
		out = append(out, s.operators[k].clone())
	}
	s.accrueRunning(func(host tx.Key) *Operator {
		if i, ok := at[host]; ok {
			return &out[i]
		}
		return nil
	})
	return out
}

func (o *Operator) clone() Operator {
	c := *o
	c.Approvals = slices.Clone(o.Approvals)
	c.Removals = slices.Clone(o.Removals)
	return c
}

// VM returns a VM by id.
func (s *State) VM(id tx.ID) (VM, bool) {
	v, ok := s.vms[id]
	if !ok {
		return VM{}, false
	}
	return v.clone(), true
}

func (v *VM) clone() VM {
	c := *v
	c.Tried = slices.Clone(v.Tried)
	c.History = slices.Clone(v.History)
	return c
}

// VMsByOwner returns an owner's VMs in creation order.
func (s *State) VMsByOwner(owner tx.Key) []VM {
	ids := s.byOwner[owner]
	out := make([]VM, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.vms[id].clone())
	}
	return out
}

// VMs returns every VM ever created, final ones included, sorted by id.
func (s *State) VMs() []VM {
	ids := s.sortedVMIDs()
	out := make([]VM, len(ids))
	for i, id := range ids {
		out[i] = s.vms[id].clone()
	}
	return out
}

// LiveVMs returns the VMs that are not final, sorted by id.
func (s *State) LiveVMs() []VM {
	out := make([]VM, 0, len(s.live))
	for _, id := range s.live {
		out = append(out, s.vms[id].clone())
	}
	return out
}

// CountVMs returns how many VMs are in each state, every VM ever created
// included.
func (s *State) CountVMs() map[VMState]int {
	out := map[VMState]int{}
	for _, v := range s.vms {
		out[v.State]++
	}
	return out
}

// PlacedOn returns the VMs a host should run, sorted by id.
func (s *State) PlacedOn(host tx.Key) []VM {
	var out []VM
	for _, id := range s.live {
		if v := s.vms[id]; v.State.Placed() && v.Host == host {
			out = append(out, v.clone())
		}
	}
	return out
}

// PaymentUsed says whether a Solana payment was consumed.
func (s *State) PaymentUsed(sig payment.Signature) bool {
	_, ok := s.payments[sig]
	return ok
}

// Committed says whether a transaction id committed (and has not expired
// from the replay window). Replay answers faster for a transaction at
// hand.
func (s *State) Committed(id tx.ID) bool {
	_, ok := s.seen.find(id)
	return ok
}

// Replay says whether the transaction with this id and expiry committed
// (and has not expired from the replay window): Committed, looking only
// where the expiry files it.
func (s *State) Replay(id tx.ID, expiry int64) bool {
	_, ok := s.seen.lookup(id, expirySecond(expiry))
	return ok
}

// CommittedAt returns the index of the commit a transaction id is in, and
// whether it committed (and has not expired from the replay window). It is
// part of the replicated state, so a node restarted from a snapshot knows
// it for transactions it never saw commit.
func (s *State) CommittedAt(id tx.ID) (index uint64, ok bool) {
	return s.seen.find(id)
}

// ReplayWindowLen returns how many transaction ids the replay window
// holds.
func (s *State) ReplayWindowLen() int { return s.seen.n }

// PriceOf returns what spec costs for lease, in lamports, or an error if
// the price does not fit in 64 bits.
func (p Params) PriceOf(spec tx.Spec, lease time.Duration) (uint64, error) {
	perHour, err := mulAdd(0, uint64(spec.VCPU), p.Price.VCPUHour)
	if err == nil {
		perHour, err = mulAdd(perHour, spec.DiskGiB, p.Price.DiskGiBHour)
	}
	var memHi, memLo uint64
	if err == nil {
		memHi, memLo = bits.Mul64(spec.MemoryMiB, p.Price.MemoryGiBHour)
		if memHi >= 1024 {
			err = errOverflow
		}
	}
	if err != nil {
		return 0, err
	}
	mem, _ := bits.Div64(memHi, memLo, 1024)
	perHour, carry := bits.Add64(perHour, mem, 0)
	if carry != 0 {
		return 0, errOverflow
	}
	hi, lo := bits.Mul64(perHour, uint64(lease/time.Second))
	if hi >= 3600 {
		return 0, errOverflow
	}
	q, r := bits.Div64(hi, lo, 3600)
	if r != 0 {
		q++ // round up: a fraction of a lamport is still owed
	}
	return q, nil
}

var errOverflow = errors.New("price overflows 64 bits")

func mulAdd(acc, a, b uint64) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	sum, carry := bits.Add64(acc, lo, 0)
	if hi != 0 || carry != 0 {
		return 0, errOverflow
	}
	return sum, nil
}

// Hash returns the hash of the whole state: equal on every honest node
// after the same commit.
func (s *State) Hash() [32]byte {
	if !s.dirty {
		return s.hash
	}
	b := append(s.hashBuf[:0], "dagger/cluster-state/v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, s.epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(s.boundary))
	b = binary.BigEndian.AppendUint64(b, uint64(s.time))
	b = binary.BigEndian.AppendUint64(b, s.commits)
	for _, k := range s.opOrder {
		o := s.operators[k]
		b = append(b, o.Key[:]...)
		b = appendStr(b, o.PeerID)
		b = appendStr(b, o.Region)
		b = appendCap(b, o.Capacity)
		b = appendCap(b, o.Used)
		b = append(b, o.Payout[:]...)
		b = binary.BigEndian.AppendUint64(b, o.Weight)
		b = append(b, byte(o.Status), flag(o.Equivocated), flag(o.Leaving))
		b = binary.BigEndian.AppendUint64(b, o.Since)
		b = appendKeys(b, o.Approvals)
		b = appendKeys(b, o.Removals)
		b = binary.BigEndian.AppendUint64(b, uint64(o.HostedNs))
		b = binary.BigEndian.AppendUint64(b, o.Earned)
	}
	ids := make([]tx.ID, 0, len(s.vms))
	for id := range s.vms {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmpID)
	for _, id := range ids {
		v := s.vms[id]
		b = append(b, v.ID[:]...)
		b = append(b, v.Owner[:]...)
		b = appendCap(b, tx.Capacity{VCPU: v.Spec.VCPU, MemoryMiB: v.Spec.MemoryMiB, DiskGiB: v.Spec.DiskGiB})
		b = appendStr(b, v.Spec.Image)
		b = appendStr(b, v.Spec.Region)
		b = appendStr(b, v.Spec.SSHKey)
		b = append(b, byte(v.State))
		b = appendStr(b, v.Reason)
		b = append(b, v.Host[:]...)
		for _, t := range []int64{v.Created, v.LeaseEnd, v.Updated, v.PlacedAt, int64(v.Paid)} {
			b = binary.BigEndian.AppendUint64(b, uint64(t))
		}
		b = appendKeys(b, v.Tried)
		b = appendStr(b, v.Access.Host)
		b = binary.BigEndian.AppendUint16(b, v.Access.Port)
		for _, t := range []int64{v.RanNs, v.RunningSince, v.PendingSince, int64(v.RefundDue)} {
			b = binary.BigEndian.AppendUint64(b, uint64(t))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v.History)))
		for _, e := range v.History {
			b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
			b = append(b, byte(e.Kind), byte(e.State))
			b = append(b, e.Host[:]...)
			b = appendStr(b, e.Reason)
		}
	}
	b = append(b, s.payHash[:]...)
	b = append(b, s.seen.hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(s.evidence)))
	s.hash = sha256.Sum256(b)
	s.hashBuf = b
	s.dirty = false
	return s.hash
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendCap(b []byte, c tx.Capacity) []byte {
	b = binary.BigEndian.AppendUint32(b, c.VCPU)
	b = binary.BigEndian.AppendUint64(b, c.MemoryMiB)
	return binary.BigEndian.AppendUint64(b, c.DiskGiB)
}

func appendKeys(b []byte, ks []tx.Key) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(ks)))
	for _, k := range ks {
		b = append(b, k[:]...)
	}
	return b
}

func cmpID(a, b tx.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func cmpKey(a, b tx.Key) int { return cmpID(tx.ID(a), tx.ID(b)) }

// xorSeen adds a seen id, committed at commit, to the seen ids' hash, or
// takes it out.
func xorSeen(acc *[32]byte, id tx.ID, commit uint64) {
	var b [len(id) + 8]byte
	copy(b[:], id[:])
	binary.BigEndian.PutUint64(b[len(id):], commit)
	xorInto(acc, b[:])
}

func xorInto(acc *[32]byte, data []byte) {
	h := sha256.Sum256(data)
	for i := range acc {
		acc[i] ^= h[i]
	}
}
