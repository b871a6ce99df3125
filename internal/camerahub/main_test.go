package camerahub

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (a session, a
// decoder, a process reader) is still running after them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
