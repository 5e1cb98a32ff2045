package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// window is a map whose keys belong to rounds, so that everything below a
// cutoff can be forgotten without scanning the rest: the checkers keep
// only what the graph itself still remembers.
type window[K comparable, V any] struct {
	m      map[K]V
	rounds map[uint64][]K
	low    uint64 // no key is below it
}

func newWindow[K comparable, V any]() window[K, V] {
	return window[K, V]{m: make(map[K]V), rounds: make(map[uint64][]K)}
}

func (w *window[K, V]) get(k K) (V, bool) {
	v, ok := w.m[k]
	return v, ok
}

// put adds k, which must not be present, at round r.
func (w *window[K, V]) put(r uint64, k K, v V) {
	if len(w.rounds) == 0 || r < w.low {
		w.low = r
	}
	w.m[k] = v
	w.rounds[r] = append(w.rounds[r], k)
}

// prune forgets every key below round cutoff.
func (w *window[K, V]) prune(cutoff uint64) {
	if cutoff <= w.low || len(w.rounds) == 0 {
		return
	}
	// Walking the rounds one by one costs the width of the gap; when a
	// cutoff leaps far ahead, visiting the rounds held is cheaper. Only
	// deletions happen in map order, so nothing observable depends on it.
	if cutoff-w.low <= uint64(len(w.rounds)) {
		for r := w.low; r < cutoff; r++ {
			w.dropRound(r)
		}
	} else {
		for r := range w.rounds {
			if r < cutoff {
				w.dropRound(r)
			}
		}
	}
	w.low = cutoff
}

func (w *window[K, V]) dropRound(r uint64) {
	ks, ok := w.rounds[r]
	if !ok {
		return
	}
	for _, k := range ks {
		delete(w.m, k)
	}
	delete(w.rounds, r)
}

// maxShown bounds how many violations a detail line names.
const maxShown = 5

// violations counts a checker's violations and keeps the smallest few by
// key, so that the detail does not depend on how the simulator
// interleaves nodes, and so that a run gone badly wrong formats only the
// messages it shows.
type violations struct {
	count uint64
	seq   uint64
	shown []violation
}

type violation struct {
	a    uint64
	node int
	b    uint64
	seq  uint64
	msg  string
}

func (x violation) compare(y violation) int {
	if c := cmp.Compare(x.a, y.a); c != 0 {
		return c
	}
	if c := cmp.Compare(x.node, y.node); c != 0 {
		return c
	}
	if c := cmp.Compare(x.b, y.b); c != 0 {
		return c
	}
	return cmp.Compare(x.seq, y.seq)
}

// add records a violation ordered by (a, node, b), then by arrival; msg is
// called only if the violation is among those shown.
func (v *violations) add(a uint64, node int, b uint64, msg func() string) {
	v.count++
	v.seq++
	x := violation{a: a, node: node, b: b, seq: v.seq}
	i, _ := slices.BinarySearchFunc(v.shown, x, violation.compare)
	if i >= maxShown {
		return
	}
	x.msg = msg()
	v.shown = slices.Insert(v.shown, i, x)
	if len(v.shown) > maxShown {
		v.shown = v.shown[:maxShown]
	}
}

func (v *violations) detail() string {
	if v.count == 1 {
		return "1 violation: " + v.list()
	}
	return fmt.Sprintf("%d violations: %s", v.count, v.list())
}

// list joins the violations shown, on one line.
func (v *violations) list() string {
	var b strings.Builder
	for i, x := range v.shown {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.ReplaceAll(x.msg, "\n", " "))
	}
	if more := v.count - uint64(len(v.shown)); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

func (v *violations) result(name, pass string) Result {
	if v.count == 0 {
		return Result{Name: name, Pass: true, Detail: pass}
	}
	return Result{Name: name, Detail: v.detail()}
}
