package ops

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

func init() {
	pipeline.Register(pipeline.Info{Type: "core.fps_reducer", Inputs: 1, Outputs: 1, Factory: newFPSReducer})
}

// fpsReducer passes at most target_fps packets a second (by packet time);
// close packets always pass, so an event never stays open.
type fpsReducer struct {
	period time.Duration
	next   time.Time
}

func newFPSReducer(raw json.RawMessage, _ pipeline.Env) (any, error) {
	var cfg struct {
		TargetFPS float64 `json:"target_fps"`
	}
	cfg.TargetFPS = 5
	if err := pipeline.DecodeConfig(raw, &cfg); err != nil {
		return nil, err
	}
	if cfg.TargetFPS <= 0 || cfg.TargetFPS > 120 {
		return nil, errors.New("target_fps must be in (0, 120]")
	}
	return &fpsReducer{period: time.Duration(float64(time.Second) / cfg.TargetFPS)}, nil
}

func (r *fpsReducer) Process(_ context.Context, p *pipeline.Packet, emit func(*pipeline.Packet)) {
	if p.Lifecycle == pipeline.Close {
		emit(p)
		return
	}
	if p.Time.Before(r.next) {
		return
	}
	// Keep the cadence (next = previous slot + period) unless far behind.
	r.next = r.next.Add(r.period)
	if r.next.Before(p.Time) {
		r.next = p.Time.Add(r.period)
	}
	emit(p)
}
