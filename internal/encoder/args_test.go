package encoder

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

var (
	realCodecs = []model.H264Encoder{model.H264EncoderLibx264, model.H264EncoderNVENC, model.H264EncoderVAAPI, model.H264EncoderQSV}
	profiles   = Profiles
)

// Every encoder x profile at 720p30, 2500 kbit/s: the whole command line.
func TestArgsEveryEncoderAndProfile(t *testing.T) {
	want := []struct {
		codec   model.H264Encoder
		profile model.LatencyProfile
		line    string
	}{
		{"libx264", "normal", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v libx264 -preset veryfast -tune zerolatency -bf 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -keyint_min 30 -sc_threshold 0 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"libx264", "low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v libx264 -preset superfast -tune zerolatency -bf 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -keyint_min 30 -sc_threshold 0 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"libx264", "ultra_low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -keyint_min 30 -sc_threshold 0 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_nvenc", "normal", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_nvenc -preset p4 -tune ll -zerolatency 1 -delay 0 -bf 0 -rc-lookahead 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_nvenc", "low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_nvenc -preset p2 -tune ull -zerolatency 1 -delay 0 -bf 0 -rc-lookahead 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_nvenc", "ultra_low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_nvenc -preset p1 -tune ull -zerolatency 1 -delay 0 -bf 0 -rc-lookahead 0 -pix_fmt yuv420p -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_vaapi", "normal", "-hide_banner -loglevel warning -nostats -vaapi_device /dev/dri/renderD128 -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_vaapi -quality 4 -bf 0 -async_depth 1 -vf format=nv12,hwupload -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_vaapi", "low", "-hide_banner -loglevel warning -nostats -vaapi_device /dev/dri/renderD128 -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_vaapi -quality 6 -bf 0 -async_depth 1 -vf format=nv12,hwupload -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_vaapi", "ultra_low", "-hide_banner -loglevel warning -nostats -vaapi_device /dev/dri/renderD128 -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_vaapi -quality 7 -bf 0 -async_depth 1 -vf format=nv12,hwupload -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_qsv", "normal", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_qsv -preset medium -bf 0 -async_depth 1 -look_ahead 0 -pix_fmt nv12 -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_qsv", "low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_qsv -preset faster -bf 0 -async_depth 1 -look_ahead 0 -pix_fmt nv12 -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
		{"h264_qsv", "ultra_low", "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 30 -i pipe:0 -an -c:v h264_qsv -preset veryfast -bf 0 -async_depth 1 -look_ahead 0 -pix_fmt nv12 -b:v 2500k -maxrate 2750k -bufsize 5000k -g 30 -force_key_frames expr:eq(n,6) -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"},
	}
	for _, w := range want {
		got := strings.Join(Params{Codec: w.codec, Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2500, Profile: w.profile}.Args(), " ")
		if got != w.line {
			t.Errorf("%s %s\n got  %s\n want %s", w.codec, w.profile, got, w.line)
		}
	}
	if len(want) != len(realCodecs)*len(profiles) {
		t.Errorf("%d cases for %d encoders x %d profiles", len(want), len(realCodecs), len(profiles))
	}
}

// ffmpeg is a codec here: stdin in, stdout out, nothing else it could
// connect to or read.
func TestArgsHaveNoNetwork(t *testing.T) {
	for _, c := range realCodecs {
		for _, p := range profiles {
			args := Params{Codec: c, Width: 640, Height: 360, FPS: 15, Profile: p}.Args()
			for _, a := range args {
				if strings.Contains(a, "://") || strings.Contains(a, "rtsp") || strings.Contains(a, "tcp") || strings.Contains(a, "udp") {
					t.Errorf("%s %s: network argument %q", c, p, a)
				}
			}
			if i := slices.Index(args, "-i"); i < 0 || args[i+1] != "pipe:0" || slices.Index(args[i+1:], "-i") >= 0 {
				t.Errorf("%s %s: input is not stdin alone: %v", c, p, args)
			}
			if args[len(args)-1] != "pipe:1" || !slices.Contains(args, "flv") {
				t.Errorf("%s %s: output is not FLV on stdout: %v", c, p, args)
			}
		}
	}
}

func TestArgsDefaults(t *testing.T) {
	got := strings.Join(Params{Codec: model.H264EncoderLibx264, Width: 320, Height: 240, FPS: 0, LogLevel: "error", Profile: "bogus"}.Args(), " ")
	want := "-hide_banner -loglevel error -nostats -f rawvideo -pix_fmt bgr24 -s 320x240 -r 1 -i pipe:0 -an -c:v libx264 -preset veryfast -tune zerolatency -bf 0 -pix_fmt yuv420p -g 1 -keyint_min 1 -sc_threshold 0 -fps_mode passthrough -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:1"
	if got != want {
		t.Errorf("no bitrate, unknown profile\n got  %s\n want %s", got, want)
	}
	vaapi := Params{Codec: model.H264EncoderVAAPI, Width: 320, Height: 240, FPS: 5, VAAPIDevice: "/dev/dri/renderD129"}
	if args := vaapi.Args(); !slices.Equal(args[4:6], []string{"-vaapi_device", "/dev/dri/renderD129"}) {
		t.Errorf("vaapi device: %v", args)
	}
	// The probe tries every profile's options in one run.
	probe := strings.Join(vaapi.probeArgs(Profiles...), " ")
	if strings.Count(probe, "-vf format=nv12,hwupload") != 3 || strings.Count(probe, "-frames:v 1 -f null -") != 3 || !strings.Contains(probe, "-vaapi_device /dev/dri/renderD129 -f lavfi") {
		t.Errorf("probe args: %s", probe)
	}
}

// genericOptions are AVCodecContext (and ffmpeg tool) options every encoder
// takes; the rest must be the encoder's own.
var genericOptions = []string{"-an", "-c:v", "-bf", "-g", "-keyint_min", "-pix_fmt", "-vf", "-b:v", "-maxrate", "-bufsize", "-force_key_frames"}

// Every encoder-specific option exists in this ffmpeg's help for that
// encoder, and every value parses: the hardware encoders then fail only
// because there is no hardware.
func TestOptionsAreTheEncodersOwn(t *testing.T) {
	testutil.RequireFFmpeg(t)
	for _, c := range realCodecs {
		help, err := exec.Command("ffmpeg", "-hide_banner", "-h", "encoder="+string(c)).CombinedOutput()
		if err != nil || !bytes.Contains(help, []byte("AVOptions")) {
			t.Logf("%s: not in this ffmpeg (%v); options unchecked", c, err)
			continue
		}
		for _, p := range profiles {
			args := Params{Codec: c, Width: 256, Height: 144, FPS: 30, BitrateKbps: 500, Profile: p}.video(p)
			for _, a := range args {
				if !strings.HasPrefix(a, "-") || slices.Contains(genericOptions, a) {
					continue
				}
				if !bytes.Contains(help, []byte("  "+a+" ")) {
					t.Errorf("%s %s: %s is not an option of this encoder", c, p, a)
				}
			}
		}
		if c == model.H264EncoderVAAPI || c == model.H264EncoderLibx264 {
			continue // vaapi stops at its device; libx264 runs for real elsewhere
		}
		for _, p := range profiles { // one run each: ffmpeg stops at the first encoder that fails
			out, _ := exec.Command("ffmpeg", Params{Codec: c, Width: 256, Height: 144, FPS: 30, BitrateKbps: 500}.probeArgs(p)...).CombinedOutput()
			for _, bad := range []string{"Error setting option", "Unable to parse option", "Unrecognized option", "Option not found"} {
				if bytes.Contains(out, []byte(bad)) {
					t.Errorf("%s %s: ffmpeg refuses an option:\n%s", c, p, out)
					break
				}
			}
		}
	}
}
