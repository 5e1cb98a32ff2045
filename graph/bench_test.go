package graph_test

// Benchmarks of the codec, validation, insertion and the commit rule.
//
//	go test ./graph -run '^$' -bench . -benchtime 1x          # smoke run
//	go test ./graph -run '^$' -bench 'Insert|Commit' -benchtime 2s
//
// Every benchmark is split by committee size n (sub-benchmark n=4 … n=100).
// Setup that signs events is done once per n and cached across the calls
// the testing package makes with growing b.N.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"dagger/graph"
	"dagger/graph/graphtest"
)

var benchSizes = []int{4, 10, 50, 100}

const (
	benchTxSize = 256
	// benchRounds is the depth of the DAG Insert and Commit replay: enough
	// for the default GC depth (50) to be reached, so that the last rounds
	// run with garbage collection in play, at every n.
	benchRounds = 60
	// benchDAGTxs transactions of benchDAGTxSize bytes ride on every event
	// of that DAG, so the linearizer has transactions to deliver.
	benchDAGTxs    = 1
	benchDAGTxSize = 64
)

// benchEvent returns a signed event with n parents (a full round 0) and
// txs transactions of benchTxSize bytes, and its committee.
func benchEvent(n, txs int) (*graph.Event, *graph.Committee) {
	b := graphtest.NewBuilder(n, 1)
	round0 := b.Layer(0, nil, benchAll(n), 0, 0)
	batch := make([][]byte, txs)
	for i := range batch {
		batch[i] = graphtest.Tx(fmt.Sprintf("tx/%d", i), benchTxSize)
	}
	return b.Event(0, 1, round0, batch...), b.Committee
}

func benchAll(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

func benchCodecCases(b *testing.B, run func(b *testing.B, e *graph.Event, c *graph.Committee)) {
	for _, n := range benchSizes {
		for _, txs := range []int{0, 100} {
			b.Run(fmt.Sprintf("n=%d/txs=%d", n, txs), func(b *testing.B) {
				e, c := benchEvent(n, txs)
				b.ReportAllocs()
				b.SetBytes(int64(e.Size()))
				b.ResetTimer()
				run(b, e, c)
			})
		}
	}
}

// BenchmarkEncode: Event.Encode of an event with n parents and 0 or 100
// transactions of 256 bytes (one allocation, the output).
func BenchmarkEncode(b *testing.B) {
	benchCodecCases(b, func(b *testing.B, e *graph.Event, _ *graph.Committee) {
		for b.Loop() {
			if len(e.Encode()) != e.Size() {
				b.Fatal("short encoding")
			}
		}
	})
}

// BenchmarkDecode: graph.Decode of the same events with default limits.
// Decode includes hashing the header (the event's identity); transactions
// alias the input, so the batch is not copied.
func BenchmarkDecode(b *testing.B) {
	benchCodecCases(b, func(b *testing.B, e *graph.Event, _ *graph.Committee) {
		enc := e.Encode()
		for b.Loop() {
			if _, err := graph.Decode(enc, graph.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerify: Committee.Verify (structure, references, Merkle root of
// the batch, ed25519 signature) of one freshly decoded event per op.
// Verify caches its verdict on the event, so each op verifies its own
// decoded copy; the copies are decoded in batches with the timer stopped,
// so the figure is Verify alone on an event as it comes off the wire
// (Decode has already hashed the header; see BenchmarkDecode for that part).
func BenchmarkVerify(b *testing.B) {
	benchCodecCases(b, func(b *testing.B, e *graph.Event, c *graph.Committee) {
		enc := e.Encode()
		const batch = 256
		evs := make([]*graph.Event, batch)
		decode := func() {
			for i := range evs {
				d, err := graph.Decode(enc, graph.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				evs[i] = d
			}
		}
		b.StopTimer()
		decode()
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			if i%batch == 0 && i > 0 {
				b.StopTimer()
				decode()
				b.StartTimer()
			}
			if err := c.Verify(evs[i%batch], graph.Ed25519{}, graph.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchDAG is a verified, fully connected DAG: benchRounds rounds in which
// each of n members makes one event referencing all n of the previous round.
type benchDAG struct {
	b      *graphtest.Builder
	dag    [][]*graph.Event
	events int
}

var (
	benchDAGMu    sync.Mutex
	benchDAGCache = map[int]*benchDAG{}
)

// benchGetDAG builds (once per n) and verifies the DAG. Signing and
// verifying cost tens of microseconds per event, so this is setup, done
// outside the timer and cached across the testing package's calls.
func benchGetDAG(b *testing.B, n int) *benchDAG {
	benchDAGMu.Lock()
	defer benchDAGMu.Unlock()
	if d := benchDAGCache[n]; d != nil {
		return d
	}
	bl := graphtest.NewBuilder(n, 1)
	d := &benchDAG{b: bl, dag: bl.Layered(benchRounds, benchDAGTxs, benchDAGTxSize)}
	for _, round := range d.dag {
		for _, e := range round {
			// The graph skips these checks for events its committee has
			// verified, as a node does after verifying on a worker pool.
			if err := bl.Committee.Verify(e, graph.Ed25519{}, graph.Limits{}); err != nil {
				b.Fatal(err)
			}
			d.events++
		}
	}
	benchDAGCache[n] = d
	return d
}

// BenchmarkInsert: the DAG bookkeeping of Graph.Insert (parent lookup,
// tips, votes, certificates) for verified events. Each op inserts the whole
// benchRounds-round DAG, in round order, into a fresh graph (default config,
// GC depth 50). Ready (commit rule, linearizer, GC) runs every 10 rounds with
// the timer stopped, so that garbage collection happens as in a live node
// but is not counted. ns/event is ns/op divided by the n*benchRounds events.
func BenchmarkInsert(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			d := benchGetDAG(b, n)
			last := len(d.dag) - 1
			b.ReportAllocs()
			b.ResetTimer()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				g := d.b.Graph(graph.Config{})
				b.StartTimer()
				for r, round := range d.dag {
					for _, e := range round {
						if st, err := g.Insert(e); err != nil || st != graph.Inserted {
							b.Fatalf("insert %s: %v %v", e.Ref(), st, err)
						}
					}
					if r%10 == 9 || r == last {
						b.StopTimer()
						g.Ready()
						if r != last {
							b.StartTimer()
						}
					}
				}
				if g.CommitCount() != uint64(benchRounds-2) || g.Horizon() == 0 {
					b.Fatalf("DAG replay committed %d leaders, horizon %d", g.CommitCount(), g.Horizon())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d.events), "ns/event")
		})
	}
}

// BenchmarkCommit: the cost of Ready, which runs the commit rule (direct
// and indirect decisions), the linearizer (causal history, ordering,
// transaction de-duplication) and garbage collection. Each op replays the
// DAG into a fresh graph as a node would receive it: one round inserted,
// then Ready, and so on. ns/op is that whole replay; the two parts are
// timed separately with the monotonic clock (two clock reads per round) and
// reported per event of the DAG: commit-ns/event for Ready, insert-ns/event
// for the insertions. With all-to-all parents every round's leader is
// committed directly, one commit per round.
func BenchmarkCommit(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			d := benchGetDAG(b, n)
			var insertDur, readyDur time.Duration
			commits := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g := d.b.Graph(graph.Config{})
				for _, round := range d.dag {
					t0 := time.Now()
					for _, e := range round {
						if _, err := g.Insert(e); err != nil {
							b.Fatal(err)
						}
					}
					t1 := time.Now()
					rd := g.Ready()
					t2 := time.Now()
					insertDur += t1.Sub(t0)
					readyDur += t2.Sub(t1)
					commits += len(rd.Commits)
				}
			}
			if commits != b.N*(benchRounds-2) {
				b.Fatalf("%d commits in %d replays, want %d each", commits, b.N, benchRounds-2)
			}
			events := float64(b.N * d.events)
			b.ReportMetric(float64(readyDur.Nanoseconds())/events, "commit-ns/event")
			b.ReportMetric(float64(insertDur.Nanoseconds())/events, "insert-ns/event")
			b.ReportMetric(float64(readyDur.Nanoseconds())/float64(commits), "ns/commit")
		})
	}
}

// BenchmarkMerkleRoot: the root over 1000 transactions of 256 bytes.
// BatchRoot hashes the transactions into leaves and builds the tree (what
// Verify does per event); MerkleRoot builds the tree over ready leaves.
func BenchmarkMerkleRoot(b *testing.B) {
	const ntx = 1000
	txs := make([][]byte, ntx)
	for i := range txs {
		txs[i] = graphtest.Tx(fmt.Sprintf("tx/%d", i), benchTxSize)
	}
	root, leaves := graph.BatchRoot(txs)
	b.Run("BatchRoot", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(ntx * benchTxSize)
		for b.Loop() {
			if r, _ := graph.BatchRoot(txs); r != root {
				b.Fatal("root changed")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ntx), "ns/tx")
	})
	b.Run("MerkleRoot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if graph.MerkleRoot(leaves) != root {
				b.Fatal("root changed")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ntx), "ns/tx")
	})
}
