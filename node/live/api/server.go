package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"dagger/graph"
	"dagger/graph/codec"
	"dagger/node"
	"dagger/node/cluster"
	"dagger/node/payment"
	"dagger/node/tx"
)

// Defaults and bounds of the server.
const (
	// DefaultMaxBodyBytes bounds a request body: a batch of 4096
	// transactions of 1 KiB each, in base64, fits.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultRequestTimeout bounds each call into the Backend.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultWait is how long ?wait=commit waits without ?timeout.
	DefaultWait = 10 * time.Second
	// DefaultMaxWait bounds ?timeout: a waiting request holds a connection.
	DefaultMaxWait = time.Minute
	// DefaultMaxSnapshotDownloads bounds the snapshot downloads served at
	// once: each holds the snapshot's bytes until its client has read
	// them, so a few clients that never read could otherwise pin the
	// node's memory.
	DefaultMaxSnapshotDownloads = 2
	// DefaultSnapshotWriteTime is the least time a snapshot download is
	// given; it gets a second more for every SnapshotMinRate bytes.
	DefaultSnapshotWriteTime = 30 * time.Second
	// DefaultSnapshotMinRate is the slowest download rate a snapshot
	// client is allowed, in bytes per second: a slower one is cut off.
	DefaultSnapshotMinRate = 1 << 20
	// DefaultMaxBatchTxs bounds the transactions of one batch.
	DefaultMaxBatchTxs = 4096
	// DefaultMaxOpaqueTxs bounds the transactions of one POST /v1/opaque;
	// MaxOpaqueTxBytes one of them (the graph's bound on a transaction).
	DefaultMaxOpaqueTxs = 1 << 16
	MaxOpaqueTxBytes    = graph.DefaultMaxTxBytes
	// DefaultCommitsLimit and MaxCommitsLimit bound GET /v1/commits.
	DefaultCommitsLimit = 100
	MaxCommitsLimit     = 1000

	// maxTxBodyBytes bounds a body that carries one transaction: the
	// largest transaction in base64, with room for the JSON around it.
	// Nothing larger can be valid, so the server reads no more.
	maxTxBodyBytes = (tx.MaxBytes+2)/3*4 + 1024
	// The wait for a commit polls the node, quickly at first (a commit
	// takes a few hundred milliseconds) and then more calmly.
	waitPollMin = 10 * time.Millisecond
	waitPollMax = 250 * time.Millisecond
)

// Options configure a server. Zero fields take their defaults.
type Options struct {
	// Logger receives a debug line per request and errors the server did
	// not expect; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (DefaultMaxBodyBytes). A body that
	// carries one transaction is also bounded by what the largest
	// transaction needs.
	MaxBodyBytes int64
	// RequestTimeout bounds each call into the Backend
	// (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxWait bounds ?timeout of a submission that waits for its commit
	// (DefaultMaxWait).
	MaxWait time.Duration
	// MaxBatchTxs bounds the transactions of one batch (DefaultMaxBatchTxs).
	MaxBatchTxs int
	// MaxSnapshotDownloads bounds concurrent GET /v1/snapshot responses
	// (DefaultMaxSnapshotDownloads); more are refused with 503 and
	// Retry-After. SnapshotWriteTime is the least time one may take
	// (DefaultSnapshotWriteTime), plus a second per SnapshotMinRate bytes
	// (DefaultSnapshotMinRate).
	MaxSnapshotDownloads int
	SnapshotWriteTime    time.Duration
	SnapshotMinRate      int
	// ClientRate is how many transactions a second one client (IP
	// address) may submit on average, ClientBurst how many at once
	// (DefaultClientRate, DefaultClientBurst); negative means unlimited.
	// Loopback clients are not limited. Over it a client gets 429 with
	// Retry-After.
	ClientRate  float64
	ClientBurst int
	// LoopbackOnly: the API listens on loopback addresses only, so a
	// request whose Host header names anything else came through a
	// rebound DNS name (a web page in the operator's browser) and is
	// refused.
	LoopbackOnly bool
	// Version is reported by GET /v1/status when the Backend reports none.
	Version string
	// Metrics, if set, is served at GET /metrics (Prometheus' handler).
	Metrics http.Handler
	// Opaque enables POST /v1/opaque, the bulk submission of application
	// transactions for benchmarks; MaxOpaqueTxs bounds one request's
	// (DefaultMaxOpaqueTxs). OpaqueRefused, if set, hears each refusal
	// there: its reason (busy, rejected, malformed, too_large,
	// rate_limited, disabled, unavailable) and how many transactions it
	// turned away.
	Opaque        bool
	MaxOpaqueTxs  int
	OpaqueRefused func(reason string, n int)
	// MaxWatchers bounds the commit streams (GET /v1/commits/stream)
	// served at once (DefaultMaxWatchers); more are refused with 503.
	MaxWatchers int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxSnapshotDownloads <= 0 {
		o.MaxSnapshotDownloads = DefaultMaxSnapshotDownloads
	}
	if o.SnapshotWriteTime <= 0 {
		o.SnapshotWriteTime = DefaultSnapshotWriteTime
	}
	if o.SnapshotMinRate <= 0 {
		o.SnapshotMinRate = DefaultSnapshotMinRate
	}
	if o.ClientRate == 0 {
		o.ClientRate = DefaultClientRate
	}
	if o.ClientBurst <= 0 {
		o.ClientBurst = DefaultClientBurst
	}
	if o.MaxBatchTxs <= 0 {
		o.MaxBatchTxs = DefaultMaxBatchTxs
	}
	if o.MaxOpaqueTxs <= 0 {
		o.MaxOpaqueTxs = DefaultMaxOpaqueTxs
	}
	if o.MaxWatchers <= 0 {
		o.MaxWatchers = DefaultMaxWatchers
	}
	return o
}

// metricsPattern is where Options.Metrics is served.
const metricsPattern = "GET /metrics"

// handler serves one route: it returns the status and the body to send as
// JSON, or an error that the server turns into an error response.
type handler func(w http.ResponseWriter, r *http.Request) (int, any, error)

type route struct {
	pattern string // an http.ServeMux pattern
	h       handler
}

type server struct {
	b   Backend
	opt Options
	mux *http.ServeMux
	// downloads holds a token per snapshot download in progress.
	downloads chan struct{}
	// watchers holds a token per commit stream open.
	watchers chan struct{}
	clients  *limiter
}

// NewServer returns the API's handler, serving from b.
func NewServer(b Backend, opt Options) http.Handler {
	s := &server{b: b, opt: opt.withDefaults(), mux: http.NewServeMux()}
	s.downloads = make(chan struct{}, s.opt.MaxSnapshotDownloads)
	s.watchers = make(chan struct{}, s.opt.MaxWatchers)
	s.clients = newLimiter(s.opt.ClientRate, s.opt.ClientBurst)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.endpoint(rt.h))
	}
	if s.opt.Metrics != nil {
		s.mux.Handle(metricsPattern, s.opt.Metrics)
	}
	return s
}

// routes lists every route but /metrics; docs/openapi.yaml documents each.
func (s *server) routes() []route {
	return []route{
		{"POST /v1/txs", s.submitTx},
		{"POST /v1/txs/batch", s.submitBatch},
		{"POST /v1/opaque", s.submitOpaque},
		{"GET /v1/txs/{id}", s.getTx},
		{"POST /v1/vms", s.createVM},
		{"GET /v1/vms", s.listVMs},
		{"GET /v1/vms/{id}", s.getVM},
		{"GET /v1/vms/{id}/events", s.vmEvents},
		{"DELETE /v1/vms/{id}", s.deleteVM},
		{"POST /v1/vms/{id}/renew", s.renewVM},
		{"GET /v1/operators", s.operators},
		{"GET /v1/operators/{id}", s.operator},
		{"GET /v1/params", s.params},
		{"GET /v1/events/{hash}", s.event},
		{"GET /v1/commits", s.commits},
		{"GET /v1/commits/stream", s.commitStream},
		{"GET /v1/snapshot", s.snapshot},
		{"GET /v1/status", s.status},
		{"GET /v1/health", s.health},
	}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	if s.opt.LoopbackOnly && !hostAllowed(r) {
		writeError(rec, errorf(http.StatusMisdirectedRequest, CodeBadRequest,
			"the Host header %q does not name this node, which serves loopback only: address it as 127.0.0.1 or localhost", clip(r.Host)))
	} else if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(rec, r)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	s.opt.Logger.LogAttrs(r.Context(), slog.LevelDebug, "api request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.Duration("took", time.Since(start)))
}

// unmatched answers a request no route takes: 405 if the path has routes
// for other methods, 404 otherwise, as the mux decides, but in JSON.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	c := &capture{header: http.Header{}}
	h.ServeHTTP(c, r)
	if c.status == http.StatusMethodNotAllowed {
		allow := c.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s %s: this path takes %s", r.Method, r.URL.Path, allow))
		return
	}
	writeError(w, notFound("no route %s %s: the routes are in docs/openapi.yaml", r.Method, r.URL.Path))
}

func (s *server) endpoint(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := h(w, r)
		if err != nil {
			writeError(w, s.classify(r, err))
			return
		}
		switch b := body.(type) {
		case binaryBody:
			b.write(w, status)
		case written:
		default:
			writeJSON(w, status, body)
		}
	})
}

// classify turns an error into the response that says what it means.
func (s *server) classify(r *http.Request, err error) *Error {
	var e *Error
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &big):
		return tooLarge("the body exceeds %d bytes", big.Limit)
	case errors.Is(err, node.ErrRejected):
		return rejected("%v", err)
	case errors.Is(err, node.ErrBusy):
		return errorf(http.StatusServiceUnavailable, CodeBusy, "%v: retry after a second, or use another node", err)
	case errors.Is(err, ErrUnavailable):
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "%v: it is shutting down or stopped by a fault (GET /v1/status says which); use another node", err)
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusGatewayTimeout, CodeTimeout, "the node did not answer within %v: it is overloaded or stuck; retry later", s.opt.RequestTimeout)
	case errors.Is(err, context.Canceled):
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "the request was canceled")
	}
	s.opt.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return errorf(http.StatusInternalServerError, CodeInternal, "%v", err)
}

func writeError(w http.ResponseWriter, e *Error) {
	switch {
	case e.retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	case e.Code == CodeBusy:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every view is plain data; this is a bug, reported as one.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&Error{Code: CodeInternal, Reason: "the response does not encode: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a client that left cannot be told
}

// call bounds one call into the Backend.
func (s *server) call(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opt.RequestTimeout)
}

// query returns r's query after checking that it holds only parameters
// the route takes, each once.
func query(r *http.Request, takes ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query does not parse: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(takes, k) {
			if len(takes) == 0 {
				return nil, badRequest("unknown query parameter %q: this route takes none", k)
			}
			return nil, badRequest("unknown query parameter %q: this route takes %s", k, strings.Join(takes, ", "))
		}
		if n := len(q[k]); n > 1 {
			return nil, badRequest("query parameter %q is given %d times: give it once", k, n)
		}
	}
	return q, nil
}

// waitParam reads ?wait=commit&timeout=D: how long a submission waits for
// its transaction's fate, 0 for not at all.
func (s *server) waitParam(q url.Values) (time.Duration, error) {
	if !q.Has("wait") {
		if q.Has("timeout") {
			return 0, badRequest("timeout is how long wait=commit waits: add wait=commit")
		}
		return 0, nil
	}
	if w := q.Get("wait"); w != "commit" {
		return 0, badRequest("wait=%q: the one value is commit", w)
	}
	if !q.Has("timeout") {
		return min(DefaultWait, s.opt.MaxWait), nil
	}
	t := q.Get("timeout")
	d, err := time.ParseDuration(t)
	switch {
	case err != nil || d <= 0:
		return 0, badRequest("timeout=%q: want a positive duration such as 10s", t)
	case d > s.opt.MaxWait:
		return 0, badRequest("timeout=%s exceeds the %v this node waits at most: wait again with GET /v1/txs/{id}", t, s.opt.MaxWait)
	}
	return d, nil
}

// mediaType returns the body's media type, which must be one of takes.
func mediaType(r *http.Request, takes ...string) (string, error) {
	ct := r.Header.Get("Content-Type")
	unsupported := func(format string, args ...any) error {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "%s: send Content-Type %s",
			fmt.Sprintf(format, args...), strings.Join(takes, " or "))
	}
	if ct == "" {
		return "", unsupported("the request has no Content-Type")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", unsupported("Content-Type %q does not parse", ct)
	}
	if !slices.Contains(takes, mt) {
		return "", unsupported("Content-Type %s is not taken here", mt)
	}
	return mt, nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge("the body is %d bytes; at most %d are taken here", r.ContentLength, limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// The length is known: one buffer of it, where reading to the end
		// grows one from 512 bytes, copying as it goes (twice the bytes
		// of a bulk submission allocated, and as many copied). A body
		// that is not as long as it said is refused as before.
		b = make([]byte, n)
		if _, err = io.ReadFull(body, b); err == nil {
			var one [1]byte
			if k, _ := body.Read(one[:]); k > 0 {
				err = fmt.Errorf("the body is longer than its Content-Length, %d bytes", n)
			}
		}
	} else {
		b, err = io.ReadAll(body)
	}
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return nil, tooLarge("the body exceeds %d bytes, the most taken here", big.Limit)
	case err != nil:
		return nil, badRequest("read the body: %v", err)
	}
	return b, nil
}

// decodeJSON decodes exactly one JSON value into v, strictly: a field v
// lacks is a mistake to report, not to ignore.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not the JSON this route takes: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

// decodeTxBody reads a body that carries one transaction: JSON
// {"tx": base64} or the raw bytes.
func decodeTxBody(mt string, body []byte) ([]byte, error) {
	data := body
	if mt == "application/json" {
		var b TxBody
		if err := decodeJSON(body, &b); err != nil {
			return nil, err
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(b.Tx); err != nil {
			return nil, badRequest("tx is not standard base64: %v", err)
		}
	}
	if len(data) == 0 {
		return nil, badRequest("the body carries no transaction: send {\"tx\": \"<base64 of the signed encoding>\"}")
	}
	return data, nil
}

func (s *server) readTx(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, err := mediaType(r, "application/json", "application/octet-stream")
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r, min(s.opt.MaxBodyBytes, maxTxBodyBytes))
	if err != nil {
		return nil, err
	}
	return decodeTxBody(mt, body)
}

// submit admits one transaction; check, if set, is what the route demands
// of it. With ?wait=commit it waits, within bounds, for its fate: 200 once
// decided, 202 while pending.
func (s *server) submit(w http.ResponseWriter, r *http.Request, check func(*tx.Tx) error) (int, SubmitResult, error) {
	q, err := query(r, "wait", "timeout")
	if err != nil {
		return 0, SubmitResult{}, err
	}
	wait, err := s.waitParam(q)
	if err != nil {
		return 0, SubmitResult{}, err
	}
	if ok, retry := s.clients.take(r, 1); !ok {
		return 0, SubmitResult{}, tooMany(retry)
	}
	data, err := s.readTx(w, r)
	if err != nil {
		return 0, SubmitResult{}, err
	}
	if check != nil {
		t, err := tx.Decode(data)
		if err != nil {
			return 0, SubmitResult{}, rejected("%v", err)
		}
		if err := check(t); err != nil {
			return 0, SubmitResult{}, err
		}
	}
	ctx, cancel := s.call(r)
	id, err := s.b.Submit(ctx, data)
	cancel()
	if err != nil {
		return 0, SubmitResult{}, err
	}
	var st node.TxStatus
	if wait > 0 {
		st, err = s.await(r, id, wait)
	} else {
		ctx, cancel := s.call(r)
		st, err = s.b.TxStatus(ctx, id)
		cancel()
	}
	if err != nil {
		return 0, SubmitResult{}, err
	}
	res := SubmitResult{ID: id.String(), Status: txStatusView(id, st)}
	if res.Status.Decided() {
		return http.StatusOK, res, nil
	}
	return http.StatusAccepted, res, nil
}

// await polls the transaction's status until it is decided or d has
// passed, and returns the last status it read.
func (s *server) await(r *http.Request, id tx.ID, d time.Duration) (node.TxStatus, error) {
	deadline := time.Now().Add(d)
	poll := waitPollMin
	for {
		ctx, cancel := s.call(r)
		st, err := s.b.TxStatus(ctx, id)
		cancel()
		if err != nil || st.State != node.TxPending {
			return st, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return st, nil
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return st, r.Context().Err()
		}
		poll = min(2*poll, waitPollMax)
	}
}

func (s *server) submitTx(w http.ResponseWriter, r *http.Request) (int, any, error) {
	return s.submit(w, r, nil)
}

func (s *server) submitBatch(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	mt, err := mediaType(r, "application/json", "application/octet-stream")
	if err != nil {
		return 0, nil, err
	}
	body, err := readBody(w, r, s.opt.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	// The items: transactions, or why an item is none (JSON only: a
	// framed body that does not parse is refused whole).
	var items [][]byte
	var bad []error
	if mt == "application/octet-stream" {
		items, err = decodeFrames(body, s.opt.MaxBatchTxs, tx.MaxBytes)
	} else {
		var b BatchBody
		if b, err = decodeBatch(body, s.opt.MaxBatchTxs); err == nil {
			items, bad = make([][]byte, len(b.Txs)), make([]error, len(b.Txs))
			for i, enc := range b.Txs {
				data, err := base64.StdEncoding.DecodeString(enc)
				switch {
				case err != nil:
					bad[i] = badRequest("transaction %d is not standard base64: %v", i, err)
				case len(data) == 0:
					bad[i] = badRequest("transaction %d is empty", i)
				}
				items[i] = data
			}
		}
	}
	if err == nil {
		if ok, retry := s.clients.take(r, max(1, len(items))); !ok {
			err = tooMany(retry)
		}
	}
	if err != nil {
		return 0, nil, err
	}
	// One deadline for the whole batch: a stuck node must not cost a
	// timeout per transaction.
	ctx, cancel := s.call(r)
	defer cancel()
	res := BatchResult{Results: make([]BatchItem, len(items))}
	errs := make([]error, len(items))
	var datas [][]byte
	var at []int // datas[k] is transaction at[k]
	for i, data := range items {
		if bad != nil && bad[i] != nil {
			errs[i] = bad[i]
			continue
		}
		datas, at = append(datas, data), append(at, i)
	}
	if len(datas) > 0 {
		ids, subErrs, err := s.b.SubmitMany(ctx, datas)
		for k, i := range at {
			if err != nil {
				errs[i] = err
				continue
			}
			errs[i] = subErrs[k]
			if ids[k] != (tx.ID{}) {
				res.Results[i].ID = ids[k].String()
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			e := s.classify(r, err)
			res.Results[i].Error, res.Results[i].Reason = e.Code, e.Reason
			res.Refused++
			continue
		}
		res.Admitted++
	}
	return http.StatusOK, res, nil
}

// submitOpaque takes application transactions in bulk: the body is
// application/octet-stream, each transaction a 32-bit big-endian length
// and its bytes. They are queued in order until the node's queue is full
// (503 with Retry-After and the count queued: slow down) or one is bad
// (422); none may start with the cluster transactions' prefix, which only
// POST /v1/txs takes.
func (s *server) submitOpaque(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	refuse := func(reason string, n int, err error) (int, any, error) {
		if s.opt.OpaqueRefused != nil && n > 0 {
			s.opt.OpaqueRefused(reason, n)
		}
		return 0, nil, err
	}
	if !s.opt.Opaque {
		return refuse("disabled", 1, notFound("this node does not take opaque transactions: they are for benchmarks, enabled with opaque = true under [api] in config.toml"))
	}
	if _, err := mediaType(r, "application/octet-stream"); err != nil {
		return refuse("malformed", 1, err)
	}
	body, err := readBody(w, r, s.opt.MaxBodyBytes)
	if err != nil {
		return refuse("too_large", 1, err)
	}
	txs, err := decodeOpaque(body, s.opt.MaxOpaqueTxs)
	if err != nil {
		reason := "malformed"
		if e, ok := err.(*Error); ok && e.Code == CodeTooLarge {
			reason = "too_large"
		}
		return refuse(reason, 1, err)
	}
	if ok, retry := s.clients.take(r, len(txs)); !ok {
		return refuse("rate_limited", len(txs), tooMany(retry))
	}
	ctx, cancel := s.call(r)
	defer cancel()
	n, err := s.b.SubmitOpaque(ctx, txs)
	res := OpaqueResult{Accepted: n, Refused: len(txs) - n}
	if err == nil {
		return http.StatusOK, res, nil
	}
	e := s.classify(r, err)
	res.Error, res.Reason = e.Code, e.Reason
	reason := e.Code
	if e.Code == CodeRejected {
		reason = "rejected"
	}
	if s.opt.OpaqueRefused != nil {
		s.opt.OpaqueRefused(reason, res.Refused)
	}
	if e.Code == CodeBusy {
		w.Header().Set("Retry-After", "1")
	}
	return e.Status, res, nil
}

// decodeOpaque splits a body of length-prefixed application
// transactions, at most max of them.
func decodeOpaque(body []byte, max int) ([][]byte, error) {
	txs, err := decodeFrames(body, max, MaxOpaqueTxBytes)
	if err != nil {
		return nil, err
	}
	for i, t := range txs {
		if tx.IsCluster(t) {
			return nil, badRequest("transaction %d starts with %q, the prefix of cluster transactions; submit those to POST /v1/txs", i, tx.Magic)
		}
	}
	return txs, nil
}

// decodeFrames splits a body of length-prefixed transactions (each a
// 4-byte big-endian length and its bytes), at most max of them, each of
// 1..maxBytes bytes.
func decodeFrames(body []byte, max, maxBytes int) ([][]byte, error) {
	r := codec.NewReader(body, func(msg string) error { return badRequest("%s", msg) })
	var txs [][]byte
	for r.Left() > 0 && r.Err() == nil {
		if len(txs) == max {
			return nil, tooLarge("more than %d transactions in one request", max)
		}
		t := r.Bytes32(maxBytes, "transaction")
		if r.Err() == nil && len(t) == 0 {
			r.Fail("transaction %d is empty", len(txs))
		}
		txs = append(txs, t)
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if len(txs) == 0 {
		return nil, badRequest("no transactions: send each as a 4-byte big-endian length and its bytes")
	}
	return txs, nil
}

// AppendFrames appends txs to b in the framing of POST /v1/opaque and of
// POST /v1/txs/batch as application/octet-stream.
func AppendFrames(b []byte, txs [][]byte) []byte {
	for _, t := range txs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
		b = append(b, t...)
	}
	return b
}

func decodeBatch(body []byte, maxTxs int) (BatchBody, error) {
	var b BatchBody
	if err := decodeJSON(body, &b); err != nil {
		return b, err
	}
	switch {
	case len(b.Txs) == 0:
		return b, badRequest("the batch is empty: send {\"txs\": [\"<base64>\", ...]}")
	case len(b.Txs) > maxTxs:
		return b, tooLarge("the batch holds %d transactions; at most %d per request", len(b.Txs), maxTxs)
	}
	return b, nil
}

func (s *server) getTx(w http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := pathID(r, "id", "transaction id")
	if err != nil {
		return 0, nil, err
	}
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	st, err := s.b.TxStatus(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if st.State == node.TxUnknown {
		return 0, nil, notFound("this node knows nothing of transaction %s: it was not submitted here and has not committed since the node started, or its outcome was forgotten", id)
	}
	return http.StatusOK, txStatusView(id, st), nil
}

func (s *server) createVM(w http.ResponseWriter, r *http.Request) (int, any, error) {
	status, res, err := s.submit(w, r, func(t *tx.Tx) error { return checkKind(t, tx.KindVMCreate, "POST /v1/vms") })
	res.VM = res.ID
	return status, res, err
}

func (s *server) deleteVM(w http.ResponseWriter, r *http.Request) (int, any, error) {
	return s.vmChange(w, r, tx.KindVMDelete, "DELETE /v1/vms/{id}")
}

func (s *server) renewVM(w http.ResponseWriter, r *http.Request) (int, any, error) {
	return s.vmChange(w, r, tx.KindVMRenew, "POST /v1/vms/{id}/renew")
}

// vmChange submits a transaction about the VM the path names.
func (s *server) vmChange(w http.ResponseWriter, r *http.Request, kind tx.Kind, route string) (int, any, error) {
	vm, err := pathID(r, "id", "VM id")
	if err != nil {
		return 0, nil, err
	}
	status, res, err := s.submit(w, r, func(t *tx.Tx) error {
		if err := checkKind(t, kind, route); err != nil {
			return err
		}
		if t.VM != vm {
			return rejected("the %s is for VM %s, not VM %s of the path", kind, t.VM, vm)
		}
		return nil
	})
	res.VM = vm.String()
	return status, res, err
}

func checkKind(t *tx.Tx, want tx.Kind, route string) error {
	if t.Kind != want {
		return rejected("%s takes a signed %s; this is a %s: submit it with POST /v1/txs", route, want, t.Kind)
	}
	return nil
}

func (s *server) getVM(w http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := s.pathVM(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, vmView(v, time.Now()), nil
}

func (s *server) vmEvents(w http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := s.pathVM(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, vmEventsView(v), nil
}

// pathVM returns the VM the path names, as of this node's latest commit.
func (s *server) pathVM(r *http.Request) (cluster.VM, error) {
	id, err := pathID(r, "id", "VM id")
	if err != nil {
		return cluster.VM{}, err
	}
	if _, err := query(r); err != nil {
		return cluster.VM{}, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	v, ok, err := s.b.VM(ctx, id)
	if err != nil {
		return cluster.VM{}, err
	}
	if !ok {
		return cluster.VM{}, notFound("no VM %s as of this node's latest commit: a VM created moments ago may not have committed yet", id)
	}
	return v, nil
}

func (s *server) listVMs(w http.ResponseWriter, r *http.Request) (int, any, error) {
	q, err := query(r, "owner")
	if err != nil {
		return 0, nil, err
	}
	if !q.Has("owner") {
		return 0, nil, badRequest("owner is required: GET /v1/vms?owner=<hex public key or base58 address>")
	}
	owner, err := parseOwner(q.Get("owner"))
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	vms, err := s.b.VMsByOwner(ctx, owner)
	if err != nil {
		return 0, nil, err
	}
	now := time.Now()
	out := VMList{VMs: make([]VM, len(vms))}
	for i, v := range vms {
		out.VMs[i] = vmView(v, now)
	}
	return http.StatusOK, out, nil
}

// parseOwner reads a key as hex or as a Solana address: a wallet's
// address is its ed25519 public key in base58.
func parseOwner(s string) (tx.Key, error) {
	if k, err := tx.ParseKey(s); err == nil {
		return k, nil
	}
	if a, err := payment.ParseAddress(s); err == nil {
		return tx.Key(a), nil
	}
	return tx.Key{}, badRequest("owner %q: want a public key (64 hex digits) or a Solana address (base58)", s)
}

func (s *server) operators(w http.ResponseWriter, r *http.Request) (int, any, error) {
	ops, err := s.allOperators(r)
	if err != nil {
		return 0, nil, err
	}
	out := OperatorList{Operators: make([]Operator, len(ops))}
	for i, o := range ops {
		out.Operators[i] = operatorView(o)
	}
	return http.StatusOK, out, nil
}

func (s *server) operator(w http.ResponseWriter, r *http.Request) (int, any, error) {
	k, err := parseOwner(r.PathValue("id"))
	if err != nil {
		return 0, nil, badRequest("operator %q: want its public key (64 hex digits) or its Solana address (base58)", r.PathValue("id"))
	}
	ops, err := s.allOperators(r)
	if err != nil {
		return 0, nil, err
	}
	for _, o := range ops {
		if o.Key == k {
			return http.StatusOK, operatorView(o), nil
		}
	}
	return 0, nil, notFound("no operator %s as of this node's latest commit", k)
}

// allOperators returns every operator as of this node's latest commit, for
// a request that takes no query parameters.
func (s *server) allOperators(r *http.Request) ([]cluster.Operator, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	return s.b.Operators(ctx)
}

func (s *server) params(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	p, err := s.b.Params(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paramsView(p), nil
}

func (s *server) event(w http.ResponseWriter, r *http.Request) (int, any, error) {
	raw := r.PathValue("hash")
	id, err := tx.ParseID(raw)
	if err != nil {
		return 0, nil, badRequest("event hash %q: want 64 hex digits", raw)
	}
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	h := graph.Hash(id)
	ctx, cancel := s.call(r)
	defer cancel()
	enc, ok, err := s.b.Event(ctx, h)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, notFound("this node stores no event %s", h.Hex())
	}
	// The node's own limits are at most the defaults, so the defaults
	// accept every event it stored.
	e, err := graph.Decode(enc, graph.Limits{})
	if err != nil {
		return 0, nil, fmt.Errorf("stored event %s does not decode: %w", h.Hex(), err)
	}
	if e.Hash() != h {
		return 0, nil, fmt.Errorf("stored event %s decodes to an event with hash %s", h.Hex(), e.Hash().Hex())
	}
	return http.StatusOK, eventView(h, enc, e), nil
}

func (s *server) commits(w http.ResponseWriter, r *http.Request) (int, any, error) {
	q, err := query(r, "from", "limit")
	if err != nil {
		return 0, nil, err
	}
	var from uint64
	if q.Has("from") {
		if from, err = strconv.ParseUint(q.Get("from"), 10, 64); err != nil {
			return 0, nil, badRequest("from=%q: want a commit index, a whole number from 0", q.Get("from"))
		}
	}
	limit := DefaultCommitsLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxCommitsLimit {
			return 0, nil, badRequest("limit=%q: want a whole number from 1 to %d", q.Get("limit"), MaxCommitsLimit)
		}
		limit = n
	}
	ctx, cancel := s.call(r)
	defer cancel()
	cs, err := s.b.Commits(ctx, from, limit)
	if err != nil {
		return 0, nil, err
	}
	if cs == nil {
		cs = []Commit{}
	}
	return http.StatusOK, CommitList{Commits: cs}, nil
}

// The headers of GET /v1/snapshot that say what the body holds.
const (
	// HeaderSnapshotEpoch is the epoch the snapshot's state starts.
	HeaderSnapshotEpoch = "Dagger-Snapshot-Epoch"
	// HeaderSnapshotCommit is the snapshot's commit: the global index of
	// its epoch's first commit, the number of commits the state applied.
	HeaderSnapshotCommit = "Dagger-Snapshot-Commit"
)

// written is the body of a handler that wrote its response itself (a
// stream): the endpoint adds nothing.
type written struct{}

// binaryBody is a response that is not JSON: a handler returns it as its
// body, and the endpoint writes it as it is.
type binaryBody struct {
	contentType string
	header      http.Header
	data        []byte
	// writeTime, if set, bounds the time the write may take; done, if
	// set, runs once it is over.
	writeTime time.Duration
	done      func()
}

func (b binaryBody) write(w http.ResponseWriter, status int) {
	if b.done != nil {
		defer b.done()
	}
	if b.writeTime > 0 {
		// A ResponseWriter that cannot take a deadline (a test recorder)
		// has no connection to hold.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(b.writeTime))
	}
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	h.Set("Content-Type", b.contentType)
	h.Set("Content-Length", strconv.Itoa(len(b.data)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b.data) // a client that left cannot be told
}

// snapshot serves the newest stored state snapshot as its bytes, with its
// epoch and commit in headers.
func (s *server) snapshot(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	select {
	case s.downloads <- struct{}{}:
	default:
		e := errorf(http.StatusServiceUnavailable, CodeBusy, "%d snapshot downloads are in progress, the most this node serves at once; retry in a few seconds, or ask another node",
			s.opt.MaxSnapshotDownloads)
		e.retryAfter = 5
		return 0, nil, e
	}
	release := func() { <-s.downloads }
	ctx, cancel := s.call(r)
	defer cancel()
	sn, ok, err := s.b.Snapshot(ctx)
	if err != nil || !ok {
		release()
	}
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, notFound("this node has stored no state snapshot yet: a node stores one at every epoch start " +
			"(every epoch_length of consensus time); ask again after the next epoch boundary, or ask another node")
	}
	h := http.Header{}
	h.Set(HeaderSnapshotEpoch, strconv.FormatUint(sn.Epoch, 10))
	h.Set(HeaderSnapshotCommit, strconv.FormatUint(sn.Commit, 10))
	// The download holds the snapshot's bytes and its token until it is
	// written or its time is up, whichever comes first: a client that
	// stops reading is cut off.
	write := s.opt.SnapshotWriteTime + time.Duration(len(sn.Data)/s.opt.SnapshotMinRate)*time.Second
	return http.StatusOK, binaryBody{contentType: "application/octet-stream", header: h, data: sn.Data,
		writeTime: write, done: release}, nil
}

func (s *server) status(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	st, err := s.b.Status(ctx)
	if err != nil {
		return 0, nil, err
	}
	if st.Version == "" {
		st.Version = s.opt.Version
	}
	return http.StatusOK, st, nil
}

// health is for load balancers and process supervisors: 200 while the
// node runs, 503 with the fault once it stopped.
func (s *server) health(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	ctx, cancel := s.call(r)
	defer cancel()
	st, err := s.b.Status(ctx)
	if err != nil {
		e := s.classify(r, err)
		return e.Status, Health{Error: e.Code, Reason: e.Reason}, nil
	}
	if st.Fault != "" {
		return http.StatusServiceUnavailable, Health{Error: CodeUnavailable, Reason: "the node stopped: " + st.Fault}, nil
	}
	return http.StatusOK, Health{OK: true}, nil
}

func pathID(r *http.Request, name, what string) (tx.ID, error) {
	raw := r.PathValue(name)
	id, err := tx.ParseID(raw)
	if err != nil {
		return id, badRequest("%s %q: want 64 hex digits", what, raw)
	}
	return id, nil
}

// recorder remembers the status a handler sent, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// capture takes the response of the mux's own 404 and 405 handlers, so
// that the server can say the same in JSON.
type capture struct {
	header http.Header
	status int
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) Write(b []byte) (int, error) { return len(b), nil }
func (c *capture) WriteHeader(status int)      { c.status = status }
