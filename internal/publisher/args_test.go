package publisher

import (
	"slices"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
)

func TestArgsRawVideo(t *testing.T) {
	got := Args("warning", Input{Mode: model.InputRawVideo}, Encoding{Width: 1280, Height: 720, FPS: 12, BitrateKbps: 2500, LatencyProfile: "normal"}, "rtsp://u:p@127.0.0.1:8554/front-door")
	want := "-hide_banner -loglevel warning -nostats -f rawvideo -pix_fmt bgr24 -s 1280x720 -r 12 -i pipe:0 -an -c:v libx264 -preset veryfast -bf 0 -x264-params rc-lookahead=6 -pix_fmt yuv420p " +
		"-b:v 2500k -maxrate 2750k -bufsize 5000k -g 12 -keyint_min 12 -sc_threshold 0 -f rtsp -rtsp_transport tcp -pkt_size 1462 rtsp://u:p@127.0.0.1:8554/front-door"
	if strings.Join(got, " ") != want {
		t.Errorf("args\n got  %s\n want %s", strings.Join(got, " "), want)
	}
}

func TestArgsProfilesDiffer(t *testing.T) {
	enc := Encoding{Width: 640, Height: 360, FPS: 30}
	seen := map[model.LatencyProfile]string{}
	for _, p := range []model.LatencyProfile{model.LatencyNormal, model.LatencyLow, model.LatencyUltraLow} {
		enc.LatencyProfile = p
		line := strings.Join(Args("error", Input{}, enc, "rtsp://x"), " ")
		for other, l := range seen {
			if l == line {
				t.Errorf("profiles %s and %s give the same command", p, other)
			}
		}
		seen[p] = line
		if !strings.Contains(line, "-pix_fmt yuv420p") || !strings.Contains(line, "-g 30 -keyint_min 30") {
			t.Errorf("%s: %s", p, line)
		}
	}
	if !strings.Contains(seen["ultra_low"], "-preset ultrafast -tune zerolatency") || !strings.Contains(seen["low"], "rc-lookahead=2") {
		t.Errorf("profile mapping: %v", seen)
	}
}

func TestArgsPull(t *testing.T) {
	got := Args("warning", Input{Mode: model.InputRTSPPull, SourceURL: "rtsp://cam/stream"}, Encoding{Width: 640, Height: 360, FPS: 5}, "rtsp://x")
	i := slices.Index(got, "-vf")
	if i < 0 || got[i+1] != "fps=5,scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2:black" {
		t.Errorf("filters: %v", got)
	}
	if !slices.Contains(got, "rtsp://cam/stream") || slices.Contains(got, "bufsize") {
		t.Errorf("args: %v", got)
	}
	// ffmpeg may open nothing but RTSP for the camera, whatever its URL says.
	if in := strings.Join(got[:slices.Index(got, "-i")+2], " "); !strings.Contains(in, "-rtsp_transport tcp -protocol_whitelist rtsp,rtsps,tcp,tls,udp,rtp") {
		t.Errorf("input options: %s", in)
	}
}
