package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/encoder"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// encoding is everything the pump and the encoder of a raw-frame output
// read, and nothing else: outputs of one engine instance with equal
// encodings get the same picture and the same bytes, so they share one
// encoder group. (The pump reads no resize mode: every frame is fitted by
// contain.) A bypass encoding names its camera: its pump takes the
// camera's frames from the camera hub instead of the arbiter's selection.
type encoding struct {
	generation     uint64 // the engine instance its sinks publish into
	transmissionID string
	width, height  int
	fps            int
	bitrateKbps    int
	profile        model.LatencyProfile
	placeholder    model.Placeholder
	encoder        model.H264Encoder // engine.h264_encoder, as asked for
	camera         camerahub.Source  // bypass only: the camera read (credentials in memory)
	cameraFPS      int               // bypass only: the writer's rate limit (0: none)
}

// bypass reports whether the encoding reads a camera itself.
func (e encoding) bypass() bool { return e.camera.URL != "" }

func (e encoding) mode() model.InputMode {
	if e.bypass() {
		return model.InputRTSPPull
	}
	return model.InputRawVideo
}

func encodingOf(t model.Target, generation uint64, enc model.H264Encoder) encoding {
	profile := t.LatencyProfile
	if profile == "" {
		profile = model.LatencyNormal
	}
	return encoding{generation: generation, transmissionID: t.TransmissionID, width: t.Width, height: t.Height, fps: t.FPS,
		bitrateKbps: t.BitrateKbps, profile: profile, placeholder: t.Placeholder, encoder: requested(enc)}
}

// requested is the encoder engine.h264_encoder asks for ("" is auto).
func requested(enc model.H264Encoder) model.H264Encoder {
	if enc == "" {
		return model.H264EncoderAuto
	}
	return enc
}

// name identifies the encoding in the API (encoder_group), logs and log
// file names: equal for the outputs that share an encoder.
func (e encoding) name() string {
	rate := "default-rate"
	if e.bitrateKbps > 0 {
		rate = fmt.Sprintf("%dkbps", e.bitrateKbps)
	}
	parts := []string{e.transmissionID, fmt.Sprintf("%dx%d", e.width, e.height), fmt.Sprintf("%dfps", e.fps),
		rate, string(e.profile), string(e.encoder)}
	if e.bypass() {
		parts = append(parts, "bypass")
	}
	return strings.Join(parts, "/")
}

// group is one running encoder and its pump, feeding the sinks of every
// path whose output has its encoding. The run goroutine owns everything
// but outs, which the encoder's access-unit callback reads.
type group struct {
	enc       encoding
	startedAt time.Time
	epoch     time.Time // pts 0 of its pump
	encoder   *encoder.Encoder
	pump      *pump
	camera    *cameraPicture // bypass only
	cancel    context.CancelFunc
	done      chan struct{} // the pump (and the camera reader) ended

	// mu is held while an access unit is written into the sinks (which
	// never wait), so once detach returns the group writes no more into
	// that sink: a path moving to another group never gets the two
	// encoders' access units interleaved.
	mu   sync.Mutex
	outs []groupOut
}

// groupOut is one sink a group writes into.
type groupOut struct {
	path string
	sink engine.VideoSink
	// offset turns the group's pts into the sink's: pts on a sink are
	// tick times since the sink's epoch, whatever group fed it.
	offset time.Duration
}

// startGroup starts the encoder and the pump of an encoding, with no sink
// yet (see Bridge.feed). The encoder's probe must be done.
func (b *Bridge) startGroup(e encoding) (*group, error) {
	g := &group{enc: e, startedAt: time.Now()}
	g.epoch = g.startedAt
	g.encoder = &encoder.Encoder{
		Name: e.name(), FFmpeg: b.FFmpeg, Requested: e.encoder, Prober: b.Prober,
		Width: e.width, Height: e.height, FPS: e.fps, BitrateKbps: e.bitrateKbps, Profile: e.profile,
		LogLevel:     b.LogLevel,
		Supervision:  b.supervision(),
		OnAccessUnit: func(au encoder.AccessUnit) { g.deliver(au, b.sinkLost) },
	}
	var src picture = selected{b.Arbiter, e.transmissionID}
	if e.bypass() {
		// The camera's own size (the decoder a camera.source at its own
		// size uses too); the pump fits it by contain.
		frames, err := b.Cameras.Frames(e.camera, "bypass "+e.name(), camerahub.FrameOptions{FPS: min(e.fps, nonZero(e.cameraFPS, e.fps))})
		if err != nil {
			return nil, fmt.Errorf("bypass: %w", err)
		}
		g.camera = &cameraPicture{frames: frames}
		src = g.camera
	}
	if err := g.encoder.Initialize(); err != nil {
		if g.camera != nil {
			g.camera.frames.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan struct{})
	g.pump = newPump(e, src, g.encoder, g.epoch)
	var running sync.WaitGroup
	running.Go(func() { g.pump.run(ctx) })
	if g.camera != nil {
		running.Go(func() { g.camera.run(ctx) })
	}
	go func() {
		defer close(g.done)
		running.Wait()
	}()
	return g, nil
}

func nonZero(v, otherwise int) int {
	if v > 0 {
		return v
	}
	return otherwise
}

// problem is why a bypass group's camera gives no frames; empty otherwise.
func (g *group) problem() string {
	if g.camera == nil {
		return ""
	}
	problem, _ := g.camera.frames.Health()
	return problem
}

// cameraPicture is a bypass group's picture: the newest frame the camera
// hub decoded (the placeholder shows until the first one).
type cameraPicture struct {
	frames  *camerahub.Frames
	newest  atomic.Pointer[cameraFrame]
	arrived broadcast.Signal
}

type cameraFrame struct {
	f   *frame.Frame
	seq uint64
}

func (c *cameraPicture) latest() (*frame.Frame, uint64) {
	if n := c.newest.Load(); n != nil {
		return n.f, n.seq
	}
	return nil, 0
}

// run takes the camera's frames until ctx ends (the hub's frames are never
// reused, so the newest one may be read while the next arrives).
func (c *cameraPicture) run(ctx context.Context) {
	for seq := uint64(1); ; seq++ {
		fr, err := c.frames.Next(ctx)
		if err != nil {
			return
		}
		c.newest.Store(&cameraFrame{f: fr.Frame, seq: seq})
		c.arrived.Notify()
	}
}

func (c *cameraPicture) updated() <-chan struct{} { return c.arrived.Wait() }

// deliver writes one access unit into every sink of the group.
func (g *group) deliver(au encoder.AccessUnit, lost func(path string, sink engine.VideoSink)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range g.outs {
		if err := o.sink.WriteAccessUnit(au.PTS+o.offset, au.NALUs); errors.Is(err, engine.ErrSinkClosed) {
			lost(o.path, o.sink)
		}
	}
}

// attach makes the group write into ps (the sink of path).
func (g *group) attach(path string, ps *pathSink) {
	g.mu.Lock()
	g.outs = append(g.outs, groupOut{path: path, sink: ps.sink, offset: g.epoch.Sub(ps.epoch)})
	g.mu.Unlock()
	ps.group = g
}

// detach stops the group writing into ps; no access unit of the group
// reaches it after detach returns.
func (g *group) detach(ps *pathSink) {
	g.mu.Lock()
	g.outs = slices.DeleteFunc(g.outs, func(o groupOut) bool { return o.sink == ps.sink })
	g.mu.Unlock()
	ps.group = nil
}

// stop ends the pump (and the camera subscription), then the encoder. Its
// sinks must be detached first.
func (g *group) stop() {
	g.cancel()
	<-g.done
	if g.camera != nil {
		g.camera.frames.Close()
	}
	g.encoder.Close()
}
