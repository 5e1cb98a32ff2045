package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"dagger/node/live/api"
	"dagger/node/live/keyfile"
	"dagger/node/tx"
)

// loadTick is how often the load client sends a batch: RATE/10 per batch.
const loadTick = 100 * time.Millisecond

// devnetLoad is an open-loop client: every loadTick it sends the
// transactions due at rate per second, as one batch to the next node in
// turn, whether or not earlier batches were answered. The transactions are
// vm-get reads of random VM ids: signed, admitted and ordered like any
// other, and harmless to the cluster. Every 5 s it prints what it sent and
// what node 0 committed.
func devnetLoad(ctx context.Context, nodes []*devnetNode, rate float64, stdout, stderr io.Writer) {
	key, err := keyfile.New()
	if err != nil {
		fmt.Fprintf(stderr, "devnet: load: %v\n", err)
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(loadTick)
	defer tick.Stop()
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	var due float64
	var nonce uint64
	var sent, admitted, refused int
	results := make(chan api.BatchResult, 64)
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case res := <-results:
			admitted += res.Admitted
			refused += res.Refused
		case <-report.C:
			var st api.Status
			committed := "?"
			if resp, err := client.Get("http://" + nodes[0].api + "/v1/status"); err == nil {
				if json.NewDecoder(resp.Body).Decode(&st) == nil {
					committed = fmt.Sprint(st.CommittedTxs)
				}
				resp.Body.Close()
			}
			fmt.Fprintf(stdout, "load: sent %d, admitted %d, refused %d; node 0 committed %s transactions\n", sent, admitted, refused, committed)
		case <-tick.C:
			due += rate * loadTick.Seconds()
			n := min(int(due), api.DefaultMaxBatchTxs)
			if n == 0 {
				continue
			}
			due -= float64(n)
			body := api.BatchBody{Txs: make([]string, n)}
			for i := range body.Txs {
				nonce++
				t := &tx.Tx{Kind: tx.KindVMGet, Nonce: nonce, Expiry: time.Now().Add(tx.DefaultValidity).UnixNano()}
				copy(t.VM[:], fmt.Appendf(nil, "load-%d-%d", time.Now().UnixNano(), nonce))
				t.Sign(key)
				body.Txs[i] = base64.StdEncoding.EncodeToString(t.Encode())
			}
			sent += n
			url := "http://" + nodes[next%len(nodes)].api + "/v1/txs/batch"
			next++
			go func() {
				b, _ := json.Marshal(body) // plain struct
				resp, err := client.Post(url, "application/json", bytes.NewReader(b))
				if err != nil {
					return // a node that is down refuses its share; the others carry on
				}
				defer resp.Body.Close()
				var res api.BatchResult
				if json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&res) == nil {
					select {
					case results <- res:
					case <-ctx.Done():
					}
				}
			}()
		}
	}
}
