package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func acquire(t *testing.T, b *Budget, n int64) func() {
	t.Helper()
	release, err := b.Acquire(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return release
}

// waitFor acquires n in the background; the channel gets the release
// once granted.
func waitFor(b *Budget, n int64) <-chan func() {
	got := make(chan func(), 1)
	go func() {
		release, err := b.Acquire(context.Background(), n)
		if err == nil {
			got <- release
		}
	}()
	return got
}

// queued waits until n requests wait.
func queued(t *testing.T, b *Budget, n int) {
	t.Helper()
	testutil.Eventually(t, time.Second, "queued requests", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.waiters.Len() == n
	})
}

func granted(ch <-chan func(), within time.Duration) (func(), bool) {
	select {
	case r := <-ch:
		return r, true
	case <-time.After(within):
		return nil, false
	}
}

func TestWaitsUntilReleased(t *testing.T) {
	b := New(10)
	first := acquire(t, b, 7)
	second := waitFor(b, 5)
	if _, ok := granted(second, 50*time.Millisecond); ok {
		t.Fatal("granted past the capacity")
	}
	first()
	release, ok := granted(second, time.Second)
	if !ok {
		t.Fatal("not granted after the release")
	}
	release()
}

// Waiters are served in order: a big one is not overtaken by small ones
// that would fit (it would starve otherwise).
func TestFirstComeFirstServed(t *testing.T) {
	b := New(10)
	held := acquire(t, b, 6)
	big := waitFor(b, 10)
	queued(t, b, 1) // big queues first
	small := waitFor(b, 1)
	if _, ok := granted(small, 50*time.Millisecond); ok {
		t.Fatal("a small request overtook the waiting big one")
	}
	held()
	releaseBig, ok := granted(big, time.Second)
	if !ok {
		t.Fatal("big not granted")
	}
	if _, ok := granted(small, 50*time.Millisecond); ok {
		t.Fatal("small granted while big holds everything")
	}
	releaseBig()
	releaseSmall, ok := granted(small, time.Second)
	if !ok {
		t.Fatal("small not granted")
	}
	releaseSmall()
}

func TestContextEndsTheWait(t *testing.T) {
	b := New(10)
	held := acquire(t, b, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := b.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	// A waiter that gave up at the head lets the ones behind it in.
	ctx2, cancel2 := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := b.Acquire(ctx2, 10); gaveUp <- err }()
	queued(t, b, 1)
	behind := waitFor(b, 0)
	queued(t, b, 2)
	cancel2()
	if err := <-gaveUp; err == nil {
		t.Fatal("granted a full budget that is held")
	}
	release, ok := granted(behind, time.Second)
	if !ok {
		t.Fatal("the waiter behind one that gave up is stuck")
	}
	release()
	held()
	acquire(t, b, 10)() // all of it is free again
}

// More than the capacity takes all of it, so it runs alone.
func TestLargerThanCapacity(t *testing.T) {
	b := New(10)
	release := acquire(t, b, 1000)
	if _, ok := granted(waitFor(b, 1), 50*time.Millisecond); ok {
		t.Fatal("granted beside a request for everything")
	}
	release()
}

func TestNeverOverCapacity(t *testing.T) {
	b := New(100)
	var in atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			n := int64(1 + i%40)
			release, err := b.Acquire(context.Background(), n)
			if err != nil {
				t.Error(err)
				return
			}
			if v := in.Add(n); v > 100 {
				t.Errorf("%d in use", v)
			}
			time.Sleep(time.Millisecond)
			in.Add(-n)
			release()
		})
	}
	wg.Wait()
	acquire(t, b, 100)()
}
