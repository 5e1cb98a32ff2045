package api

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of the per-client rate limit.
const (
	// DefaultClientRate is how many transactions a second one client (one
	// IP address) may submit, on average; DefaultClientBurst how many at
	// once, a full batch and more.
	DefaultClientRate  = 1000
	DefaultClientBurst = 2 * DefaultMaxBatchTxs
	// maxClients bounds the clients the limiter remembers; the one first
	// seen longest ago is forgotten first.
	maxClients = 1 << 14
)

// limiter is a token bucket per client IP address. Loopback clients (the
// operator's own tools, a devnet's load) are not limited.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*clientBucket
	order []string // insertion order, for forgetting
}

type clientBucket struct {
	l *rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, by: make(map[string]*clientBucket)}
}

// take spends n tokens of r's client, or reports how long it must wait.
func (l *limiter) take(r *http.Request, n int) (ok bool, retry time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true, 0
	}
	l.mu.Lock()
	b := l.by[host]
	if b == nil {
		if len(l.order) >= maxClients {
			delete(l.by, l.order[0])
			l.order = l.order[1:]
		}
		b = &clientBucket{l: rate.NewLimiter(l.rate, l.burst)}
		l.by[host] = b
		l.order = append(l.order, host)
	}
	l.mu.Unlock()
	res := b.l.ReserveN(time.Now(), n)
	if !res.OK() {
		// More than the burst at once: never admissible as one request.
		return false, time.Duration(float64(n) / float64(l.rate) * float64(time.Second))
	}
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}

// tooMany is the answer to a client over its rate.
func tooMany(retry time.Duration) *Error {
	e := errorf(http.StatusTooManyRequests, CodeBusy, "this client submits faster than the node takes from one client; retry after Retry-After seconds")
	e.retryAfter = max(1, int(retry.Round(time.Second)/time.Second))
	return e
}

// hostAllowed says whether a request's Host header names this node, when
// the API listens on loopback only: a browser that a rebound name sends to
// 127.0.0.1 carries the name, not a loopback address.
func hostAllowed(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clip shortens what a client sent for an error message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
