package p2p

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	limit := RateLimit{MessagesPerSecond: 2, BurstMessages: 3, BytesPerSecond: 100, BurstBytes: 200}
	t0 := time.Unix(1000, 0)
	type step struct {
		at    time.Duration
		bytes int
		want  bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"burst of messages then refused", []step{{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false}}},
		{"messages refill at their rate", []step{{0, 1, true}, {0, 1, true}, {0, 1, true}, {400 * time.Millisecond, 1, false}, {500 * time.Millisecond, 1, true}}},
		{"bytes bound a large message", []step{{0, 150, true}, {0, 100, false}, {500 * time.Millisecond, 100, true}}},
		{"over the byte burst never passes", []step{{0, 201, false}, {time.Hour, 201, false}}},
		{"refill stops at the burst", []step{{time.Hour, 1, true}, {time.Hour, 1, true}, {time.Hour, 1, true}, {time.Hour, 1, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(limit, t0)
			for i, s := range tc.steps {
				if got := b.allow(t0.Add(s.at), s.bytes); got != s.want {
					t.Fatalf("step %d (%v, %d bytes): allowed %v, want %v", i, s.at, s.bytes, got, s.want)
				}
			}
		})
	}
}
