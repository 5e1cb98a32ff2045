package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"dagger/graph"
	"dagger/node/live/api"
)

// Dagger is a cluster of DAGGER nodes as a load target: batches go to
// POST /v1/opaque (opaque payloads) or POST /v1/txs/batch (signed ones) as
// length-prefixed bytes; commits are watched on one node's
// GET /v1/commits/stream.
type Dagger struct {
	nodes  []*api.Client
	watch  *api.Client
	signed bool
}

// NewDagger is a target of the nodes at urls (http://host:port), watched
// at watch (one of them, or another node of the cluster).
func NewDagger(urls []string, watch string, payload string) (*Dagger, error) {
	if len(urls) == 0 {
		return nil, errors.New("no node to send to")
	}
	d := &Dagger{signed: payload == PayloadSigned}
	for _, u := range urls {
		c, err := api.NewClient(u, 30*time.Second)
		if err != nil {
			return nil, err
		}
		d.nodes = append(d.nodes, c)
	}
	w, err := api.NewClient(watch, 10*time.Second)
	if err != nil {
		return nil, err
	}
	d.watch = w
	return d, nil
}

// Endpoints implements Target.
func (d *Dagger) Endpoints() int { return len(d.nodes) }

// Hash implements Target: the ledger's transaction hash.
func (d *Dagger) Hash(tx []byte) [32]byte { return graph.TxHash(tx) }

// Submit implements Target.
func (d *Dagger) Submit(ctx context.Context, i int, txs [][]byte) ([]bool, string, error) {
	took := make([]bool, len(txs))
	if d.signed {
		res, err := d.nodes[i].SubmitBatch(ctx, txs)
		if err != nil {
			return nil, "", err
		}
		if len(res.Results) != len(txs) {
			return nil, "", fmt.Errorf("%d results for %d transactions", len(res.Results), len(txs))
		}
		reason := ""
		for j, it := range res.Results {
			took[j] = it.Error == ""
			if !took[j] && reason == "" {
				reason = it.Error
			}
		}
		return took, reason, nil
	}
	res, err := d.nodes[i].SubmitOpaque(ctx, txs)
	var e *api.Error
	if err != nil && !errors.As(err, &e) {
		return nil, "", err
	}
	for j := range min(res.Accepted, len(txs)) {
		took[j] = true
	}
	reason := ""
	if e != nil {
		reason = e.Code
	}
	return took, reason, nil
}

// Watch implements Target. A stream the node ends is opened again: the
// commits in between are lost, and so is the generator's view of their
// transactions, which the error it returns at the end says.
func (d *Dagger) Watch(ctx context.Context, seen func([][32]byte)) error {
	var lost error
	for ctx.Err() == nil {
		s, err := d.watch.WatchCommits(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		for {
			c, err := s.Next()
			if err != nil {
				s.Close()
				if ctx.Err() == nil {
					lost = fmt.Errorf("the commit stream broke (%v): transactions committed until it was open again were not seen", err)
				}
				break
			}
			hs := make([][32]byte, len(c.Hashes))
			for i, h := range c.Hashes {
				hs[i] = h
			}
			seen(hs)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return lost
}

// CometBFT is a CometBFT network running the kvstore application as a
// load target: batches go to each node's JSON-RPC as one batch of
// broadcast_tx_async calls; commits are watched by reading every block
// from one node as soon as its height says it is there (polled every
// PollEvery: a commit is seen up to that much late).
type CometBFT struct {
	rpc   []string
	watch string
	http  *http.Client
}

// PollEvery is how often the CometBFT target asks for new blocks.
const PollEvery = 10 * time.Millisecond

// NewCometBFT is a target of the RPC endpoints at urls (http://host:port),
// watched at watch.
func NewCometBFT(urls []string, watch string) (*CometBFT, error) {
	if len(urls) == 0 {
		return nil, errors.New("no node to send to")
	}
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 16}
	return &CometBFT{rpc: urls, watch: watch, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// Endpoints implements Target.
func (c *CometBFT) Endpoints() int { return len(c.rpc) }

// Hash implements Target: CometBFT's transaction hash, SHA-256.
func (c *CometBFT) Hash(tx []byte) [32]byte { return sha256.Sum256(tx) }

type rpcRequest struct {
	JSONRPC string         `json:"jsonrpc"`
	ID      int            `json:"id"`
	Method  string         `json:"method"`
	Params  map[string]any `json:"params"`
}

type rpcResponse struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// Submit implements Target.
func (c *CometBFT) Submit(ctx context.Context, i int, txs [][]byte) ([]bool, string, error) {
	reqs := make([]rpcRequest, len(txs))
	for j, t := range txs {
		reqs[j] = rpcRequest{JSONRPC: "2.0", ID: j, Method: "broadcast_tx_async", Params: map[string]any{"tx": base64.StdEncoding.EncodeToString(t)}}
	}
	var resps []rpcResponse
	if err := c.post(ctx, c.rpc[i], reqs, &resps); err != nil {
		return nil, "", err
	}
	took := make([]bool, len(txs))
	reason := ""
	for _, r := range resps {
		if r.ID < 0 || r.ID >= len(txs) {
			continue
		}
		var res struct {
			Code uint32 `json:"code"`
			Log  string `json:"log"`
		}
		ok := r.Error == nil && json.Unmarshal(r.Result, &res) == nil && res.Code == 0
		took[r.ID] = ok
		if !ok && reason == "" {
			reason = "refused"
			if r.Error != nil && bytes.Contains([]byte(r.Error.Data+r.Error.Message), []byte("mempool is full")) {
				reason = "mempool_full"
			}
		}
	}
	return took, reason, nil
}

func (c *CometBFT) post(ctx context.Context, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %.200s", url, resp.Status, data)
	}
	return json.Unmarshal(data, out)
}

func (c *CometBFT) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.watch+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&env); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if env.Error != nil {
		return fmt.Errorf("GET %s: %s %s", path, env.Error.Message, env.Error.Data)
	}
	return json.Unmarshal(env.Result, out)
}

// Height is the latest block height of the watched node.
func (c *CometBFT) Height(ctx context.Context) (int64, error) {
	var st struct {
		SyncInfo struct {
			Height string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := c.get(ctx, "/status", &st); err != nil {
		return 0, err
	}
	return strconv.ParseInt(st.SyncInfo.Height, 10, 64)
}

// Watch implements Target.
func (c *CometBFT) Watch(ctx context.Context, seen func([][32]byte)) error {
	h, err := c.Height(ctx)
	if err != nil {
		return err
	}
	for {
		top, err := c.Height(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ; h < top; h++ {
			var blk struct {
				Block struct {
					Data struct {
						Txs []string `json:"txs"`
					} `json:"data"`
				} `json:"block"`
			}
			if err := c.get(ctx, "/block?height="+strconv.FormatInt(h+1, 10), &blk); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			hs := make([][32]byte, 0, len(blk.Block.Data.Txs))
			for _, t := range blk.Block.Data.Txs {
				b, err := base64.StdEncoding.DecodeString(t)
				if err != nil {
					return fmt.Errorf("block %d: a transaction is not base64: %v", h+1, err)
				}
				hs = append(hs, sha256.Sum256(b))
			}
			seen(hs)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(PollEvery):
		}
	}
}
