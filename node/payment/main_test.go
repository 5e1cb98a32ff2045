package payment

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left running
// once they are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
