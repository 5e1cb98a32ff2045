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
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/payment"
	"dagger/node/tx"
)

const (
	// defaultNodeURL is where a node's API listens unless configured
	// otherwise.
	defaultNodeURL = "http://127.0.0.1:8700"
	// txValidity is how long a signed transaction may wait to commit. The
	// cluster refuses expiries more than tx.MaxValidity ahead.
	txValidity = 5 * time.Minute
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

func addNodeFlags(fs *flag.FlagSet) *nodeFlags {
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

func addWaitFlags(fs *flag.FlagSet) *waitFlags {
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

func runVM(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return runVMCreate(args[1:], stdout, stderr)
		case "delete":
			return runVMDelete(args[1:], stdout, stderr)
		case "renew":
			return runVMRenew(args[1:], stdout, stderr)
		case "get":
			return runVMGet(args[1:], stdout, stderr)
		case "list":
			return runVMList(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: dagger vm create --node URL --key WALLET --vcpu N --memory-mib N --disk-gib N --image NAME --lease DURATION")
	fmt.Fprintln(stderr, "                        [--region R] [--ssh-key FILE] [--solana-rpc URL] [--wait] [--json]")
	fmt.Fprintln(stderr, "       dagger vm renew  --node URL --key WALLET --lease DURATION [--solana-rpc URL] [--wait] [--json] VM")
	fmt.Fprintln(stderr, "       dagger vm delete --node URL --key WALLET [--wait] [--json] VM")
	fmt.Fprintln(stderr, "       dagger vm get    --node URL [--json] VM")
	fmt.Fprintln(stderr, "       dagger vm list   --node URL (--owner KEY|ADDRESS | --key WALLET) [--json]")
	fmt.Fprintln(stderr, "Pays for, changes and reads VMs through a node's API; every change is signed with the wallet key.")
	if len(args) > 0 && isHelp(args[0]) {
		return 0
	}
	return 2
}

func runTx(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		return runTxStatus(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: dagger tx status --node URL [--json] ID")
	fmt.Fprintln(stderr, "Prints what a node knows of a transaction: pending, committed (where, and what it did) or rejected.")
	if len(args) > 0 && isHelp(args[0]) {
		return 0
	}
	return 2
}

// clientCmd holds what every client command has once its flags parsed.
type clientCmd struct {
	name   string
	client *api.Client
	flags  *nodeFlags
	stdout io.Writer
	stderr io.Writer
}

func newClientCmd(name string, f *nodeFlags, stdout, stderr io.Writer) (*clientCmd, int) {
	c, err := api.NewClient(f.node, 0)
	if err != nil {
		return nil, usageErr(stderr, name, "--node: %v", err)
	}
	return &clientCmd{name: name, client: c, flags: f, stdout: stdout, stderr: stderr}, -1
}

// fail reports an error of the node or the network and says what to try.
func (c *clientCmd) fail(err error) int {
	fmt.Fprintf(c.stderr, "dagger %s: %v\n", c.name, err)
	if hint := nextStep(err, c.client.URL()); hint != "" {
		fmt.Fprintf(c.stderr, "next: %s\n", hint)
	}
	return 1
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

func (c *clientCmd) print(v any, text func(w io.Writer)) int {
	if c.flags.asJSON {
		return printJSON(c.stdout, c.stderr, v)
	}
	text(c.stdout)
	return 0
}

func loadWallet(stderr io.Writer, cmd, path string) (ed25519.PrivateKey, int) {
	if path == "" {
		return nil, usageErr(stderr, cmd, "--key is required: the wallet key file that signs (dagger keys new makes one)")
	}
	k, err := keyfile.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "dagger %s: %v\n", cmd, err)
		return nil, 1
	}
	return k, -1
}

// newTx returns a transaction of kind by key's owner, with a fresh nonce
// and an expiry txValidity from now.
func newTx(kind tx.Kind, key ed25519.PrivateKey) tx.Tx {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	t := tx.Tx{Kind: kind, Nonce: binary.BigEndian.Uint64(nonce[:]), Expiry: time.Now().Add(txValidity).UnixNano()}
	copy(t.Author[:], key.Public().(ed25519.PublicKey))
	return t
}

// paymentFlags are the flags of the commands that pay.
type paymentFlags struct {
	rpc string
}

func addPaymentFlags(fs *flag.FlagSet) *paymentFlags {
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
func (c *clientCmd) pay(ctx context.Context, t *tx.Tx, key ed25519.PrivateKey, spec tx.Spec, pf *paymentFlags) (paid, int) {
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
		return paid{}, usageErr(c.stderr, c.name, "the price of %d vCPU, %d MiB, %d GiB for %v: %v; ask for less", spec.VCPU, spec.MemoryMiB, spec.DiskGiB, t.Lease, err)
	}
	var blockhash [32]byte
	var rpc *payment.RPC
	if pf.rpc != "" {
		if rpc, err = payment.NewRPC(payment.RPCConfig{Endpoint: pf.rpc}); err != nil {
			return paid{}, usageErr(c.stderr, c.name, "--solana-rpc: %v", err)
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
		return paid{}, usageErr(c.stderr, c.name, "%v", err)
	}
	out := paid{Lamports: lamports, Treasury: params.Treasury.String(), Signature: sig.String()}
	if rpc == nil {
		fmt.Fprintf(c.stderr, "note: the payment of %d lamports was not sent to Solana (no --solana-rpc); only a node that does not confirm payments, such as a devnet's, will accept it\n", lamports)
		return out, -1
	}
	// Send checks that the node answers with the payment's own signature.
	if _, err := rpc.Send(ctx, wire); err != nil {
		return paid{}, c.fail(fmt.Errorf("send the payment to Solana: %w", err))
	}
	out.Sent = true
	return out, -1
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
func (c *clientCmd) finish(ctx context.Context, res api.SubmitResult, pay *paid, wf *waitFlags) int {
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
	code := c.print(out, func(w io.Writer) {
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
		fmt.Fprintf(c.stderr, "dagger %s: %s\n", c.name, failed)
		return 1
	}
	return code
}

func runVMCreate(args []string, stdout, stderr io.Writer) int {
	const name = "vm create"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf, pf := addNodeFlags(fs), addWaitFlags(fs), addPaymentFlags(fs)
	keyPath := fs.String("key", "", "the wallet key file: it signs the request and pays")
	vcpu := fs.Uint("vcpu", 0, "virtual CPUs")
	memory := fs.Uint64("memory-mib", 0, "memory, MiB")
	disk := fs.Uint64("disk-gib", 0, "disk, GiB")
	image := fs.String("image", "", "the image to boot, by name")
	region := fs.String("region", "", "the region to run in (default: the one region the active operators serve)")
	sshKey := fs.String("ssh-key", "", "a file holding an SSH public key to install")
	lease := fs.Duration("lease", 0, "how long the VM runs, in whole seconds (e.g. 1h, 720h)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger vm create --node URL --key WALLET --vcpu N --memory-mib N --disk-gib N --image NAME --lease DURATION")
		fmt.Fprintln(stderr, "                        [--region R] [--ssh-key FILE] [--solana-rpc URL] [--wait] [--json]")
		fmt.Fprintln(stderr, "Pays the cluster's treasury the price of the VM for the lease and asks the cluster to run it.")
		fmt.Fprintln(stderr, "Prints the VM's id and the transaction's; with --wait, the VM's state once the request commits.")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 failed or refused, 2 invalid arguments.")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, name, "unexpected argument %q: every input is a flag", pos[0])
	}
	set := flagsSet(fs)
	for _, f := range []string{"vcpu", "memory-mib", "disk-gib", "image", "lease"} {
		if !set[f] {
			return usageErr(stderr, name, "--%s is required", f)
		}
	}
	if *vcpu > tx.MaxVCPU {
		return usageErr(stderr, name, "--vcpu %d: at most %d", *vcpu, tx.MaxVCPU)
	}
	key, code := loadWallet(stderr, name, *keyPath)
	if code >= 0 {
		return code
	}
	spec := tx.Spec{VCPU: uint32(*vcpu), MemoryMiB: *memory, DiskGiB: *disk, Image: *image, Region: *region}
	if *sshKey != "" {
		k, err := readSSHKey(*sshKey)
		if err != nil {
			fmt.Fprintf(stderr, "dagger %s: %v\n", name, err)
			return 1
		}
		spec.SSHKey = k
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	if spec.Region == "" {
		if spec.Region, code = c.onlyRegion(ctx); code >= 0 {
			return code
		}
	}
	t := newTx(tx.KindVMCreate, key)
	t.Spec, t.Lease = spec, *lease
	if code := checkBeforePaying(stderr, name, t); code >= 0 {
		return code
	}
	pay, code := c.pay(ctx, &t, key, spec, pf)
	if code >= 0 {
		return code
	}
	res, err := c.client.CreateVM(ctx, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	return c.finish(ctx, res, &pay, wf)
}

// checkBeforePaying validates t with a stand-in payment, so that a request
// the cluster would refuse fails before anything is paid.
func checkBeforePaying(stderr io.Writer, name string, t tx.Tx) int {
	t.Payment = []byte{0}
	if err := t.Validate(); err != nil {
		return usageErr(stderr, name, "%v", err)
	}
	return -1
}

// onlyRegion returns the region the active operators serve, if it is one.
func (c *clientCmd) onlyRegion(ctx context.Context) (string, int) {
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
		return regions[0], -1
	case 0:
		return "", c.fail(errors.New("no operator is active, so no region can run a VM"))
	}
	return "", usageErr(c.stderr, c.name, "--region is required: the operators serve %s", strings.Join(regions, ", "))
}

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
	k := strings.TrimSpace(string(b))
	switch {
	case len(b) >= maxSSHKeyFileBytes:
		return "", fmt.Errorf("--ssh-key %s: more than %d bytes: pass a public key (the .pub file)", path, tx.MaxSSHKeyBytes)
	case k == "" || strings.Contains(k, "PRIVATE KEY"):
		return "", fmt.Errorf("--ssh-key %s: not an SSH public key: pass the .pub file", path)
	}
	return k, nil
}

func runVMRenew(args []string, stdout, stderr io.Writer) int {
	const name = "vm renew"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf, pf := addNodeFlags(fs), addWaitFlags(fs), addPaymentFlags(fs)
	keyPath := fs.String("key", "", "the wallet key file: it signs the request and pays")
	lease := fs.Duration("lease", 0, "how much to extend the lease, in whole seconds (e.g. 24h)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger vm renew --node URL --key WALLET --lease DURATION [--solana-rpc URL] [--wait] [--json] VM")
		fmt.Fprintln(stderr, "Pays for more of a VM's lease; anyone may pay for any VM.")
		fs.PrintDefaults()
	}
	id, c, code := vmCommand(name, fs, nf, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if !flagsSet(fs)["lease"] {
		return usageErr(stderr, name, "--lease is required")
	}
	key, code := loadWallet(stderr, name, *keyPath)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	v, err := c.client.VM(ctx, id)
	if err != nil {
		return c.fail(err)
	}
	t := newTx(tx.KindVMRenew, key)
	t.VM, t.Lease = id, *lease
	if code := checkBeforePaying(stderr, name, t); code >= 0 {
		return code
	}
	pay, code := c.pay(ctx, &t, key, v.Spec(), pf)
	if code >= 0 {
		return code
	}
	res, err := c.client.RenewVM(ctx, id, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	return c.finish(ctx, res, &pay, wf)
}

func runVMDelete(args []string, stdout, stderr io.Writer) int {
	const name = "vm delete"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf, wf := addNodeFlags(fs), addWaitFlags(fs)
	keyPath := fs.String("key", "", "the owner's wallet key file: only the owner may delete a VM")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger vm delete --node URL --key WALLET [--wait] [--json] VM")
		fmt.Fprintln(stderr, "Asks the cluster to delete a VM; the rest of its lease is not refunded.")
		fs.PrintDefaults()
	}
	id, c, code := vmCommand(name, fs, nf, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	key, code := loadWallet(stderr, name, *keyPath)
	if code >= 0 {
		return code
	}
	t := newTx(tx.KindVMDelete, key)
	t.VM = id
	t.Sign(key)
	ctx := context.Background()
	res, err := c.client.DeleteVM(ctx, id, t.Encode(), wf.duration())
	if err != nil {
		return c.fail(err)
	}
	return c.finish(ctx, res, nil, wf)
}

func runVMGet(args []string, stdout, stderr io.Writer) int {
	const name = "vm get"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger vm get --node URL [--json] VM")
		fmt.Fprintln(stderr, "Prints a VM as of the node's latest commit.")
		fs.PrintDefaults()
	}
	id, c, code := vmCommand(name, fs, nf, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	v, err := c.client.VM(context.Background(), id)
	if err != nil {
		return c.fail(err)
	}
	return c.print(v, func(w io.Writer) { printVM(w, v) })
}

func runVMList(args []string, stdout, stderr io.Writer) int {
	const name = "vm list"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs)
	ownerFlag := fs.String("owner", "", "the owner's public key (hex) or Solana address (base58)")
	keyPath := fs.String("key", "", "a wallet key file: list its owner's VMs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger vm list --node URL (--owner KEY|ADDRESS | --key WALLET) [--json]")
		fmt.Fprintln(stderr, "Lists an owner's VMs, every state included, sorted by id.")
		fs.PrintDefaults()
	}
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, name, "unexpected argument %q: name the owner with --owner or --key", pos[0])
	}
	var owner tx.Key
	switch {
	case (*ownerFlag == "") == (*keyPath == ""):
		return usageErr(stderr, name, "give one of --owner and --key")
	case *keyPath != "":
		k, code := loadWallet(stderr, name, *keyPath)
		if code >= 0 {
			return code
		}
		owner = tx.Key(k.Public().(ed25519.PublicKey))
	default:
		var err error
		if owner, err = parseOwnerFlag(*ownerFlag); err != nil {
			return usageErr(stderr, name, "--owner: %v", err)
		}
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	if code >= 0 {
		return code
	}
	vms, err := c.client.VMsByOwner(context.Background(), owner)
	if err != nil {
		return c.fail(err)
	}
	return c.print(api.VMList{VMs: vms}, func(w io.Writer) {
		if len(vms) == 0 {
			fmt.Fprintf(w, "no VMs owned by %s\n", payment.Address(owner))
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VM\tSTATE\tVCPU\tMEMORY\tDISK\tREGION\tLEASE END (UTC)")
		for _, v := range vms {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d MiB\t%d GiB\t%s\t%s\n", v.ID, v.State, v.VCPU, v.MemoryMiB, v.DiskGiB, v.Region, formatTime(v.LeaseEndUnixNs))
		}
		tw.Flush()
	})
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

func runTxStatus(args []string, stdout, stderr io.Writer) int {
	const name = "tx status"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dagger tx status --node URL [--json] ID")
		fmt.Fprintln(stderr, "Prints what the node knows of a transaction. Exit status: 0 pending or committed with effect,")
		fmt.Fprintln(stderr, "1 rejected, committed without effect, unknown to the node, or the node failed; 2 invalid arguments.")
		fs.PrintDefaults()
	}
	id, c, code := vmCommand(name, fs, nf, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	st, err := c.client.TxStatus(context.Background(), id)
	if err != nil {
		return c.fail(err)
	}
	code = c.print(st, func(w io.Writer) {
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
	if st.State == "rejected" || st.Outcome != nil && !st.Outcome.OK {
		return 1
	}
	return code
}

// vmCommand parses the flags and the one id argument of a command about a
// VM or a transaction, and makes its client.
func vmCommand(name string, fs *flag.FlagSet, nf *nodeFlags, args []string, stdout, stderr io.Writer) (tx.ID, *clientCmd, int) {
	pos, code := parseFlags(fs, args)
	if code >= 0 {
		return tx.ID{}, nil, code
	}
	if len(pos) != 1 {
		return tx.ID{}, nil, usageErr(stderr, name, "want one id (64 hex digits), got %d arguments", len(pos))
	}
	id, err := tx.ParseID(pos[0])
	if err != nil {
		return tx.ID{}, nil, usageErr(stderr, name, "%v", err)
	}
	c, code := newClientCmd(name, nf, stdout, stderr)
	return id, c, code
}

func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
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
	fmt.Fprintf(w, "lease end  %s\n", formatTime(v.LeaseEndUnixNs))
	fmt.Fprintf(w, "paid       %d lamports\n", v.PaidLamports)
}

func formatTime(unixNs int64) string {
	return time.Unix(0, unixNs).UTC().Format("2006-01-02 15:04:05")
}
