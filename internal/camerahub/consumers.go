package camerahub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
)

// accessUnitQueue bounds the access units waiting for a compressed-stream
// consumer; a full queue drops up to the next IDR.
const accessUnitQueue = 128

// Frame is one decoded picture of a camera.
type Frame struct {
	// Frame is BGR24 at the subscription's size. Its data is shared with
	// the decoder's other consumers: read-only.
	*frame.Frame
	PTS  time.Duration // the camera's presentation time (see AccessUnit)
	Time time.Time     // when its access unit arrived from the camera
}

// Frames is one consumer's subscription to a camera's decoded frames: a
// slot holding the newest frame not yet taken. A frame that comes before
// the previous one was taken replaces it (counted as dropped), so a slow
// consumer never holds the decoder back.
type Frames struct {
	cam   *camera // an RTSP camera's, with its decoder
	dec   *decoder
	local *localSource // or a local camera's ffmpeg
	name  string
	opts  FrameOptions
	slot  chan Frame
	done  chan struct{}
	once  sync.Once
	limit rateLimit // used by the decoder's reader only
	// failBase is the camera's failed sessions when f subscribed (Failure).
	failBase int

	delivered, dropped atomic.Uint64
}

// Next waits for the next frame. It fails with ctx's error, or ErrClosed
// once the subscription or the hub is closed.
func (f *Frames) Next(ctx context.Context) (Frame, error) {
	select {
	case fr := <-f.slot:
		f.delivered.Add(1)
		return fr, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-f.done:
		return Frame{}, ErrClosed
	}
}

// Close ends the subscription; the decoder and the camera's session end
// with their last consumer (before Close returns).
func (f *Frames) Close() {
	if !f.end() {
		return
	}
	if f.local != nil {
		f.local.hub.leaveLocal(f)
		return
	}
	f.cam.unsubscribe(f, nil)
}

// end marks f closed; true the first time.
func (f *Frames) end() bool {
	first := false
	f.once.Do(func() {
		close(f.done)
		first = true
	})
	return first
}

// Health is what the consumer's owner reports: why no frame comes (the
// camera's last error while it is not connected, else the decoder's ffmpeg
// error while it is not running; empty otherwise), and how often the
// decoder's ffmpeg was restarted or replaced.
func (f *Frames) Health() (problem string, restarts int) {
	if f.local != nil {
		return f.local.health()
	}
	problem, restarts = f.dec.health()
	if camProblem := f.cam.problem(); camProblem != "" {
		problem = camProblem
	}
	return problem, restarts
}

// Failure is why no frame can come, as seen since f subscribed: an RTSP
// session that failed after it (an older error is history, the session
// may work now) or its decoder's ffmpeg that is not running, a local
// camera's ffmpeg that is not running; "" while nothing failed. Unlike
// Health it waits for a fresh attempt, which is what a one-off probe needs.
func (f *Frames) Failure() string {
	if f.local != nil {
		problem, _ := f.local.health()
		return problem
	}
	if problem := f.cam.failureSince(f.failBase); problem != "" {
		return problem
	}
	problem, _ := f.dec.health()
	return problem
}

// offer puts a frame in the slot, replacing one not taken (the decoder's
// reader goroutine only).
func (f *Frames) offer(fr Frame) {
	if !f.limit.keep(fr.PTS) {
		return
	}
	select {
	case f.slot <- fr:
		return
	default:
	}
	select {
	case <-f.slot:
		f.dropped.Add(1)
	default:
	}
	select {
	case f.slot <- fr:
	default: // taken and refilled meanwhile: impossible with one offerer, but never block
		f.dropped.Add(1)
	}
}

func (f *Frames) status() ConsumerStatus {
	return ConsumerStatus{Name: f.name, Kind: "frames", Width: f.opts.Width, Height: f.opts.Height, FPSLimit: f.opts.FPS,
		Delivered: f.delivered.Load(), Dropped: f.dropped.Load()}
}

// rateLimit keeps at most fps frames a second by the frames' PTS: the
// second is cut into fps slots and the first frame of each slot is kept,
// so a 25 fps camera limited to 10 gives 10, not 8.3 (every third frame).
type rateLimit struct {
	fps     int
	started bool
	slot    int64
}

func (l *rateLimit) keep(pts time.Duration) bool {
	if l.fps <= 0 {
		return true
	}
	slot := int64(pts / (time.Second / time.Duration(l.fps)))
	if l.started && slot <= l.slot {
		return false
	}
	l.started, l.slot = true, slot
	return true
}

// AccessUnits is one consumer's subscription to a camera's compressed
// stream, from an IDR on: a queue of accessUnitQueue access units; when it
// is full, access units are dropped (counted) up to the next IDR.
type AccessUnits struct {
	cam     *camera
	name    string
	queue   chan AccessUnit
	done    chan struct{}
	once    sync.Once
	waitIDR atomic.Bool

	delivered, dropped atomic.Uint64
}

// Next waits for the next access unit. It fails with ctx's error, or
// ErrClosed once the subscription or the hub is closed.
func (a *AccessUnits) Next(ctx context.Context) (AccessUnit, error) {
	select {
	case au := <-a.queue:
		a.delivered.Add(1)
		return au, nil
	case <-ctx.Done():
		return AccessUnit{}, ctx.Err()
	case <-a.done:
		return AccessUnit{}, ErrClosed
	}
}

// Close ends the subscription (and the camera's session with its last
// consumer, before Close returns).
func (a *AccessUnits) Close() {
	if a.end() {
		a.cam.unsubscribe(nil, a)
	}
}

func (a *AccessUnits) end() bool {
	first := false
	a.once.Do(func() {
		close(a.done)
		first = true
	})
	return first
}

func (a *AccessUnits) push(au AccessUnit) {
	if a.waitIDR.Load() && !au.IDR {
		a.dropped.Add(1)
		return
	}
	select {
	case a.queue <- au:
		a.waitIDR.Store(false)
	default:
		a.dropped.Add(1)
		a.waitIDR.Store(true)
	}
}

func (a *AccessUnits) status() ConsumerStatus {
	return ConsumerStatus{Name: a.name, Kind: "access_units", Delivered: a.delivered.Load(), Dropped: a.dropped.Load()}
}
