// Package bridge turns demand into publishers. It acts on the engine state
// alone (the paths the engine serves, their outputs and publish URLs): it
// starts a publisher for an output the moment its engine path gains a
// viewer (or is primed), replaces it when its engine instance, its input
// or its encoding changed, and stops it a debounce after the last viewer
// left.
//
// For raw frames a publisher is the path's engine sink (the service
// publishes into the engine itself) fed by an encoder (ffmpeg as a pure
// codec) fed by a pump from the arbiter. The sink outlives encoders: an
// encoding change or a dead ffmpeg changes the encoder under it, and the
// path's readers stay connected. For bypass a publisher is an ffmpeg that
// pulls the camera and publishes over RTSP itself (until the camera hub).
// One goroutine owns every publisher; it never waits for a process to
// exit, and it never polls.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/encoder"
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
	// Prober picks the H.264 encoder engine.h264_encoder asks for; share
	// the service's one so each encoder is probed once. Nil: a private one.
	Prober *encoder.Prober

	log     *slog.Logger
	wake    chan struct{} // a transmission's selected writer changed, or a sink was lost
	outputs chan chan []OutputStatus
	primes  chan primeRequest
	stopped chan string // a publisher being stopped has exited
	probed  chan probeResult
	done    chan struct{}
	ended   chan struct{}
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	bg      sync.WaitGroup // probes and sink closes

	lostMu sync.Mutex
	lost   []lostSink // sinks their encoders found closed, for the run goroutine

	// Owned by the run goroutine.
	state      *engine.State
	pubs       map[string]*running                // by engine path
	stopping   map[string]*running                // stopped, not exited yet
	sinks      map[string]*pathSink               // by engine path: raw publishers' sinks, kept across encoders
	primed     map[string]time.Time               // path -> primed until
	stopDue    map[string]time.Time               // path -> stop at (debounce after demand ended)
	failures   map[string]string                  // path -> why its publisher could not start
	selections map[model.H264Encoder]*probeResult // by requested encoder; Done false while probing
}

// pathSink is the engine sink of one path.
type pathSink struct {
	sink       engine.VideoSink
	generation uint64    // the engine instance it publishes into
	epoch      time.Time // pts 0 of every encoder that feeds it, so pts go on across encoders
}

// lostSink is a sink that refused an access unit: the engine closed it (its
// path was removed and re-added, or its instance closed) before the bridge
// saw why.
type lostSink struct {
	path string
	sink engine.VideoSink
}

// probeResult is which encoder runs for a requested one.
type probeResult struct {
	requested model.H264Encoder
	done      bool
	sel       encoder.Selection
	err       error
}

type primeRequest struct {
	transmissionID string
	result         chan int
}

// running is one publisher: for raw frames an encoder and its pump (the
// sink is in Bridge.sinks), for bypass an ffmpeg that publishes itself.
type running struct {
	spec      publisherSpec
	reason    string // why this input
	startedAt time.Time
	enc       *encoder.Encoder   // raw frames
	pump      *pump              // raw frames
	proc      *publisher.Process // bypass
	cancel    context.CancelFunc
	done      chan struct{} // the pump ended
}

// publisherSpec is everything a running publisher was made from: when any
// of it changes, the publisher is replaced (see keepsSink for its sink).
type publisherSpec struct {
	target     model.Target
	generation uint64 // the engine instance it publishes into
	mode       model.InputMode
	encoder    model.H264Encoder // raw frames: engine.h264_encoder
	publishURL string            // bypass only: ffmpeg publishes itself
	source     arbiter.Forward   // bypass only
}

// keepsSink reports whether a replacement for a publisher made from a can
// write into a's sink: both take raw frames into the same engine instance.
func keepsSink(a, b publisherSpec) bool {
	return a.mode == model.InputRawVideo && b.mode == model.InputRawVideo && a.generation == b.generation
}

// Initialize subscribes to the engine state and demand and starts the
// goroutine that owns the publishers.
func (b *Bridge) Initialize() error {
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	b.log = b.Logger
	b.wake = make(chan struct{}, 1)
	if b.Prober == nil {
		b.Prober = &encoder.Prober{}
	}
	b.outputs, b.primes, b.stopped = make(chan chan []OutputStatus), make(chan primeRequest), make(chan string)
	b.probed = make(chan probeResult)
	b.done, b.ended = make(chan struct{}), make(chan struct{})
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.pubs, b.stopping, b.sinks = map[string]*running{}, map[string]*running{}, map[string]*pathSink{}
	b.selections = map[model.H264Encoder]*probeResult{}
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
	if b.FFmpeg != "" {
		b.selection(b.state.H264Encoder) // probe now, not when the first viewer comes
	}
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
	b.cancel()
	<-b.ended
	b.bg.Wait()
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
			b.dropLostSinks()
			b.reconcileAll() // bypass may apply or end
		case r := <-b.probed:
			b.selections[r.requested] = &r
			b.reconcileAll()
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
				b.stopPublisher(path, "shutting down", true)
			}
			for path := range b.sinks {
				b.closeSink(path)
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
	_, busy := b.stopping[path]
	if target == nil || !b.state.Running {
		if r != nil {
			b.stopPublisher(path, "output no longer published", true)
		}
		b.closeSink(path)
		delete(b.stopDue, path)
		return
	}
	want := b.Engine.Demanded(path) || primed
	if _, debouncing := b.stopDue[path]; !want && r == nil && !debouncing {
		if !busy {
			b.closeSink(path) // left by a replacement that did not start
		}
		return // (a replaced publisher keeps its debounce while the old one exits)
	}

	spec, reason := b.specFor(ps)
	if r != nil && r.spec != spec {
		keep := keepsSink(r.spec, spec)
		b.log.Info("publisher changes; replacing it", "path", path, "input", spec.mode, "reason", reason,
			"new_engine", r.spec.generation != spec.generation, "new_url", r.spec.publishURL != spec.publishURL,
			"new_encoding", r.spec.target != spec.target || r.spec.encoder != spec.encoder, "keeps_sink", keep)
		due, pending := b.stopDue[path]
		b.stopPublisher(path, "replaced", !keep)
		if pending {
			b.stopDue[path] = due // the replacement keeps the debounce
		}
		r, busy = nil, true
	}
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
			b.stopPublisher(path, "no viewers", true)
		} else if !busy {
			b.closeSink(path)
		}
		delete(b.stopDue, path)
	}
}

// stopPublisher stops path's publisher in the background, then closes the
// path's sink unless keepSink (its replacement writes into it); the run
// loop learns from b.stopped when both are done.
func (b *Bridge) stopPublisher(path, why string, closeSink bool) {
	r := b.pubs[path]
	b.log.Info("stopping publisher", "path", path, "reason", why, "closes_sink", closeSink && b.sinks[path] != nil)
	delete(b.pubs, path)
	delete(b.stopDue, path)
	b.stopping[path] = r
	var sink engine.VideoSink
	if ps := b.sinks[path]; closeSink && ps != nil {
		sink = ps.sink
		delete(b.sinks, path)
	}
	go func() {
		r.stop()
		if sink != nil {
			sink.Close() // after the encoder: nothing writes into it any more
		}
		b.stopped <- path // the run loop drains every stop, even when closing
	}()
}

// closeSink closes path's sink, if it has one, in the background. Only for
// a path whose encoder no longer runs.
func (b *Bridge) closeSink(path string) {
	ps := b.sinks[path]
	if ps == nil {
		return
	}
	delete(b.sinks, path)
	b.log.Info("closing the path's sink", "path", path)
	b.bg.Go(ps.sink.Close)
}

// sinkLost is called by an encoder's access-unit callback when its sink
// refused an access unit as closed.
func (b *Bridge) sinkLost(path string, sink engine.VideoSink) {
	b.lostMu.Lock()
	known := false
	for _, l := range b.lost {
		known = known || l.sink == sink
	}
	if !known {
		b.lost = append(b.lost, lostSink{path, sink})
	}
	b.lostMu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// dropLostSinks replaces the publishers whose sinks the engine closed
// (reconcile then opens new ones). Reports of sinks already replaced are
// ignored.
func (b *Bridge) dropLostSinks() {
	b.lostMu.Lock()
	lost := b.lost
	b.lost = nil
	b.lostMu.Unlock()
	for _, l := range lost {
		ps := b.sinks[l.path]
		if ps == nil || ps.sink != l.sink {
			continue
		}
		b.log.Warn("the engine closed the path's sink; opening a new one", "path", l.path)
		if b.pubs[l.path] != nil {
			due, pending := b.stopDue[l.path]
			b.stopPublisher(l.path, "sink closed by the engine", true)
			if pending {
				b.stopDue[l.path] = due
			}
		} else {
			b.closeSink(l.path)
		}
	}
}

// selection is the encoder that runs for requested, once probed; the
// first call starts the probe in the background (b.probed reports it).
func (b *Bridge) selection(requested model.H264Encoder) (*probeResult, bool) {
	if r := b.selections[requested]; r != nil {
		return r, r.done
	}
	b.selections[requested] = &probeResult{requested: requested}
	b.bg.Go(func() {
		sel, err := b.Prober.Select(b.ctx, b.FFmpeg, requested)
		select {
		case b.probed <- probeResult{requested: requested, done: true, sel: sel, err: err}:
		case <-b.done:
		}
	})
	return nil, false
}

// specFor decides a path's publisher: the camera itself when the shown
// writer only forwards an RTSP camera and the transmission has one output,
// else raw frames from the pump.
func (b *Bridge) specFor(ps engine.PathState) (publisherSpec, string) {
	t := *ps.Target
	spec := publisherSpec{target: t, generation: b.state.Generation, mode: model.InputRawVideo, encoder: b.state.H264Encoder}
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
	spec.mode, spec.encoder, spec.publishURL, spec.source = model.InputRTSPPull, "", ps.PublishURL, *sel.Forward
	return spec, "bypass: writer " + sel.WriterID + " only forwards camera " + sel.Forward.RedactedURL
}

func (b *Bridge) start(spec publisherSpec, reason string) {
	t := spec.target
	if b.FFmpeg == "" {
		b.failures[t.Path] = b.FFmpegErr.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", b.FFmpegErr)
		return
	}
	r := &running{spec: spec, reason: reason, startedAt: time.Now()}
	var err error
	if spec.mode == model.InputRTSPPull {
		err = b.startBypass(r)
	} else {
		var waiting bool
		if waiting, err = b.startEncoder(r); waiting {
			return // reconciled again once the probe is done
		}
	}
	if err != nil {
		b.failures[t.Path] = err.Error()
		b.log.Error("cannot start publisher", "path", t.Path, "err", err)
		return
	}
	delete(b.failures, t.Path)
	b.pubs[t.Path] = r
	b.log.Info("publisher started", "path", t.Path, "output", t.OutputKey, "input", spec.mode, "size", []int{t.Width, t.Height},
		"fps", t.FPS, "profile", t.LatencyProfile, "codec", r.selection().Codec, "engine_generation", spec.generation)
}

// startBypass starts an ffmpeg that pulls the camera and publishes the path
// over RTSP with the path's publish credentials (the one publisher that is
// still a network client; the camera hub will end that).
func (b *Bridge) startBypass(r *running) error {
	b.closeSink(r.spec.target.Path) // the engine takes one publisher per path
	t, src := r.spec.target, r.spec.source
	user, pass := b.Engine.PublishSecretFor(t.Path)
	enc := publisher.Encoding{Width: t.Width, Height: t.Height, FPS: t.FPS, BitrateKbps: t.BitrateKbps, LatencyProfile: t.LatencyProfile}
	if src.FPS > 0 {
		enc.FPS = min(enc.FPS, src.FPS)
	}
	ps := publisher.Spec{
		Name: t.OutputKey, Binary: b.FFmpeg, Secrets: []string{user + ":" + pass, pass, src.SourceURL},
		Args: publisher.Args(b.LogLevel, publisher.Input{Mode: model.InputRTSPPull, SourceURL: src.SourceURL}, enc, r.spec.publishURL),
	}
	r.proc = &publisher.Process{Spec: ps, Supervision: publisher.Supervision{LogDir: b.LogDir, Logger: b.log}}
	return r.proc.Initialize()
}

// startEncoder starts the encoder of a raw-frame publisher, writing into
// the path's sink (opened now unless a publisher before left it open), and
// its pump. waiting: the encoder choice is still being probed.
func (b *Bridge) startEncoder(r *running) (waiting bool, err error) {
	t := r.spec.target
	probe, done := b.selection(r.spec.encoder)
	switch {
	case !done:
		return true, nil
	case probe.err != nil:
		return false, probe.err
	}
	ps := b.sinks[t.Path]
	if ps != nil && ps.generation != r.spec.generation {
		b.closeSink(t.Path) // of an engine instance that is gone
		ps = nil
	}
	if ps == nil {
		sink, err := b.state.OpenSink(t.Path)
		if err != nil {
			return false, fmt.Errorf("open the path's sink: %w", err)
		}
		ps = &pathSink{sink: sink, generation: r.spec.generation, epoch: time.Now()}
		b.sinks[t.Path] = ps
	}
	r.enc = &encoder.Encoder{
		Name: t.OutputKey, FFmpeg: b.FFmpeg, Requested: r.spec.encoder, Prober: b.Prober,
		Width: t.Width, Height: t.Height, FPS: t.FPS, BitrateKbps: t.BitrateKbps, Profile: t.LatencyProfile,
		LogLevel:    b.LogLevel,
		Supervision: publisher.Supervision{LogDir: b.LogDir, Logger: b.log},
		OnAccessUnit: func(au encoder.AccessUnit) {
			if err := ps.sink.WriteAccessUnit(au.PTS, au.NALUs); errors.Is(err, engine.ErrSinkClosed) {
				b.sinkLost(t.Path, ps.sink)
			}
		},
	}
	if err := r.enc.Initialize(); err != nil {
		b.closeSink(t.Path) // its readers would wait for a stream that does not come
		return false, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	r.pump = newPump(t, b.Arbiter, r.enc, ps.epoch)
	go func() {
		defer close(r.done)
		r.pump.run(ctx)
	}()
	return false, nil
}

func (r *running) stop() {
	if r.proc != nil {
		r.proc.Close()
		return
	}
	r.cancel()
	<-r.done
	r.enc.Close()
}

// process is the status of the publisher's ffmpeg.
func (r *running) process() publisher.Status {
	if r.enc != nil {
		return r.enc.Status().Process
	}
	return r.proc.Status()
}

// selection is the H.264 encoder that runs.
func (r *running) selection() encoder.Selection {
	if r.enc != nil {
		return r.enc.Status().Selection
	}
	// bypass: publisher.Args encodes with libx264
	return encoder.Selection{Requested: model.H264EncoderLibx264, Codec: model.H264EncoderLibx264}
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
	Publisher        *publisher.Status `json:"-"` // its ffmpeg
	// Encoder is the H.264 encoder that runs (with a warning when it is
	// not the one asked for); nil without a publisher.
	Encoder         *encoder.Selection `json:"-"`
	FramesSent      uint64             `json:"publisher_frames_sent"`
	FramesDropped   uint64             `json:"publisher_frames_dropped"`
	LastFrameAtUnix *float64           `json:"last_frame_at_unix"`
	LastError       *string            `json:"publisher_last_error"`
	InputMode       model.InputMode    `json:"input_mode"`
	InputReason     string             `json:"input_reason"`
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
			ps, sel := r.process(), r.selection()
			st.Publisher, st.Encoder = &ps, &sel
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
