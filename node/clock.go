package node

import "time"

// Clock is the node's time and timers. The live runtime reads the wall
// clock and posts timer callbacks to the node's goroutine; the simulator
// gives virtual time. Callbacks run on the node's goroutine, like every
// other entry point.
type Clock interface {
	// Now returns the node's clock in Unix nanoseconds.
	Now() int64
	// AfterFunc calls f after d unless the returned timer is stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports whether the call was still pending.
	Stop() bool
}
