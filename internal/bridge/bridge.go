// Package bridge turns demand into publishers. It acts on the engine state
// alone (the paths the engine serves, their outputs and publish URLs): it
// starts publishing an output the moment its engine path gains a viewer
// (or is primed), follows its engine instance, input and encoding, and
// stops a debounce after the last viewer left.
//
// For raw frames the outputs of one transmission that encode identically
// (see encoding) share one encoder group: one encoder (ffmpeg as a pure
// codec) fed by one pump from the arbiter, writing into the engine sink of
// each of their paths. A group runs while any of its paths is wanted
// (demanded, primed, or within its debounce); while it runs every one of
// its paths has a sink, so a viewer of another output of the group finds
// the stream already there. Sinks outlive encoders: an encoding change
// moves a path's sink to another group, a dead ffmpeg is restarted under
// it, and the path's readers stay connected. Bypass is a group too, whose
// pump takes the camera's frames from the camera hub instead of the
// arbiter's selection (see inputFor). The transmissions whose groups are
// wanted are published (SubscribeWatched): on_demand pipelines run while
// theirs are, so a pipeline rests exactly when its encoder does. One
// goroutine owns every publisher;
// it never waits for a process to exit, and it never polls.
package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/camerahub"
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
}

// Cameras is where a bypass takes its camera's frames (the camera hub).
type Cameras interface {
	Frames(src camerahub.Source, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error)
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
	// Cameras serves bypass groups their camera; nil: no bypass.
	Cameras Cameras

	log      *slog.Logger
	wake     chan struct{} // a transmission's selected writer changed, or a sink was lost
	outputs  chan chan []OutputStatus
	primes   chan primeRequest
	released chan string // a path's sink, closed in the background, is gone
	probed   chan probeResult
	done     chan struct{}
	ended    chan struct{}
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	bg       sync.WaitGroup // probes and group stops

	lostMu sync.Mutex
	lost   []lostSink // sinks their groups found closed, for the run goroutine

	// watched is the set of transmissions with a wanted path, published
	// for on_demand pipelines (see SubscribeWatched); never changed after
	// it is published.
	watched broadcast.Latest[map[string]bool]

	// Owned by the run goroutine.
	state      *engine.State
	inputs     map[string]pathInput               // by engine path: what the last reconcile chose
	groups     map[encoding]*group                // running encoder groups
	sinks      map[string]*pathSink               // by engine path: raw-frame paths' sinks, kept across groups
	releasing  map[string]int                     // by engine path: its sinks still being closed
	active     map[string]bool                    // paths demanded or primed at the last reconcile
	primed     map[string]time.Time               // transmission id -> primed until (kept before its paths reach the engine state)
	stopDue    map[string]time.Time               // path -> it stops being wanted (a debounce after it lost its demand)
	failures   map[string]string                  // path -> why it cannot be published
	selections map[model.H264Encoder]*probeResult // by requested encoder; done false while probing
}

// pathInput is how a path is published.
type pathInput struct {
	mode   model.InputMode
	reason string   // why this input
	enc    encoding // the group that feeds the path
}

// pathSink is the engine sink of one path.
type pathSink struct {
	sink       engine.VideoSink
	generation uint64    // the engine instance it publishes into
	epoch      time.Time // pts 0 on the sink: pts go on across the groups that feed it
	group      *group    // the group writing into it; nil: none
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
	done           chan struct{} // closed once the prime is applied
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
	b.outputs, b.primes, b.released = make(chan chan []OutputStatus), make(chan primeRequest), make(chan string)
	b.probed = make(chan probeResult)
	b.done, b.ended = make(chan struct{}), make(chan struct{})
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.inputs, b.groups, b.sinks = map[string]pathInput{}, map[encoding]*group{}, map[string]*pathSink{}
	b.releasing, b.active = map[string]int{}, map[string]bool{}
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
		b.selection(requested(b.state.H264Encoder)) // probe now, not when the first viewer comes
	}
	go func() {
		defer close(b.ended)
		defer cancelStates()
		defer cancelDemand()
		b.run(states, demand)
	}()
	return nil
}

// SubscribeWatched delivers the ids of the transmissions that are watched:
// a path of theirs is demanded, primed or within the stop debounce after
// that ended, exactly while their encoders run. The current set comes at
// once; a set is never changed after it is delivered. on_demand pipelines
// run while one of their transmissions is in it.
func (b *Bridge) SubscribeWatched() (<-chan map[string]bool, func()) {
	return b.watched.Subscribe(true)
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
	b.reconcile()
	for {
		b.resetTimer(timer)
		select {
		case st := <-states:
			b.state = st
			b.applyArbitration()
			b.reconcile()
		case <-demand:
			b.reconcile()
		case <-b.wake:
			b.dropLostSinks()
			b.reconcile() // bypass may apply or end
		case r := <-b.probed:
			b.selections[r.requested] = &r
			b.reconcile()
		case <-timer.C:
			b.reconcile() // a debounce or a prime ran out
		case path := <-b.released:
			b.release(path)
			b.reconcile() // the path may be published again
		case res := <-b.outputs:
			res <- b.outputStatuses()
		case req := <-b.primes:
			b.prime(req.transmissionID)
			close(req.done)
		case <-b.done:
			for _, g := range b.groups {
				b.stopGroup(g, "shutting down")
			}
			for path := range b.sinks {
				b.closeSink(path)
			}
			for len(b.releasing) > 0 {
				b.release(<-b.released)
			}
			return
		}
	}
}

func (b *Bridge) release(path string) {
	if b.releasing[path]--; b.releasing[path] <= 0 {
		delete(b.releasing, path)
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

func (b *Bridge) supervision() publisher.Supervision {
	return publisher.Supervision{LogDir: b.LogDir, Logger: b.log}
}

// reconcile brings every publisher in line with the engine state, demand
// and primes. Groups are kept current while a path of theirs waits out
// its debounce: after an engine restart the viewers that just lost their
// sessions come back to a group already in the new engine, instead of one
// that is replaced the moment they return.
func (b *Bridge) reconcile() {
	now := time.Now()
	b.inputs = b.chooseInputs()
	b.trackDemand(now)
	wanted := map[encoding]bool{}
	watched := map[string]bool{}
	for path, in := range b.inputs {
		if b.wants(path) {
			wanted[in.enc] = true
			watched[in.enc.transmissionID] = true
		}
	}
	if !maps.Equal(watched, b.watched.Current()) {
		b.watched.Publish(watched)
	}

	for e, g := range b.groups {
		if !wanted[e] {
			b.stopGroup(g, "no path of its encoding is wanted")
		}
	}
	for e := range wanted {
		if b.groups[e] == nil {
			b.tryStartGroup(e)
		}
	}
	// Sinks follow the groups: every path of a running group has one, and
	// no other path does.
	for path, in := range b.inputs {
		if g := b.groups[in.enc]; g != nil {
			b.feed(path, g)
		}
	}
	for path := range b.sinks {
		if in, ok := b.inputs[path]; !ok || b.groups[in.enc] == nil {
			b.closeSink(path)
		}
	}
	for path := range b.failures {
		if _, ok := b.inputs[path]; !ok {
			delete(b.failures, path)
		}
	}
}

// chooseInputs decides how each path of the running engine is published.
func (b *Bridge) chooseInputs() map[string]pathInput {
	inputs := map[string]pathInput{}
	if !b.state.Running {
		return inputs
	}
	outputs := map[string]int{} // by transmission
	for _, t := range b.state.Targets() {
		outputs[t.TransmissionID]++
	}
	for _, p := range b.state.Paths {
		if p.Target != nil {
			inputs[p.Name] = b.inputFor(p, outputs[p.Target.TransmissionID])
		}
	}
	return inputs
}

// inputFor decides a path's input: the camera itself (through the camera
// hub) when the shown writer only forwards an RTSP camera and the
// transmission has one output, else raw frames from the arbiter.
func (b *Bridge) inputFor(ps engine.PathState, outputs int) pathInput {
	t := *ps.Target
	in := pathInput{mode: model.InputRawVideo, enc: encodingOf(t, b.state.Generation, b.state.H264Encoder)}
	sel := b.Arbiter.Select(t.TransmissionID)
	switch {
	case sel.WriterID == "":
		in.reason = "no writer shown: placeholder"
	case sel.Forward == nil:
		in.reason = "the shown writer is not a camera-only pipeline (camera.source [-> core.fps_reducer] -> stream.publish_video on an RTSP camera, bypass_mode auto or force_on)"
	case outputs != 1:
		in.reason = "the transmission has several outputs: frames are shared through the pump"
	case b.Cameras == nil:
		in.reason = "no camera hub to read the camera from"
	default:
		in.mode, in.reason = model.InputRTSPPull, "bypass: writer "+sel.WriterID+" only forwards camera "+sel.Forward.RedactedURL
		in.enc.camera, in.enc.cameraFPS = sel.Forward.Source, sel.Forward.FPS
	}
	return in
}

// trackDemand updates which paths are wanted: a path is wanted while it is
// demanded or primed, and for the debounce after that ended.
func (b *Bridge) trackDemand(now time.Time) {
	for path := range b.inputs {
		primed := now.Before(b.primed[b.inputs[path].enc.transmissionID])
		switch {
		case primed || b.Engine.Demanded(path):
			b.active[path] = true
			delete(b.stopDue, path)
		case b.active[path]:
			delete(b.active, path)
			b.stopDue[path] = now.Add(seconds(b.state.Runtime.StopDebounceSeconds))
		}
		if due, ok := b.stopDue[path]; ok && !now.Before(due) {
			delete(b.stopDue, path)
		}
	}
	for path := range b.stopDue {
		if _, ok := b.inputs[path]; !ok {
			delete(b.stopDue, path)
		}
	}
	for id, until := range b.primed {
		if !now.Before(until) {
			delete(b.primed, id)
		}
	}
	for path := range b.active {
		if _, ok := b.inputs[path]; !ok {
			delete(b.active, path)
		}
	}
}

func (b *Bridge) wants(path string) bool {
	_, debouncing := b.stopDue[path]
	return b.active[path] || debouncing
}

// fail records why path cannot be published and refuses its held readers
// with that reason: waiting for the hold timeout would not help them.
func (b *Bridge) fail(path string, err error) {
	b.failures[path] = err.Error()
	b.log.Error("cannot publish", "path", path, "err", err)
	b.state.RefuseReaders(path, err.Error())
}

// tryStartGroup starts the group of an encoding once its encoder choice is
// probed.
func (b *Bridge) tryStartGroup(e encoding) {
	err := b.FFmpegErr
	if b.FFmpeg != "" {
		probe, done := b.selection(e.encoder)
		if !done {
			return // reconciled again once the probe is done
		}
		err = probe.err
	}
	var g *group
	if err == nil {
		g, err = b.startGroup(e)
	}
	if err != nil {
		for path, in := range b.inputs {
			if in.mode == model.InputRawVideo && in.enc == e {
				b.fail(path, err)
			}
		}
		return
	}
	b.groups[e] = g
	b.log.Info("encoder group started", "group", e.name(), "codec", g.encoder.Status().Codec, "engine_generation", e.generation)
}

// stopGroup stops a group in the background, after detaching its sinks
// (which stay with their paths: another group may take them over).
func (b *Bridge) stopGroup(g *group, why string) {
	delete(b.groups, g.enc)
	b.log.Info("stopping encoder group", "group", g.enc.name(), "reason", why)
	for _, ps := range b.sinks {
		if ps.group == g {
			g.detach(ps)
		}
	}
	b.bg.Go(g.stop)
}

// feed makes g write into path's sink, opening one unless the path has
// one of g's engine instance. A path whose older sink is still being
// closed waits (b.released reconciles again).
func (b *Bridge) feed(path string, g *group) {
	ps := b.sinks[path]
	switch {
	case ps != nil && ps.group == g:
		return
	case ps != nil && ps.generation != g.enc.generation:
		b.closeSink(path) // of an engine instance that is gone
		return
	case ps == nil && b.releasing[path] > 0:
		return
	case ps == nil:
		sink, err := b.state.OpenSink(path)
		if err != nil {
			b.fail(path, fmt.Errorf("open the path's sink: %w", err))
			return
		}
		// The group's epoch: pts of the first access units on the sink
		// are never before 0.
		ps = &pathSink{sink: sink, generation: g.enc.generation, epoch: g.epoch}
		b.sinks[path] = ps
	}
	if ps.group != nil {
		ps.group.detach(ps) // before g writes: never two encoders' access units on one path
	}
	g.attach(path, ps)
	delete(b.failures, path)
	b.log.Info("publishing path", "path", path, "group", g.enc.name())
}

// closeSink closes path's sink, if it has one, in the background (after
// detaching it from its group); b.released says when it is closed.
func (b *Bridge) closeSink(path string) {
	ps := b.sinks[path]
	if ps == nil {
		return
	}
	if ps.group != nil {
		ps.group.detach(ps)
	}
	delete(b.sinks, path)
	b.releasing[path]++
	b.log.Info("closing the path's sink", "path", path)
	go func() {
		ps.sink.Close()
		b.released <- path
	}()
}

// sinkLost is called by a group's access-unit callback when a sink refused
// an access unit as closed.
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

// dropLostSinks closes the sinks the engine closed (reconcile then opens
// new ones). Reports of sinks already replaced are ignored.
func (b *Bridge) dropLostSinks() {
	b.lostMu.Lock()
	lost := b.lost
	b.lost = nil
	b.lostMu.Unlock()
	for _, l := range lost {
		if ps := b.sinks[l.path]; ps != nil && ps.sink == l.sink {
			b.log.Warn("the engine closed the path's sink; opening a new one", "path", l.path)
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

// Prime makes the publishers of a transmission run without viewers for the
// prime window (then the normal debounce). The prime is kept by
// transmission: a transmission just created or enabled is primed too when
// its paths reach the engine state after this call.
func (b *Bridge) Prime(transmissionID string) {
	req := primeRequest{transmissionID: transmissionID, done: make(chan struct{})}
	select {
	case b.primes <- req:
		<-req.done
	case <-b.done:
	}
}

func (b *Bridge) prime(transmissionID string) {
	until := time.Now().Add(seconds(b.state.Runtime.PrimeSeconds))
	if until.After(b.primed[transmissionID]) {
		b.primed[transmissionID] = until
	}
	b.reconcile()
}

// OutputStatus is one output's runtime state.
type OutputStatus struct {
	model.Target
	ViewerCount      int               `json:"viewer_count"`
	DemandSignal     bool              `json:"demand_signal"`
	PrimedUntilUnix  *float64          `json:"primed_until_unix"`
	PublisherRunning bool              `json:"publisher_running"`
	Publisher        *publisher.Status `json:"-"` // its ffmpeg
	// EncoderGroup names the output's encoding: outputs with the same
	// one share one encoder (and so report the same process and
	// counters).
	EncoderGroup string `json:"encoder_group,omitempty"`
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
		if until, ok := b.primed[t.TransmissionID]; ok && time.Now().Before(until) {
			u := float64(until.UnixMicro()) / 1e6
			st.PrimedUntilUnix = &u
		}
		if msg, ok := b.failures[t.Path]; ok {
			st.LastError = &msg
		}
		in, ok := b.inputs[t.Path]
		if ok {
			st.EncoderGroup = in.enc.name()
		}
		b.publisherStatus(&st, in)
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

// publisherStatus fills in the group that writes into st's path's sink,
// if one does.
func (b *Bridge) publisherStatus(st *OutputStatus, in pathInput) {
	ps := b.sinks[st.Path]
	if ps == nil || ps.group == nil {
		return
	}
	g := ps.group
	es := g.encoder.Status()
	proc, sel := es.Process, es.Selection
	st.InputMode, st.InputReason = g.enc.mode(), in.reason
	st.FramesSent, st.FramesDropped = g.pump.sent.Load(), g.pump.dropped.Load()
	if at := g.pump.lastFrameAt.Load(); at > 0 {
		u := float64(at) / 1e6
		st.LastFrameAtUnix = &u
	}
	if problem := g.problem(); problem != "" && proc.LastError == "" {
		proc.LastError = problem
	}
	st.Publisher, st.Encoder = &proc, &sel
	st.PublisherRunning = proc.Running
	if proc.LastError != "" {
		st.LastError = &proc.LastError
	}
}
