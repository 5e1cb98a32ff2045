package main

// The operator commands: node join, approve, remove and leave. Each builds
// one membership transaction, signs it here with an operator's key and
// submits it to a node's API; the committee's votes and the epoch boundary
// do the rest.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
func loadNodeConfig(path string) (*live.Config, ed25519.PrivateKey, error) {
	if path == "" {
		return nil, nil, usageErr("--config is required: the node's config.toml ('dagger node init' writes one)")
	}
	cfg, err := live.LoadConfig(path)
	if err != nil {
		return nil, nil, failf(2, "%v", err)
	}
	key, err := keyfile.Load(cfg.Path(cfg.Node.Key))
	if err != nil {
		return nil, nil, failf(1, "the node's key (node.key in %s): %v", path, err)
	}
	return cfg, key, nil
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

func newNodeJoinCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "join --config F --node URL [--wait] [--json]",
		Short: "ask a running cluster to admit this operator",
		Long: `Asks a running cluster to admit this node's operator: submits an operator-join (peer id, region,
capacity and payout from member.json), signed with the node's key, to the node at URL. The
committee then votes ('dagger node approve'); the operator becomes active at the epoch boundary
after more than 2/3 of its weight approved.`,
	}
	nf, wf := addNodeFlags(c.Flags()), addWaitFlags(c.Flags())
	c.Flags().StringVar(&cfgPath, "config", "", "the new node's config.toml; its node.key signs, and member.json next to it says what the host offers")
	c.Args = flagsOnly
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, key, err := loadNodeConfig(cfgPath)
		if err != nil {
			return err
		}
		memberPath := cfg.Path(memberFile)
		m, err := live.LoadMember(memberPath)
		if err != nil {
			return failf(1, "the operator's entry: %v", err)
		}
		t, err := joinTx(key, m, memberPath)
		if err != nil {
			return failf(1, "%v", err)
		}
		cl, err := newClientCmd(cmd, nf)
		if err != nil {
			return err
		}
		ctx := context.Background()
		res, err := cl.client.Submit(ctx, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		self := tx.Key(key.Public().(ed25519.PublicKey))
		return cl.finishOperator(ctx, res, wf, self, func(w io.Writer, op *api.Operator, ops []api.Operator) {
			fmt.Fprintln(w, "Next:")
			fmt.Fprintf(w, "  - The committee must admit %s: more than 2/3 of its weight must approve.\n", self)
			fmt.Fprintln(w, "    Operators with auto_approve = true in their config approve by themselves; any other")
			fmt.Fprintln(w, "    committee member runs:")
			fmt.Fprintf(w, "      dagger node approve --key <its node.key> --node %s %s\n", cl.client.URL(), self)
			fmt.Fprintln(w, "  - The operator becomes active at the first epoch boundary after that (every epoch_length of")
			fmt.Fprintf(w, "    consensus time); watch: curl -s %s/v1/operators\n", cl.client.URL())
			fmt.Fprintf(w, "  - Run the node meanwhile: dagger node run --config %s\n", cfgPath)
			fmt.Fprintln(w, "    A new node without a state snapshot replays the cluster from genesis, and cannot catch up once")
			fmt.Fprintln(w, "    its peers pruned old epochs (store.keep_epochs): bootstrap it first with")
			fmt.Fprintf(w, "      dagger node bootstrap --config %s --from %s [--from URL ...]\n", cfgPath, cl.client.URL())
		})
	}
	return c
}

// newNodeVoteCmd is node approve or node remove: a committee member's vote.
func newNodeVoteCmd(what string) *cobra.Command {
	kind, verb, done, short := tx.KindOperatorApprove, "admit a pending operator", "admitted", "a committee member votes to admit an operator"
	if what == "remove" {
		kind, verb, done, short = tx.KindOperatorRemove, "remove an active operator", "removed", "a committee member votes to remove an operator"
	}
	var keyPath, cfgPath string
	c := &cobra.Command{
		Use:   what + " (--key OPERATOR_KEY_FILE | --config F) --node URL [--wait] [--json] OPERATOR",
		Short: short,
		Long: fmt.Sprintf(`A committee member votes to %s. OPERATOR is its key: 64 hex digits or base58.
With more than 2/3 of the committee's weight voting %s, it takes effect at the next epoch boundary.`, verb, what),
	}
	nf, wf := addNodeFlags(c.Flags()), addWaitFlags(c.Flags())
	c.Flags().StringVar(&keyPath, "key", "", "the voting committee member's operator key file (its node.key)")
	c.Flags().StringVar(&cfgPath, "config", "", "instead of --key: the voting member's config.toml, whose node.key signs")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErr("want one OPERATOR (its key, 64 hex digits or base58), got %d arguments", len(args))
		}
		target, err := parseOwnerFlag(args[0])
		if err != nil {
			return usageErr("OPERATOR %v", err)
		}
		var key ed25519.PrivateKey
		switch {
		case (keyPath == "") == (cfgPath == ""):
			return usageErr("give one of --key (the voting member's node.key) and --config")
		case keyPath != "":
			if key, err = loadWallet(keyPath); err != nil {
				return err
			}
		default:
			if _, key, err = loadNodeConfig(cfgPath); err != nil {
				return err
			}
		}
		cl, err := newClientCmd(cmd, nf)
		if err != nil {
			return err
		}
		t := newTx(kind, key)
		t.Operator = target
		t.Sign(key)
		ctx := context.Background()
		res, err := cl.client.Submit(ctx, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		return cl.finishOperator(ctx, res, wf, target, func(w io.Writer, op *api.Operator, ops []api.Operator) {
			if op == nil {
				fmt.Fprintf(w, "Next: the vote counts once it commits; see it with: dagger tx status --node %s %s\n", cl.client.URL(), res.ID)
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
				fmt.Fprintf(w, "  %s --key <its node.key> --node %s %s\n", cmd.CommandPath(), cl.client.URL(), target)
			}
		})
	}
	return c
}

func newNodeLeaveCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "leave --config F --node URL [--wait] [--json]",
		Short: "this operator leaves at the next epoch boundary",
		Long: `This node's operator leaves the cluster at the next epoch boundary; a request to join that
is still pending is withdrawn at once. The VMs it hosts move to other operators.`,
	}
	nf, wf := addNodeFlags(c.Flags()), addWaitFlags(c.Flags())
	c.Flags().StringVar(&cfgPath, "config", "", "the leaving node's config.toml; its node.key signs")
	c.Args = flagsOnly
	c.RunE = func(cmd *cobra.Command, args []string) error {
		_, key, err := loadNodeConfig(cfgPath)
		if err != nil {
			return err
		}
		cl, err := newClientCmd(cmd, nf)
		if err != nil {
			return err
		}
		t := newTx(tx.KindOperatorLeave, key)
		t.Sign(key)
		ctx := context.Background()
		res, err := cl.client.Submit(ctx, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		self := tx.Key(key.Public().(ed25519.PublicKey))
		return cl.finishOperator(ctx, res, wf, self, func(w io.Writer, op *api.Operator, ops []api.Operator) {
			fmt.Fprintln(w, "Next: the operator leaves the committee at the next epoch boundary; keep the node running until")
			fmt.Fprintf(w, "GET %s/v1/operators shows it removed, then stop it (SIGTERM).\n", cl.client.URL())
		})
	}
	return c
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
	next func(w io.Writer, op *api.Operator, ops []api.Operator)) error {
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
	err := c.print(out, func(w io.Writer) {
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
		return failf(1, "%s", failed)
	}
	return err
}
