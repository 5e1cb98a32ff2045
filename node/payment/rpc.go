package payment

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"
)

// Defaults of an RPC chain.
const (
	// DefaultRPCTimeout bounds one JSON-RPC call, connection included. A
	// healthy Solana RPC node answers in well under a second; the slack is
	// for public endpoints under load.
	DefaultRPCTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds a response body. A signature status is
	// a few hundred bytes; a failed preflight of sendTransaction carries the
	// simulation's logs, a few kilobytes at most.
	DefaultMaxResponseBytes = 1 << 20
)

// Commitment levels a payment can be confirmed at.
const (
	// CommitmentFinalized is the only level at which a payment cannot be
	// rolled back: a supermajority has rooted its block.
	CommitmentFinalized = "finalized"
	// CommitmentConfirmed is a supermajority's vote on the block, which
	// Solana has so far never rolled back but does not promise to keep.
	// It is for test clusters, where waiting for roots slows tests down.
	CommitmentConfirmed = "confirmed"
)

// RPCConfig configures an RPC chain.
type RPCConfig struct {
	// Endpoint is the URL of a Solana JSON-RPC node.
	Endpoint string
	// Commitment is the level at which Status reports StatusFinalized:
	// CommitmentFinalized (the default) or CommitmentConfirmed. Only
	// finalized is safe for payments that admit real VMs.
	Commitment string
	// Timeout bounds each call; DefaultRPCTimeout if zero.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body; DefaultMaxResponseBytes if
	// zero.
	MaxResponseBytes int64
	// HTTPClient sends the requests; a client of its own if nil. Its
	// Transport is wrapped, never modified.
	HTTPClient *http.Client
}

// RPC is a Chain that asks a Solana JSON-RPC node. It is safe for
// concurrent use. Status blocks for up to the configured timeout, so a node
// wraps it in an AsyncChain.
type RPC struct {
	client     *rpc.Client
	commitment rpc.CommitmentType
	timeout    time.Duration
}

var _ Chain = (*RPC)(nil)

// NewRPC checks cfg and returns a chain speaking JSON-RPC to its endpoint.
// It does not connect.
func NewRPC(cfg RPCConfig) (*RPC, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("solana rpc: no endpoint")
	}
	switch cfg.Commitment {
	case "":
		cfg.Commitment = CommitmentFinalized
	case CommitmentFinalized, CommitmentConfirmed:
	default:
		return nil, fmt.Errorf("solana rpc: commitment %q: want %q or %q", cfg.Commitment, CommitmentFinalized, CommitmentConfirmed)
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("solana rpc: negative timeout %v or response bound %d", cfg.Timeout, cfg.MaxResponseBytes)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultRPCTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &checkedTransport{base: base, max: cfg.MaxResponseBytes}
	return &RPC{
		client:     rpc.NewWithCustomRPCClient(jsonrpc.NewClientWithOpts(cfg.Endpoint, &jsonrpc.RPCClientOpts{HTTPClient: hc})),
		commitment: rpc.CommitmentType(cfg.Commitment),
		timeout:    cfg.Timeout,
	}, nil
}

// Status implements Chain with getSignatureStatuses, searching the whole
// transaction history so that a payment older than the status cache (about
// a minute and a half of slots) is still found.
//
// A transaction that failed reports StatusFailed only once its block
// reached the commitment: below it the block may be dropped and the same
// signed transaction land on another fork, where it might succeed.
func (c *RPC) Status(sig Signature) (Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	out, err := c.client.GetSignatureStatuses(ctx, true, solana.Signature(sig))
	if err != nil {
		return StatusNotFound, callError("getSignatureStatuses", err)
	}
	if len(out.Value) != 1 {
		return StatusNotFound, fmt.Errorf("solana rpc getSignatureStatuses: %d statuses for one signature", len(out.Value))
	}
	v := out.Value[0]
	if v == nil {
		return StatusNotFound, nil
	}
	reached, err := c.reached(v.ConfirmationStatus)
	switch {
	case err != nil:
		return StatusNotFound, err
	case !reached:
		return StatusPending, nil
	case v.Err != nil:
		return StatusFailed, nil
	}
	return StatusFinalized, nil
}

// reached says whether a transaction at level is at or beyond the
// configured commitment.
func (c *RPC) reached(level rpc.ConfirmationStatusType) (bool, error) {
	switch level {
	case rpc.ConfirmationStatusFinalized:
		return true, nil
	case rpc.ConfirmationStatusConfirmed:
		return c.commitment == rpc.CommitmentConfirmed, nil
	case rpc.ConfirmationStatusProcessed:
		return false, nil
	}
	return false, fmt.Errorf("solana rpc getSignatureStatuses: unknown confirmationStatus %q", level)
}

// LatestBlockhash returns a blockhash at the configured commitment for a
// new transaction to name: Solana accepts it for about 150 blocks.
func (c *RPC) LatestBlockhash(ctx context.Context) ([32]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.client.GetLatestBlockhash(ctx, c.commitment)
	if err != nil {
		return [32]byte{}, callError("getLatestBlockhash", err)
	}
	if out == nil || out.Value == nil || out.Value.Blockhash.IsZero() {
		return [32]byte{}, errors.New("solana rpc getLatestBlockhash: no blockhash in the response")
	}
	return out.Value.Blockhash, nil
}

// Send submits a signed transaction's wire bytes with sendTransaction and
// returns its signature. The node's preflight simulation runs at the
// configured commitment, the one LatestBlockhash reads, so that it knows the
// blockhash. Acceptance means only that the node will forward the
// transaction: Status says whether it landed.
func (c *RPC) Send(ctx context.Context, wire []byte) (Signature, error) {
	tx, err := solana.TransactionFromBytes(wire)
	if err != nil || len(tx.Signatures) == 0 {
		return Signature{}, fmt.Errorf("solana rpc sendTransaction: not a signed transaction: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	got, err := c.client.SendEncodedTransactionWithOpts(ctx, base64.StdEncoding.EncodeToString(wire),
		rpc.TransactionOpts{PreflightCommitment: c.commitment})
	if err != nil {
		return Signature{}, callError("sendTransaction", err)
	}
	// The signature is the transaction's id from here on; one the node
	// made up would have the caller wait for a transaction that is not
	// theirs.
	if got != tx.Signatures[0] {
		return Signature{}, fmt.Errorf("solana rpc sendTransaction: node answered signature %s for transaction %s", got, tx.Signatures[0])
	}
	return Signature(got), nil
}

// RPCError is a JSON-RPC error object a Solana node answered with, such as
// a failed preflight simulation (code -32002) or a node that is behind
// (-32005).
type RPCError struct {
	Method  string
	Code    int
	Message string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("solana rpc %s: error %d: %s", e.Method, e.Code, e.Message)
}

// HTTPStatusError is an answer with a status other than 200, such as 429
// from a rate-limited public endpoint; its body is not trusted even when it
// parses.
type HTTPStatusError struct {
	Code int
	Body string // the start of the body, for the log
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("http status %d: %q", e.Code, e.Body)
}

// callError names the method of a failed call and replaces the JSON-RPC
// library's multi-line dump of an error object with one line.
func callError(method string, err error) error {
	var re *jsonrpc.RPCError
	if errors.As(err, &re) {
		return &RPCError{Method: method, Code: re.Code, Message: re.Message}
	}
	return fmt.Errorf("solana rpc %s: %w", method, err)
}

// checkedTransport rejects answers that are not 200 before the JSON-RPC
// library reads them (it would accept a result from an error page) and
// bounds the body it reads.
type checkedTransport struct {
	base http.RoundTripper
	max  int64
}

// errBodyTooLarge is what reading past the bound of a body returns.
var errBodyTooLarge = errors.New("response body too large")

// httpErrorBodyBytes is how much of an error page goes into the error.
const httpErrorBodyBytes = 256

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, httpErrorBodyBytes))
		resp.Body.Close()
		return nil, &HTTPStatusError{Code: resp.StatusCode, Body: string(head)}
	}
	resp.Body = &boundedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// boundedBody fails a read past its bound rather than ending early, so that
// a truncated response is never decoded as if it were whole.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the bound from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
