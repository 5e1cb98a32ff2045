// Package paymenttest is a stand-in Solana JSON-RPC node for tests: it
// answers getSignatureStatuses from a table the test sets as it goes,
// getLatestBlockhash with a fixed blockhash, and sendTransaction by landing
// the transaction. Its answers have the shapes recorded from Solana in
// ../testdata/rpc, which its tests check. It listens on a real address, so
// node processes can be pointed at it as at any RPC endpoint.
package paymenttest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/gagliardetto/solana-go"

	"dagger/node/payment"
)

// State is what the chain knows of a signature.
type State int

const (
	NotFound  State = iota // never landed
	Processed              // in a block a single validator has seen
	Confirmed              // voted on by a supermajority
	Finalized              // rooted: the payment happened
	Failed                 // rooted, but failed: the payer lacked the funds
)

// Blockhash is the blockhash getLatestBlockhash answers with.
var Blockhash = [32]byte{0xda, 0x66, 0xe4, 0x0b, 0x10, 0xc4}

// Slot numbers in the answers, near mainnet's so that anything reading
// them sees plausible values.
const (
	contextSlot          = 341857213
	lastValidBlockHeight = 320114506
)

// maxRequestBytes bounds a request body; a transaction is at most
// payment.MaxTxBytes, base64 makes it 4/3 larger.
const maxRequestBytes = 64 << 10

// maxSignatures is Solana's limit on one getSignatureStatuses call.
const maxSignatures = 256

// Server is the stand-in RPC node. It is safe for concurrent use.
type Server struct {
	mu     sync.Mutex
	txs    map[payment.Signature]State
	sendAs State
	outage int
	sent   [][]byte
	calls  map[string]int

	srv *http.Server
	url string
}

// New returns a server with no transactions that lands sent transactions
// finalized. It serves as an http.Handler; Listen also listens.
func New() *Server {
	return &Server{txs: make(map[payment.Signature]State), sendAs: Finalized, calls: make(map[string]int)}
}

// Listen starts a server on addr, such as "127.0.0.1:0" for any free port;
// URL says where. Close stops it.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("paymenttest: %w", err)
	}
	s := New()
	s.srv = &http.Server{Handler: s}
	s.url = "http://" + ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the endpoint of a listening server.
func (s *Server) URL() string { return s.url }

// Close stops a listening server.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// Set puts the transaction with sig in state st, as the chain moves on.
func (s *Server) Set(sig payment.Signature, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == NotFound {
		delete(s.txs, sig)
		return
	}
	s.txs[sig] = st
}

// LandSent sets the state a transaction takes when it is sent; NotFound
// makes sent transactions vanish, as dropped ones do.
func (s *Server) LandSent(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendAs = st
}

// SetOutage makes every request fail with the HTTP status code, such as
// 429 or 503, until it is called with 0.
func (s *Server) SetOutage(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = code
}

// Sent returns the wire bytes of the transactions sent so far.
func (s *Server) Sent() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.sent...)
}

// Calls counts the requests for a method, answered or not.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

type request struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// JSON-RPC error codes, as Solana uses them.
const (
	codeInvalidRequest  = -32600
	codeMethodNotFound  = -32601
	codeInvalidParams   = -32602
	codeSignatureFailed = -32003
)

type withContext struct {
	Context struct {
		APIVersion string `json:"apiVersion"`
		Slot       uint64 `json:"slot"`
	} `json:"context"`
	Value any `json:"value"`
}

func contextual(v any) withContext {
	var w withContext
	w.Context.APIVersion, w.Context.Slot = "2.2.14", contextSlot
	w.Value = v
	return w
}

type signatureStatus struct {
	ConfirmationStatus string  `json:"confirmationStatus"`
	Confirmations      *uint64 `json:"confirmations"`
	Err                any     `json:"err"`
	Slot               uint64  `json:"slot"`
	Status             any     `json:"status"`
}

// instructionError is what a System Program transfer from an account
// without the funds fails with: custom error 1 of the first instruction.
var instructionError = map[string]any{"InstructionError": []any{0, map[string]int{"Custom": 1}}}

func statusOf(st State) *signatureStatus {
	zero, some := uint64(0), uint64(12)
	switch st {
	case Processed:
		return &signatureStatus{"processed", &zero, nil, contextSlot, map[string]any{"Ok": nil}}
	case Confirmed:
		return &signatureStatus{"confirmed", &some, nil, contextSlot - some, map[string]any{"Ok": nil}}
	case Finalized:
		return &signatureStatus{"finalized", nil, nil, contextSlot - 43, map[string]any{"Ok": nil}}
	case Failed:
		return &signatureStatus{"finalized", nil, instructionError, contextSlot - 47, map[string]any{"Err": instructionError}}
	}
	return nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST JSON-RPC requests", http.StatusMethodNotAllowed)
		return
	}
	var req request
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req)
	s.mu.Lock()
	s.calls[req.Method]++
	outage := s.outage
	s.mu.Unlock()
	if outage != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(outage)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","error":{"code":%d,"message":%q},"id":null}`, outage, http.StatusText(outage))
		return
	}
	resp := response{JSONRPC: "2.0", ID: req.ID}
	if err != nil || req.JSONRPC != "2.0" || len(req.ID) == 0 {
		resp.Error = &rpcError{codeInvalidRequest, "Invalid request"}
	} else {
		resp.Result, resp.Error = s.answer(req)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) answer(req request) (any, *rpcError) {
	switch req.Method {
	case "getSignatureStatuses":
		return s.statuses(req.Params)
	case "getLatestBlockhash":
		return contextual(map[string]any{
			"blockhash":            solana.Hash(Blockhash).String(),
			"lastValidBlockHeight": lastValidBlockHeight,
		}), nil
	case "sendTransaction":
		return s.send(req.Params)
	}
	return nil, &rpcError{codeMethodNotFound, "Method not found"}
}

func (s *Server) statuses(params []json.RawMessage) (any, *rpcError) {
	var sigs []string
	if len(params) == 0 || json.Unmarshal(params[0], &sigs) != nil {
		return nil, &rpcError{codeInvalidParams, "Invalid params: expected an array of signatures"}
	}
	if len(sigs) > maxSignatures {
		return nil, &rpcError{codeInvalidParams, fmt.Sprintf("Too many inputs provided; max %d", maxSignatures)}
	}
	out := make([]*signatureStatus, len(sigs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, str := range sigs {
		sig, err := payment.ParseSignature(str)
		if err != nil {
			return nil, &rpcError{codeInvalidParams, "Invalid param: " + err.Error()}
		}
		out[i] = statusOf(s.txs[sig])
	}
	return contextual(out), nil
}

func (s *Server) send(params []json.RawMessage) (any, *rpcError) {
	var encoded string
	var opts struct {
		Encoding string `json:"encoding"`
	}
	if len(params) == 0 || json.Unmarshal(params[0], &encoded) != nil ||
		len(params) > 1 && json.Unmarshal(params[1], &opts) != nil {
		return nil, &rpcError{codeInvalidParams, "Invalid params"}
	}
	wire, err := decodeTx(encoded, opts.Encoding)
	if err != nil {
		return nil, &rpcError{codeInvalidParams, "Invalid param: " + err.Error()}
	}
	tx, err := solana.TransactionFromBytes(wire)
	if err != nil || len(tx.Signatures) == 0 {
		return nil, &rpcError{codeInvalidParams, fmt.Sprintf("Invalid param: failed to deserialize transaction: %v", err)}
	}
	if tx.VerifySignatures() != nil {
		return nil, &rpcError{codeSignatureFailed, "Transaction signature verification failure"}
	}
	sig := payment.Signature(tx.Signatures[0])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, wire)
	if _, landed := s.txs[sig]; !landed && s.sendAs != NotFound {
		s.txs[sig] = s.sendAs
	}
	return sig.String(), nil
}

// decodeTx reads a transaction as sendTransaction takes it. Only base64 is
// served: Solana's default, base58, is deprecated, and payment.RPC.Send
// does not use it.
func decodeTx(s, encoding string) ([]byte, error) {
	if encoding != "base64" {
		return nil, errors.New("unsupported encoding " + strconv.Quote(encoding) + ", send base64")
	}
	return base64.StdEncoding.DecodeString(s)
}
