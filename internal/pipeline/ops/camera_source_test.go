package ops

import (
	"context"
	"encoding/json"
	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// services give a camera source ffmpeg and a log dir, and no cameras.
type services struct{ logDir string }

func (services) Camera(string) (model.Camera, bool) { return model.Camera{}, false }
func (services) FFmpeg() (string, error)            { return exec.LookPath("ffmpeg") }
func (s services) FFmpegLogs() (string, string)     { return s.logDir, "warning" }
func (services) Writer(string, string, int, *arbiter.Forward) *streamwriter.Writer {
	return nil
}

// runSource starts a camera.source with config; the test's cleanup stops
// it and checks that Run returned.
func runSource(t *testing.T, config string, emit func(*pipeline.Packet)) (*cameraSource, string) {
	t.Helper()
	testutil.RequireFFmpeg(t)
	logDir := t.TempDir()
	op, err := newCameraSource(json.RawMessage(config), pipeline.Env{Pipeline: "p", Node: "cam", Services: services{logDir}, Logger: slog.New(slog.DiscardHandler)})
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
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	began := time.Now()
	src, logDir := runSource(t, `{"url": "`+missing+`"}`, func(*pipeline.Packet) { t.Error("a missing file emitted a frame") })
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
	first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
	if first < 400*time.Millisecond || second < first*3/2 {
		t.Errorf("delays between restarts %v then %v: want growing from 500ms", first, second)
	}
	if logs, _ := filepath.Glob(filepath.Join(logDir, "ffmpeg-camera-p-cam-*.log")); len(logs) < 3 {
		t.Errorf("%d per-run log files", len(logs))
	}
}

func TestCameraPasswordIsRedacted(t *testing.T) {
	// Nothing listens on port 1: ffmpeg fails with the URL in its message.
	src, logDir := runSource(t, `{"url": "rtsp://127.0.0.1:1/x", "username": "u", "password": "p@ss w0rd"}`, func(*pipeline.Packet) {})
	testutil.Eventually(t, 3*time.Second, "the error", func() bool {
		e, _ := src.SourceStatus()
		return e != ""
	})
	e, _ := src.SourceStatus()
	if !strings.Contains(e, "rtsp://u:***@127.0.0.1:1/x") || strings.Contains(e, "w0rd") {
		t.Errorf("last error = %q", e)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no log file")
	}
	for _, path := range logs {
		raw, _ := os.ReadFile(path)
		if strings.Contains(string(raw), "w0rd") {
			t.Errorf("%s holds the password:\n%s", path, raw)
		}
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
