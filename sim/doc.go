// Package sim is the deterministic simulator: many DAGGER nodes in one
// process on virtual time, driven by a scenario (package sim/scenario) and
// a seed, and judged by the checkers of package sim/check.
//
// Every node runs the real node (package node: ledger, processor,
// controller and cluster state machine) over the real graph, with a
// simulated hypervisor (package provision) as its host and a simulated
// Solana ledger (payment.MemChain) confirming its customers' payments;
// simulated customers create, delete and read VMs, and their history is
// checked for linearizability (package sim/linear). What the live node runs
// off its loop runs here too, on virtual time: the node reaches its host
// through provision.Async and the ledger through payment.AsyncChain, whose
// work the simulator's executor runs on the agenda where the live node
// runs it on goroutines; it paces its events by
// consensus.min_round_interval; and it stores everything in memory (one
// copy of each event's encoding for the whole run, which every node's
// store indexes) wrapped with the storage faults a scenario injects (failed writes,
// damaged or torn records, unsynced writes lost in a machine crash), which
// stop the node, or make it refuse to start, as they stop a live one; a
// backup copies that store as it is on disk, and a restart may put it back
// in the store's place, as an operator restoring an older copy does. The
// simulator provides only what the seam between simulator and live node
// leaves to a runtime: a transport (the modelled network: per-link latency
// distributions, loss, duplication, reordering, per-node uplink bandwidth
// with a queue per peer served in turn, as the live transport keeps them,
// partitions, decided per endpoint so that a Byzantine
// node's twin can sit on the other side of a split from the node), a clock (virtual time plus a node's skew, and
// timers on the agenda) and randomness (one source per component, derived
// from the seed and the component's name, so adding a node or a fault does
// not reshuffle what the others draw). Byzantine behaviours are hooks at a
// node's transport edge; the node itself runs the honest code.
//
// The nodes run on one goroutine: the agenda pops happenings in (virtual
// time, scheduling order), so a scenario and a seed give a bit-identical
// run. The checkers and the workload's latency book watch from a second
// goroutine (observe.go), fed what the run produces in the order it is
// produced; nothing on the first reads what they compute, so they take
// work off it without changing a run. A run's fingerprint hashes every honest node's commit
// sequence and the delivered-message trace.
package sim
