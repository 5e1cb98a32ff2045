package main

// The client commands: vm create|delete|renew|get|list and tx status. They
// speak to a node's HTTP API (package node/live/api) and sign every transaction
// here, with the customer's wallet key; the node never sees a private key.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/node/tx"
)

const (
	// defaultNodeURL is where a node's API listens unless configured
	// otherwise.
	defaultNodeURL = "http://127.0.0.1:8700"
	// defaultWait is how long --wait waits for a commit; within the
	// server's default bound (api.DefaultMaxWait).
	defaultWait = 30 * time.Second
	// maxSSHKeyFileBytes bounds what --ssh-key reads.
	maxSSHKeyFileBytes = tx.MaxSSHKeyBytes + 1
)

// nodeFlags are the flags every client command takes.
type nodeFlags struct {
	node   string
	asJSON bool
}

func addNodeFlags(fs *pflag.FlagSet) *nodeFlags {
	f := &nodeFlags{}
	fs.StringVar(&f.node, "node", defaultNodeURL, "the node's API URL")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON for programs instead of text")
	return f
}

// waitFlags are the flags of the commands that submit a transaction.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func addWaitFlags(fs *pflag.FlagSet) *waitFlags {
	f := &waitFlags{}
	fs.BoolVar(&f.wait, "wait", false, "wait until the transaction commits or is rejected")
	fs.DurationVar(&f.timeout, "timeout", defaultWait, "how long --wait waits (at most the node's bound, 1m by default)")
	return f
}

// duration is how long to ask the node to wait: 0 without --wait.
func (w *waitFlags) duration() time.Duration {
	if !w.wait {
		return 0
	}
	return w.timeout
}

func newVMCmd() *cobra.Command {
	c := group("vm", "pay for, change and read VMs through a node (vm create|renew|delete|get|list|events)",
		"Pays for, changes and reads VMs through a node's API; every change is signed with the wallet key.")
	c.AddCommand(newVMCreateCmd(), newVMRenewCmd(), newVMDeleteCmd(), newVMGetCmd(), newVMListCmd(), newVMEventsCmd())
	return c
}

func newTxCmd() *cobra.Command {
	c := group("tx", "what a node knows of a transaction (tx status)",
		"Prints what a node knows of a transaction: pending, committed (where, and what it did) or rejected.")
	c.AddCommand(newTxStatusCmd())
	return c
}

// clientCmd holds what every client command has once its flags parsed.
type clientCmd struct {
	client *api.Client
	flags  *nodeFlags
	stdout io.Writer
	stderr io.Writer
}

func newClientCmd(cmd *cobra.Command, f *nodeFlags) (*clientCmd, error) {
	c, err := api.NewClient(f.node, 0)
	if err != nil {
		return nil, usageErr("--node: %v", err)
	}
	return &clientCmd{client: c, flags: f, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}, nil
}

// fail reports an error of the node or the network and says what to try.
func (c *clientCmd) fail(err error) error {
	if hint := nextStep(err, c.client.URL()); hint != "" {
		return failf(1, "%v\nnext: %s", err, hint)
	}
	return failf(1, "%v", err)
}

func nextStep(err error, node string) string {
	switch api.CodeOf(err) {
	case api.CodeBusy:
		return "the node has too many pending transactions: retry in a few seconds, or use another node with --node"
	case api.CodeUnavailable:
		return "the node stopped: use another node with --node"
	case api.CodeTimeout:
		return "the node is overloaded or stuck: retry, or use another node with --node"
	case api.CodeRejected:
		return "the node did not admit the transaction: fix what the reason says and run the command again"
	case "":
		var e *api.Error
		if !errors.As(err, &e) {
			return fmt.Sprintf("check --node: is a node's API listening at %s?", node)
		}
	}
	return ""
}

func (c *clientCmd) print(v any, text func(w io.Writer)) error {
	if c.flags.asJSON {
		return printJSON(c.stdout, v)
	}
	text(c.stdout)
	return nil
}

func loadWallet(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, usageErr("--key is required: the wallet key file that signs (dagger keys new makes one)")
	}
	k, err := keyfile.Load(path)
	if err != nil {
		return nil, failf(1, "%v", err)
	}
	return k, nil
}

// newTx returns a transaction of kind by key's owner, with a fresh nonce
// and an expiry tx.DefaultValidity from now.
func newTx(kind tx.Kind, key ed25519.PrivateKey) tx.Tx {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	t := tx.Tx{Kind: kind, Nonce: binary.BigEndian.Uint64(nonce[:]), Expiry: time.Now().Add(tx.DefaultValidity).UnixNano()}
	copy(t.Author[:], key.Public().(ed25519.PublicKey))
	return t
}

// paymentFlags are the flags of the commands that pay.
type paymentFlags struct {
	rpc string
}

func addPaymentFlags(fs *pflag.FlagSet) *paymentFlags {
	f := &paymentFlags{}
	fs.StringVar(&f.rpc, "solana-rpc", "", "a Solana JSON-RPC URL: take the blockhash from it and send the payment to it\n(without it the payment is built offline and not sent: only a node that does not confirm payments, such as a devnet's, accepts it)")
	return f
}

// paid is what a command paid, for the output.
type paid struct {
	Lamports  uint64 `json:"lamports"`
	Treasury  string `json:"treasury"`
	Signature string `json:"signature"`
	Sent      bool   `json:"sent_to_solana"`
}

// pay prices spec for lease with the cluster's own price function, builds
// the Solana payment bound to t's memo, signs t, and sends the payment if a
// Solana RPC is given. t must be complete but for the payment: nothing is
// sent to Solana for a transaction the cluster would refuse.
func (c *clientCmd) pay(ctx context.Context, t *tx.Tx, key ed25519.PrivateKey, spec tx.Spec, pf *paymentFlags) (paid, error) {
	p, err := c.client.Params(ctx)
	if err != nil {
		return paid{}, c.fail(fmt.Errorf("read the cluster's prices: %w", err))
	}
	params, err := p.Cluster()
	if err != nil {
		return paid{}, c.fail(fmt.Errorf("the node's parameters: %w", err))
	}
	lamports, err := params.PriceOf(spec, t.Lease)
	if err != nil {
		return paid{}, usageErr("the price of %d vCPU, %d MiB, %d GiB for %v: %v; ask for less", spec.VCPU, spec.MemoryMiB, spec.DiskGiB, t.Lease, err)
	}
	var blockhash [32]byte
	var rpc *payment.RPC
	if pf.rpc != "" {
		if rpc, err = payment.NewRPC(payment.RPCConfig{Endpoint: pf.rpc}); err != nil {
			return paid{}, usageErr("--solana-rpc: %v", err)
		}
		if blockhash, err = rpc.LatestBlockhash(ctx); err != nil {
			return paid{}, c.fail(fmt.Errorf("--solana-rpc: %w", err))
		}
	}
	wire, sig, err := payment.Build(key, params.Treasury, lamports, t.Memo(), blockhash)
	if err != nil {
		return paid{}, c.fail(err)
	}
	t.Payment = wire
	t.Sign(key)
	if err := t.Validate(); err != nil {
		return paid{}, usageErr("%v", err)
	}
	out := paid{Lamports: lamports, Treasury: params.Treasury.String(), Signature: sig.String()}
	if rpc == nil {
		fmt.Fprintf(c.stderr, "note: the payment of %d lamports was not sent to Solana (no --solana-rpc); only a node that does not confirm payments, such as a devnet's, will accept it\n", lamports)
		return out, nil
	}
	// Send checks that the node answers with the payment's own signature.
	if _, err := rpc.Send(ctx, wire); err != nil {
		return paid{}, c.fail(fmt.Errorf("send the payment to Solana: %w", err))
	}
	out.Sent = true
	return out, nil
}

// submitted is what a submitting command prints.
type submitted struct {
	Tx      string       `json:"tx"`
	VM      string       `json:"vm,omitempty"`
	Payment *paid        `json:"payment,omitempty"`
	Status  api.TxStatus `json:"status"`
	// View is the VM after the commit, with --wait.
	View *api.VM `json:"vm_state,omitempty"`
}

// failure says why a submission did not take effect, or "" if it did or
// may still.
func (c *clientCmd) failure(res api.SubmitResult, wf *waitFlags) string {
	st := res.Status
	switch {
	case st.State == "rejected":
		return "rejected: " + st.Reason
	case st.Outcome != nil && !st.Outcome.OK:
		return "committed without effect: " + st.Outcome.Reason
	case wf.wait && !st.Decided():
		return fmt.Sprintf("still %s after %v; ask again with: dagger tx status --node %s %s", st.State, wf.timeout, c.client.URL(), res.ID)
	}
	return ""
}

// finish reports a submission: its ids, and with --wait its fate and the
// VM's state after it. A transaction that did not take effect fails.
func (c *clientCmd) finish(ctx context.Context, res api.SubmitResult, pay *paid, wf *waitFlags) error {
	out := submitted{Tx: res.ID, VM: res.VM, Payment: pay, Status: res.Status}
	st := res.Status
	failed := c.failure(res, wf)
	if failed == "" && wf.wait && res.VM != "" {
		id, _ := tx.ParseID(res.VM)
		if v, err := c.client.VM(ctx, id); err == nil {
			out.View = &v
		} else if api.CodeOf(err) != api.CodeNotFound {
			return c.fail(err)
		}
	}
	err := c.print(out, func(w io.Writer) {
		if out.VM != "" {
			fmt.Fprintf(w, "vm       %s\n", out.VM)
		}
		fmt.Fprintf(w, "tx       %s\n", out.Tx)
		if pay != nil {
			sent := "not sent to Solana"
			if pay.Sent {
				sent = "sent to Solana"
			}
			fmt.Fprintf(w, "payment  %d lamports to %s, signature %s (%s)\n", pay.Lamports, pay.Treasury, pay.Signature, sent)
		}
		fmt.Fprintf(w, "status   %s\n", st.State)
		if out.View != nil {
			fmt.Fprintf(w, "vm state %s\n", describeState(*out.View))
		}
	})
	if failed != "" {
		return failf(1, "%s", failed)
	}
	return err
}

func newVMCreateCmd() *cobra.Command {
	var keyPath, image, region, sshKey string
	var vcpu uint
	var memory, disk uint64
	var lease time.Duration
	c := &cobra.Command{
		Use: "create --node URL --key WALLET --vcpu N --memory-mib N --disk-gib N --image NAME --lease DURATION" +
			" [--region R] [--ssh-key FILE] [--solana-rpc URL] [--wait] [--json]",
		Short: "pay for a VM and ask the cluster to run it",
		Long: `Pays the cluster's treasury the price of the VM for the lease and asks the cluster to run it.
Prints the VM's id and the transaction's; with --wait, the VM's state once the request commits.
Exit status: 0 done, 1 failed or refused, 2 invalid arguments.`,
	}
	f := c.Flags()
	nf, wf, pf := addNodeFlags(f), addWaitFlags(f), addPaymentFlags(f)
	f.StringVar(&keyPath, "key", "", "the wallet key file: it signs the request and pays")
	f.UintVar(&vcpu, "vcpu", 0, "virtual CPUs")
	f.Uint64Var(&memory, "memory-mib", 0, "memory, MiB")
	f.Uint64Var(&disk, "disk-gib", 0, "disk, GiB")
	f.StringVar(&image, "image", "", "the image to boot, by name")
	f.StringVar(&region, "region", "", "the region to run in (default: the one region the active operators serve)")
	f.StringVar(&sshKey, "ssh-key", "", "a file holding an SSH public key to install")
	f.DurationVar(&lease, "lease", 0, "how long the VM runs, in whole seconds (e.g. 1h, 720h)")
	c.Args = flagsOnly
	c.RunE = func(cmd *cobra.Command, args []string) error {
		for _, name := range []string{"vcpu", "memory-mib", "disk-gib", "image", "lease"} {
			if !cmd.Flags().Changed(name) {
				return usageErr("--%s is required", name)
			}
		}
		if vcpu > tx.MaxVCPU {
			return usageErr("--vcpu %d: at most %d", vcpu, tx.MaxVCPU)
		}
		key, err := loadWallet(keyPath)
		if err != nil {
			return err
		}
		spec := tx.Spec{VCPU: uint32(vcpu), MemoryMiB: memory, DiskGiB: disk, Image: image, Region: region}
		if sshKey != "" {
			k, err := readSSHKey(sshKey)
			if err != nil {
				return failf(1, "%v", err)
			}
			spec.SSHKey = k
		}
		cl, err := newClientCmd(cmd, nf)
		if err != nil {
			return err
		}
		ctx := context.Background()
		if spec.Region == "" {
			if spec.Region, err = cl.onlyRegion(ctx); err != nil {
				return err
			}
		}
		t := newTx(tx.KindVMCreate, key)
		t.Spec, t.Lease = spec, lease
		if err := checkBeforePaying(t); err != nil {
			return err
		}
		pay, err := cl.pay(ctx, &t, key, spec, pf)
		if err != nil {
			return err
		}
		res, err := cl.client.CreateVM(ctx, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		return cl.finish(ctx, res, &pay, wf)
	}
	return c
}

// checkBeforePaying validates t with a stand-in payment, so that a request
// the cluster would refuse fails before anything is paid.
func checkBeforePaying(t tx.Tx) error {
	t.Payment = []byte{0}
	if err := t.Validate(); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// onlyRegion returns the region the active operators serve, if it is one.
func (c *clientCmd) onlyRegion(ctx context.Context) (string, error) {
	ops, err := c.client.Operators(ctx)
	if err != nil {
		return "", c.fail(fmt.Errorf("list the operators to find a region: %w", err))
	}
	var regions []string
	for _, o := range ops {
		if o.Status == "active" && !slices.Contains(regions, o.Region) {
			regions = append(regions, o.Region)
		}
	}
	slices.Sort(regions)
	switch len(regions) {
	case 1:
		return regions[0], nil
	case 0:
		return "", c.fail(errors.New("no operator is active, so no region can run a VM"))
	}
	return "", usageErr("--region is required: the operators serve %s", strings.Join(regions, ", "))
}

// readSSHKey reads the public key in the file at path: one line, which
// tx.CheckSSHKey accepts once its line end is cut, so that a key the cluster
// would refuse is refused before the payment is signed.
func readSSHKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--ssh-key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSSHKeyFileBytes))
	if err != nil {
		return "", fmt.Errorf("--ssh-key %s: %w", path, err)
	}
	// A .pub file is the key's line and its end; anything more is not
	// one key, and the cluster would refuse it.
	k := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	switch {
	case len(b) >= maxSSHKeyFileBytes:
		return "", fmt.Errorf("--ssh-key %s: more than %d bytes: pass a public key (the .pub file)", path, tx.MaxSSHKeyBytes)
	case strings.Contains(k, "PRIVATE KEY"):
		return "", fmt.Errorf("--ssh-key %s: a private key: pass the .pub file", path)
	}
	if err := tx.CheckSSHKey(k); err != nil {
		return "", fmt.Errorf("--ssh-key %s: %w", path, err)
	}
	return k, nil
}

func newVMRenewCmd() *cobra.Command {
	var keyPath string
	var lease time.Duration
	c := &cobra.Command{
		Use:   "renew --node URL --key WALLET --lease DURATION [--solana-rpc URL] [--wait] [--json] VM",
		Short: "pay for more of a VM's lease",
		Long:  "Pays for more of a VM's lease; anyone may pay for any VM.",
	}
	f := c.Flags()
	nf, wf, pf := addNodeFlags(f), addWaitFlags(f), addPaymentFlags(f)
	f.StringVar(&keyPath, "key", "", "the wallet key file: it signs the request and pays")
	f.DurationVar(&lease, "lease", 0, "how much to extend the lease, in whole seconds (e.g. 24h)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, cl, err := idCommand(cmd, nf, args)
		if err != nil {
			return err
		}
		if !cmd.Flags().Changed("lease") {
			return usageErr("--lease is required")
		}
		key, err := loadWallet(keyPath)
		if err != nil {
			return err
		}
		ctx := context.Background()
		v, err := cl.client.VM(ctx, id)
		if err != nil {
			return cl.fail(err)
		}
		t := newTx(tx.KindVMRenew, key)
		t.VM, t.Lease = id, lease
		if err := checkBeforePaying(t); err != nil {
			return err
		}
		pay, err := cl.pay(ctx, &t, key, v.Spec(), pf)
		if err != nil {
			return err
		}
		res, err := cl.client.RenewVM(ctx, id, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		return cl.finish(ctx, res, &pay, wf)
	}
	return c
}

func newVMDeleteCmd() *cobra.Command {
	var keyPath string
	c := &cobra.Command{
		Use:   "delete --node URL --key WALLET [--wait] [--json] VM",
		Short: "delete a VM",
		Long:  "Asks the cluster to delete a VM; the rest of its lease is not refunded.",
	}
	nf, wf := addNodeFlags(c.Flags()), addWaitFlags(c.Flags())
	c.Flags().StringVar(&keyPath, "key", "", "the owner's wallet key file: only the owner may delete a VM")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, cl, err := idCommand(cmd, nf, args)
		if err != nil {
			return err
		}
		key, err := loadWallet(keyPath)
		if err != nil {
			return err
		}
		t := newTx(tx.KindVMDelete, key)
		t.VM = id
		t.Sign(key)
		ctx := context.Background()
		res, err := cl.client.DeleteVM(ctx, id, t.Encode(), wf.duration())
		if err != nil {
			return cl.fail(err)
		}
		return cl.finish(ctx, res, nil, wf)
	}
	return c
}

func newVMGetCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "get --node URL [--json] VM",
		Short: "print a VM",
		Long:  "Prints a VM as of the node's latest commit.",
	}
	nf := addNodeFlags(c.Flags())
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, cl, err := idCommand(cmd, nf, args)
		if err != nil {
			return err
		}
		v, err := cl.client.VM(context.Background(), id)
		if err != nil {
			return cl.fail(err)
		}
		return cl.print(v, func(w io.Writer) { printVM(w, v) })
	}
	return c
}

func newVMEventsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "events --node URL [--json] VM",
		Short: "print a VM's history",
		Long: "Prints what happened to a VM, oldest first, at consensus times: its creation, each placement\n" +
			"on a host, each move with why it moved (the host failed, stopped reporting, equivocated or left),\n" +
			"its host's reports, renewals and its end, with any refund owed to its owner.",
	}
	nf := addNodeFlags(c.Flags())
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, cl, err := idCommand(cmd, nf, args)
		if err != nil {
			return err
		}
		evs, err := cl.client.VMEvents(context.Background(), id)
		if err != nil {
			return cl.fail(err)
		}
		return cl.print(evs, func(w io.Writer) { printVMEvents(w, evs) })
	}
	return c
}

func printVMEvents(w io.Writer, evs api.VMEvents) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tEVENT\tSTATE\tHOST\tWHAT HAPPENED")
	for _, e := range evs.Events {
		host := "-"
		if e.Host != "" {
			host = e.Host[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", formatTime(e.TimeUnixNs), e.Kind, e.State, host, e.Reason)
	}
	tw.Flush()
}

func newVMListCmd() *cobra.Command {
	var ownerFlag, keyPath string
	c := &cobra.Command{
		Use:   "list --node URL (--owner KEY|ADDRESS | --key WALLET) [--json]",
		Short: "list an owner's VMs",
		Long:  "Lists an owner's VMs, every state included, sorted by id.",
	}
	nf := addNodeFlags(c.Flags())
	c.Flags().StringVar(&ownerFlag, "owner", "", "the owner's public key (hex) or Solana address (base58)")
	c.Flags().StringVar(&keyPath, "key", "", "a wallet key file: list its owner's VMs")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unexpected argument %q: name the owner with --owner or --key", args[0])
		}
		var owner tx.Key
		switch {
		case (ownerFlag == "") == (keyPath == ""):
			return usageErr("give one of --owner and --key")
		case keyPath != "":
			k, err := loadWallet(keyPath)
			if err != nil {
				return err
			}
			owner = tx.Key(k.Public().(ed25519.PublicKey))
		default:
			var err error
			if owner, err = parseOwnerFlag(ownerFlag); err != nil {
				return usageErr("--owner: %v", err)
			}
		}
		cl, err := newClientCmd(cmd, nf)
		if err != nil {
			return err
		}
		vms, err := cl.client.VMsByOwner(context.Background(), owner)
		if err != nil {
			return cl.fail(err)
		}
		return cl.print(api.VMList{VMs: vms}, func(w io.Writer) {
			if len(vms) == 0 {
				fmt.Fprintf(w, "no VMs owned by %s\n", payment.Address(owner))
				return
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VM\tSTATE\tLEASE LEFT\tACCESS\tVCPU\tMEMORY\tDISK\tREGION")
			for _, v := range vms {
				access := "-"
				if v.Access != nil {
					access = v.Access.SSH
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d MiB\t%d GiB\t%s\n", v.ID, v.State, v.LeaseLeft, access, v.VCPU, v.MemoryMiB, v.DiskGiB, v.Region)
			}
			tw.Flush()
		})
	}
	return c
}

func parseOwnerFlag(s string) (tx.Key, error) {
	if k, err := tx.ParseKey(s); err == nil {
		return k, nil
	}
	a, err := payment.ParseAddress(s)
	if err != nil {
		return tx.Key{}, fmt.Errorf("%q: want a public key (64 hex digits) or a Solana address (base58)", s)
	}
	return tx.Key(a), nil
}

func newTxStatusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status --node URL [--json] ID",
		Short: "what a node knows of a transaction",
		Long: `Prints what the node knows of a transaction. Exit status: 0 pending or committed with effect,
1 rejected, committed without effect, unknown to the node, or the node failed; 2 invalid arguments.`,
	}
	nf := addNodeFlags(c.Flags())
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, cl, err := idCommand(cmd, nf, args)
		if err != nil {
			return err
		}
		st, err := cl.client.TxStatus(context.Background(), id)
		if err != nil {
			return cl.fail(err)
		}
		err = cl.print(st, func(w io.Writer) {
			fmt.Fprintf(w, "tx       %s\nstate    %s\n", st.ID, st.State)
			if st.Reason != "" {
				fmt.Fprintf(w, "reason   %s\n", st.Reason)
			}
			if st.State == "committed" {
				fmt.Fprintf(w, "commit   %d", st.CommitIndex)
				if st.Event != "" {
					fmt.Fprintf(w, " (event %s, position %d)", st.Event, st.Position)
				}
				fmt.Fprintln(w)
			}
			if o := st.Outcome; o != nil {
				effect := "took effect"
				if !o.OK {
					effect = "no effect: " + o.Reason
				}
				fmt.Fprintf(w, "outcome  %s, %s\n", o.Kind, effect)
				if o.VM != "" {
					fmt.Fprintf(w, "vm       %s\n", o.VM)
				}
			}
		})
		if err != nil {
			return err
		}
		if st.State == "rejected" || st.Outcome != nil && !st.Outcome.OK {
			return exitCode(1)
		}
		return nil
	}
	return c
}

// idCommand reads the one id argument of a command about a VM or a
// transaction, and makes its client.
func idCommand(cmd *cobra.Command, nf *nodeFlags, args []string) (tx.ID, *clientCmd, error) {
	if len(args) != 1 {
		return tx.ID{}, nil, usageErr("want one id (64 hex digits), got %d arguments", len(args))
	}
	id, err := tx.ParseID(args[0])
	if err != nil {
		return tx.ID{}, nil, usageErr("%v", err)
	}
	cl, err := newClientCmd(cmd, nf)
	return id, cl, err
}

func describeState(v api.VM) string {
	if v.Reason != "" {
		return v.State + " (" + v.Reason + ")"
	}
	return v.State
}

func printVM(w io.Writer, v api.VM) {
	fmt.Fprintf(w, "vm         %s\n", v.ID)
	fmt.Fprintf(w, "state      %s\n", describeState(v))
	fmt.Fprintf(w, "owner      %s (%s)\n", v.OwnerAddress, v.Owner)
	fmt.Fprintf(w, "spec       %d vCPU, %d MiB memory, %d GiB disk, image %s, region %s\n", v.VCPU, v.MemoryMiB, v.DiskGiB, v.Image, v.Region)
	if v.Host != "" {
		fmt.Fprintf(w, "host       %s\n", v.Host)
	}
	fmt.Fprintf(w, "created    %s\n", formatTime(v.CreatedUnixNs))
	if v.LeaseLeft != "" && v.LeaseLeft != "0s" {
		fmt.Fprintf(w, "lease end  %s (ends in %s)\n", formatTime(v.LeaseEndUnixNs), v.LeaseLeft)
	} else {
		fmt.Fprintf(w, "lease end  %s (ended)\n", formatTime(v.LeaseEndUnixNs))
	}
	fmt.Fprintf(w, "paid       %d lamports\n", v.PaidLamports)
	if v.RefundDueLamports > 0 {
		fmt.Fprintf(w, "refund due %d lamports (paid for time it never ran; the treasury pays it back)\n", v.RefundDueLamports)
	}
	if v.Access != nil {
		fmt.Fprintf(w, "access     %s\n", v.Access.SSH)
	} else if v.State == "provisioning" || v.State == "running" {
		fmt.Fprintf(w, "access     not yet: its host has not reported an address\n")
	}
}

func formatTime(unixNs int64) string {
	return time.Unix(0, unixNs).UTC().Format("2006-01-02 15:04:05")
}
