// Package linear checks that the VM operations clients saw during a
// simulated run are linearizable: that some order of the operations, each
// placed between its call and its return, explains every outcome.
//
// Each VM id is an independent object, so the history is checked one VM at
// a time (porcupine's partitions), which keeps the search small and lets a
// failure name the VMs at fault. A VM is created once, may be deleted, and
// may be read by anyone; its sequential specification is:
//
//   - create OK needs a VM never created, and creates it; a rejected create
//     (payment refused, id taken) changes nothing and is allowed always;
//   - delete OK needs a VM that exists, and deletes it; delete not-OK needs
//     one that does not;
//   - get reports whether the VM exists;
//   - the cluster itself may end a VM (its lease ran out, or no host could
//     run it): a delete or get that reports such a lost VM needs one that
//     was created and not deleted, and from then on it is lost for good.
//     The loss happens at the latest where it is first seen, so a stale
//     "never existed" is still told apart from "lost".
//
// An operation still waiting when the run ended may or may not have taken
// effect. Following porcupine's convention it returns after every other
// operation, and the specification accepts either outcome for it.
//
// The verdict and Describe depend only on the history. The optional
// timeout is wall-clock time, so whether a large history is decided within
// it is not; a run that hits it says Unknown rather than guessing.
package linear

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation asks for.
type Kind uint8

const (
	Create Kind = iota + 1
	Delete
	Get
)

func (k Kind) String() string {
	switch k {
	case Create:
		return "create"
	case Delete:
		return "delete"
	case Get:
		return "get"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Op is one client operation on virtual time (nanoseconds).
type Op struct {
	Client  int
	Kind    Kind
	VM      string // VM id
	Call    int64
	Return  int64 // ignored if Pending
	Pending bool  // never returned
	OK      bool  // create/delete outcome
	Found   bool  // get outcome
	// Lost: a delete or get found the VM ended by the cluster itself
	// (expired or failed), not by a delete.
	Lost bool
}

// Result of checking a history.
type Result struct {
	// Linearizable is true only when every VM's history was proved
	// linearizable.
	Linearizable bool
	// Unknown says that no VM was refuted but the timeout cut the check of
	// some VM short, so the history is neither proved nor refuted. A
	// refuted VM settles the verdict, so Unknown is then false.
	Unknown bool
	VMs     int // how many VM partitions were checked
	Ops     int
	// Failed holds the VM ids whose histories are not linearizable, sorted.
	Failed []string

	undecided []string // VM ids the timeout cut short, sorted
	parts     []part   // in porcupine's partition order
	info      porcupine.LinearizationInfo
}

// part is one VM's operations as porcupine numbers them: the index in ops
// is the id that porcupine's linearizations refer to.
type part struct {
	vm      string
	ops     []Op
	verdict verdict
}

type verdict uint8

const (
	linearizable verdict = iota
	refuted
	undecided
)

// annotationsMax bounds the failure markers added to the visualization: a
// run that breaks hundreds of VMs is diagnosed from the first few, and the
// page must stay small enough to open.
const annotationsMax = 32

// Check checks ops for linearizability per VM id. timeout bounds the whole
// check (0 = no bound).
func Check(ops []Op, timeout time.Duration) Result {
	history := operations(ops)
	g := newGate(timeout)
	// porcupine's own timeout cancels every partition at once, and
	// afterwards a partition it cut short looks exactly like one it
	// refuted. The gate instead remembers which VMs it stopped, so a
	// refutation is only reported when the search really finished.
	_, info := porcupine.CheckOperationsVerbose(newModel(g), history, 0)
	cut := g.close()

	r := Result{Ops: len(ops), info: info}
	partials := info.PartialLinearizations()
	for i, p := range partition(history) {
		pt := part{vm: vmOf(p[0]), ops: make([]Op, len(p))}
		for j, o := range p {
			pt.ops[j] = o.Metadata.(Op)
		}
		// A complete linearization is the only proof of success porcupine
		// leaves in verbose mode; it never records one for a refuted
		// partition.
		complete := slices.ContainsFunc(partials[i], func(l []int) bool { return len(l) == len(p) })
		switch {
		case complete:
			pt.verdict = linearizable
		case cut[pt.vm]:
			pt.verdict = undecided
			r.undecided = append(r.undecided, pt.vm)
		default:
			pt.verdict = refuted
			r.Failed = append(r.Failed, pt.vm)
		}
		r.parts = append(r.parts, pt)
	}
	r.VMs = len(r.parts)
	r.Unknown = len(r.Failed) == 0 && len(r.undecided) > 0
	r.Linearizable = len(r.Failed) == 0 && len(r.undecided) == 0
	canonicalize(&r.info)
	r.annotate()
	return r
}

// operations turns ops into porcupine's history. A pending operation gets a
// return time after every other operation's call and return, so the
// checker may place it anywhere after its call.
func operations(ops []Op) []porcupine.Operation {
	var last int64
	for i, o := range ops {
		if o.Kind < Create || o.Kind > Get {
			panic(fmt.Sprintf("linear: op %d has kind %v", i, o.Kind))
		}
		if !o.Pending && o.Return < o.Call {
			panic(fmt.Sprintf("linear: op %d (%v %s) returns at %d before its call at %d", i, o.Kind, o.VM, o.Return, o.Call))
		}
		last = max(last, o.Call)
		if !o.Pending {
			last = max(last, o.Return)
		}
	}
	history := make([]porcupine.Operation, len(ops))
	for i, o := range ops {
		ret := o.Return
		if o.Pending {
			ret = last + 1
		}
		history[i] = porcupine.Operation{
			ClientId: o.Client,
			Input:    input{kind: o.Kind, vm: o.VM},
			Call:     o.Call,
			Output:   output{pending: o.Pending, ok: o.OK, found: o.Found, lost: o.Lost},
			Return:   ret,
			Metadata: o,
		}
	}
	return history
}

// partition splits a history by VM id, in id order, keeping the history's
// order within a VM. Check maps porcupine's partition numbers back to VMs
// by calling it again, so it must be a pure function of the history.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	byVM := make(map[string][]porcupine.Operation)
	for _, o := range history {
		vm := vmOf(o)
		byVM[vm] = append(byVM[vm], o)
	}
	vms := make([]string, 0, len(byVM))
	for vm := range byVM {
		vms = append(vms, vm)
	}
	slices.Sort(vms)
	parts := make([][]porcupine.Operation, len(vms))
	for i, vm := range vms {
		parts[i] = byVM[vm]
	}
	return parts
}

func vmOf(o porcupine.Operation) string { return o.Input.(input).vm }

// canonicalize orders each partition's partial linearizations. porcupine
// collects them through a map, so their order, and with it the bytes of
// the visualization, would change from one run to the next.
// PartialLinearizations hands out porcupine's own slices, which is what
// lets this reach the info the visualization reads.
func canonicalize(info *porcupine.LinearizationInfo) {
	for _, ls := range info.PartialLinearizations() {
		slices.SortFunc(ls, func(a, b []int) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return slices.Compare(a, b)
		})
	}
}

// annotate marks the VMs that failed or were cut short on their own rows
// of the visualization, spanning their operations, so a reader of a large
// history finds them without opening every partition.
func (r *Result) annotate() {
	var notes []porcupine.Annotation
	for _, pt := range r.parts {
		if pt.verdict == linearizable {
			continue
		}
		if len(notes) == annotationsMax {
			break
		}
		start, end := pt.ops[0].Call, pt.ops[0].Call
		for _, o := range pt.ops {
			start = min(start, o.Call)
			if !o.Pending {
				end = max(end, o.Return)
			}
		}
		n := porcupine.Annotation{
			Tag:     "vm " + pt.vm,
			Start:   start,
			End:     end,
			Details: pt.describe(r.info.PartialLinearizations()[r.index(pt.vm)]),
		}
		if pt.verdict == refuted {
			n.Description = "not linearizable"
			n.BackgroundColor = "#f4c7c3"
		} else {
			n.Description = "undecided: timed out"
			n.BackgroundColor = "#fce8b2"
		}
		notes = append(notes, n)
	}
	r.info.AddAnnotations(notes)
}

func (r *Result) index(vm string) int {
	i, _ := slices.BinarySearchFunc(r.parts, vm, func(p part, vm string) int { return strings.Compare(p.vm, vm) })
	return i
}
