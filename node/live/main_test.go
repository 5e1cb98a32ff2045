package live

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left running
// once they are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// goleveldb's DB.Close does not wait for this goroutine: told to
		// stop, it waits up to a second for a buffer to come back, then
		// returns. A store left open is still caught by its other
		// goroutines (compaction, journal writer), which Close does wait
		// for.
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
}
