package vision

import (
	"context"
	"encoding/json"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

const (
	segmentType   = "vision.segment_instances"
	segmentMethod = "motion_background_subtraction_mask"
	// segmentMinScore is the score under which a blob is left out of the
	// mask (the config has no threshold; this is vision.detect's default).
	segmentMinScore = 0.55
)

func init() {
	pipeline.Register(pipeline.Info{Type: segmentType, Inputs: 1, Outputs: 1, Factory: newSegment})
}

type segmentConfig struct {
	ModelID             string   `json:"model_id"`
	Categories          []string `json:"categories"`
	AttachMaskArtifacts bool     `json:"attach_mask_artifacts"`
}

// Segment is vision.segment_instances: the moving foreground as instance
// masks (see the package documentation).
type Segment struct {
	cfg   segmentConfig
	seg   Segmenter
	stats stats
}

func newSegment(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg := segmentConfig{AttachMaskArtifacts: true}
	if err := decode(segmentType, raw, &cfg); err != nil {
		return nil, err
	}
	cfg.Categories = normCategories(cfg.Categories)
	s := newSegmentWith(cfg, NewMotionDetector(segmentMinScore))
	logger(env).Info("no model in this build: masks are the moving foreground (background subtraction); model_id and categories are ignored",
		"type", segmentType, "method", segmentMethod, "model_id", cfg.ModelID, "categories", cfg.Categories,
		"attach_mask_artifacts", cfg.AttachMaskArtifacts)
	return s, nil
}

// newSegmentWith builds the operator around any Segmenter.
func newSegmentWith(cfg segmentConfig, seg Segmenter) *Segment {
	s := &Segment{cfg: cfg, seg: seg}
	s.stats.st = Status{Type: segmentType, Method: segmentMethod, Ignored: "model_id, categories", ModelID: cfg.ModelID, Categories: cfg.Categories}
	return s
}

// Status reports the operator's state; Objects is the number of instances
// in the last frame.
func (s *Segment) Status() Status { return s.stats.snapshot() }

// Process implements pipeline.Operator.
func (s *Segment) Process(_ context.Context, p *pipeline.Packet, emit func(*pipeline.Packet)) {
	src := sourceFrame(p)
	if src == nil {
		emit(p)
		return
	}
	m := s.seg.Segment(src)
	over, mask := overlayMask(src, m, s.cfg.AttachMaskArtifacts)
	out := relabel(p, p.Lifecycle)
	out.Artifacts[artFrame] = over
	out.Artifacts[artOriginal] = src
	if mask != nil {
		out.Artifacts[artMask] = mask
	}
	emit(out)
	instances := 0
	if m != nil {
		instances = m.Instances
	}
	s.stats.frameDone(instances, false, 1)
}
