package cluster

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"dagger/graph"
	"dagger/graph/codec"
	"dagger/node/payment"
	"dagger/node/tx"
)

// A snapshot is the whole State in one canonical encoding, so that a node
// can restart from it instead of replaying every commit before it. Its
// layout, in order:
//
//	magic       "dagger/cluster-snapshot/v4\x00"
//	params      treasury [32]; price per vCPU, GiB of memory, GiB of disk
//	            u64; epoch length, status timeout (ns) i64; max attempts i64;
//	            pending timeout (ns) i64
//	clock       epoch u64, epoch start i64, next boundary i64, time i64,
//	            commits u64
//	committees  n u32, then by epoch: epoch u64, n u32, members (key [32],
//	            weight u64) in member order
//	operators   joined u64, n u32, then in join order: key [32], peer id
//	            str, region str, capacity cap, payout [32], weight u64,
//	            status u8, used cap, equivocated flag, leaving flag,
//	            approvals keys, removals keys, since u64, join order u64,
//	            hosted ns i64, earned u64
//	vms         n u32, then by id: id [32], owner [32], vcpu u32, memory u64,
//	            disk u64, image str, region str, ssh key str, state u8,
//	            reason str, host [32], created, lease end, updated, placed
//	            at i64, paid u64, tried keys, access host str, access port
//	            u16, ran ns, running since, pending since i64, refund due
//	            u64, history: n u32, then time i64, kind u8, state u8, host
//	            [32], reason str
//	owners      n u32, then by key: owner [32], n u32, VM ids [32] in
//	            creation order
//	payments    n u32, then signatures [64], sorted
//	seen        n u32, then by increasing second of expiry: second i64
//	            (Unix), n u32, then id [32], commit u64, sorted by id
//	evidence    n u32, then epoch u64, member u32, sorted
//	state hash  [32]: State.Hash
//	checksum    [32]: SHA-256 of everything before it
//
// Integers are big-endian; a str is a u32 length and the bytes, a cap is
// vcpu u32, memory u64, disk u64, keys are a u32 count and 32-byte keys, a
// flag is 0 or 1. What the state derives is not stored: the current
// committee (the recent one of the current epoch), the live VMs, and the
// payment and seen-id hashes (XORs over the payments, and over the seen
// ids with their commits). The state hash does not cover every field
// (params, epoch start, committees, owners' lists, expiry seconds,
// evidence keys), so the checksum is what catches corruption there; the
// state hash ties the snapshot to the hash the cluster agreed on.
//
// Version 4 added the VMs' access, history, running time and refunds, the
// operators' hosted time, and the pending timeout.
// Version 2 added each seen id's commit; version 3 files the seen ids by
// the second of their expiry, which is all the state keeps of it, within
// a replay window shrunk from an hour to tx.MaxValidity. Neither older
// version can be read: version 1 lacks the commits, which are part of the
// state and of its hash, and version 2 holds ids of a wider window,
// remembered to the nanosecond of their expiry.
const (
	snapshotMagic   = "dagger/cluster-snapshot/v4\x00"
	snapshotMagicV1 = "dagger/cluster-snapshot/v1\x00"
	snapshotMagicV2 = "dagger/cluster-snapshot/v2\x00"
	snapshotMagicV3 = "dagger/cluster-snapshot/v3\x00"
)

// Limits of a snapshot. Restore refuses a snapshot beyond them, and it
// checks every count against them and against the bytes left before it
// allocates anything for it. Strings are bounded by the node/tx limits of
// the transactions they come from.
const (
	// MaxSnapshotBytes bounds a whole snapshot.
	MaxSnapshotBytes = 1 << 30
	// MaxSnapshotOperators bounds the operators (every one that ever
	// joined) and so each list of operator keys: votes, hosts tried.
	MaxSnapshotOperators = 1 << 16
	// MaxSnapshotVMs bounds the VMs (every one ever created) and so the
	// owners.
	MaxSnapshotVMs = 1 << 22
	// MaxSnapshotPayments bounds the consumed payment signatures.
	MaxSnapshotPayments = 1 << 24
	// MaxSnapshotSeen bounds the transaction ids in the replay window, at
	// minSeenBytes each 640 MiB, within MaxSnapshotBytes: tx.MaxValidity
	// at about 140,000 signed transactions a second.
	MaxSnapshotSeen = 1 << 24
	// MaxSnapshotEvidence bounds the proven equivocations.
	MaxSnapshotEvidence = 1 << 20
	// MaxSnapshotCommittees is how many recent committees the state keeps
	// for evidence: the current epoch's and the two before. Each has at
	// most graph.MaxCommitteeSize members.
	MaxSnapshotCommittees = 3
	// MaxSnapshotReasonBytes bounds a final VM's reason: a host's report
	// (tx.MaxReasonBytes) with what the cluster says around it, wrapped
	// once more when the VM is given up.
	MaxSnapshotReasonBytes = tx.MaxReasonBytes + 256
	// maxLiveReasonBytes bounds the reason of a VM that is not final, so
	// that giving it up stays within MaxSnapshotReasonBytes.
	maxLiveReasonBytes = tx.MaxReasonBytes + 64
)

// The least bytes an entry of each list takes, to check counts against the
// bytes left.
const (
	minCommitteeBytes = 8 + 4
	minMemberBytes    = 32 + 8
	minOperatorBytes  = 32 + 4 + 4 + 20 + 32 + 8 + 1 + 20 + 2 + 4 + 4 + 8 + 8 + 8 + 8
	minVMBytes        = 32 + 32 + 20 + 3*4 + 1 + 4 + 32 + 4*8 + 8 + 4 + 4 + 2 + 3*8 + 8 + 4
	minVMEventBytes   = 8 + 1 + 1 + 32 + 4
	minOwnerBytes     = 32 + 4 + 32
	minSeenBytes      = 32 + 8
	minSecondBytes    = 8 + 4 + minSeenBytes
	minEvidenceBytes  = 8 + 4
)

// ErrSnapshot wraps every reason Restore refuses data.
var ErrSnapshot = errors.New("bad cluster snapshot")

func snapshotError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
}

// Snapshot encodes the whole state. It is canonical: equal states encode to
// equal bytes. A state beyond the snapshot limits still encodes, but
// Restore refuses it.
func (s *State) Snapshot() []byte { return s.Capture().Bytes() }

// Capture is a state's snapshot taken but not yet encoded whole: the
// replay window, by far its largest part (tens of MB at thousands of
// transactions a second), is copied as it is and sorted and encoded by
// Bytes, which may run on any goroutine while the state moves on.
type Capture struct {
	head []byte     // everything before the replay window
	secs []seenCopy // the replay window, by increasing second
	tail []byte     // everything after it, with the state's hash
	size int        // the encoding's length, checksum included
}

// seenCopy is one second of the replay window, unsorted.
type seenCopy struct {
	sec int64
	ids []seenID
}

// Capture takes the state's snapshot; Bytes encodes it.
func (s *State) Capture() *Capture {
	w := &snapWriter{codec.Writer{B: make([]byte, 0, 1024+200*len(s.opOrder)+256*len(s.vms)+64*len(s.payments))}}
	w.Raw([]byte(snapshotMagic))
	w.params(s.params)
	w.U64(s.epoch)
	w.I64(s.epochStart)
	w.I64(s.boundary)
	w.I64(s.time)
	w.U64(s.commits)
	s.putCommittees(w)
	s.putOperators(w)
	s.putVMs(w)
	s.putOwners(w)
	s.putPayments(w)
	c := &Capture{head: w.B, secs: s.seenCopies()}
	c.size = len(c.head) + 4 + (8+4)*len(c.secs) + minSeenBytes*s.seen.n
	t := &snapWriter{}
	s.putEvidence(t)
	h := s.Hash()
	t.Raw(h[:])
	c.tail = t.B
	c.size += len(c.tail) + sha256.Size
	return c
}

// Bytes encodes the snapshot (what State.Snapshot returns), once: it
// sorts the capture's replay window in place.
func (c *Capture) Bytes() []byte {
	w := &snapWriter{codec.Writer{B: make([]byte, 0, c.size)}}
	w.Raw(c.head)
	putSeenCopies(w, c.secs)
	w.Raw(c.tail)
	sum := sha256.Sum256(w.B)
	return append(w.B, sum[:]...)
}

// seenCopies copies the replay window, by increasing second, each
// second's ids in map order.
func (s *State) seenCopies() []seenCopy {
	secs := s.seen.seconds()
	out := make([]seenCopy, 0, len(secs))
	all := make([]seenID, 0, s.seen.n)
	for _, sec := range secs {
		from := len(all)
		for id, commit := range s.seen.bucket(sec).ids {
			all = append(all, seenID{id: id, commit: commit})
		}
		out = append(out, seenCopy{sec: sec, ids: all[from:len(all):len(all)]})
	}
	return out
}

// putSeenCopies writes the replay window, each second's ids sorted (in
// place).
func putSeenCopies(w *snapWriter, secs []seenCopy) {
	w.Count(len(secs))
	for _, sc := range secs {
		slices.SortFunc(sc.ids, func(a, b seenID) int { return cmpID(a.id, b.id) })
		w.I64(sc.sec)
		w.Count(len(sc.ids))
		for _, e := range sc.ids {
			w.Raw(e.id[:])
			w.U64(e.commit)
		}
	}
}

func (s *State) putSeen(w *snapWriter) { putSeenCopies(w, s.seenCopies()) }

func (s *State) putCommittees(w *snapWriter) {
	epochs := s.recentEpochs()
	w.Count(len(epochs))
	for _, e := range epochs {
		c := s.committees[e]
		w.U64(e)
		w.Count(c.Size())
		for i := range c.Size() {
			m, _ := c.Member(graph.MemberID(i))
			w.Raw(m.Key[:])
			w.U64(m.Weight)
		}
	}
}

func (s *State) putOperators(w *snapWriter) {
	w.U64(s.joined)
	w.Count(len(s.opOrder))
	for _, k := range s.opOrder {
		o := s.operators[k]
		w.Raw(o.Key[:])
		w.Str32(o.PeerID)
		w.Str32(o.Region)
		w.capacity(o.Capacity)
		w.Raw(o.Payout[:])
		w.U64(o.Weight)
		w.U8(byte(o.Status))
		w.capacity(o.Used)
		w.U8(flag(o.Equivocated))
		w.U8(flag(o.Leaving))
		w.keys(o.Approvals)
		w.keys(o.Removals)
		w.U64(o.Since)
		w.U64(o.order)
		w.I64(o.HostedNs)
		w.U64(o.Earned)
	}
}

func (s *State) putVMs(w *snapWriter) {
	ids := s.sortedVMIDs()
	w.Count(len(ids))
	for _, id := range ids {
		v := s.vms[id]
		w.Raw(v.ID[:])
		w.Raw(v.Owner[:])
		w.capacity(tx.Capacity{VCPU: v.Spec.VCPU, MemoryMiB: v.Spec.MemoryMiB, DiskGiB: v.Spec.DiskGiB})
		w.Str32(v.Spec.Image)
		w.Str32(v.Spec.Region)
		w.Str32(v.Spec.SSHKey)
		w.U8(byte(v.State))
		w.Str32(v.Reason)
		w.Raw(v.Host[:])
		for _, t := range []int64{v.Created, v.LeaseEnd, v.Updated, v.PlacedAt} {
			w.I64(t)
		}
		w.U64(v.Paid)
		w.keys(v.Tried)
		w.Str32(v.Access.Host)
		w.U16(v.Access.Port)
		for _, t := range []int64{v.RanNs, v.RunningSince, v.PendingSince} {
			w.I64(t)
		}
		w.U64(v.RefundDue)
		w.Count(len(v.History))
		for _, e := range v.History {
			w.I64(e.Time)
			w.U8(byte(e.Kind))
			w.U8(byte(e.State))
			w.Raw(e.Host[:])
			w.Str32(e.Reason)
		}
	}
}

func (s *State) putOwners(w *snapWriter) {
	owners := make([]tx.Key, 0, len(s.byOwner))
	for k := range s.byOwner {
		owners = append(owners, k)
	}
	slices.SortFunc(owners, cmpKey)
	w.Count(len(owners))
	for _, k := range owners {
		w.Raw(k[:])
		ids := s.byOwner[k]
		w.Count(len(ids))
		for _, id := range ids {
			w.Raw(id[:])
		}
	}
}

func (s *State) putPayments(w *snapWriter) {
	sigs := make([]payment.Signature, 0, len(s.payments))
	for sig := range s.payments {
		sigs = append(sigs, sig)
	}
	slices.SortFunc(sigs, func(a, b payment.Signature) int { return bytes.Compare(a[:], b[:]) })
	w.Count(len(sigs))
	for _, sig := range sigs {
		w.Raw(sig[:])
	}
}

// seenID is a remembered id with its commit, as a snapshot lists it.
type seenID struct {
	id     tx.ID
	commit uint64
}

func (s *State) putEvidence(w *snapWriter) {
	keys := s.sortedEvidence()
	w.Count(len(keys))
	for _, k := range keys {
		w.U64(k.epoch)
		w.U32(uint32(k.creator))
	}
}

func (s *State) recentEpochs() []uint64 {
	epochs := make([]uint64, 0, len(s.committees))
	for e := range s.committees {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	return epochs
}

func (s *State) sortedVMIDs() []tx.ID {
	ids := make([]tx.ID, 0, len(s.vms))
	for id := range s.vms {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmpID)
	return ids
}

func (s *State) sortedEvidence() []evidenceKey {
	keys := make([]evidenceKey, 0, len(s.evidence))
	for k := range s.evidence {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpEvidence)
	return keys
}

func cmpEvidence(a, b evidenceKey) int {
	switch {
	case a.epoch != b.epoch:
		if a.epoch < b.epoch {
			return -1
		}
		return 1
	case a.creator != b.creator:
		if a.creator < b.creator {
			return -1
		}
		return 1
	}
	return 0
}

// snapWriter appends a snapshot's fields (package codec) with its own:
// keys, capacities, parameters.
type snapWriter struct{ codec.Writer }

func (w *snapWriter) keys(k []tx.Key) {
	w.Count(len(k))
	for _, x := range k {
		w.Raw(x[:])
	}
}

func (w *snapWriter) capacity(c tx.Capacity) {
	w.U32(c.VCPU)
	w.U64(c.MemoryMiB)
	w.U64(c.DiskGiB)
}

func (w *snapWriter) params(p Params) {
	w.Raw(p.Treasury[:])
	w.U64(p.Price.VCPUHour)
	w.U64(p.Price.MemoryGiBHour)
	w.U64(p.Price.DiskGiBHour)
	w.I64(int64(p.EpochLength))
	w.I64(int64(p.StatusTimeout))
	w.I64(int64(p.MaxAttempts))
	w.I64(int64(p.PendingTimeout))
}

// Restore decodes a snapshot; verifier is as in New (nil means ed25519).
// It refuses, with an error wrapping ErrSnapshot, anything that is not
// exactly Snapshot's encoding of a consistent state: a bad checksum, a
// malformed or non-canonical field, a limit exceeded, a broken invariant
// of the state, or a state whose hash is not the one recorded.
func Restore(data []byte, verifier graph.Verifier) (*State, error) {
	const trailer = 2 * sha256.Size
	switch {
	case len(data) > MaxSnapshotBytes:
		return nil, snapshotError("%d bytes, at most %d", len(data), MaxSnapshotBytes)
	case len(data) < len(snapshotMagic)+trailer:
		return nil, snapshotError("%d bytes: too short", len(data))
	case string(data[:len(snapshotMagicV1)]) == snapshotMagicV1:
		return nil, snapshotError("format v1, written by an older version, which lacks the commit of each id in the replay window; "+
			"this version reads only %q: restore from a snapshot that a node of this version wrote", snapshotMagic)
	case string(data[:len(snapshotMagicV2)]) == snapshotMagicV2:
		return nil, snapshotError("format v2, written by an older version, whose replay window spans an hour of expiries; "+
			"this version reads only %q, with a window of %v: restore from a snapshot that a node of this version wrote", snapshotMagic, tx.MaxValidity)
	case string(data[:len(snapshotMagicV3)]) == snapshotMagicV3:
		return nil, snapshotError("format v3, written by an older version, which lacks the VMs' histories, access and running time; "+
			"this version reads only %q: restore from a snapshot that a node of this version wrote", snapshotMagic)
	case string(data[:len(snapshotMagic)]) != snapshotMagic:
		return nil, snapshotError("no %q prefix", snapshotMagic)
	}
	end := len(data) - sha256.Size
	if sha256.Sum256(data[:end]) != [sha256.Size]byte(data[end:]) {
		return nil, snapshotError("checksum mismatch: the data is damaged")
	}
	body, want := data[:end-sha256.Size], [sha256.Size]byte(data[end-sha256.Size:end])
	s, err := decodeSnapshot(body, verifier)
	if err != nil {
		return nil, err
	}
	if got := s.Hash(); got != want {
		return nil, snapshotError("state hash %x, the snapshot records %x", got[:4], want[:4])
	}
	return s, nil
}

// decodeSnapshot decodes and checks a snapshot up to its state hash (body
// is everything before it), and derives what the state derives.
func decodeSnapshot(body []byte, verifier graph.Verifier) (*State, error) {
	if verifier == nil {
		verifier = graph.Ed25519{}
	}
	r := newSnapReader(body)
	if string(r.Take(len(snapshotMagic), "magic")) != snapshotMagic {
		return nil, snapshotError("no %q prefix", snapshotMagic)
	}
	s := &State{verifier: verifier, dirty: true}
	s.params = r.params()
	r.clock(s)
	r.committees(s)
	r.operators(s)
	r.vms(s)
	r.owners(s)
	r.payments(s)
	r.seenIDs(s)
	r.evidence(s)
	r.at("", 0)
	r.End()
	if r.Err() != nil {
		return nil, r.Err()
	}
	for _, check := range []func() error{s.checkCommittees, s.checkOperators, s.checkVMs, s.checkEvidence, s.checkAdmissions} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	for _, id := range s.sortedVMIDs() {
		if !s.vms[id].State.Final() {
			s.live = append(s.live, id)
		}
	}
	return s, nil
}

// snapReader reads a snapshot's fields (package codec) with its own, and
// names the entry being read in its errors. The first error sticks; reads
// after it return zero values.
type snapReader struct {
	codec.Reader
	// The entry being read, for errors: item and index, or item and id
	// once named.
	item  string
	index int
	id    [32]byte
	named bool
}

func newSnapReader(b []byte) *snapReader {
	r := &snapReader{}
	r.Reader = codec.NewReader(b, r.wrap)
	return r
}

// at says which entry is read next; name names it by key or id.
func (r *snapReader) at(item string, i int) { r.item, r.index, r.named = item, i, false }
func (r *snapReader) name(id [32]byte)      { r.id, r.named = id, true }

// wrap makes a snapshot error of msg, naming the entry being read.
func (r *snapReader) wrap(msg string) error {
	switch {
	case r.named:
		msg = fmt.Sprintf("%s %s: %s", r.item, tx.ID(r.id).Short(), msg)
	case r.item != "":
		msg = fmt.Sprintf("%s %d: %s", r.item, r.index, msg)
	}
	return fmt.Errorf("%w: %s", ErrSnapshot, msg)
}

func (r *snapReader) key(what string) (k tx.Key) {
	r.Fixed(k[:], what)
	return k
}

func (r *snapReader) capacity(what string) tx.Capacity {
	return tx.Capacity{VCPU: r.U32(what + " vcpu"), MemoryMiB: r.U64(what + " memory"), DiskGiB: r.U64(what + " disk")}
}

// keys reads a list of operator keys.
func (r *snapReader) keys(what string) []tx.Key {
	n := r.Count(what, MaxSnapshotOperators, 32)
	if n == 0 {
		return nil
	}
	ks := make([]tx.Key, n)
	for i := range ks {
		ks[i] = r.key(what)
	}
	return ks
}

// sortedKeys reads a list of operator keys that must be sorted and unique.
func (r *snapReader) sortedKeys(what string) []tx.Key {
	ks := r.keys(what)
	for i := 1; i < len(ks) && r.Err() == nil; i++ {
		if cmpKey(ks[i-1], ks[i]) >= 0 {
			r.Fail("%s: %s after %s: want sorted, unique keys", what, ks[i].Short(), ks[i-1].Short())
		}
	}
	return ks
}

func (r *snapReader) params() Params {
	var p Params
	r.Fixed(p.Treasury[:], "treasury")
	p.Price.VCPUHour = r.U64("vCPU price")
	p.Price.MemoryGiBHour = r.U64("memory price")
	p.Price.DiskGiBHour = r.U64("disk price")
	p.EpochLength = time.Duration(r.I64("epoch length"))
	p.StatusTimeout = time.Duration(r.I64("status timeout"))
	attempts := r.I64("max attempts")
	p.PendingTimeout = time.Duration(r.I64("pending timeout"))
	switch {
	case r.Err() != nil:
	case p.EpochLength <= 0:
		r.Fail("epoch length %v: want more than 0", p.EpochLength)
	case p.StatusTimeout <= 0:
		r.Fail("status timeout %v: want more than 0", p.StatusTimeout)
	case p.PendingTimeout <= 0:
		r.Fail("pending timeout %v: want more than 0", p.PendingTimeout)
	case attempts <= 0 || int64(int(attempts)) != attempts:
		r.Fail("max attempts %d: want a positive int", attempts)
	}
	p.MaxAttempts = int(attempts)
	return p
}

// clock reads the epoch and the consensus times: the epoch started at or
// before the last commit, and the next boundary lies after it, at most an
// epoch length after the epoch's start (so that Apply's boundary loop is
// short).
func (r *snapReader) clock(s *State) {
	s.epoch = r.U64("epoch")
	s.epochStart = r.I64("epoch start")
	s.boundary = r.I64("next epoch boundary")
	s.time = r.I64("time")
	s.commits = r.U64("commits")
	switch {
	case r.Err() != nil:
	case s.epochStart > s.time:
		r.Fail("epoch start %d is after the time %d", s.epochStart, s.time)
	case s.boundary <= s.time:
		r.Fail("next epoch boundary %d is not after the time %d", s.boundary, s.time)
	case uint64(s.boundary)-uint64(s.epochStart) > uint64(s.params.EpochLength):
		r.Fail("next epoch boundary %d is more than an epoch length (%v) after the epoch start %d",
			s.boundary, s.params.EpochLength, s.epochStart)
	}
}

func (r *snapReader) committees(s *State) {
	r.at("", 0)
	n := r.Count("committees", MaxSnapshotCommittees, minCommitteeBytes)
	s.committees = make(map[uint64]*graph.Committee, n)
	var prev uint64
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("committee", i)
		e := r.U64("epoch")
		members := make([]graph.Member, r.Count("members", graph.MaxCommitteeSize, minMemberBytes))
		for j := range members {
			r.Fixed(members[j].Key[:], "member key")
			members[j].Weight = r.U64("member weight")
		}
		switch {
		case r.Err() != nil:
			return
		case i > 0 && e <= prev:
			r.Fail("epoch %d after epoch %d: want increasing epochs", e, prev)
		case e > s.epoch || s.epoch-e >= MaxSnapshotCommittees:
			r.Fail("epoch %d is not one of the %d up to the current epoch %d", e, MaxSnapshotCommittees, s.epoch)
		}
		c, err := graph.NewCommittee(e, members)
		if err != nil {
			r.Fail("epoch %d: %v", e, err)
		}
		s.committees[e], prev = c, e
	}
}

func (r *snapReader) operators(s *State) {
	r.at("", 0)
	s.joined = r.U64("joined")
	n := r.Count("operators", MaxSnapshotOperators, minOperatorBytes)
	s.operators = make(map[tx.Key]*Operator, n)
	s.opOrder = make([]tx.Key, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("operator", i)
		o := r.operator(s)
		if r.Err() != nil {
			return
		}
		if _, dup := s.operators[o.Key]; dup {
			r.Fail("repeats an operator")
		} else if i > 0 && o.order <= s.operators[s.opOrder[i-1]].order {
			r.Fail("join order %d is not after the previous operator's", o.order)
		}
		s.operators[o.Key] = o
		s.opOrder = append(s.opOrder, o.Key)
	}
}

func (r *snapReader) operator(s *State) *Operator {
	o := &Operator{Key: r.key("key")}
	r.name(o.Key)
	o.PeerID = r.Str32(tx.MaxPeerIDBytes, "peer id")
	o.Region = r.Str32(tx.MaxRegionBytes, "region")
	o.Capacity = r.capacity("capacity")
	r.Fixed(o.Payout[:], "payout")
	o.Weight = r.U64("weight")
	o.Status = OperatorStatus(r.U8("status"))
	o.Used = r.capacity("used")
	o.Equivocated = r.Flag("equivocated")
	o.Leaving = r.Flag("leaving")
	o.Approvals = r.sortedKeys("approvals")
	o.Removals = r.sortedKeys("removals")
	o.Since = r.U64("since")
	o.order = r.U64("join order")
	o.HostedNs = r.I64("hosted time")
	o.Earned = r.U64("earned")
	switch {
	case r.Err() != nil:
	case o.HostedNs < 0:
		r.Fail("hosted time %d: negative", o.HostedNs)
	case o.Status < OperatorPending || o.Status > OperatorRemoved:
		r.Fail("unknown %s", o.Status)
	case o.Weight == 0 || o.Weight > graph.MaxCommitteeWeight:
		r.Fail("weight %d: want 1..%d", o.Weight, uint64(graph.MaxCommitteeWeight))
	case o.Since > s.epoch:
		r.Fail("%s since epoch %d, after the current epoch %d", o.Status, o.Since, s.epoch)
	case o.Leaving && o.Status != OperatorActive:
		r.Fail("leaving, but %s", o.Status)
	case o.order >= s.joined:
		r.Fail("join order %d, but %d operators joined", o.order, s.joined)
	}
	return o
}

func (r *snapReader) vms(s *State) {
	r.at("", 0)
	n := r.Count("VMs", MaxSnapshotVMs, minVMBytes)
	s.vms = make(map[tx.ID]*VM, n)
	var prev tx.ID
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("vm", i)
		v := r.vm(s)
		if r.Err() == nil && i > 0 && cmpID(v.ID, prev) <= 0 {
			r.Fail("not after vm %s: want VMs sorted by id", prev.Short())
		}
		s.vms[v.ID], prev = v, v.ID
	}
}

func (r *snapReader) vm(s *State) *VM {
	v := &VM{}
	r.Fixed(v.ID[:], "id")
	r.name(v.ID)
	v.Owner = r.key("owner")
	v.Spec.VCPU = r.U32("vcpu")
	v.Spec.MemoryMiB = r.U64("memory")
	v.Spec.DiskGiB = r.U64("disk")
	v.Spec.Image = r.Str32(tx.MaxImageBytes, "image")
	v.Spec.Region = r.Str32(tx.MaxRegionBytes, "region")
	v.Spec.SSHKey = r.Str32(tx.MaxSSHKeyBytes, "ssh key")
	v.State = VMState(r.U8("state"))
	v.Reason = r.Str32(MaxSnapshotReasonBytes, "reason")
	v.Host = r.key("host")
	v.Created = r.I64("created")
	v.LeaseEnd = r.I64("lease end")
	v.Updated = r.I64("updated")
	v.PlacedAt = r.I64("placed at")
	v.Paid = r.U64("paid")
	v.Tried = r.keys("tried")
	v.Access.Host = r.Str32(tx.MaxHostBytes, "access host")
	v.Access.Port = r.U16("access port")
	v.RanNs = r.I64("ran")
	v.RunningSince = r.I64("running since")
	v.PendingSince = r.I64("pending since")
	v.RefundDue = r.U64("refund due")
	v.History = r.history()
	sp := v.Spec
	switch {
	case r.Err() != nil:
	case v.RanNs < 0:
		r.Fail("ran %d ns: negative", v.RanNs)
	case v.Access.Check() != nil:
		r.Fail("%v", v.Access.Check())
	case !v.Access.IsZero() && v.State != VMRunning:
		r.Fail("access %s, but %s", v.Access, v.State)
	case v.RefundDue > v.Paid:
		r.Fail("refund due %d, more than the %d paid", v.RefundDue, v.Paid)
	case v.State < VMPending || v.State > VMExpired:
		r.Fail("unknown %s", v.State)
	case sp.VCPU == 0 || sp.VCPU > tx.MaxVCPU:
		r.Fail("vcpu %d: want 1..%d", sp.VCPU, tx.MaxVCPU)
	case sp.MemoryMiB == 0 || sp.MemoryMiB > tx.MaxMemoryMiB:
		r.Fail("memory %d MiB: want 1..%d", sp.MemoryMiB, tx.MaxMemoryMiB)
	case sp.DiskGiB == 0 || sp.DiskGiB > tx.MaxDiskGiB:
		r.Fail("disk %d GiB: want 1..%d", sp.DiskGiB, tx.MaxDiskGiB)
	case sp.Image == "" || sp.Region == "":
		r.Fail("no image or no region")
	case !v.State.Final() && len(v.Reason) > maxLiveReasonBytes:
		r.Fail("reason: %d bytes, at most %d for a VM that is %s", len(v.Reason), maxLiveReasonBytes, v.State)
	case len(v.Tried) > s.params.MaxAttempts:
		r.Fail("tried on %d hosts, but max attempts is %d", len(v.Tried), s.params.MaxAttempts)
	}
	return v
}

// owners reads the per-owner lists: every VM in its owner's list, once.
func (r *snapReader) owners(s *State) {
	r.at("", 0)
	n := r.Count("owners", MaxSnapshotVMs, minOwnerBytes)
	s.byOwner = make(map[tx.Key][]tx.ID, n)
	listed := make(map[tx.ID]bool, len(s.vms))
	var prev tx.Key
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("owner", i)
		owner := r.key("key")
		r.name(owner)
		ids := make([]tx.ID, r.Count("VMs", MaxSnapshotVMs, 32))
		for j := range ids {
			r.Fixed(ids[j][:], "vm id")
		}
		switch {
		case r.Err() != nil:
			return
		case i > 0 && cmpKey(owner, prev) <= 0:
			r.Fail("not after owner %s: want owners sorted by key", prev.Short())
		case len(ids) == 0:
			r.Fail("no VMs")
		}
		for _, id := range ids {
			v, ok := s.vms[id]
			switch {
			case !ok:
				r.Fail("vm %s is not a VM", id.Short())
			case v.Owner != owner:
				r.Fail("vm %s belongs to %s", id.Short(), v.Owner.Short())
			case listed[id]:
				r.Fail("lists vm %s twice", id.Short())
			}
			listed[id] = true
		}
		s.byOwner[owner], prev = ids, owner
	}
	if r.Err() == nil && len(listed) != len(s.vms) {
		for _, id := range s.sortedVMIDs() {
			if !listed[id] {
				r.at("vm", 0)
				r.name(id)
				r.Fail("in no owner's list")
				return
			}
		}
	}
}

func (r *snapReader) payments(s *State) {
	r.at("", 0)
	n := r.Count("payments", MaxSnapshotPayments, len(payment.Signature{}))
	s.payments = make(map[payment.Signature]struct{}, n)
	var prev payment.Signature
	for i := 0; i < n && r.Err() == nil; i++ {
		var sig payment.Signature
		r.Fixed(sig[:], "payment signature")
		if r.Err() == nil && i > 0 && bytes.Compare(prev[:], sig[:]) >= 0 {
			r.at("payment", i)
			r.Fail("not after the previous one: want sorted, unique signatures")
		}
		s.payments[sig], prev = struct{}{}, sig
		xorInto(&s.payHash, sig[:])
	}
}

// seenIDs reads the replay window: seconds of expiry no earlier than the
// time's (older ones were pruned) and at most tx.MaxValidity after it,
// each id in one of the commits before the state, and in one second only.
func (r *snapReader) seenIDs(s *State) {
	r.at("", 0)
	n := r.Count("replay window seconds", int(windowSeconds), minSecondBytes)
	first := expirySecond(s.time)
	last := expirySecond(s.time + int64(tx.MaxValidity))
	all := map[tx.ID]struct{}{} // to refuse an id filed under two seconds
	var prevSec int64
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("replay window second", i)
		sec := r.I64("second")
		m := r.Count("ids", MaxSnapshotSeen-s.seen.n, minSeenBytes)
		switch {
		case r.Err() != nil:
			return
		case i > 0 && sec <= prevSec:
			r.Fail("second %d is not after the previous one", sec)
		case sec < first || sec > last:
			r.Fail("second %d is outside the replay window [%d, %d]", sec, first, last)
		case m == 0:
			r.Fail("second %d holds no ids", sec)
		}
		prevSec = sec
		var prev tx.ID
		for j := 0; j < m && r.Err() == nil; j++ {
			var id tx.ID
			r.Fixed(id[:], "id")
			commit := r.U64("commit")
			_, dup := all[id]
			switch {
			case r.Err() != nil:
				return
			case j > 0 && cmpID(prev, id) >= 0:
				r.Fail("id %s is not after %s: want sorted, unique ids", id.Short(), prev.Short())
			case dup:
				r.Fail("id %s is filed under two seconds", id.Short())
			case commit >= s.commits:
				r.Fail("id %s: commit %d is not one of the %d commits before the state", id.Short(), commit, s.commits)
			}
			all[id] = struct{}{}
			s.seen.add(id, sec*windowSecond, commit)
			prev = id
		}
	}
}

func (r *snapReader) evidence(s *State) {
	r.at("", 0)
	n := r.Count("evidence keys", MaxSnapshotEvidence, minEvidenceBytes)
	s.evidence = make(map[evidenceKey]struct{}, n)
	var prev evidenceKey
	for i := 0; i < n && r.Err() == nil; i++ {
		r.at("evidence", i)
		k := evidenceKey{epoch: r.U64("epoch"), creator: graph.MemberID(r.U32("member"))}
		switch {
		case r.Err() != nil:
			return
		case i > 0 && cmpEvidence(prev, k) >= 0:
			r.Fail("not after the previous one: want sorted by epoch, then member")
		case k.epoch > s.epoch:
			r.Fail("epoch %d is after the current epoch %d", k.epoch, s.epoch)
		}
		s.evidence[k], prev = struct{}{}, k
	}
}

// checkCommittees: the current epoch's committee is there and is its
// active operators in join order, and every member of a recent committee
// is an operator (evidence against it marks that operator). It sets the
// state's committee, which the later checks use.
func (s *State) checkCommittees() error {
	c, ok := s.committees[s.epoch]
	if !ok {
		return snapshotError("no committee for the current epoch %d", s.epoch)
	}
	want, err := s.buildCommittee(s.epoch)
	if err != nil {
		return snapshotError("the active operators make no committee: %v", err)
	}
	if !sameMembers(c, want) {
		return snapshotError("the committee of epoch %d is not its active operators in join order", s.epoch)
	}
	s.committee = c
	for _, e := range s.recentEpochs() {
		c := s.committees[e]
		for i := range c.Size() {
			if m, _ := c.Member(graph.MemberID(i)); s.operators[tx.Key(m.Key)] == nil {
				return snapshotError("committee of epoch %d: member %d (%s) is not an operator", e, i, tx.Key(m.Key).Short())
			}
		}
	}
	return nil
}

func sameMembers(a, b *graph.Committee) bool {
	if a.Size() != b.Size() {
		return false
	}
	for i := range a.Size() {
		x, _ := a.Member(graph.MemberID(i))
		if y, _ := b.Member(graph.MemberID(i)); x != y {
			return false
		}
	}
	return true
}

// checkOperators: votes come from operators.
func (s *State) checkOperators() error {
	for _, k := range s.opOrder {
		o := s.operators[k]
		for _, votes := range [][]tx.Key{o.Approvals, o.Removals} {
			for _, v := range votes {
				if s.operators[v] == nil {
					return snapshotError("operator %s: vote by %s, which is not an operator", k.Short(), v.Short())
				}
			}
		}
	}
	return nil
}

// checkVMs: a placed VM's host is an active operator that did not
// equivocate and that it has not failed on, and it has attempts left; a
// VM that is not placed has no host; the hosts tried are distinct
// operators; and every operator's Used is what the VMs placed on it take.
func (s *State) checkVMs() error {
	type sum struct{ vcpu, mem, disk uint64 }
	used := map[tx.Key]sum{}
	for _, id := range s.sortedVMIDs() {
		v := s.vms[id]
		for i, k := range v.Tried {
			if s.operators[k] == nil {
				return snapshotError("vm %s: tried host %s is not an operator", id.Short(), k.Short())
			}
			if slices.Contains(v.Tried[:i], k) {
				return snapshotError("vm %s: tried host %s twice", id.Short(), k.Short())
			}
		}
		if !v.State.Placed() {
			if v.Host != (tx.Key{}) {
				return snapshotError("vm %s: %s, but has host %s", id.Short(), v.State, v.Host.Short())
			}
			continue
		}
		op := s.operators[v.Host]
		switch {
		case op == nil:
			return snapshotError("vm %s: host %s is not an operator", id.Short(), v.Host.Short())
		case op.Status != OperatorActive:
			return snapshotError("vm %s: host %s is %s", id.Short(), v.Host.Short(), op.Status)
		case op.Equivocated:
			return snapshotError("vm %s: host %s equivocated", id.Short(), v.Host.Short())
		case slices.Contains(v.Tried, v.Host):
			return snapshotError("vm %s: host %s is one it failed on", id.Short(), v.Host.Short())
		case len(v.Tried) >= s.params.MaxAttempts:
			return snapshotError("vm %s: placed after failing on %d hosts, max attempts %d", id.Short(), len(v.Tried), s.params.MaxAttempts)
		}
		u := used[v.Host]
		used[v.Host] = sum{u.vcpu + uint64(v.Spec.VCPU), u.mem + v.Spec.MemoryMiB, u.disk + v.Spec.DiskGiB}
	}
	for _, k := range s.opOrder {
		o, u := s.operators[k], used[k]
		if u != (sum{uint64(o.Used.VCPU), o.Used.MemoryMiB, o.Used.DiskGiB}) {
			return snapshotError("operator %s: uses %d vCPU, %d MiB, %d GiB, but its VMs take %d vCPU, %d MiB, %d GiB",
				k.Short(), o.Used.VCPU, o.Used.MemoryMiB, o.Used.DiskGiB, u.vcpu, u.mem, u.disk)
		}
	}
	return nil
}

// checkEvidence: proven equivocators of a recent epoch are marked.
func (s *State) checkEvidence() error {
	for _, k := range s.sortedEvidence() {
		c, ok := s.committees[k.epoch]
		if !ok {
			continue
		}
		m, ok := c.Member(k.creator)
		if !ok {
			return snapshotError("evidence of epoch %d: no member %d in its committee", k.epoch, k.creator)
		}
		if !s.operators[tx.Key(m.Key)].Equivocated {
			return snapshotError("evidence of epoch %d: operator %s is not marked as equivocating", k.epoch, tx.Key(m.Key).Short())
		}
	}
	return nil
}

// checkAdmissions: the next epoch boundary admits every pending operator
// a quorum approved, and the committee it builds must be one graph
// accepts, or epochBoundary panics. Removals only shrink it, so the check
// leaves them out.
func (s *State) checkAdmissions() error {
	n, w := 0, uint64(0)
	for _, k := range s.opOrder {
		o := s.operators[k]
		if o.Status == OperatorActive || o.Status == OperatorPending && s.committee.IsQuorum(s.votingWeight(o.Approvals)) {
			n, w = n+1, w+o.Weight // no overflow: w and each weight are at most graph.MaxCommitteeWeight
			if n > graph.MaxCommitteeSize || w > graph.MaxCommitteeWeight {
				return snapshotError("the operators approved for the next epoch would make a committee over the limits of %d members and weight %d",
					graph.MaxCommitteeSize, uint64(graph.MaxCommitteeWeight))
			}
		}
	}
	return nil
}

// history reads a VM's history.
func (r *snapReader) history() []VMEvent {
	n := r.Count("history", MaxVMHistory, minVMEventBytes)
	if n == 0 {
		return nil
	}
	h := make([]VMEvent, n)
	for i := range h {
		e := &h[i]
		e.Time = r.I64("event time")
		e.Kind = VMEventKind(r.U8("event kind"))
		e.State = VMState(r.U8("event state"))
		r.Fixed(e.Host[:], "event host")
		e.Reason = r.Str32(MaxVMEventReasonBytes, "event reason")
		switch {
		case r.Err() != nil:
			return nil
		case e.Kind == 0 || e.Kind > maxVMEventKind:
			r.Fail("history %d: unknown %s", i, e.Kind)
		case e.State < VMPending || e.State > VMExpired:
			r.Fail("history %d: unknown %s", i, e.State)
		case i > 0 && e.Time < h[i-1].Time:
			r.Fail("history %d: at %d, before the event before it", i, e.Time)
		}
	}
	return h
}
