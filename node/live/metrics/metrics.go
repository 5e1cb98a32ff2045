// Package metrics exposes a live node's figures to Prometheus. The node's
// goroutine publishes a Snapshot now and then (cheap: a handful of
// counters), events the runtime observes as they happen (commit latency)
// go straight to histograms, and a scrape only reads: it never waits for
// the node.
package metrics

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the node's counters and gauges at one moment. Counters only
// grow over a process's life.
type Snapshot struct {
	Epoch              uint64
	Round              uint64
	LastCommittedRound uint64
	Commits            uint64
	EventsCreated      uint64
	EventsReceived     uint64
	EventsInvalid      uint64
	Fetches            uint64
	Syncs              uint64
	CommittedTxs       uint64
	PendingTxs         int
	QueuedTxs          int
	Equivocations      uint64
	Member             bool
	Faulted            bool
	SnapshotBytes      uint64
	// FlowCuts, FlowLimited and FlowBudget are flow control's (see
	// node/flow.go): cuts of the event budget, events that left queued
	// transactions out for it, and the budget in bytes (0: no limit).
	FlowCuts    uint64
	FlowLimited uint64
	FlowBudget  int
	// EventsFull counts the events that left queued transactions out for
	// node.max_event_tx_bytes.
	EventsFull uint64

	Peers           int
	BytesReceived   uint64
	BytesSent       uint64
	MessagesDropped uint64
	InboxDropped    uint64
	ProvisionOps    map[string]uint64 // by operation: define, start, stop, destroy
	ProvisionFails  map[string]uint64
	PaymentQueries  uint64
	PaymentErrors   uint64
	VMs             map[string]int // by cluster state
	Operators       map[string]int // by status
}

// Metrics is a node's registry.
type Metrics struct {
	reg  *prometheus.Registry
	snap atomic.Pointer[Snapshot]

	commitLatency   prometheus.Histogram
	txCommitLatency prometheus.Histogram
}

// latencyBuckets span a fast loopback commit to a stalled one, in seconds.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// New returns a registry with every metric of the node, plus Go's and the
// process's collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.snap.Store(&Snapshot{})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dagger_commit_latency_seconds",
		Help:    "Time from an event's creation (its creator's clock) to its commit at this node.",
		Buckets: latencyBuckets,
	})
	m.txCommitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dagger_tx_commit_latency_seconds",
		Help:    "Time from a transaction's admission at this node to its commit or rejection.",
		Buckets: latencyBuckets,
	})
	m.reg.MustRegister(m.commitLatency, m.txCommitLatency, (*collector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Publish replaces the snapshot scrapes read. s must not be modified
// afterwards.
func (m *Metrics) Publish(s *Snapshot) { m.snap.Store(s) }

// ObserveCommitLatency records one committed event's latency in seconds.
func (m *Metrics) ObserveCommitLatency(seconds float64) { m.commitLatency.Observe(seconds) }

// ObserveTxLatency records one admitted transaction's time to its outcome.
func (m *Metrics) ObserveTxLatency(seconds float64) { m.txCommitLatency.Observe(seconds) }

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

type desc struct {
	d     *prometheus.Desc
	kind  prometheus.ValueType
	value func(*Snapshot) float64
}

func counter(name, help string, v func(*Snapshot) float64) desc {
	return desc{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, v}
}

func gauge(name, help string, v func(*Snapshot) float64) desc {
	return desc{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var plain = []desc{
	gauge("dagger_epoch", "The epoch the node's graph is in.", func(s *Snapshot) float64 { return float64(s.Epoch) }),
	gauge("dagger_round", "The highest round of the node's graph.", func(s *Snapshot) float64 { return float64(s.Round) }),
	gauge("dagger_last_committed_round", "The round of the last committed leader.", func(s *Snapshot) float64 { return float64(s.LastCommittedRound) }),
	counter("dagger_commits_total", "Commits (ordered sub-DAGs) applied, across epochs.", func(s *Snapshot) float64 { return float64(s.Commits) }),
	counter("dagger_events_created_total", "Events this node signed.", func(s *Snapshot) float64 { return float64(s.EventsCreated) }),
	counter("dagger_events_received_total", "Events received from peers.", func(s *Snapshot) float64 { return float64(s.EventsReceived) }),
	counter("dagger_events_invalid_total", "Messages from peers that were rejected.", func(s *Snapshot) float64 { return float64(s.EventsInvalid) }),
	counter("dagger_fetches_total", "Fetch requests sent for missing parents.", func(s *Snapshot) float64 { return float64(s.Fetches) }),
	counter("dagger_syncs_total", "Sync requests sent after falling behind.", func(s *Snapshot) float64 { return float64(s.Syncs) }),
	counter("dagger_committed_txs_total", "Transactions committed, in every commit this node applied.", func(s *Snapshot) float64 { return float64(s.CommittedTxs) }),
	gauge("dagger_pending_txs", "Transactions this node admitted that have not committed.", func(s *Snapshot) float64 { return float64(s.PendingTxs) }),
	gauge("dagger_queued_txs", "Transactions waiting for this node's next event.", func(s *Snapshot) float64 { return float64(s.QueuedTxs) }),
	counter("dagger_equivocations_total", "Equivocations this node saw proof of.", func(s *Snapshot) float64 { return float64(s.Equivocations) }),
	gauge("dagger_committee_member", "1 if this node signs in the current epoch.", func(s *Snapshot) float64 { return b2f(s.Member) }),
	gauge("dagger_faulted", "1 if the node stopped on a fault.", func(s *Snapshot) float64 { return b2f(s.Faulted) }),
	gauge("dagger_snapshot_bytes", "Size of the last state snapshot this node stored or started from.", func(s *Snapshot) float64 { return float64(s.SnapshotBytes) }),
	counter("dagger_flow_cuts_total", "Cuts of the event budget because messages waited too long to leave for a quorum of peers (flow control).", func(s *Snapshot) float64 { return float64(s.FlowCuts) }),
	counter("dagger_flow_limited_events_total", "Events that left queued transactions out for the flow-control budget.", func(s *Snapshot) float64 { return float64(s.FlowLimited) }),
	counter("dagger_events_full_total", "Events that left queued transactions out for node.max_event_tx_bytes.", func(s *Snapshot) float64 { return float64(s.EventsFull) }),
	gauge("dagger_flow_budget_bytes", "Transaction bytes flow control lets the next event carry; 0 is no limit.", func(s *Snapshot) float64 { return float64(s.FlowBudget) }),
	gauge("dagger_peers", "Connected peers.", func(s *Snapshot) float64 { return float64(s.Peers) }),
	counter("dagger_network_received_bytes_total", "Bytes of messages received from peers.", func(s *Snapshot) float64 { return float64(s.BytesReceived) }),
	counter("dagger_network_sent_bytes_total", "Bytes of messages sent to peers.", func(s *Snapshot) float64 { return float64(s.BytesSent) }),
	counter("dagger_network_dropped_messages_total", "Outgoing messages dropped because a peer's queue was full or it was gone.", func(s *Snapshot) float64 { return float64(s.MessagesDropped) }),
	counter("dagger_inbox_dropped_messages_total", "Incoming messages dropped because the node's inbox was full.", func(s *Snapshot) float64 { return float64(s.InboxDropped) }),
	counter("dagger_payment_queries_total", "Queries to Solana about payments.", func(s *Snapshot) float64 { return float64(s.PaymentQueries) }),
	counter("dagger_payment_query_errors_total", "Queries to Solana that failed.", func(s *Snapshot) float64 { return float64(s.PaymentErrors) }),
}

var (
	provisionOps   = prometheus.NewDesc("dagger_provision_operations_total", "Provisioning operations on this host, by operation.", []string{"operation"}, nil)
	provisionFails = prometheus.NewDesc("dagger_provision_failures_total", "Provisioning operations that failed, by operation.", []string{"operation"}, nil)
	vms            = prometheus.NewDesc("dagger_vms", "VMs in the cluster state, by state.", []string{"state"}, nil)
	operators      = prometheus.NewDesc("dagger_operators", "Operators in the cluster state, by status.", []string{"status"}, nil)
)

// collector reads the latest snapshot.
type collector Metrics

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range plain {
		ch <- d.d
	}
	ch <- provisionOps
	ch <- provisionFails
	ch <- vms
	ch <- operators
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap.Load()
	for _, d := range plain {
		ch <- prometheus.MustNewConstMetric(d.d, d.kind, d.value(s))
	}
	for _, op := range []string{"define", "start", "stop", "destroy"} {
		ch <- prometheus.MustNewConstMetric(provisionOps, prometheus.CounterValue, float64(s.ProvisionOps[op]), op)
		ch <- prometheus.MustNewConstMetric(provisionFails, prometheus.CounterValue, float64(s.ProvisionFails[op]), op)
	}
	for _, st := range []string{"pending", "provisioning", "running", "stopped", "failed", "deleted", "expired"} {
		ch <- prometheus.MustNewConstMetric(vms, prometheus.GaugeValue, float64(s.VMs[st]), st)
	}
	for _, st := range []string{"pending", "active", "removed"} {
		ch <- prometheus.MustNewConstMetric(operators, prometheus.GaugeValue, float64(s.Operators[st]), st)
	}
}
