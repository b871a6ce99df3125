package bridge_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
	"github.com/toposync/toposync-streaming/internal/testpattern"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// fixture is the real chain: store -> engine manager (embedded engine) ->
// bridge with real ffmpeg publishers.
type fixture struct {
	t       *testing.T
	store   *store.Store
	manager *engine.Manager
	bridge  *bridge.Bridge
	arb     *arbiter.Arbiter
}

func newFixture(t *testing.T, withPattern bool) *fixture {
	t.Helper()
	testutil.RequireFFmpeg(t)
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.Enabled = true
		p := testutil.FreePorts(t, 4)
		s.Engine.PreferredPorts = model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
		s.Runtime.StopDebounceSeconds = 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	runtimeDir := filepath.Join(dir, "runtime", "streaming")
	m := &engine.Manager{Store: st, Kinds: map[string]engine.Kind{model.EngineEmbedded: embedded.Kind{Logger: nil}}, ServerID: model.LocalHost, RuntimeDir: runtimeDir}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	cameras := &camerahub.Hub{FFmpeg: ffmpeg, LogLevel: "error"}
	if err := cameras.Initialize(); err != nil {
		t.Fatal(err)
	}
	b := &bridge.Bridge{Engine: m, Arbiter: arb, FFmpeg: ffmpeg, LogLevel: "error", LogDir: filepath.Join(runtimeDir, "logs"), Cameras: cameras}
	if err := b.Initialize(); err != nil {
		t.Fatal(err)
	}
	var pattern *testpattern.Pattern
	if withPattern {
		pattern = &testpattern.Pattern{Engine: m, FFmpeg: ffmpeg, LogLevel: "error"}
		if err := pattern.Initialize(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if pattern != nil {
			pattern.Close()
		}
		b.Close()
		cameras.Close()
		m.Close()
		st.Close()
	})
	return &fixture{t: t, store: st, manager: m, bridge: b, arb: arb}
}

func (f *fixture) update(fn func(*model.Settings) error) { testutil.Update(f.t, f.store, fn) }

func (f *fixture) addTransmission(body string) model.Transmission {
	f.t.Helper()
	tr := testutil.AddTransmission(f.t, f.store, body)
	// The change reaches the bridge through the engine state.
	testutil.Eventually(f.t, 5*time.Second, "the transmission's outputs in the bridge", func() bool {
		for _, o := range f.bridge.Outputs() {
			if o.TransmissionID == tr.ID {
				return true
			}
		}
		return false
	})
	return tr
}

// output is the runtime status of one output key.
func (f *fixture) output(key string) bridge.OutputStatus {
	for _, o := range f.bridge.Outputs() {
		if o.OutputKey == key {
			return o
		}
	}
	f.t.Fatalf("no output %q", key)
	return bridge.OutputStatus{}
}

func publisherPID(o bridge.OutputStatus) int {
	if o.Publisher == nil {
		return 0
	}
	return o.Publisher.PID
}

// decodes reports whether ffmpeg decodes n frames of url over RTSP/TCP.
func decodes(url string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
		"-frames:v", strconv.Itoa(n), "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// A prime that comes before the transmission's paths reach the engine state
// (a transmission just created, as the CI run of TestPrimeThenPortChange
// caught) still runs its publisher: the prime is kept by transmission.
// Primes used to be recorded by the paths the bridge knew, so this one was
// answered 200 and did nothing.
func TestPrimeBeforeThePathsReachTheBridge(t *testing.T) {
	f := newFixture(t, false)
	f.bridge.Prime("early")
	tr := f.addTransmission(`{"id":"early","path":"soon","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	testutil.Eventually(t, 10*time.Second, "the primed publisher", func() bool { return publisherPID(f.output(tr.ID+":rtsp")) > 0 })
	if o := f.output(tr.ID + ":rtsp"); o.PrimedUntilUnix == nil {
		t.Error("the output does not report its prime")
	}
}

// The reproduction of issue 9: prime an output, then move the engine's RTSP
// port. The bridge used to reconcile against the old engine and relaunch
// its publisher against the old URL again and again. Now the publisher
// follows the engine state: one new process on the new URL, no restarts.
func TestPrimedPublisherFollowsAPortChange(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t1","path":"yard","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	f.bridge.Prime(tr.ID)
	testutil.Eventually(t, 5*time.Second, "the primed publisher", func() bool { return publisherPID(f.output(key)) > 0 })
	first := publisherPID(f.output(key))

	next := testutil.FreePorts(t, 1)[0]
	f.update(func(s *model.Settings) error {
		s.Engine.PreferredPorts.RTSP = next
		return nil
	})
	testutil.Eventually(t, 8*time.Second, "a new publisher after the port change", func() bool {
		pid := publisherPID(f.output(key))
		return pid > 0 && pid != first
	})
	if err := decodes(fmt.Sprintf("rtsp://127.0.0.1:%d/yard", next), 5); err != nil {
		t.Fatalf("the new RTSP URL does not play: %v", err)
	}
	if o := f.output(key); o.Publisher.Restarts != 0 || o.LastError != nil {
		t.Errorf("the publisher on the new engine had to restart: restarts %d, last error %v", o.Publisher.Restarts, o.LastError)
	}
}

// A publisher starts with its first viewer, stays through the debounce,
// then stops; a change of its encoding restarts it, a change of nothing it
// uses leaves it alone.
func TestDemandDebounceAndRestartOnChangedEncoding(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t2","name":"Gate","path":"gate","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/gate", f.manager.State().Ports.RTSP)
	if pid := publisherPID(f.output(key)); pid != 0 {
		t.Fatalf("a publisher runs without a viewer (pid %d)", pid)
	}

	reader := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Process.Kill(); _ = reader.Wait() }()
	testutil.Eventually(t, 10*time.Second, "a publisher for the viewer", func() bool { return publisherPID(f.output(key)) > 0 })
	pid := publisherPID(f.output(key))

	f.update(func(s *model.Settings) error { // nothing the publisher uses
		s.Transmissions[s.Find(tr.ID)].Name = "Front gate"
		return nil
	})
	testutil.Eventually(t, 5*time.Second, "the rename in the engine state", func() bool { return f.manager.State().Revision == f.store.Current().Revision })
	if got := publisherPID(f.output(key)); got != pid {
		t.Fatalf("a rename restarted the publisher (pid %d -> %d)", pid, got)
	}
	f.update(func(s *model.Settings) error { // its frame rate
		fps := 5
		s.Transmissions[s.Find(tr.ID)].Outputs[0].FPSLimit = &fps
		return nil
	})
	testutil.Eventually(t, 5*time.Second, "a publisher with the new fps", func() bool {
		o := f.output(key)
		return publisherPID(o) > 0 && publisherPID(o) != pid && o.FPS == 5
	})

	_ = reader.Process.Kill()
	_ = reader.Wait()
	left := time.Now()
	testutil.Eventually(t, 10*time.Second, "the publisher to stop after the debounce", func() bool { return publisherPID(f.output(key)) == 0 })
	if held := time.Since(left); held < 900*time.Millisecond {
		t.Errorf("the publisher stopped %v after the last viewer left, before the 1 s debounce", held)
	}
}

// A writer that declares it only forwards a camera gets a publisher that
// reads the camera itself through the camera hub (bypass), with the
// camera's password in no child's argv; when a writer that does not
// forward is shown instead, the publisher goes back to raw frames.
func TestBypassFollowsTheShownWriter(t *testing.T) {
	f := newFixture(t, true)
	tr := f.addTransmission(`{"id":"t3","path":"lane","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	camera := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "viewer", Password: "cam-secret-7"})

	forwarding := streamwriter.Open(f.arb, tr.ID, "cam:publish", 0)
	forwarding.DeclareForward(&arbiter.Forward{Source: camerahub.Source{URL: camera.URL, Username: "viewer", Password: "cam-secret-7"}, RedactedURL: camera.URL, FPS: 10})
	gray := frame.Placeholder(320, 240, model.PlaceholderGray)
	forwarding.Write(gray)
	f.bridge.Prime(tr.ID)
	testutil.Eventually(t, 5*time.Second, "a bypass publisher", func() bool {
		o := f.output(key)
		return o.InputMode == model.InputRTSPPull && publisherPID(o) > 0
	})
	if err := decodes(fmt.Sprintf("rtsp://127.0.0.1:%d/lane", f.manager.State().Ports.RTSP), 5); err != nil {
		t.Fatalf("the bypassed output does not play: %v", err)
	}
	if n := camera.SessionsOpened(); n != 1 {
		t.Errorf("the camera served %d sessions, want 1 (the hub's)", n)
	}
	for _, pid := range testutil.Descendants(t, os.Getpid()) {
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmd), "cam-secret-7") || strings.Contains(string(cmd), "rtsp://") {
			t.Errorf("a child's argv holds the camera: %q", cmd)
		}
	}

	analysed := streamwriter.Open(f.arb, tr.ID, "boxes:publish", 10)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // keeps the higher-priority writer fresh
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			analysed.Write(gray)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	testutil.Eventually(t, 5*time.Second, "raw frames again", func() bool {
		o := f.output(key)
		return o.InputMode == model.InputRawVideo && publisherPID(o) > 0
	})
}

// After an engine restart the publisher moves to the new engine at once,
// even though its viewers' sessions were cut, so a returning viewer finds
// it there and it is not replaced under them (the dashboard's tile used to
// lose WebRTC that way).
func TestPublisherMovesToARestartedEngine(t *testing.T) {
	f := newFixture(t, false)
	f.update(func(s *model.Settings) error {
		s.Runtime.StopDebounceSeconds = 5
		return nil
	})
	tr := f.addTransmission(`{"id":"t4","path":"dock","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/dock", f.manager.State().Ports.RTSP)
	reader := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Process.Kill(); _ = reader.Wait() }()
	testutil.Eventually(t, 10*time.Second, "a publisher for the viewer", func() bool { return publisherPID(f.output(key)) > 0 })
	before := publisherPID(f.output(key))

	if err := f.manager.Restart(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "a publisher in the new engine", func() bool {
		pid := publisherPID(f.output(key))
		return pid > 0 && pid != before
	})
	moved := publisherPID(f.output(key))
	if err := decodes(url, 5); err != nil {
		t.Fatalf("the restarted engine does not play: %v", err)
	}
	if got := publisherPID(f.output(key)); got != moved {
		t.Errorf("the returning viewer got its publisher replaced (pid %d -> %d)", moved, got)
	}
}

// watch starts an RTSP/TCP reader of path that decodes what it gets.
func (f *fixture) watch(path string) *testutil.Decoder {
	return testutil.StartDecoder(f.t, fmt.Sprintf("rtsp://127.0.0.1:%d/%s", f.manager.State().Ports.RTSP, path), "-rtsp_transport", "tcp")
}

func requireWatching(t *testing.T, dec *testutil.Decoder) {
	t.Helper()
	select {
	case <-dec.Exited():
		t.Fatalf("the reader was disconnected: %s", dec.Output())
	default:
	}
}

// The encoder's ffmpeg is only a codec: the path's sink, held by the
// service, is the publisher. kill -9 of the encoder leaves the reader
// connected (it used to lose the stream with ffmpeg's RTSP session) and it
// decodes the new encoder's frames within 1.5 s.
func TestReaderSurvivesAKilledEncoder(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t5","path":"kiln","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":15}]}`)
	key := tr.ID + ":rtsp"
	dec := f.watch("kiln")
	testutil.Eventually(t, 15*time.Second, "the reader decoding", func() bool { return dec.Frames() >= 15 })

	for range 2 {
		pid := publisherPID(f.output(key))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		base := -1 // frames decoded when the new encoder runs
		took := testutil.Eventually(t, 1500*time.Millisecond, "new frames at the reader after kill -9 of the encoder", func() bool {
			if now := publisherPID(f.output(key)); base < 0 && now > 0 && now != pid {
				base = dec.Frames()
			}
			return base >= 0 && dec.Frames() >= base+3
		})
		t.Logf("decoding the new encoder %v after kill -9", took)
		requireWatching(t, dec)
	}
	if o := f.output(key); o.Publisher.Restarts != 2 {
		t.Errorf("encoder restarts %d, want 2 (restarted in place, not replaced)", o.Publisher.Restarts)
	}
}

// An encoding change replaces the encoder but keeps the path's sink: the
// reader stays connected and decodes the new size.
func TestEncodingChangeKeepsTheReader(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t6","path":"mill","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":15}]}`)
	key := tr.ID + ":rtsp"
	dec := f.watch("mill")
	testutil.Eventually(t, 15*time.Second, "the reader decoding", func() bool { return dec.Frames() >= 10 && dec.Size() == "320x240" })
	pid := publisherPID(f.output(key))
	f.update(func(s *model.Settings) error {
		o := &s.Transmissions[s.Find(tr.ID)].Outputs[0]
		o.Resolution = &model.Resolution{Width: 480, Height: 272}
		return nil
	})
	testutil.Eventually(t, 10*time.Second, "the reader decoding the new size", func() bool {
		return dec.Size() == "480x272" && publisherPID(f.output(key)) != pid
	})
	requireWatching(t, dec)
}

// The encoder's command line names no network address and holds no
// credential (the engine's publish credentials stay in the service).
func TestEncoderArgvHoldsNoSecret(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t7","path":"quay","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	f.bridge.Prime(tr.ID)
	key := tr.ID + ":rtsp"
	testutil.Eventually(t, 10*time.Second, "the encoder", func() bool { return publisherPID(f.output(key)) > 0 })
	if err := decodes(fmt.Sprintf("rtsp://127.0.0.1:%d/quay", f.manager.State().Ports.RTSP), 3); err != nil {
		t.Fatalf("the output does not play: %v", err)
	}
	pid := publisherPID(f.output(key))
	user, pass := f.manager.PublishSecretFor("quay")
	for _, file := range []string{"cmdline", "environ"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(raw), "\x00", " ")
		if file == "cmdline" && !strings.Contains(text, "-i pipe:0") {
			t.Fatalf("pid %d is not the encoder: %s", pid, text)
		}
		for _, bad := range []string{"rtsp://", "rtsps://", user, pass} {
			if strings.Contains(text, bad) {
				t.Errorf("the encoder's %s holds %q: %s", file, bad, text)
			}
		}
	}
}

// A hardware encoder that does not work here (no GPU) falls back to
// libx264, and the output says so: what runs, and why.
func TestOutputReportsTheEncoderThatRuns(t *testing.T) {
	f := newFixture(t, false)
	f.update(func(s *model.Settings) error {
		s.Engine.H264Encoder = model.H264EncoderNVENC
		return nil
	})
	tr := f.addTransmission(`{"id":"t8","path":"weir","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	f.bridge.Prime(tr.ID)
	key := tr.ID + ":rtsp"
	testutil.Eventually(t, 30*time.Second, "the encoder", func() bool { return publisherPID(f.output(key)) > 0 })
	e := f.output(key).Encoder
	if e == nil || e.Requested != model.H264EncoderNVENC || e.Codec != model.H264EncoderLibx264 || e.Hardware || e.Warning == "" {
		t.Fatalf("encoder %+v, want h264_nvenc requested, libx264 running, with a warning", e)
	}
	pid := publisherPID(f.output(key))
	f.update(func(s *model.Settings) error {
		s.Engine.H264Encoder = model.H264EncoderLibx264
		return nil
	})
	testutil.Eventually(t, 10*time.Second, "an encoder for the new setting", func() bool {
		o := f.output(key)
		return publisherPID(o) > 0 && publisherPID(o) != pid && o.Encoder.Requested == model.H264EncoderLibx264 && o.Encoder.Warning == ""
	})
}

// encoderPIDs are this test process's child processes that are encoders
// (they name an H.264 codec; the camera hub's decoders do not).
func encoderPIDs(t *testing.T) []int {
	t.Helper()
	var out []int
	for _, pid := range testutil.Descendants(t, os.Getpid()) {
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmdline), "\x00-c:v\x00") {
			out = append(out, pid)
		}
	}
	return out
}

// keepShowing keeps a writer of colour bgr fresh on the transmission.
func (f *fixture) keepShowing(transmissionID string, w, h int, bgr [3]byte) {
	f.t.Helper()
	data := make([]byte, w*h*3)
	for i := 0; i < len(data); i += 3 {
		copy(data[i:], bgr[:])
	}
	wr := streamwriter.Open(f.arb, transmissionID, "test:publish", 0)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := wr.WriteBGR(w, h, data); err != nil {
				f.t.Errorf("write: %v", err)
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f.t.Cleanup(func() { close(stop); <-done })
}

// centre decodes one frame of path, which must be w x h, and returns the
// colour (RGB) at its centre.
func (f *fixture) centre(path string, w, h int) [3]int {
	f.t.Helper()
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/%s", f.manager.State().Ports.RTSP, path)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		f.t.Fatalf("decode a frame of %s: %v", path, err)
	}
	if len(out) != w*h*3 {
		f.t.Fatalf("%s: a frame of %d bytes, want %dx%d", path, len(out), w, h)
	}
	i := (h/2*w + w/2) * 3
	return [3]int{int(out[i]), int(out[i+1]), int(out[i+2])}
}

func nearRed(c [3]int) bool { return c[0] > 200 && c[1] < 50 && c[2] < 50 }

// Issue 12 item 2: two outputs of one transmission that encode
// identically run one encoder (they used to run one each), and both
// paths' readers decode its picture. A third output of another size gets
// an encoder of its own.
func TestIdenticalOutputsShareOneEncoder(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t9","path":"pier","outputs":[
		{"id":"a","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10,"bitrate_kbps":400,"latency_profile":"low"},
		{"id":"b","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10,"bitrate_kbps":400,"latency_profile":"low"},
		{"id":"c","protocol":"webrtc","resolution":{"width":480,"height":272},"fps_limit":10,"bitrate_kbps":400,"latency_profile":"low"}]}`)
	f.keepShowing(tr.ID, 320, 240, [3]byte{0, 0, 255})
	a, b, c := tr.ID+":a", tr.ID+":b", tr.ID+":c"
	if ga, gb, gc := f.output(a).EncoderGroup, f.output(b).EncoderGroup, f.output(c).EncoderGroup; ga == "" || ga != gb || gc == ga || gc == "" {
		t.Fatalf("encoder groups %q, %q, %q: want a and b equal, c its own", ga, gb, gc)
	}

	decA := f.watch("pier-a")
	decB := f.watch("pier-b")
	testutil.Eventually(t, 15*time.Second, "both readers decoding", func() bool { return decA.Frames() >= 10 && decB.Frames() >= 10 })
	pid := publisherPID(f.output(a))
	if got := publisherPID(f.output(b)); got != pid || pid == 0 {
		t.Fatalf("outputs a and b run encoders %d and %d, want one shared", pid, got)
	}
	if pids := encoderPIDs(t); len(pids) != 1 || pids[0] != pid {
		t.Fatalf("encoder processes %v, want just %d", pids, pid)
	}
	if o := f.output(c); o.PublisherRunning {
		t.Errorf("output c runs an encoder (pid %d) without a viewer", publisherPID(o))
	}
	for _, path := range []string{"pier-a", "pier-b"} {
		if rgb := f.centre(path, 320, 240); !nearRed(rgb) {
			t.Errorf("%s: centre %v, want red", path, rgb)
		}
	}

	decC := f.watch("pier-c")
	testutil.Eventually(t, 15*time.Second, "output c decoding", func() bool { return decC.Frames() >= 5 && decC.Size() == "480x272" })
	if pc := publisherPID(f.output(c)); pc == 0 || pc == pid || len(encoderPIDs(t)) != 2 {
		t.Fatalf("output c runs encoder %d (a and b: %d), encoders %v: want a second one", pc, pid, encoderPIDs(t))
	}
	if rgb := f.centre("pier-c", 480, 272); !nearRed(rgb) {
		t.Errorf("pier-c: centre %v, want red (the frame fitted)", rgb)
	}
	requireWatching(t, decA)
	requireWatching(t, decB)
}

// A change of one output's encoding moves just that output: it leaves its
// group for one of its own, its reader stays connected and decodes the new
// size, and the other output's encoder goes on untouched. Changed back, it
// joins the running encoder again.
func TestEncodingChangeMovesOneOutput(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t10","path":"lock","outputs":[
		{"id":"a","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"b","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	a, b := tr.ID+":a", tr.ID+":b"
	decA := f.watch("lock-a")
	decB := f.watch("lock-b")
	testutil.Eventually(t, 15*time.Second, "both readers decoding", func() bool { return decA.Frames() >= 5 && decB.Frames() >= 5 })
	shared := publisherPID(f.output(a))
	if publisherPID(f.output(b)) != shared {
		t.Fatalf("a and b run encoders %d and %d", shared, publisherPID(f.output(b)))
	}
	resize := func(w, h int) {
		f.update(func(s *model.Settings) error {
			s.Transmissions[s.Find(tr.ID)].Outputs[1].Resolution = &model.Resolution{Width: w, Height: h}
			return nil
		})
	}
	resize(480, 272)
	testutil.Eventually(t, 10*time.Second, "b decoding its new size from an encoder of its own", func() bool {
		pb := publisherPID(f.output(b))
		return decB.Size() == "480x272" && pb != 0 && pb != shared
	})
	if got := publisherPID(f.output(a)); got != shared || len(encoderPIDs(t)) != 2 {
		t.Fatalf("a's encoder %d -> %d, encoders %v: want a untouched and two encoders", shared, got, encoderPIDs(t))
	}
	resize(320, 240)
	testutil.Eventually(t, 10*time.Second, "b back in a's encoder", func() bool {
		return decB.Size() == "320x240" && publisherPID(f.output(b)) == shared && len(encoderPIDs(t)) == 1
	})
	before := decB.Frames()
	testutil.Eventually(t, 5*time.Second, "b decoding the shared encoder", func() bool { return decB.Frames() >= before+5 })
	requireWatching(t, decA)
	requireWatching(t, decB)
}

// A group runs while any of its paths is watched: the first reader
// leaving does not stop it (nor the other reader's frames); the last one
// leaving stops it after the debounce, and its encoder exits.
func TestGroupStopsWithItsLastViewer(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t11","path":"slip","outputs":[
		{"id":"a","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"b","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	a, b := tr.ID+":a", tr.ID+":b"
	readerA := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", fmt.Sprintf("rtsp://127.0.0.1:%d/slip-a", f.manager.State().Ports.RTSP), "-f", "null", "-")
	if err := readerA.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = readerA.Process.Kill(); _ = readerA.Wait() }()
	decB := f.watch("slip-b")
	testutil.Eventually(t, 15*time.Second, "b decoding", func() bool { return decB.Frames() >= 5 })
	pid := publisherPID(f.output(a))

	_ = readerA.Process.Kill()
	_ = readerA.Wait()
	testutil.Eventually(t, 5*time.Second, "a without viewers", func() bool { return f.output(a).ViewerCount == 0 })
	since := decB.Frames()
	testutil.Eventually(t, 5*time.Second, "b decoding past a's debounce", func() bool { return decB.Frames() >= since+25 }) // 2.5 s at 10 fps
	if got := publisherPID(f.output(b)); got != pid || publisherPID(f.output(a)) != pid {
		t.Fatalf("encoder %d -> a %d, b %d: want it kept while b is watched (a keeps its sink)", pid, publisherPID(f.output(a)), got)
	}

	decB.Kill()
	left := time.Now()
	testutil.Eventually(t, 10*time.Second, "the group to stop after the last viewer left", func() bool {
		return publisherPID(f.output(a)) == 0 && publisherPID(f.output(b)) == 0
	})
	if held := time.Since(left); held < 900*time.Millisecond {
		t.Errorf("the group stopped %v after its last viewer left, before the 1 s debounce", held)
	}
	testutil.Eventually(t, 5*time.Second, "the encoder process to exit", func() bool { return len(encoderPIDs(t)) == 0 })
}

// watchLog records every watched set the bridge delivers.
type watchLog struct {
	mu   sync.Mutex
	sets []map[string]bool
}

func (w *watchLog) follow(t *testing.T, b *bridge.Bridge) {
	sets, cancel := b.SubscribeWatched()
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case s := <-sets:
				w.mu.Lock()
				w.sets = append(w.sets, s)
				w.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); <-ended; cancel() })
}

// now reports whether id is in the newest set; dropped whether a set
// without id came after one with it.
func (w *watchLog) now(id string) (watched, dropped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := false
	for _, s := range w.sets {
		seen = seen || s[id]
		dropped = dropped || (seen && !s[id])
	}
	return len(w.sets) > 0 && w.sets[len(w.sets)-1][id], dropped
}

// Issue 14 item 4: on_demand pipelines follow SubscribeWatched. A reader of
// any output path makes its transmission watched; a viewer who leaves and
// comes back within the stop debounce never takes it out (the pipeline is
// not restarted); the last viewer's leaving takes it out after the
// debounce; a prime counts too.
func TestWatchedTransmissionsFollowDemandAndDebounce(t *testing.T) {
	f := newFixture(t, false)
	f.update(func(s *model.Settings) error { s.Runtime.StopDebounceSeconds = 3; return nil })
	tr := f.addTransmission(`{"id":"t14","path":"lazy","outputs":[
		{"id":"a","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10},
		{"id":"b","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	var log watchLog
	log.follow(t, f.bridge)
	if watched, _ := log.now(tr.ID); watched {
		t.Fatal("watched before anyone reads it")
	}
	read := func() *exec.Cmd {
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
			"-i", fmt.Sprintf("rtsp://127.0.0.1:%d/lazy-b", f.manager.State().Ports.RTSP), "-f", "null", "-")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	first := read()
	testutil.Eventually(t, 10*time.Second, "watched once output b is read", func() bool { w, _ := log.now(tr.ID); return w })
	_ = first.Process.Kill()
	_ = first.Wait()
	testutil.Eventually(t, 5*time.Second, "b without viewers", func() bool { return f.output(tr.ID+":b").ViewerCount == 0 })
	second := read() // back within the debounce
	testutil.Eventually(t, 10*time.Second, "b read again", func() bool { return f.output(tr.ID+":b").ViewerCount == 1 })
	if _, dropped := log.now(tr.ID); dropped {
		t.Fatal("a viewer back within the debounce: the transmission was unwatched meanwhile")
	}

	_ = second.Process.Kill()
	_ = second.Wait()
	left := time.Now()
	testutil.Eventually(t, 10*time.Second, "unwatched after the debounce", func() bool { w, _ := log.now(tr.ID); return !w })
	if held := time.Since(left); held < 2700*time.Millisecond {
		t.Errorf("unwatched %v after the last viewer left, before the 3 s debounce", held)
	}
	f.bridge.Prime(tr.ID)
	testutil.Eventually(t, 5*time.Second, "watched while primed", func() bool { w, _ := log.now(tr.ID); return w })
}
