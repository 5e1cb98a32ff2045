package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"dagger/graph"
	"dagger/node"
	"dagger/node/tx"
)

// Bounds of the client.
const (
	// DefaultClientTimeout bounds each call, on top of the wait a
	// submission asks for.
	DefaultClientTimeout = 30 * time.Second
	// MaxResponseBytes bounds what the client reads of a response: the
	// largest event in base64, with its header.
	MaxResponseBytes = graph.DefaultMaxEventBytes/3*4 + 1<<20
	// MaxSnapshotBytes bounds the state snapshot Client.Snapshot reads:
	// 256 MiB, about a million VMs' worth of state. It is below what a
	// node may store (cluster.MaxSnapshotBytes), so that a client never
	// holds more than this per source; a larger snapshot fails with an
	// error that says so.
	MaxSnapshotBytes = 256 << 20
	// errorBodyBytesMax bounds how much of a response that is not the
	// server's JSON an error quotes.
	errorBodyBytesMax = 256
)

// Client calls a node's API. Its methods are safe for concurrent use.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
}

// NewClient returns a client of the node at baseURL (such as
// http://127.0.0.1:8700). Each call is bounded by timeout
// (DefaultClientTimeout if 0), plus the wait a submission asks for.
func NewClient(baseURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("node URL %q: want http://host:port or https://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	// A dedicated transport: connecting and the TLS handshake get bounds of
	// their own, so an unreachable node fails fast even in a long wait.
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{base: u, http: &http.Client{Transport: tr}, timeout: timeout}, nil
}

// URL returns the node's base URL.
func (c *Client) URL() string { return c.base.String() }

// Submit submits a signed, encoded transaction. With wait > 0 the node
// waits up to wait (at most its MaxWait) for the transaction's fate: the
// result's Status.Decided() tells whether it came.
func (c *Client) Submit(ctx context.Context, data []byte, wait time.Duration) (SubmitResult, error) {
	var res SubmitResult
	err := c.submit(ctx, http.MethodPost, "/v1/txs", data, wait, &res)
	return res, err
}

// SubmitBatch submits many transactions at once: one result per
// transaction, in order. They travel as raw bytes, length-prefixed.
func (c *Client) SubmitBatch(ctx context.Context, txs [][]byte) (BatchResult, error) {
	var res BatchResult
	err := c.do(ctx, http.MethodPost, "/v1/txs/batch", nil, "application/octet-stream", AppendFrames(nil, txs), 0, &res)
	return res, err
}

// SubmitOpaque queues application transactions at POST /v1/opaque (a node
// whose config enables it). The result says how many were queued, in
// order; when not all, the error says why the next was refused: an *Error
// with CodeBusy (HTTP 503) means the node's queue is full, slow down.
func (c *Client) SubmitOpaque(ctx context.Context, txs [][]byte) (OpaqueResult, error) {
	status, b, where, err := c.roundTrip(ctx, http.MethodPost, "/v1/opaque", nil, "application/octet-stream", AppendFrames(nil, txs), 0)
	if err != nil {
		return OpaqueResult{}, err
	}
	var res OpaqueResult
	jerr := json.Unmarshal(b, &res)
	if status >= 300 {
		if jerr != nil || res.Error == "" {
			return OpaqueResult{Refused: len(txs)}, decodeError(status, b)
		}
		return res, &Error{Status: status, Code: res.Error, Reason: res.Reason}
	}
	if jerr != nil {
		return res, fmt.Errorf("%s: the response is not the expected JSON: %w", where, jerr)
	}
	return res, nil
}

// WatchCommits opens the node's commit stream (GET /v1/commits/stream):
// each commit from now on with its transactions' hashes. The stream lasts
// until ctx is done, the caller closes it, or the node ends it; only
// opening it is bounded by the client's timeout.
func (c *Client) WatchCommits(ctx context.Context) (*CommitStream, error) {
	u := *c.base
	u.Path += "/v1/commits/stream"
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	opening := time.AfterFunc(c.timeout, cancel)
	resp, err := c.http.Do(req)
	if !opening.Stop() && err == nil {
		err = context.DeadlineExceeded
		resp.Body.Close()
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("GET %s: opening the stream: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
		return nil, decodeError(resp.StatusCode, b)
	}
	return NewCommitStream(resp.Body, closer(func() error { cancel(); return resp.Body.Close() })), nil
}

// closer is a function that is an io.Closer.
type closer func() error

func (f closer) Close() error { return f() }

// TxStatus returns what the node knows of a transaction; an *Error with
// CodeNotFound if nothing.
func (c *Client) TxStatus(ctx context.Context, id tx.ID) (TxStatus, error) {
	var st TxStatus
	err := c.get(ctx, "/v1/txs/"+id.String(), nil, &st)
	return st, err
}

// CreateVM submits a signed vm-create; the result's VM is the new VM's id.
func (c *Client) CreateVM(ctx context.Context, data []byte, wait time.Duration) (SubmitResult, error) {
	var res SubmitResult
	err := c.submit(ctx, http.MethodPost, "/v1/vms", data, wait, &res)
	return res, err
}

// DeleteVM submits a signed vm-delete of VM id.
func (c *Client) DeleteVM(ctx context.Context, id tx.ID, data []byte, wait time.Duration) (SubmitResult, error) {
	var res SubmitResult
	err := c.submit(ctx, http.MethodDelete, "/v1/vms/"+id.String(), data, wait, &res)
	return res, err
}

// RenewVM submits a signed vm-renew of VM id.
func (c *Client) RenewVM(ctx context.Context, id tx.ID, data []byte, wait time.Duration) (SubmitResult, error) {
	var res SubmitResult
	err := c.submit(ctx, http.MethodPost, "/v1/vms/"+id.String()+"/renew", data, wait, &res)
	return res, err
}

// VM returns a VM as of the node's latest commit; an *Error with
// CodeNotFound if there is none.
func (c *Client) VM(ctx context.Context, id tx.ID) (VM, error) {
	var v VM
	err := c.get(ctx, "/v1/vms/"+id.String(), nil, &v)
	return v, err
}

// VMEvents returns a VM's history as of the node's latest commit.
func (c *Client) VMEvents(ctx context.Context, id tx.ID) (VMEvents, error) {
	var v VMEvents
	err := c.get(ctx, "/v1/vms/"+id.String()+"/events", nil, &v)
	return v, err
}

// Operator returns one operator, with what it hosted and earned.
func (c *Client) Operator(ctx context.Context, k tx.Key) (Operator, error) {
	var o Operator
	err := c.get(ctx, "/v1/operators/"+k.String(), nil, &o)
	return o, err
}

// VMsByOwner returns an owner's VMs, sorted by id.
func (c *Client) VMsByOwner(ctx context.Context, owner tx.Key) ([]VM, error) {
	var l VMList
	err := c.get(ctx, "/v1/vms", url.Values{"owner": {owner.String()}}, &l)
	return l.VMs, err
}

// Operators returns every operator the cluster knows.
func (c *Client) Operators(ctx context.Context) ([]Operator, error) {
	var l OperatorList
	err := c.get(ctx, "/v1/operators", nil, &l)
	return l.Operators, err
}

// Params returns the cluster's rules; Params.Cluster prices VMs with them.
func (c *Client) Params(ctx context.Context) (Params, error) {
	var p Params
	err := c.get(ctx, "/v1/params", nil, &p)
	return p, err
}

// Event returns a stored event.
func (c *Client) Event(ctx context.Context, h graph.Hash) (Event, error) {
	var e Event
	err := c.get(ctx, "/v1/events/"+h.Hex(), nil, &e)
	return e, err
}

// Commits returns up to limit commits from index from on (0 for the
// server's default limit).
func (c *Client) Commits(ctx context.Context, from uint64, limit int) ([]Commit, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var l CommitList
	err := c.get(ctx, "/v1/commits", q, &l)
	return l.Commits, err
}

// Status describes the node.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.get(ctx, "/v1/status", nil, &st)
	return st, err
}

// Snapshot returns the node's newest stored state snapshot: its bytes,
// the epoch whose start it holds and its commit. It is an *Error with
// CodeNotFound if the node stored none yet. A snapshot larger than
// MaxSnapshotBytes is refused; the call is bounded by the client's timeout,
// so a large snapshot over a slow link needs a client made with a longer
// one. The bytes are as the node sent them: node.RestoreSnapshot checks
// them.
func (c *Client) Snapshot(ctx context.Context) (node.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.base
	u.Path += "/v1/snapshot"
	where := "GET " + u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return node.Snapshot{}, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/octet-stream, application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return node.Snapshot{}, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
		if err != nil {
			return node.Snapshot{}, fmt.Errorf("%s: HTTP %d, and reading its body: %w", where, resp.StatusCode, err)
		}
		return node.Snapshot{}, decodeError(resp.StatusCode, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/octet-stream" {
		return node.Snapshot{}, fmt.Errorf("%s: the response is %q, not a snapshot (application/octet-stream): is this a DAGGER node's API?",
			where, resp.Header.Get("Content-Type"))
	}
	var sn node.Snapshot
	for _, h := range []struct {
		name string
		v    *uint64
	}{{HeaderSnapshotEpoch, &sn.Epoch}, {HeaderSnapshotCommit, &sn.Commit}} {
		raw := resp.Header.Get(h.name)
		if *h.v, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return node.Snapshot{}, fmt.Errorf("%s: header %s is %q, not a whole number", where, h.name, raw)
		}
	}
	if resp.ContentLength > MaxSnapshotBytes {
		return node.Snapshot{}, fmt.Errorf("%s: the snapshot is %d bytes, more than the %d this client reads", where, resp.ContentLength, MaxSnapshotBytes)
	}
	if sn.Data, err = io.ReadAll(io.LimitReader(resp.Body, MaxSnapshotBytes+1)); err != nil {
		return node.Snapshot{}, fmt.Errorf("%s: read the snapshot: %w", where, err)
	}
	if len(sn.Data) > MaxSnapshotBytes {
		return node.Snapshot{}, fmt.Errorf("%s: the snapshot exceeds the %d bytes this client reads", where, MaxSnapshotBytes)
	}
	if resp.ContentLength >= 0 && int64(len(sn.Data)) != resp.ContentLength {
		return node.Snapshot{}, fmt.Errorf("%s: read %d bytes of a %d-byte snapshot", where, len(sn.Data), resp.ContentLength)
	}
	return sn, nil
}

// Health returns nil while the node runs, and an *Error saying why not
// once it stopped.
func (c *Client) Health(ctx context.Context) error {
	var h Health
	return c.get(ctx, "/v1/health", nil, &h)
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, q, "", nil, 0, out)
}

// submit sends one transaction as raw bytes, the encoding that costs
// neither side a base64 pass.
func (c *Client) submit(ctx context.Context, method, path string, data []byte, wait time.Duration, out any) error {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {"commit"}, "timeout": {wait.String()}}
	}
	return c.do(ctx, method, path, q, "application/octet-stream", data, wait, out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body []byte, wait time.Duration, out any) error {
	status, b, where, err := c.roundTrip(ctx, method, path, q, contentType, body, wait)
	if err != nil {
		return err
	}
	if status >= 300 {
		return decodeError(status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the response is not the expected JSON: %w", where, err)
	}
	return nil
}

// roundTrip sends one request and reads its response, bounded in time and
// size. where names the request for errors.
func (c *Client) roundTrip(ctx context.Context, method, path string, q url.Values, contentType string, body []byte, wait time.Duration) (status int, b []byte, where string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+wait)
	defer cancel()
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	where = method + " " + u.Redacted()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, where, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return 0, nil, where, fmt.Errorf("%s: read the response: %w", where, err)
	}
	if len(b) > MaxResponseBytes {
		return 0, nil, where, fmt.Errorf("%s: the response exceeds %d bytes", where, MaxResponseBytes)
	}
	return resp.StatusCode, b, where, nil
}

// decodeError reads an error response: the server's JSON, or whatever a
// proxy in between sent, quoted.
func decodeError(status int, body []byte) *Error {
	var e Error
	if err := json.Unmarshal(body, &e); err == nil && e.Code != "" {
		e.Status = status
		return &e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > errorBodyBytesMax {
		text = text[:errorBodyBytesMax] + "..."
	}
	if text == "" {
		text = http.StatusText(status)
	}
	return &Error{Status: status, Reason: text}
}
