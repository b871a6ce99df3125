package embedded

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// freeUDPPair finds an even UDP port whose successor is free too.
func freeUDPPair(t *testing.T) (rtp, rtcp string) {
	t.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		port &^= 1
		a, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		b, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if err1 == nil && err2 == nil {
			return fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1)
		}
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}

// TestRTSPUDP: with UDP addresses configured, readers can use the RTSP UDP
// transport.
func TestRTSPUDP(t *testing.T) {
	needFFmpeg(t)
	rtpAddr, rtcpAddr := freeUDPPair(t)
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
