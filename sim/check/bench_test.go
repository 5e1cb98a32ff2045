package check

import (
	"fmt"
	"testing"
)

// BenchmarkCommit: the checks of one commit sequence delivered by many
// honest nodes in turn, as a simulator interleaves them; ns/commit is per
// node and commit. The nodes share one lineage (their integrity windows):
// the first to deliver an index checks it against the windows, the others
// replay what it found.
func BenchmarkCommit(b *testing.B) {
	f := load(b, goodRun)
	seq := f.commits[0]
	for _, nodes := range []int{4, 100} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			cfg := f.config()
			cfg.Honest = make([]bool, nodes)
			for i := range cfg.Honest {
				cfg.Honest[i] = true
			}
			b.ReportAllocs()
			for b.Loop() {
				c := New(cfg)
				for k := range seq {
					for i := range nodes {
						c.Commit(i, &seq[k], int64(k)*1e9)
					}
				}
				if rs := c.Finish(); !rs[0].Pass || !rs[1].Pass {
					b.Fatalf("%+v", rs)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nodes*len(seq)), "ns/commit")
		})
	}
}
