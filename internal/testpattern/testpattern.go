// Package testpattern publishes the built-in test pattern (ffmpeg testsrc2
// with a wall clock) into the engine's "test" path while someone watches it,
// so the URLs of GET /engine/status prove the engine works end to end. It
// acts on the engine state alone, never runs without a viewer and never
// touches a path a transmission took over.
package testpattern

import (
	"log/slog"
	"os"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Size and rate of the pattern: small, so it costs little CPU.
const (
	width  = "640"
	height = "360"
	fps    = "15"
)

// clockFont is drawn with when present (Debian's fonts-dejavu-core, pulled
// in by ffmpeg); without it the pattern has no clock but still plays.
const clockFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// Engine is what the pattern needs of the engine manager.
type Engine interface {
	SubscribeState() (<-chan *engine.State, func())
	SubscribeDemand() (<-chan engine.DemandEvent, func())
	Demanded(path string) bool
	PublishSecretFor(path string) (user, pass string)
}

// Pattern publishes the test pattern whenever "test" is demanded.
type Pattern struct {
	Engine   Engine
	FFmpeg   string // the ffmpeg binary; empty disables the pattern
	LogLevel string
	LogDir   string
	Logger   *slog.Logger

	done  chan struct{}
	ended chan struct{}
}

// Initialize starts following the engine state and demand.
func (p *Pattern) Initialize() error {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
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

// Close stops the pattern and waits for its ffmpeg to exit.
func (p *Pattern) Close() {
	close(p.done)
	<-p.ended
}

func (p *Pattern) run(states <-chan *engine.State, events <-chan engine.DemandEvent) {
	var (
		state     *engine.State
		proc      *publisher.Process
		published string // the publish URL proc pushes to
		warned    bool
	)
	stop := func() {
		if proc != nil {
			proc.Close()
			proc, published = nil, ""
		}
	}
	defer stop()
	for {
		select {
		case <-p.done:
			return
		case state = <-states:
		case <-events:
		}
		if state == nil {
			continue
		}
		path, _ := state.Path(model.TestPath)
		want := state.Running && state.TestPatternServed() && p.Engine.Demanded(model.TestPath)
		if !want || path.PublishURL != published {
			stop() // not wanted, or the engine instance or its port changed
		}
		if !want || proc != nil {
			continue
		}
		if p.FFmpeg == "" {
			if !warned {
				p.Logger.Warn("test pattern demanded but ffmpeg is not available")
				warned = true
			}
			continue
		}
		user, pass := p.Engine.PublishSecretFor(model.TestPath)
		next := &publisher.Process{Spec: publisher.Spec{
			Name:    "test-pattern",
			Binary:  p.FFmpeg,
			Args:    Args(p.LogLevel, path.PublishURL),
			Secrets: []string{user + ":" + pass, pass},
		}, Supervision: publisher.Supervision{LogDir: p.LogDir, Logger: p.Logger}}
		if err := next.Initialize(); err != nil {
			p.Logger.Error("test pattern cannot start", "err", err)
			continue
		}
		proc, published = next, path.PublishURL
	}
}

// Args is the ffmpeg command line (without the binary) of the pattern.
func Args(logLevel, publishURL string) []string {
	args := []string{"-hide_banner", "-loglevel", logLevel, "-nostats",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=" + width + "x" + height + ":rate=" + fps}
	if _, err := os.Stat(clockFont); err == nil {
		args = append(args, "-vf", "drawtext=fontfile="+clockFont+
			":text='%{localtime}':fontsize=28:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6:x=12:y=h-th-12")
	}
	args = append(args,
		"-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", fps, "-keyint_min", fps, "-sc_threshold", "0")
	return append(args, publisher.RTSPOutput(publishURL)...)
}
