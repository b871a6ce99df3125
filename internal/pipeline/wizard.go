package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Wizard presets.
const (
	PresetSimple       = "simple_stream"
	PresetMotionGate   = "motion_gate_stream"
	PresetDetection    = "detection_stream"
	PresetTracking     = "tracking_stream"
	PresetSegmentation = "segmentation_stream"
)

// Presets lists the wizard presets in order.
var Presets = []string{PresetSimple, PresetMotionGate, PresetDetection, PresetTracking, PresetSegmentation}

// WizardOptions are the wizard's optional parameters, already checked.
type WizardOptions struct {
	SourceBackend           string
	ResizeMode              string
	BypassMode              string
	WriterPriority          int
	FPSLimit                float64
	UseFPSReducer           bool
	MotionSensitivity       float64
	MotionHoldSeconds       float64
	YoloConfidenceThreshold float64
	YoloFilterEnabled       bool
	DetectionCategories     []string
	TrackingCategories      []string
	SegmentationCategories  []string
}

// DefaultWizardOptions are the wizard's defaults.
func DefaultWizardOptions() WizardOptions {
	return WizardOptions{SourceBackend: "auto", ResizeMode: "contain", BypassMode: "auto", MotionSensitivity: 0.010, MotionHoldSeconds: 6, YoloConfidenceThreshold: 0.55, YoloFilterEnabled: true}
}

// WizardGraph builds the graph of a preset: camera.source, an optional
// core.fps_reducer, the preset's vision step, stream.publish_video.
func WizardGraph(preset, cameraID, transmissionID string, o WizardOptions) (model.Graph, error) {
	type step struct {
		id, typ string
		config  map[string]any
		queue   int
	}
	steps := []step{{"source", "camera.source", map[string]any{"camera_id": cameraID, "backend": o.SourceBackend}, 0}}
	if preset == PresetMotionGate || o.UseFPSReducer || o.FPSLimit > 0 {
		target := o.FPSLimit
		if target <= 0 {
			target = 5.0
		}
		steps = append(steps, step{"fps", "core.fps_reducer", map[string]any{"target_fps": target}, 2})
	}
	events := "annotate"
	if o.YoloFilterEnabled {
		events = "events"
	}
	switch preset {
	case PresetSimple:
	case PresetMotionGate:
		steps = append(steps, step{"motion", "camera.motion_gate", map[string]any{"threshold": o.MotionSensitivity, "activation_frames": 2, "hold_seconds": o.MotionHoldSeconds, "emit_when_idle": false}, 2})
	case PresetDetection:
		steps = append(steps, step{"detect", "vision.detect", map[string]any{"model_id": "rfdetr_det_medium", "categories": nonNil(o.DetectionCategories), "confidence_threshold": o.YoloConfidenceThreshold, "emit_mode": events}, 2})
	case PresetTracking:
		steps = append(steps,
			step{"detect", "vision.detect", map[string]any{"model_id": "rfdetr_det_medium", "categories": nonNil(o.TrackingCategories), "confidence_threshold": o.YoloConfidenceThreshold, "emit_mode": "annotate"}, 2},
			step{"track", "vision.track", map[string]any{"tracker_id": "simple_iou_kalman", "close_after_seconds": 5.0, "emit_mode": events}, 2})
	case PresetSegmentation:
		steps = append(steps, step{"segment", "vision.segment_instances", map[string]any{"model_id": "rtmdet_ins_small", "categories": nonNil(o.SegmentationCategories), "attach_mask_artifacts": true}, 4})
	default:
		return model.Graph{}, fmt.Errorf("unknown preset %q: use one of %s", preset, strings.Join(Presets, ", "))
	}
	steps = append(steps, step{"stream", "stream.publish_video", map[string]any{
		"transmission_id":     transmissionID,
		"frame_with_fallback": []string{"mask", "frame", "best_frame", "segmented", "frame_original"},
		"resize_mode":         o.ResizeMode,
		"writer_priority":     o.WriterPriority,
		"bypass_mode":         o.BypassMode,
	}, 8})
	g := model.Graph{SchemaVersion: 1}
	for i, s := range steps {
		raw, err := json.Marshal(s.config)
		if err != nil {
			return g, err
		}
		g.Nodes = append(g.Nodes, model.Node{ID: s.id, Type: s.typ, Config: raw})
		if i > 0 {
			g.Edges = append(g.Edges, model.Edge{From: model.Endpoint{Node: steps[i-1].id, Port: "out"}, To: model.Endpoint{Node: s.id, Port: "in"}, MaxSize: s.queue, DropPolicy: model.DropOldest})
		}
	}
	return g, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var unsafeRun = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// pythonKeywords are refused as names (the original's pipelines were Python).
var pythonKeywords = map[string]bool{"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true, "await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true, "import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true}

// SafeName makes a pipeline name: ASCII-folded, runs of other characters
// become '_', trimmed of '_', "pipeline" when empty, '_' in front when it
// does not start with a letter or '_', '_' after a Python keyword, at most
// 120 characters.
func SafeName(s string) string {
	s = unsafeRun.ReplaceAllString(asciiFold(s), "_")
	s = strings.Trim(s, "_")
	if s == "" {
		s = "pipeline"
	}
	if c := s[0]; !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		s = "_" + s
	}
	if pythonKeywords[s] {
		s += "_"
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// latinFold maps accented Latin letters to their base letter.
var latinFold = func() map[rune]rune {
	m := map[rune]rune{}
	for base, accented := range map[rune]string{
		'a': "àáâãäåā", 'e': "èéêëē", 'i': "ìíîïī", 'o': "òóôõöøō", 'u': "ùúûüū", 'c': "çć", 'n': "ñń", 'y': "ýÿ",
		'A': "ÀÁÂÃÄÅĀ", 'E': "ÈÉÊËĒ", 'I': "ÌÍÎÏĪ", 'O': "ÒÓÔÕÖØŌ", 'U': "ÙÚÛÜŪ", 'C': "ÇĆ", 'N': "ÑŃ", 'Y': "Ý",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()

// asciiFold drops accents from Latin letters and any other non-ASCII rune.
func asciiFold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if f, ok := latinFold[r]; ok {
			r = f
		}
		if r < 128 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var genericNames = map[string]bool{"stream": true, "transmission": true, "transmissao": true, "fluxo": true}

var presetComponent = map[string]string{PresetSimple: "stream", PresetMotionGate: "motion", PresetDetection: "detection", PresetTracking: "tracking", PresetSegmentation: "segmentation"}

// SuggestName is the wizard's pipeline name: [transmission, camera, preset]
// components joined by "__", e.g. "frente__stream" or
// "entrada_frente__camera_frente__detection".
func SuggestName(t model.Transmission, cam model.Camera, preset string) string {
	transmission := ""
	for _, c := range []string{t.Path, t.Name, t.ID} {
		folded := strings.Trim(strings.ToLower(asciiFold(c)), "_")
		if c != "" && !genericNames[folded] && !uuidPattern.MatchString(c) {
			transmission = c
			break
		}
	}
	camera := ""
	for _, c := range []string{cam.ID, cam.Name} {
		if c != "" && !uuidPattern.MatchString(c) {
			camera = c
			break
		}
	}
	if camera == "" {
		camera = cam.ID
	}
	var parts []string
	if transmission == "" && camera != "" {
		parts = []string{camera, presetComponent[preset]}
	} else {
		if transmission == "" {
			transmission = "stream"
		}
		parts = []string{transmission, camera, presetComponent[preset]}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range parts {
		name := SafeName(p)
		if p == "" || seen[strings.ToLower(name)] {
			continue
		}
		seen[strings.ToLower(name)] = true
		out = append(out, strings.Trim(name, "_"))
	}
	return SafeName(strings.Join(out, "__"))
}
