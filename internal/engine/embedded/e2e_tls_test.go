package embedded

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// With Config.TLS the RTSP port speaks RTSPS (publisher and readers) and
// the HLS and WHEP ports HTTPS, with the configured certificate; plain
// requests to those ports get nothing they could play.
func TestServeOverTLS(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	cert := testutil.SelfSignedCert(t)
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, []PathConfig{{Name: "cam", PublishUser: pubUser, PublishPass: pubPass}}, func(c *Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	secure := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: cert.ClientConfig()}}

	startFFmpeg(t, "rtsps://"+pubUser+":"+pubPass+"@"+ts.rtspAddr+"/cam")
	ts.waitReady(t, "cam", 15*time.Second)

	// RTSPS: the certificate verifies, ffprobe plays, plain RTSP is not answered.
	if status, err := rtspsDescribe(ts.rtspAddr, "cam", cert.ClientConfig()); err != nil || !strings.HasPrefix(status, "RTSP/1.0 200") {
		t.Fatalf("DESCRIBE over verified TLS: %q %v", status, err)
	}
	if out, err := ffprobeVideo(ctx, "rtsps://"+ts.rtspAddr+"/cam", "-rtsp_transport", "tcp"); err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe RTSPS: %q %v", out, err)
	}
	if status, _ := rtspsDescribe(ts.rtspAddr, "cam", nil); strings.HasPrefix(status, "RTSP/") {
		t.Fatalf("plain RTSP answered on the RTSPS port: %q", status)
	}

	// HLS over HTTPS; plain HTTP to the port is refused.
	res, err := secure.Get("https://" + ts.hlsAddr + "/cam/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HLS over HTTPS: %d", res.StatusCode)
	}
	if out, err := ffprobeVideo(ctx, "https://"+ts.hlsAddr+"/cam/index.m3u8"); err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe HLS over HTTPS: %q %v", out, err)
	}
	for _, addr := range []string{ts.hlsAddr, ts.webrtcAddr} {
		if res, err := testHTTP.Get("http://" + addr + "/cam/index.m3u8"); err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP to %s: %d, want 400 (an HTTPS port)", addr, res.StatusCode)
			}
		}
	}

	// WHEP over HTTPS.
	d := whep.Dialer{HTTPClient: secure}
	w, err := d.Dial(ctx, "https://"+ts.webrtcAddr+"/cam/whep", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	select {
	case <-w.FirstIDR():
	case <-ctx.Done():
		t.Fatal("no keyframe over WHEP/HTTPS")
	}
}

// rtspsDescribe sends DESCRIBE over TLS (plain TCP when cfg is nil) and
// returns the status line, or what came back instead.
func rtspsDescribe(addr, path string, cfg *tls.Config) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		c = tc
	}
	fmt.Fprintf(c, "DESCRIBE rtsp://%s/%s RTSP/1.0\r\nCSeq: 1\r\n\r\n", addr, path)
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}
