// Package node is where a DAGGER node's layers above the graph live. The
// Ledger gossips events, fetches and syncs, runs the round timers, queues
// client transactions and hands the graph to the next committee at an
// epoch boundary. Node puts the processor (admission: encoding, limits,
// signature, replay window, the state machine's final checks, payment
// finality through payment.Chain) and the controller (commits applied to
// the cluster state in package node/cluster, the host reconciled through
// provision.Provisioner, VM states reported back as transactions) on top
// of it. Everything is driven from one goroutine per node and reaches the
// world only through interfaces (transport.Transport, Clock, Store,
// provision.Provisioner, payment.Chain), so the simulator and the live
// runtime run the same code. Storage on disk, the HTTP API and metrics
// belong to the live runtime (see the README's status section).
package node
