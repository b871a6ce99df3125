package publisher

import (
	"math"
	"strconv"
	"strings"

	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Encoding is what an output asks of the encoder.
type Encoding struct {
	Width, Height  int
	FPS            int
	BitrateKbps    int // 0: the encoder's default rate control
	LatencyProfile model.LatencyProfile
}

// Input says where a publisher's frames come from.
type Input struct {
	Mode      model.InputMode
	SourceURL string // model.InputRTSPPull only: an rtsp:// or rtsps:// URL
}

// x264Options maps a latency profile to libx264 settings. Every profile
// encodes without B-frames (browsers' WebRTC decoders expect none). What
// separates them is how many frames the encoder holds back:
//
//	normal:    -preset veryfast, 6-frame rate-control lookahead, frame
//	           threads (best quality per bit; about 8 frames of delay)
//	low:       -preset veryfast, 2-frame lookahead, sliced threads
//	           (about 2 frames of delay)
//	ultra_low: -preset ultrafast -tune zerolatency (no delay, fastest encode)
func x264Options(profile model.LatencyProfile) []string {
	switch profile {
	case model.LatencyLow:
		return []string{"-preset", "veryfast", "-bf", "0", "-x264-params", "rc-lookahead=2:sync-lookahead=0:sliced-threads=1"}
	case model.LatencyUltraLow:
		return []string{"-preset", "ultrafast", "-tune", "zerolatency"}
	default:
		return []string{"-preset", "veryfast", "-bf", "0", "-x264-params", "rc-lookahead=6"}
	}
}

// Args is the ffmpeg command line (without the binary) that encodes in into
// H.264 (yuv420p, no audio, one keyframe per second) and publishes it over
// RTSP/TCP to publishURL (see RTSPOutput).
func Args(logLevel string, in Input, enc Encoding, publishURL string) []string {
	fps := strconv.Itoa(max(1, enc.FPS))
	size := strconv.Itoa(enc.Width) + "x" + strconv.Itoa(enc.Height)
	args := []string{"-hide_banner", "-loglevel", logLevel, "-nostats"}
	var filters []string
	switch in.Mode {
	case model.InputRTSPPull:
		// Only an RTSP camera is pulled (see camerainput); its protocols
		// are all ffmpeg may use for it.
		args = append(args, "-rtsp_transport", "tcp", "-protocol_whitelist", camerainput.RTSPProtocols,
			"-fflags", "nobuffer", "-i", in.SourceURL)
		w, h := strconv.Itoa(enc.Width), strconv.Itoa(enc.Height)
		filters = []string{"fps=" + fps, "scale=" + w + ":" + h + ":force_original_aspect_ratio=decrease", "pad=" + w + ":" + h + ":(ow-iw)/2:(oh-ih)/2:black"}
	default:
		args = append(args, "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", size, "-r", fps, "-i", "pipe:0")
	}
	args = append(args, "-an", "-c:v", "libx264")
	args = append(args, x264Options(enc.LatencyProfile)...)
	args = append(args, "-pix_fmt", "yuv420p")
	if len(filters) > 0 {
		args = append(args, "-vf", strings.Join(filters, ","))
	}
	if b := enc.BitrateKbps; b > 0 {
		args = append(args, "-b:v", strconv.Itoa(b)+"k",
			"-maxrate", strconv.Itoa(int(math.RoundToEven(float64(b)*1.1)))+"k",
			"-bufsize", strconv.Itoa(max(2*b, 512))+"k")
	}
	args = append(args, "-g", fps, "-keyint_min", fps, "-sc_threshold", "0")
	return append(args, RTSPOutput(publishURL)...)
}

// RTPPacketSize is the largest RTP packet publishers send (ffmpeg's
// default is 1472). Over RTSPS the embedded engine's readers take at most
// 1472 bytes less 10 of SRTP room, and drop larger packets.
const RTPPacketSize = 1462

// RTSPOutput is the end of every publisher's ffmpeg command line: publish
// over RTSP (or RTSPS, as the URL says) on TCP to publishURL.
func RTSPOutput(publishURL string) []string {
	return []string{"-f", "rtsp", "-rtsp_transport", "tcp", "-pkt_size", strconv.Itoa(RTPPacketSize), publishURL}
}
