package store

import (
	"fmt"
	"testing"

	"dagger/graph"
	"dagger/graph/graphtest"
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
