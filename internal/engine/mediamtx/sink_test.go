package mediamtx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// startTestEngine runs MediaMTX (from the mirror) serving paths on free
// ports; close closes it, at the end of the test at the latest.
func startTestEngine(t *testing.T, paths ...engine.Path) (eng *Engine, ports model.Ports, close func()) {
	return startTestEngineTLS(t, nil, paths...)
}

// startTestEngineTLS is startTestEngine serving TLS when c is not nil.
func startTestEngineTLS(t *testing.T, c *config.TLS, paths ...engine.Path) (eng *Engine, ports model.Ports, close func()) {
	t.Helper()
	k := testKind(t)
	p := testutil.FreePorts(t, 4)
	ports = model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3]}
	ports.RTP = testutil.FreeRTPPort(t)
	e := k.New(engine.RunConfig{BindHost: "127.0.0.1", Ports: ports, Paths: paths, RuntimeDir: k.RuntimeDir, ReaderHoldTimeout: 10 * time.Second, TLS: c})
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	close = sync.OnceFunc(e.Close)
	t.Cleanup(close)
	return e.(*Engine), ports, close
}

// apiSource is the source of a path as MediaMTX's API reports it ("" when
// the path has none).
func apiSource(t *testing.T, apiPort int, path string) string {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/get/%s", apiPort, path))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct {
		Source *struct{ Type, ID string } `json:"source"`
	}
	if res.StatusCode == http.StatusNotFound {
		return ""
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Source == nil {
		return ""
	}
	return p.Source.Type + " " + p.Source.ID
}

// probeVideo runs ffprobe on src and returns "codec,width,height".
func probeVideo(t *testing.T, src string, extra ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"-v", "error"}, extra...)
	args = append(args, "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", src)
	out, err := exec.CommandContext(ctx, "ffprobe", args...).CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first, err
}

// TestSinkPublishesIntoMediaMTX feeds a real encoder's access units into a
// sink on the real MediaMTX and reads the path over RTSP, HLS and WHEP;
// the encoder is killed and replaced twice (after 1 s, and after 12 s with
// new parameters: longer than MediaMTX waits for a silent publisher) while
// an RTSP and a WHEP reader stay connected to the same publish session;
// then MediaMTX is killed and the sink publishes into its successor.
func TestSinkPublishesIntoMediaMTX(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	cam := testPath("cam")
	eng, ports, _ := startTestEngine(t, cam)
	sink, err := eng.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	f := testutil.NewFeeder(t, sink.WriteAccessUnit)
	f.Start("testsrc=size=320x240:rate=15")

	rtsp := fmt.Sprintf("rtsp://127.0.0.1:%d/cam", ports.RTSP)
	testutil.Eventually(t, 20*time.Second, "the path published", func() bool {
		return strings.HasPrefix(apiSource(t, ports.API, "cam"), "rtspSession ")
	})
	source := apiSource(t, ports.API, "cam")
	if out, err := probeVideo(t, rtsp, "-rtsp_transport", "tcp"); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe RTSP: %q %v", out, err)
	}
	if out, err := probeVideo(t, fmt.Sprintf("http://127.0.0.1:%d/cam/index.m3u8", ports.HLS)); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe HLS: %q %v", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	wc, err := whep.Dial(ctx, fmt.Sprintf("http://127.0.0.1:%d/cam/whep", ports.WebRTC), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	select {
	case <-wc.FirstIDR():
	case <-ctx.Done():
		t.Fatal("the WHEP reader got no IDR")
	}

	dec := testutil.StartDecoder(t, rtsp, "-rtsp_transport", "tcp")
	testutil.Eventually(t, 15*time.Second, "the RTSP reader decoding", func() bool { return dec.Frames() >= 15 })
	for _, restart := range []struct {
		gap    time.Duration
		source string
		size   string
	}{
		{time.Second, "testsrc=size=320x240:rate=15", "320x240"},
		{12 * time.Second, "testsrc2=size=480x272:rate=15", "480x272"},
	} {
		f.Kill()
		frames, whepFrames := dec.Frames(), wc.Stats().Frames
		time.Sleep(restart.gap) // the encoder is away: nothing is written
		f.Start(restart.source)
		resumed := testutil.Eventually(t, 3*time.Second, "the RTSP reader decoding again", func() bool { return dec.Frames() > frames+1 })
		testutil.Eventually(t, 10*time.Second, "the RTSP reader decoding the new encoder at "+restart.size, func() bool {
			return dec.Frames() >= frames+15 && dec.Size() == restart.size
		})
		testutil.Eventually(t, 10*time.Second, "the WHEP reader receiving the new encoder", func() bool {
			return wc.Stats().Frames >= whepFrames+15
		})
		t.Logf("after a %v gap: the RTSP reader decodes again %v after the new encoder started", restart.gap, resumed)
		select {
		case <-dec.Exited():
			t.Fatalf("the RTSP reader ended: %s", dec.Output())
		default:
		}
		if now := apiSource(t, ports.API, "cam"); now != source {
			t.Fatalf("the publish session changed: %q, was %q", now, source)
		}
	}
	if log, err := os.ReadFile(eng.LogPath()); err != nil || strings.Contains(string(log), "too big") {
		t.Fatalf("MediaMTX remuxed our packets (or its log is missing: %v):\n%s", err, log)
	}

	// MediaMTX killed: its supervisor starts it again and the sink
	// publishes into the new process
	pid := eng.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "MediaMTX restarted", func() bool { return eng.PID() != 0 && eng.PID() != pid })
	took := testutil.Eventually(t, 20*time.Second, "the sink publishing again", func() bool {
		out, err := probeVideo(t, rtsp, "-rtsp_transport", "tcp")
		return err == nil && out == "h264,480,272"
	})
	t.Logf("playing again %v after MediaMTX restarted", took)

	// closing the sink ends the publish session and its readers
	f.Kill()
	sink.Close()
	if err := sink.WriteAccessUnit(time.Hour, [][]byte{{0x41, 0x9a}}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the path without publisher", func() bool { return apiSource(t, ports.API, "cam") == "" })
}

// With TLS, MediaMTX's RTSP port speaks RTSPS only: the sink must publish
// over RTSPS (it used to try plain RTSP and never got a session).
func TestSinkPublishesOverRTSPS(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	cert := testutil.SelfSignedCert(t)
	c, err := config.LoadTLS(func(k string) string {
		return map[string]string{config.EnvTLSCertFile: cert.CertFile, config.EnvTLSKeyFile: cert.KeyFile}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, ports, _ := startTestEngineTLS(t, c, testPath("cam"))
	sink, err := eng.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	f := testutil.NewFeeder(t, sink.WriteAccessUnit)
	f.Start("testsrc=size=320x240:rate=15")
	defer f.Kill()
	testutil.Eventually(t, 20*time.Second, "the path published", func() bool {
		return strings.HasPrefix(apiSource(t, ports.API, "cam"), "rtspsSession ")
	})
	if out, err := probeVideo(t, fmt.Sprintf("rtsps://127.0.0.1:%d/cam", ports.RTSP), "-rtsp_transport", "tcp"); err != nil || out != "h264,320,240" {
		t.Fatalf("ffprobe RTSPS: %q %v", out, err)
	}
}

// The pin refuses any certificate but the service's own.
func TestPinnedRefusesAnotherCertificate(t *testing.T) {
	mine, other := testutil.SelfSignedCert(t), testutil.SelfSignedCert(t)
	leaf := func(c testutil.TestCert) *x509.Certificate {
		kp, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Leaf
	}
	cfg := pinned(leaf(mine))
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf(mine)}}); err != nil {
		t.Fatalf("own certificate refused: %v", err)
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf(other)}}); err == nil {
		t.Fatal("another certificate accepted")
	}
}

// TestSinksFollowTheEngine: a sink needs a served path; a newer sink of a
// path closes the older one; removing the path, or closing the engine,
// closes its sinks.
func TestSinksFollowTheEngine(t *testing.T) {
	a, b := testPath("a"), testPath("b")
	eng, _, closeEngine := startTestEngine(t, a, b)
	if _, err := eng.OpenSink("nope"); !errors.Is(err, engine.ErrUnknownPath) {
		t.Fatalf("sink of an unknown path: %v", err)
	}
	first, err := eng.OpenSink("a")
	if err != nil {
		t.Fatal(err)
	}
	second, err := eng.OpenSink("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.WriteAccessUnit(0, [][]byte{{0x41}}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("the older sink writes on: %v", err)
	}
	first.Close() // a no-op now: the newer sink stays registered
	other, err := eng.OpenSink("b")
	if err != nil {
		t.Fatal(err)
	}
	eng.SetPaths([]engine.Path{b})
	if err := second.WriteAccessUnit(0, [][]byte{{0x41}}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("sink of a removed path: %v", err)
	}
	if err := other.WriteAccessUnit(0, [][]byte{{0x41}}); err != nil {
		t.Fatalf("the other path's sink: %v", err)
	}
	closeEngine()
	if err := other.WriteAccessUnit(0, [][]byte{{0x41}}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("sink of a closed engine: %v", err)
	}
	if _, err := eng.OpenSink("b"); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("sink opened on a closed engine: %v", err)
	}
}

// A full queue drops the access unit and every one after it up to the
// next IDR: what run gets never has a hole in a GOP.
func TestSinkQueueDropsToTheNextIDR(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := &sink{aus: make(chan queuedAU, 2), ctx: ctx, log: slog.New(slog.DiscardHandler)}
	idr, p := []byte{0x65, 0x88}, []byte{0x41, 0x9a}
	for i, au := range [][]byte{idr, p, p, p, idr, p} {
		if err := k.WriteAccessUnit(time.Duration(i), [][]byte{au}); err != nil {
			t.Fatal(err)
		}
		if i == 2 { // full: the third is dropped; run catches up
			<-k.aus
			<-k.aus
		}
	}
	var got []time.Duration
	for len(k.aus) > 0 {
		got = append(got, (<-k.aus).pts)
	}
	if fmt.Sprint(got) != "[4ns 5ns]" {
		t.Fatalf("queued after the overflow: %v, want the IDR (4) and what follows", got)
	}
	cancel()
	if err := k.WriteAccessUnit(0, [][]byte{idr}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("write after close: %v", err)
	}
}
