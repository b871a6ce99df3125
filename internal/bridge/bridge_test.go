package bridge_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
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
	b := &bridge.Bridge{Engine: m, Arbiter: arb, FFmpeg: ffmpeg, LogLevel: "error", LogDir: filepath.Join(runtimeDir, "logs")}
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

// The reproduction of issue 9: prime an output, then move the engine's RTSP
// port. The bridge used to reconcile against the old engine and relaunch
// its publisher against the old URL again and again. Now the publisher
// follows the engine state: one new process on the new URL, no restarts.
func TestPrimedPublisherFollowsAPortChange(t *testing.T) {
	f := newFixture(t, false)
	tr := f.addTransmission(`{"id":"t1","path":"yard","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	if n := f.bridge.Prime(tr.ID); n != 1 {
		t.Fatalf("Prime primed %d outputs, want 1", n)
	}
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
// pulls the camera itself (bypass); when a writer that does not forward is
// shown instead, the publisher goes back to raw frames.
func TestBypassFollowsTheShownWriter(t *testing.T) {
	f := newFixture(t, true)
	tr := f.addTransmission(`{"id":"t3","path":"lane","outputs":[{"id":"rtsp","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	key := tr.ID + ":rtsp"
	camera := fmt.Sprintf("rtsp://127.0.0.1:%d/test", f.manager.State().Ports.RTSP) // the engine's own test pattern

	forwarding := streamwriter.Open(f.arb, tr.ID, "cam:publish", 0)
	forwarding.DeclareForward(&arbiter.Forward{SourceURL: camera, RedactedURL: camera, FPS: 10})
	gray := frame.Placeholder(320, 240, model.PlaceholderGray)
	forwarding.Write(gray)
	if n := f.bridge.Prime(tr.ID); n != 1 {
		t.Fatalf("primed %d", n)
	}
	testutil.Eventually(t, 5*time.Second, "a bypass publisher", func() bool {
		o := f.output(key)
		return o.InputMode == model.InputRTSPPull && publisherPID(o) > 0
	})
	if err := decodes(fmt.Sprintf("rtsp://127.0.0.1:%d/lane", f.manager.State().Ports.RTSP), 5); err != nil {
		t.Fatalf("the bypassed output does not play: %v", err)
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
	if n := f.bridge.Prime(tr.ID); n != 1 {
		t.Fatalf("primed %d", n)
	}
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
	if n := f.bridge.Prime(tr.ID); n != 1 {
		t.Fatalf("primed %d", n)
	}
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
