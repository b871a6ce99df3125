package testutil

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 20 * time.Millisecond

// Eventually calls cond every PollInterval until it returns true and returns
// how long that took. If cond is still false after within, it fails the test
// with t.Fatalf, naming what it was waiting for.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %v waiting for %s", within, what)
			break // t.Fatalf does not return; a fake testing.TB's might
		}
		time.Sleep(PollInterval)
	}
	return time.Since(start)
}
