package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"dagger/node/tx"
)

// A load generator drives a running system with an open-loop load: the
// k-th transaction is scheduled at Start + k/Rate whatever happened to
// the ones before it, and its latency runs from that scheduled time to
// the moment a watcher of the system's commits sees it committed. A
// system that falls behind therefore shows its backlog in the latency
// (no coordinated omission), and what it refuses is counted, not retried.

// Target is a running system as the load generator sees it.
type Target interface {
	// Endpoints is how many nodes take transactions; the generator sends
	// each batch to the next in turn.
	Endpoints() int
	// Submit sends a batch to endpoint i and returns, per transaction,
	// whether the system took it; when it did not take them all, reason
	// names why (one of a few words, counted in LoadResult.Refusals). An
	// error means the request failed as a whole: nothing was taken.
	Submit(ctx context.Context, i int, txs [][]byte) (took []bool, reason string, err error)
	// Watch reports the hashes of committed transactions, in commit
	// order, as soon as it sees them, until ctx is done; seen is called
	// from one goroutine. It returns why it stopped watching.
	Watch(ctx context.Context, seen func(hashes [][32]byte)) error
	// Hash is the hash Watch reports of a transaction.
	Hash(tx []byte) [32]byte
}

// LoadConfig is one run of the load generator.
type LoadConfig struct {
	// Rate is the offered load in tx/s; Duration how long it is offered.
	Rate     float64
	Duration time.Duration
	// Warmup is the start of the load window left out of the steady
	// window (default: a fifth of Duration, at most 10 s).
	Warmup time.Duration
	// Drain is how long, after the load window, the generator waits for
	// what it sent to commit (default 10 s).
	Drain time.Duration
	// TxSize is the size of an opaque transaction, in bytes.
	TxSize int
	// Payload is "opaque" or "signed" (vm-get cluster transactions signed
	// by Key, which are as large as their encoding is).
	Payload string
	Key     ed25519.PrivateKey
	// Tick is how often the generator sends what came due (default 10 ms).
	Tick time.Duration
	// Senders is how many requests may be in flight per endpoint
	// (default 4); a batch that finds them all busy waits in a queue of
	// MaxBacklog seconds of load, beyond which it is refused as "backlog".
	Senders int
	// MaxSamples bounds the committed transactions whose schedule and
	// latency the result keeps (default MaxLoadSamples): a run that
	// schedules more keeps a uniform sample (LoadResult.SampleEvery).
	MaxSamples int
}

// Bounds of a load run, so that a typo does not exhaust the machine.
const (
	MaxLoadRate     = 1e6
	MaxLoadDuration = 24 * time.Hour
	MinLoadTxSize   = 40
	MaxLoadTxSize   = 1 << 20
	// MaxBacklog is how many seconds of load may wait for a sender.
	MaxBacklog = 2
	// maxPresigned bounds the signed transactions made before the run.
	maxPresigned = 4 << 20
	// MaxLoadSamples is the default LoadConfig.MaxSamples. Kept whole, an
	// hour at 20,000 tx/s (72 M transactions) takes 576 MB of float32 in
	// the generator, growing all along the run beside the nodes it
	// measures, 1.4 GB of JSON, and several GB more when `dagger bench
	// live` reads that back into float64 while the nodes still run. 8 Mi
	// samples are 64 MiB and about 160 MB of JSON, and still leave 8,000
	// above the run's p99.9 and 2,000 in each second of such a run.
	MaxLoadSamples = 1 << 23
)

// Payloads a load can carry.
const (
	PayloadOpaque = "opaque"
	PayloadSigned = "signed"
)

func (c *LoadConfig) defaults() error {
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = min(c.Duration/5, 10*time.Second)
	}
	if c.Tick == 0 {
		c.Tick = 10 * time.Millisecond
	}
	if c.Senders == 0 {
		c.Senders = 4
	}
	if c.Payload == "" {
		c.Payload = PayloadOpaque
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = MaxLoadSamples
	}
	switch {
	case !(c.Rate > 0) || c.Rate > MaxLoadRate:
		return fmt.Errorf("rate %v: want 0 < rate ≤ %g tx/s", c.Rate, float64(MaxLoadRate))
	case c.Duration <= 0 || c.Duration > MaxLoadDuration:
		return fmt.Errorf("duration %v: want 0 < duration ≤ %v", c.Duration, MaxLoadDuration)
	case c.Warmup < 0 || c.Warmup >= c.Duration:
		return fmt.Errorf("warmup %v: want 0 ≤ warmup < duration %v", c.Warmup, c.Duration)
	case c.Drain < 0:
		return fmt.Errorf("drain %v: want a positive time", c.Drain)
	case c.Tick < time.Millisecond || c.Tick > time.Second:
		return fmt.Errorf("tick %v: want 1ms to 1s", c.Tick)
	case c.Senders < 1 || c.Senders > 256:
		return fmt.Errorf("senders %d: want 1 to 256", c.Senders)
	case c.MaxSamples < 1:
		return fmt.Errorf("max samples %d: want 1 or more", c.MaxSamples)
	}
	switch c.Payload {
	case PayloadOpaque:
		if c.TxSize < MinLoadTxSize || c.TxSize > MaxLoadTxSize {
			return fmt.Errorf("tx size %d: want %d to %d bytes", c.TxSize, MinLoadTxSize, MaxLoadTxSize)
		}
	case PayloadSigned:
		if len(c.Key) != ed25519.PrivateKeySize {
			return fmt.Errorf("signed payload: the generator needs a key")
		}
	default:
		return fmt.Errorf("payload %q: want %s or %s", c.Payload, PayloadOpaque, PayloadSigned)
	}
	return nil
}

// LoadResult is what a load run measured. Its JSON form is what `dagger
// bench load --out` writes and `dagger bench live` reads.
type LoadResult struct {
	Payload string  `json:"payload"`
	Rate    float64 `json:"rate"`
	TxSize  int     `json:"tx_size"`
	// StartUnixNs is the scheduled time of the first transaction; the
	// load, warmup and drain windows follow it.
	StartUnixNs   int64   `json:"start_unix_ns"`
	LoadSeconds   float64 `json:"load_seconds"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	DrainSeconds  float64 `json:"drain_seconds"`
	// Scheduled transactions were due in the load window; Submitted the
	// system took; Refused it would not take (by reason); Committed were
	// seen committed; Uncommitted were taken and not seen by the end of
	// the drain.
	Scheduled   uint64            `json:"scheduled"`
	Submitted   uint64            `json:"submitted"`
	Refused     uint64            `json:"refused"`
	Refusals    map[string]uint64 `json:"refusals,omitempty"`
	Committed   uint64            `json:"committed"`
	Uncommitted uint64            `json:"uncommitted"`
	// Foreign counts committed transactions the generator did not send.
	Foreign uint64 `json:"foreign"`
	// Sched and Latency describe the committed transactions, in the order
	// they were seen: each one's scheduled time in seconds from the
	// start, and its latency in milliseconds. A run that schedules more
	// than LoadConfig.MaxSamples describes one transaction in every
	// SampleEvery: a uniform sample, one drawn at random in each block of
	// SampleEvery consecutive ones, so that it follows the schedule
	// evenly and no pattern of batches or endpoints lines up with it.
	// SampleEvery 0 (left out) means every one.
	Sched       []float32 `json:"sched_s"`
	Latency     []float32 `json:"latency_ms"`
	SampleEvery uint64    `json:"sample_every,omitempty"`
	// Errors are the first few failures of requests and of the watch.
	Errors []string `json:"errors,omitempty"`
	// CPUSeconds is the generator's own CPU time.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// maxErrors bounds LoadResult.Errors.
const maxErrors = 20

// loadRun is one run in progress.
type loadRun struct {
	cfg    LoadConfig
	t      Target
	start  time.Time
	runID  uint64
	filler []byte
	signed [][]byte // presigned, by sequence
	// every and sampleSeed choose the transactions the result describes
	// (sampled).
	every      uint64
	sampleSeed maphash.Seed

	mu       sync.Mutex
	inflight map[uint64]uint64 // hash key → sequence, of those sent and not seen
	res      LoadResult

	committed atomic.Uint64
}

// hashKey is the in-flight table's key: a hash's first 8 bytes, which
// tell apart the few hundred thousand transactions in flight at once.
func hashKey(h [32]byte) uint64 { return binary.BigEndian.Uint64(h[:8]) }

// LoadProgress is what a run reports every second.
type LoadProgress struct {
	Elapsed             time.Duration
	Scheduled, Refused  uint64
	Committed, InFlight uint64
}

// Load runs the load generator against t. progress, if set, hears every
// second from the start of the load to the end of the drain. The run ends
// early, with what it measured, if ctx is done.
func Load(ctx context.Context, t Target, cfg LoadConfig, progress func(LoadProgress)) (*LoadResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if t.Endpoints() < 1 {
		return nil, errors.New("the target has no endpoints")
	}
	r := &loadRun{cfg: cfg, t: t, inflight: map[uint64]uint64{}}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	r.runID = binary.BigEndian.Uint64(seed[:])
	r.filler = make([]byte, max(cfg.TxSize, 0))
	for i := range r.filler {
		r.filler[i] = 'a' + byte(i*7%26)
	}
	total := uint64(math.Ceil(cfg.Rate * cfg.Duration.Seconds()))
	r.every = max(1, (total+uint64(cfg.MaxSamples)-1)/uint64(cfg.MaxSamples))
	r.sampleSeed = maphash.MakeSeed()
	cpu0 := processCPU()
	if cfg.Payload == PayloadSigned {
		if total > maxPresigned {
			return nil, fmt.Errorf("a signed load of %d transactions: at most %d are signed before the run", total, maxPresigned)
		}
		// Transaction k expires half the validity window after its
		// scheduled time, as measured from before the signing: it commits
		// in time if the signing and its latency take less than that.
		base := time.Now()
		r.signed = presign(cfg.Key, total, func(seq uint64) time.Time {
			return base.Add(time.Duration(float64(seq)/cfg.Rate*float64(time.Second)) + tx.MaxValidity/2)
		})
		if took := time.Since(base); took > tx.MaxValidity/4 {
			return nil, fmt.Errorf("signing %d transactions took %v, too long for their validity window of %v: lower the rate or the duration",
				total, took.Round(time.Second), tx.MaxValidity)
		}
	}
	r.res = LoadResult{Payload: cfg.Payload, Rate: cfg.Rate, TxSize: cfg.TxSize, LoadSeconds: cfg.Duration.Seconds(),
		WarmupSeconds: cfg.Warmup.Seconds(), DrainSeconds: cfg.Drain.Seconds(), Refusals: map[string]uint64{}}
	if r.every > 1 {
		r.res.SampleEvery = r.every
	}
	if len(r.signed) > 0 {
		r.res.TxSize = len(r.signed[0])
	}

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watching := make(chan struct{})
	var watchErr error
	go func() {
		defer close(watching)
		watchErr = t.Watch(wctx, r.seen)
	}()

	// Senders: per endpoint, a queue and the requests in flight.
	type batch struct {
		txs  [][]byte
		keys []uint64
	}
	queues := make([]chan batch, t.Endpoints())
	var senders sync.WaitGroup
	backlog := max(1, int(MaxBacklog*float64(time.Second)/float64(cfg.Tick))/len(queues))
	for i := range queues {
		queues[i] = make(chan batch, backlog)
		for range cfg.Senders {
			senders.Add(1)
			go func() {
				defer senders.Done()
				for b := range queues[i] {
					took, reason, err := t.Submit(ctx, i, b.txs)
					if err != nil {
						r.fail(fmt.Sprintf("submit to endpoint %d: %v", i, err))
						took, reason = nil, "error"
					}
					r.refuse(b.keys, took, reason)
				}
			}()
		}
	}

	r.start = time.Now().Add(100 * time.Millisecond).Truncate(time.Millisecond)
	r.res.StartUnixNs = r.start.UnixNano()
	end := r.start.Add(cfg.Duration)
	tick := time.NewTicker(cfg.Tick)
	report := time.NewTicker(time.Second)
	var next uint64
	endpoint := 0
	say := func() {
		if progress != nil {
			r.mu.Lock()
			p := LoadProgress{Elapsed: time.Since(r.start), Scheduled: next, Refused: r.res.Refused,
				Committed: r.committed.Load(), InFlight: uint64(len(r.inflight))}
			r.mu.Unlock()
			progress(p)
		}
	}
load:
	for {
		select {
		case <-ctx.Done():
			break load
		case <-report.C:
			say()
		case now := <-tick.C:
			due := min(total, uint64(max(0, now.Sub(r.start).Seconds()*cfg.Rate)))
			if now.After(end) {
				due = total
			}
			for next < due {
				n := min(due-next, uint64(maxBatch(cfg)))
				b := batch{txs: make([][]byte, n), keys: make([]uint64, n)}
				r.mu.Lock()
				for j := range b.txs {
					seq := next + uint64(j)
					b.txs[j] = r.make(seq)
					b.keys[j] = hashKey(t.Hash(b.txs[j]))
					r.inflight[b.keys[j]] = seq
				}
				r.mu.Unlock()
				next += n
				select {
				case queues[endpoint] <- b:
				default:
					r.refuse(b.keys, nil, "backlog")
				}
				endpoint = (endpoint + 1) % len(queues)
			}
			if next == total {
				break load
			}
		}
	}
	tick.Stop()
	r.res.Scheduled = next
	for _, q := range queues {
		close(q)
	}
	senders.Wait()

	// The drain: until every transaction taken has been seen, or its time
	// is up.
	drainEnd := time.Now().Add(cfg.Drain)
	if e := end.Add(cfg.Drain); e.After(drainEnd) {
		drainEnd = e
	}
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
drain:
	for time.Now().Before(drainEnd) {
		r.mu.Lock()
		left := len(r.inflight)
		r.mu.Unlock()
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			break drain
		case <-watching:
			break drain
		case <-report.C:
			say()
		case <-poll.C:
		}
	}
	report.Stop()
	say()
	stopWatch()
	<-watching
	if watchErr != nil && !errors.Is(watchErr, context.Canceled) {
		r.fail(fmt.Sprintf("watch: %v", watchErr))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Uncommitted = uint64(len(r.inflight))
	r.res.Committed = r.committed.Load()
	r.res.Submitted = r.res.Scheduled - r.res.Refused
	r.res.CPUSeconds = (processCPU() - cpu0).Seconds()
	if len(r.res.Refusals) == 0 {
		r.res.Refusals = nil
	}
	res := r.res
	return &res, nil
}

// maxBatch is the most transactions one request carries: a tick's worth,
// within what the endpoints take at once.
func maxBatch(cfg LoadConfig) int {
	if cfg.Payload == PayloadSigned {
		return 4096
	}
	return max(1, min(1<<16, (8<<20)/(cfg.TxSize+4)))
}

// make returns transaction seq: opaque ones are printable text unique to
// this run ("k<run><seq>=<filler>"), which a key-value store also takes.
func (r *loadRun) make(seq uint64) []byte {
	if r.signed != nil {
		return r.signed[seq]
	}
	b := make([]byte, 0, r.cfg.TxSize)
	b = fmt.Appendf(b, "k%016x%016x=", r.runID, seq)
	return append(b, r.filler[:r.cfg.TxSize-len(b)]...)
}

// presign makes n signed vm-get transactions, on every core.
func presign(key ed25519.PrivateKey, n uint64, expiry func(seq uint64) time.Time) [][]byte {
	out := make([][]byte, n)
	var salt [8]byte
	_, _ = rand.Read(salt[:])
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := uint64(w); i < n; i += uint64(workers) {
				t := &tx.Tx{Kind: tx.KindVMGet, Nonce: i, Expiry: expiry(i).UnixNano()}
				copy(t.VM[:], salt[:])
				binary.BigEndian.PutUint64(t.VM[8:], i)
				t.Sign(key)
				out[i] = t.Encode()
			}
		})
	}
	wg.Wait()
	return out
}

// seen takes the watcher's report.
func (r *loadRun) seen(hashes [][32]byte) {
	at := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hashes {
		k := hashKey(h)
		seq, ok := r.inflight[k]
		if !ok {
			r.res.Foreign++
			continue
		}
		delete(r.inflight, k)
		r.committed.Add(1)
		if !r.sampled(seq) {
			continue
		}
		sched := time.Duration(float64(seq) / r.cfg.Rate * float64(time.Second))
		r.res.Sched = append(r.res.Sched, float32(sched.Seconds()))
		r.res.Latency = append(r.res.Latency, float32(at.Sub(r.start.Add(sched)).Seconds()*1000))
	}
}

// sampled reports whether the result describes transaction seq: each
// block of r.every consecutive transactions has one, at an offset drawn
// for the block.
func (r *loadRun) sampled(seq uint64) bool {
	if r.every == 1 {
		return true
	}
	return seq%r.every == maphash.Comparable(r.sampleSeed, seq/r.every)%r.every
}

// refuse takes back what the system did not take (took nil: none).
func (r *loadRun) refuse(keys []uint64, took []bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := uint64(0)
	for i, k := range keys {
		if took != nil && took[i] {
			continue
		}
		if _, ok := r.inflight[k]; ok {
			delete(r.inflight, k)
			n++
		}
	}
	if n > 0 {
		if reason == "" {
			reason = "refused"
		}
		r.res.Refused += n
		r.res.Refusals[reason] += n
	}
}

func (r *loadRun) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.res.Errors) < maxErrors && !slices.Contains(r.res.Errors, msg) {
		r.res.Errors = append(r.res.Errors, msg)
	}
}
