package embedded

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// TestPublishRefused: wrong or missing credentials, an unconfigured path and
// a non-loopback client cannot publish.
func TestPublishRefused(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam", PublishUser: pubUser, PublishPass: pubPass}},
		func(c *Config) { c.BindHost = "0.0.0.0" })
	_, port, _ := net.SplitHostPort(ts.rtspAddr)
	loop := "127.0.0.1:" + port

	pubs := map[string]*publisher_{
		"wrong password":    startFFmpeg(t, rtspURL(loop, pubUser, "wrong", "cam")),
		"no credentials":    startFFmpeg(t, rtspURL(loop, "", "", "cam")),
		"unconfigured path": startFFmpeg(t, rtspURL(loop, pubUser, pubPass, "other")),
	}
	if ip := nonLoopbackIP(); ip != "" {
		pubs["non-loopback client"] = startFFmpeg(t, rtspURL(net.JoinHostPort(ip, port), pubUser, pubPass, "cam"))
	} else {
		t.Log("no non-loopback IPv4 address: non-loopback publish not tested")
	}
	for name, p := range pubs {
		if err := p.waitExit(t, 15*time.Second); err == nil {
			t.Errorf("%s: ffmpeg exited without error", name)
		}
	}
	if pi, _ := ts.pathInfo("cam"); pi.Source != nil {
		t.Fatalf("a refused publisher got the path: %+v", pi)
	}
	// still publishable with the right credentials
	startFFmpeg(t, rtspURL(loop, pubUser, pubPass, "cam"))
	ts.waitReady(t, "cam", 15*time.Second)
}

func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestHeldReaders: readers of an idle configured path raise demand at once,
// are held, and play as soon as a publisher appears; unknown paths get 404
// at once; a hold without publisher ends in 404 after ReaderHoldTimeout.
func TestHeldReaders(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	const hold = 4 * time.Second
	ts := newTestServer(t, []PathConfig{{Name: "idle"}, {Name: "never"}},
		func(c *Config) { c.ReaderHoldTimeout = hold })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// unknown paths: 404 at once on every protocol
	start := time.Now()
	if code, _ := rtspStatus(t, ts.rtspAddr, "DESCRIBE", "unknown"); code != 404 {
		t.Fatalf("RTSP unknown path: %d", code)
	}
	if res, _ := httpGet(t, "http://"+ts.hlsAddr+"/unknown/index.m3u8", "", ""); res.StatusCode != 404 {
		t.Fatalf("HLS unknown path: %d", res.StatusCode)
	}
	if res, _, err := whepPost(ctx, "http://"+ts.webrtcAddr+"/unknown/whep", "", "", "v=0\r\n"); err != nil || res.StatusCode != 404 {
		t.Fatalf("WHEP unknown path: %v %v", res, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("404 for unknown paths took %v", d)
	}

	// a path that never gets a publisher: 404 after the hold
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		code, _ := rtspStatus(t, ts.rtspAddr, "DESCRIBE", "never")
		d := time.Since(start)
		if code != 404 || d < hold-100*time.Millisecond || d > hold+2*time.Second {
			t.Errorf("held DESCRIBE of a path without publisher: %d after %v (hold %v)", code, d, hold)
		}
	}()

	// readers of "idle" first: RTSP (ffprobe and a gortsplib client), HLS, WHEP
	type result struct {
		what string
		out  string
		err  error
		at   time.Time
	}
	results := make(chan result, 4)
	readersStart := time.Now()
	go func() {
		out, err := ffprobeVideo(ctx, rtspURL(ts.rtspAddr, "", "", "idle"), "-rtsp_transport", "tcp")
		results <- result{"ffprobe RTSP", out, err, time.Now()}
	}()
	go func() {
		out, err := ffprobeVideo(ctx, "http://"+ts.hlsAddr+"/idle/index.m3u8")
		results <- result{"ffprobe HLS", out, err, time.Now()}
	}()
	var rr *rtspReader
	var rrErr error
	rrDone := make(chan struct{})
	go func() {
		defer close(rrDone)
		rr, rrErr = startRTSPReader(t, ts.rtspAddr, "", "", "idle")
	}()
	var wc *whep.Session
	var wcErr error
	wcDone := make(chan struct{})
	go func() {
		defer close(wcDone)
		wc, wcErr = startWHEP(t, ctx, ts.webrtcAddr, "idle", "", "", false)
	}()

	if !ts.waitDemand(t, "idle", 1, 2*time.Second) {
		t.Fatal("first demand event of the idle path is not true")
	}
	t.Logf("demand raised %v after the readers started", time.Since(readersStart))
	if pi, _ := ts.pathInfo("idle"); pi.Ready || len(pi.Readers) != 0 {
		t.Fatalf("idle path before publishing: %+v", pi)
	}
	time.Sleep(time.Second) // the readers are held meanwhile (that is the point of the test)

	pubStart := time.Now()
	startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "idle"))
	<-rrDone
	if rrErr != nil {
		t.Fatalf("held gortsplib reader: %v", rrErr)
	}
	<-wcDone
	if wcErr != nil {
		t.Fatalf("held WHEP reader: %v", wcErr)
	}
	for _, ch := range []<-chan struct{}{rr.idrCh, wc.FirstIDR()} {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("held reader got no IDR")
		}
	}
	t.Logf("held readers, publisher start -> first IDR: RTSP %v, WHEP %v",
		rr.firstIDR.Sub(pubStart), wc.Stats().FirstIDR.Sub(pubStart))
	for range 2 {
		r := <-results
		if r.err != nil || r.out != "h264,640,360" {
			t.Fatalf("held %s: %q %v", r.what, r.out, r.err)
		}
		t.Logf("held %s done %v after the publisher started", r.what, r.at.Sub(pubStart))
	}
	rs := ts.Readers("idle")
	for _, typ := range []string{ReaderRTSP, ReaderHLS, ReaderWebRTC} {
		if !hasReaderType(rs, typ) {
			t.Fatalf("readers %v lack %s", rs, typ)
		}
	}
	if evs := ts.demandEvents("idle"); len(evs) != 1 {
		t.Fatalf("demand flapped while readers joined: %v", evs)
	}
	wg.Wait()
	ts.waitDemand(t, "never", 2, 5*time.Second) // the drop is delivered asynchronously
	if evs := ts.demandEvents("never"); len(evs) != 2 || !evs[0] || evs[1] {
		t.Fatalf("demand of the never-published path: %v", evs)
	}
}

// TestSetPathsLive: adding a path keeps the readers of another one; removing
// a path closes its publisher and readers only.
func TestSetPathsLive(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ts := newTestServer(t, []PathConfig{{Name: "a"}}, nil)
	pubA := startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "a"))
	ts.waitReady(t, "a", 15*time.Second)
	rr, err := startRTSPReader(t, ts.rtspAddr, "", "", "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wc, err := startWHEP(t, ctx, ts.webrtcAddr, "a", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	<-wc.FirstIDR()
	testutil.Eventually(t, 10*time.Second, "RTSP packets", func() bool { return rr.packetCount() > 0 })

	ts.SetPaths([]PathConfig{{Name: "a"}, {Name: "b", ReadUser: "x", ReadPass: "y"}})
	pubB := startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "b"))
	ts.waitReady(t, "b", 15*time.Second)
	n := rr.packetCount()
	w := wc.Stats().Packets
	testutil.Eventually(t, 5*time.Second, "RTSP and WHEP packets after adding a path", func() bool {
		return rr.packetCount() > n+20 && wc.Stats().Packets > w+20
	})
	if rs := ts.Readers("a"); len(rs) != 2 {
		t.Fatalf("readers of a after adding b: %v", rs)
	}
	if pi, _ := ts.pathInfo("a"); !pi.Ready {
		t.Fatal("path a lost its publisher")
	}

	// remove a: its publisher and readers go, b stays
	ts.SetPaths([]PathConfig{{Name: "b", ReadUser: "x", ReadPass: "y"}})
	if err := pubA.waitExit(t, 10*time.Second); err == nil {
		t.Log("publisher of a exited cleanly")
	}
	rerr := make(chan error, 1)
	go func() { rerr <- rr.c.Wait() }()
	select {
	case err := <-rerr:
		if err == nil {
			t.Fatal("reader of a ended without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader of a still connected after its path was removed")
	}
	select {
	case <-pubB.exited:
		t.Fatal("publisher of b stopped")
	default:
	}
	if _, ok := ts.pathInfo("a"); ok {
		t.Fatal("path a still listed")
	}
	if pi, _ := ts.pathInfo("b"); !pi.Ready {
		t.Fatal("path b not ready")
	}
	if code, _ := rtspStatus(t, ts.rtspAddr, "DESCRIBE", "a"); code != 404 {
		t.Fatalf("removed path: %d", code)
	}
}
