package linear

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

type input struct {
	kind Kind
	vm   string
}

type output struct {
	pending, ok, found, lost bool
}

// state is one VM. deleted and lost imply created.
type state struct {
	created, deleted, lost bool
}

func (s state) exists() bool { return s.created && !s.deleted && !s.lost }

// observeLoss is the step of an operation that saw the VM lost: it must
// have been created and not deleted, and it stays lost.
func observeLoss(s state) (bool, state) {
	if !s.created || s.deleted {
		return false, s
	}
	s.lost = true
	return true, s
}

// step is the sequential specification of one VM.
//
// A pending create or delete takes effect whenever it can. That loses no
// explanation: its return comes after every other operation, so a history
// in which it took no effect is equally explained by placing it last, where
// its effect is seen by nobody.
func step(s state, in input, out output) (bool, state) {
	switch in.kind {
	case Create:
		switch {
		case out.pending:
			s.created = true
			return true, s
		case out.ok:
			if s.created {
				return false, s
			}
			s.created = true
			return true, s
		}
		return true, s
	case Delete:
		switch {
		case out.lost && !out.pending:
			return observeLoss(s)
		case out.pending:
			if s.exists() {
				s.deleted = true
			}
			return true, s
		case out.ok:
			if !s.exists() {
				return false, s
			}
			s.deleted = true
			return true, s
		}
		return !s.created || s.deleted, s
	case Get:
		switch {
		case out.pending:
			return true, s
		case out.lost:
			return observeLoss(s)
		case out.found:
			return s.exists(), s
		}
		return !s.created || s.deleted, s
	}
	panic("linear: step on kind " + in.kind.String())
}

// gate enforces Check's timeout from inside the model's step: once the
// deadline passes, every step fails, which ends porcupine's search quickly,
// and the VM it was stepping is recorded as cut short.
type gate struct {
	deadline time.Time // zero: no bound
	// checking is cleared when the search is over, because porcupine's
	// visualization replays linearizations through the same model and must
	// see the true specification.
	checking atomic.Bool
	mu       sync.Mutex
	cut      map[string]bool
}

func newGate(timeout time.Duration) *gate {
	g := &gate{cut: make(map[string]bool)}
	if timeout > 0 {
		g.deadline = time.Now().Add(timeout)
		g.checking.Store(true)
	}
	return g
}

// expired reports whether the deadline has passed, and if so records vm as
// cut short. porcupine steps partitions on goroutines of their own.
func (g *gate) expired(vm string) bool {
	if !g.checking.Load() || time.Now().Before(g.deadline) {
		return false
	}
	g.mu.Lock()
	g.cut[vm] = true
	g.mu.Unlock()
	return true
}

// close ends the search and returns the VMs it cut short.
func (g *gate) close() map[string]bool {
	g.checking.Store(false)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cut
}

func newModel(g *gate) porcupine.Model {
	return porcupine.Model{
		Partition: partition,
		Init:      func() any { return state{} },
		Step: func(s, in, out any) (bool, any) {
			i := in.(input)
			if g.expired(i.vm) {
				return false, s
			}
			return step(s.(state), i, out.(output))
		},
		Equal: func(a, b any) bool { return a.(state) == b.(state) },
		Hash: func(s any) uint64 {
			st := s.(state)
			var h uint64
			if st.created {
				h |= 1
			}
			if st.deleted {
				h |= 2
			}
			if st.lost {
				h |= 4
			}
			return h
		},
		DescribeOperation: func(in, out any) string {
			i := in.(input)
			return i.kind.String() + "(" + i.vm + ") -> " + outcome(i.kind, out.(output))
		},
		DescribeState: func(s any) string {
			st := s.(state)
			switch {
			case st.deleted:
				return "deleted"
			case st.lost:
				return "lost"
			case st.created:
				return "exists"
			}
			return "absent"
		},
		DescribeOperationMetadata: func(m any) string {
			return m.(Op).describe()
		},
	}
}

// outcome names what an operation returned, in the words a reader of a
// failure expects for that kind.
func outcome(k Kind, out output) string {
	switch {
	case out.pending:
		return "pending"
	case out.lost:
		return "lost (expired or failed)"
	case k == Create && out.ok:
		return "created"
	case k == Create:
		return "rejected"
	case k == Delete && out.ok:
		return "deleted"
	case k == Delete:
		return "nothing to delete"
	case out.found:
		return "found"
	}
	return "not found"
}
