package sim

// The engine's agenda: the pending happenings, popped in order of virtual
// time, then of the order they were scheduled (a binary min-heap), so two
// runs with one seed pop them in one order.

type itemKind uint8

const (
	itemDeliver itemKind = iota // a message arrives at an endpoint
	itemProcess                 // a slow node gets to a message it received earlier
	itemTimer                   // a node's timer fires
	itemFault                   // a fault of the timeline happens
	itemSubmit                  // the workload submits a transaction
	itemTwin                    // a twin starts or stops
	itemCall                    // the cluster's workload or a client's timeout
	itemLink                    // a quantum leaves an endpoint's uplink
)

type packet struct {
	data   []byte
	digest uint64
}

type item struct {
	at    int64
	kind  itemKind
	to    int32
	from  int32
	index int32 // fault or byzantine entry; for itemProcess the endpoint's incarnation
	// direct marks a message a Byzantine hook already saw and delayed.
	direct bool
	pkt    *packet
	timer  *simTimer
	call   func()
}

// agenda holds the pending items in a slab and orders them with a heap of
// small keys: the heap moves 24 bytes per step instead of an item.
type agenda struct {
	keys  []agendaKey
	items []item
	free  []int32 // slab slots not in use
	seq   uint64
}

// agendaKey orders one item of the slab: by time, then by the order the
// items were scheduled in.
type agendaKey struct {
	at   int64
	seq  uint64
	slot int32
}

func (a *agenda) push(it item) {
	seq := a.seq
	a.seq++
	var slot int32
	if n := len(a.free); n > 0 {
		slot = a.free[n-1]
		a.free = a.free[:n-1]
		a.items[slot] = it
	} else {
		slot = int32(len(a.items))
		a.items = append(a.items, it)
	}
	a.keys = append(a.keys, agendaKey{at: it.at, seq: seq, slot: slot})
	i := len(a.keys) - 1
	k := a.keys[i]
	for i > 0 {
		p := (i - 1) / 2
		if !k.less(&a.keys[p]) {
			break
		}
		a.keys[i] = a.keys[p]
		i = p
	}
	a.keys[i] = k
}

func (k *agendaKey) less(o *agendaKey) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.seq < o.seq
}

func (a *agenda) len() int { return len(a.keys) }

// peekAt returns the time of the next item.
func (a *agenda) peekAt() int64 { return a.keys[0].at }

func (a *agenda) pop() item {
	slot := a.keys[0].slot
	top := a.items[slot]
	a.items[slot] = item{}
	a.free = append(a.free, slot)
	last := len(a.keys) - 1
	k := a.keys[last]
	a.keys = a.keys[:last]
	if last == 0 {
		return top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= last {
			break
		}
		if r := c + 1; r < last && a.keys[r].less(&a.keys[c]) {
			c = r
		}
		if !a.keys[c].less(&k) {
			break
		}
		a.keys[i] = a.keys[c]
		i = c
	}
	a.keys[i] = k
	return top
}
