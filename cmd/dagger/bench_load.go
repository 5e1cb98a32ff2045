package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dagger/bench"
	"dagger/node/live/keyfile"
)

// loadOptions are the load generator's flags; `dagger bench live` passes
// them on to the generator's process.
type loadOptions struct {
	system, targets, watch, payload, key, out string
	rate                                      float64
	duration, warmup, drain                   time.Duration
	txSize                                    int
}

func (o *loadOptions) flags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.system, "system", "dagger", "what runs at the targets: dagger or cometbft (its RPC, with the kvstore application)")
	f.StringVar(&o.targets, "targets", "http://127.0.0.1:8700", "the nodes' API (dagger) or RPC (cometbft) URLs, comma-separated; batches go to each in turn")
	f.StringVar(&o.watch, "watch", "", "the node whose commits are watched (default: the first target)")
	f.Float64Var(&o.rate, "rate", 1000, "offered load in tx/s, open loop")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long the load is offered")
	f.DurationVar(&o.warmup, "warmup", 0, "the start of the load left out of the steady window (default: a fifth of --duration, at most 10s)")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait after the load for what was sent to commit")
	f.IntVar(&o.txSize, "tx-size", 256, "bytes per opaque transaction")
	f.StringVar(&o.payload, "payload", "opaque", "opaque (application bytes the ledger orders) or signed (the cluster's vm-get transactions; dagger only)")
	f.StringVar(&o.key, "key", "", "signed payload: the key file that signs (default: a new key)")
	f.StringVar(&o.out, "out", "", "write the result as JSON to this file (default: stdout)")
}

// args are the flags that repeat o on a command line.
func (o *loadOptions) args() []string {
	a := []string{"--system", o.system, "--targets", o.targets, "--rate", fmt.Sprint(o.rate), "--duration", o.duration.String(),
		"--drain", o.drain.String(), "--tx-size", fmt.Sprint(o.txSize), "--payload", o.payload}
	if o.watch != "" {
		a = append(a, "--watch", o.watch)
	}
	if o.warmup != 0 {
		a = append(a, "--warmup", o.warmup.String())
	}
	if o.key != "" {
		a = append(a, "--key", o.key)
	}
	if o.out != "" {
		a = append(a, "--out", o.out)
	}
	return a
}

func newBenchLoadCmd() *cobra.Command {
	var o loadOptions
	c := &cobra.Command{
		Use:   "load --targets URL[,URL…] [--system dagger|cometbft] [--rate R] [--duration D] [--payload opaque|signed] [--out FILE]",
		Short: "drive running nodes with an open-loop load and time every transaction",
		Long: `The load generator of 'dagger bench live' and 'dagger bench compare', usable on its own against
any running cluster: DAGGER nodes (dagger devnet --opaque, or nodes with opaque = true under [api])
or a CometBFT network running the kvstore application.
Transaction k is scheduled at start + k/rate whatever happened to those before it (open loop), sent
with the others due every 10 ms as one request to the next target in turn, and timed from its
scheduled send to the moment the watched node's commit stream (dagger: GET /v1/commits/stream;
cometbft: its blocks, read as soon as its height says they are there) shows it committed: a
system that falls behind shows its backlog in the latency. What a node refuses is counted by
reason, not retried. Opaque transactions are printable text unique to the run
("k<run><seq>=<filler>"), which CometBFT's kvstore takes too.
Every second a progress line goes to stderr; at the end the result goes, as JSON, to --out or
stdout: the counts, and each committed transaction's scheduled time and latency. A run that
schedules more than 8,388,608 transactions (an hour at 2,330 tx/s) keeps the time and latency of
a uniform sample of them, one drawn at random in each block of sample_every consecutive ones, so
that the generator's memory and the result stay bounded (64 MiB, about 160 MB of JSON); the
counts are still of every transaction.`,
		Example: `  dagger devnet --opaque &
  dagger bench load --targets http://127.0.0.1:8700,http://127.0.0.1:8701 --rate 20000 --duration 60s --out load.json`,
		Args: flagsOnly,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return benchLoad(ctx, cmd, o)
		},
	}
	o.flags(c)
	return c
}

func benchLoad(ctx context.Context, cmd *cobra.Command, o loadOptions) error {
	targets := strings.Split(o.targets, ",")
	for i := range targets {
		targets[i] = strings.TrimSpace(targets[i])
	}
	if o.watch == "" {
		o.watch = targets[0]
	}
	cfg := bench.LoadConfig{Rate: o.rate, Duration: o.duration, Warmup: o.warmup, Drain: o.drain, TxSize: o.txSize, Payload: o.payload}
	var t bench.Target
	var err error
	switch o.system {
	case "dagger":
		t, err = bench.NewDagger(targets, o.watch, o.payload)
		if o.payload == bench.PayloadSigned {
			if o.key != "" {
				cfg.Key, err = keyfile.Load(o.key)
			} else {
				cfg.Key, err = keyfile.New()
			}
		}
	case "cometbft":
		if o.payload != bench.PayloadOpaque {
			return usageErr("--payload %s: cometbft takes opaque transactions only", o.payload)
		}
		t, err = bench.NewCometBFT(targets, o.watch)
	default:
		return usageErr("--system %q: want dagger or cometbft", o.system)
	}
	if err != nil {
		return usageErr("%v", err)
	}
	stderr := cmd.ErrOrStderr()
	res, err := bench.Load(ctx, t, cfg, func(p bench.LoadProgress) {
		fmt.Fprintf(stderr, "progress elapsed=%.1f scheduled=%d committed=%d inflight=%d refused=%d\n",
			p.Elapsed.Seconds(), p.Scheduled, p.Committed, p.InFlight, p.Refused)
	})
	if err != nil {
		return usageErr("%v", err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err = cmd.OutOrStdout().Write(append(b, '\n'))
		return err
	}
	if err := os.WriteFile(o.out, b, 0o644); err != nil {
		return failf(1, "%v", err)
	}
	fmt.Fprintf(stderr, "load: %d scheduled, %d committed, %d refused, %d uncommitted; result in %s\n",
		res.Scheduled, res.Committed, res.Refused, res.Uncommitted, o.out)
	return nil
}
