package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// whepSPS dials a WHEP reader that remembers the last SPS it received.
func whepSPS(t *testing.T, ctx context.Context, webrtcAddr, path, user, pass string) (*whep.Session, func() string) {
	t.Helper()
	last := make(chan []byte, 1)
	last <- nil
	d := whep.Dialer{HTTPClient: testHTTP, RecordAUs: 30, OnAccessUnit: func(nalus [][]byte, idr bool) {
		for _, n := range nalus {
			if h264rtp.NALUType(n) == h264.NALUTypeSPS {
				<-last
				last <- slices.Clone(n)
			}
		}
	}}
	w, err := d.Dial(ctx, "http://"+webrtcAddr+"/"+path+"/whep", user, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	size := func() string {
		sps := <-last
		last <- sps
		ti := h264TrackInfo(sps)
		return sizeOf(ti.Width, ti.Height)
	}
	return w, size
}

func sizeOf(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

// describedSize is the size in the SPS of the SDP a DESCRIBE of path gets.
func describedSize(t *testing.T, addr, user, pass, path string) string {
	t.Helper()
	u, err := base.ParseURL(rtspURL(addr, user, pass, path))
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	var f *format.H264
	if desc.FindFormat(&f) == nil {
		t.Fatal("no H.264 track described")
	}
	sps, _ := f.SafeParams()
	ti := h264TrackInfo(sps)
	return sizeOf(ti.Width, ti.Height)
}

// readerID returns the id of the only reader of a type.
func readerID(t *testing.T, ts *testServer, typ string) string {
	t.Helper()
	var ids []string
	for _, r := range ts.Readers("cam") {
		if r.Type == typ {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s readers: %v", typ, ts.Readers("cam"))
	}
	return ids[0]
}

// TestSinkServesEveryReaderAcrossEncoderRestarts publishes a real
// encoder's access units in-process and reads them over RTSP, HLS and WHEP;
// then the encoder is killed twice and replaced (the same parameters after
// 1 s, new ones at another size after 3 s) and the readers that watch
// stay connected and decode the new encoder's frames.
func TestSinkServesEveryReaderAcrossEncoderRestarts(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam", ReadUser: readUser, ReadPass: readPass, PublishUser: pubUser, PublishPass: pubPass}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sink, err := ts.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	f := testutil.NewFeeder(t, sink.WriteAccessUnit)
	f.Start("testsrc=size=320x240:rate=15")
	ts.waitReady(t, "cam", 15*time.Second)
	pi, _ := ts.pathInfo("cam")
	if pi.Source == nil || pi.Source.Type != SourceInProcess || len(pi.Tracks) != 1 || pi.Tracks[0].Width != 320 || pi.BytesReceived == 0 {
		t.Fatalf("path info: %+v (source %+v)", pi, pi.Source)
	}

	if got := describedSize(t, ts.rtspAddr, readUser, readPass, "cam"); got != "320x240" {
		t.Fatalf("described %s", got)
	}
	rtsp := rtspURL(ts.rtspAddr, readUser, readPass, "cam")
	hls := "http://" + readUser + ":" + readPass + "@" + ts.hlsAddr + "/cam/index.m3u8"
	if out, err := ffprobeVideo(ctx, rtsp, "-rtsp_transport", "tcp"); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe RTSP: %q %v", out, err)
	}
	if out, err := ffprobeVideo(ctx, hls); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe HLS: %q %v", out, err)
	}
	wc, whepSize := whepSPS(t, ctx, ts.webrtcAddr, "cam", readUser, readPass)
	select {
	case <-wc.FirstIDR():
	case <-ctx.Done():
		t.Fatal("WHEP reader got no IDR")
	}
	testutil.Eventually(t, 10*time.Second, "WHEP access units", func() bool { return wc.Stats().Frames >= 10 })
	if out, err := probeAnnexB(ctx, wc); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe of WHEP Annex-B: %q %v", out, err)
	}

	// the readers that stay through the restarts
	dec := testutil.StartDecoder(t, rtsp, "-rtsp_transport", "tcp")
	testutil.Eventually(t, 15*time.Second, "the RTSP reader decoding", func() bool { return dec.Frames() >= 15 })
	testutil.Eventually(t, 10*time.Second, "one RTSP reader", func() bool {
		return len(slices.DeleteFunc(ts.Readers("cam"), func(r Reader) bool { return r.Type != ReaderRTSP })) == 1
	})
	rtspID, whepID := readerID(t, ts, ReaderRTSP), readerID(t, ts, ReaderWebRTC)
	p := ts.lookup("cam")
	muxer := func() *hlsMuxer {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.hls
	}
	hlsBefore := muxer()

	for _, restart := range []struct {
		gap    time.Duration
		source string
		size   string
	}{
		{time.Second, "testsrc=size=320x240:rate=15", "320x240"},
		{3 * time.Second, "testsrc2=size=480x272:rate=15", "480x272"},
	} {
		f.Kill()
		frames, whepFrames := dec.Frames(), wc.Stats().Frames
		time.Sleep(restart.gap) // the encoder is away: nothing is written
		f.Start(restart.source)
		resumed := testutil.Eventually(t, 3*time.Second, "the RTSP reader decoding again", func() bool { return dec.Frames() > frames+1 })
		testutil.Eventually(t, 10*time.Second, "the RTSP reader decoding the new encoder at "+restart.size, func() bool {
			return dec.Frames() >= frames+15 && dec.Size() == restart.size
		})
		testutil.Eventually(t, 10*time.Second, "the WHEP reader receiving the new encoder at "+restart.size, func() bool {
			return wc.Stats().Frames >= whepFrames+15 && whepSize() == restart.size
		})
		t.Logf("after a %v gap: the RTSP reader decodes again %v after the new encoder started", restart.gap, resumed)
		select {
		case <-dec.Exited():
			t.Fatalf("the RTSP reader ended: %s", dec.Output())
		default:
		}
		if readerID(t, ts, ReaderRTSP) != rtspID || readerID(t, ts, ReaderWebRTC) != whepID {
			t.Fatalf("readers reconnected: %v", ts.Readers("cam"))
		}
	}
	// the HLS muxer went on through both restarts and still serves
	if m := muxer(); m == nil || m != hlsBefore {
		t.Fatal("the HLS muxer was replaced")
	}
	if out, err := ffprobeVideo(ctx, hls); err != nil || out == "" {
		t.Fatalf("ffprobe HLS after the restarts: %q %v", out, err)
	}
	// a new RTSP reader is described the new parameters
	if got := describedSize(t, ts.rtspAddr, readUser, readPass, "cam"); got != "480x272" {
		t.Fatalf("described %s after the restarts", got)
	}
	if out, err := ffprobeVideo(ctx, rtsp, "-rtsp_transport", "tcp"); err != nil || out != "h264,480,272" {
		t.Fatalf("ffprobe RTSP after the restarts: %q %v", out, err)
	}
	if pi, _ := ts.pathInfo("cam"); pi.Tracks[0].Width != 480 || pi.Tracks[0].Height != 272 {
		t.Fatalf("tracks after the restarts: %+v", pi.Tracks)
	}

	// closing the sink ends the stream and its readers
	f.Kill()
	sink.Close()
	if err := sink.WriteAccessUnit(time.Hour, [][]byte{testP}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	select {
	case <-dec.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("the RTSP reader is still connected after the sink closed")
	}
	testutil.Eventually(t, 10*time.Second, "the path without publisher", func() bool {
		pi, _ := ts.pathInfo("cam")
		return pi.Source == nil && !pi.Ready
	})
}

// writeGOP writes an IDR (with parameter sets) and a P frame.
func writeGOP(t *testing.T, sink engine.VideoSink, at time.Duration) {
	t.Helper()
	for i, au := range [][][]byte{{testSPS, testPPS, testIDR}, {testP}} {
		if err := sink.WriteAccessUnit(at+time.Duration(i)*time.Second/15, au); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSinkOwnsItsPath: while a sink is open nobody else publishes the
// path; a sink takes it over from an RTSP publisher, and from an older
// sink; removing the path or closing the server closes the sink.
func TestSinkOwnsItsPath(t *testing.T) {
	testutil.RequireFFmpeg(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam", PublishUser: pubUser, PublishPass: pubPass}, {Name: "other"}}, nil)
	if _, err := ts.OpenSink("nope"); !errors.Is(err, engine.ErrUnknownPath) {
		t.Fatalf("sink of an unknown path: %v", err)
	}

	// a sink takes the path over from an RTSP publisher
	rtspPub := startFFmpeg(t, rtspURL(ts.rtspAddr, pubUser, pubPass, "cam"))
	testutil.Eventually(t, 15*time.Second, "the RTSP publisher", func() bool {
		pi, _ := ts.pathInfo("cam")
		return pi.Ready && pi.Source.Type == SourceRTSP
	})
	first, err := ts.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	writeGOP(t, first, 0)
	if err := rtspPub.waitExit(t, 10*time.Second); err == nil {
		t.Fatal("the RTSP publisher was not disconnected")
	}
	if pi, _ := ts.pathInfo("cam"); !pi.Ready || pi.Source.Type != SourceInProcess {
		t.Fatalf("path after the takeover: ready %v source %+v", pi.Ready, pi.Source)
	}

	// an RTSP publisher is refused while the sink is open
	refused := startFFmpeg(t, rtspURL(ts.rtspAddr, pubUser, pubPass, "cam"))
	if err := refused.waitExit(t, 15*time.Second); err == nil {
		t.Fatal("an RTSP publisher was accepted on a path the service publishes")
	}
	if pi, _ := ts.pathInfo("cam"); pi.Source == nil || pi.Source.Type != SourceInProcess {
		t.Fatalf("the RTSP publisher took the path: %+v", pi.Source)
	}

	// a newer sink closes the older one
	second, err := ts.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.WriteAccessUnit(time.Second, [][]byte{testP}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("the older sink writes on: %v", err)
	}
	first.Close() // a no-op now: it must not end the newer sink
	writeGOP(t, second, 0)
	if pi, _ := ts.pathInfo("cam"); !pi.Ready {
		t.Fatal("closing the older sink hurt the newer one")
	}

	// removing the path closes its sink; other paths' sinks go on
	other, err := ts.OpenSink("other")
	if err != nil {
		t.Fatal(err)
	}
	ts.SetPaths([]PathConfig{{Name: "other"}})
	if err := second.WriteAccessUnit(time.Second, [][]byte{testP}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("sink of a removed path: %v", err)
	}
	writeGOP(t, other, 0)
	if pi, _ := ts.pathInfo("other"); !pi.Ready {
		t.Fatal("the other path's sink was disturbed")
	}

	// closing the server closes the sinks and refuses new ones
	ts.Close()
	if err := other.WriteAccessUnit(time.Second, [][]byte{testP}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("sink of a closed server: %v", err)
	}
	if _, err := ts.OpenSink("other"); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("sink opened on a closed server: %v", err)
	}
}
