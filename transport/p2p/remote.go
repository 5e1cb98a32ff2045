package p2p

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"dagger/transport"
)

// Buffer sizes of a stream's reader and writer: small messages (fetches,
// syncs) are coalesced into one muxer frame, large ones bypass the buffer.
const (
	readBufferBytes  = 64 << 10
	writeBufferBytes = 64 << 10
)

// remote is an allowed peer: its outbound queue, drained by its writer
// goroutine, its dial loop, and its current inbound stream.
type remote struct {
	id   peer.ID
	name transport.PeerID
	// done is closed when the peer stops being allowed or the host closes.
	done chan struct{}
	// wake tells the writer that messages are queued, kick tells the dial
	// loop that the peer disconnected or has new addresses; both hold one
	// signal so a sender never waits.
	wake chan struct{}
	kick chan struct{}

	mu        sync.Mutex
	connected bool
	queue     [][]byte
	// bulk holds the messages sent with SendBulk, written one at a time
	// and only while queue is empty.
	bulk [][]byte
	// queuedMsgs and queuedBytes count the queues and the batch being
	// written, which is what the queue bounds limit.
	queuedMsgs  int
	queuedBytes int
	// queuedSince and bulkSince are when the oldest message of queue and
	// of bulk was queued (zero while it is empty), writingSince the same
	// for the batch the writer holds (zero while it holds none): what
	// Host.Backlog reports.
	queuedSince, bulkSince, writingSince time.Time
	// limit is the rate limit of a peer that is only pending; nil for
	// members and trusted peers.
	limit   *bucket
	inbound network.Stream

	// deliverMu keeps deliveries of one peer sequential while a replaced
	// inbound stream's reader finishes.
	deliverMu sync.Mutex
}

func newRemote(id peer.ID, connected bool) *remote {
	return &remote{
		id:        id,
		name:      transport.PeerID(id.String()),
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		connected: connected,
	}
}

func (r *remote) isConnected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connected
}

// enqueue adds msg to the end of the peer's queue, or of its bulk queue if
// bulk, unless the peer is disconnected or its queues are full.
func (r *remote) enqueue(msg []byte, bulk bool, maxMsgs, maxBytes int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.connected || r.queuedMsgs >= maxMsgs || r.queuedBytes+len(msg) > maxBytes {
		return false
	}
	q, since := &r.queue, &r.queuedSince
	if bulk {
		q, since = &r.bulk, &r.bulkSince
	}
	if len(*q) == 0 {
		*since = time.Now()
	}
	*q = append(*q, msg)
	r.queuedMsgs++
	r.queuedBytes += len(msg)
	r.wakeWriter()
	return true
}

func (r *remote) wakeWriter() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take hands the writer its next batch: the queued messages, and spare
// (emptied) to the queue so batches reuse two slices; or, while none is
// queued, the oldest bulk message alone, so that messages queued while it
// is written go before the next.
func (r *remote) take(spare [][]byte) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 && len(r.bulk) > 0 {
		batch := append(spare, r.bulk[0])
		r.bulk[0] = nil
		r.bulk = r.bulk[1:]
		r.writingSince = r.bulkSince
		if len(r.bulk) == 0 {
			r.bulk, r.bulkSince = nil, time.Time{}
		} else {
			// The next bulk message waits since this one was taken at the
			// latest; when exactly it was queued is not kept.
			r.bulkSince = time.Now()
			r.wakeWriter()
		}
		return batch
	}
	batch := r.queue
	r.queue = spare
	r.writingSince, r.queuedSince = r.queuedSince, time.Time{}
	if len(r.bulk) > 0 {
		r.wakeWriter()
	}
	return batch
}

// release returns the writer's finished batch to the queue bounds.
func (r *remote) release(msgs, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queuedMsgs -= msgs
	r.queuedBytes -= bytes
	r.writingSince = time.Time{}
}

// backlog returns how long the oldest message not yet written has waited.
func (r *remote) backlog(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	since := r.writingSince
	for _, t := range [2]time.Time{r.queuedSince, r.bulkSince} {
		if since.IsZero() || !t.IsZero() && t.Before(since) {
			since = t
		}
	}
	if since.IsZero() {
		return 0
	}
	return now.Sub(since)
}

// dropQueueLocked drops the messages not yet taken by the writer.
func (r *remote) dropQueueLocked(n *counters) {
	n.dropped.Add(uint64(len(r.queue) + len(r.bulk)))
	for _, q := range [2][][]byte{r.queue, r.bulk} {
		for i, m := range q {
			r.queuedBytes -= len(m)
			q[i] = nil
		}
		r.queuedMsgs -= len(q)
	}
	r.queue, r.bulk = r.queue[:0], nil
	r.queuedSince, r.bulkSince = time.Time{}, time.Time{}
}

// setConnected records a connectedness change and reports whether it was
// one. Messages queued for a peer that disconnected are dropped: they would
// be stale by the time it is back.
func (r *remote) setConnected(up bool, n *counters) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.connected == up {
		return false
	}
	r.connected = up
	if !up {
		r.dropQueueLocked(n)
		r.kickDialer()
	}
	return true
}

func (r *remote) kickDialer() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// setLimit rate-limits the peer or lifts its limit. A peer that stays
// pending keeps its bucket, so repeated updates do not refill it.
func (r *remote) setLimit(limited bool, limit RateLimit, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !limited:
		r.limit = nil
	case r.limit == nil:
		r.limit = newBucket(limit, now)
	}
}

// admit reports whether a message of n bytes from the peer may be
// delivered under its rate limit.
func (r *remote) admit(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limit == nil || r.limit.allow(time.Now(), n)
}

// stop ends the peer's goroutines and drops its queue.
func (r *remote) stop(n *counters) {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.done)
	r.connected = false
	r.dropQueueLocked(n)
}

// writeLoop drains the peer's queue onto its outbound stream until the peer
// stops being allowed.
func (h *Host) writeLoop(r *remote) {
	defer h.wg.Done()
	w := writer{h: h, r: r}
	defer w.reset()
	var spare [][]byte
	for {
		select {
		case <-r.done:
			return
		case <-r.wake:
		}
		batch := r.take(spare)
		w.send(batch)
		clear(batch)
		spare = batch[:0]
	}
}

// writer is a writer goroutine's outbound stream, opened on demand and
// replaced after a failure.
type writer struct {
	h  *Host
	r  *remote
	s  network.Stream
	bw *bufio.Writer
}

// send writes a batch and flushes it; what cannot be written is dropped.
func (w *writer) send(batch [][]byte) {
	// The queue may have been dropped between the wake-up and the take.
	if len(batch) == 0 {
		return
	}
	size := 0
	for _, m := range batch {
		size += len(m)
	}
	defer w.r.release(len(batch), size)
	// A stream on a connection that closed since the last batch would fail
	// the first write and lose the batch; after a reconnect, open anew.
	if w.s != nil && w.s.Conn().IsClosed() {
		w.reset()
	}
	for i, msg := range batch {
		if err := w.write(msg); err != nil {
			w.h.log.Debug("stream write failed", "peer", w.r.name, "err", err)
			w.reset()
			w.h.n.dropped.Add(uint64(len(batch) - i))
			return
		}
		w.h.n.msgsOut.Add(1)
		w.h.n.bytesOut.Add(uint64(frameHeaderBytes + len(msg)))
	}
	if err := w.bw.Flush(); err != nil {
		w.h.log.Debug("stream flush failed", "peer", w.r.name, "err", err)
		w.reset()
	}
}

// write buffers one frame, opening a stream first if there is none.
func (w *writer) write(msg []byte) error {
	if w.s == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	// A deadline per frame bounds how long a peer that stopped reading can
	// hold the writer; its queue fills and drops meanwhile.
	if err := w.s.SetWriteDeadline(time.Now().Add(w.h.cfg.FrameTimeout)); err != nil {
		return err
	}
	return writeFrame(w.bw, msg)
}

// open opens the outbound stream on an existing connection: connecting is
// the dial loop's job, so a peer that is down costs no dial per message.
func (w *writer) open() error {
	ctx, cancel := context.WithTimeout(network.WithNoDial(w.h.ctx, "connections are made by the dial loop"), w.h.cfg.DialTimeout)
	defer cancel()
	s, err := w.h.host.NewStream(ctx, w.r.id, ProtocolID)
	if err != nil {
		return err
	}
	w.s = s
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(s, writeBufferBytes)
	} else {
		w.bw.Reset(s)
	}
	return nil
}

func (w *writer) reset() {
	if w.s != nil {
		w.s.Reset()
		w.s = nil
	}
}

// dialLoop keeps the peer connected while it is allowed: it dials whenever
// the peer is disconnected and has addresses, backing off exponentially
// with jitter after failures, so restarted peers are found again and a
// cluster restarting at once does not dial in lockstep. A connection that
// drops within RedialMax counts as a failure too: a peer that refuses us
// closes a TCP connection only after our side saw it complete.
func (h *Host) dialLoop(r *remote) {
	defer h.wg.Done()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	backoff := h.cfg.RedialMin
	for {
		if h.isConnected(r.id) || len(h.host.Peerstore().Addrs(r.id)) == 0 {
			if !r.await() {
				return
			}
			continue
		}
		err := h.dial(r.id)
		if err == nil {
			up := time.Now()
			for h.isConnected(r.id) {
				if !r.await() {
					return
				}
			}
			if time.Since(up) >= h.cfg.RedialMax {
				backoff = h.cfg.RedialMin
				continue
			}
			err = errors.New("connection closed right after it was made")
		}
		wait := backoff/2 + time.Duration(rng.Int64N(int64(backoff/2)+1))
		h.log.Debug("dial failed", "peer", r.name, "retry_in", wait, "err", err)
		select {
		case <-r.done:
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, h.cfg.RedialMax)
	}
}

// await waits for a kick and reports false once the peer is no longer
// allowed instead.
func (r *remote) await() bool {
	select {
	case <-r.done:
		return false
	case <-r.kick:
		return true
	}
}

// isConnected asks the swarm rather than the remote's flag, which follows
// it through the event bus a little later.
func (h *Host) isConnected(id peer.ID) bool {
	return h.host.Network().Connectedness(id) == network.Connected
}

func (h *Host) dial(id peer.ID) error {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.DialTimeout)
	defer cancel()
	// The dial loop paces itself; the swarm's own backoff would hold back
	// the first dials to a peer that just restarted.
	ctx = network.WithForceDirectDial(ctx, "paced by the dial loop")
	return h.host.Connect(ctx, peer.AddrInfo{ID: id})
}

// handleStream reads frames from a peer's inbound stream and delivers them,
// until the stream fails, breaks the wire format, or is replaced.
func (h *Host) handleStream(s network.Stream) {
	r := h.adopt(s)
	if r == nil {
		s.Reset()
		return
	}
	defer h.wg.Done()
	defer h.retire(r, s)
	br := bufio.NewReaderSize(s, readBufferBytes)
	for {
		n, err := readFrameLength(br, h.cfg.MaxMessageBytes)
		if err != nil {
			if errors.Is(err, errFrame) {
				h.n.invalid.Add(1)
				h.log.Warn("invalid frame, stream reset", "peer", r.name, "err", err)
			} else if !errors.Is(err, io.EOF) {
				h.log.Debug("stream read failed", "peer", r.name, "err", err)
			}
			return
		}
		if !h.readMessage(r, s, br, n) {
			return
		}
	}
}

// readMessage reads and delivers a message of n bytes. Its memory is
// reserved with the resource manager until it is delivered, so frames in
// flight cannot exceed the memory limits.
func (h *Host) readMessage(r *remote, s network.Stream, br *bufio.Reader, n int) bool {
	if err := s.Scope().ReserveMemory(n, network.ReservationPriorityAlways); err != nil {
		h.log.Warn("no memory for incoming message, stream reset", "peer", r.name, "bytes", n, "err", err)
		return false
	}
	defer s.Scope().ReleaseMemory(n)
	// Only the body has a deadline: an idle stream waits for its next
	// header forever, a started frame must finish in time.
	if err := s.SetReadDeadline(time.Now().Add(h.cfg.FrameTimeout)); err != nil {
		return false
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(br, msg); err != nil {
		h.log.Debug("stream read failed", "peer", r.name, "err", err)
		return false
	}
	if err := s.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	h.n.bytesIn.Add(uint64(frameHeaderBytes + n))
	if !r.admit(n) {
		h.n.limited.Add(1)
		return true
	}
	h.n.msgsIn.Add(1)
	r.deliverMu.Lock()
	h.deliver(r.name, msg)
	r.deliverMu.Unlock()
	return true
}

// adopt makes s the peer's inbound stream, resetting the one it replaces:
// a peer writes on one stream at a time, so an older one is stale. It
// returns nil for a stream the host must refuse.
func (h *Host) adopt(s network.Stream) *remote {
	h.mu.Lock()
	r := h.remotes[s.Conn().RemotePeer()]
	if h.closed || r == nil {
		h.mu.Unlock()
		return nil
	}
	h.wg.Add(1)
	h.mu.Unlock()
	r.mu.Lock()
	old := r.inbound
	r.inbound = s
	r.mu.Unlock()
	if old != nil {
		old.Reset()
	}
	return r
}

func (h *Host) retire(r *remote, s network.Stream) {
	r.mu.Lock()
	if r.inbound == s {
		r.inbound = nil
	}
	r.mu.Unlock()
	s.Reset()
}
