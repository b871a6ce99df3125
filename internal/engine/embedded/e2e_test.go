package embedded

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

const (
	pubUser, pubPass   = "pub", "pubsecret"
	readUser, readPass = "viewer", "viewsecret"
)

// TestServeAllProtocols publishes with ffmpeg and reads the path over RTSP,
// HLS and WHEP, with read authentication, checking readers, path info and
// demand events.
func TestServeAllProtocols(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ts := newTestServer(t, []PathConfig{{
		Name: "cam", ReadUser: readUser, ReadPass: readPass, PublishUser: pubUser, PublishPass: pubPass,
	}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	startFFmpeg(t, rtspURL(ts.rtspAddr, pubUser, pubPass, "cam"))
	d := ts.waitReady(t, "cam", 15*time.Second)
	t.Logf("publisher ready after %v", d)
	if evs := ts.demandEvents("cam"); len(evs) != 0 {
		t.Fatalf("a publisher alone raised demand: %v", evs)
	}

	// RTSP: auth enforced, then a long-lived reader and ffprobe
	if code, head := rtspStatus(t, ts.rtspAddr, "DESCRIBE", "cam"); code != 401 || !strings.Contains(head, "WWW-Authenticate") {
		t.Fatalf("DESCRIBE without credentials: %d\n%s", code, head)
	}
	if _, err := startRTSPReader(t, ts.rtspAddr, readUser, "wrong", "cam"); err == nil {
		t.Fatal("RTSP reader with a wrong password accepted")
	}
	joinStart := time.Now()
	rr, err := startRTSPReader(t, ts.rtspAddr, readUser, readPass, "cam")
	if err != nil {
		t.Fatal(err)
	}
	if !ts.waitDemand(t, "cam", 1, 5*time.Second) {
		t.Fatal("first demand event is not Demanded=true")
	}
	select {
	case <-rr.idrCh:
		t.Logf("RTSP reader joining a running stream: first IDR after %v", rr.firstIDR.Sub(joinStart))
	case <-ctx.Done():
		t.Fatal("RTSP reader got no IDR")
	}
	if !hasReaderType(ts.Readers("cam"), ReaderRTSP) {
		t.Fatalf("readers %v lack an RTSP session", ts.Readers("cam"))
	}
	out, err := ffprobeVideo(ctx, rtspURL(ts.rtspAddr, readUser, readPass, "cam"), "-rtsp_transport", "tcp")
	if err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe RTSP: %q %v", out, err)
	}

	// HLS: CORS, auth, unknown files, ffprobe
	hlsBase := "http://" + ts.hlsAddr + "/cam/"
	req, _ := http.NewRequest(http.MethodOptions, hlsBase+"index.m3u8", nil)
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	res, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("HLS preflight: %d %v", res.StatusCode, res.Header)
	}
	res, _ = httpGet(t, hlsBase+"index.m3u8", "", "")
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("HLS without credentials: %d %v", res.StatusCode, res.Header)
	}
	hlsStart := time.Now()
	res, body := httpGet(t, hlsBase+"index.m3u8", readUser, readPass)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "#EXTM3U") {
		t.Fatalf("HLS index: %d %q", res.StatusCode, body)
	}
	t.Logf("HLS: first index.m3u8 after %v", time.Since(hlsStart))
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("HLS answer lacks CORS")
	}
	res, _ = httpGet(t, hlsBase+"nope_seg99.ts", readUser, readPass)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown HLS file: %d", res.StatusCode)
	}
	out, err = ffprobeVideo(ctx, "http://"+readUser+":"+readPass+"@"+ts.hlsAddr+"/cam/index.m3u8")
	if err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe HLS: %q %v", out, err)
	}
	if !hasReaderType(ts.Readers("cam"), ReaderHLS) {
		t.Fatalf("readers %v lack an HLS session", ts.Readers("cam"))
	}

	// WHEP: auth, LF offer, IDR with SPS/PPS, decodable
	res, _, err = whepPost(ctx, "http://"+ts.webrtcAddr+"/cam/whep", "", "", "v=0\r\n")
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WHEP without credentials: %v %v", res, err)
	}
	whepStart := time.Now()
	wc, err := startWHEP(t, ctx, ts.webrtcAddr, "cam", readUser, readPass, true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-wc.FirstIDR():
		t.Logf("WHEP reader joining a running stream: first IDR with SPS/PPS after %v", wc.Stats().FirstIDR.Sub(whepStart))
	case <-ctx.Done():
		t.Fatal("WHEP reader got no IDR with SPS/PPS")
	}
	testutil.Eventually(t, 10*time.Second, "WHEP access units", func() bool { return wc.Stats().Frames >= 10 })
	if out, err := probeAnnexB(ctx, wc); err != nil || out != "h264,640,360" {
		t.Fatalf("ffprobe of WHEP Annex-B: %q %v", out, err)
	}
	rs := ts.Readers("cam")
	if !hasReaderType(rs, ReaderWebRTC) || !hasReaderType(rs, ReaderRTSP) || !hasReaderType(rs, ReaderHLS) {
		t.Fatalf("readers: %v", rs)
	}

	pi, _ := ts.pathInfo("cam")
	if !pi.Ready || pi.Source == nil || pi.Source.Type != "rtspSession" || len(pi.Tracks) != 1 ||
		pi.Tracks[0].Codec != "H264" || pi.Tracks[0].Width != 640 || pi.Tracks[0].Height != 360 ||
		pi.BytesReceived == 0 || pi.BytesSent == 0 {
		t.Fatalf("path info: %+v", pi)
	}
	t.Logf("path info: tracks %+v, bytes in %d out %d, drops %d", pi.Tracks, pi.BytesReceived, pi.BytesSent, pi.ReaderDrops)

	// WHEP session resource: PATCH is a no-op, the preflight exposes Location
	if code, err := wc.Do(ctx, http.MethodPatch); err != nil || code != http.StatusNoContent {
		t.Fatalf("WHEP PATCH: %d %v", code, err)
	}
	req, _ = http.NewRequest(http.MethodOptions, "http://"+ts.webrtcAddr+"/cam/whep", nil)
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err = testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("WHEP preflight: %d %v", res.StatusCode, res.Header)
	}

	// all readers leave: demand drops once (HLS lingers 1 s)
	if code, err := wc.Do(ctx, http.MethodDelete); err != nil || code != http.StatusOK {
		t.Fatalf("WHEP DELETE: %d %v", code, err)
	}
	rr.c.Close()
	testutil.Eventually(t, 10*time.Second, "no readers", func() bool { return len(ts.Readers("cam")) == 0 })
	if ts.waitDemand(t, "cam", 2, 5*time.Second) {
		t.Fatal("second demand event is not Demanded=false")
	}
	if evs := ts.demandEvents("cam"); len(evs) != 2 {
		t.Fatalf("demand flapped: %v", evs)
	}
}
