// Package budget shares a capacity between pieces of work of different
// sizes (bytes of frames being decoded): a weighted semaphore, first come
// first served, whose waits end with their context. It does no I/O and
// starts no goroutine.
package budget

import (
	"container/list"
	"context"
	"sync"
)

// Budget is a capacity that Acquire takes parts of and their release
// gives back. The zero value is not usable: see New.
type Budget struct {
	capacity int64

	mu      sync.Mutex
	used    int64
	waiters list.List // of *waiter, oldest first
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// New returns a budget of capacity (at least 1).
func New(capacity int64) *Budget {
	return &Budget{capacity: max(capacity, 1)}
}

// Capacity is the whole budget.
func (b *Budget) Capacity() int64 { return b.capacity }

// Acquire takes n of the budget, waiting until it is free and everyone
// who asked before got theirs, or until ctx ends (its error is returned).
// An n above the capacity takes the whole budget: such work runs alone
// rather than never. The returned release gives it back; call it once.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 0), b.capacity)
	release = func() { b.release(n) }
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.capacity {
		b.used += n
		b.mu.Unlock()
		return release, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	e := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return release, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while we gave up: hand it on
		b.used -= n
	default:
		b.waiters.Remove(e)
	}
	b.grantLocked() // those behind us may fit now
	return nil, ctx.Err()
}

func (b *Budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grantLocked()
}

// grantLocked admits waiters in order while the first one fits.
func (b *Budget) grantLocked() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*waiter)
		if b.used+w.n > b.capacity {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}
