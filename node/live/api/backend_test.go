package api

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
)

// fakeBackend is an in-memory Backend. Submit decodes and checks the
// signature as the processor does; a transaction stays pending for
// pendingPolls status reads, then meets the fate decide gives it.
type fakeBackend struct {
	mu sync.Mutex
	// err, if set, is what every call returns (ErrUnavailable, ErrBusy...).
	err error
	// block, if set, makes every call wait for it or for ctx.
	block chan struct{}
	// pendingPolls is how many status reads a transaction stays pending.
	pendingPolls int
	// decide is its fate after that: committed if nil.
	decide func(t *tx.Tx) node.TxStatus

	submitted [][]byte
	// opaque holds what SubmitOpaque queued; opaqueRoom, if positive, is
	// how many more it takes before the queue is full.
	opaque     [][]byte
	opaqueRoom int
	txs        map[tx.ID]*tx.Tx
	polls      map[tx.ID]int
	vms        map[tx.ID]cluster.VM
	ops        []cluster.Operator
	params     cluster.Params
	events     map[graph.Hash][]byte
	status     Status
	commits    []Commit
	snapshot   *node.Snapshot
	// watch, if set, is what WatchCommits hands out; watchErr what the
	// watch's Err says once watch is closed.
	watch    chan CommitTxs
	watchErr error
}

func newFake() *fakeBackend {
	return &fakeBackend{txs: map[tx.ID]*tx.Tx{}, polls: map[tx.ID]int{}, vms: map[tx.ID]cluster.VM{},
		events: map[graph.Hash][]byte{}}
}

func (f *fakeBackend) enter(ctx context.Context) error {
	f.mu.Lock()
	err, block := f.err, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeBackend) Submit(ctx context.Context, data []byte) (tx.ID, error) {
	if err := f.enter(ctx); err != nil {
		return tx.ID{}, err
	}
	t, err := tx.Decode(data)
	if err != nil {
		return tx.ID{}, fmt.Errorf("%w: %v", node.ErrRejected, err)
	}
	id := t.ID()
	if err := t.VerifySignature(); err != nil {
		return id, fmt.Errorf("%w: %v", node.ErrRejected, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, data)
	f.txs[id] = t
	return id, nil
}

func (f *fakeBackend) SubmitMany(ctx context.Context, txs [][]byte) ([]tx.ID, []error, error) {
	ids, errs := make([]tx.ID, len(txs)), make([]error, len(txs))
	for i, data := range txs {
		ids[i], errs[i] = f.Submit(ctx, data)
	}
	return ids, errs, nil
}

func (f *fakeBackend) SubmitOpaque(ctx context.Context, txs [][]byte) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, t := range txs {
		if f.opaqueRoom > 0 && len(f.opaque) >= f.opaqueRoom {
			return i, fmt.Errorf("%w: queue full", node.ErrBusy)
		}
		f.opaque = append(f.opaque, t)
	}
	return len(txs), nil
}

func (f *fakeBackend) TxStatus(ctx context.Context, id tx.ID) (node.TxStatus, error) {
	if err := f.enter(ctx); err != nil {
		return node.TxStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.txs[id]
	if !ok {
		return node.TxStatus{}, nil
	}
	f.polls[id]++
	if f.polls[id] <= f.pendingPolls {
		return node.TxStatus{State: node.TxPending}, nil
	}
	if f.decide != nil {
		return f.decide(t), nil
	}
	return node.TxStatus{State: node.TxCommitted, Commit: 7, Event: graph.Hash{9}, Position: 3,
		Outcome: cluster.Outcome{ID: id, Kind: t.Kind, OK: true}}, nil
}

func (f *fakeBackend) VM(ctx context.Context, id tx.ID) (cluster.VM, bool, error) {
	if err := f.enter(ctx); err != nil {
		return cluster.VM{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vms[id]
	return v, ok, nil
}

func (f *fakeBackend) VMsByOwner(ctx context.Context, owner tx.Key) ([]cluster.VM, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cluster.VM
	for _, v := range f.vms {
		if v.Owner == owner {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b cluster.VM) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

func (f *fakeBackend) Operators(ctx context.Context) ([]cluster.Operator, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	return f.ops, nil
}

func (f *fakeBackend) Params(ctx context.Context) (cluster.Params, error) {
	if err := f.enter(ctx); err != nil {
		return cluster.Params{}, err
	}
	return f.params, nil
}

func (f *fakeBackend) Event(ctx context.Context, h graph.Hash) ([]byte, bool, error) {
	if err := f.enter(ctx); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.events[h]
	return b, ok, nil
}

func (f *fakeBackend) Status(ctx context.Context) (Status, error) {
	if err := f.enter(ctx); err != nil {
		return Status{}, err
	}
	return f.status, nil
}

func (f *fakeBackend) Commits(ctx context.Context, from uint64, limit int) ([]Commit, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	var out []Commit
	for _, c := range f.commits {
		if c.Index >= from && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeBackend) Snapshot(ctx context.Context) (node.Snapshot, bool, error) {
	if err := f.enter(ctx); err != nil {
		return node.Snapshot{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapshot == nil {
		return node.Snapshot{}, false, nil
	}
	return *f.snapshot, true, nil
}

func (f *fakeBackend) WatchCommits(ctx context.Context) (Watch, error) {
	if err := f.enter(ctx); err != nil {
		return Watch{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watch == nil {
		return Watch{}, ErrUnavailable
	}
	return Watch{C: f.watch, Err: func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.watchErr
	}}, nil
}

var _ Backend = (*fakeBackend)(nil)

// Keys and transactions for the tests.
var (
	wallet   = ed25519.NewKeyFromSeed(seed(1))
	treasury = payment.Address(ed25519.NewKeyFromSeed(seed(3)).Public().(ed25519.PublicKey))
)

func seed(b byte) []byte {
	s := make([]byte, ed25519.SeedSize)
	s[0] = b
	return s
}

func walletKey() tx.Key { return tx.Key(wallet.Public().(ed25519.PublicKey)) }

// signed returns t signed by key, with a payment for vm-create and
// vm-renew, encoded.
func signed(tb testing.TB, t tx.Tx, key ed25519.PrivateKey) ([]byte, tx.ID) {
	tb.Helper()
	if t.Nonce == 0 {
		t.Nonce = 1
	}
	t.Expiry = time.Now().Add(tx.DefaultValidity).UnixNano()
	if t.Kind == tx.KindVMCreate || t.Kind == tx.KindVMRenew {
		copy(t.Author[:], key.Public().(ed25519.PublicKey))
		pay, _, err := payment.Build(key, treasury, 1000, t.Memo(), [32]byte{})
		if err != nil {
			tb.Fatal(err)
		}
		t.Payment = pay
	}
	t.Sign(key)
	if err := t.Validate(); err != nil {
		tb.Fatal(err)
	}
	return t.Encode(), t.ID()
}

func vmCreate(tb testing.TB, nonce uint64) ([]byte, tx.ID) {
	return signed(tb, tx.Tx{Kind: tx.KindVMCreate, Nonce: nonce, Lease: time.Hour,
		Spec: tx.Spec{VCPU: 2, MemoryMiB: 2048, DiskGiB: 20, Image: "debian-12", Region: "eu-west"}}, wallet)
}

func vmDelete(tb testing.TB, vm tx.ID) ([]byte, tx.ID) {
	return signed(tb, tx.Tx{Kind: tx.KindVMDelete, VM: vm}, wallet)
}

func vmRenew(tb testing.TB, vm tx.ID) ([]byte, tx.ID) {
	return signed(tb, tx.Tx{Kind: tx.KindVMRenew, VM: vm, Lease: time.Hour}, wallet)
}

func TestFakeBackendRejectsForgedSignatures(t *testing.T) {
	data, _ := vmCreate(t, 1)
	data[len(data)-1] ^= 1
	if _, err := newFake().Submit(context.Background(), data); !errors.Is(err, node.ErrRejected) {
		t.Fatalf("Submit of a forged transaction: %v, want ErrRejected", err)
	}
}
