package vision

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

func TestRegistered(t *testing.T) {
	for _, typ := range []string{motionGateType, detectType, trackType, segmentType} {
		info, ok := pipeline.Lookup(typ)
		if !ok || info.Inputs != 1 || info.Outputs != 1 || info.Factory == nil {
			t.Errorf("%s: %+v registered %v", typ, info, ok)
		}
	}
}

func TestConfigs(t *testing.T) {
	tests := []struct {
		typ, config string
		wantErr     string // "" when valid
	}{
		// The wizard presets of the original (§8.2).
		{motionGateType, `{"threshold": 0.010, "activation_frames": 2, "hold_seconds": 6, "emit_when_idle": false}`, ""},
		{detectType, `{"model_id": "rfdetr_det_medium", "categories": ["person"], "confidence_threshold": 0.55, "emit_mode": "events"}`, ""},
		{trackType, `{"tracker_id": "simple_iou_kalman", "close_after_seconds": 5.0, "emit_mode": "annotate"}`, ""},
		{segmentType, `{"model_id": "rtmdet_ins_small", "categories": [], "attach_mask_artifacts": true}`, ""},
		// Defaults.
		{motionGateType, ``, ""},
		{detectType, `null`, ""},
		{trackType, `{}`, ""},
		{segmentType, `{}`, ""},
		// Edges of the ranges.
		{motionGateType, `{"threshold": 0.0001, "hold_seconds": 0}`, ""},
		{motionGateType, `{"threshold": 1, "hold_seconds": 120}`, ""},
		{detectType, `{"confidence_threshold": 0.01}`, ""},
		{detectType, `{"confidence_threshold": 1}`, ""},
		{trackType, `{"close_after_seconds": 0}`, ""},
		// Refused.
		{motionGateType, `{"treshold": 0.1}`, `unknown field "treshold"`},
		{motionGateType, `{"threshold": 0}`, "threshold 0 out of range"},
		{motionGateType, `{"threshold": 1.5}`, "threshold 1.5 out of range"},
		{motionGateType, `{"activation_frames": 0}`, "activation_frames 0 must be >= 1"},
		{motionGateType, `{"hold_seconds": -1}`, "hold_seconds -1 out of range"},
		{motionGateType, `{"hold_seconds": 121}`, "hold_seconds 121 out of range"},
		{motionGateType, `{"threshold": "high"}`, "threshold"},
		{detectType, `{"confidence": 0.5}`, `unknown field "confidence"`},
		{detectType, `{"confidence_threshold": 0}`, "confidence_threshold 0 out of range"},
		{detectType, `{"confidence_threshold": 1.01}`, "confidence_threshold 1.01 out of range"},
		{detectType, `{"emit_mode": "all"}`, `emit_mode "all" must be`},
		{detectType, `{"categories": "person"}`, "categories"},
		{trackType, `{"close_after": 5}`, `unknown field "close_after"`},
		{trackType, `{"close_after_seconds": -0.1}`, "close_after_seconds -0.1 out of range"},
		{trackType, `{"emit_mode": ""}`, `emit_mode "" must be`},
		{segmentType, `{"attach_masks": true}`, `unknown field "attach_masks"`},
		{segmentType, `{"attach_mask_artifacts": "yes"}`, "attach_mask_artifacts"},
		{segmentType, `[1]`, "config"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.config, func(t *testing.T) {
			info, _ := pipeline.Lookup(tc.typ)
			op, err := info.Factory(json.RawMessage(tc.config), pipeline.Env{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if _, ok := op.(pipeline.Operator); !ok {
					t.Fatalf("%T is not an Operator", op)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), tc.typ+": ") {
				t.Fatalf("error %q, want it to start with %q and contain %q", err, tc.typ, tc.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	g := build(t, motionGateType, `{}`).(*MotionGate)
	if g.cfg != (motionGateConfig{Threshold: 0.010, ActivationFrames: 2, HoldSeconds: 6}) {
		t.Errorf("motion gate defaults %+v", g.cfg)
	}
	d := build(t, detectType, `{}`).(*Detect)
	if d.cfg.ConfidenceThreshold != 0.55 || d.cfg.EmitMode != modeAnnotate {
		t.Errorf("detect defaults %+v", d.cfg)
	}
	tr := build(t, trackType, `{}`).(*Track)
	if tr.cfg.CloseAfterSeconds != 5 || tr.cfg.EmitMode != modeAnnotate {
		t.Errorf("track defaults %+v", tr.cfg)
	}
	s := build(t, segmentType, `{}`).(*Segment)
	if !s.cfg.AttachMaskArtifacts {
		t.Errorf("segment defaults %+v", s.cfg)
	}
}

func TestPassThroughWithoutFrame(t *testing.T) {
	p := &pipeline.Packet{Time: t0, Lifecycle: pipeline.Update}
	for _, typ := range []string{detectType, trackType, segmentType} {
		if out := run(build(t, typ, `{}`), p); len(out) != 1 || out[0] != p {
			t.Errorf("%s: packet without frame not passed through", typ)
		}
	}
	for _, typ := range []string{detectType, trackType} {
		if out := run(build(t, typ, `{"emit_mode": "events"}`), p); len(out) != 0 {
			t.Errorf("%s events: packet without frame emitted", typ)
		}
	}
	if out := run(build(t, motionGateType, `{"emit_when_idle": true}`), p); len(out) != 0 {
		t.Error("motion gate emitted a packet without frame")
	}
}
