// Package testpattern publishes the built-in test pattern into the
// engine's "test" path while someone watches it, so the URLs of GET
// /engine/status prove the engine works end to end. The picture is drawn
// in Go (colour bars, a moving square, the wall clock), encoded by an
// encoder.Encoder (ffmpeg as a pure codec: frames in on stdin, H.264 out
// on stdout) and published through an engine sink: no ffmpeg of the
// pattern is a network client or sees a credential. It acts on the engine
// state alone, never runs without a viewer and never touches a path a
// transmission took over.
package testpattern

import (
	"errors"
	"log/slog"
	"time"

	"github.com/toposync/toposync-streaming/internal/encoder"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Size and rate of the pattern: small, so it costs little CPU.
const (
	width  = 640
	height = 360
	fps    = 15
)

// retryOpen is how soon a sink that could not be opened is tried again
// (without waiting for the next state or demand change).
const retryOpen = time.Second

// Engine is what the pattern needs of the engine manager.
type Engine interface {
	SubscribeState() (<-chan *engine.State, func())
	SubscribeDemand() (<-chan engine.DemandEvent, func())
	Demanded(path string) bool
}

// Pattern publishes the test pattern whenever "test" is demanded.
type Pattern struct {
	Engine   Engine
	FFmpeg   string // the ffmpeg binary; empty disables the pattern
	LogLevel string
	LogDir   string
	Logger   *slog.Logger
	// Prober selects the encoder (libx264 always; see DESIGN.md). Nil: the
	// pattern's own, so the probe runs once per Pattern.
	Prober *encoder.Prober

	done  chan struct{}
	ended chan struct{}
}

// Initialize starts following the engine state and demand.
func (p *Pattern) Initialize() error {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Prober == nil {
		p.Prober = &encoder.Prober{}
	}
	p.done, p.ended = make(chan struct{}), make(chan struct{})
	states, cancelStates := p.Engine.SubscribeState()
	events, cancelEvents := p.Engine.SubscribeDemand()
	go func() {
		defer close(p.ended)
		defer cancelStates()
		defer cancelEvents()
		p.run(states, events)
	}()
	return nil
}

// Close stops the pattern and waits for its encoder to exit.
func (p *Pattern) Close() {
	close(p.done)
	<-p.ended
}

// run keeps at most one stream going: while the engine runs, the pattern
// owns "test" and someone watches it. A new engine generation gets a new
// stream (a sink belongs to one engine instance).
func (p *Pattern) run(states <-chan *engine.State, events <-chan engine.DemandEvent) {
	var (
		state  *engine.State
		cur    *stream
		warned bool
	)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	stop := func() {
		if cur != nil {
			cur.close()
			cur = nil
		}
	}
	defer stop()
	for {
		select {
		case <-p.done:
			return
		case state = <-states:
		case <-events:
		case <-retry.C:
		}
		if state == nil {
			continue
		}
		want := state.Running && state.TestPatternServed() && p.Engine.Demanded(model.TestPath)
		if !want || (cur != nil && cur.generation != state.Generation) {
			stop()
		}
		if !want || cur != nil {
			continue
		}
		if p.FFmpeg == "" {
			if !warned {
				p.Logger.Warn("test pattern demanded but ffmpeg is not available")
				warned = true
			}
			continue
		}
		next, err := p.start(state)
		if err != nil {
			p.Logger.Error("test pattern cannot start", "err", err)
			retry.Reset(retryOpen)
			continue
		}
		cur = next
	}
}

// stream is one run of the pattern: a sink on one engine instance, the
// encoder feeding it, and the goroutine drawing the frames.
type stream struct {
	generation uint64
	sink       engine.VideoSink
	enc        *encoder.Encoder
	stop       chan struct{}
	drawn      chan struct{}
}

func (p *Pattern) start(state *engine.State) (*stream, error) {
	sink, err := state.OpenSink(model.TestPath)
	if err != nil {
		return nil, err
	}
	s := &stream{generation: state.Generation, sink: sink, stop: make(chan struct{}), drawn: make(chan struct{})}
	s.enc = &encoder.Encoder{
		Name: "test-pattern", FFmpeg: p.FFmpeg, Requested: model.H264EncoderLibx264, Prober: p.Prober,
		Width: width, Height: height, FPS: fps, Profile: model.LatencyUltraLow, LogLevel: p.LogLevel,
		Supervision: publisher.Supervision{LogDir: p.LogDir, Logger: p.Logger},
		OnAccessUnit: func(au encoder.AccessUnit) {
			// ErrSinkClosed only: the engine instance went away, and the
			// state that says so replaces this stream.
			_ = sink.WriteAccessUnit(au.PTS, au.NALUs)
		},
	}
	if err := s.enc.Initialize(); err != nil {
		sink.Close()
		return nil, err
	}
	go s.draw(p.Logger)
	return s, nil
}

// draw hands the encoder a frame every 1/fps s, stamped with the time since
// the stream started. A frame the encoder is too busy for is dropped (it
// counts them); the next tick draws a fresh one.
func (s *stream) draw(log *slog.Logger) {
	defer close(s.drawn)
	tick := time.NewTicker(time.Second / fps)
	defer tick.Stop()
	start := time.Now()
	for n := uint64(0); ; n++ {
		now := time.Now()
		err := s.enc.WriteFrame(now.Sub(start), draw(n, now))
		if err != nil && !errors.Is(err, encoder.ErrDropped) {
			log.Error("test pattern frame refused", "err", err)
			return
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// close stops drawing, then the encoder (no access unit after it), then
// the sink, which ends the path's stream.
func (s *stream) close() {
	close(s.stop)
	<-s.drawn
	s.enc.Close()
	s.sink.Close()
}
