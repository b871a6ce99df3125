package engine

import (
	"context"
	"sync"
)

// DemandQueue delivers demand events without ever blocking the caller: the
// latest state per path is kept and a single goroutine hands it over, skipping
// states the consumer already has.
type DemandQueue struct {
	out chan DemandEvent

	mu        sync.Mutex
	order     []string        // paths whose latest state may be undelivered
	queued    map[string]bool // path is in order
	latest    map[string]bool // latest state per path
	delivered map[string]bool // last state handed to the consumer
	wake      chan struct{}
}

// NewDemandQueue returns a queue; Run hands its events over.
func NewDemandQueue() *DemandQueue {
	return &DemandQueue{
		out:       make(chan DemandEvent),
		queued:    map[string]bool{},
		latest:    map[string]bool{},
		delivered: map[string]bool{},
		wake:      make(chan struct{}, 1),
	}
}

// Set records the demand state of a path. It never blocks.
func (q *DemandQueue) Set(path string, demanded bool) {
	q.mu.Lock()
	q.latest[path] = demanded
	if !q.queued[path] {
		q.queued[path] = true
		q.order = append(q.order, path)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run hands events to Out until ctx ends.
func (q *DemandQueue) Run(ctx context.Context) {
	for {
		q.mu.Lock()
		var ev *DemandEvent
		for ev == nil && len(q.order) > 0 {
			name := q.order[0]
			q.order = q.order[1:]
			q.queued[name] = false
			if st := q.latest[name]; st != q.delivered[name] {
				ev = &DemandEvent{Path: name, Demanded: st}
			}
		}
		q.mu.Unlock()
		if ev == nil {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case q.out <- *ev:
			q.mu.Lock()
			q.delivered[ev.Path] = ev.Demanded
			q.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// Out is the channel of demand events.
func (q *DemandQueue) Out() <-chan DemandEvent { return q.out }

// Close closes the output channel; Run must have returned.
func (q *DemandQueue) Close() { close(q.out) }
