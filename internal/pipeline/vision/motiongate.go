package vision

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

const (
	motionGateType   = "camera.motion_gate"
	motionGateMethod = "frame_difference"
	// gateAnalysisWidth is the width the gate's gray copy is reduced to.
	gateAnalysisWidth = 160
	// gateNoise is the gray-level difference over which a pixel changed.
	gateNoise = 25
)

func init() {
	pipeline.Register(pipeline.Info{Type: motionGateType, Inputs: 1, Outputs: 1, Factory: newMotionGate})
}

type motionGateConfig struct {
	Threshold        float64 `json:"threshold"`
	ActivationFrames int     `json:"activation_frames"`
	HoldSeconds      float64 `json:"hold_seconds"`
	EmitWhenIdle     bool    `json:"emit_when_idle"`
}

// MotionGate is camera.motion_gate: it lets frames through while there is
// motion (see the package documentation).
type MotionGate struct {
	cfg  motionGateConfig
	hold time.Duration

	prev, cur  grayImage
	havePrev   bool
	streak     int // consecutive frames with motion
	active     bool
	lastMotion time.Time
	lastFrac   float64

	stats stats
}

func newMotionGate(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg := motionGateConfig{Threshold: 0.010, ActivationFrames: 2, HoldSeconds: 6}
	if err := decode(motionGateType, raw, &cfg); err != nil {
		return nil, err
	}
	if err := checkRange(motionGateType, "threshold", cfg.Threshold, 0.0001, 1); err != nil {
		return nil, err
	}
	if cfg.ActivationFrames < 1 {
		return nil, fmt.Errorf("%s: config: activation_frames %d must be >= 1", motionGateType, cfg.ActivationFrames)
	}
	if err := checkRange(motionGateType, "hold_seconds", cfg.HoldSeconds, 0, 120); err != nil {
		return nil, err
	}
	g := &MotionGate{cfg: cfg, hold: time.Duration(cfg.HoldSeconds * float64(time.Second))}
	g.stats.st = Status{Type: motionGateType, Method: motionGateMethod}
	logger(env).Info("motion gate uses frame differencing (no model)", "type", motionGateType, "method", motionGateMethod,
		"threshold", cfg.Threshold, "activation_frames", cfg.ActivationFrames, "hold_seconds", cfg.HoldSeconds, "emit_when_idle", cfg.EmitWhenIdle)
	return g, nil
}

// Status reports the gate's state.
func (g *MotionGate) Status() Status { return g.stats.snapshot() }

// Process implements pipeline.Operator.
func (g *MotionGate) Process(_ context.Context, p *pipeline.Packet, emit func(*pipeline.Packet)) {
	if p.Lifecycle == pipeline.Close {
		// The source stopped: end any event, forget the previous frame.
		n := 0
		if g.active {
			emit(relabel(p, pipeline.Close))
			n = 1
		}
		g.active, g.streak, g.havePrev = false, 0, false
		g.stats.frameDone(0, false, n)
		return
	}
	f := p.Artifacts[artFrame]
	if !usable(f) {
		return // nothing to look at
	}
	motion := g.measure(f)
	if motion {
		g.streak++
	} else {
		g.streak = 0
	}
	t := p.Time
	if g.active && t.Before(g.lastMotion) {
		g.lastMotion = t // the clock went back (a restarted source): hold from now
	}
	lc := ""
	switch {
	case g.active && motion:
		g.lastMotion = t
		lc = pipeline.Update
	case g.active && t.Sub(g.lastMotion) >= g.hold:
		g.active = false
		lc = pipeline.Close
	case g.active:
		lc = pipeline.Update // within the hold
	case motion && g.streak >= g.cfg.ActivationFrames:
		g.active = true
		g.lastMotion = t
		lc = pipeline.Open
	case g.cfg.EmitWhenIdle:
		lc = pipeline.Update // idle frame, the event state is untouched
	}
	n := 0
	if lc != "" {
		emit(relabel(p, lc))
		n = 1
	}
	objects := 0
	if motion {
		objects = 1
	}
	g.stats.frameDone(objects, g.active, n)
	g.stats.mu.Lock()
	g.stats.st.ChangedFraction = g.lastFrac
	g.stats.mu.Unlock()
}

// measure compares f with the previous frame and reports whether the
// fraction of changed pixels reaches the threshold. The first frame (and
// the first after a size change) has no motion.
func (g *MotionGate) measure(f *frame.Frame) bool {
	g.cur.load(f, gateAnalysisWidth)
	motion := false
	if g.havePrev && g.prev.w == g.cur.w && g.prev.h == g.cur.h && g.prev.scale == g.cur.scale {
		changed := 0
		prev := g.prev.pix[:len(g.cur.pix)]
		for i, v := range g.cur.pix {
			d := int(v) - int(prev[i])
			if d > gateNoise || d < -gateNoise {
				changed++
			}
		}
		g.lastFrac = float64(changed) / float64(len(g.cur.pix))
		motion = g.lastFrac >= g.cfg.Threshold
	}
	g.prev, g.cur = g.cur, g.prev
	g.havePrev = true
	return motion
}
