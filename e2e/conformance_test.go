package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// conformanceKinds are the engine kinds the conformance table runs on, with
// the environment each needs.
func conformanceKinds(t *testing.T) map[string][]string {
	return map[string][]string{
		"embedded": nil,
		"mediamtx": {"TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://" + testutil.MediaMTXMirror(t)},
	}
}

// One table of engine behaviour, run against both kinds through the
// service: the three protocols play, read auth holds on all three,
// publishing needs credentials, unknown paths are refused at once, a taken
// port is remapped with a warning, restarts keep the ports and stop frees
// them.
func TestEngineConformance(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { engineConformance(t, kind, env) })
	}
}

func engineConformance(t *testing.T, kind string, env []string) {
	s := startService(t, t.TempDir(), env...)
	p := enginePorts(t, testutil.FreePorts(t, 4))
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p[1])) // the preferred HLS port is taken
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyRTP, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p[4])) // and the preferred RTP port
	if err != nil {
		t.Fatal(err)
	}
	defer busyRTP.Close()
	st := s.runEngine(kind, p)
	ports := st["ports"].(map[string]any)
	hls, rtp := int(ports["hls"].(float64)), int(ports["rtp"].(float64))
	if st["kind"] != kind || hls == p[1] || !strings.Contains(fmt.Sprint(st["warnings"]), fmt.Sprintf("HLS port %d unavailable; using %d.", p[1], hls)) {
		t.Fatalf("status %v", st)
	}
	if rtp == p[4] || rtp%2 != 0 || ports["rtcp"] != float64(rtp+1) ||
		!strings.Contains(fmt.Sprint(st["warnings"]), fmt.Sprintf("RTP/RTCP port pair %d/%d unavailable; using %d/%d.", p[4], p[4]+1, rtp, rtp+1)) {
		t.Fatalf("RTP pair not remapped with a warning: status %v", st)
	}
	const outputs = `[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"%[1]s},
		{"id":"hls","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"%[1]s},
		{"id":"webrtc","protocol":"webrtc","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"%[1]s}]`
	auth := `,"authentication":{"enabled":true,"username":"viewer","password":"s3cret"}`
	for _, tr := range []string{
		`{"name":"Open","path":"open","outputs":` + fmt.Sprintf(outputs, "") + `}`,
		`{"name":"Closed","path":"closed","outputs":` + fmt.Sprintf(outputs, auth) + `}`,
	} {
		if status, out := s.call("POST", "/transmissions", tr); status != 200 {
			t.Fatalf("create: %d %v", status, out)
		}
	}
	rtsp := func(path, cred string) string { return fmt.Sprintf("rtsp://%s127.0.0.1:%d/%s", cred, p[0], path) }
	hlsURL := func(path string) string { return fmt.Sprintf("http://127.0.0.1:%d/%s/index.m3u8", hls, path) }
	whepURL := func(path string) string { return fmt.Sprintf("http://127.0.0.1:%d/%s/whep", p[2], path) }

	checks := []struct {
		name  string
		check func() error
	}{
		{"rtsp tcp plays on the first read of an idle output", func() error {
			return want(probe(t, rtsp("open-rtsp", ""), "-rtsp_transport", "tcp"), "h264 320x240")
		}},
		{"rtsp udp plays through the remapped RTP/RTCP pair, bound on loopback", func() error {
			if err := want(probe(t, rtsp("open-rtsp", ""), "-rtsp_transport", "udp"), "h264 320x240"); err != nil {
				return err
			}
			if pair := udpServerPorts(t, rtsp("open-rtsp", "")); pair != fmt.Sprintf("%d-%d", rtp, rtp+1) {
				return fmt.Errorf("the engine answered SETUP with server_port=%s, want %d-%d", pair, rtp, rtp+1)
			}
			for _, port := range []int{rtp, rtp + 1} {
				if got := testutil.UDPBindAddresses(t, port); fmt.Sprint(got) != "[127.0.0.1]" {
					return fmt.Errorf("UDP port %d bound on %q, want only 127.0.0.1", port, got)
				}
			}
			return nil
		}},
		{"hls plays", func() error { return want(probe(t, hlsURL("open-hls")), "h264 320x240") }},
		{"whep plays", func() error { return whepPlays(whepURL("open-webrtc"), "", "") }},
		{"rtsp read auth", func() error {
			if got := probe(t, rtsp("closed-rtsp", ""), "-rtsp_transport", "tcp"); !strings.Contains(got, "401") {
				return fmt.Errorf("without credentials: %s", got)
			}
			return want(probe(t, rtsp("closed-rtsp", "viewer:s3cret@"), "-rtsp_transport", "tcp"), "h264 320x240")
		}},
		{"hls read auth", func() error {
			if code := httpStatus(hlsURL("closed-hls"), "", ""); code != http.StatusUnauthorized {
				return fmt.Errorf("without credentials: HTTP %d", code)
			}
			return want(probe(t, strings.Replace(hlsURL("closed-hls"), "http://", "http://viewer:s3cret@", 1)), "h264 320x240")
		}},
		{"whep read auth", func() error {
			var he *whep.HTTPError
			if err := whepPlays(whepURL("closed-webrtc"), "", ""); !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
				return fmt.Errorf("without credentials: %v", err)
			}
			return whepPlays(whepURL("closed-webrtc"), "viewer", "s3cret")
		}},
		{"publishing needs the path's credentials", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-t", "3",
				"-c:v", "libx264", "-preset", "ultrafast", "-f", "rtsp", "-rtsp_transport", "tcp", rtsp("open-rtsp", "")).CombinedOutput()
			if err == nil || ctx.Err() != nil {
				return fmt.Errorf("an anonymous publisher was accepted (%v): %s", err, out)
			}
			return nil
		}},
		{"an unknown path is refused at once", func() error {
			start := time.Now()
			got := probe(t, rtsp("nowhere", ""), "-rtsp_transport", "tcp")
			if !strings.Contains(got, "404") && !strings.Contains(got, "400") {
				return fmt.Errorf("unknown path: %s", got)
			}
			if took := time.Since(start); took > 2*time.Second {
				return fmt.Errorf("refused after %v", took)
			}
			return nil
		}},
		{"a restart keeps the ports", func() error {
			status, out := s.call("POST", "/engine/restart", "")
			if status != 200 || fmt.Sprint(out.(map[string]any)["ports"]) != fmt.Sprint(st["ports"]) {
				return fmt.Errorf("restart: %d, ports %v, were %v", status, out.(map[string]any)["ports"], st["ports"])
			}
			return want(probe(t, rtsp("open-rtsp", ""), "-rtsp_transport", "tcp"), "h264 320x240")
		}},
		{"stop frees the ports", func() error {
			if status, out := s.call("POST", "/engine/stop", ""); status != 200 || out.(map[string]any)["running"] != false {
				return fmt.Errorf("stop: %d %v", status, out)
			}
			for _, port := range []int{p[0], hls, p[2], p[3]} {
				if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
					c.Close()
					return fmt.Errorf("port %d still open", port)
				}
			}
			for _, port := range []int{rtp, rtp + 1} {
				if got := testutil.UDPBindAddresses(t, port); len(got) != 0 {
					return fmt.Errorf("UDP port %d still bound on %q", port, got)
				}
			}
			return nil
		}},
	}
	for _, c := range checks { // in order: the last ones change the engine
		if err := c.check(); err != nil {
			t.Errorf("%s: %s: %v", kind, c.name, err)
		}
	}
}

// udpServerPorts is the server_port range ("P-Q") the engine answers an
// RTSP SETUP over UDP of url with, as ffprobe traces the reply.
func udpServerPorts(t *testing.T, url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ffprobe", "-v", "trace", "-rtsp_transport", "udp", "-rw_timeout", "15000000", url).CombinedOutput()
	m := regexp.MustCompile(`server_port=(\d+-\d+)`).FindSubmatch(out)
	if m == nil {
		t.Logf("ffprobe -v trace: no server_port in %d bytes of output", len(out))
		return ""
	}
	return string(m[1])
}

func want(got, expected string) error {
	if got != expected {
		return fmt.Errorf("got %q, want %q", got, expected)
	}
	return nil
}

func httpStatus(url, user, pass string) int {
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// whepPlays dials a WHEP session and waits for its first decodable IDR.
func whepPlays(url, user, pass string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := whep.Dial(ctx, url, user, pass)
	if err != nil {
		return err
	}
	defer sess.Close()
	select {
	case <-sess.FirstIDR():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no keyframe over WHEP within 20 s (stats %+v)", sess.Stats())
	}
}
