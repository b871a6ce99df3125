package bridge

import (
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// bypassSpec is everything a bypass publisher is made from: when any of
// it changes, the publisher is replaced.
type bypassSpec struct {
	target     model.Target
	generation uint64 // the engine instance it publishes into
	publishURL string
	source     arbiter.Forward
}

// bypass is one running bypass publisher: an ffmpeg that pulls the camera
// and publishes the path over RTSP itself.
type bypass struct {
	spec      bypassSpec
	reason    string // why this input
	startedAt time.Time
	proc      *publisher.Process
}

// startBypass starts an ffmpeg that pulls the camera and publishes the path
// over RTSP with the path's publish credentials (the one publisher that is
// still a network client; the camera hub will end that). The path has no
// sink: the engine takes one publisher per path.
func (b *Bridge) startBypass(spec bypassSpec, reason string) {
	t, src := spec.target, spec.source
	if b.FFmpeg == "" {
		b.fail(t.Path, b.FFmpegErr)
		return
	}
	user, pass := b.Engine.PublishSecretFor(t.Path)
	enc := publisher.Encoding{Width: t.Width, Height: t.Height, FPS: t.FPS, BitrateKbps: t.BitrateKbps, LatencyProfile: t.LatencyProfile}
	if src.FPS > 0 {
		enc.FPS = min(enc.FPS, src.FPS)
	}
	ps := publisher.Spec{
		Name: t.OutputKey, Binary: b.FFmpeg, Secrets: []string{user + ":" + pass, pass, src.SourceURL},
		Args: publisher.Args(b.LogLevel, publisher.Input{Mode: model.InputRTSPPull, SourceURL: src.SourceURL}, enc, spec.publishURL),
	}
	r := &bypass{spec: spec, reason: reason, startedAt: time.Now(), proc: &publisher.Process{Spec: ps, Supervision: b.supervision()}}
	if err := r.proc.Initialize(); err != nil {
		b.fail(t.Path, err)
		return
	}
	delete(b.failures, t.Path)
	b.bypasses[t.Path] = r
	b.log.Info("bypass publisher started", "path", t.Path, "output", t.OutputKey, "source", src.RedactedURL, "engine_generation", spec.generation)
}

// stopBypass stops path's bypass publisher in the background; b.released
// says when it has exited.
func (b *Bridge) stopBypass(path, why string) {
	r := b.bypasses[path]
	b.log.Info("stopping bypass publisher", "path", path, "reason", why)
	delete(b.bypasses, path)
	b.releasing[path]++
	go func() {
		r.proc.Close()
		b.released <- path // the run loop drains every release, even when closing
	}()
}
