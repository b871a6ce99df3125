package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
)

func init() {
	pipeline.Register(pipeline.Info{Type: "stream.publish_video", Inputs: 1, Outputs: 0, Factory: newPublish, Publishes: publishesTo})
}

// DefaultFrameFallback is where stream.publish_video looks for the image.
var DefaultFrameFallback = []string{"frame", "best_frame", "segmented", "frame_original"}

// PublishConfig is stream.publish_video's configuration.
type PublishConfig struct {
	TransmissionID    string           `json:"transmission_id"`
	FrameWithFallback json.RawMessage  `json:"frame_with_fallback"`
	ResizeMode        string           `json:"resize_mode"`
	WriterPriority    int              `json:"writer_priority"`
	BypassMode        model.BypassMode `json:"bypass_mode"`
}

// Fallback is the artifact names to try, in order.
func (c PublishConfig) Fallback() ([]string, error) {
	var names []string
	var one string
	switch {
	case len(c.FrameWithFallback) == 0 || string(c.FrameWithFallback) == "null":
	case json.Unmarshal(c.FrameWithFallback, &one) == nil:
		names = strings.Split(one, ",")
	case json.Unmarshal(c.FrameWithFallback, &names) == nil:
	default:
		return nil, errors.New("frame_with_fallback must be a list of artifact names or one comma-separated string")
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = DefaultFrameFallback
	}
	return out, nil
}

// ParsePublishConfig reads and checks a stream.publish_video config.
func ParsePublishConfig(raw json.RawMessage) (PublishConfig, []string, error) {
	cfg := PublishConfig{ResizeMode: "contain", BypassMode: model.BypassAuto}
	if err := pipeline.DecodeConfig(raw, &cfg); err != nil {
		return cfg, nil, err
	}
	cfg.TransmissionID = strings.TrimSpace(cfg.TransmissionID)
	if cfg.TransmissionID == "" {
		return cfg, nil, errors.New("transmission_id is required")
	}
	if cfg.ResizeMode != "contain" && cfg.ResizeMode != "none" {
		return cfg, nil, fmt.Errorf("resize_mode must be contain or none, not %q", cfg.ResizeMode)
	}
	mode, ok := model.ParseBypassMode(string(cfg.BypassMode))
	if !ok {
		return cfg, nil, fmt.Errorf("bypass_mode must be auto, force_on or force_off, not %q", cfg.BypassMode)
	}
	cfg.BypassMode = mode
	fallback, err := cfg.Fallback()
	return cfg, fallback, err
}

// publishesTo is the transmission a stream.publish_video config names ("" for
// an invalid config, which the factory refuses anyway).
func publishesTo(raw json.RawMessage) string {
	cfg, _, err := ParsePublishConfig(raw)
	if err != nil {
		return ""
	}
	return cfg.TransmissionID
}

// publish writes the first image artifact of each packet into the
// transmission as writer "{pipeline}:{node}"; a close packet closes it.
// When its pipeline only forwards an RTSP camera (and bypass_mode is not
// force_off) the writer declares that camera, so the runtime may pull it
// directly.
type publish struct {
	fallback []string
	writer   *streamwriter.Writer
}

func newPublish(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg, fallback, err := ParsePublishConfig(raw)
	if err != nil {
		return nil, err
	}
	p := &publish{fallback: fallback}
	if env.Services != nil {
		var fwd *arbiter.Forward
		if cfg.BypassMode != model.BypassForceOff {
			fwd = forwardOf(env.Graph, env.Node, env.Services)
		}
		p.writer = env.Services.Writer(cfg.TransmissionID, env.Pipeline+":"+env.Node, cfg.WriterPriority, fwd)
	}
	return p, nil
}

func (p *publish) Process(_ context.Context, pkt *pipeline.Packet, _ func(*pipeline.Packet)) {
	if p.writer == nil {
		return
	}
	if pkt.Lifecycle == pipeline.Close {
		p.writer.Close()
		return
	}
	for _, name := range p.fallback {
		if f := pkt.Artifacts[name]; f != nil {
			p.writer.Write(f)
			return
		}
	}
}

// Close closes the writer when the pipeline stops.
func (p *publish) Close() {
	if p.writer != nil {
		p.writer.Close()
	}
}
