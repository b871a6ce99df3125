package engine

import "sync"

// demandHub fans demand events out to any number of subscribers. Each
// subscriber has its own unbounded queue, so a slow one never blocks the
// engine nor loses the "no more readers" event that stops a publisher.
type demandHub struct {
	mu       sync.Mutex
	subs     map[*demandSub]struct{}
	demanded map[string]bool // paths with readers, as last reported
}

type demandSub struct {
	mu     sync.Mutex
	queue  []DemandEvent
	wake   chan struct{}
	out    chan DemandEvent
	closed chan struct{}
}

func newDemandHub() *demandHub {
	return &demandHub{subs: map[*demandSub]struct{}{}, demanded: map[string]bool{}}
}

// publish delivers ev to every subscriber and remembers the path's state.
func (h *demandHub) publish(ev DemandEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.demanded[ev.Path] == ev.Demanded {
		return // no change
	}
	if ev.Demanded {
		h.demanded[ev.Path] = true
	} else {
		delete(h.demanded, ev.Path)
	}
	for s := range h.subs {
		s.push(ev)
	}
}

// releaseAll reports every demanded path as no longer demanded (the engine
// stopped and its readers are gone).
func (h *demandHub) releaseAll() {
	h.mu.Lock()
	paths := make([]string, 0, len(h.demanded))
	for p := range h.demanded {
		paths = append(paths, p)
	}
	h.mu.Unlock()
	for _, p := range paths {
		h.publish(DemandEvent{Path: p, Demanded: false})
	}
}

// isDemanded reports whether path has readers.
func (h *demandHub) isDemanded(path string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.demanded[path]
}

// subscribe returns a channel of demand changes, starting with the paths
// demanded right now, and a cancel function.
func (h *demandHub) subscribe() (<-chan DemandEvent, func()) {
	s := &demandSub{wake: make(chan struct{}, 1), out: make(chan DemandEvent), closed: make(chan struct{})}
	h.mu.Lock()
	for p := range h.demanded {
		s.push(DemandEvent{Path: p, Demanded: true})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.pump()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
			close(s.closed)
		})
	}
}

func (s *demandSub) push(ev DemandEvent) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *demandSub) pump() {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range batch {
			select {
			case s.out <- ev:
			case <-s.closed:
				return
			}
		}
		select {
		case <-s.wake:
		case <-s.closed:
			return
		}
	}
}
