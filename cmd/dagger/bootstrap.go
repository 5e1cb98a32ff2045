package main

// node bootstrap: a node that cannot replay the cluster from genesis (a new
// operator joining a cluster whose nodes pruned old epochs, or a node that
// was down longer than its peers keep events) takes the state snapshot of
// its peers' latest epoch start into its store, and starts from it.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/live"
	"dagger/node/live/api"
	"dagger/node/live/store"
	"dagger/node/tx"
)

const (
	// defaultSnapshotTimeout bounds each call to a source, the download of
	// a snapshot included.
	defaultSnapshotTimeout = 5 * time.Minute
	// bootstrapAttempts is how often the sources are asked again when they
	// answer with snapshots of different epochs: an epoch boundary passed
	// while they were asked.
	bootstrapAttempts = 5
	// bootstrapRetryWait is the pause before asking again.
	bootstrapRetryWait = time.Second
)

// urlList is a flag that may be given many times.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Type() string { return "URL" }

func (l *urlList) Set(s string) error {
	if slices.Contains(*l, s) {
		return fmt.Errorf("%s is given twice", s)
	}
	*l = append(*l, s)
	return nil
}

// bootstrapSource is one --from node and what it said.
type bootstrapSource struct {
	URL string `json:"url"`
	// Confirmed: the node lists the snapshot's last commit with the same
	// state hash as the snapshot's.
	Confirmed bool `json:"confirmed"`
	// Note says why it could not confirm.
	Note string `json:"note,omitempty"`

	client *api.Client
	sn     node.Snapshot
	digest [32]byte
}

// bootstrapResult is what node bootstrap prints.
type bootstrapResult struct {
	Epoch     uint64            `json:"epoch"`
	Commit    uint64            `json:"commit"`
	Bytes     int               `json:"bytes"`
	StateHash string            `json:"state_hash"`
	Sources   []bootstrapSource `json:"sources"`
	Store     string            `json:"store"`
	// Stored is false when the store already held a snapshot at or above
	// the sources': there was nothing to do.
	Stored bool `json:"stored"`
	// Operator is this node's operator in the snapshot's state: pending,
	// active or removed, or "" if it is not known to the cluster.
	Operator string `json:"operator"`
}

func newNodeBootstrapCmd() *cobra.Command {
	var cfgPath string
	var from urlList
	var timeout time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "bootstrap --config F --from URL [--from URL ...] [--timeout D] [--json]",
		Short: "start a stopped node from its peers' state snapshot",
		Long: `Puts the cluster state at the latest epoch start into the node's store, so that 'dagger node run'
starts from there instead of replaying the cluster from genesis: for a new operator, or a node
that was down longer than its peers keep events (store.keep_epochs). Every --from node must
serve the same snapshot byte for byte (a single node could lie: name those you trust), and
each that still lists the snapshot's last commit must agree on its state hash. The node must
not run meanwhile.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 0:
				return usageErr("unexpected argument %q: name each source with --from", args[0])
			case len(from) == 0:
				return usageErr("--from is required: the API URL of a node of the cluster you trust (give more than one for more assurance)")
			case timeout <= 0:
				return usageErr("--timeout must be positive")
			}
			return nodeBootstrap(cmd.OutOrStdout(), cmd.ErrOrStderr(), cfgPath, from, timeout, asJSON)
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "the node's config.toml: its genesis, data_dir, store backend and key")
	f.Var(&from, "from", "a node's API URL to take the snapshot from; give it once per node (more sources, more assurance)")
	f.DurationVar(&timeout, "timeout", defaultSnapshotTimeout, "how long each call to a source may take, a snapshot's download included")
	f.BoolVar(&asJSON, "json", false, "print JSON for programs instead of text")
	return c
}

func nodeBootstrap(stdout, stderr io.Writer, cfgPath string, from []string, timeout time.Duration, asJSON bool) error {
	sources := make([]*bootstrapSource, len(from))
	for i, u := range from {
		c, err := api.NewClient(u, timeout)
		if err != nil {
			return usageErr("--from: %v", err)
		}
		sources[i] = &bootstrapSource{URL: c.URL(), client: c}
	}
	cfg, key, err := loadNodeConfig(cfgPath)
	if err != nil {
		return err
	}
	gen, err := live.LoadGenesis(cfg.Path(cfg.Node.Genesis))
	if err != nil {
		return failf(1, "%v: the node needs the cluster's genesis.json there (node.genesis in %s)", err, cfgPath)
	}

	// The store first: a running node holds it, and finding out before
	// downloading anything is kinder.
	pub := key.Public().(ed25519.PublicKey)
	dataDir := cfg.Path(cfg.Node.DataDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return failf(1, "data dir: %v", err)
	}
	db, err := store.Open(dataDir, store.Options{Backend: cfg.Store.Backend, Key: pub})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return failf(1, "the node's store is in use, most likely by the node itself: stop it first (it must not run while it is bootstrapped), then run this again.\n(%v)", err)
		}
		return failf(1, "%v", err)
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	have, haveOK, err := db.LatestSnapshot()
	if err != nil {
		return failf(1, "read the store's snapshot: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sn, err := fetchSnapshot(ctx, sources, stderr)
	if err != nil {
		return failf(1, "%v", err)
	}
	st, _, err := node.RestoreSnapshot(sn, gen.Cluster, nil)
	if err != nil {
		return failf(1, "the snapshot the sources agree on does not restore against this node's genesis (%s): %v\n"+
			"Check that node.genesis is the cluster's genesis.json and that the sources are nodes of that cluster.",
			cfg.Path(cfg.Node.Genesis), err)
	}
	hash := st.Hash()
	res := bootstrapResult{Epoch: sn.Epoch, Commit: sn.Commit, Bytes: len(sn.Data), StateHash: hex.EncodeToString(hash[:]),
		Store: dataDir, Operator: operatorStatus(st, tx.Key(pub))}
	confirmed := 0
	for _, s := range sources {
		if err := s.confirm(ctx, sn.Commit, res.StateHash); err != nil {
			return failf(1, "%v", err)
		}
		if s.Confirmed {
			confirmed++
		}
		res.Sources = append(res.Sources, *s)
	}
	if haveOK && have.Commit >= sn.Commit {
		res.Stored = false
	} else {
		if err := db.PutSnapshot(sn); err != nil {
			return failf(1, "store the snapshot: %v", err)
		}
		res.Stored = true
	}
	closed = true
	if err := db.Close(); err != nil {
		return failf(1, "close the store: %v", err)
	}

	if asJSON {
		return printJSON(stdout, res)
	}
	if !res.Stored {
		fmt.Fprintf(stdout, "The store already holds a snapshot at commit %d (epoch %d), at or above the sources' at commit %d (epoch %d): nothing to do.\n",
			have.Commit, have.Epoch, sn.Commit, sn.Epoch)
		fmt.Fprintf(stdout, "Next: dagger node run --config %s\n", cfgPath)
		return nil
	}
	fmt.Fprintf(stdout, "snapshot    epoch %d, commit %d, %d bytes\n", sn.Epoch, sn.Commit, len(sn.Data))
	fmt.Fprintf(stdout, "state hash  %s\n", res.StateHash)
	for _, s := range res.Sources {
		if s.Confirmed {
			fmt.Fprintf(stdout, "source      %s: same snapshot; confirmed the state hash after commit %d\n", s.URL, sn.Commit-1)
		} else {
			fmt.Fprintf(stdout, "source      %s: same snapshot; could not confirm the state hash: %s\n", s.URL, s.Note)
		}
	}
	fmt.Fprintf(stdout, "stored in   %s\n", dataDir)
	if confirmed == 0 {
		fmt.Fprintln(stderr, "warning: no source could confirm the state hash of the snapshot's last commit; it rests on the sources' word alone")
	}
	fmt.Fprintf(stdout, "Next: dagger node run --config %s\n", cfgPath)
	switch res.Operator {
	case "":
		fmt.Fprintf(stdout, "This operator is not in the cluster yet: ask to join with 'dagger node join --config %s --node %s'.\n", cfgPath, sources[0].URL)
	case cluster.OperatorPending.String():
		fmt.Fprintln(stdout, "This operator awaits the committee's approval ('dagger node approve').")
	case cluster.OperatorRemoved.String():
		fmt.Fprintf(stdout, "This operator was removed from the cluster: ask to join again with 'dagger node join --config %s --node %s'.\n", cfgPath, sources[0].URL)
	}
	return nil
}

// operatorStatus is an operator's status in st, or "" if st knows none.
func operatorStatus(st *cluster.State, k tx.Key) string {
	for _, op := range st.Operators() {
		if op.Key == k {
			return op.Status.String()
		}
	}
	return ""
}

// fetchSnapshot asks every source for its newest snapshot and returns it
// if all sent the same one. Sources a boundary apart are asked again.
func fetchSnapshot(ctx context.Context, sources []*bootstrapSource, stderr io.Writer) (node.Snapshot, error) {
	for attempt := 1; ; attempt++ {
		var ref *bootstrapSource
		apart := false
		for _, s := range sources {
			sn, err := s.client.Snapshot(ctx)
			if err != nil {
				if api.CodeOf(err) == api.CodeNotFound {
					return node.Snapshot{}, fmt.Errorf("%s has no snapshot yet: a node stores one at every epoch start; "+
						"wait for the cluster's next epoch boundary, or drop that --from: %v", s.URL, err)
				}
				return node.Snapshot{}, fmt.Errorf("%s: %w; check that it is a node's API URL and that it runs, or drop that --from", s.URL, err)
			}
			s.sn, s.digest = sn, sha256.Sum256(sn.Data)
			switch {
			case ref == nil:
				ref = s
			case sn.Epoch != ref.sn.Epoch || sn.Commit != ref.sn.Commit:
				apart = true
			case !bytes.Equal(sn.Data, ref.sn.Data):
				return node.Snapshot{}, fmt.Errorf("the sources disagree: %s and %s both serve a snapshot of epoch %d at commit %d, "+
					"but their bytes differ (SHA-256 %x, %d bytes, and %x, %d bytes): at least one of them is faulty or lying; "+
					"do not trust either without finding out which, and bootstrap from nodes you trust",
					ref.URL, s.URL, sn.Epoch, sn.Commit, ref.digest, len(ref.sn.Data), s.digest, len(sn.Data))
			}
			if s != ref {
				s.sn.Data = nil // the reference's copy is the one kept
			}
		}
		if !apart {
			return ref.sn, nil
		}
		var where []string
		for _, s := range sources {
			where = append(where, fmt.Sprintf("%s at epoch %d, commit %d", s.URL, s.sn.Epoch, s.sn.Commit))
		}
		if attempt == bootstrapAttempts {
			return node.Snapshot{}, fmt.Errorf("the sources serve snapshots of different epochs %d times in a row (%s): "+
				"one of them is behind or not of this cluster; check each one's GET /v1/status, or drop the one that differs",
				attempt, strings.Join(where, "; "))
		}
		fmt.Fprintf(stderr, "the sources serve snapshots of different epochs (%s): an epoch boundary passed meanwhile; asking again\n",
			strings.Join(where, "; "))
		select {
		case <-ctx.Done():
			return node.Snapshot{}, ctx.Err()
		case <-time.After(bootstrapRetryWait):
		}
	}
}

// confirm checks the snapshot against the source's record of its last
// commit, if the source still lists it: the state hash after it must be
// the snapshot's. A source that lists it with another hash is an error.
func (s *bootstrapSource) confirm(ctx context.Context, commit uint64, stateHash string) error {
	if commit == 0 {
		s.Note = "the snapshot is of the genesis state"
		return nil
	}
	cs, err := s.client.Commits(ctx, commit-1, 1)
	switch {
	case err != nil:
		s.Note = fmt.Sprintf("GET /v1/commits: %v", err)
	case len(cs) == 0 || cs[0].Index != commit-1:
		s.Note = fmt.Sprintf("it no longer lists commit %d (a node lists the commits since it started, a bounded number)", commit-1)
	case cs[0].StateHash != stateHash:
		return fmt.Errorf("%s lists the state hash after commit %d as %s, but the snapshot it served restores to %s: "+
			"the node is faulty or lying; bootstrap from nodes you trust", s.URL, commit-1, cs[0].StateHash, stateHash)
	default:
		s.Confirmed = true
	}
	return nil
}
