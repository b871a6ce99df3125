// Package arbiter keeps, per transmission, the writers that publish frames
// into it and decides which one is shown: lifecycle (open, update, close),
// priority, freshness and a sticky window, with the limits on how many
// writers a transmission keeps and for how long.
//
// It never does I/O, never blocks beyond a short mutex, and never copies
// frame data: frames handed to it are immutable and owned by it.
package arbiter

import (
	"cmp"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Lifecycle of a writer.
type Lifecycle string

// Lifecycle values.
const (
	Open   Lifecycle = "open"
	Update Lifecycle = "update"
	Close  Lifecycle = "close"
)

// Config holds the windows and limits (see DefaultConfig).
type Config struct {
	Freshness  time.Duration // a writer's frame counts this long (default 2s)
	Sticky     time.Duration // a new selection is kept this long while eligible (default 0.5s)
	StaleAfter time.Duration // a writer silent this long is forgotten (default 30s)
	MaxWriters int           // writers kept per transmission (default 32)
}

// Defaults of Config.
const (
	DefaultFreshness  = 2 * time.Second
	DefaultSticky     = 500 * time.Millisecond
	DefaultStaleAfter = 30 * time.Second
	DefaultMaxWriters = 32
)

// DefaultConfig is the documented default of every window and limit.
func DefaultConfig() Config {
	return Config{Freshness: DefaultFreshness, Sticky: DefaultSticky, StaleAfter: DefaultStaleAfter, MaxWriters: DefaultMaxWriters}
}

// checked keeps a configuration usable: at least one writer, no negative window.
func (c Config) checked() Config {
	c.Freshness, c.Sticky, c.StaleAfter = max(0, c.Freshness), max(0, c.Sticky), max(0, c.StaleAfter)
	c.MaxWriters = max(1, c.MaxWriters)
	return c
}

type writer struct {
	id        string
	lifecycle Lifecycle
	priority  int
	frame     *frame.Frame
	seq       uint64    // of frame; 0 without a frame
	frameAt   time.Time // when frame arrived
	updatedAt time.Time // last publish or close
}

// Forward says that a writer only forwards a camera's pictures (at most at
// a lower rate), so its publisher may read the camera itself (bypass). The
// writer declares it; the arbiter only carries it to whoever selects it.
type Forward struct {
	Source      camerahub.Source // credentials in memory: never log it
	RedactedURL string           // for diagnostics
	FPS         int              // 0: the camera's own rate
}

type transmission struct {
	mode        model.Arbitration
	writers     map[string]*writer
	forwards    map[string]*Forward // by writer id; kept across writer eviction
	refused     uint64              // new writers refused at the cap
	frames      uint64              // frames published (see Counts)
	switches    uint64              // changes of the selected writer
	active      string
	stickyUntil time.Time
	reason      string
	// updated wakes the pumps of the transmission at each new frame of the
	// selected writer and each change of selection.
	updated broadcast.Signal
}

// Arbiter holds the writers of every transmission. Safe for concurrent use.
type Arbiter struct {
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	cfg      Config
	seq      uint64
	ts       map[string]*transmission
	onChange func(transmissionID string)
}

// OnActiveChange registers fn, called whenever a transmission's selected
// writer changes. It runs with the arbiter locked: it must return at once
// and must not call the arbiter.
func (a *Arbiter) OnActiveChange(fn func(transmissionID string)) {
	a.mu.Lock()
	a.onChange = fn
	a.mu.Unlock()
}

// New returns an arbiter; now is its clock (time.Now when nil).
func New(cfg Config, now func() time.Time, log *slog.Logger) *Arbiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Arbiter{now: now, log: log, cfg: cfg.checked(), ts: map[string]*transmission{}}
}

// SetConfig changes the windows and limits.
func (a *Arbiter) SetConfig(cfg Config) {
	a.mu.Lock()
	a.cfg = cfg.checked()
	a.mu.Unlock()
}

// SetMode sets a transmission's arbitration mode (anything unknown means
// priority_latest, the default).
func (a *Arbiter) SetMode(transmissionID string, mode model.Arbitration) {
	if mode != model.ArbitrationLatest {
		mode = model.ArbitrationPriorityLatest
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.get(transmissionID).mode = mode
}

func (a *Arbiter) get(tid string) *transmission {
	t := a.ts[tid]
	if t == nil {
		t = &transmission{mode: model.ArbitrationPriorityLatest, writers: map[string]*writer{}, forwards: map[string]*Forward{}}
		a.ts[tid] = t
	}
	return t
}

// ErrTooManyWriters refuses a new writer of a transmission whose every
// writer slot is taken by a writer that delivered a frame within the
// freshness window: a flood of new ids never pushes out a busy writer.
var ErrTooManyWriters = errors.New("too many writers")

// Publish records a writer's state and, when f is not nil, its new frame
// (which the arbiter now owns: callers must not change it). Close lifecycle
// closes the writer. It returns the writer selected afterwards ("" for none).
// A new writer at the writer cap takes the slot of the oldest writer that
// is not fresh (closed, or without a frame within the freshness window);
// when every writer is fresh it is refused with ErrTooManyWriters.
func (a *Arbiter) Publish(transmissionID, writerID string, lc Lifecycle, priority int, f *frame.Frame) (string, error) {
	if lc == Close {
		return a.Close(transmissionID, writerID), nil
	}
	if lc != Open {
		lc = Update
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	t := a.get(transmissionID)
	w := t.writers[writerID]
	if w == nil {
		a.evict(transmissionID, t, now, "")
		if len(t.writers) >= a.cfg.MaxWriters && !a.freeSlot(transmissionID, t, now) {
			t.refused++
			return t.active, ErrTooManyWriters
		}
		w = &writer{id: writerID}
		t.writers[writerID] = w
	}
	w.lifecycle, w.priority, w.updatedAt = lc, priority, now
	if f != nil {
		t.frames++
		a.seq++
		w.frame, w.seq, w.frameAt = f, a.seq, now
	}
	a.evict(transmissionID, t, now, writerID)
	a.arbitrate(transmissionID, t, now)
	if f != nil && t.active == writerID {
		t.updated.Notify()
	}
	return t.active, nil
}

// Updated returns a channel closed at the next new frame of the
// transmission's selected writer or the next change of its selection, so
// that a frame is encoded when it arrives rather than at the next tick.
func (a *Arbiter) Updated(transmissionID string) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.get(transmissionID).updated.Wait()
}

// freeSlot evicts the least recently updated writer that is not fresh,
// and reports whether there was one.
func (a *Arbiter) freeSlot(tid string, t *transmission, now time.Time) bool {
	var oldest *writer
	for _, w := range t.writers {
		if a.eligible(w, now) {
			continue
		}
		if oldest == nil || cmp.Or(w.updatedAt.Compare(oldest.updatedAt), cmp.Compare(w.id, oldest.id)) < 0 {
			oldest = w
		}
	}
	if oldest == nil {
		return false
	}
	delete(t.writers, oldest.id)
	a.log.Warn("writer evicted: its slot went to a new writer", "transmission", tid, "writer", oldest.id, "max", a.cfg.MaxWriters)
	return true
}

// Close marks a writer closed: it is no longer shown. Unknown writers are
// ignored. It returns the writer selected afterwards.
func (a *Arbiter) Close(transmissionID, writerID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.ts[transmissionID]
	if t == nil {
		return ""
	}
	now := a.now()
	if w := t.writers[writerID]; w != nil {
		w.lifecycle, w.updatedAt = Close, now
	}
	a.arbitrate(transmissionID, t, now)
	return t.active
}

// SetForward records (or, with nil, clears) what a writer forwards.
func (a *Arbiter) SetForward(transmissionID, writerID string, f *Forward) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.get(transmissionID)
	if f == nil {
		delete(t.forwards, writerID)
		return
	}
	t.forwards[writerID] = f
}

// Selection is what a transmission shows now.
type Selection struct {
	WriterID string       // "" when no writer is eligible
	Frame    *frame.Frame // nil when no writer is eligible: show the placeholder
	Seq      uint64       // identifies Frame: equal Seq, equal pixels
	Reason   string
	// Forward is set when the selected writer only forwards a camera.
	Forward *Forward
}

// Select evicts stale writers and returns the selected writer's frame.
func (a *Arbiter) Select(transmissionID string) Selection {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.ts[transmissionID]
	if t == nil {
		return Selection{Reason: reasonNone}
	}
	now := a.now()
	a.evict(transmissionID, t, now, "")
	a.arbitrate(transmissionID, t, now)
	if t.active == "" {
		return Selection{Reason: t.reason}
	}
	w := t.writers[t.active]
	return Selection{WriterID: w.id, Frame: w.frame, Seq: w.seq, Reason: t.reason, Forward: t.forwards[w.id]}
}

const reasonNone = "no eligible writer: placeholder"

func (a *Arbiter) eligible(w *writer, now time.Time) bool {
	return w != nil && w.lifecycle != Close && w.frame != nil && now.Sub(w.frameAt) <= a.cfg.Freshness
}

// better reports whether x ranks above y under mode.
func better(mode model.Arbitration, x, y *writer) bool {
	c := 0
	if mode == model.ArbitrationLatest {
		c = cmp.Or(x.frameAt.Compare(y.frameAt), cmp.Compare(x.priority, y.priority))
	} else {
		c = cmp.Or(cmp.Compare(x.priority, y.priority), x.frameAt.Compare(y.frameAt))
	}
	return cmp.Or(c, x.updatedAt.Compare(y.updatedAt), cmp.Compare(x.id, y.id)) > 0
}

// arbitrate applies the rules: no eligible writer clears the selection; a
// selection younger than the sticky window is kept while it is eligible;
// otherwise the best writer is selected, and a change starts a new window.
func (a *Arbiter) arbitrate(tid string, t *transmission, now time.Time) {
	before := t.active
	defer func() {
		if t.active == before {
			return
		}
		t.updated.Notify()
		t.switches++
		if a.onChange != nil {
			a.onChange(tid)
		}
	}()
	current := t.writers[t.active]
	if a.eligible(current, now) && now.Before(t.stickyUntil) {
		t.reason = "sticky: selected less than the sticky window ago"
		return
	}
	var best *writer
	candidates := 0
	for _, w := range t.writers {
		if !a.eligible(w, now) {
			continue
		}
		candidates++
		if best == nil || better(t.mode, w, best) {
			best = w
		}
	}
	switch {
	case best == nil:
		t.active, t.stickyUntil, t.reason = "", time.Time{}, reasonNone
		return
	case candidates == 1:
		t.reason = "only eligible writer"
	case t.mode == model.ArbitrationLatest:
		t.reason = "latest: most recent frame"
	default:
		t.reason = "priority_latest: highest priority, then most recent frame"
	}
	if best.id != t.active {
		t.active, t.stickyUntil = best.id, now.Add(a.cfg.Sticky)
	}
}

// evict forgets writers silent longer than StaleAfter, then the oldest ones
// beyond MaxWriters (never keep, the writer being updated).
func (a *Arbiter) evict(tid string, t *transmission, now time.Time, keep string) {
	for id, w := range t.writers {
		if now.Sub(w.updatedAt) > a.cfg.StaleAfter {
			delete(t.writers, id)
			a.log.Info("writer evicted: silent too long", "transmission", tid, "writer", id, "silent", now.Sub(w.updatedAt).Round(time.Millisecond))
		}
	}
	if len(t.writers) <= a.cfg.MaxWriters {
		return
	}
	ws := make([]*writer, 0, len(t.writers))
	for _, w := range t.writers {
		if w.id != keep {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(x, y *writer) int { return cmp.Or(x.updatedAt.Compare(y.updatedAt), cmp.Compare(x.id, y.id)) })
	var evicted []string
	for _, w := range ws[:len(t.writers)-a.cfg.MaxWriters] {
		delete(t.writers, w.id)
		evicted = append(evicted, w.id)
	}
	a.log.Warn("writers evicted: too many writers", "transmission", tid, "max", a.cfg.MaxWriters, "evicted", evicted)
}

// Prune forgets every transmission for which keep is false.
func (a *Arbiter) Prune(keep func(transmissionID string) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.ts {
		if !keep(id) {
			delete(a.ts, id)
		}
	}
}

// WriterState is one writer in diagnostics.
type WriterState struct {
	Lifecycle       Lifecycle `json:"lifecycle_state"`
	Priority        int       `json:"writer_priority"`
	HasFrame        bool      `json:"has_frame"`
	FrameAgeSeconds *float64  `json:"frame_age_seconds"`
	Eligible        bool      `json:"eligible"`
	UpdatedAtUnix   float64   `json:"updated_at_unix"`
}

// State is one transmission in diagnostics.
type State struct {
	ActiveWriter    *string                `json:"active_writer"`
	Reason          string                 `json:"reason"`
	ArbitrationMode model.Arbitration      `json:"arbitration_mode"`
	StickyUntilUnix *float64               `json:"sticky_until_unix"`
	Writers         map[string]WriterState `json:"writers"`
	// WritersRefused counts new writers refused at the writer cap.
	WritersRefused uint64 `json:"writers_refused"`
}

// Snapshot describes every transmission that has writers.
func (a *Arbiter) Snapshot() map[string]State {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	out := map[string]State{}
	for tid, t := range a.ts {
		a.evict(tid, t, now, "")
		a.arbitrate(tid, t, now)
		if len(t.writers) == 0 {
			continue
		}
		st := State{Reason: t.reason, ArbitrationMode: t.mode, Writers: map[string]WriterState{}, WritersRefused: t.refused}
		if t.active != "" {
			id := t.active
			st.ActiveWriter = &id
			if now.Before(t.stickyUntil) {
				u := unix(t.stickyUntil)
				st.StickyUntilUnix = &u
			}
		}
		for id, w := range t.writers {
			ws := WriterState{Lifecycle: w.lifecycle, Priority: w.priority, HasFrame: w.frame != nil, Eligible: a.eligible(w, now), UpdatedAtUnix: unix(w.updatedAt)}
			if w.frame != nil {
				age := now.Sub(w.frameAt).Seconds()
				ws.FrameAgeSeconds = &age
			}
			st.Writers[id] = ws
		}
		out[tid] = st
	}
	return out
}

// Counts are a transmission's totals since the arbiter first saw it (they
// start again after Prune forgot it): the frames its writers published and
// how often the selected writer changed, to and from none (the
// placeholder) included. Metrics read them; they never affect arbitration.
type Counts struct {
	Frames   uint64
	Switches uint64
}

// Counts reports every transmission the arbiter knows, writers or not.
func (a *Arbiter) Counts() map[string]Counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]Counts, len(a.ts))
	for tid, t := range a.ts {
		out[tid] = Counts{Frames: t.frames, Switches: t.switches}
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
