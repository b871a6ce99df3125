package embedded

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// playlistURIs returns the non-comment lines of a playlist.
func playlistURIs(body []byte) []string {
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestPublisherReconnect: a publisher that goes away closes the HLS muxer
// and WebRTC readers; the next publisher gets a fresh muxer; an idle muxer
// is closed. WHEP goes through a single UDP port and announces an
// additional host.
func TestPublisherReconnect(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam"}}, func(c *Config) {
		c.HLSMuxerCloseAfter = 1500 * time.Millisecond
		c.WebRTCLocalUDPAddress = "127.0.0.1:0"
		c.WebRTCAdditionalHosts = []string{"203.0.113.7"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := "http://" + ts.hlsAddr + "/cam/"
	p := ts.lookup("cam")
	currentMuxer := func() *hlsMuxer {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.hls
	}

	pub1 := startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "cam"))
	ts.waitReady(t, "cam", 15*time.Second)
	res, body := httpGet(t, base+"index.m3u8", "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("index: %d", res.StatusCode)
	}
	media := playlistURIs(body)
	if len(media) != 1 {
		t.Fatalf("multivariant playlist: %q", body)
	}
	res, body = httpGet(t, base+media[0], "", "")
	segs := playlistURIs(body)
	if res.StatusCode != http.StatusOK || len(segs) == 0 {
		t.Fatalf("media playlist: %d %q", res.StatusCode, body)
	}
	res, body = httpGet(t, base+segs[0], "", "")
	if res.StatusCode != http.StatusOK || len(body) < 188 || body[0] != 0x47 {
		t.Fatalf("segment %s: %d, %d bytes", segs[0], res.StatusCode, len(body))
	}
	// Playlists are never cached (index.m3u8 was cacheable for 30 s, so
	// players asked for a gone playlist after an engine restart); segments
	// may be.
	for _, name := range []string{"index.m3u8", media[0]} {
		if res, _ := httpGet(t, base+name, "", ""); res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", name, res.Header.Get("Cache-Control"))
		}
	}
	m1 := currentMuxer()

	wc, err := startWHEP(t, ctx, ts.webrtcAddr, "cam", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wc.Answer(), "203.0.113.7") {
		t.Fatalf("answer lacks the additional host:\n%s", wc.Answer())
	}
	_, udpPort, _ := strings.Cut(ts.whep.udpConn.LocalAddr().String(), ":")
	if !strings.Contains(wc.Answer(), " "+udpPort+" typ host") {
		t.Fatalf("answer lacks the UDP mux port %s:\n%s", udpPort, wc.Answer())
	}
	<-wc.FirstIDR()

	pub1.stop()
	testutil.Eventually(t, 10*time.Second, "publisher gone", func() bool {
		pi, _ := ts.pathInfo("cam")
		return pi.Source == nil && currentMuxer() == nil && !hasReaderType(pi.Readers, ReaderWebRTC)
	})

	startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "cam"))
	res, _ = httpGet(t, base+"index.m3u8", "", "") // held until ready
	if res.StatusCode != http.StatusOK {
		t.Fatalf("index after reconnect: %d", res.StatusCode)
	}
	if m2 := currentMuxer(); m2 == nil || m2 == m1 {
		t.Fatal("no fresh muxer after the publisher reconnected")
	}
	d := testutil.Eventually(t, 10*time.Second, "idle muxer closed", func() bool { return currentMuxer() == nil })
	t.Logf("idle HLS muxer closed %v after the last request", d)
	if pi, _ := ts.pathInfo("cam"); !pi.Ready {
		t.Fatal("closing the muxer hurt the path")
	}
}
