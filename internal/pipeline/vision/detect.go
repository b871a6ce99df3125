package vision

import (
	"context"
	"encoding/json"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

const (
	detectType   = "vision.detect"
	detectMethod = "motion_background_subtraction"
)

func init() {
	pipeline.Register(pipeline.Info{Type: detectType, Inputs: 1, Outputs: 1, Factory: newDetect})
}

type detectConfig struct {
	ModelID             string   `json:"model_id"`
	Categories          []string `json:"categories"`
	ConfidenceThreshold float64  `json:"confidence_threshold"`
	EmitMode            string   `json:"emit_mode"`
}

// Detect is vision.detect: boxes around moving objects (see the package
// documentation).
type Detect struct {
	cfg      detectConfig
	pipeline string
	det      Detector
	events   eventState
	stats    stats
}

func newDetect(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg := detectConfig{ConfidenceThreshold: 0.55, EmitMode: modeAnnotate}
	if err := decode(detectType, raw, &cfg); err != nil {
		return nil, err
	}
	if err := checkRange(detectType, "confidence_threshold", cfg.ConfidenceThreshold, 0.01, 1); err != nil {
		return nil, err
	}
	if err := checkMode(detectType, cfg.EmitMode); err != nil {
		return nil, err
	}
	cfg.Categories = normCategories(cfg.Categories)
	d := newDetectWith(cfg, env.Pipeline, NewMotionDetector(cfg.ConfidenceThreshold))
	logger(env).Info("no model in this build: detections come from motion (background subtraction); model_id and categories are ignored",
		"type", detectType, "method", detectMethod, "model_id", cfg.ModelID, "categories", cfg.Categories,
		"confidence_threshold", cfg.ConfidenceThreshold, "emit_mode", cfg.EmitMode)
	return d, nil
}

// newDetectWith builds the operator around any Detector.
func newDetectWith(cfg detectConfig, pipelineName string, det Detector) *Detect {
	d := &Detect{cfg: cfg, pipeline: pipelineName, det: det}
	d.stats.st = Status{Type: detectType, Method: detectMethod, Ignored: "model_id, categories", ModelID: cfg.ModelID, Categories: cfg.Categories}
	return d
}

// Status reports the operator's state.
func (d *Detect) Status() Status { return d.stats.snapshot() }

// Process implements pipeline.Operator.
func (d *Detect) Process(_ context.Context, p *pipeline.Packet, emit func(*pipeline.Packet)) {
	src := sourceFrame(p)
	events := d.cfg.EmitMode == modeEvents
	if src == nil {
		// Nothing to analyse: pass through, or end an event on close.
		if !events {
			emit(p)
		} else if p.Lifecycle == pipeline.Close && d.events.open {
			d.events.open = false
			emit(relabel(p, pipeline.Close))
		}
		return
	}
	boxes := d.det.Detect(src)
	detections.put(d.pipeline, src, boxes)
	lc := p.Lifecycle
	if events {
		var ok bool
		if p.Lifecycle == pipeline.Close {
			// Upstream ended its event (or stream): end ours.
			lc, ok = d.events.next(false)
		} else {
			lc, ok = d.events.next(len(boxes) > 0)
		}
		if !ok {
			d.stats.frameDone(len(boxes), false, 0)
			return
		}
	}
	ann := cloneFrame(src)
	for _, b := range boxes {
		drawBox(ann, b, 3, detectColour)
	}
	out := relabel(p, lc)
	out.Artifacts[artFrame] = ann
	out.Artifacts[artOriginal] = src
	emit(out)
	d.stats.frameDone(len(boxes), d.events.open, 1)
}
