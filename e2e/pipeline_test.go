package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// activeWriter is the writer the transmission shows now ("" for none).
func (f *runtimeFixture) activeWriter() string {
	_, out := f.call("GET", "/runtime/diagnostics", "")
	state, _ := out.(map[string]any)["runtime_state"].(map[string]any)["transmissions"].(map[string]any)[f.id].(map[string]any)
	w, _ := state["active_writer"].(string)
	return w
}

// writerState is a writer's lifecycle in the diagnostics ("" when absent).
func (f *runtimeFixture) writerState(writer string) (lifecycle string, eligible bool) {
	_, out := f.call("GET", "/runtime/diagnostics", "")
	state, _ := out.(map[string]any)["runtime_state"].(map[string]any)["transmissions"].(map[string]any)[f.id].(map[string]any)
	writers, _ := state["writers"].(map[string]any)
	ws, _ := writers[writer].(map[string]any)
	lifecycle, _ = ws["lifecycle_state"].(string)
	eligible, _ = ws["eligible"].(bool)
	return lifecycle, eligible
}

// sceneBackground is the test scene's background (0x2b3a4a) as decoded.
var sceneBackground = rgb{0x2b, 0x3a, 0x4a}

func TestWizardPresetsPublish(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	if status, out := f.call("POST", "/../cameras", `{"id":"scene","name":"Scene","url":"testsrc","fps":10}`); status != 200 {
		t.Fatalf("camera: %d %v", status, out)
	}
	for _, preset := range []string{"simple_stream", "motion_gate_stream", "detection_stream", "tracking_stream", "segmentation_stream"} {
		t.Run(preset, func(t *testing.T) {
			status, out := f.call("POST", "/wizard/create-pipeline", fmt.Sprintf(
				`{"transmission_id":%q,"camera_id":"Scene","preset_id":%q,"optional_parameters":{"yolo_filter_enabled":false,"motion_sensitivity":0.002}}`, f.id, preset))
			if status != 200 {
				t.Fatalf("wizard: %d %v", status, out)
			}
			name := out.(map[string]any)["pipeline_name"].(string)
			defer f.call("DELETE", "/../pipelines/"+name, "")
			testutil.Eventually(t, 20*time.Second, name+" shown", func() bool { return f.activeWriter() == name+":stream" })
			// Inside the letterboxed picture: the scene's background, or for
			// segmentation the mask (published first, as the original's
			// frame_with_fallback says), black where nothing moves.
			want := sceneBackground
			if preset == "segmentation_stream" {
				want = black
			}
			if c := f.colourAt(f.current(), 10, 60); !c.near(want, 16) {
				t.Errorf("background colour %v, want %v", c, want)
			}
			_, st := f.call("GET", "/../pipelines/"+name+"/status", "")
			if s := st.(map[string]any); s["running"] != true || s["fps_in"].(float64) <= 0 {
				t.Errorf("status %v", s)
			}
		})
	}
}

// rtspCameraPipeline adds an RTSP camera (the engine's own test pattern,
// published by ffmpeg) and a simple_stream pipeline from it into the
// fixture's transmission; it returns the pipeline's name.
func (f *runtimeFixture) rtspCameraPipeline() string {
	f.t.Helper()
	_, out := f.call("GET", "/engine/status", "")
	testURL := out.(map[string]any)["urls"].(map[string]any)["rtsp_url"].(string)
	if status, out := f.call("POST", "/../cameras", fmt.Sprintf(`{"id":"ipcam","url":%q}`, testURL)); status != 200 {
		f.t.Fatalf("camera: %d %v", status, out)
	}
	status, out := f.call("POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"ipcam","preset_id":"simple_stream"}`, f.id))
	if status != 200 {
		f.t.Fatalf("wizard: %d %v", status, out)
	}
	return out.(map[string]any)["pipeline_name"].(string)
}

func TestPipelineFromRTSPCamera(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "black", "priority_latest"))
	name := f.rtspCameraPipeline()
	testutil.Eventually(t, 20*time.Second, "the RTSP pipeline shown", func() bool { return f.activeWriter() == name+":stream" })
	if c := f.centre(f.current()); c.near(black, 30) {
		t.Errorf("centre %v: the placeholder, not the camera", c)
	}
}

// movingThenStill writes a 4 s clip into dir: a square moving for 2 s,
// then still; it returns the clip's name.
func movingThenStill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "clip.mp4")
	scene := "color=c=0x2b3a4a:s=320x240:r=10[bg];color=c=0xffa020:s=60x60:r=10[box];" +
		"[bg][box]overlay=x='if(lt(t,2),t*100,200)':y=90"
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", scene, "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "10", path).CombinedOutput()
	if err != nil {
		t.Fatalf("make clip: %v %s", err, out)
	}
	return filepath.Base(path)
}

func TestMotionGateOpensAndClosesWriter(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	clip := movingThenStill(t, f.mediaDir()) // a name inside the camera files directory
	if status, out := f.call("POST", "/../cameras", fmt.Sprintf(`{"id":"clip","url":%q}`, clip)); status != 200 {
		t.Fatalf("camera: %d %v", status, out)
	}
	status, out := f.call("POST", "/wizard/create-pipeline", fmt.Sprintf(
		`{"transmission_id":%q,"camera_id":"clip","preset_id":"motion_gate_stream","optional_parameters":{"motion_hold_seconds":0.5,"fps_limit":10,"motion_sensitivity":0.002}}`, f.id))
	if status != 200 {
		t.Fatalf("wizard: %d %v", status, out)
	}
	writer := out.(map[string]any)["pipeline_name"].(string) + ":stream"
	// The clip loops: the square moves (writer open and shown), then stays
	// still (writer closed, placeholder).
	testutil.Eventually(t, 20*time.Second, "the gate open", func() bool { lc, ok := f.writerState(writer); return ok && lc != "close" })
	testutil.Eventually(t, 10*time.Second, "the gate closed", func() bool { lc, _ := f.writerState(writer); return lc == "close" })
	if w := f.activeWriter(); w != "" {
		t.Errorf("closed gate, but %q is shown", w)
	}
	testutil.Eventually(t, 10*time.Second, "the gate open again", func() bool { lc, ok := f.writerState(writer); return ok && lc != "close" })
}

var demoRTSP = regexp.MustCompile(`RTSP:\s+ffplay -rtsp_transport tcp (\S+)`)

// The README's run command serves the demo; a newcomer's ffprobe decodes it.
func TestDemo(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	data := t.TempDir()
	cmd := exec.Command(binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("service log:\n%s", stderr.String())
		}
	}()
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if m := demoRTSP.FindStringSubmatch(lines.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("the demo printed no RTSP URL")
	}
	if got := probe(t, url, "-rtsp_transport", "tcp"); got != "h264 1280x720" {
		t.Errorf("demo RTSP: %s", got)
	}
	// Issue 12 item 3: the two pipelines on the demo camera share one
	// test-scene ffmpeg (they were two, drawing the same scene), while
	// someone watches (they are on_demand: issue 14).
	viewer := startReader(t, url, 1280, 720)
	scenes := func() int { return len(sceneProcesses(t, cmd.Process.Pid)) }
	testutil.Eventually(t, 10*time.Second, "one test-scene ffmpeg", func() bool { return scenes() == 1 })
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := scenes(); n != 1 {
			t.Fatalf("%d test-scene ffmpegs for the demo's two pipelines", n)
		}
	}
	viewer.stop()
	testutil.Eventually(t, 15*time.Second, "the demo resting with nobody watching", func() bool { return scenes() == 0 })
	raw, err := os.ReadFile(filepath.Join(data, "settings.json"))
	if err != nil || !strings.Contains(string(raw), "demo__motion") || !strings.Contains(string(raw), "demo__continuous") {
		t.Errorf("demo objects not stored: %v", err)
	}
}

// sceneProcesses are the test-scene ffmpegs below pid.
func sceneProcesses(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	for _, p := range testutil.Descendants(t, pid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if bytes.Contains(cmdline, []byte("-f\x00lavfi")) {
			out = append(out, p)
		}
	}
	return out
}

// inputMode is the publisher input of the fixture's output in diagnostics.
func (f *runtimeFixture) inputMode() string {
	_, out := f.call("GET", "/runtime/diagnostics", "")
	outputs, _ := out.(map[string]any)["publisher"].(map[string]any)["outputs"].(map[string]any)
	for _, o := range outputs {
		if o := o.(map[string]any); o["transmission_id"] == f.id && o["running"] == true {
			return o["input_mode"].(string)
		}
	}
	return ""
}

func TestBypassSwitchesInputAndBack(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	writer := f.rtspCameraPipeline() + ":stream"
	testutil.Eventually(t, 20*time.Second, "the camera pipeline shown", func() bool { return f.activeWriter() == writer })
	f.call("POST", "/transmissions/"+f.id+"/demand/prime", "")
	testutil.Eventually(t, 10*time.Second, "a publisher pulling the camera", func() bool { return f.inputMode() == "rtsp_pull" })
	if c := f.centre(f.current()); c.near(gray, 12) {
		t.Errorf("bypass shows the placeholder %v", c)
	}

	// A higher-priority writer that is not a camera pipeline: raw frames again.
	stop := f.keepWriting("overlay", red, "priority=50")
	testutil.Eventually(t, 10*time.Second, "raw frames for the overlay writer", func() bool { return f.inputMode() == "rawvideo_pipe" })
	if c := f.centre(f.current()); !c.near(red, 40) {
		t.Errorf("after switching back to raw frames: %v, want red", c)
	}
	stop()
	f.call("DELETE", "/transmissions/"+f.id+"/writers/overlay", "")
	testutil.Eventually(t, 10*time.Second, "the camera pulled again", func() bool { return f.inputMode() == "rtsp_pull" })
}

// Issue 11: a settings file edited by hand (or synced) must not make
// ffmpeg open arbitrary inputs. The camera's URL is checked again where its
// source starts: the pipeline's status says it was refused and what is
// accepted, and no ffmpeg reads it.
func TestHandEditedCameraURLIsRefusedAtStart(t *testing.T) {
	testutil.RequireFFmpeg(t)
	data := t.TempDir()
	settings := `{"revision": 1,
	 "streams": {"transmissions": [{"id": "t", "name": "T", "path": "t", "outputs": [{"id": "o", "protocol": "rtsp"}]}]},
	 "cameras": [{"id": "cam", "name": "Cam", "url": "/etc/passwd"}],
	 "pipelines": [{"name": "p", "enabled": true, "graph": {"schema_version": 1,
	  "nodes": [{"id": "source", "type": "camera.source", "config": {"camera_id": "cam"}},
	            {"id": "stream", "type": "stream.publish_video", "config": {"transmission_id": "t"}}],
	  "edges": [{"from": {"node": "source", "port": "out"}, "to": {"node": "stream", "port": "in"}}]}}]}`
	if err := os.WriteFile(filepath.Join(data, "settings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startService(t, data)
	var msg string
	testutil.Eventually(t, 10*time.Second, "the refusal in the pipeline's status", func() bool {
		_, st := s.call("GET", "/../pipelines/p/status", "")
		msg, _ = st.(map[string]any)["last_error"].(string)
		return msg != ""
	})
	if !strings.Contains(msg, `camera "cam": url refused`) || !strings.Contains(msg, "rtsp://") || !strings.Contains(msg, s.mediaDir()) {
		t.Errorf("last_error %q", msg)
	}
	if logs, _ := filepath.Glob(filepath.Join(data, "runtime", "streaming", "logs", "ffmpeg-camera-*")); len(logs) != 0 {
		t.Errorf("ffmpeg ran for the camera: %v", logs)
	}
}

// Issue 13 item 9: without a working ffmpeg the demo's service says so:
// /health is degraded with the reason, and its pipelines report
// running: false beside their error (they used to say running: true).
func TestDemoWithoutFFmpegIsHonest(t *testing.T) {
	s := startServiceArgs(t, t.TempDir(), []string{"--demo"}, "TOPOSYNC_STREAMING_FFMPEG_PATH=/nonexistent/ffmpeg")
	_, health := s.call("GET", "/health", "")
	h := health.(map[string]any)
	if h["status"] != "degraded" || !strings.Contains(fmt.Sprint(h["problems"]), "ffmpeg") {
		t.Errorf("health %v, want degraded naming ffmpeg", h)
	}
	// The demo's pipelines are on_demand: they rest until watched (here
	// primed), then say why they do not run.
	for _, name := range []string{"demo__motion", "demo__continuous"} {
		testutil.Eventually(t, 10*time.Second, name+" resting", func() bool { return s.pipelineStatus(name)["state"] == "resting" })
	}
	s.call("POST", "/transmissions/demo/demand/prime", "")
	for _, name := range []string{"demo__motion", "demo__continuous"} {
		testutil.Eventually(t, 10*time.Second, name+" not running, with the reason", func() bool {
			st := s.pipelineStatus(name)
			msg, _ := st["last_error"].(string)
			return st["running"] == false && strings.Contains(msg, "ffmpeg")
		})
	}
}
