package api

import (
	"context"
	"errors"

	"dagger/graph"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/tx"
)

// Backend is what the API serves from. The live runtime implements it by
// running each call on the node's goroutine and waiting for the answer, so
// every method may block until ctx is done; a call that cannot be answered
// in time returns ctx's error, and a node that has stopped returns
// ErrUnavailable.
type Backend interface {
	// Submit admits a signed, encoded cluster transaction (package node/tx).
	// Its errors wrap node.ErrRejected (the transaction is bad: 4xx) or
	// node.ErrBusy (try again later: 503).
	Submit(ctx context.Context, data []byte) (tx.ID, error)
	// SubmitMany admits several transactions, in order: ids[i] and errs[i]
	// are what Submit would return for txs[i]. The live runtime checks
	// them on several goroutines and admits them in one turn of the node's
	// loop. err, if not nil, is why none was admitted (ctx's error,
	// ErrUnavailable), and ids and errs are then nil.
	SubmitMany(ctx context.Context, txs [][]byte) (ids []tx.ID, errs []error, err error)
	// TxStatus is what this node knows of a transaction.
	TxStatus(ctx context.Context, id tx.ID) (node.TxStatus, error)
	// VM returns a VM by id as of this node's latest commit.
	VM(ctx context.Context, id tx.ID) (cluster.VM, bool, error)
	// VMsByOwner returns an owner's VMs, sorted by id.
	VMsByOwner(ctx context.Context, owner tx.Key) ([]cluster.VM, error)
	// Operators returns every operator the cluster knows.
	Operators(ctx context.Context) ([]cluster.Operator, error)
	// Params returns the cluster's rules: treasury, prices, timeouts.
	Params(ctx context.Context) (cluster.Params, error)
	// Event returns a stored event's encoding (package graph) by hash.
	Event(ctx context.Context, h graph.Hash) ([]byte, bool, error)
	// Status describes the node.
	Status(ctx context.Context) (Status, error)
	// Commits returns up to limit of the commits this node applied, from
	// index from on, oldest first. A node remembers a bounded number of
	// recent commits; after a restart, those from the snapshot it started
	// from on (Status.FirstCommit), as it replays them from its store.
	Commits(ctx context.Context, from uint64, limit int) ([]Commit, error)
	// SubmitOpaque queues application transactions, which the ledger
	// orders and delivers and the cluster's state machine ignores (what a
	// benchmark measures consensus with), in order, until one is refused.
	// It returns how many it queued; when that is not all, its error says
	// why the next was refused: wrapping node.ErrBusy when the queue is
	// full, node.ErrRejected when that transaction is bad.
	SubmitOpaque(ctx context.Context, txs [][]byte) (int, error)
	// Snapshot returns the newest state snapshot this node stored (at the
	// start of an epoch), and false if it stored none yet. A node that
	// joins a running cluster, or one that fell behind further than its
	// peers keep events, starts from one (dagger node bootstrap). Its Data
	// may be shared with other calls and must not be modified: every
	// download is served from one copy.
	Snapshot(ctx context.Context) (node.Snapshot, bool, error)
	// WatchCommits subscribes to the commits this node applies from now
	// on, each with its transactions' hashes, until ctx is done. A
	// watcher that falls behind by more than MaxWatchBytes of hashes is
	// dropped: its channel closes and Err returns ErrWatchBehind.
	WatchCommits(ctx context.Context) (Watch, error)
}

// Commit summarises one commit: what GET /v1/commits lists. Two honest
// nodes agree on every field of every index they both applied.
type Commit struct {
	Index uint64 `json:"index"`
	// Epoch, Round and Leader name the commit's leader event (hex hash).
	Epoch  uint64 `json:"epoch"`
	Round  uint64 `json:"round"`
	Leader string `json:"leader"`
	Events int    `json:"events"`
	Txs    int    `json:"txs"`
	// StateHash is the cluster state's hash after the commit (hex).
	StateHash  string `json:"state_hash"`
	TimeUnixNs int64  `json:"consensus_time_unix_ns"`
}

// ErrUnavailable: the node stopped (shutting down, or stopped by a fault).
var ErrUnavailable = errors.New("node unavailable")

// Status describes a node: what GET /v1/status returns.
type Status struct {
	NodeID             string `json:"node_id"` // libp2p peer id
	Key                string `json:"key"`     // operator key, hex
	Epoch              uint64 `json:"epoch"`
	Round              uint64 `json:"round"`
	LastCommittedRound uint64 `json:"last_committed_round"`
	CommitIndex        uint64 `json:"commit_index"`
	// FirstCommit is the first commit this process applied: the node
	// started from its snapshot of the state there, so the commits below
	// it are not in /v1/commits and their transactions have no recorded
	// place. SnapshotCommit is the commit of the newest stored snapshot.
	FirstCommit    uint64 `json:"first_commit"`
	SnapshotCommit uint64 `json:"snapshot_commit"`
	// CommittedTxs counts the transactions of the commits this process
	// applied.
	CommittedTxs  uint64 `json:"committed_txs"`
	PendingTxs    int    `json:"pending_txs"`
	Peers         int    `json:"peers"`
	Member        bool   `json:"member"`
	StateHash     string `json:"state_hash"` // hex
	ConsensusTime int64  `json:"consensus_time_unix_ns"`
	// Fault is why the node stopped, if it did; empty while healthy.
	Fault   string `json:"fault,omitempty"`
	Version string `json:"version"`
}
