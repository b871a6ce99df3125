// Package testpattern publishes the built-in test pattern (ffmpeg testsrc2
// with a wall clock) into the engine's "test" path while someone watches it,
// so the URLs of GET /engine/status prove the engine works end to end. It
// never runs without a viewer and never touches transmissions' paths.
package testpattern

import (
	"context"
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

// Options are what the pattern needs.
type Options struct {
	Engine   *engine.Manager
	FFmpeg   string // the ffmpeg binary; empty disables the pattern
	LogLevel string
	LogDir   string
	Logger   *slog.Logger
}

// Run publishes the pattern whenever "test" is demanded, until ctx ends.
func Run(ctx context.Context, opts Options) {
	events, cancel := opts.Engine.SubscribeDemand()
	defer cancel()
	var proc *publisher.Process
	stop := func() {
		if proc != nil {
			proc.Close()
			proc = nil
		}
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if ev.Path != model.TestPath {
				continue
			}
			if !ev.Demanded {
				stop()
				continue
			}
			if proc != nil || !opts.Engine.TestPatternServed() {
				continue
			}
			if opts.FFmpeg == "" {
				opts.Logger.Warn("test pattern demanded but ffmpeg is not available")
				continue
			}
			user, pass := opts.Engine.PublishSecretFor(model.TestPath)
			p := &publisher.Process{Spec: publisher.Spec{
				Name:    "test-pattern",
				Binary:  opts.FFmpeg,
				Args:    Args(opts.LogLevel, opts.Engine.PublishURL(model.TestPath)),
				Secrets: []string{user + ":" + pass, pass},
			}, Supervision: publisher.Supervision{LogDir: opts.LogDir, Logger: opts.Logger}}
			if err := p.Initialize(); err != nil {
				opts.Logger.Error("test pattern cannot start", "err", err)
				continue
			}
			proc = p
		}
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
	return append(args,
		"-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", fps, "-keyint_min", fps, "-sc_threshold", "0",
		"-f", "rtsp", "-rtsp_transport", "tcp", publishURL)
}
