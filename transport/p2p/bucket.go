package p2p

import "time"

// RateLimit is a token bucket over messages and bytes.
type RateLimit struct {
	MessagesPerSecond float64
	BurstMessages     int
	BytesPerSecond    float64
	// BurstBytes is also the largest message that can ever pass.
	BurstBytes int
}

// bucket enforces a RateLimit. A message passes only if both budgets hold
// it, so neither a flood of small messages nor a few large ones gets
// through. It starts full: a new peer may send its first burst at once.
type bucket struct {
	limit RateLimit
	msgs  float64
	bytes float64
	last  time.Time
}

func newBucket(limit RateLimit, now time.Time) *bucket {
	return &bucket{limit: limit, msgs: float64(limit.BurstMessages), bytes: float64(limit.BurstBytes), last: now}
}

// allow takes one message of n bytes from the bucket at time now, if it
// holds them.
func (b *bucket) allow(now time.Time, n int) bool {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.msgs = min(b.msgs+dt*b.limit.MessagesPerSecond, float64(b.limit.BurstMessages))
		b.bytes = min(b.bytes+dt*b.limit.BytesPerSecond, float64(b.limit.BurstBytes))
		b.last = now
	}
	if b.msgs < 1 || b.bytes < float64(n) {
		return false
	}
	b.msgs--
	b.bytes -= float64(n)
	return true
}
