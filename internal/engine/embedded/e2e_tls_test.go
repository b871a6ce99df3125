package embedded

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

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
	// A reader joining the running stream gets every packet: none is too
	// large for RTSPS (the stream forwards the publisher's sequence
	// numbers, so a lost packet is a gap).
	if n, gaps := rtspsSequenceGaps(t, ts.rtspAddr, "cam", cert.ClientConfig(), 2500*time.Millisecond); n == 0 || gaps > 0 {
		t.Fatalf("RTSPS reader: %d packets, %d sequence gaps", n, gaps)
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

// rtspsSequenceGaps reads path over RTSPS (TCP, verifying the
// certificate) for d and counts the RTP packets and sequence gaps.
func rtspsSequenceGaps(t *testing.T, addr, path string, cfg *tls.Config, d time.Duration) (packets, gaps int) {
	t.Helper()
	u, err := base.ParseURL("rtsps://" + addr + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp, TLSConfig: forHost(cfg, addr)}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last uint16
	c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if packets > 0 && pkt.SequenceNumber != last+1 {
			gaps++
		}
		last = pkt.SequenceNumber
		packets++
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d) // reading for a while is the point
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	return packets, gaps
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
		tc := tls.Client(c, forHost(cfg, addr))
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		c = tc
	}
	fmt.Fprintf(c, "DESCRIBE rtsp://%s/%s RTSP/1.0\r\nCSeq: 1\r\n\r\n", addr, path)
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// forHost is cfg for a connection to addr (a raw tls.Client needs the name
// to verify).
func forHost(cfg *tls.Config, addr string) *tls.Config {
	cfg = cfg.Clone()
	cfg.ServerName, _, _ = net.SplitHostPort(addr)
	return cfg
}
