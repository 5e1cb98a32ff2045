package live

import (
	"context"
	"errors"
	"sync"

	"dagger/graph"
	"dagger/node/live/api"
)

// watchBuffer bounds the commits queued for one watcher; MaxWatchBytes
// bounds their hashes.
const watchBuffer = 4096

// watchers fans each commit out to the API's commit streams. The loop
// publishes; subscribers come and go from other goroutines.
type watchers struct {
	mu     sync.Mutex
	subs   map[*watcher]struct{}
	closed error
}

type watcher struct {
	ch     chan api.CommitTxs
	queued int // bytes of hashes in ch; under watchers.mu
	err    error
}

// add subscribes until ctx is done.
func (ws *watchers) add(ctx context.Context) (api.Watch, error) {
	w := &watcher{ch: make(chan api.CommitTxs, watchBuffer)}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed != nil {
		return api.Watch{}, ws.closed
	}
	if ws.subs == nil {
		ws.subs = map[*watcher]struct{}{}
	}
	ws.subs[w] = struct{}{}
	context.AfterFunc(ctx, func() { ws.drop(w, nil) })
	c := make(chan api.CommitTxs)
	// A relay hands the subscriber the queued commits and keeps the
	// count of queued bytes.
	go func() {
		defer close(c)
		for cm := range w.ch {
			ws.mu.Lock()
			w.queued -= 32 * len(cm.Hashes)
			ws.mu.Unlock()
			select {
			case c <- cm:
			case <-ctx.Done():
				return
			}
		}
	}()
	return api.Watch{C: c, Err: func() error {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		return w.err
	}}, nil
}

// drop ends w's subscription with err, once.
func (ws *watchers) drop(w *watcher, err error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.dropLocked(w, err)
}

func (ws *watchers) dropLocked(w *watcher, err error) {
	if _, ok := ws.subs[w]; !ok {
		return
	}
	delete(ws.subs, w)
	w.err = err
	close(w.ch)
}

// any reports whether anyone watches: the loop builds nothing otherwise.
func (ws *watchers) any() bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.subs) > 0
}

// publish hands c to every watcher without blocking; one that is behind
// is dropped.
func (ws *watchers) publish(c graph.Commit) {
	if !ws.any() {
		return
	}
	hs := make([]graph.Hash, len(c.Txs))
	for i, t := range c.Txs {
		hs[i] = t.Hash
	}
	cm := api.CommitTxs{Index: c.Index, TimeUnixNs: c.Time, Hashes: hs}
	size := 32 * len(hs)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.subs {
		if w.queued+size > api.MaxWatchBytes {
			ws.dropLocked(w, api.ErrWatchBehind)
			continue
		}
		select {
		case w.ch <- cm:
			w.queued += size
		default:
			ws.dropLocked(w, api.ErrWatchBehind)
		}
	}
}

// close ends every subscription with err and takes no more.
func (ws *watchers) close(err error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed == nil {
		ws.closed = err
	}
	for w := range ws.subs {
		ws.dropLocked(w, err)
	}
}

var errWatchStopped = errors.New("the node stopped")
