package sim

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"dagger/node"
	"dagger/sim/scenario"
	"dagger/transport"
)

// TestZZDebug prints every node's state every DBG_EVERY of a scenario.
func TestZZDebug(t *testing.T) {
	path := os.Getenv("DBG_FILE")
	if path == "" {
		t.Skip()
	}
	var ov []scenario.Override
	if s := os.Getenv("DBG_SEED"); s != "" {
		ov = append(ov, scenario.Override{Key: "seed", Value: s})
	}
	sc, err := scenario.Load(path, ov...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	every, _ := time.ParseDuration(os.Getenv("DBG_EVERY"))
	if every == 0 {
		every = time.Second
	}
	from, _ := time.ParseDuration(os.Getenv("DBG_FROM"))
	from2 := from
	var tick func()
	tick = func() {
		if s.now >= int64(from) {
			fmt.Printf("t=%v\n", time.Duration(s.now))
			for _, ep := range s.eps {
				if ep.nd == nil {
					continue
				}
				l := ep.ledger
				g := l.Graph()
				st := l.Stats()
				fmt.Printf("  %-10s up=%v ep=%d member=%v round=%d next=%d slot=%d horizon=%d commits=%d wait=%v q=%d pend=%d syncing=%v own=%d syncs=%d fetches=%d retries=%d req=%d fwd=%d\n",
					ep.name, ep.up, l.Epoch(), l.Member(), g.Round(), g.NextRound(), g.NextSlot(), g.Horizon(), ep.nd.State().Commits(),
					g.Waiting(), l.QueueLen(), ep.nd.PendingLen(), l.Syncing(), l.OwnLen(), st.SyncsSent, st.FetchesSent, st.FetchRetries, st.TxsRequeued, st.TxsForwarded)
				if m := g.Missing(); len(m) > 0 && os.Getenv("DBG_MISSING") != "" {
					fmt.Printf("      missing %v buffered=%d\n", m, g.PendingLen())
					for _, o := range s.eps {
						if o.ledger != nil {
							_, has := o.ledger.Graph().Get(m[0].Hash)
							fmt.Printf("        %s has=%v\n", o.name, has)
						}
					}
				}
				if os.Getenv("DBG_ROUNDS") != "" {
					for r := g.Round() - 2; r <= g.Round(); r++ {
						fmt.Printf("      r%d:", r)
						for _, e := range g.EventsAt(r) {
							fmt.Printf(" c%d", e.Creator)
						}
						fmt.Println()
					}
				}
			}
		}
		s.agenda.push(item{at: s.now + int64(every), kind: itemCall, call: tick})
	}
	s.agenda.push(item{at: 0, kind: itemCall, call: tick})
	if name := os.Getenv("DBG_SYNC"); name != "" {
		node.DebugSync = func(l *node.Ledger, from transport.PeerID, m node.Message) {
			for _, ep := range s.eps {
				if m.Kind == node.KindSync && string(from) == name && s.now > int64(from2) {
					fmt.Printf("%v %s asks %s for a sync from %v\n", time.Duration(s.now), from, ep2name(s, l), m.From)
				}
				if ep.ledger == l && string(ep.name) == name && s.now > int64(from2) && m.Kind == node.KindBatch {
					syncing, peer, next, may := l.SyncState()
					fmt.Printf("%v %s batch from %s: %d events more=%v next=%v | syncing=%v peer=%s next=%v may=%v\n", time.Duration(s.now), name, from, len(m.Events), m.More, m.Next, syncing, peer, next, may)
				}
			}
		}
	}
	node.DebugLearn = func(l *node.Ledger, what string, epoch, weight, round uint64, has bool) {
		fmt.Printf("%v %s learn %s epoch=%d weight=%d round=%d has=%v graphEpoch=%d\n", time.Duration(s.now), ep2name(s, l), what, epoch, weight, round, has, l.Epoch())
	}
	r := s.Run()
	for _, c := range r.Checks {
		if !c.Pass {
			d := c.Detail
			if len(d) > 600 {
				d = d[:600]
			}
			fmt.Println("FAIL", c.Name, d)
		}
	}
	_ = strconv.Itoa
}

func ep2name(s *Sim, l *node.Ledger) string {
	for _, ep := range s.eps {
		if ep.ledger == l {
			return string(ep.name)
		}
	}
	return "?"
}
