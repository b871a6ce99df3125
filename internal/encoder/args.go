package encoder

import (
	"math"
	"strconv"

	"github.com/toposync/toposync-streaming/internal/model"
)

// DefaultVAAPIDevice is the DRM render node h264_vaapi opens unless told
// otherwise.
const DefaultVAAPIDevice = "/dev/dri/renderD128"

// Params is one encoding: what ffmpeg gets as input and how it encodes.
type Params struct {
	Codec         model.H264Encoder // a real encoder, never auto
	Width, Height int
	FPS           int // nominal input rate; one keyframe every FPS frames
	BitrateKbps   int // 0: the encoder's default rate control
	Profile       model.LatencyProfile
	LogLevel      string // ffmpeg's -loglevel; empty: warning
	VAAPIDevice   string // h264_vaapi only; empty: DefaultVAAPIDevice
}

// codec is how one ffmpeg encoder is driven. Every profile of every
// encoder is low latency: no B-frames, no lookahead, no frames held back,
// so each frame written comes out as one access unit before the next one
// goes in. Profiles differ only in the speed/quality trade-off (preset).
type codec struct {
	hardware bool
	// device is what goes before the input (a hardware device to open).
	device func(p Params) []string
	// presets is each profile's speed/quality setting.
	presets map[model.LatencyProfile][]string
	// lowDelay turns off everything that holds frames back.
	lowDelay []string
	// pixels brings bgr24 to what the encoder takes.
	pixels []string
	// keyframes are the options after "-g <fps>" that make every GOP
	// exactly one second, starting with an IDR.
	keyframes func(gop string) []string
}

var codecs = map[model.H264Encoder]codec{
	model.H264EncoderLibx264: {
		presets: map[model.LatencyProfile][]string{
			model.LatencyNormal:   {"-preset", "veryfast"},
			model.LatencyLow:      {"-preset", "superfast"},
			model.LatencyUltraLow: {"-preset", "ultrafast"},
		},
		// zerolatency: no lookahead, no frame threads, no B-frames.
		lowDelay:  []string{"-tune", "zerolatency", "-bf", "0"},
		pixels:    []string{"-pix_fmt", "yuv420p"},
		keyframes: func(gop string) []string { return []string{"-keyint_min", gop, "-sc_threshold", "0"} },
	},
	model.H264EncoderNVENC: {
		hardware: true,
		presets: map[model.LatencyProfile][]string{
			model.LatencyNormal:   {"-preset", "p4", "-tune", "ll"},
			model.LatencyLow:      {"-preset", "p2", "-tune", "ull"},
			model.LatencyUltraLow: {"-preset", "p1", "-tune", "ull"},
		},
		// -delay 0: hand each packet out as soon as it is encoded (the
		// default buffers up to the async depth).
		lowDelay: []string{"-zerolatency", "1", "-delay", "0", "-bf", "0", "-rc-lookahead", "0"},
		pixels:   []string{"-pix_fmt", "yuv420p"},
	},
	model.H264EncoderVAAPI: {
		hardware: true,
		device: func(p Params) []string {
			dev := p.VAAPIDevice
			if dev == "" {
				dev = DefaultVAAPIDevice
			}
			return []string{"-vaapi_device", dev}
		},
		// -quality is the driver's speed level (Intel: 1 best .. 7 fastest).
		presets: map[model.LatencyProfile][]string{
			model.LatencyNormal:   {"-quality", "4"},
			model.LatencyLow:      {"-quality", "6"},
			model.LatencyUltraLow: {"-quality", "7"},
		},
		lowDelay: []string{"-bf", "0", "-async_depth", "1"},
		pixels:   []string{"-vf", "format=nv12,hwupload"},
	},
	model.H264EncoderQSV: {
		hardware: true,
		presets: map[model.LatencyProfile][]string{
			model.LatencyNormal:   {"-preset", "medium"},
			model.LatencyLow:      {"-preset", "faster"},
			model.LatencyUltraLow: {"-preset", "veryfast"},
		},
		lowDelay: []string{"-bf", "0", "-async_depth", "1", "-look_ahead", "0"},
		pixels:   []string{"-pix_fmt", "nv12"},
	},
}

// Hardware reports whether enc runs on a GPU or media engine.
func Hardware(enc model.H264Encoder) bool { return codecs[enc].hardware }

// Args is the ffmpeg command line (without the binary) of an encoder:
// BGR24 frames of Width x Height on stdin, H.264 in FLV on stdout. FLV
// frames every access unit with its length, so each one can be handed on
// the moment ffmpeg writes it (see DESIGN.md).
func (p Params) Args() []string {
	args := p.head()
	args = append(args, "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", strconv.Itoa(p.Width)+"x"+strconv.Itoa(p.Height),
		"-r", strconv.Itoa(max(1, p.FPS)), "-i", "pipe:0")
	args = append(args, p.video(p.Profile)...)
	// passthrough: one output frame per input frame, never duplicated or
	// dropped to make a constant rate (timestamps pair by frame count).
	return append(args, "-fps_mode", "passthrough", "-flush_packets", "1",
		"-flvflags", "no_duration_filesize", "-f", "flv", "pipe:1")
}

// Profiles lists the latency profiles.
var Profiles = []model.LatencyProfile{model.LatencyNormal, model.LatencyLow, model.LatencyUltraLow}

// probeArgs encodes one small generated frame with the options of each
// profile (an output each), so a probe of all Profiles that passes means
// every profile will start.
func (p Params) probeArgs(profiles ...model.LatencyProfile) []string {
	args := p.head()
	args = append(args, "-f", "lavfi", "-i", "color=c=gray:s="+strconv.Itoa(p.Width)+"x"+strconv.Itoa(p.Height)+":r="+strconv.Itoa(max(1, p.FPS)))
	for _, profile := range profiles {
		args = append(args, p.video(profile)...)
		args = append(args, "-frames:v", "1", "-f", "null", "-")
	}
	return args
}

func (p Params) head() []string {
	level := p.LogLevel
	if level == "" {
		level = "warning"
	}
	args := []string{"-hide_banner", "-loglevel", level, "-nostats"}
	if c := codecs[p.Codec]; c.device != nil {
		args = append(args, c.device(p)...)
	}
	return args
}

// video is the output's encoding options for one profile.
func (p Params) video(profile model.LatencyProfile) []string {
	c := codecs[p.Codec]
	preset, ok := c.presets[profile]
	if !ok {
		preset = c.presets[model.LatencyNormal]
	}
	args := []string{"-an", "-c:v", string(p.Codec)}
	args = append(args, preset...)
	args = append(args, c.lowDelay...)
	args = append(args, c.pixels...)
	if b := p.BitrateKbps; b > 0 {
		args = append(args, "-b:v", strconv.Itoa(b)+"k",
			"-maxrate", strconv.Itoa(int(math.RoundToEven(float64(b)*1.1)))+"k",
			"-bufsize", strconv.Itoa(max(2*b, 512))+"k")
	}
	gop := strconv.Itoa(max(1, p.FPS))
	args = append(args, "-g", gop)
	if c.keyframes != nil {
		args = append(args, c.keyframes(gop)...)
	}
	// One more IDR a fifth of a second in: an HLS segment ends at an IDR,
	// so an idle output's first segment is ready 0.2 s after its first
	// frame instead of a whole GOP later. The GOPs after it are fps frames.
	if early := p.FPS / 5; early >= 1 {
		args = append(args, "-force_key_frames", "expr:eq(n,"+strconv.Itoa(early)+")")
	}
	return args
}
