// Package node is where a DAGGER node's layers above the graph live: the
// ledger (gossip, fetching, round timers, the transaction queue), the
// processor, the controller and cluster state machine, storage, payments,
// the HTTP API and metrics. It is driven from one goroutine per node and
// reaches the world only through interfaces (transport.Transport, Clock,
// Store), so the simulator and the live runtime run the same code. The
// ledger and its wire format are built; the other layers come next (see the
// README's status section).
package node
