package bridge

import (
	"encoding/json"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Output defaults when an output does not say.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 12
)

// Target is one output the runtime may publish: everything a publisher and
// its pump need, resolved from the settings.
type Target struct {
	OutputKey      string `json:"output_key"` // "{transmission id}:{output id}"
	OutputID       string `json:"output_id"`
	TransmissionID string `json:"transmission_id"`
	Protocol       string `json:"protocol"`
	Path           string `json:"publish_path"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	FPS            int    `json:"fps"`
	BitrateKbps    int    `json:"bitrate_kbps"`
	LatencyProfile string `json:"latency_profile"`
	ResizeMode     string `json:"resize_mode"`
	Placeholder    string `json:"placeholder_mode"`
	Arbitration    string `json:"arbitration_mode"`
}

// Targets resolves every enabled output of every enabled transmission hosted
// on serverID. A transmission without enabled outputs gets one RTSP output
// "default" at its own path, as its engine path exists and viewers may come.
func Targets(s model.Settings, serverID string) []Target {
	var out []Target
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		if !t.Enabled || !(t.HostServerID == serverID || (t.HostServerID == model.LocalHost && serverID == model.LocalHost)) {
			continue
		}
		outputs := t.EnabledOutputs()
		if len(outputs) == 0 {
			outputs = []*model.Output{{ID: "default", Protocol: model.ProtocolRTSP, Enabled: true, LatencyProfile: model.LatencyNormal}}
		}
		for _, o := range outputs {
			out = append(out, target(t, o))
		}
	}
	return out
}

func target(t *model.Transmission, o *model.Output) Target {
	w, h := DefaultWidth, DefaultHeight
	if o.Resolution != nil {
		w, h = o.Resolution.Width, o.Resolution.Height
	}
	w, h = extraInt(o, "width", w, 16, model.MaxWidth), extraInt(o, "height", h, 16, model.MaxHeight)
	fps := DefaultFPS
	if o.FPSLimit != nil {
		fps = *o.FPSLimit
	} else {
		fps = extraInt(o, "fps", fps, model.MinFPS, model.MaxFPS)
	}
	bitrate := 0
	if o.BitrateKbps != nil {
		bitrate = *o.BitrateKbps
	}
	resize := o.ExtraString("resize_mode")
	if resize != "none" {
		resize = "contain"
	}
	path := t.Path
	if len(t.EnabledOutputs()) > 0 {
		path = t.OutputPath(o)
	}
	return Target{
		OutputKey: t.ID + ":" + o.ID, OutputID: o.ID, TransmissionID: t.ID, Protocol: o.Protocol, Path: path,
		// H.264 in yuv420p needs even dimensions: odd ones are rounded down.
		Width: max(2, w&^1), Height: max(2, h&^1), FPS: fps, BitrateKbps: bitrate,
		LatencyProfile: o.LatencyProfile, ResizeMode: resize, Placeholder: t.Placeholder, Arbitration: t.Arbitration,
	}
}

// extraInt reads an integer extra member of o within [lo, hi], else def.
func extraInt(o *model.Output, key string, def, lo, hi int) int {
	var f float64
	if raw, ok := o.Extra[key]; ok && json.Unmarshal(raw, &f) == nil && f == float64(int(f)) && int(f) >= lo && int(f) <= hi {
		return int(f)
	}
	return def
}
