// Package broadcast hands the newest value of something (a settings
// revision, an engine state) to any number of subscribers. Each subscriber
// has a one-slot channel that always holds the newest value not yet taken:
// a slow subscriber skips to the newest instead of blocking the publisher,
// and never acts on a stale value. It never blocks and starts no goroutine.
package broadcast

import "sync"

// Latest is a value and its subscribers. The zero value is ready to use.
type Latest[T any] struct {
	mu      sync.Mutex
	current T
	subs    map[chan T]struct{}
}

// Publish makes v the current value and hands it to every subscriber.
func (l *Latest[T]) Publish(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current = v
	for ch := range l.subs {
		select {
		case <-ch: // drop the older value not taken yet
		default:
		}
		ch <- v
	}
}

// Current is the last published value.
func (l *Latest[T]) Current() T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// Subscribe returns a channel that receives each newer value; when
// withCurrent is set it holds the current value at once. Call cancel when
// done.
func (l *Latest[T]) Subscribe(withCurrent bool) (values <-chan T, cancel func()) {
	ch := make(chan T, 1)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan T]struct{}{}
	}
	l.subs[ch] = struct{}{}
	if withCurrent {
		ch <- l.current
	}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}
