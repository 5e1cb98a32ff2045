package api

// The JSON views of the cluster's values: snake_case names with their units
// (lease_end_unix_ns, memory_mib), keys, ids and hashes in hex, Solana
// addresses in base58. Lists are never null.

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
	"dagger/provision"
)

// TxBody is the JSON body of a request that carries one transaction.
type TxBody struct {
	// Tx is the signed encoding (tx.Tx.Encode), standard base64.
	Tx string `json:"tx"`
}

// BatchBody is the body of POST /v1/txs/batch.
type BatchBody struct {
	Txs []string `json:"txs"` // each a signed encoding, standard base64
}

// SubmitResult answers a submission.
type SubmitResult struct {
	ID string `json:"id"`
	// VM is the VM the transaction is about, on the /v1/vms routes.
	VM     string   `json:"vm,omitempty"`
	Status TxStatus `json:"status"`
}

// BatchResult answers POST /v1/txs/batch: one item per transaction, in
// order.
type BatchResult struct {
	Results  []BatchItem `json:"results"`
	Admitted int         `json:"admitted"`
	Refused  int         `json:"refused"`
}

// OpaqueResult answers POST /v1/opaque: how many of the request's
// transactions were queued, in order, and, when not all, why the next was
// refused (Error and Reason as in Error; those after it were not tried).
type OpaqueResult struct {
	Accepted int    `json:"accepted"`
	Refused  int    `json:"refused"`
	Error    string `json:"error,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// BatchItem is one transaction's result: admitted when Error is empty.
type BatchItem struct {
	// ID is empty when the item is not even a transaction.
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"` // a Code
	Reason string `json:"reason,omitempty"`
}

// TxStatus is what a node knows of a transaction.
type TxStatus struct {
	ID string `json:"id"`
	// State is pending, committed or rejected.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// CommitIndex is the commit it is in, when State is committed; the
	// JSON has commit_index then and only then (MarshalJSON). Event and
	// Position say where in that commit: meaningful when Event is set,
	// which it is not when the node no longer keeps the outcome, as after
	// a restart from a snapshot taken after the commit.
	CommitIndex uint64 `json:"commit_index,omitempty"`
	Event       string `json:"event,omitempty"`
	Position    int    `json:"position"`
	// Outcome is what it did, once committed, if this node kept it.
	Outcome *Outcome `json:"outcome,omitempty"`
}

// MarshalJSON encodes commit_index exactly when the transaction is
// committed: the commits count from 0, so omitempty alone would drop the
// first and a zero value would claim a commit where there is none.
func (s TxStatus) MarshalJSON() ([]byte, error) {
	type plain TxStatus // without this method
	v := struct {
		plain
		CommitIndex *uint64 `json:"commit_index,omitempty"` // shadows plain's
	}{plain: plain(s)}
	if s.State == node.TxCommitted.String() {
		v.CommitIndex = &s.CommitIndex
	}
	return json.Marshal(v)
}

// Decided says the transaction's fate is known: committed or rejected.
func (s TxStatus) Decided() bool {
	return s.State == node.TxCommitted.String() || s.State == node.TxRejected.String()
}

// Outcome is what a committed transaction did.
type Outcome struct {
	Kind string `json:"kind"`
	// OK: it took effect; otherwise Reason says why not.
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
	VM     string `json:"vm,omitempty"`
	// Found answers a vm-get.
	Found bool `json:"found"`
	// View is the VM as of the transaction's place in the order.
	View *VM `json:"view,omitempty"`
}

// VM is a customer's VM.
type VM struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`         // hex key
	OwnerAddress string `json:"owner_address"` // the same key as a Solana address
	VCPU         uint32 `json:"vcpu"`
	MemoryMiB    uint64 `json:"memory_mib"`
	DiskGiB      uint64 `json:"disk_gib"`
	Image        string `json:"image"`
	Region       string `json:"region"`
	SSHKey       string `json:"ssh_key,omitempty"`
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
	// Host is the operator it is placed on, while it is placed.
	Host           string   `json:"host,omitempty"`
	CreatedUnixNs  int64    `json:"created_unix_ns"`
	LeaseEndUnixNs int64    `json:"lease_end_unix_ns"`
	UpdatedUnixNs  int64    `json:"updated_unix_ns"`
	PlacedUnixNs   int64    `json:"placed_unix_ns"`
	PaidLamports   uint64   `json:"paid_lamports"`
	Tried          []string `json:"tried"` // hosts it failed on, in order
	// LeaseEnd is LeaseEndUnixNs in RFC 3339, LeaseLeft how long is left
	// of it by the serving node's clock ("3h12m", "0s" once ended).
	LeaseEnd  string `json:"lease_end"`
	LeaseLeft string `json:"lease_left"`
	// Access is how its owner reaches it while it runs: its host's
	// address and the port forwarded to its SSH.
	Access *Access `json:"access,omitempty"`
	// RanSeconds is how long it ran, up to its host's latest report.
	RanSeconds int64 `json:"ran_seconds"`
	// RefundDueLamports is what the cluster owes its owner for time it
	// was paid for and never ran, once the cluster ended it.
	RefundDueLamports uint64 `json:"refund_due_lamports"`
}

// Access is how to reach a running VM: SSH is the command line.
type Access struct {
	Host string `json:"host"`
	Port uint16 `json:"port"`
	User string `json:"user"`
	SSH  string `json:"ssh"`
}

// VMEvent is one line of a VM's history (GET /v1/vms/{id}/events).
type VMEvent struct {
	Time       string `json:"time"` // RFC 3339
	TimeUnixNs int64  `json:"time_unix_ns"`
	// Kind is created, waiting, placed, left-host, running, stopped,
	// renewed or ended.
	Kind  string `json:"kind"`
	State string `json:"state"` // the VM's state after it
	// Host is the operator it is about: the new host of a placement, the
	// old one of left-host, the reporting one.
	Host   string `json:"host,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// VMEvents is the body of GET /v1/vms/{id}/events: the VM's history,
// oldest first (its creation and up to cluster.MaxVMHistory-1 latest).
type VMEvents struct {
	VM     string    `json:"vm"`
	State  string    `json:"state"`
	Events []VMEvent `json:"events"`
}

// Spec returns what the VM was asked for.
func (v VM) Spec() tx.Spec {
	return tx.Spec{VCPU: v.VCPU, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB, Image: v.Image, Region: v.Region, SSHKey: v.SSHKey}
}

// VMList is the body of GET /v1/vms.
type VMList struct {
	VMs []VM `json:"vms"`
}

// Capacity is a host's resources, or what VMs take of them.
type Capacity struct {
	VCPU      uint32 `json:"vcpu"`
	MemoryMiB uint64 `json:"memory_mib"`
	DiskGiB   uint64 `json:"disk_gib"`
}

// Operator is one host.
type Operator struct {
	Key         string   `json:"key"`
	PeerID      string   `json:"peer_id"`
	Region      string   `json:"region"`
	Capacity    Capacity `json:"capacity"`
	Used        Capacity `json:"used"`
	Payout      string   `json:"payout"` // Solana address
	Weight      uint64   `json:"weight"`
	Status      string   `json:"status"` // pending, active or removed
	Equivocated bool     `json:"equivocated"`
	Leaving     bool     `json:"leaving"`
	Approvals   []string `json:"approvals"`
	Removals    []string `json:"removals"`
	SinceEpoch  uint64   `json:"since_epoch"`
	// HostedVMHours is how long the VMs placed on it have run there, and
	// EarnedLamports what that is worth at the cluster's price: what it
	// is owed for hosting, as of the latest commit (consensus time).
	HostedVMHours  float64 `json:"hosted_vm_hours"`
	HostedVMNs     int64   `json:"hosted_vm_ns"`
	EarnedLamports uint64  `json:"earned_lamports"`
}

// OperatorList is the body of GET /v1/operators.
type OperatorList struct {
	Operators []Operator `json:"operators"`
}

// Price is what a VM costs per hour.
type Price struct {
	LamportsPerVCPUHour      uint64 `json:"lamports_per_vcpu_hour"`
	LamportsPerMemoryGiBHour uint64 `json:"lamports_per_memory_gib_hour"`
	LamportsPerDiskGiBHour   uint64 `json:"lamports_per_disk_gib_hour"`
}

// Params are the cluster's rules.
type Params struct {
	Treasury         string `json:"treasury"` // Solana address
	Price            Price  `json:"price"`
	EpochLengthNs    int64  `json:"epoch_length_ns"`
	StatusTimeoutNs  int64  `json:"status_timeout_ns"`
	MaxAttempts      int    `json:"max_attempts"`
	PendingTimeoutNs int64  `json:"pending_timeout_ns"`
}

// Cluster returns the rules as the cluster state machine holds them, so
// that a client prices a VM with the function every node checks payments
// with (cluster.Params.PriceOf).
func (p Params) Cluster() (cluster.Params, error) {
	treasury, err := payment.ParseAddress(p.Treasury)
	if err != nil {
		return cluster.Params{}, fmt.Errorf("treasury: %w", err)
	}
	return cluster.Params{
		Treasury: treasury,
		Price: cluster.Price{VCPUHour: p.Price.LamportsPerVCPUHour, MemoryGiBHour: p.Price.LamportsPerMemoryGiBHour,
			DiskGiBHour: p.Price.LamportsPerDiskGiBHour},
		EpochLength:    time.Duration(p.EpochLengthNs),
		StatusTimeout:  time.Duration(p.StatusTimeoutNs),
		MaxAttempts:    p.MaxAttempts,
		PendingTimeout: time.Duration(p.PendingTimeoutNs),
	}, nil
}

// EventParent names one parent of an event.
type EventParent struct {
	Round   uint64 `json:"round"`
	Creator uint32 `json:"creator"`
	Hash    string `json:"hash"`
}

// Event is a stored event: its encoding and its decoded header.
type Event struct {
	Hash string `json:"hash"`
	// Encoding is the event as peers exchange it, standard base64.
	Encoding string `json:"encoding"`
	Epoch    uint64 `json:"epoch"`
	Round    uint64 `json:"round"`
	// Creator is the creator's index in the epoch's committee.
	Creator    uint32        `json:"creator"`
	TimeUnixNs int64         `json:"time_unix_ns"`
	Parents    []EventParent `json:"parents"`
	TxCount    int           `json:"tx_count"`
	TxBytes    int           `json:"tx_bytes"`
	TxRoot     string        `json:"tx_root"`
	Signature  string        `json:"signature"`
}

// CommitList is the body of GET /v1/commits.
type CommitList struct {
	Commits []Commit `json:"commits"`
}

// Health is the body of GET /v1/health; when the node is not healthy
// Error and Reason say why, as in every error response.
type Health struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func txStatusView(id tx.ID, st node.TxStatus) TxStatus {
	v := TxStatus{ID: id.String(), State: st.State.String(), Reason: st.Reason}
	if st.State != node.TxCommitted {
		return v
	}
	v.CommitIndex = st.Commit
	if st.Event != (graph.Hash{}) {
		v.Event, v.Position = st.Event.Hex(), st.Position
	}
	if o := st.Outcome; o.ID != (tx.ID{}) {
		v.Outcome = &Outcome{Kind: o.Kind.String(), OK: o.OK, Reason: o.Reason, Found: o.Found}
		if o.VM != (tx.ID{}) {
			v.Outcome.VM = o.VM.String()
		}
		if o.View.ID != (tx.ID{}) {
			view := vmView(o.View, time.Now())
			v.Outcome.View = &view
		}
	}
	return v
}

// vmView is v as the API shows it; now is the serving node's clock, for
// the lease left.
func vmView(v cluster.VM, now time.Time) VM {
	end := time.Unix(0, v.LeaseEnd).UTC()
	out := VM{ID: v.ID.String(), Owner: v.Owner.String(), OwnerAddress: payment.Address(v.Owner).String(),
		VCPU: v.Spec.VCPU, MemoryMiB: v.Spec.MemoryMiB, DiskGiB: v.Spec.DiskGiB, Image: v.Spec.Image,
		Region: v.Spec.Region, SSHKey: v.Spec.SSHKey, State: v.State.String(), Reason: v.Reason,
		CreatedUnixNs: v.Created, LeaseEndUnixNs: v.LeaseEnd, UpdatedUnixNs: v.Updated, PlacedUnixNs: v.PlacedAt,
		PaidLamports: v.Paid, Tried: keysHex(v.Tried), LeaseEnd: end.Format(time.RFC3339),
		LeaseLeft: LeaseLeft(end, now, v.State.Final()), RanSeconds: int64(v.RanUntil(v.Updated) / time.Second),
		RefundDueLamports: v.RefundDue}
	if v.State.Placed() {
		out.Host = v.Host.String()
	}
	if !v.Access.IsZero() {
		out.Access = accessView(v.Access)
	}
	return out
}

func accessView(a tx.Access) *Access {
	return &Access{Host: a.Host, Port: a.Port, User: provision.GuestUser,
		SSH: SSHCommand(a.Host, a.Port, provision.GuestUser)}
}

// SSHCommand is the command line that logs into a VM.
func SSHCommand(host string, port uint16, user string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 address
	}
	if port == 22 {
		return fmt.Sprintf("ssh %s@%s", user, host)
	}
	return fmt.Sprintf("ssh -p %d %s@%s", port, user, host)
}

// LeaseLeft writes how long is left until end, to the minute ("3h12m",
// "45s" in the last minute, "0s" once it passed or the VM ended).
func LeaseLeft(end, now time.Time, final bool) string {
	d := end.Sub(now)
	switch {
	case final || d <= 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	s := d.Truncate(time.Minute).String()
	return strings.TrimSuffix(s, "0s")
}

func vmEventsView(v cluster.VM) VMEvents {
	out := VMEvents{VM: v.ID.String(), State: v.State.String(), Events: make([]VMEvent, len(v.History))}
	for i, e := range v.History {
		ev := VMEvent{Time: time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), TimeUnixNs: e.Time,
			Kind: e.Kind.String(), State: e.State.String(), Reason: e.Reason}
		if e.Host != (tx.Key{}) {
			ev.Host = e.Host.String()
		}
		out.Events[i] = ev
	}
	return out
}

func operatorView(o cluster.Operator) Operator {
	return Operator{Key: o.Key.String(), PeerID: o.PeerID, Region: o.Region, Capacity: capacityView(o.Capacity),
		Used: capacityView(o.Used), Payout: payment.Address(o.Payout).String(), Weight: o.Weight,
		Status: o.Status.String(), Equivocated: o.Equivocated, Leaving: o.Leaving,
		Approvals: keysHex(o.Approvals), Removals: keysHex(o.Removals), SinceEpoch: o.Since,
		HostedVMHours: time.Duration(o.HostedNs).Hours(), HostedVMNs: o.HostedNs, EarnedLamports: o.Earned}
}

func capacityView(c tx.Capacity) Capacity {
	return Capacity{VCPU: c.VCPU, MemoryMiB: c.MemoryMiB, DiskGiB: c.DiskGiB}
}

func paramsView(p cluster.Params) Params {
	return Params{Treasury: p.Treasury.String(),
		Price: Price{LamportsPerVCPUHour: p.Price.VCPUHour, LamportsPerMemoryGiBHour: p.Price.MemoryGiBHour,
			LamportsPerDiskGiBHour: p.Price.DiskGiBHour},
		EpochLengthNs: int64(p.EpochLength), StatusTimeoutNs: int64(p.StatusTimeout), MaxAttempts: p.MaxAttempts,
		PendingTimeoutNs: int64(p.PendingTimeout)}
}

func eventView(h graph.Hash, enc []byte, e *graph.Event) Event {
	hd := e.Header()
	parents := make([]EventParent, len(hd.Parents))
	for i, p := range hd.Parents {
		parents[i] = EventParent{Round: p.Round, Creator: uint32(p.Creator), Hash: p.Hash.Hex()}
	}
	return Event{Hash: h.Hex(), Encoding: base64.StdEncoding.EncodeToString(enc), Epoch: hd.Epoch, Round: hd.Round,
		Creator: uint32(hd.Creator), TimeUnixNs: hd.Time, Parents: parents, TxCount: int(hd.TxCount),
		TxBytes: int(hd.TxBytes), TxRoot: hd.TxRoot.Hex(), Signature: hex.EncodeToString(hd.Sig[:])}
}

func keysHex(ks []tx.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}
