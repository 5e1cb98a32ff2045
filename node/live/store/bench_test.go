package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"

	"dagger/graph"
	"dagger/graph/graphtest"
	"dagger/node"
)

// BenchmarkPutEvent stores signed events of a 4-member committee, each
// referencing the previous round, with no transactions and with a batch of
// 100 transactions of 256 bytes.
func BenchmarkPutEvent(b *testing.B) {
	for _, txs := range []int{0, 100} {
		b.Run(fmt.Sprintf("txs=%d", txs), func(b *testing.B) {
			const rounds = 16
			var es []*graph.Event
			for _, layer := range graphtest.NewBuilder(4, 1).Layered(rounds, txs, 256) {
				es = append(es, layer...)
			}
			d, err := Open(b.TempDir(), Options{Backend: GoLevelDB, Key: testKey(1)})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.SetBytes(int64(len(es[len(es)-1].Encode())))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := d.PutEvent(es[i%len(es)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSetLastSigned records a new signed event, as the ledger does
// once a round before sending its own event: a synced batch and the
// mark's update.
func BenchmarkSetLastSigned(b *testing.B) {
	for _, backend := range allBackends {
		b.Run(backend, func(b *testing.B) {
			var es []*graph.Event
			for _, layer := range graphtest.NewBuilder(4, 1).Layered(64, 0, 0) {
				es = append(es, layer[0])
			}
			d, err := Open(b.TempDir(), Options{Backend: backend, Key: testKey(1)})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			for _, e := range es {
				if err := d.PutEvent(e); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				e := es[i%len(es)]
				if err := d.SetLastSigned(node.Signed{Epoch: e.Epoch, Ref: e.Ref()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen opens a store of 20,000 events of 100 transactions, which
// reads every record once (verify), and the same without the check.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	d, err := Open(dir, Options{Backend: GoLevelDB, Key: testKey(1)})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, layer := range graphtest.NewBuilder(4, 1).Layered(5000, 100, 256) {
		for _, e := range layer {
			if err := d.PutEvent(e); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprintf("events=%d/verify=%v", n, !skip), func(b *testing.B) {
			for b.Loop() {
				d, err := Open(dir, Options{Backend: GoLevelDB, Key: testKey(1), SkipVerify: skip})
				if err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
		})
	}
}

// BenchmarkPruneAfterEarlierPrunes stores an epoch of 400 events of 64
// KiB of random transactions, flushes the backend's memtable to a table,
// and prunes the epoch three below, as a node keeping three epochs does
// at each epoch's end: prune-ms is one Prune's time. Prune once started
// at the first event key and stepped over the tombstones of every earlier
// Prune the backend had not compacted yet, so its time grew with the
// epochs pruned before: 93 ms a prune on average over 21 prunes, against
// 13 ms since it starts where the last one ended.
//
//	go test ./node/live/store -run '^$' -bench PruneAfterEarlierPrunes -benchtime 24x
func BenchmarkPruneAfterEarlierPrunes(b *testing.B) {
	d, err := Open(b.TempDir(), Options{Backend: Pebble, Key: testKey(1)})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	rng := rand.NewChaCha8([32]byte{1})
	txs := make([][]byte, 256)
	for i := range txs {
		txs[i] = make([]byte, 256)
		rng.Read(txs[i])
	}
	flush := d.kv.(*dbm.PebbleDB).DB().Flush
	var pruning time.Duration
	prunes := 0
	for ep := uint64(0); b.Loop(); ep++ {
		for r := range uint64(100) {
			for c := range graph.MemberID(4) {
				binary.BigEndian.PutUint64(txs[0], ep<<32|r<<8|uint64(c)) // a distinct event each time
				if err := d.PutEvent(&graph.Event{Epoch: ep, Round: r, Creator: c, Txs: txs}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := flush(); err != nil {
			b.Fatal(err)
		}
		if ep >= 3 {
			start := time.Now()
			if err := d.Prune(ep - 2); err != nil {
				b.Fatal(err)
			}
			pruning += time.Since(start)
			prunes++
		}
	}
	if prunes > 0 {
		b.ReportMetric(float64(pruning.Milliseconds())/float64(prunes), "prune-ms")
	}
}
