// Signature checks off the node's loop.

package live

import (
	"runtime"
	"sync"
	"sync/atomic"

	"dagger/graph"
	"dagger/node"
	"dagger/node/tx"
)

// maxCheckJobs bounds the batches of transactions waiting for a worker;
// beyond it the node checks them itself when it applies them.
const maxCheckJobs = 1 << 10

// checkPool is the live node's node.TxChecker: workers run the checks of
// the cluster transactions of the events the node inserts. The loop only
// hands them over and never waits for a worker: applying a transaction
// takes the answer if a worker got there first, and runs the check itself
// otherwise (a worker then skips it).
type checkPool struct {
	jobs    chan []*node.TxCheck
	running atomic.Bool
	quit    chan struct{}
	wg      sync.WaitGroup
	// dropped counts checks handed over when the queue was full.
	dropped atomic.Uint64
}

func newCheckPool() *checkPool {
	return &checkPool{jobs: make(chan []*node.TxCheck, maxCheckJobs), quit: make(chan struct{})}
}

// start runs one worker per CPU. Until then, while the node replays its
// store before its loop runs, Check drops everything: the replay applies
// what it inserts at once.
func (p *checkPool) start() {
	for range runtime.GOMAXPROCS(0) {
		p.wg.Add(1)
		go p.work()
	}
	p.running.Store(true)
}

// stop ends the workers.
func (p *checkPool) stop() {
	p.running.Store(false)
	close(p.quit)
	p.wg.Wait()
}

// Check implements node.TxChecker.
func (p *checkPool) Check(checks []*node.TxCheck) {
	if !p.running.Load() {
		return
	}
	select {
	case p.jobs <- checks:
	default:
		p.dropped.Add(uint64(len(checks)))
	}
}

func (p *checkPool) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.quit:
			return
		case checks := <-p.jobs:
			for _, c := range checks {
				c.Run()
			}
		}
	}
}

// minCheckShare is the fewest transactions of a client's batch worth
// handing to another goroutine.
const minCheckShare = 64

// checkAll runs tx.Check on each of txs, on up to one goroutine per CPU
// (the caller's among them), and returns the answers with the hashes
// (graph.TxHash) of the transactions.
func checkAll(txs [][]byte) ([]graph.Hash, []tx.Checked) {
	hashes, checked := make([]graph.Hash, len(txs)), make([]tx.Checked, len(txs))
	check := func(from, to int) {
		for i := from; i < to; i++ {
			hashes[i], checked[i] = graph.TxHash(txs[i]), tx.Check(txs[i])
		}
	}
	parts := min(runtime.GOMAXPROCS(0), len(txs)/minCheckShare)
	if parts <= 1 {
		check(0, len(txs))
		return hashes, checked
	}
	var wg sync.WaitGroup
	for k := 1; k < parts; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check(k*len(txs)/parts, (k+1)*len(txs)/parts)
		}()
	}
	check(0, len(txs)/parts)
	wg.Wait()
	return hashes, checked
}
