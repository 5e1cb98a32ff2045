package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"dagger/sim/linear"
)

// Report is the outcome of one run: what the checkers found and what the
// run measured. Its JSON form is the `--json` report of `dagger sim run`.
type Report struct {
	Scenario    string  `json:"scenario"`
	Seed        uint64  `json:"seed"`
	Verdict     string  `json:"verdict"` // pass | fail
	Checks      []Check `json:"checks"`
	Nodes       int     `json:"nodes"`
	Byzantine   int     `json:"byzantine"`
	SimSeconds  float64 `json:"sim_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	Events      uint64  `json:"events"`
	Messages    uint64  `json:"messages"`
	Bytes       uint64  `json:"bytes"`
	Dropped     uint64  `json:"dropped"`
	// Invalid counts messages and events honest nodes rejected.
	Invalid      uint64 `json:"invalid_messages"`
	Commits      uint64 `json:"commits"`
	SubmittedTxs uint64 `json:"submitted_txs"`
	// CommittedTxs counts client transactions committed at the node they
	// were submitted to; CommitTPS is that over the simulated time.
	CommittedTxs uint64   `json:"committed_txs"`
	CommitTPS    float64  `json:"commit_tps"`
	LatencyMS    Latency  `json:"latency_ms"`
	Fingerprint  string   `json:"fingerprint"`
	Overrides    []string `json:"overrides,omitempty"`
	// Epochs is how many epochs the cluster went through after genesis;
	// Operators the committee size at the end; VMs what the VM workload
	// did.
	Epochs    uint64 `json:"epochs"`
	Operators int    `json:"operators"`
	// SnapshotStarts counts node restarts from a stored snapshot of the
	// state at an epoch start (replaying only that epoch's events).
	SnapshotStarts uint64 `json:"snapshot_starts"`
	// Store counts what the storage faults did; Async the work of the
	// nodes' asynchronous wrappers.
	Store StoreStats `json:"store"`
	Async AsyncStats `json:"async"`
	// Flagged counts the operators proven to equivocate.
	Flagged int     `json:"flagged_operators"`
	VM      VMStats `json:"vm"`
	// VMStates counts the cluster's VMs by state at the end.
	VMStates map[string]int `json:"vm_states,omitempty"`
	// StateHash is the cluster state's hash at the reference node's last
	// commit.
	StateHash string `json:"state_hash"`
	// Coverage counts what the run reached: faults and behaviours that
	// took effect and code paths of the node (see Coverage).
	Coverage map[string]uint64 `json:"coverage"`

	history *linear.Result
	// txLat and leaderLat are the samples LatencyMS and LeaderLatencies
	// summarise; see TxLatencies.
	txLat, txAt, leaderLat []int64
}

// TxCommitTimes returns, for each of TxLatencies, when it committed:
// simulated time since the run's start.
func (r *Report) TxCommitTimes() []time.Duration { return durations(r.txAt) }

// TxLatencies returns every committed client transaction's latency, from
// its scheduled submission to its commit at the node it was submitted to,
// in the order they committed. They are not part of the JSON report.
func (r *Report) TxLatencies() []time.Duration { return durations(r.txLat) }

// LeaderLatencies returns, for every commit each honest node applied, the
// time from its leader's creation to the commit at that node. With no
// clock skew that is the leader's commit latency the Mysticeti-C family
// counts in message delays (about 3δ at a constant latency δ).
func (r *Report) LeaderLatencies() []time.Duration { return durations(r.leaderLat) }

func durations(ns []int64) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, v := range ns {
		out[i] = time.Duration(v)
	}
	return out
}

// WriteHistoryHTML writes the visualization of the VM history's
// linearizability check (porcupine's) to path; it fails if the run had no
// VM operations.
func (r *Report) WriteHistoryHTML(path string) error {
	if r.history == nil {
		return errors.New("the run has no VM history")
	}
	return r.history.WriteHTML(path)
}

// LinearizableFailed says whether the linearizability check failed.
func (r *Report) LinearizableFailed() bool {
	for _, c := range r.Checks {
		if c.Name == "linearizable" && !c.Pass {
			return true
		}
	}
	return false
}

// StoreStats counts what the scenario's storage faults did.
type StoreStats struct {
	// Stops counts nodes stopped by a store error, RefusedStarts the
	// restarts a damaged store refused.
	Stops         uint64 `json:"stops"`
	RefusedStarts uint64 `json:"refused_starts"`
	// Damaged counts records corrupted or torn, LostEvents the events
	// machine crashes lost before they were synced.
	Damaged    uint64 `json:"damaged"`
	LostEvents uint64 `json:"lost_events"`
	// RestoredFromBackup counts restarts on a backup of the store.
	RestoredFromBackup uint64 `json:"restored_from_backup"`
}

// Check is one checker's verdict.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// Latency summarises submit-to-commit latencies, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Pass reports whether every check passed.
func (r *Report) Pass() bool { return r.Verdict == "pass" }

func (s *Sim) report(wall time.Duration) *Report {
	sc := s.sc
	r := &Report{
		Scenario: sc.Name, Seed: sc.Seed, Nodes: sc.Nodes, Byzantine: sc.ByzantineCount(),
		SimSeconds:  time.Duration(s.end).Seconds(),
		WallSeconds: math.Round(wall.Seconds()*1000) / 1000,
		Messages:    s.stats.messages, Bytes: s.stats.bytes, Dropped: s.stats.dropped, Invalid: s.stats.invalid,
		Commits: s.checker.Commits(), SubmittedTxs: s.workload.sent,
	}
	for _, ep := range s.eps {
		r.Events += ep.created
		if ep.up {
			r.Events += ep.ledger.Stats().EventsCreated // a node that went down counted its own
		}
	}
	r.CommittedTxs = uint64(len(s.workload.book.lat))
	r.CommitTPS = math.Round(float64(r.CommittedTxs)/r.SimSeconds*10) / 10
	r.LatencyMS = summarize(s.workload.book.lat)
	r.txLat, r.txAt, r.leaderLat = s.workload.book.lat, s.workload.book.at, s.stats.leaderLat
	lin, hist := s.cluster.vm.result()
	r.history = hist
	for _, c := range append(s.checker.Finish(), lin, s.cluster.provisioningResult()) {
		r.Checks = append(r.Checks, Check{Name: c.Name, Pass: c.Pass, Detail: c.Detail})
	}
	r.VM = s.cluster.vm.stats
	r.Epochs = uint64(len(s.cluster.epochs) - 1)
	r.SnapshotStarts = s.stats.snapshotStarts
	r.Store = s.stats.store
	r.Async = s.cluster.asyncStats()
	if ref := s.cluster.reference(); ref != nil {
		st := ref.nd.State()
		r.Operators = st.Committee().Size()
		for _, op := range st.Operators() {
			if op.Equivocated {
				r.Flagged++
			}
		}
		for state, n := range st.CountVMs() {
			if r.VMStates == nil {
				r.VMStates = map[string]int{}
			}
			r.VMStates[state.String()] = n
		}
		h := st.Hash()
		r.StateHash = hex.EncodeToString(h[:])
	}
	r.Coverage = s.coverage()
	r.Checks = append(r.Checks, s.expectations(r)...)
	r.Verdict = "pass"
	for _, c := range r.Checks {
		if !c.Pass {
			r.Verdict = "fail"
		}
	}
	fp := sha256.New()
	for i := range sc.Nodes {
		if sc.Honest(i) {
			h := s.checker.Fingerprint(i)
			fp.Write(h[:])
		}
	}
	fp.Write(s.fp[:])
	r.Fingerprint = hex.EncodeToString(fp.Sum(nil))
	return r
}

// expectations are the scenario's performance expectations as checks.
// Latency bounds judge the transactions submitted from the liveness point
// on (after the faults), so a partition's backlog does not decide them.
func (s *Sim) expectations(r *Report) []Check {
	ex := s.sc.Expect
	var out []Check
	steady := r.LatencyMS
	if b := &s.workload.book; len(b.steady) != len(b.lat) {
		// Otherwise the steady latencies, a subsequence of all, are all.
		steady = summarize(b.steady)
	}
	after := ex.Liveness.After.D()
	if ex.MinCommitTPS > 0 {
		out = append(out, Check{Name: "throughput", Pass: r.CommitTPS >= ex.MinCommitTPS,
			Detail: fmt.Sprintf("%.1f committed tx/s, expected at least %g", r.CommitTPS, ex.MinCommitTPS)})
	}
	for _, e := range []struct {
		name  string
		limit time.Duration
		got   float64
	}{{"latency-p50", ex.MaxLatencyP50.D(), steady.P50}, {"latency-p99", ex.MaxLatencyP99.D(), steady.P99}} {
		if e.limit <= 0 {
			continue
		}
		ok := len(s.workload.book.steady) > 0 && e.got <= float64(e.limit)/1e6
		detail := fmt.Sprintf("%.1f ms for transactions submitted from %s on, expected at most %s", e.got, after, e.limit)
		if len(s.workload.book.steady) == 0 {
			detail = fmt.Sprintf("no transaction submitted from %s on committed, so no latency to judge", after)
		}
		out = append(out, Check{Name: e.name, Pass: ok, Detail: detail})
	}
	return out
}

func summarize(lat []int64) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return math.Round(float64(s[max(i, 0)])/1e3) / 1e3
	}
	return Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: q(1)}
}

// Summary writes the short human summary of a run.
func (r *Report) Summary(w io.Writer) {
	fmt.Fprintf(w, "%s  seed %d  %d nodes (%d byzantine)  %.0fs simulated in %.2fs\n",
		r.Scenario, r.Seed, r.Nodes, r.Byzantine, r.SimSeconds, r.WallSeconds)
	fmt.Fprintf(w, "  %d commits, %d of %d transactions committed (%.1f tx/s), latency p50 %.0f ms p99 %.0f ms max %.0f ms\n",
		r.Commits, r.CommittedTxs, r.SubmittedTxs, r.CommitTPS, r.LatencyMS.P50, r.LatencyMS.P99, r.LatencyMS.Max)
	fmt.Fprintf(w, "  %d events, %d messages, %s on the wire, %d dropped, %d rejected by honest nodes\n",
		r.Events, r.Messages, bytesString(r.Bytes), r.Dropped, r.Invalid)
	if r.VM.Ops > 0 || r.Epochs > 0 {
		fmt.Fprintf(w, "  cluster: %d epochs, %d operators, restarts from a snapshot: %d; VM workload: %d ops (%d creates, %d created, %d deletes, %d gets, %d unfinished, %d payment faults)\n",
			r.Epochs, r.Operators, r.SnapshotStarts, r.VM.Ops, r.VM.Creates, r.VM.CreatedOK, r.VM.Deletes, r.VM.Gets, r.VM.Unfinished, r.VM.PaymentFlaw)
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-15s %s\n", mark, c.Name, c.Detail)
	}
	fmt.Fprintf(w, "  verdict %s  fingerprint %s\n", strings.ToUpper(r.Verdict), r.Fingerprint[:16])
}

func bytesString(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
