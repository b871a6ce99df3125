package model

import "encoding/json"

// Output defaults the runtime applies when an output does not say.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 12
)

// HostedHere reports whether a transmission or pipeline whose host is host
// runs on the server whose id is serverID. It is the one rule: "local" is
// the core's id, so a processing server never runs what is "local".
func HostedHere(host, serverID string) bool {
	return NormalizeHostID(host) == NormalizeHostID(serverID)
}

// Target is one output the runtime may publish, resolved from the settings:
// everything its engine path, its encoder and its frame pump need.
type Target struct {
	OutputKey      string         `json:"output_key"` // "{transmission id}:{output id}"
	OutputID       string         `json:"output_id"`
	TransmissionID string         `json:"transmission_id"`
	Protocol       Protocol       `json:"protocol"`
	Path           string         `json:"publish_path"`
	Width          int            `json:"width"`
	Height         int            `json:"height"`
	FPS            int            `json:"fps"`
	BitrateKbps    int            `json:"bitrate_kbps"`
	LatencyProfile LatencyProfile `json:"latency_profile"`
	ResizeMode     ResizeMode     `json:"resize_mode"`
	Placeholder    Placeholder    `json:"placeholder_mode"`
	Arbitration    Arbitration    `json:"arbitration_mode"`
	// ReadUser and ReadPass, when both set, are required to read the path.
	// Secret: never in JSON.
	ReadUser string `json:"-"`
	ReadPass string `json:"-"`
}

// Targets resolves every enabled output of every enabled transmission
// hosted on serverID, in settings order. A transmission without enabled
// outputs gets one RTSP output "default" at its own path, as its engine path
// exists and viewers may come.
func (s Settings) Targets(serverID string) []Target {
	var out []Target
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		if !t.Enabled || !HostedHere(t.HostServerID, serverID) {
			continue
		}
		out = append(out, t.Targets()...)
	}
	return out
}

// Targets are the outputs the runtime publishes for t when it is enabled
// and hosted here (see Settings.Targets): its enabled outputs, or the
// default output when it has none.
func (t *Transmission) Targets() []Target {
	outputs := t.EnabledOutputs()
	if len(outputs) == 0 {
		outputs = []*Output{{ID: "default", Protocol: ProtocolRTSP, Enabled: true, LatencyProfile: LatencyNormal}}
	}
	out := make([]Target, 0, len(outputs))
	for _, o := range outputs {
		out = append(out, t.target(o))
	}
	return out
}

// LargestOutput is the frame size of the output of t with the most pixels,
// as the runtime publishes it (see Targets).
func (t *Transmission) LargestOutput() (width, height int) {
	for _, tg := range t.Targets() {
		if tg.Width*tg.Height > width*height {
			width, height = tg.Width, tg.Height
		}
	}
	return width, height
}

func (t *Transmission) target(o *Output) Target {
	w, h := DefaultWidth, DefaultHeight
	if o.Resolution != nil {
		w, h = o.Resolution.Width, o.Resolution.Height
	}
	w, h = o.extraInt("width", w, 16, MaxWidth), o.extraInt("height", h, 16, MaxHeight)
	fps := DefaultFPS
	if o.FPSLimit != nil {
		fps = *o.FPSLimit
	} else {
		fps = o.extraInt("fps", fps, MinFPS, MaxFPS)
	}
	bitrate := 0
	if o.BitrateKbps != nil {
		bitrate = *o.BitrateKbps
	}
	tg := Target{
		OutputKey: t.ID + ":" + o.ID, OutputID: o.ID, TransmissionID: t.ID, Protocol: o.Protocol, Path: t.OutputPath(o),
		// H.264 in yuv420p needs even dimensions: odd ones are rounded down.
		Width: max(2, w&^1), Height: max(2, h&^1), FPS: fps, BitrateKbps: bitrate,
		LatencyProfile: o.LatencyProfile, ResizeMode: o.ResizeMode(), Placeholder: t.Placeholder, Arbitration: t.Arbitration,
	}
	if o.Authentication.Applies() {
		tg.ReadUser, tg.ReadPass = *o.Authentication.Username, *o.Authentication.Password
	}
	return tg
}

// The runtime extras of an output (members outside the API model that the
// original's runtime reads) are read here and nowhere else.

// ResizeMode is the output's "resize_mode" extra: none when it says so,
// contain otherwise.
func (o *Output) ResizeMode() ResizeMode {
	if ResizeMode(o.extraString("resize_mode")) == ResizeNone {
		return ResizeNone
	}
	return ResizeContain
}

// extraString returns an extra member that is a JSON string, or "".
func (o *Output) extraString(key string) string {
	var s string
	if raw, ok := o.Extra[key]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// extraInt reads an integer extra member within [lo, hi], else def.
func (o *Output) extraInt(key string, def, lo, hi int) int {
	var f float64
	if raw, ok := o.Extra[key]; ok && json.Unmarshal(raw, &f) == nil && f == float64(int(f)) && int(f) >= lo && int(f) <= hi {
		return int(f)
	}
	return def
}
