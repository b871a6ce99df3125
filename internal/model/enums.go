package model

// Named string types for every enumeration the settings and the runtime
// share, so that a protocol is never compared with a latency profile and
// every package reads the same constants. Each type lists its values, which
// the decoder checks (FastAPI-shaped 422 "literal_error" otherwise).

// Protocol is how viewers read an output.
type Protocol string

// Protocols.
const (
	ProtocolHLS    Protocol = "hls"
	ProtocolRTSP   Protocol = "rtsp"
	ProtocolWebRTC Protocol = "webrtc"
)

// Placeholder is what an output shows while no writer is eligible.
type Placeholder string

// Placeholders.
const (
	PlaceholderGray  Placeholder = "gray"
	PlaceholderBlack Placeholder = "black"
)

// Arbitration is how a transmission chooses among its writers.
type Arbitration string

// Arbitration modes.
const (
	ArbitrationLatest         Arbitration = "latest"
	ArbitrationPriorityLatest Arbitration = "priority_latest"
)

// LatencyProfile trades encoder delay for quality per bit.
type LatencyProfile string

// Latency profiles.
const (
	LatencyNormal   LatencyProfile = "normal"
	LatencyLow      LatencyProfile = "low"
	LatencyUltraLow LatencyProfile = "ultra_low"
)

// H264Encoder is engine.h264_encoder: which ffmpeg H.264 encoder outputs
// use. Auto picks the first hardware encoder that works, else libx264.
type H264Encoder string

// H.264 encoders.
const (
	H264EncoderAuto    H264Encoder = "auto"
	H264EncoderLibx264 H264Encoder = "libx264"
	H264EncoderNVENC   H264Encoder = "h264_nvenc"
	H264EncoderVAAPI   H264Encoder = "h264_vaapi"
	H264EncoderQSV     H264Encoder = "h264_qsv"
)

// H264Encoders lists the values engine.h264_encoder accepts.
var H264Encoders = []H264Encoder{H264EncoderAuto, H264EncoderLibx264, H264EncoderNVENC, H264EncoderVAAPI, H264EncoderQSV}

// HLSVariant is engine.hls_variant: how HLS is served. MPEG-TS segments
// (the spec's default) play everywhere; fMP4 segments; or Low-Latency HLS,
// fMP4 parts of about 200 ms with blocking playlist reloads, which players
// that support it (hls.js in low-latency mode, Safari) start and follow
// sooner.
type HLSVariant string

// HLS variants, spelled as MediaMTX's hlsVariant.
const (
	HLSMPEGTS     HLSVariant = "mpegts"
	HLSFMP4       HLSVariant = "fmp4"
	HLSLowLatency HLSVariant = "lowLatency"
)

// HLSVariants lists the values engine.hls_variant accepts.
var HLSVariants = []HLSVariant{HLSMPEGTS, HLSFMP4, HLSLowLatency}

// BypassMode is stream.publish_video's bypass_mode: whether a writer that
// only forwards a camera may have its publisher read the camera directly.
type BypassMode string

// Bypass modes.
const (
	BypassAuto     BypassMode = "auto"
	BypassForceOn  BypassMode = "force_on"
	BypassForceOff BypassMode = "force_off"
)

// RunMode is a pipeline's run_mode: whether it runs all the time or only
// while a transmission it publishes to is watched.
type RunMode string

// Run modes.
const (
	RunAlways   RunMode = "always"    // runs while enabled (the original's only mode)
	RunOnDemand RunMode = "on_demand" // rests (no camera session, no compute) while nobody watches
)

// MarshalText writes the zero value as always, so a pipeline built in Go
// without a run mode is stored and answered as the default it means.
func (m RunMode) MarshalText() ([]byte, error) {
	if m == "" {
		m = RunAlways
	}
	return []byte(m), nil
}

// InputMode is where a publisher's frames come from.
type InputMode string

// Input modes, named as the original's diagnostics name them.
const (
	InputRawVideo InputMode = "rawvideo_pipe" // BGR24 frames from the frame pump
	InputRTSPPull InputMode = "rtsp_pull"     // the camera's own stream (bypass)
)

// ResizeMode is an output's resize_mode extra.
type ResizeMode string

// Resize modes. None only avoids resizing frames that already fit; others
// are contained anyway, so the encoder always gets the output size.
const (
	ResizeContain ResizeMode = "contain"
	ResizeNone    ResizeMode = "none"
)

// ParseBypassMode checks a bypass_mode value ("" is auto).
func ParseBypassMode(s string) (BypassMode, bool) {
	switch m := BypassMode(s); m {
	case "":
		return BypassAuto, true
	case BypassAuto, BypassForceOn, BypassForceOff:
		return m, true
	}
	return "", false
}
