package testpattern

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/engine/mediamtx"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// TestMain runs this test binary as MediaMTX's on-demand hook when MediaMTX
// starts it so (its first argument is the hook command; go test never
// passes one), else the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == mediamtx.HookCommand {
		os.Exit(mediamtx.RunHook(os.Args[2:], os.Getenv, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// newManager runs an engine of kind (embedded or mediamtx, installed from
// the test mirror) on ports with the given reader hold.
func newManager(t *testing.T, kind string, ports []int, hold int) (*engine.Manager, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	kinds := map[string]engine.Kind{model.EngineEmbedded: embedded.Kind{}}
	if kind == model.EngineMediaMTX {
		env := map[string]string{"TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL": "file://" + testutil.MediaMTXMirror(t)}
		kinds[kind] = &mediamtx.Kind{
			Version:        func() string { return testutil.MediaMTXMirrorVersion },
			DataRuntimeDir: filepath.Join(dir, "runtime"),
			RuntimeDir:     filepath.Join(dir, "runtime", "streaming"),
			Hook:           []string{os.Args[0], mediamtx.HookCommand},
			Getenv:         func(k string) string { return env[k] },
		}
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.Enabled = true
		s.Engine.Kind = kind
		s.Engine.ReaderHoldSeconds = hold
		s.Engine.PreferredPorts = model.Ports{RTSP: ports[0], HLS: ports[1], WebRTC: ports[2], API: ports[3], RTP: testutil.FreeRTPPort(t)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := &engine.Manager{Store: st, Kinds: kinds, ServerID: model.LocalHost, RuntimeDir: filepath.Join(dir, "runtime", "streaming")}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, st
}

func probe(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=width", "-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if string(out) != "640\n" {
		return fmt.Errorf("width %q, want 640", out)
	}
	return nil
}

// children are the processes this test process started that run binary
// (argv[0]), but for the pids in except.
func children(t *testing.T, binary string, except ...int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || slices.Contains(except, pid) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		argv := procStrings(pid, "cmdline")
		if len(argv) > 0 && argv[0] == binary {
			out = append(out, pid)
		}
	}
	return out
}

// procStrings reads a NUL-separated file of /proc/<pid> (cmdline, environ).
func procStrings(pid int, name string) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), name))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// The pattern plays at the test URL while watched, from an ffmpeg that is
// only a codec (no URL, no credential in its argv or environment), stops
// when nobody watches, follows the engine to a new port (a new engine
// generation) and gives the path up to a transmission that takes it over,
// on both engine kinds.
func TestPatternFollowsTheEngineState(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for _, kind := range []string{model.EngineEmbedded, model.EngineMediaMTX} {
		t.Run(kind, func(t *testing.T) { patternFollowsTheEngineState(t, kind) })
	}
}

func patternFollowsTheEngineState(t *testing.T, kind string) {
	ffmpeg, _ := exec.LookPath("ffmpeg")
	p := testutil.FreePorts(t, 5)
	m, st := newManager(t, kind, p, 2) // hold: the last probe finds no publisher
	testutil.Eventually(t, 30*time.Second, "the engine running", func() bool { return m.State().Running })
	pattern := &Pattern{Engine: m, FFmpeg: ffmpeg, LogLevel: "error"}
	if err := pattern.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer pattern.Close()

	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[0])); err != nil {
		t.Fatalf("test pattern: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the pattern's ffmpeg to stop without a viewer", func() bool { return len(children(t, ffmpeg)) == 0 })

	// While someone watches, the pattern's ffmpeg is the only other ffmpeg
	// child, and nothing of the engine is on its command line.
	reader := exec.Command(ffmpeg, "-v", "error", "-rtsp_transport", "tcp", "-i", fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[0]), "-t", "30", "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	var encoders []int
	testutil.Eventually(t, 10*time.Second, "the pattern's ffmpeg", func() bool {
		encoders = children(t, ffmpeg, reader.Process.Pid)
		return len(encoders) == 1
	})
	user, pass := m.PublishSecretFor(model.TestPath)
	argv := procStrings(encoders[0], "cmdline")
	if !strings.Contains(strings.Join(argv, " "), "-i pipe:0") {
		t.Errorf("argv %q: want frames on stdin", argv)
	}
	for _, a := range argv {
		for _, bad := range []string{"://", "rtsp", "127.0.0.1", user, pass, strconv.Itoa(p[0])} {
			if strings.Contains(a, bad) {
				t.Errorf("argument %q of the pattern's ffmpeg holds %q", a, bad)
			}
		}
	}
	for _, kv := range procStrings(encoders[0], "environ") {
		if strings.Contains(kv, user) || strings.Contains(kv, pass) {
			t.Errorf("environment of the pattern's ffmpeg holds the publish secret: %q", kv)
		}
	}
	_ = reader.Process.Kill()
	_ = reader.Wait()

	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.PreferredPorts.RTSP = p[4]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the engine on the new port", func() bool { return m.State().Ports.RTSP == p[4] })
	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[4])); err != nil {
		t.Fatalf("test pattern after the port change: %v", err)
	}

	tr, err := model.DecodeTransmission([]byte(`{"id":"taker","name":"Taker","path":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	tr.StampMissing(time.Now())
	if _, err := st.Update(func(s *model.Settings) error {
		s.Transmissions = append(s.Transmissions, tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the path taken over", func() bool { return !m.State().TestPatternServed() })
	if err := probe(fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[4])); err == nil {
		t.Fatal("the pattern still publishes into a path a transmission took over")
	}
	if n := children(t, ffmpeg); len(n) != 0 {
		t.Errorf("the pattern's ffmpeg runs for a path it does not own: %v", n)
	}
}

// The pattern stops with the engine even while watched: its sink belongs to
// the engine instance, and a new instance gets a new one.
func TestPatternStopsWithTheEngine(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ffmpeg, _ := exec.LookPath("ffmpeg")
	p := testutil.FreePorts(t, 4)
	m, _ := newManager(t, model.EngineEmbedded, p, 5)
	pattern := &Pattern{Engine: m, FFmpeg: ffmpeg, LogLevel: "error"}
	if err := pattern.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer pattern.Close()

	url := fmt.Sprintf("rtsp://127.0.0.1:%d/test", p[0])
	reader := exec.Command(ffmpeg, "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "60", "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Process.Kill(); _ = reader.Wait() }()
	testutil.Eventually(t, 10*time.Second, "the pattern's ffmpeg", func() bool { return len(children(t, ffmpeg, reader.Process.Pid)) == 1 })
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the pattern's ffmpeg to stop with the engine", func() bool {
		return len(children(t, ffmpeg, reader.Process.Pid)) == 0
	})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := probe(url); err != nil {
		t.Fatalf("test pattern on the engine started again: %v", err)
	}
}

// Every frame is new (the encoder may still read the one before), the
// square moves from frame to frame, and the clock shows the time.
func TestDraw(t *testing.T) {
	now := time.Date(2026, 12, 1, 14, 5, 7, 0, time.Local)
	a, b := draw(0, now), draw(3, now)
	if a.Width != width || a.Height != height || len(a.Data) != width*height*3 {
		t.Fatalf("frame %dx%d with %d bytes", a.Width, a.Height, len(a.Data))
	}
	if &a.Data[0] == &b.Data[0] || &a.Data[0] == &background()[0] {
		t.Fatal("frames share their pixels")
	}
	band := func(data []byte) []byte { return data[boxY*width*3 : (boxY+boxSize)*width*3] }
	if bytes.Equal(band(a.Data), band(b.Data)) {
		t.Error("the square did not move in 3 frames")
	}
	if x := boxX(sweepFrames); x != width-boxSize {
		t.Errorf("the square turns at x=%d, want the right edge %d", x, width-boxSize)
	}
	if boxX(2*sweepFrames) != 0 || boxX(sweepFrames/2) != boxX(2*sweepFrames-sweepFrames/2) {
		t.Error("the square does not come back the way it went")
	}
	clock := func(f []byte) []byte { return f[barsHeight*width*3:] }
	if bytes.Equal(clock(a.Data), clock(draw(0, now.Add(time.Second)).Data)) {
		t.Error("the clock did not change in one second")
	}
	if !bytes.Equal(clock(a.Data), clock(b.Data)) {
		t.Error("the clock changed within one second")
	}
	// 1 lights only the right segments: its left column is the strip.
	one := draw(0, time.Date(2026, 1, 1, 11, 11, 11, 0, time.Local))
	px := func(x, y int) bgr {
		i := (y*width + x) * 3
		return bgr(one.Data[i : i+3])
	}
	if px(clockX+1, clockY+digitH/4) != strip || px(clockX+digitW-1, clockY+digitH/4) != white {
		t.Errorf("digit 1 drawn wrong: left %v, right %v", px(clockX+1, clockY+digitH/4), px(clockX+digitW-1, clockY+digitH/4))
	}
}
