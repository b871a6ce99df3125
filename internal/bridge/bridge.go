// Package bridge turns demand into publishers: it knows the outputs the
// settings ask for (targets), starts an ffmpeg publisher for an output the
// moment its engine path gains a viewer (or is primed), stops it a debounce
// after the last viewer leaves, and feeds each running publisher from the
// arbiter through a pump. It reacts to settings changes and demand events;
// it never polls.
package bridge

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline/ops"
	"github.com/toposync/toposync-streaming/internal/publisher"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Options are what a Bridge needs.
type Options struct {
	Store    *store.Store
	Engine   *engine.Manager
	Arbiter  *arbiter.Arbiter
	ServerID string
	FFmpeg   string // the ffmpeg binary; empty: publishers cannot start
	// FFmpegErr says why FFmpeg is empty.
	FFmpegErr  error
	LogLevel   string
	RuntimeDir string
	Logger     *slog.Logger
}

// Bridge runs the publishers of this server's outputs.
type Bridge struct {
	opts    Options
	log     *slog.Logger
	recheck chan string

	// Transmissions whose selected writer changed (bypass may apply).
	changedMu sync.Mutex
	changed   map[string]bool
	wake      chan struct{}

	mu       sync.Mutex
	targets  map[string]Target // by engine path
	runtime  model.RuntimeSettings
	pubs     map[string]*running
	primed   map[string]time.Time  // path -> primed until
	stopDue  map[string]time.Time  // path -> stop at (debounce after demand ended)
	failures map[string]string     // path -> why its publisher could not start
	bypass   map[string]ops.Bypass // writer id -> camera its publisher may pull
}

// running is one publisher: an ffmpeg process and, for raw frames, its pump.
type running struct {
	target     Target
	input      input
	publishURL string
	startedAt  time.Time
	proc       *publisher.Process
	pump       *pump
	cancel     context.CancelFunc
	done       chan struct{}
}

// New returns a bridge; Run makes it work.
func New(opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{
		opts: opts, log: opts.Logger, recheck: make(chan string, 64), changed: map[string]bool{}, wake: make(chan struct{}, 1),
		targets: map[string]Target{}, pubs: map[string]*running{}, primed: map[string]time.Time{},
		stopDue: map[string]time.Time{}, failures: map[string]string{}, runtime: model.DefaultRuntimeSettings(),
		bypass: map[string]ops.Bypass{},
	}
	opts.Arbiter.OnActiveChange(func(tid string) {
		b.changedMu.Lock()
		b.changed[tid] = true
		b.changedMu.Unlock()
		select {
		case b.wake <- struct{}{}:
		default:
		}
	})
	return b
}

// Run follows settings and demand until ctx ends, then stops every publisher.
func (b *Bridge) Run(ctx context.Context) {
	updates, cancelUpdates := b.opts.Store.Subscribe()
	defer cancelUpdates()
	demand, cancelDemand := b.opts.Engine.SubscribeDemand()
	defer cancelDemand()
	b.applySettings(b.opts.Store.Current().Config)
	for {
		select {
		case doc := <-updates:
			b.applySettings(doc.Config)
		case <-b.wake:
			b.changedMu.Lock()
			changed := b.changed
			b.changed = map[string]bool{}
			b.changedMu.Unlock()
			for tid := range changed {
				for _, p := range b.Paths(tid) {
					b.reconcile(p)
				}
			}
		case ev := <-demand:
			b.reconcile(ev.Path)
		case path := <-b.recheck:
			b.reconcile(path)
		case <-ctx.Done():
			b.mu.Lock()
			for path, r := range b.pubs {
				r.stop()
				delete(b.pubs, path)
			}
			b.mu.Unlock()
			return
		}
	}
}

// applySettings takes new targets, windows and bypass candidates, then
// reconciles every path that was or is a target.
func (b *Bridge) applySettings(c model.Config) {
	s := c.Streams
	targets := map[string]Target{}
	modes := map[string]string{}
	for _, t := range Targets(s, b.opts.ServerID) {
		targets[t.Path] = t
		modes[t.TransmissionID] = t.Arbitration
	}
	rt := s.Runtime
	b.opts.Arbiter.SetConfig(arbiter.Config{
		Freshness:  seconds(rt.FreshnessSeconds),
		Sticky:     seconds(rt.StickySeconds),
		StaleAfter: seconds(rt.StaleWriterSeconds),
		MaxWriters: rt.MaxWriters,
	})
	for tid, mode := range modes {
		b.opts.Arbiter.SetMode(tid, mode)
	}
	b.opts.Arbiter.Prune(func(tid string) bool { _, ok := modes[tid]; return ok })

	b.mu.Lock()
	paths := map[string]bool{}
	for p := range b.targets {
		paths[p] = true
	}
	for p := range targets {
		paths[p] = true
	}
	b.targets, b.runtime, b.bypass = targets, rt, ops.BypassCandidates(c, b.opts.ServerID)
	b.mu.Unlock()
	for p := range paths {
		b.reconcile(p)
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// reconcile starts, restarts or (after the debounce) stops the publisher of
// path to match its target and demand.
func (b *Bridge) reconcile(path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	target, isTarget := b.targets[path]
	primed := now.Before(b.primed[path])
	if !primed {
		delete(b.primed, path)
	}
	running, _ := b.opts.Engine.Running()
	want := isTarget && running && (b.opts.Engine.Demanded(path) || primed)
	r := b.pubs[path]

	if want {
		delete(b.stopDue, path)
		url := b.opts.Engine.PublishURL(path)
		in := b.inputFor(target)
		if r != nil && r.input.mode != in.mode {
			b.log.Info("publisher input changes", "path", path, "from", r.input.mode, "to", in.mode, "reason", in.reason)
		}
		if r != nil && r.target == target && r.publishURL == url && r.input.mode == in.mode && r.input.source == in.source {
			r.input.reason = in.reason // same input, maybe for another reason
		}
		if r != nil && (r.target != target || r.publishURL != url || r.input.mode != in.mode || r.input.source != in.source) {
			b.log.Info("publisher settings changed; restarting it", "path", path)
			r.stop()
			r = nil
		}
		if r == nil {
			b.start(target, url, in)
		}
		return
	}
	if r == nil {
		delete(b.stopDue, path)
		return
	}
	if !isTarget || !running {
		b.stopLocked(path, "output no longer published")
		return
	}
	due, pending := b.stopDue[path]
	if !pending {
		debounce := seconds(b.runtime.StopDebounceSeconds)
		b.stopDue[path] = now.Add(debounce)
		b.after(debounce, path)
		return
	}
	if !now.Before(due) {
		b.stopLocked(path, "no viewers")
	}
}

func (b *Bridge) stopLocked(path, why string) {
	b.log.Info("stopping publisher", "path", path, "reason", why)
	b.pubs[path].stop()
	delete(b.pubs, path)
	delete(b.stopDue, path)
}

// after asks for a reconcile of path once d has passed.
func (b *Bridge) after(d time.Duration, path string) {
	time.AfterFunc(d, func() { b.recheck <- path })
}

// input is where a publisher's frames come from, and why.
type input struct {
	mode   string // publisher.InputRawVideo or publisher.InputRTSPPull
	source ops.Bypass
	reason string
}

// inputFor decides a target's input: the camera itself when the shown
// writer is a bypass-capable pipeline and the transmission has one
// publisher, else raw frames from the pump.
func (b *Bridge) inputFor(t Target) input {
	raw := input{mode: publisher.InputRawVideo}
	sel := b.opts.Arbiter.Select(t.TransmissionID)
	if sel.WriterID == "" {
		raw.reason = "no writer shown: placeholder"
		return raw
	}
	candidate, ok := b.bypass[sel.WriterID]
	if !ok {
		raw.reason = "the shown writer is not a camera-only pipeline (camera.source [-> core.fps_reducer] -> stream.publish_video on an RTSP camera, bypass_mode auto or force_on)"
		return raw
	}
	publishers := 0
	for _, other := range b.targets {
		if other.TransmissionID == t.TransmissionID {
			publishers++
		}
	}
	if publishers != 1 {
		raw.reason = "the transmission has several outputs: frames are shared through the pump"
		return raw
	}
	return input{mode: publisher.InputRTSPPull, source: candidate, reason: "bypass: writer " + sel.WriterID + " only forwards camera " + candidate.RedactedURL}
}

func (b *Bridge) start(t Target, publishURL string, in input) {
	if b.opts.FFmpeg == "" {
		b.failures[t.Path] = b.opts.FFmpegErr.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", b.opts.FFmpegErr)
		return
	}
	delete(b.failures, t.Path)
	user, pass := b.opts.Engine.PublishSecretFor(t.Path)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{target: t, input: in, publishURL: publishURL, startedAt: time.Now(), cancel: cancel, done: make(chan struct{})}
	enc := publisher.Encoding{Width: t.Width, Height: t.Height, FPS: t.FPS, BitrateKbps: t.BitrateKbps, LatencyProfile: t.LatencyProfile}
	spec := publisher.Spec{Name: t.OutputKey, Binary: b.opts.FFmpeg, Secrets: []string{user + ":" + pass, pass}}
	if in.mode == publisher.InputRTSPPull {
		if in.source.FPS > 0 {
			enc.FPS = min(enc.FPS, in.source.FPS)
		}
		spec.Args = publisher.Args(b.opts.LogLevel, publisher.Input{Mode: in.mode, SourceURL: in.source.SourceURL}, enc, publishURL)
		spec.Secrets = append(spec.Secrets, in.source.SourceURL)
		close(r.done) // no pump: ffmpeg reads the camera
	} else {
		r.pump = newPump(t, b.opts.Arbiter)
		spec.Args = publisher.Args(b.opts.LogLevel, publisher.Input{Mode: in.mode}, enc, publishURL)
		spec.Stdin = func(w io.WriteCloser) { r.pump.setStdin(w) }
		go func() {
			defer close(r.done)
			r.pump.run(ctx)
		}()
	}
	r.proc = &publisher.Process{Spec: spec, Supervision: publisher.Supervision{LogDir: filepath.Join(b.opts.RuntimeDir, "logs"), Logger: b.log}}
	if err := r.proc.Initialize(); err != nil {
		cancel()
		<-r.done
		b.failures[t.Path] = err.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", err)
		return
	}
	b.pubs[t.Path] = r
	b.log.Info("publisher started", "path", t.Path, "output", t.OutputKey, "input", in.mode, "size", []int{t.Width, t.Height}, "fps", enc.FPS, "profile", t.LatencyProfile)
}

func (r *running) stop() {
	r.proc.Close() // closes stdin first, so a blocked write returns
	r.cancel()
	<-r.done
}

// Prime makes the publishers of a transmission run without viewers for the
// prime window (then the normal debounce). It returns how many it primed.
func (b *Bridge) Prime(transmissionID string) int {
	b.mu.Lock()
	window := seconds(b.runtime.PrimeSeconds)
	var paths []string
	for p, t := range b.targets {
		if t.TransmissionID == transmissionID {
			paths = append(paths, p)
			if until := time.Now().Add(window); until.After(b.primed[p]) {
				b.primed[p] = until
			}
		}
	}
	b.mu.Unlock()
	for _, p := range paths {
		b.reconcile(p)
		b.after(window, p)
	}
	return len(paths)
}

// OutputStatus is one output's runtime state.
type OutputStatus struct {
	Target
	ViewerCount      int               `json:"viewer_count"`
	DemandSignal     bool              `json:"demand_signal"`
	PrimedUntilUnix  *float64          `json:"primed_until_unix"`
	PublisherRunning bool              `json:"publisher_running"`
	Publisher        *publisher.Status `json:"-"`
	FramesSent       uint64            `json:"publisher_frames_sent"`
	FramesDropped    uint64            `json:"publisher_frames_dropped"`
	LastFrameAtUnix  *float64          `json:"last_frame_at_unix"`
	LastError        *string           `json:"publisher_last_error"`
	InputMode        string            `json:"input_mode"`
	InputReason      string            `json:"input_reason"`
}

// Outputs describes every target, sorted by transmission and output id.
func (b *Bridge) Outputs() []OutputStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []OutputStatus{}
	for path, t := range b.targets {
		st := OutputStatus{Target: t, ViewerCount: len(b.opts.Engine.Readers(path))}
		st.DemandSignal = st.ViewerCount > 0
		if until, ok := b.primed[path]; ok && time.Now().Before(until) {
			u := float64(until.UnixMicro()) / 1e6
			st.PrimedUntilUnix = &u
		}
		if msg, ok := b.failures[path]; ok {
			st.LastError = &msg
		}
		if r := b.pubs[path]; r != nil {
			ps := r.proc.Status()
			st.Publisher = &ps
			st.PublisherRunning = ps.Running
			st.InputMode, st.InputReason = r.input.mode, r.input.reason
			if r.pump != nil {
				st.FramesSent, st.FramesDropped = r.pump.sent.Load(), r.pump.dropped.Load()
				if at := r.pump.lastFrameAt.Load(); at > 0 {
					u := float64(at) / 1e6
					st.LastFrameAtUnix = &u
				}
			}
			if ps.LastError != "" {
				st.LastError = &ps.LastError
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TransmissionID != out[j].TransmissionID {
			return out[i].TransmissionID < out[j].TransmissionID
		}
		return out[i].OutputID < out[j].OutputID
	})
	return out
}

// Paths lists the engine paths of a transmission's targets.
func (b *Bridge) Paths(transmissionID string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for p, t := range b.targets {
		if t.TransmissionID == transmissionID {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
