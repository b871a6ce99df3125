package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// rgb is a colour as ffmpeg decodes it (rgb24).
type rgb struct{ r, g, b int }

func (c rgb) near(o rgb, tol int) bool {
	d := func(a, b int) bool { return a-b <= tol && b-a <= tol }
	return d(c.r, o.r) && d(c.g, o.g) && d(c.b, o.b)
}

var (
	red   = rgb{255, 0, 0}
	green = rgb{0, 255, 0}
	blue  = rgb{0, 0, 255}
	gray  = rgb{127, 127, 127}
	black = rgb{0, 0, 0}
)

// bgrFrame is a w x h raw BGR24 frame of one colour.
func bgrFrame(w, h int, c rgb) []byte {
	return bytes.Repeat([]byte{byte(c.b), byte(c.g), byte(c.r)}, w*h)
}

// runtimeFixture is a running service with the engine on free ports and one
// transmission with one RTSP output.
type runtimeFixture struct {
	*service
	t       *testing.T
	id      string
	rtspURL string
	w, h    int
}

func newRuntimeFixture(t *testing.T, transmission string, env ...string) *runtimeFixture {
	t.Helper()
	testutil.RequireFFmpegAndFFprobe(t)
	s := startService(t, t.TempDir(), env...)
	s.enableEngine()
	f := s.fixtureFor(transmission)
	s.waitEngineRunning("engine running")
	return f
}

// fixtureFor creates transmission (one output) and resolves its RTSP URL.
func (s *service) fixtureFor(transmission string) *runtimeFixture {
	t := s.t
	t.Helper()
	status, out := s.call("POST", "/transmissions", transmission)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	tr := out.(map[string]any)
	o := tr["outputs"].([]any)[0].(map[string]any)["resolution"].(map[string]any)
	f := &runtimeFixture{service: s, t: t, id: tr["id"].(string), w: int(o["width"].(float64)), h: int(o["height"].(float64))}
	_, out = s.call("GET", "/transmissions/"+f.id+"/urls", "")
	f.rtspURL = out.(map[string]any)["outputs"].([]any)[0].(map[string]any)["url"].(string)
	return f
}

// putFrame publishes one raw frame through the HTTP ingest.
func (f *runtimeFixture) putFrame(writer string, w, h int, c rgb, query string) {
	f.t.Helper()
	url := fmt.Sprintf("%s/transmissions/%s/writers/%s/frame?width=%d&height=%d&%s", f.base, f.id, writer, w, h, query)
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(bgrFrame(w, h, c)))
	req.Header.Set("Content-Type", "application/octet-stream")
	if f.authorization != "" {
		req.Header.Set("Authorization", f.authorization)
	}
	resp, err := f.http.Do(req)
	if err != nil {
		f.t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		f.t.Errorf("PUT frame: %d", resp.StatusCode)
	}
}

// keepWriting publishes a frame every 100 ms until the returned stop is called.
func (f *runtimeFixture) keepWriting(writer string, c rgb, query string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			f.putFrame(writer, f.w, f.h, c, query)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// readFrames connects an RTSP reader and returns n decoded rgb24 frames.
func (f *runtimeFixture) readFrames(n int) [][]byte {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", f.rtspURL,
		"-frames:v", fmt.Sprint(n), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("reader: %v: %s", err, stderr.String())
	}
	size := f.w * f.h * 3
	if out.Len() < size*n {
		f.t.Fatalf("reader got %d bytes, want %d frames of %dx%d", out.Len(), n, f.w, f.h)
	}
	frames := make([][]byte, n)
	for i := range n {
		frames[i] = out.Bytes()[i*size : (i+1)*size]
	}
	return frames
}

// colourAt is the mean colour of a 5x5 block around (x, y).
func (f *runtimeFixture) colourAt(frame []byte, x, y int) rgb {
	var sum rgb
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			i := ((y+dy)*f.w + (x + dx)) * 3
			sum.r += int(frame[i])
			sum.g += int(frame[i+1])
			sum.b += int(frame[i+2])
		}
	}
	return rgb{sum.r / 25, sum.g / 25, sum.b / 25}
}

func (f *runtimeFixture) centre(frame []byte) rgb { return f.colourAt(frame, f.w/2, f.h/2) }

// current reads past what a joining reader may be given first (the engine
// replays the current GOP, at most one second) and returns a frame that
// shows the stream as it is now.
func (f *runtimeFixture) current() []byte {
	frames := f.readFrames(16)
	return frames[len(frames)-1]
}

// output returns the runtime state of the transmission's output.
func (f *runtimeFixture) output() map[string]any {
	f.t.Helper()
	_, out := f.call("GET", "/runtime/outputs", "")
	for _, o := range out.(map[string]any)["outputs"].([]any) {
		if o := o.(map[string]any); o["transmission_id"] == f.id {
			return o
		}
	}
	f.t.Fatal("output not in /runtime/outputs")
	return nil
}

const smallOutput = `{"name":"T","path":"%s","placeholder":"%s","arbitration":"%s","outputs":[{"id":"main","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"}]}`

func TestRuntimeWriterToViewer(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))

	// Nobody watches: no publisher, even with a live writer.
	stop := f.keepWriting("pipe:red", red, "")
	defer stop()
	time.Sleep(300 * time.Millisecond) // give a wrongly eager bridge the chance to start one
	if o := f.output(); o["publisher_running"] != false || o["publisher_pid"] != nil {
		t.Fatalf("a publisher runs without viewers: %v", o)
	}

	// A viewer gets red at the output size and rate.
	frames := f.readFrames(5)
	if c := f.centre(frames[4]); !c.near(red, 40) {
		t.Errorf("centre colour %v, want red", c)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-show_entries", "stream=width,height,r_frame_rate", "-of", "csv=p=0", f.rtspURL).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "320,240,10/1" {
		t.Errorf("ffprobe: %q %v, want 320,240,10/1", out, err)
	}
	// engine.h264_encoder is auto and this machine has no GPU: libx264
	// runs, and the diagnostics say why.
	if o := f.output(); o["publisher_active_codec"] != "libx264" || o["publisher_hardware_accelerated"] != false {
		t.Errorf("codec %v, hardware %v: want libx264 without hardware", o["publisher_active_codec"], o["publisher_hardware_accelerated"])
	}
	_, d := f.call("GET", "/runtime/diagnostics", "")
	for key, p := range d.(map[string]any)["publisher"].(map[string]any)["outputs"].(map[string]any) {
		enc, _ := p.(map[string]any)["encoder"].(map[string]any)
		if enc["requested"] != "auto" || enc["codec"] != "libx264" || enc["warning"] == nil {
			t.Errorf("%s: encoder %v, want auto falling back to libx264 with a warning", key, enc)
		}
	}

	// The publisher stops ~3 s (the debounce) after the last viewer left.
	left := time.Now()
	testutil.Eventually(t, 8*time.Second, "publisher stop", func() bool { return f.output()["publisher_running"] == false })
	if took := time.Since(left); took < 2*time.Second {
		t.Errorf("publisher stopped %v after the viewer left, before the 3 s debounce", took)
	}
}

func TestRuntimePlaceholderAndLetterbox(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	if c := f.centre(f.current()); !c.near(gray, 12) {
		t.Errorf("no writer: centre %v, want the gray placeholder", c)
	}
	// A narrow frame (160x240 into 320x240) is letterboxed, not refused.
	stop := func() func() {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for ctx.Err() == nil {
				f.putFrame("narrow", 160, 240, red, "")
				time.Sleep(100 * time.Millisecond)
			}
		})
		return func() { cancel(); wg.Wait() }
	}()
	defer stop()
	frame := f.current()
	if c := f.centre(frame); !c.near(red, 40) {
		t.Errorf("letterboxed centre %v, want red", c)
	}
	if c := f.colourAt(frame, 20, 120); !c.near(black, 20) {
		t.Errorf("left bar %v, want black padding", c)
	}
	if c := f.colourAt(frame, 300, 120); !c.near(black, 20) {
		t.Errorf("right bar %v, want black padding", c)
	}
}

func TestRuntimeArbitration(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "black", "priority_latest"))
	stopLow := f.keepWriting("continuous", blue, "priority=0")
	defer stopLow()
	stopHigh := f.keepWriting("motion", green, "priority=10&lifecycle=open")
	if c := f.centre(f.current()); !c.near(green, 40) {
		t.Errorf("priority_latest: %v, want green (priority 10)", c)
	}
	stopHigh()
	req, _ := http.NewRequest("DELETE", f.base+"/transmissions/"+f.id+"/writers/motion", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("close writer: %v %v", resp, err)
	}
	resp.Body.Close()
	if c := f.centre(f.current()); !c.near(blue, 40) {
		t.Errorf("after closing the high writer: %v, want blue", c)
	}

	// latest: a fresher low-priority writer wins over an older high one.
	if status, out := f.call("PUT", "/transmissions/"+f.id, fmt.Sprintf(smallOutput, "cam", "black", "latest")); status != 200 {
		t.Fatalf("switch to latest: %d %v", status, out)
	}
	// Decoding takes longer than the windows involved here, so this part
	// reads the arbiter's choice from the diagnostics instead.
	f.putFrame("motion", f.w, f.h, green, "priority=10")
	sent := time.Now()
	time.Sleep(600 * time.Millisecond) // past the sticky window
	_, out := f.call("GET", "/runtime/diagnostics", "")
	state := out.(map[string]any)["runtime_state"].(map[string]any)["transmissions"].(map[string]any)[f.id].(map[string]any)
	if time.Since(sent) > 1900*time.Millisecond {
		t.Fatalf("too slow to judge: the green frame may have gone stale")
	}
	if state["active_writer"] != "continuous" || state["arbitration_mode"] != "latest" {
		t.Errorf("latest mode: %v, want the fresher continuous writer", state)
	}
}

func TestRuntimePublisherRecoversFromSIGKILL(t *testing.T) {
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	stop := f.keepWriting("pipe:red", red, "")
	defer stop()
	if status, out := f.call("POST", "/transmissions/"+f.id+"/demand/prime", ""); status != 200 || out.(map[string]any)["primed_outputs"] != 1.0 {
		t.Fatalf("prime: %d %v", status, out)
	}
	testutil.Eventually(t, 10*time.Second, "a primed publisher sending frames", func() bool {
		o := f.output()
		return o["publisher_pid"] != nil && o["publisher_frames_sent"].(float64) > 5
	})
	pid := int(f.output()["publisher_pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var sentAtRestart float64
	testutil.Eventually(t, 2*time.Second, "a new ffmpeg", func() bool {
		o := f.output()
		if p, ok := o["publisher_pid"].(float64); ok && int(p) != pid {
			sentAtRestart = o["publisher_frames_sent"].(float64)
			return true
		}
		return false
	})
	testutil.Eventually(t, 2*time.Second-time.Since(killed)+time.Second, "frames flowing again", func() bool {
		return f.output()["publisher_frames_sent"].(float64) > sentAtRestart+3
	})
	if c := f.centre(f.current()); !c.near(red, 40) {
		t.Errorf("after recovery: %v, want red", c)
	}
}
