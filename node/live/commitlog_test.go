package live

import (
	"encoding/hex"
	"testing"

	"dagger/graph"
)

func record(i uint64) commitRecord {
	return commitRecord{index: i, epoch: i / 100, round: 2 * i, time: int64(i) * 1000, events: uint32(i % 7), txs: uint32(i % 1000),
		leader: graph.Hash{byte(i), byte(i >> 8)}, state: graph.Hash{31: byte(i)}}
}

// TestCommitLogKeepsTheLatest: the log lists the latest MaxCommitLog
// commits by index, each field as it was added, also across the ring's
// wrap, and nothing before its oldest or past its newest.
func TestCommitLogKeepsTheLatest(t *testing.T) {
	var l commitLog
	if got := l.list(0, 10); len(got) != 0 {
		t.Fatalf("empty log lists %d commits", len(got))
	}
	const added = MaxCommitLog + MaxCommitLog/3
	for i := uint64(1); i <= added; i++ {
		l.add(record(i))
	}
	oldest := uint64(added - MaxCommitLog + 1)
	got := l.list(0, 5)
	if len(got) != 5 || got[0].Index != oldest {
		t.Fatalf("list from 0: %d commits from %d, want 5 from the oldest kept, %d", len(got), got[0].Index, oldest)
	}
	// Across the wrap: the ring's last slots and its first.
	from := uint64(MaxCommitLog - 2)
	got = l.list(from, 1000)
	if len(got) != 1000 {
		t.Fatalf("list from %d: %d commits, want 1000", from, len(got))
	}
	for k, c := range got {
		i := from + uint64(k)
		r := record(i)
		if c.Index != i || c.Epoch != r.epoch || c.Round != r.round || c.TimeUnixNs != r.time || c.Events != int(r.events) ||
			c.Txs != int(r.txs) || c.Leader != hex.EncodeToString(r.leader[:]) || c.StateHash != hex.EncodeToString(r.state[:]) {
			t.Fatalf("commit %d listed as %+v", i, c)
		}
	}
	if got := l.list(added, 10); len(got) != 1 || got[0].Index != added {
		t.Fatalf("list from the newest: %+v", got)
	}
	if got := l.list(added+1, 10); len(got) != 0 {
		t.Fatalf("list past the newest: %d commits", len(got))
	}
	if got := l.list(oldest, 0); len(got) != 0 {
		t.Fatalf("limit 0 lists %d commits", len(got))
	}
}

// TestCommitLogAddAllocatesNothing: once the ring exists, a commit costs
// the log no allocation, so its memory is fixed however long the node runs.
func TestCommitLogAddAllocatesNothing(t *testing.T) {
	var l commitLog
	l.add(record(0))
	i := uint64(1)
	if n := testing.AllocsPerRun(3*MaxCommitLog, func() { l.add(record(i)); i++ }); n != 0 {
		t.Fatalf("add allocates %v times per commit", n)
	}
	if len(l.recs) != MaxCommitLog || l.n != MaxCommitLog {
		t.Fatalf("ring of %d holding %d, want %d full", len(l.recs), l.n, MaxCommitLog)
	}
}
