package encoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// DefaultMaxAccessUnit is the largest access unit delivered unless
// MaxAccessUnit says otherwise; larger ones are skipped (with the frames
// that depend on them, up to the next IDR).
const DefaultMaxAccessUnit = 4 << 20

// maxPending bounds the frames written to ffmpeg that wait for their access
// unit. A low-latency encoder holds none back; more means it lost some.
const maxPending = 64

// Errors of WriteFrame.
var (
	// ErrDropped: the encoder is still busy with earlier frames (or
	// between processes); the frame was dropped and counted.
	ErrDropped = errors.New("encoder behind: frame dropped")
	ErrClosed  = errors.New("encoder closed")
	// ErrFrame is wrapped when the frame is not the encoder's size or its
	// pts is not after the previous frame's.
	ErrFrame = errors.New("frame refused")
)

// AccessUnit is one encoded frame.
type AccessUnit struct {
	PTS time.Duration // the pts its frame was written with
	// NALUs are the NAL units without start codes. They are read-only and
	// may share memory with other access units (the parameter sets).
	NALUs [][]byte
	IDR   bool // an IDR; SPS and PPS come first
}

// Encoder encodes frames with one supervised ffmpeg: WriteFrame hands it
// frames, OnAccessUnit gets their access units in the same order, with
// the same timestamps. When ffmpeg dies it is started again (with
// publisher.Process's backoff); frames that were in flight are lost, and
// the output resumes with an IDR carrying SPS and PPS.
type Encoder struct {
	Name      string // for logs and log file names
	FFmpeg    string // the ffmpeg binary
	Requested model.H264Encoder
	// Prober decides what runs; share one per service so each binary and
	// encoder is probed once. Nil: a private one.
	Prober        *Prober
	Width, Height int // of every frame written (even numbers)
	FPS           int // nominal frame rate: one keyframe every FPS frames
	BitrateKbps   int // 0: the encoder's default rate control
	Profile       model.LatencyProfile
	LogLevel      string // ffmpeg's -loglevel; empty: warning
	MaxAccessUnit int    // bytes; 0: DefaultMaxAccessUnit
	Supervision   publisher.Supervision
	// OnAccessUnit gets every access unit, from one goroutine. While it
	// runs, ffmpeg's output waits (and then frames are dropped).
	OnAccessUnit func(AccessUnit)

	sel    Selection
	proc   *publisher.Process
	frames chan input
	stop   chan struct{}
	fed    chan struct{} // closed when the feeder ended
	cur    atomic.Pointer[session]

	writeMu sync.Mutex // orders WriteFrame's checks and hand-over
	lastPTS time.Duration
	wrote   bool
	closed  bool

	framesIn, dropped, units, skipped atomic.Uint64
	streamErr                         atomic.Pointer[string]
}

type input struct {
	pts time.Duration
	f   *frame.Frame
}

// Status is what an encoder reports.
type Status struct {
	Selection
	FramesIn      uint64 `json:"frames_in"`      // written to ffmpeg
	FramesDropped uint64 `json:"frames_dropped"` // refused while behind, or lost with a dying ffmpeg
	AccessUnits   uint64 `json:"access_units"`   // delivered
	// FramesSkipped were encoded but not delivered: larger than the cap,
	// or depending on a frame that was not delivered.
	FramesSkipped uint64 `json:"frames_skipped"`
	// StreamError is the last time ffmpeg's output made no sense (ffmpeg
	// was then restarted).
	StreamError string           `json:"stream_error,omitempty"`
	Process     publisher.Status `json:"process"`
}

// Initialize checks the configuration, selects the encoder (running the
// probe the first time the Prober sees this binary and encoder) and starts
// ffmpeg.
func (e *Encoder) Initialize() error {
	if e.FFmpeg == "" || e.OnAccessUnit == nil {
		return fmt.Errorf("encoder %q: FFmpeg and OnAccessUnit are required", e.Name)
	}
	if err := frame.CheckSize(e.Width, e.Height); err != nil || e.Width%2 != 0 || e.Height%2 != 0 {
		return fmt.Errorf("encoder %q: size %dx%d: H.264 4:2:0 needs even sizes within %dx%d", e.Name, e.Width, e.Height, frame.MaxWidth, frame.MaxHeight)
	}
	if e.FPS < 1 || e.FPS > 240 {
		return fmt.Errorf("encoder %q: fps %d is outside 1..240", e.Name, e.FPS)
	}
	prober := e.Prober
	if prober == nil {
		prober = &Prober{}
	}
	sel, err := prober.Select(context.Background(), e.FFmpeg, e.Requested)
	if err != nil {
		return fmt.Errorf("encoder %q: %w", e.Name, err)
	}
	e.sel = sel
	if sel.Warning != "" && e.Supervision.Logger != nil {
		level := slog.LevelDebug
		if prober.firstWarning(sel.Warning) {
			level = slog.LevelWarn
		}
		e.Supervision.Logger.Log(context.Background(), level, "H.264 encoder fallback", "encoder", e.Name, "warning", sel.Warning)
	}
	params := Params{Codec: sel.Codec, Width: e.Width, Height: e.Height, FPS: e.FPS, BitrateKbps: e.BitrateKbps,
		Profile: e.Profile, LogLevel: e.LogLevel, VAAPIDevice: prober.VAAPIDevice}
	e.proc = &publisher.Process{
		Spec: publisher.Spec{
			Name: e.Name, Binary: e.FFmpeg, Args: params.Args(),
			// A new process starts a new session before its pipes exist,
			// so its stdin and stdout hooks find the same one.
			BeforeStart: func() error { e.cur.Store(&session{}); return nil },
			Stdin:       func(w io.WriteCloser) { e.cur.Load().attach(w) },
			Stdout:      e.read,
		},
		Supervision: e.Supervision,
	}
	e.frames = make(chan input, 1)
	e.stop = make(chan struct{})
	e.fed = make(chan struct{})
	go e.feed()
	if err := e.proc.Initialize(); err != nil {
		close(e.stop)
		<-e.fed
		return err
	}
	return nil
}

// Close stops ffmpeg and waits for everything the encoder started. No
// access unit is delivered after it returns. A second Close does nothing.
func (e *Encoder) Close() {
	e.writeMu.Lock()
	again := e.closed
	e.closed = true
	e.writeMu.Unlock()
	if again {
		return
	}
	e.proc.Close()
	close(e.stop)
	<-e.fed
}

// WriteFrame hands a frame to the encoder without waiting: when the one
// before is still being written it is dropped (ErrDropped). f must be of
// the encoder's size and is not modified; pts must increase.
func (e *Encoder) WriteFrame(pts time.Duration, f *frame.Frame) error {
	if f == nil || f.Width != e.Width || f.Height != e.Height || len(f.Data) != e.Width*e.Height*3 {
		return fmt.Errorf("%w: want a %dx%d frame", ErrFrame, e.Width, e.Height)
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	switch {
	case e.closed:
		return ErrClosed
	case e.wrote && pts <= e.lastPTS:
		return fmt.Errorf("%w: pts %v is not after %v", ErrFrame, pts, e.lastPTS)
	}
	select {
	case e.frames <- input{pts, f}:
		e.lastPTS, e.wrote = pts, true
		return nil
	default:
		e.dropped.Add(1)
		return ErrDropped
	}
}

// Status is a snapshot.
func (e *Encoder) Status() Status {
	st := Status{
		Selection:     e.sel,
		FramesIn:      e.framesIn.Load(),
		FramesDropped: e.dropped.Load(),
		AccessUnits:   e.units.Load(),
		FramesSkipped: e.skipped.Load(),
		Process:       e.proc.Status(),
	}
	if s := e.streamErr.Load(); s != nil {
		st.StreamError = *s
	}
	return st
}

// feed writes handed-over frames to the current ffmpeg, one at a time.
func (e *Encoder) feed() {
	defer close(e.fed)
	for {
		select {
		case <-e.stop:
			return
		case in := <-e.frames:
			if s := e.cur.Load(); s != nil && s.write(in) {
				e.framesIn.Add(1)
			} else {
				e.dropped.Add(1)
			}
		}
	}
}

// read is the Stdout hook: it splits one process's output into access
// units and pairs each with the pts of its frame. Output that makes no
// sense ends it, which closes the pipe and so ends that ffmpeg; the next
// one starts clean.
func (e *Encoder) read(r io.Reader) {
	s := e.cur.Load()
	sp := newSplitter(r, e.maxAccessUnit())
	clock := frameClock{fps: uint64(e.FPS)}
	for {
		f, err := sp.next()
		if err != nil {
			if errors.Is(err, errCorrupt) {
				e.setStreamError(err)
			}
			return // an ending process otherwise
		}
		pts, ok, err := s.take(clock.number(f.MS))
		if err != nil {
			e.setStreamError(err)
			return
		}
		if !ok || f.NALUs == nil {
			e.skipped.Add(1)
			continue
		}
		e.units.Add(1)
		e.OnAccessUnit(AccessUnit{PTS: pts, NALUs: f.NALUs, IDR: f.IDR})
	}
}

func (e *Encoder) setStreamError(err error) {
	msg := err.Error()
	e.streamErr.Store(&msg)
	if l := e.Supervision.Logger; l != nil {
		l.Warn("encoder output unusable; restarting ffmpeg", "encoder", e.Name, "err", err)
	}
}

func (e *Encoder) maxAccessUnit() int {
	if e.MaxAccessUnit > 0 {
		return e.MaxAccessUnit
	}
	return DefaultMaxAccessUnit
}

// session is one ffmpeg process's side of the pairing: the frames written
// to it, numbered in order, waiting for their access units.
type session struct {
	mu      sync.Mutex
	stdin   io.WriteCloser // nil until the process started
	dead    bool           // a write failed: the process is gone
	written uint64         // frames written (the next frame's number)
	pending []pending
}

type pending struct {
	n   uint64
	pts time.Duration
}

func (s *session) attach(w io.WriteCloser) {
	s.mu.Lock()
	s.stdin = w
	s.mu.Unlock()
}

// write writes one frame, recording its pts first so that its access unit
// always finds it. False: the frame did not reach a live process.
func (s *session) write(in input) bool {
	s.mu.Lock()
	w := s.stdin
	if w == nil || s.dead {
		s.mu.Unlock()
		return false
	}
	if len(s.pending) == maxPending {
		s.pending = s.pending[1:]
	}
	s.pending = append(s.pending, pending{s.written, in.pts})
	s.written++
	s.mu.Unlock()
	if _, err := w.Write(in.f.Data); err != nil {
		s.mu.Lock()
		s.dead = true
		s.mu.Unlock()
		return false
	}
	return true
}

// take returns the pts of frame n, forgetting frames before it (the
// encoder produced nothing for them). ok is false when n was forgotten
// already; an error means the output names a frame never written.
func (s *session) take(n uint64) (pts time.Duration, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= s.written {
		return 0, false, fmt.Errorf("%w: access unit of frame %d, but %d frames were written", errCorrupt, n, s.written)
	}
	for len(s.pending) > 0 && s.pending[0].n < n {
		s.pending = s.pending[1:]
	}
	if len(s.pending) == 0 || s.pending[0].n != n {
		return 0, false, nil
	}
	pts = s.pending[0].pts
	s.pending = s.pending[1:]
	return pts, true, nil
}

// frameClock turns FLV timestamps back into frame numbers: ffmpeg reads
// the frames at -r fps, so it stamps frame n with n*1000/fps ms (rounded),
// and FLV keeps 31 bits of that. Differences are used, so the count
// survives the wrap after 24.8 days.
type frameClock struct {
	fps     uint64
	started bool
	ms      uint32
	n       uint64
}

func (c *frameClock) number(ms uint32) uint64 {
	if !c.started {
		c.started = true
		c.n = (uint64(ms)*c.fps + 500) / 1000
	} else {
		d := uint64((ms - c.ms) & 0x7fffffff)
		c.n += (d*c.fps + 500) / 1000
	}
	c.ms = ms
	return c.n
}
