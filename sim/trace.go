package sim

import (
	"bufio"
	"fmt"
	"io"

	"dagger/graph"
	"dagger/node"
	"dagger/transport"
)

// tracer writes the run as JSON lines: every delivered message (virtual
// time in microseconds, sender, receiver, kind, size, and for an event its
// slot and hash) and every fault, in the order they happened.
type tracer struct {
	w   *bufio.Writer
	err error
}

func newTracer(w io.Writer) *tracer { return &tracer{w: bufio.NewWriterSize(w, 1<<16)} }

func (t *tracer) deliver(at int64, from, to transport.PeerID, data []byte) {
	if len(data) == 0 {
		return
	}
	kind := node.Kind(data[0])
	extra := ""
	if kind == node.KindEvent {
		if e, err := graph.Decode(data[1:], graph.Limits{}); err == nil {
			extra = fmt.Sprintf(`,"event":"%s"`, e.Ref())
		}
	}
	t.printf(`{"t_us":%d,"type":"deliver","from":"%s","to":"%s","kind":"%s","bytes":%d%s}`+"\n",
		at/1000, from, to, kind, len(data), extra)
}

func (t *tracer) fault(at int64, what string) {
	t.printf(`{"t_us":%d,"type":"fault","what":"%s"}`+"\n", at/1000, what)
}

func (t *tracer) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *tracer) flush() {
	if t.err == nil {
		t.err = t.w.Flush()
	}
}
