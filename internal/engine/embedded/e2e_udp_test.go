package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// TestRTSPUDP: with UDP addresses configured, readers can use the RTSP UDP
// transport.
func TestRTSPUDP(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	rtpAddr, rtcpAddr := testutil.FreeUDPPair(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam"}}, func(c *Config) {
		c.RTSPUDPRTPAddress, c.RTSPUDPRTCPAddress = rtpAddr, rtcpAddr
	})
	startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "cam"))
	ts.waitReady(t, "cam", 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := ffprobeVideo(ctx, rtspURL(ts.rtspAddr, "", "", "cam"), "-rtsp_transport", "udp")
	if err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe RTSP over UDP: %q %v", out, err)
	}
}
