// Signature checks off the node's loop.

package live

import (
	"context"
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
// otherwise (a worker then skips it). It also bounds the checks of what
// clients submit (checkSubmitted), so that all the checks of a node leave
// it one CPU for its loop.
type checkPool struct {
	jobs    chan []*node.TxCheck
	running atomic.Bool
	quit    chan struct{}
	wg      sync.WaitGroup
	workers int
	// slots bounds the client batches checked at once.
	slots chan struct{}
	// dropped counts checks handed over when the queue was full.
	dropped atomic.Uint64
}

// newCheckPool makes a pool of workers goroutines (Options.CheckWorkers:
// 0 means one per CPU but one, which the loop keeps; -1 none).
func newCheckPool(workers int) *checkPool {
	switch {
	case workers == 0:
		workers = max(1, runtime.GOMAXPROCS(0)-1)
	case workers < 0:
		workers = 0
	}
	return &checkPool{workers: workers, jobs: make(chan []*node.TxCheck, maxCheckJobs), quit: make(chan struct{}),
		slots: make(chan struct{}, max(1, workers))}
}

// start runs the workers. Until then, while the node replays its store
// before its loop runs, Check drops everything: the replay applies what
// it inserts at once.
func (p *checkPool) start() {
	for range p.workers {
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
			node.RunChecks(checks)
		}
	}
}

// checkSubmitted runs tx.Check on what a client submitted, on the
// caller's goroutine once one of the pool's slots is free (or ctx's
// error), and returns the answers with the transactions' hashes
// (graph.TxHash).
func (p *checkPool) checkSubmitted(ctx context.Context, txs [][]byte) ([]graph.Hash, []tx.Checked, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	hashes := make([]graph.Hash, len(txs))
	for i, data := range txs {
		hashes[i] = graph.TxHash(data)
	}
	return hashes, tx.CheckAll(txs), nil
}
