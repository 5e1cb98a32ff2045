package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"text/tabwriter"

	"dagger/graph"
	"dagger/graph/graphtest"
)

// windowScheduler delivers one of the oldest window messages at random, so
// messages are reordered but none waits forever; leader timeouts fire only
// when fewer messages than that are in flight.
type windowScheduler struct {
	rng    *rand.Rand
	window int
}

func (s windowScheduler) Choose(n int) int { return s.rng.IntN(min(n, s.window)) }

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.Int("nodes", 4, "committee size (equal weights)")
	rounds := fs.Uint64("rounds", 40, "rounds each node creates before the run drains")
	seed := fs.Uint64("seed", 1, "seed for keys and delivery order")
	txs := fs.Int("txs", 20, "transactions each node puts in each event")
	equivocators := fs.Int("equivocators", 0, "members that sign two events per round (at most f)")
	window := fs.Int("window", 0, "delivery reorders among this many oldest messages (0: 2*nodes)")
	show := fs.Int("show", 8, "commits of node 0 to list")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger demo [flags]")
		fmt.Fprintln(stderr, "Runs a committee's graphs in one process with reordered delivery until every node commits, then checks agreement.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f := (*nodes - 1) / 3
	switch {
	case *nodes < 1 || *nodes > graph.MaxCommitteeSize:
		fmt.Fprintf(stderr, "dagger demo: --nodes must be 1..%d\n", graph.MaxCommitteeSize)
		return 2
	case *equivocators < 0 || *equivocators > f:
		fmt.Fprintf(stderr, "dagger demo: --equivocators must be 0..%d (f for %d nodes)\n", f, *nodes)
		return 2
	case *rounds < 1 || *txs < 0:
		fmt.Fprintln(stderr, "dagger demo: --rounds must be positive and --txs not negative")
		return 2
	}
	if *window <= 0 {
		*window = 2 * *nodes
	}
	var byz []int
	for i := range *equivocators {
		byz = append(byz, *nodes-1-i)
	}
	c, err := graphtest.New(graphtest.Config{N: *nodes, Seed: *seed, MaxRound: *rounds, TxsPerEvent: *txs, Equivocators: byz})
	if err != nil {
		fmt.Fprintf(stderr, "dagger demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ShadowGraph demo: %d nodes (tolerates f=%d), %d equivocating, seed %d, %d rounds, %d txs per event\n\n",
		*nodes, f, len(byz), *seed, *rounds, *txs)
	sched := windowScheduler{rng: rand.New(rand.NewPCG(*seed, 0x5eed)), window: *window}
	const maxSteps = 50_000_000
	steps := c.Run(sched, maxSteps)
	if steps == maxSteps {
		fmt.Fprintln(stderr, "dagger demo: the run did not settle")
		return 1
	}

	first := c.Nodes[0]
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "commit\tleader\tround\tevents\ttxs\t")
	for i, cm := range first.Commits {
		if i >= *show && i < len(first.Commits)-2 {
			if i == *show {
				fmt.Fprintln(tw, "…\t\t\t\t\t")
			}
			continue
		}
		fmt.Fprintf(tw, "%d\tc%d/%s\t%d\t%d\t%d\t\n", cm.Index, cm.Leader.Creator, cm.Leader.Hash, cm.Leader.Round, len(cm.Events), len(cm.Txs))
	}
	tw.Flush()
	fmt.Fprintln(stdout)

	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "node\trole\tevents\tcommits\ttxs\tevidence\tfingerprint\t")
	failed := false
	for _, n := range c.Nodes {
		role := "honest"
		if !c.Honest(n.ID) {
			role = "equivocator"
		}
		ntx := 0
		for _, cm := range n.Commits {
			ntx += len(cm.Txs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%s\t\n", n.ID, role, len(n.Created), len(n.Commits), ntx, len(n.Evidence), graphtest.Fingerprint(n.Commits))
		if c.Honest(n.ID) && (len(n.Errors) > 0 || len(n.Commits) == 0) {
			failed = true
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d messages delivered in %d steps.\n", c.Delivered(), steps)
	if err := c.CheckAgreement(); err != nil {
		fmt.Fprintf(stdout, "AGREEMENT VIOLATED: %v\n", err)
		return 1
	}
	for _, n := range c.Nodes {
		if c.Honest(n.ID) && len(n.Errors) > 0 {
			fmt.Fprintf(stdout, "node %d rejected events: %v\n", n.ID, n.Errors[0])
		}
	}
	if failed {
		fmt.Fprintln(stdout, "FAILED: an honest node committed nothing or rejected an event.")
		return 1
	}
	fmt.Fprintln(stdout, "Agreement: every honest node's commit sequence is a prefix of every other's.")
	return 0
}
