// Package node is a DAGGER node above the graph, written once for both
// runtimes. What is in this directory's packages (node, node/cluster,
// node/tx, node/payment) runs the same in the simulator and in the live
// node: it is driven from one goroutine per node and reaches the world
// only through interfaces (transport.Transport, Clock, Store,
// provision.Provisioner, payment.Chain). Everything that only the live
// node runs lives under node/live: its runtime (goroutines, channels, real
// time), the on-disk store (node/live/store), the HTTP API (node/live/api),
// Prometheus metrics (node/live/metrics) and key files
// (node/live/keyfile). The simulator (package sim) implements the same
// interfaces on virtual time; nothing under node/live is part of a
// simulated run.
//
// The node has three layers:
//
//   - The Ledger (ledger.go) gossips events, fetches and syncs, runs the
//     round timers, queues client transactions, persists through Store
//     (store.go) and hands the graph to the next committee at an epoch
//     boundary.
//   - The processor (processor.go) admits transactions: encoding, limits,
//     signature, replay window, the state machine's final checks and
//     payment finality through payment.Chain; it tracks each admitted
//     transaction until it commits, is rejected or expires. Each
//     transaction's encoding and signature are checked once per node
//     (checks.go): at admission, or, for those in peers' events, by a
//     TxChecker as the events are inserted (the live runtime's runs on
//     a pool of goroutines) or else when the commit is applied.
//   - The controller (controller.go) applies commits to the cluster state
//     (package node/cluster), stores a snapshot at each epoch start,
//     reports evidence, and reconciles the host with the VMs placed on
//     this operator through provision.Provisioner, reporting their states
//     back as transactions.
//
// Node (node.go) puts the three together.
package node
