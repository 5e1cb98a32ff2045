package live

import (
	"encoding/hex"
	"sort"

	"dagger/graph"
	"dagger/node/live/api"
)

// commitLog remembers the latest MaxCommitLog commits for /v1/commits, in
// a ring of fixed-size records holding no pointers: the hashes are
// rendered in hex when a client asks. Kept as api.Commit values (two hex
// strings each, about 210 bytes with their allocations) in a slice that
// grew by appending, the log was the one part of a loaded node's Go heap
// that grew all hour: at 19 commits/s it added 14 MB an hour, the heap's
// goal twice that, until the old bound of 262,144 commits 3.8 hours in.
type commitLog struct {
	recs  []commitRecord // the ring, allocated at the first commit
	first int            // the ring position of the oldest record
	n     int            // records held
}

type commitRecord struct {
	index, epoch, round uint64
	time                int64
	events, txs         uint32
	leader, state       graph.Hash
}

// add appends a commit, dropping the oldest when the log is full. Commits
// arrive in increasing index order.
func (l *commitLog) add(r commitRecord) {
	if l.recs == nil {
		l.recs = make([]commitRecord, MaxCommitLog)
	}
	if l.n < len(l.recs) {
		l.recs[(l.first+l.n)%len(l.recs)] = r
		l.n++
		return
	}
	l.recs[l.first] = r
	l.first = (l.first + 1) % len(l.recs)
}

// at returns the i-th oldest record.
func (l *commitLog) at(i int) *commitRecord { return &l.recs[(l.first+i)%len(l.recs)] }

// list returns up to limit commits from index from on, oldest first.
func (l *commitLog) list(from uint64, limit int) []api.Commit {
	i := sort.Search(l.n, func(i int) bool { return l.at(i).index >= from })
	end := min(l.n, i+max(limit, 0))
	out := make([]api.Commit, 0, end-i)
	for ; i < end; i++ {
		r := l.at(i)
		out = append(out, api.Commit{Index: r.index, Epoch: r.epoch, Round: r.round, Leader: hex.EncodeToString(r.leader[:]),
			Events: int(r.events), Txs: int(r.txs), StateHash: hex.EncodeToString(r.state[:]), TimeUnixNs: r.time})
	}
	return out
}
