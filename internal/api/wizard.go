package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// wizardRequest is the body of POST /wizard/create-pipeline.
type wizardRequest struct {
	TransmissionID string                     `json:"transmission_id"`
	CameraID       string                     `json:"camera_id"`
	PresetID       string                     `json:"preset_id"`
	Optional       map[string]json.RawMessage `json:"optional_parameters"`
}

// wizardParams are the optional parameters after checking.
type wizardParams struct {
	name     string
	enabled  bool
	host     string
	hostSet  bool
	options  pipeline.WizardOptions
	problems []model.FieldError
}

// parseWizardOptions reads optional_parameters leniently where the original
// was lenient and refuses values out of range.
func parseWizardOptions(raw map[string]json.RawMessage) wizardParams {
	p := wizardParams{enabled: true, options: pipeline.DefaultWizardOptions()}
	fail := func(key, msg string) {
		p.problems = append(p.problems, model.FieldError{Loc: []any{"body", "optional_parameters", key}, Msg: msg, Type: "value_error"})
	}
	str := func(key string) (string, bool) {
		var s string
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return "", false
		}
		if json.Unmarshal(v, &s) != nil {
			fail(key, "Input should be a valid string")
			return "", false
		}
		return strings.TrimSpace(s), true
	}
	num := func(key string, lo, hi float64, loOpen bool) (float64, bool) {
		var f float64
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return 0, false
		}
		if json.Unmarshal(v, &f) != nil || f > hi || f < lo || (loOpen && f == lo) {
			fail(key, fmt.Sprintf("Input should be a number in %s%g, %g]", map[bool]string{true: "(", false: "["}[loOpen], lo, hi))
			return 0, false
		}
		return f, true
	}
	boolean := func(key string, dst *bool) {
		if v, ok := raw[key]; ok && string(v) != "null" && json.Unmarshal(v, dst) != nil {
			fail(key, "Input should be a valid boolean")
		}
	}
	enum := func(key string, dst *string, allowed ...string) {
		if s, ok := str(key); ok {
			if !slices.Contains(allowed, s) {
				fail(key, "Input should be one of "+strings.Join(allowed, ", "))
				return
			}
			*dst = s
		}
	}
	list := func(key string) []string {
		var items []string
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if json.Unmarshal(v, &items) != nil {
			fail(key, "Input should be a list of strings")
			return nil
		}
		var out []string
		for _, it := range items {
			it = strings.ToLower(strings.TrimSpace(it))
			if it != "" && !slices.Contains(out, it) {
				out = append(out, it)
			}
		}
		return out
	}
	p.name, _ = str("pipeline_name")
	boolean("enabled", &p.enabled)
	if h, ok := str("processing_server_id"); ok {
		p.host, p.hostSet = model.NormalizeHostID(h), true
	}
	o := &p.options
	enum("source_backend", &o.SourceBackend, "auto", "ffmpeg", "opencv")
	enum("resize_mode", &o.ResizeMode, "contain", "none")
	enum("bypass_mode", &o.BypassMode, "auto", "force_on", "force_off")
	if v, ok := raw["writer_priority"]; ok && string(v) != "null" && json.Unmarshal(v, &o.WriterPriority) != nil {
		fail("writer_priority", "Input should be a valid integer")
	}
	boolean("use_fps_reducer", &o.UseFPSReducer)
	if f, ok := num("fps_limit", 0.5, 60, false); ok {
		o.FPSLimit = f
	}
	if f, ok := num("motion_sensitivity", 0, 1, true); ok {
		o.MotionSensitivity = f
	}
	if f, ok := num("motion_hold_seconds", 0, 120, false); ok {
		o.MotionHoldSeconds = f
	}
	if f, ok := num("yolo_confidence_threshold", 0, 1, true); ok {
		o.YoloConfidenceThreshold = f
	}
	boolean("yolo_filter_enabled", &o.YoloFilterEnabled)
	o.DetectionCategories = list("detection_categories")
	o.TrackingCategories = list("tracking_categories")
	o.SegmentationCategories = list("segmentation_categories")
	return p
}

var dashRuns = regexp.MustCompile(`-+`)

// looseSlug is how the wizard compares camera selectors: lower case,
// non-alphanumerics to '-', runs collapsed, ends trimmed.
func looseSlug(s string) string {
	return strings.Trim(dashRuns.ReplaceAllString(model.Slug(s, ""), "-"), "-")
}

// findCamera matches a selector against each camera's id and name, as
// given and slugged.
func findCamera(cams []model.Camera, selector string) (model.Camera, bool) {
	want := looseSlug(selector)
	for _, c := range cams {
		for _, candidate := range []string{c.ID, c.Name} {
			if candidate != "" && (candidate == selector || looseSlug(candidate) == want) {
				return c, true
			}
		}
	}
	return model.Camera{}, false
}

func (s *server) wizardCreatePipeline(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req wizardRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.writeError(w, r, &model.ValidationError{Errors: []model.FieldError{{Loc: []any{"body"}, Msg: err.Error(), Type: "value_error"}}})
		return
	}
	params := parseWizardOptions(req.Optional)
	req.TransmissionID, req.CameraID = strings.TrimSpace(req.TransmissionID), strings.TrimSpace(req.CameraID)
	for _, f := range []struct{ key, value string }{{"transmission_id", req.TransmissionID}, {"camera_id", req.CameraID}} {
		if f.value == "" {
			params.problems = append(params.problems, model.FieldError{Loc: []any{"body", f.key}, Msg: "Field required", Type: "missing"})
		}
	}
	if !slices.Contains(pipeline.Presets, req.PresetID) {
		params.problems = append(params.problems, model.FieldError{Loc: []any{"body", "preset_id"}, Msg: "Input should be one of " + strings.Join(pipeline.Presets, ", "), Type: "literal_error"})
	}
	if len(params.problems) > 0 {
		s.writeError(w, r, &model.ValidationError{Errors: params.problems})
		return
	}

	var answer map[string]any
	_, err = s.store.UpdateConfig(func(c *model.Config) error {
		ti := c.Streams.Find(req.TransmissionID)
		if ti < 0 {
			return errorAt(http.StatusNotFound, []any{"body", "transmission_id"}, "Transmission not found")
		}
		t := c.Streams.Transmissions[ti]
		cam, ok := findCamera(c.Cameras, req.CameraID)
		if !ok {
			return errorAt(http.StatusNotFound, []any{"body", "camera_id"}, "Camera not found")
		}
		name := pipeline.SafeName(params.name)
		if params.name != "" {
			if c.FindPipeline(name) >= 0 {
				return errorAt(http.StatusConflict, []any{"body", "optional_parameters", "pipeline_name"}, "Pipeline already exists: %s", name)
			}
		} else {
			base := pipeline.SuggestName(t, cam, req.PresetID)
			name = base
			for n := 2; c.FindPipeline(name) >= 0; n++ {
				name = fmt.Sprintf("%s_%d", base, n)
			}
		}
		graph, err := pipeline.WizardGraph(req.PresetID, cam.ID, t.ID, params.options)
		if err != nil {
			return errorf(http.StatusBadRequest, "%v", err)
		}
		host := model.LocalHost
		if params.hostSet {
			host = params.host
		}
		hostLoc := []any{"body", "optional_parameters", "processing_server_id"}
		if err := s.checkHostIn(c, host, hostLoc...); err != nil {
			return err
		}
		if host != t.HostServerID {
			return errorAt(http.StatusBadRequest, hostLoc, "Transmission host_server_id must match pipeline processing_server_id. Transmission='%s' Pipeline='%s'.", t.HostServerID, host)
		}
		p := model.Pipeline{Name: name, Enabled: params.enabled, ProcessingServerID: host, RunMode: model.RunAlways, Graph: graph}
		if err := s.checkPipeline(c, p, hostLoc...); err != nil {
			return err
		}
		c.Pipelines = append(c.Pipelines, p)

		running := s.engine.State().Running
		warnings := []string{}
		if !running && host == s.serverID {
			warnings = append(warnings, "Streaming engine is not running: start it (POST /api/streams/engine/start) to watch the stream.")
		}
		if host != s.serverID {
			warnings = append(warnings, fmt.Sprintf("The pipeline runs on processing server '%s': check that its engine is running.", host))
		}
		if !t.Enabled {
			warnings = append(warnings, "Transmission is disabled: enable it to publish.")
		}
		answer = map[string]any{"pipeline_name": name, "transmission_id": t.ID, "camera_id": cam.ID, "preset_id": req.PresetID, "engine_running": running, "warnings": warnings}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}
