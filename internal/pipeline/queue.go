package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// queue is a bounded FIFO of packets that drops its oldest packet when full.
type queue struct {
	max     int
	mu      sync.Mutex
	items   []*Packet
	wake    chan struct{}
	dropped atomic.Uint64
}

func newQueue(max int) *queue {
	return &queue{max: max, wake: make(chan struct{}, 1)}
}

// push adds p, dropping the oldest packet when the queue is full; it never
// blocks.
func (q *queue) push(p *Packet) {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.items = q.items[1:]
		q.dropped.Add(1)
	}
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next packet; it returns nil when ctx ends.
func (q *queue) pop(ctx context.Context) *Packet {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			p := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			return p
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil
		}
	}
}
