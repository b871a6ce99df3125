//go:build unix

package mediamtx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// flockPoll is how often lockFile retries a lock another process holds.
const flockPoll = 100 * time.Millisecond

// lockFile takes an exclusive flock on path, waiting while another process
// (or another open file of this one) holds it, until ctx ends. The kernel
// drops the lock if the process dies, so a crashed download never blocks the
// next one. It polls with LOCK_NB because a blocking flock cannot be
// cancelled.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	tick := time.NewTicker(flockPoll)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for another process's MediaMTX download (%s): %w", path, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
