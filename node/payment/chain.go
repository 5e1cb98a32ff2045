package payment

import (
	"fmt"
	"sync"
)

// Status is what the chain says of a transaction.
type Status int

const (
	StatusNotFound  Status = iota // never landed, or not yet
	StatusPending                 // landed, not yet finalized: it may still be rolled back
	StatusFinalized               // finalized and succeeded: the payment happened
	StatusFailed                  // landed but failed: nothing was paid, though the fee was
)

func (s Status) String() string {
	switch s {
	case StatusNotFound:
		return "not-found"
	case StatusPending:
		return "pending"
	case StatusFinalized:
		return "finalized"
	case StatusFailed:
		return "failed"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Chain confirms payments on Solana. Live it is JSON-RPC; in the simulator
// and tests it is a MemChain.
type Chain interface {
	// Status says whether the transaction with this signature is finalized
	// (commitment "finalized"). An error means the chain could not be asked,
	// not that the payment is bad.
	Status(sig Signature) (Status, error)
}

// MemChain is a simulated Solana ledger: the simulator records what its
// customers' wallets sent, and nodes ask it as they would ask RPC. It is safe
// for concurrent use, as nodes share it.
type MemChain struct {
	now func() int64

	mu  sync.Mutex
	txs map[Signature]landed
}

type landed struct {
	finalizedAt int64 // Unix ns
	failed      bool
}

var _ Chain = (*MemChain)(nil)

// NewMemChain returns an empty ledger reading the runtime's clock, in Unix
// nanoseconds, so that finality follows simulated time.
func NewMemChain(now func() int64) *MemChain {
	return &MemChain{now: now, txs: make(map[Signature]landed)}
}

// Record says the transaction with sig lands and is finalized at finalizedAt
// (Unix ns); before that it is pending. A signature lands once on Solana, so
// recording one already recorded changes nothing.
func (c *MemChain) Record(sig Signature, finalizedAt int64) {
	c.land(sig, landed{finalizedAt: finalizedAt})
}

// RecordFailed says the transaction with sig landed but failed on chain, as a
// payment from an account without the funds does.
func (c *MemChain) RecordFailed(sig Signature) {
	c.land(sig, landed{failed: true})
}

func (c *MemChain) land(sig Signature, l landed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.txs[sig]; !ok {
		c.txs[sig] = l
	}
}

// Status implements Chain; it never fails.
func (c *MemChain) Status(sig Signature) (Status, error) {
	c.mu.Lock()
	l, ok := c.txs[sig]
	c.mu.Unlock()
	switch {
	case !ok:
		return StatusNotFound, nil
	case l.failed:
		return StatusFailed, nil
	case c.now() < l.finalizedAt:
		return StatusPending, nil
	}
	return StatusFinalized, nil
}
