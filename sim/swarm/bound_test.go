package swarm_test

import (
	"slices"
	"testing"
	"time"

	"dagger/sim/scenario"
	"dagger/sim/swarm"
)

// TestAuditCountsANodeOnABackupLikeOneWithoutItsStore: a node restarted on
// an older backup of its store may have signed more than the backup says,
// and then waits, as a node restored empty does, up to the first epoch
// that begins after its restart: both count as faulty for an epoch length
// and RejoinSlack beyond the recovery grace, while a node restarted on its
// own store is back after the grace. A backup that copied a damaged store
// is refused like the store, and the node stays down.
func TestAuditCountsANodeOnABackupLikeOneWithoutItsStore(t *testing.T) {
	const head = "name: t\nduration: 60s\nnodes: 4\ncluster: {epoch_length: 10s}\nexpect: {liveness: {disabled: true}}\nfaults:\n"
	// Node 1 is down from 10 s and restarts at 12 s: back after the grace
	// at 17 s, or, restored, at 12 + 5 + 10 + 5 = 32 s. Node 2 crashes at
	// 31 s: two of four faulty at once only if node 1 still counts then.
	const node1 = "  - {at: 3s, backup: [1]}\n  - {at: 10s, crash: [1]}\n"
	const node2 = "  - {at: 31s, crash: [2]}\n  - {at: 40s, restart: [2]}\n"
	for _, tc := range []struct {
		name   string
		faults string
		peak   uint64
		at     time.Duration
		nodes  []int
	}{
		{"restart on its store", node1 + "  - {at: 12s, restart: [1]}\n" + node2, 1, 10 * time.Second, []int{1}},
		{"restart without its store", node1 + "  - {at: 12s, restart: [1], lose_state: true}\n" + node2, 2, 31 * time.Second, []int{1, 2}},
		{"restart on its backup", node1 + "  - {at: 12s, restart: [1], restore_backup: true}\n" + node2, 2, 31 * time.Second, []int{1, 2}},
		{"restart on its backup, back before the next crash",
			node1 + "  - {at: 12s, restart: [1], restore_backup: true}\n  - {at: 33s, crash: [2]}\n  - {at: 40s, restart: [2]}\n", 1, 10 * time.Second, []int{1}},
		// The store is corrupted at 4 s (the node counts as down from then).
		{"restart on a backup taken before the damage",
			node1 + "  - {at: 4s, store_fault: {node: 1, kind: corrupt}}\n  - {at: 12s, restart: [1], restore_backup: true}\n  - {at: 50s, crash: [2]}\n", 1, 4 * time.Second, []int{1}},
		{"restart on a backup of the damaged store is refused",
			"  - {at: 4s, store_fault: {node: 1, kind: corrupt}}\n  - {at: 5s, backup: [1]}\n  - {at: 10s, crash: [1]}\n  - {at: 12s, restart: [1], restore_backup: true}\n  - {at: 50s, crash: [2]}\n",
			2, 50 * time.Second, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenario.Parse([]byte(head+tc.faults), "t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			b := swarm.Audit(sc)
			if b.Total != 4 || b.Peak != tc.peak || b.At != tc.at || !slices.Equal(b.Nodes, tc.nodes) {
				t.Fatalf("%s; want faulty weight %d, nodes %v at %v", b, tc.peak, tc.nodes, tc.at)
			}
		})
	}
}
