package linear

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// listMax bounds the VM ids Describe lists, so a run that breaks every VM
// still gives a short explanation.
const listMax = 8

// WriteHTML writes porcupine's visualization of the checked history
// (annotated with the op kinds, VM ids, clients and outcomes) to path.
func (r *Result) WriteHTML(path string) error {
	if err := porcupine.VisualizePath(newModel(newGate(0)), r.info, path); err != nil {
		return fmt.Errorf("write linearizability visualization to %s: %w", path, err)
	}
	return nil
}

// Describe returns a short human explanation of a failure: for the first
// failed VM, its operations in call order with times (ms), clients and
// outcomes, so a reader sees e.g. a get that returned not-found after a
// create returned OK. For a history that did not fail it says what was
// checked, and which VMs the timeout left undecided.
func (r *Result) Describe() string {
	if len(r.Failed) == 0 {
		if len(r.undecided) > 0 {
			return fmt.Sprintf("undecided: the check timed out on %d of %d VMs (%s); no VM was found non-linearizable",
				len(r.undecided), r.VMs, list(r.undecided))
		}
		return fmt.Sprintf("linearizable: %d operations on %d VMs", r.Ops, r.VMs)
	}
	i := r.index(r.Failed[0])
	var b strings.Builder
	b.WriteString(r.parts[i].describe(r.info.PartialLinearizations()[i]))
	if len(r.Failed) > 1 {
		fmt.Fprintf(&b, "\nalso not linearizable: %s", list(r.Failed[1:]))
	}
	if len(r.undecided) > 0 {
		fmt.Fprintf(&b, "\nundecided (timed out): %s", list(r.undecided))
	}
	return b.String()
}

func list(vms []string) string {
	if len(vms) <= listMax {
		return strings.Join(vms, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(vms[:listMax], ", "), len(vms)-listMax)
}

// describe lists a VM's operations in call order. It marks the operations
// that no partial linearization reaches: porcupine could not place them
// after any explainable prefix, so they are where a reader should look
// first (the stale get, the second successful create).
func (pt *part) describe(partials [][]int) string {
	placed := make([]bool, len(pt.ops))
	for _, l := range partials {
		for _, id := range l {
			placed[id] = true
		}
	}
	order := make([]int, len(pt.ops))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return compareCalls(pt.ops[a], pt.ops[b])
	})

	var b strings.Builder
	switch pt.verdict {
	case refuted:
		fmt.Fprintf(&b, "VM %s is not linearizable: no order of its %d operations, each placed between its call and its return, explains every outcome:",
			pt.vm, len(pt.ops))
	case undecided:
		fmt.Fprintf(&b, "VM %s is undecided: the check timed out on its %d operations:", pt.vm, len(pt.ops))
	default:
		fmt.Fprintf(&b, "VM %s is linearizable (%d operations):", pt.vm, len(pt.ops))
	}
	for _, i := range order {
		o := pt.ops[i]
		ret := "pending"
		if !o.Pending {
			ret = ms(o.Return)
		}
		fmt.Fprintf(&b, "\n  client %-3d %-6s [%s, %s] -> %s", o.Client, o.Kind, ms(o.Call), ret,
			outcome(o.Kind, output{pending: o.Pending, ok: o.OK, found: o.Found, lost: o.Lost}))
		if pt.verdict == refuted && !placed[i] {
			b.WriteString("   <- fits no linearization")
		}
	}
	return b.String()
}

// compareCalls orders operations by call, then by return with pending
// ones last, then by client.
func compareCalls(a, b Op) int {
	switch {
	case a.Call != b.Call:
		return cmp.Compare(a.Call, b.Call)
	case a.Pending != b.Pending:
		if a.Pending {
			return 1
		}
		return -1
	case !a.Pending && a.Return != b.Return:
		return cmp.Compare(a.Return, b.Return)
	}
	return cmp.Compare(a.Client, b.Client)
}

// describe is the tooltip of an operation in the visualization, which
// shows virtual times without units.
func (o Op) describe() string {
	if o.Pending {
		return fmt.Sprintf("client %d, VM %s, called at %s, never returned", o.Client, o.VM, ms(o.Call))
	}
	return fmt.Sprintf("client %d, VM %s, called at %s, returned at %s", o.Client, o.VM, ms(o.Call), ms(o.Return))
}

// ms renders virtual nanoseconds as milliseconds.
func ms(ns int64) string {
	return fmt.Sprintf("%.3fms", float64(ns)/1e6)
}
