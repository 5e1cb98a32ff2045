package main

// The operator commands: node join, approve, remove and leave. Each builds
// one membership transaction, signs it here with an operator's key and
// submits it to a node's API; the committee's votes and the epoch boundary
// do the rest.

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"

	"dagger/node/live"
	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/tx"
)

// memberFile is the operator's entry next to its config, as node init
// writes it.
const memberFile = "member.json"

// operatorSubmitted is what the operator commands print: the submission
// and, once it committed, the operator it is about as the node sees it.
type operatorSubmitted struct {
	Tx       string        `json:"tx"`
	Status   api.TxStatus  `json:"status"`
	Operator *api.Operator `json:"operator,omitempty"`
}

// loadNodeConfig loads a node's config and its operator key.
func loadNodeConfig(stderr io.Writer, name, path string) (*live.Config, ed25519.PrivateKey, int) {
	if path == "" {
		return nil, nil, usageErr(stderr, name, "--config is required: the node's config.toml ('dagger node init' writes one)")
	}
	cfg, err := live.LoadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "dagger %s: %v\n", name, err)
		return nil, nil, 2
	}
	key, err := keyfile.Load(cfg.Path(cfg.Node.Key))
	if err != nil {
		fmt.Fprintf(stderr, "dagger %s: the node's key (node.key in %s): %v\n", name, path, err)
		return nil, nil, 1
	}
	return cfg, key, -1
}

// joinTx builds the operator-join of the operator whose key signs it,
// from its member.json entry.
func joinTx(key ed25519.PrivateKey, m live.GenesisMember, memberPath string) (tx.Tx, error) {
	self := tx.Key(key.Public().(ed25519.PublicKey))
	op, err := m.Operator()
	if err != nil {
		return tx.Tx{}, fmt.Errorf("%s: %w", memberPath, err)
	}
	if op.Key != self {
		return tx.Tx{}, fmt.Errorf("%s is the entry of operator %s, but the node's key is %s: use the member.json that 'dagger node init' wrote next to this config",
			memberPath, op.Key, self)
	}
	t := newTx(tx.KindOperatorJoin, key)
	t.PeerID, t.Region, t.Payout, t.Capacity = op.PeerID, op.Region, op.Payout, op.Capacity
	t.Sign(key)
	if err := t.Validate(); err != nil {
		return tx.Tx{}, fmt.Errorf("%s: %w", memberPath, err)
	}
	return t, nil
}

func runNodeJoin(args []string, stdout, stderr io.Writer) int {
	const name = "node join"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf := addNodeFlags(fs), addWaitFlags(fs)
	cfgPath := fs.String("config", "", "the new node's config.toml; its node.key signs, and member.json next to it says what the host offers")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger node join --config F --node URL [--wait] [--json]")
		fmt.Fprintln(stderr, "Asks a running cluster to admit this node's operator: submits an operator-join (peer id, region,")
		fmt.Fprintln(stderr, "capacity and payout from member.json), signed with the node's key, to the node at URL. The")
		fmt.Fprintln(stderr, "committee then votes ('dagger node approve'); the operator becomes active at the epoch boundary")
		fmt.Fprintln(stderr, "after more than 2/3 of its weight approved.")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, name, "unexpected argument %q: every input is a flag", pos[0])
	}
	cfg, key, code := loadNodeConfig(stderr, name, *cfgPath)
	if code >= 0 {
		return code
	}
	memberPath := cfg.Path(memberFile)
	m, err := live.LoadMember(memberPath)
	if err != nil {
		fmt.Fprintf(stderr, "dagger %s: the operator's entry: %v\n", name, err)
		return 1
	}
	t, err := joinTx(key, m, memberPath)
	if err != nil {
		fmt.Fprintf(stderr, "dagger %s: %v\n", name, err)
		return 1
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	res, err := c.client.Submit(ctx, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	self := tx.Key(key.Public().(ed25519.PublicKey))
	return c.finishOperator(ctx, res, wf, self, func(w io.Writer, op *api.Operator, ops []api.Operator) {
		fmt.Fprintln(w, "Next:")
		fmt.Fprintf(w, "  - The committee must admit %s: more than 2/3 of its weight must approve.\n", self)
		fmt.Fprintln(w, "    Operators with auto_approve = true in their config approve by themselves; any other")
		fmt.Fprintln(w, "    committee member runs:")
		fmt.Fprintf(w, "      dagger node approve --key <its node.key> --node %s %s\n", c.client.URL(), self)
		fmt.Fprintln(w, "  - The operator becomes active at the first epoch boundary after that (every epoch_length of")
		fmt.Fprintf(w, "    consensus time); watch: curl -s %s/v1/operators\n", c.client.URL())
		fmt.Fprintf(w, "  - Run the node meanwhile: dagger node run --config %s\n", *cfgPath)
		fmt.Fprintln(w, "    A new node without a state snapshot replays the cluster from genesis, and cannot catch up once")
		fmt.Fprintln(w, "    its peers pruned old epochs (store.keep_epochs): bootstrap it first with")
		fmt.Fprintf(w, "      dagger node bootstrap --config %s --from %s [--from URL ...]\n", *cfgPath, c.client.URL())
	})
}

// runNodeApprove and runNodeRemove are a committee member's votes.
func runNodeApprove(args []string, stdout, stderr io.Writer) int {
	return runNodeVote("node approve", tx.KindOperatorApprove, args, stdout, stderr)
}

func runNodeRemove(args []string, stdout, stderr io.Writer) int {
	return runNodeVote("node remove", tx.KindOperatorRemove, args, stdout, stderr)
}

func runNodeVote(name string, kind tx.Kind, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf := addNodeFlags(fs), addWaitFlags(fs)
	keyPath := fs.String("key", "", "the voting committee member's operator key file (its node.key)")
	cfgPath := fs.String("config", "", "instead of --key: the voting member's config.toml, whose node.key signs")
	verb, what, done := "admit a pending operator", "approve", "admitted"
	if kind == tx.KindOperatorRemove {
		verb, what, done = "remove an active operator", "remove", "removed"
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: dagger %s (--key OPERATOR_KEY_FILE | --config F) --node URL [--wait] [--json] OPERATOR\n", name)
		fmt.Fprintf(stderr, "A committee member votes to %s. OPERATOR is its key: 64 hex digits or base58.\n", verb)
		fmt.Fprintf(stderr, "With more than 2/3 of the committee's weight voting %s, it takes effect at the next epoch boundary.\n", what)
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, name, "want one OPERATOR (its key, 64 hex digits or base58), got %d arguments", len(pos))
	}
	target, err := parseOwnerFlag(pos[0])
	if err != nil {
		return usageErr(stderr, name, "OPERATOR %v", err)
	}
	var key ed25519.PrivateKey
	switch {
	case (*keyPath == "") == (*cfgPath == ""):
		return usageErr(stderr, name, "give one of --key (the voting member's node.key) and --config")
	case *keyPath != "":
		if key, code = loadWallet(stderr, name, *keyPath); code >= 0 {
			return code
		}
	default:
		if _, key, code = loadNodeConfig(stderr, name, *cfgPath); code >= 0 {
			return code
		}
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	if code >= 0 {
		return code
	}
	t := newTx(kind, key)
	t.Operator = target
	t.Sign(key)
	ctx := context.Background()
	res, err := c.client.Submit(ctx, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	return c.finishOperator(ctx, res, wf, target, func(w io.Writer, op *api.Operator, ops []api.Operator) {
		if op == nil {
			fmt.Fprintf(w, "Next: the vote counts once it commits; see it with: dagger tx status --node %s %s\n", c.client.URL(), res.ID)
			return
		}
		votes, status := op.Approvals, "pending"
		if kind == tx.KindOperatorRemove {
			votes, status = op.Removals, "active"
		}
		got, total := voteWeight(votes, ops)
		switch {
		case op.Status != status:
			fmt.Fprintf(w, "Next: the operator is %s already.\n", op.Status)
		case 3*got > 2*total:
			fmt.Fprintf(w, "Next: enough votes (weight %d of %d): the operator is %s at the next epoch boundary.\n", got, total, done)
		default:
			fmt.Fprintf(w, "Next: more votes are needed (weight %d of %d so far; more than 2/3, %d, is needed): other committee members run\n", got, total, 2*total/3+1)
			fmt.Fprintf(w, "  dagger %s --key <its node.key> --node %s %s\n", name, c.client.URL(), target)
		}
	})
}

func runNodeLeave(args []string, stdout, stderr io.Writer) int {
	const name = "node leave"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf := addNodeFlags(fs), addWaitFlags(fs)
	cfgPath := fs.String("config", "", "the leaving node's config.toml; its node.key signs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger node leave --config F --node URL [--wait] [--json]")
		fmt.Fprintln(stderr, "This node's operator leaves the cluster at the next epoch boundary; a request to join that")
		fmt.Fprintln(stderr, "is still pending is withdrawn at once. The VMs it hosts move to other operators.")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, name, "unexpected argument %q: every input is a flag", pos[0])
	}
	_, key, code := loadNodeConfig(stderr, name, *cfgPath)
	if code >= 0 {
		return code
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	if code >= 0 {
		return code
	}
	t := newTx(tx.KindOperatorLeave, key)
	t.Sign(key)
	ctx := context.Background()
	res, err := c.client.Submit(ctx, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	self := tx.Key(key.Public().(ed25519.PublicKey))
	return c.finishOperator(ctx, res, wf, self, func(w io.Writer, op *api.Operator, ops []api.Operator) {
		fmt.Fprintln(w, "Next: the operator leaves the committee at the next epoch boundary; keep the node running until")
		fmt.Fprintf(w, "GET %s/v1/operators shows it removed, then stop it (SIGTERM).\n", c.client.URL())
	})
}

// voteWeight sums the weight of the active operators among voters, and
// of all active operators: the committee, as the node sees it.
func voteWeight(voters []string, ops []api.Operator) (got, total uint64) {
	for _, o := range ops {
		if o.Status != "active" {
			continue
		}
		total += o.Weight
		for _, v := range voters {
			if v == o.Key {
				got += o.Weight
			}
		}
	}
	return got, total
}

// finishOperator reports a membership transaction: its id and fate and,
// once it committed with --wait, the operator it is about; in text, next
// says what to do next. A transaction that did not take effect fails.
func (c *clientCmd) finishOperator(ctx context.Context, res api.SubmitResult, wf *waitFlags, operator tx.Key,
	next func(w io.Writer, op *api.Operator, ops []api.Operator)) int {
	out := operatorSubmitted{Tx: res.ID, Status: res.Status}
	failed := c.failure(res, wf)
	var ops []api.Operator
	if failed == "" && res.Status.State == "committed" {
		var err error
		if ops, err = c.client.Operators(ctx); err != nil {
			return c.fail(fmt.Errorf("the transaction committed; reading the operators after it: %w", err))
		}
		for i := range ops {
			if ops[i].Key == operator.String() {
				out.Operator = &ops[i]
			}
		}
	}
	code := c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "tx       %s\n", out.Tx)
		fmt.Fprintf(w, "status   %s\n", out.Status.State)
		if op := out.Operator; op != nil {
			fmt.Fprintf(w, "operator %s %s", op.Key, op.Status)
			if op.Leaving {
				fmt.Fprint(w, ", leaving at the next epoch boundary")
			}
			if op.Status == "pending" {
				got, total := voteWeight(op.Approvals, ops)
				fmt.Fprintf(w, ", approved by weight %d of %d", got, total)
			}
			fmt.Fprintln(w)
		}
		if failed == "" {
			next(w, out.Operator, ops)
		}
	})
	if failed != "" {
		fmt.Fprintf(c.stderr, "dagger %s: %s\n", c.name, failed)
		return 1
	}
	return code
}
