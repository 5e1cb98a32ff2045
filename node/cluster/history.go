package cluster

import (
	"fmt"
	"math"
	"time"

	"dagger/node/tx"
)

// VMEventKind is what happened to a VM.
type VMEventKind uint8

// The kinds of a VM's history.
const (
	VMEventCreated VMEventKind = iota + 1 // paid for; the lease runs from here
	VMEventWaiting                        // no host with room: it waits for one
	VMEventPlaced                         // given to a host to run (Host)
	VMEventLeft                           // taken off its host (Host), Reason says why; the guest's disk stays there
	VMEventRunning                        // its host reports it running, or reachable at a new address
	VMEventStopped                        // its host reports it stopped
	VMEventRenewed                        // its lease was extended
	VMEventEnded                          // deleted, expired or failed: final
	maxVMEventKind = VMEventEnded
)

var vmEventNames = [...]string{"", "created", "waiting", "placed", "left-host", "running", "stopped", "renewed", "ended"}

func (k VMEventKind) String() string {
	if k == 0 || k > maxVMEventKind {
		return fmt.Sprintf("event(%d)", k)
	}
	return vmEventNames[k]
}

// VMEvent is one line of a VM's history: what happened at a consensus
// time, and the VM's state after it.
type VMEvent struct {
	Time  int64
	Kind  VMEventKind
	State VMState
	// Host is the operator the event is about: the new host of a
	// placement, the old one of a VMEventLeft, the reporting one of
	// VMEventRunning and VMEventStopped; zero otherwise.
	Host   tx.Key
	Reason string
}

// Limits of a VM's history, part of the state (and so of every node's
// memory and snapshot): the first event and the latest ones are kept.
const (
	MaxVMHistory          = 32
	MaxVMEventReasonBytes = 512
)

// note appends an event to v's history, at the current consensus time.
// A VM that keeps waiting for the same reason gets one line for it.
func (s *State) note(v *VM, k VMEventKind, host tx.Key, reason string) {
	if len(reason) > MaxVMEventReasonBytes {
		reason = truncateUTF8(reason, MaxVMEventReasonBytes)
	}
	if n := len(v.History); n > 0 {
		last := &v.History[n-1]
		if k == VMEventWaiting && last.Kind == k && last.Reason == reason {
			return
		}
	}
	if len(v.History) >= MaxVMHistory {
		// Keep the first line (its creation), drop the oldest after it.
		copy(v.History[1:], v.History[2:])
		v.History = v.History[:len(v.History)-1]
	}
	v.History = append(v.History, VMEvent{Time: s.time, Kind: k, State: v.State, Host: host, Reason: reason})
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// setState moves v to st, running the clock of its running time: a VM
// accrues running time, for itself and for its host, from the report that
// it runs to whatever takes it out of VMRunning. It is the one place that
// changes a VM's State.
func (s *State) setState(v *VM, st VMState) {
	if v.State == st {
		return
	}
	if v.State == VMRunning {
		s.stopClock(v)
		v.Access = tx.Access{}
	}
	switch st {
	case VMRunning:
		v.RunningSince = s.time
	case VMPending:
		v.PendingSince = s.time
	}
	v.State = st
}

// stopClock adds v's running time since it last started running to v and
// to its host.
func (s *State) stopClock(v *VM) {
	d := s.time - v.RunningSince
	if d <= 0 {
		return
	}
	v.RanNs = satAddI64(v.RanNs, d)
	if op, ok := s.operators[v.Host]; ok {
		op.HostedNs = satAddI64(op.HostedNs, d)
		op.Earned = satAddU64(op.Earned, s.params.costOf(v.Spec, time.Duration(d)))
	}
}

// costOf is what running spec for d costs at the cluster's price,
// saturating rather than failing: it is an account, not a payment check.
func (p Params) costOf(spec tx.Spec, d time.Duration) uint64 {
	c, err := p.PriceOf(spec, d)
	if err != nil {
		return math.MaxUint64
	}
	return c
}

// refund records what an ending VM was paid for but never ran: what it
// was paid, less the price of the time it ran. Only the cluster ends a VM
// with a refund (it failed, waited too long, or its lease ended with time
// it never ran); a VM its owner deletes gets none.
func (s *State) refund(v *VM) {
	cost := s.params.costOf(v.Spec, time.Duration(v.RanNs))
	if cost < v.Paid {
		v.RefundDue = v.Paid - cost
	}
}

// Running time of a VM or an operator up to the current consensus time:
// what has accrued, plus the clock of a VM that is running now.

// RanUntil returns how long v ran up to consensus time now.
func (v *VM) RanUntil(now int64) time.Duration {
	d := v.RanNs
	if v.State == VMRunning && now > v.RunningSince {
		d = satAddI64(d, now-v.RunningSince)
	}
	return time.Duration(d)
}

// accrueRunning adds to the operators that to returns (a copy of the
// host's entry, or nil to skip it) the running time, and its worth, of the
// VMs running on them since they last started: the accounts as of the last
// commit.
func (s *State) accrueRunning(to func(host tx.Key) *Operator) {
	for _, id := range s.live {
		v := s.vms[id]
		if v.State != VMRunning || s.time <= v.RunningSince {
			continue
		}
		if op := to(v.Host); op != nil {
			run := s.time - v.RunningSince
			op.HostedNs = satAddI64(op.HostedNs, run)
			op.Earned = satAddU64(op.Earned, s.params.costOf(v.Spec, time.Duration(run)))
		}
	}
}

func satAddI64(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satAddU64(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}
