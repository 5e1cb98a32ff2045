package sim

import (
	"errors"
	"fmt"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node"
	"dagger/sim/scenario"
)

type countingVerifier struct{ n int }

func (v *countingVerifier) Verify(key graph.PublicKey, d graph.Hash, sig graph.Signature) bool {
	v.n++
	return graph.Ed25519{}.Verify(key, d, sig)
}

// The receiver of a broadcast collects the event the prefetcher decoded,
// already verified under the committee (its graph checks no signature),
// or, if the prefetcher had not taken the job, does it itself with the
// same result; later receivers get the same event.
func TestPrefetchedEventComesVerified(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	x := b.Layered(2, 1, 8)[1][0]
	for _, running := range []bool{true, false} {
		m := newDecodeMemo(graph.Limits{})
		p := m.startPrefetch(graph.Ed25519{})
		served := make(chan struct{})
		if running {
			go func() {
				defer close(served)
				for j := range p.jobs {
					p.serve(j)
				}
			}()
		} // else nobody takes the job: the receiver does it
		msg := node.EncodeEvent(x.Encode())
		m.prefetch(msg, b.Committee)
		e, err := m.decode(msg[1:], graph.Limits{})
		if err != nil || e.Hash() != x.Hash() {
			t.Fatalf("running %v: decoded %v, %v; want event %v", running, e, err, x.Hash())
		}
		v := &countingVerifier{}
		if err := b.Committee.Verify(e, v, graph.Limits{}); err != nil || v.n != 0 {
			t.Fatalf("running %v: the receiver's graph verified the event again (%d signatures, %v)", running, v.n, err)
		}
		if again, _ := m.decode(msg[1:], graph.Limits{}); again != e {
			t.Fatalf("running %v: a second receiver got another event", running)
		}
		m.stopPrefetch()
		if running {
			<-served
		}
	}
}

// An event that fails the committee's checks comes unmarked, and the
// receiver's graph finds the failure; bytes that do not decode give the
// receiver the decoding error, each time.
func TestPrefetchLeavesFailuresToTheReceiver(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	x := *b.Layered(2, 1, 8)[1][0]
	x.Sig[0] ^= 1
	bad := &graph.Event{Epoch: x.Epoch, Round: x.Round, Creator: x.Creator, Time: x.Time, Parents: x.Parents,
		TxRoot: x.TxRoot, Txs: x.Txs, Sig: x.Sig}
	m := newDecodeMemo(graph.Limits{})
	p := m.startPrefetch(graph.Ed25519{})
	go func() {
		for j := range p.jobs {
			p.serve(j)
		}
	}()
	defer m.stopPrefetch()
	msg := node.EncodeEvent(bad.Encode())
	m.prefetch(msg, b.Committee)
	e, err := m.decode(msg[1:], graph.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v := &countingVerifier{}
	if err := b.Committee.Verify(e, v, graph.Limits{}); !errors.Is(err, graph.ErrBadSignature) || v.n != 1 {
		t.Fatalf("verifying the badly signed event: %v after %d signatures, want %v after 1", err, v.n, graph.ErrBadSignature)
	}
	short := node.EncodeEvent(bad.Encode()[:40])
	m.prefetch(short, b.Committee)
	for range 2 {
		if _, err := m.decode(short[1:], graph.Limits{}); err == nil {
			t.Fatal("a truncated event decoded")
		}
	}
}

// Decoding ahead changes no run: with and without it, scenarios with
// Byzantine senders, crashes and an epoch change give the same report.
func TestPrefetchChangesNoRun(t *testing.T) {
	for _, name := range []string{"byz-equivocate", "byz-invalid-signature", "crash-restart", "operator-churn"} {
		var prints []string
		for _, on := range []bool{true, false} {
			sc, err := scenario.Load("../scenarios/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.prefetch = on
			r := s.Run()
			prints = append(prints, fmt.Sprintf("%s %s, %d events, %d commits, %d invalid", r.Fingerprint, r.Verdict, r.Events, r.Commits, r.Invalid))
		}
		if prints[0] != prints[1] {
			t.Errorf("%s: with decoding ahead %s, without %s", name, prints[0], prints[1])
		}
	}
}

// A job that panics where it runs does not leave its receiver waiting:
// the receiver does it again on the run's goroutine, where the panic
// surfaces as it would have without decoding ahead.
func TestPrefetchPanicSurfacesAtTheReceiver(t *testing.T) {
	b := graphtest.NewBuilder(4, 1)
	x := b.Layered(2, 1, 8)[1][0]
	m := newDecodeMemo(graph.Limits{})
	p := m.startPrefetch(graph.Ed25519{})
	defer m.stopPrefetch()
	msg := node.EncodeEvent(x.Encode())
	m.prefetch(msg, nil) // no committee: verifying panics
	ran := make(chan any)
	go func() {
		defer func() { ran <- recover() }()
		p.serve(<-p.jobs)
	}()
	if r := <-ran; r == nil {
		t.Fatal("the job did not panic where it ran")
	}
	got := func() (r any) {
		defer func() { r = recover() }()
		_, _ = m.decode(msg[1:], graph.Limits{})
		return nil
	}()
	if got == nil {
		t.Fatal("the receiver got a result from a job that panicked")
	}
}
