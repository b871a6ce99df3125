// Package bridge turns demand into publishers. It acts on the engine state
// alone (the paths the engine serves, their outputs and publish URLs): it
// starts an ffmpeg publisher for an output the moment its engine path gains
// a viewer (or is primed), restarts it when its publish URL, its engine
// instance or its encoding changed, stops it a debounce after the last
// viewer left, and feeds each running publisher from the arbiter through a
// pump. One goroutine owns every publisher; it never waits for a process
// to exit, and it never polls.
package bridge

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Engine is what the bridge needs of the engine manager.
type Engine interface {
	SubscribeState() (<-chan *engine.State, func())
	SubscribeDemand() (<-chan engine.DemandEvent, func())
	Demanded(path string) bool
	PublishSecretFor(path string) (user, pass string)
}

// Bridge runs the publishers of this server's outputs.
type Bridge struct {
	Engine  Engine
	Arbiter *arbiter.Arbiter
	FFmpeg  string // the ffmpeg binary; empty: publishers cannot start
	// FFmpegErr says why FFmpeg is empty.
	FFmpegErr error
	LogLevel  string
	LogDir    string // per-publisher ffmpeg logs
	Logger    *slog.Logger

	log     *slog.Logger
	wake    chan struct{} // a transmission's selected writer changed
	outputs chan chan []OutputStatus
	primes  chan primeRequest
	stopped chan string // a publisher being stopped has exited
	done    chan struct{}
	ended   chan struct{}

	// Owned by the run goroutine.
	state    *engine.State
	pubs     map[string]*running  // by engine path
	stopping map[string]*running  // stopped, not exited yet
	primed   map[string]time.Time // path -> primed until
	stopDue  map[string]time.Time // path -> stop at (debounce after demand ended)
	failures map[string]string    // path -> why its publisher could not start
}

type primeRequest struct {
	transmissionID string
	result         chan int
}

// running is one publisher: an ffmpeg process and, for raw frames, its pump.
type running struct {
	spec      publisherSpec
	reason    string // why this input
	startedAt time.Time
	proc      *publisher.Process
	pump      *pump
	cancel    context.CancelFunc
	done      chan struct{} // the pump ended
}

// publisherSpec is everything a running publisher was made from: when any
// of it changes, the publisher is restarted.
type publisherSpec struct {
	target     model.Target
	publishURL string
	generation uint64 // the engine instance it publishes into
	mode       model.InputMode
	source     arbiter.Forward // bypass only
}

// Initialize subscribes to the engine state and demand and starts the
// goroutine that owns the publishers.
func (b *Bridge) Initialize() error {
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	b.log = b.Logger
	b.wake = make(chan struct{}, 1)
	b.outputs, b.primes, b.stopped = make(chan chan []OutputStatus), make(chan primeRequest), make(chan string)
	b.done, b.ended = make(chan struct{}), make(chan struct{})
	b.pubs, b.stopping = map[string]*running{}, map[string]*running{}
	b.primed, b.stopDue, b.failures = map[string]time.Time{}, map[string]time.Time{}, map[string]string{}
	b.Arbiter.OnActiveChange(func(string) {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	})
	states, cancelStates := b.Engine.SubscribeState()
	demand, cancelDemand := b.Engine.SubscribeDemand()
	b.state = <-states // SubscribeState delivers the current state at once
	b.applyArbitration()
	go func() {
		defer close(b.ended)
		defer cancelStates()
		defer cancelDemand()
		b.run(states, demand)
	}()
	return nil
}

// Close stops every publisher and waits until they have exited.
func (b *Bridge) Close() {
	close(b.done)
	<-b.ended
}

func (b *Bridge) run(states <-chan *engine.State, demand <-chan engine.DemandEvent) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	b.reconcileAll()
	for {
		b.resetTimer(timer)
		select {
		case st := <-states:
			b.state = st
			b.applyArbitration()
			b.reconcileAll()
		case ev := <-demand:
			b.reconcile(ev.Path)
		case <-b.wake:
			b.reconcileAll() // bypass may apply or end
		case <-timer.C:
			b.reconcileAll() // a debounce or a prime ran out
		case path := <-b.stopped:
			delete(b.stopping, path)
			b.reconcile(path) // a replacement may be waiting for the path
		case res := <-b.outputs:
			res <- b.outputStatuses()
		case req := <-b.primes:
			req.result <- b.prime(req.transmissionID)
		case <-b.done:
			for path := range b.pubs {
				b.stopPublisher(path, "shutting down")
			}
			for len(b.stopping) > 0 {
				delete(b.stopping, <-b.stopped)
			}
			return
		}
	}
}

// resetTimer arms timer for the earliest debounce or prime deadline.
func (b *Bridge) resetTimer(timer *time.Timer) {
	next := time.Hour
	now := time.Now()
	for _, m := range []map[string]time.Time{b.stopDue, b.primed} {
		for _, at := range m {
			next = min(next, max(0, at.Sub(now)))
		}
	}
	timer.Reset(next)
}

// applyArbitration hands the settings' arbitration windows and modes to
// the arbiter and forgets transmissions no longer hosted here.
func (b *Bridge) applyArbitration() {
	rt := b.state.Runtime
	b.Arbiter.SetConfig(arbiter.Config{
		Freshness:  seconds(rt.FreshnessSeconds),
		Sticky:     seconds(rt.StickySeconds),
		StaleAfter: seconds(rt.StaleWriterSeconds),
		MaxWriters: rt.MaxWriters,
	})
	hosted := map[string]bool{}
	for _, t := range b.state.Targets() {
		hosted[t.TransmissionID] = true
		b.Arbiter.SetMode(t.TransmissionID, t.Arbitration)
	}
	b.Arbiter.Prune(func(tid string) bool { return hosted[tid] })
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// reconcileAll reconciles every path that has a publisher or an output.
func (b *Bridge) reconcileAll() {
	for path := range b.pubs {
		b.reconcile(path)
	}
	for _, p := range b.state.Paths {
		if p.Target != nil {
			b.reconcile(p.Name)
		}
	}
}

// reconcile starts, restarts or (after the debounce) stops the publisher of
// path to match its output and demand. A publisher waiting out its debounce
// is kept current too: after an engine restart the viewers that just lost
// their sessions come back to a publisher already in the new engine,
// instead of one that is replaced the moment they return.
func (b *Bridge) reconcile(path string) {
	now := time.Now()
	ps, _ := b.state.Path(path)
	target := ps.Target
	primed := now.Before(b.primed[path])
	if !primed {
		delete(b.primed, path)
	}
	r := b.pubs[path]
	if target == nil || !b.state.Running {
		if r != nil {
			b.stopPublisher(path, "output no longer published")
		}
		delete(b.stopDue, path)
		return
	}
	want := b.Engine.Demanded(path) || primed
	if _, debouncing := b.stopDue[path]; !want && r == nil && !debouncing {
		return // (a replaced publisher keeps its debounce while the old one exits)
	}

	spec, reason := b.specFor(ps)
	if r != nil && r.spec != spec {
		b.log.Info("publisher changes; restarting it", "path", path, "input", spec.mode, "reason", reason,
			"new_engine", r.spec.generation != spec.generation, "new_url", r.spec.publishURL != spec.publishURL, "new_encoding", r.spec.target != spec.target)
		due, pending := b.stopDue[path]
		b.stopPublisher(path, "replaced")
		if pending {
			b.stopDue[path] = due // the replacement keeps the debounce
		}
		r = nil
	}
	_, busy := b.stopping[path]
	switch {
	case r != nil:
		r.reason = reason // same input, maybe for another reason
	case !busy:
		b.start(spec, reason)
	}
	// else: started once the previous publisher has exited

	if want {
		delete(b.stopDue, path)
		return
	}
	due, pending := b.stopDue[path]
	if !pending {
		b.stopDue[path] = now.Add(seconds(b.state.Runtime.StopDebounceSeconds))
		return
	}
	if !now.Before(due) {
		if b.pubs[path] != nil {
			b.stopPublisher(path, "no viewers")
		}
		delete(b.stopDue, path)
	}
}

// stopPublisher stops path's publisher in the background; the run loop
// learns from b.stopped when it has exited.
func (b *Bridge) stopPublisher(path, why string) {
	r := b.pubs[path]
	b.log.Info("stopping publisher", "path", path, "reason", why)
	delete(b.pubs, path)
	delete(b.stopDue, path)
	b.stopping[path] = r
	go func() {
		r.stop()
		b.stopped <- path // the run loop drains every stop, even when closing
	}()
}

// specFor decides a path's publisher: the camera itself when the shown
// writer only forwards an RTSP camera and the transmission has one output,
// else raw frames from the pump.
func (b *Bridge) specFor(ps engine.PathState) (publisherSpec, string) {
	t := *ps.Target
	spec := publisherSpec{target: t, publishURL: ps.PublishURL, generation: b.state.Generation, mode: model.InputRawVideo}
	sel := b.Arbiter.Select(t.TransmissionID)
	switch {
	case sel.WriterID == "":
		return spec, "no writer shown: placeholder"
	case sel.Forward == nil:
		return spec, "the shown writer is not a camera-only pipeline (camera.source [-> core.fps_reducer] -> stream.publish_video on an RTSP camera, bypass_mode auto or force_on)"
	}
	outputs := 0
	for _, other := range b.state.Targets() {
		if other.TransmissionID == t.TransmissionID {
			outputs++
		}
	}
	if outputs != 1 {
		return spec, "the transmission has several outputs: frames are shared through the pump"
	}
	spec.mode, spec.source = model.InputRTSPPull, *sel.Forward
	return spec, "bypass: writer " + sel.WriterID + " only forwards camera " + sel.Forward.RedactedURL
}

func (b *Bridge) start(spec publisherSpec, reason string) {
	t := spec.target
	if b.FFmpeg == "" {
		b.failures[t.Path] = b.FFmpegErr.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", b.FFmpegErr)
		return
	}
	delete(b.failures, t.Path)
	user, pass := b.Engine.PublishSecretFor(t.Path)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{spec: spec, reason: reason, startedAt: time.Now(), cancel: cancel, done: make(chan struct{})}
	enc := publisher.Encoding{Width: t.Width, Height: t.Height, FPS: t.FPS, BitrateKbps: t.BitrateKbps, LatencyProfile: t.LatencyProfile}
	ps := publisher.Spec{Name: t.OutputKey, Binary: b.FFmpeg, Secrets: []string{user + ":" + pass, pass}}
	if spec.mode == model.InputRTSPPull {
		if spec.source.FPS > 0 {
			enc.FPS = min(enc.FPS, spec.source.FPS)
		}
		ps.Args = publisher.Args(b.LogLevel, publisher.Input{Mode: spec.mode, SourceURL: spec.source.SourceURL}, enc, spec.publishURL)
		ps.Secrets = append(ps.Secrets, spec.source.SourceURL)
		close(r.done) // no pump: ffmpeg reads the camera
	} else {
		r.pump = newPump(t, b.Arbiter)
		ps.Args = publisher.Args(b.LogLevel, publisher.Input{Mode: spec.mode}, enc, spec.publishURL)
		ps.Stdin = func(w io.WriteCloser) { r.pump.setStdin(w) }
		go func() {
			defer close(r.done)
			r.pump.run(ctx)
		}()
	}
	r.proc = &publisher.Process{Spec: ps, Supervision: publisher.Supervision{LogDir: b.LogDir, Logger: b.log}}
	if err := r.proc.Initialize(); err != nil {
		cancel()
		<-r.done
		b.failures[t.Path] = err.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", err)
		return
	}
	b.pubs[t.Path] = r
	b.log.Info("publisher started", "path", t.Path, "output", t.OutputKey, "input", spec.mode, "size", []int{t.Width, t.Height}, "fps", enc.FPS, "profile", t.LatencyProfile, "engine_generation", spec.generation)
}

func (r *running) stop() {
	r.proc.Close() // closes stdin first, so a blocked write returns
	r.cancel()
	<-r.done
}

// Prime makes the publishers of a transmission run without viewers for the
// prime window (then the normal debounce). It returns how many it primed.
func (b *Bridge) Prime(transmissionID string) int {
	req := primeRequest{transmissionID: transmissionID, result: make(chan int, 1)}
	select {
	case b.primes <- req:
		return <-req.result
	case <-b.done:
		return 0
	}
}

func (b *Bridge) prime(transmissionID string) int {
	until := time.Now().Add(seconds(b.state.Runtime.PrimeSeconds))
	n := 0
	for _, t := range b.state.Targets() {
		if t.TransmissionID != transmissionID {
			continue
		}
		n++
		if until.After(b.primed[t.Path]) {
			b.primed[t.Path] = until
		}
		b.reconcile(t.Path)
	}
	return n
}

// OutputStatus is one output's runtime state.
type OutputStatus struct {
	model.Target
	ViewerCount      int               `json:"viewer_count"`
	DemandSignal     bool              `json:"demand_signal"`
	PrimedUntilUnix  *float64          `json:"primed_until_unix"`
	PublisherRunning bool              `json:"publisher_running"`
	Publisher        *publisher.Status `json:"-"`
	FramesSent       uint64            `json:"publisher_frames_sent"`
	FramesDropped    uint64            `json:"publisher_frames_dropped"`
	LastFrameAtUnix  *float64          `json:"last_frame_at_unix"`
	LastError        *string           `json:"publisher_last_error"`
	InputMode        model.InputMode   `json:"input_mode"`
	InputReason      string            `json:"input_reason"`
}

// Outputs describes every output, sorted by transmission and output id.
func (b *Bridge) Outputs() []OutputStatus {
	res := make(chan []OutputStatus, 1)
	select {
	case b.outputs <- res:
		return <-res
	case <-b.done:
		return []OutputStatus{}
	}
}

func (b *Bridge) outputStatuses() []OutputStatus {
	out := []OutputStatus{}
	for _, t := range b.state.Targets() {
		st := OutputStatus{Target: t, ViewerCount: len(b.state.Readers(t.Path))}
		st.DemandSignal = st.ViewerCount > 0
		if until, ok := b.primed[t.Path]; ok && time.Now().Before(until) {
			u := float64(until.UnixMicro()) / 1e6
			st.PrimedUntilUnix = &u
		}
		if msg, ok := b.failures[t.Path]; ok {
			st.LastError = &msg
		}
		if r := b.pubs[t.Path]; r != nil {
			ps := r.proc.Status()
			st.Publisher = &ps
			st.PublisherRunning = ps.Running
			st.InputMode, st.InputReason = r.spec.mode, r.reason
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
