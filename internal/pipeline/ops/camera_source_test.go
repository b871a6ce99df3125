package ops

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/testutil"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// services give a camera source ffmpeg, a log dir, a camera files dir,
// the cameras of a settings file and a camera hub.
type services struct {
	logDir, filesDir string
	cameras          map[string]model.Camera
	hub              *camerahub.Hub
}

func (s services) Camera(id string) (model.Camera, bool) { c, ok := s.cameras[id]; return c, ok }
func (s services) CameraPolicy() camerainput.Policy      { return camerainput.Policy{FilesDir: s.filesDir} }
func (services) Writer(string, string, int, *arbiter.Forward) *streamwriter.Writer {
	return nil
}

func (s services) CameraFrames(src camerahub.Source, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error) {
	if s.hub == nil {
		return nil, errors.New("no camera hub")
	}
	return s.hub.Frames(src, consumer, opts)
}

func (s services) LocalFrames(src camerahub.Local, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error) {
	if s.hub == nil {
		return nil, errors.New("no camera hub")
	}
	return s.hub.LocalFrames(src, consumer, opts)
}

// startHub starts a camera hub with short reconnect delays, logging into
// logDir; the test's cleanup closes it (after the sources, which are
// cleaned up later-registered-first).
func startHub(t *testing.T, logDir string) *camerahub.Hub {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	h := &camerahub.Hub{FFmpeg: bin, LogDir: logDir, BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// runSource starts a camera.source with config, cameras from files in
// filesDir; the test's cleanup stops it and checks that Run returned.
func runSource(t *testing.T, config string, emit func(*pipeline.Packet)) (*cameraSource, string) {
	t.Helper()
	return runSourceWith(t, services{filesDir: t.TempDir()}, config, emit)
}

func runSourceWith(t *testing.T, svc services, config string, emit func(*pipeline.Packet)) (*cameraSource, string) {
	t.Helper()
	testutil.RequireFFmpeg(t)
	svc.logDir = t.TempDir()
	logDir := svc.logDir
	if svc.hub == nil {
		svc.hub = startHub(t, logDir)
	}
	op, err := newCameraSource(json.RawMessage(config), pipeline.Env{Pipeline: "p", Node: "cam", Services: svc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	src := op.(*cameraSource)
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	go func() { returned <- src.Run(ctx, emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-returned:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return src, logDir
}

func TestMissingFileReportsItsErrorAndBacksOff(t *testing.T) {
	files := t.TempDir()
	missing := filepath.Join(files, "missing.mp4")
	began := time.Now()
	src, logDir := runSourceWith(t, services{filesDir: files}, `{"url": "missing.mp4"}`, func(*pipeline.Packet) { t.Error("a missing file emitted a frame") })
	testutil.Eventually(t, 3*time.Second, "the error", func() bool {
		e, _ := src.SourceStatus()
		return e != ""
	})
	if e, _ := src.SourceStatus(); !strings.Contains(e, missing+": No such file or directory") {
		t.Errorf("last error = %q", e)
	}
	t.Logf("error after %v", time.Since(began))

	// Each restart waits twice as long as the one before (250 ms, 500 ms, 1 s).
	var at []time.Time // when the restart count went up
	testutil.Eventually(t, 6*time.Second, "three restarts", func() bool {
		if _, n := src.SourceStatus(); n > len(at) {
			at = append(at, time.Now())
		}
		return len(at) >= 3
	})
	// Each interval is the backoff plus ffmpeg's start and failure, which
	// a loaded machine stretches alike: the backoff shows in the growth.
	first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
	if first < 400*time.Millisecond || second-first < 300*time.Millisecond {
		t.Errorf("delays between restarts %v then %v: want growing from 500ms by about 500ms", first, second)
	}
	// Every run logs, after its own header line: runs restarted within one
	// second share that second's file (the spec's names).
	logs, _ := filepath.Glob(filepath.Join(logDir, "ffmpeg-camera-file-missing*.log"))
	runs := 0
	for _, l := range logs {
		raw, _ := os.ReadFile(l)
		for line := range strings.SplitSeq(string(raw), "\n") {
			if strings.HasPrefix(line, "# ") {
				runs++
			}
		}
	}
	if runs < 3 {
		t.Errorf("%d runs logged in %d files, want at least 3", runs, len(logs))
	}
}

// An RTSP camera nobody answers (port 1): the hub's error is the
// source's, without the password, and no ffmpeg ever ran for it.
func TestCameraPasswordIsRedacted(t *testing.T) {
	src, logDir := runSource(t, `{"url": "rtsp://127.0.0.1:1/x", "username": "u", "password": "p@ss w0rd"}`, func(*pipeline.Packet) {})
	testutil.Eventually(t, 3*time.Second, "the error", func() bool {
		e, _ := src.SourceStatus()
		return e != ""
	})
	e, _ := src.SourceStatus()
	if !strings.Contains(e, "connection refused") || strings.Contains(e, "w0rd") {
		t.Errorf("last error = %q", e)
	}
	if logs, _ := filepath.Glob(filepath.Join(logDir, "*")); len(logs) != 0 {
		t.Errorf("an ffmpeg ran without a camera: %v", logs)
	}
}

// Issue 12 item 3: an RTSP camera is read through the hub (its password
// reaches no ffmpeg), at the configured size and rate; when the camera
// goes away the source reports it and frames resume when it comes back,
// without the source returning or counting a restart (its ffmpeg used to
// die with the camera and be restarted).
func TestRTSPCameraThroughTheHub(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "viewer", Password: "cam-secret"})
	user, pass := "viewer", "cam-secret"
	svc := services{filesDir: t.TempDir(), cameras: map[string]model.Camera{"ipcam": {ID: "ipcam", URL: cam.URL, Username: &user, Password: &pass}}}
	var mu sync.Mutex
	var got []*pipeline.Packet
	src, _ := runSourceWith(t, svc, `{"camera_id": "ipcam", "width": 160, "height": 120, "fps": 5}`, func(p *pipeline.Packet) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, p)
	})
	frames := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	testutil.Eventually(t, 15*time.Second, "frames", func() bool { return frames() >= 2 })
	began, n0 := time.Now(), frames()
	testutil.Eventually(t, 10*time.Second, "ten more frames", func() bool { return frames() >= n0+10 })
	if rate := float64(frames()-n0) / time.Since(began).Seconds(); rate > 6.5 {
		t.Errorf("%.1f fps from a 15 fps camera limited to 5", rate)
	}
	mu.Lock()
	first, second := got[0], got[1]
	mu.Unlock()
	if f := first.Artifacts["frame"]; f.Width != 160 || f.Height != 120 || first.Lifecycle != pipeline.Open || second.Lifecycle != pipeline.Update {
		t.Errorf("first frame %dx%d %s, then %s", f.Width, f.Height, first.Lifecycle, second.Lifecycle)
	}

	cam.Stop()
	testutil.Eventually(t, 15*time.Second, "the camera reported gone", func() bool {
		e, _ := src.SourceStatus()
		return e != ""
	})
	cam.Start()
	n := frames()
	testutil.Eventually(t, 15*time.Second, "frames again", func() bool { return frames() > n+2 })
	if e, restarts := src.SourceStatus(); e != "" || restarts != 0 {
		t.Errorf("status after the camera came back: %q, %d restarts", e, restarts)
	}
	if cam.SessionsOpened() != 2 {
		t.Errorf("%d camera sessions, want 2 (one before, one after)", cam.SessionsOpened())
	}
}

func TestTestSceneFramesAreEmitted(t *testing.T) {
	var mu sync.Mutex
	var packets []*pipeline.Packet
	src, _ := runSource(t, `{"url": "testsrc", "width": 64, "height": 48, "fps": 15}`, func(p *pipeline.Packet) {
		mu.Lock()
		defer mu.Unlock()
		packets = append(packets, p)
	})
	testutil.Eventually(t, 5*time.Second, "three frames", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(packets) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	for i, p := range packets[:3] {
		f := p.Artifacts["frame"]
		if f.Width != 64 || f.Height != 48 || len(f.Data) != 64*48*3 {
			t.Errorf("frame %d: %dx%d, %d bytes", i, f.Width, f.Height, len(f.Data))
		}
		if want := map[bool]string{true: pipeline.Open, false: pipeline.Update}[i == 0]; p.Lifecycle != want {
			t.Errorf("frame %d lifecycle %q, want %q", i, p.Lifecycle, want)
		}
	}
	if e, n := src.SourceStatus(); e != "" || n != 0 {
		t.Errorf("status %q, %d restarts", e, n)
	}
}

// A stored camera is checked again when its source starts (settings.json
// may have been edited by hand or synced): a URL that is not an RTSP URL,
// a file in the camera files directory or the test scene never reaches
// ffmpeg, and the source's error says why.
func TestStoredCameraInputIsCheckedAtStart(t *testing.T) {
	files, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret.mp4")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(files, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	hostile := map[string]string{
		"abs":     "/etc/passwd",
		"up":      "../" + filepath.Base(outside) + "/secret.mp4",
		"link":    "link.mp4",
		"lavfi":   "lavfi:testsrc",
		"concat":  "concat:/etc/passwd|/etc/hostname",
		"http":    "http://127.0.0.1:1/x.m3u8",
		"file":    "file:/etc/passwd",
		"subfile": "subfile,,0,10,,:/etc/passwd",
		"nohost":  "rtsp:///x",
	}
	svc := services{filesDir: files, logDir: t.TempDir(), cameras: map[string]model.Camera{}}
	for id, u := range hostile {
		svc.cameras[id] = model.Camera{ID: id, URL: u}
	}
	testutil.RequireFFmpeg(t)
	for id := range hostile {
		op, err := newCameraSource(json.RawMessage(`{"camera_id":"`+id+`"}`), pipeline.Env{Pipeline: "p", Node: id, Services: svc, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = op.(*cameraSource).Run(ctx, func(*pipeline.Packet) { t.Errorf("%s emitted a frame", id) })
		cancel()
		if err == nil || !strings.Contains(err.Error(), `camera "`+id+`": url refused`) || !strings.Contains(err.Error(), "rtsp://") {
			t.Errorf("%s (%q): Run = %v, want the refusal naming what is accepted", id, hostile[id], err)
		}
	}
	if logs, _ := filepath.Glob(filepath.Join(svc.logDir, "*")); len(logs) != 0 {
		t.Errorf("ffmpeg ran: %v", logs)
	}
}

// A url in the node config is checked when the pipeline is built.
func TestInlineURLIsChecked(t *testing.T) {
	svc := services{filesDir: t.TempDir()}
	for _, u := range []string{"/etc/passwd", "lavfi:color", "http://example.org/a", "file:/etc/passwd"} {
		_, err := newCameraSource(json.RawMessage(`{"url":"`+u+`"}`), pipeline.Env{Services: svc, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.HasPrefix(err.Error(), "url: ") || !strings.Contains(err.Error(), svc.filesDir) {
			t.Errorf("url %q: %v", u, err)
		}
	}
}

// A file camera is read by the hub at its resolved path (camerahub tests
// its command line); the real ffmpeg plays a clip named relative to the
// files directory (through a link inside it).
func TestFileInputArgs(t *testing.T) {
	testutil.RequireFFmpeg(t)
	files := t.TempDir()
	clip := filepath.Join(files, "clip.mkv")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-c:v", "ffv1", clip).CombinedOutput(); err != nil {
		t.Fatalf("make clip: %v %s", err, out)
	}
	if err := os.Symlink("clip.mkv", filepath.Join(files, "cam.mkv")); err != nil {
		t.Fatal(err)
	}
	svc := services{filesDir: files, cameras: map[string]model.Camera{
		"clip": {ID: "clip", URL: "cam.mkv"},
	}}
	op, err := newCameraSource(json.RawMessage(`{"camera_id":"clip"}`), pipeline.Env{Services: svc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c, in, err := op.(*cameraSource).camera()
	if err != nil {
		t.Fatal(err)
	}
	if got := camerahub.LocalOf(c, in); got.Path != clip {
		t.Errorf("the hub reads %q, not the resolved %q", got.Path, clip)
	}
	var mu sync.Mutex
	frames := 0
	runSourceWith(t, svc, `{"camera_id":"clip"}`, func(p *pipeline.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if f := p.Artifacts["frame"]; f.Width == 64 && f.Height == 48 {
			frames++
		}
	})
	testutil.Eventually(t, 10*time.Second, "frames from the clip", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return frames >= 3
	})
}
