package sim

// The engine's agenda: a binary min-heap of pending happenings ordered by
// virtual time, then by the order they were scheduled, so two runs with one
// seed pop them in one order.

type itemKind uint8

const (
	itemDeliver itemKind = iota // a message arrives at an endpoint
	itemProcess                 // a slow node gets to a message it received earlier
	itemTimer                   // a node's timer fires
	itemFault                   // a fault of the timeline happens
	itemSubmit                  // the workload submits a transaction
	itemTwin                    // a twin starts or stops
	itemCall                    // the cluster's workload or a client's timeout
)

type packet struct {
	data   []byte
	digest uint64
}

type item struct {
	at    int64
	seq   uint64
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

type agenda struct {
	items []item
	seq   uint64
}

func (a *agenda) push(it item) {
	it.seq = a.seq
	a.seq++
	a.items = append(a.items, it)
	i := len(a.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a.items[i], a.items[p] = a.items[p], a.items[i]
		i = p
	}
}

func (a *agenda) less(i, j int) bool {
	x, y := &a.items[i], &a.items[j]
	if x.at != y.at {
		return x.at < y.at
	}
	return x.seq < y.seq
}

func (a *agenda) len() int { return len(a.items) }

func (a *agenda) peek() *item { return &a.items[0] }

func (a *agenda) pop() item {
	top := a.items[0]
	last := len(a.items) - 1
	a.items[0] = a.items[last]
	a.items[last] = item{}
	a.items = a.items[:last]
	i := 0
	for {
		l, r := 2*i+1, 2*i+2
		m := i
		if l < last && a.less(l, m) {
			m = l
		}
		if r < last && a.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		a.items[i], a.items[m] = a.items[m], a.items[i]
		i = m
	}
	return top
}
