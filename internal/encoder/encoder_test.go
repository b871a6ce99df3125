package encoder

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// prober is shared by the tests, as a service shares one.
var prober = &Prober{}

// received is what OnAccessUnit got, with the ffmpeg that made each unit.
type received struct {
	mu   sync.Mutex
	aus  []AccessUnit
	pids []int
	at   []time.Time
}

func (r *received) snapshot() ([]AccessUnit, []int, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.aus), slices.Clone(r.pids), slices.Clone(r.at)
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.aus)
}

// startEncoder runs an encoder of w x h at fps on the real ffmpeg (ultra_low
// unless an option changes it); the test closes it.
func startEncoder(t *testing.T, w, h, fps int, requested model.H264Encoder, opts ...func(*Encoder)) (*Encoder, *received) {
	t.Helper()
	testutil.RequireFFmpeg(t)
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	got := &received{}
	var e *Encoder
	e = &Encoder{
		Name: t.Name(), FFmpeg: bin, Requested: requested, Prober: prober,
		Width: w, Height: h, FPS: fps, BitrateKbps: 400, Profile: model.LatencyUltraLow,
		OnAccessUnit: func(au AccessUnit) {
			pid := e.Status().Process.PID
			got.mu.Lock()
			got.aus, got.pids, got.at = append(got.aus, au), append(got.pids, pid), append(got.at, time.Now())
			got.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(e)
	}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	testutil.Eventually(t, 10*time.Second, "ffmpeg running", func() bool { return e.Status().Process.Running })
	return e, got
}

func solid(w, h int, b, g, r byte) *frame.Frame {
	data := make([]byte, w*h*3)
	for i := 0; i < len(data); i += 3 {
		data[i], data[i+1], data[i+2] = b, g, r
	}
	return &frame.Frame{Width: w, Height: h, Data: data}
}

// nalTypes lists the NAL unit types of an access unit.
func nalTypes(au AccessUnit) []byte {
	var types []byte
	for _, n := range au.NALUs {
		types = append(types, n[0]&0x1f)
	}
	return types
}

// startsWithParams reports whether au is an IDR led by SPS and PPS.
func startsWithParams(au AccessUnit) bool {
	types := nalTypes(au)
	return au.IDR && len(types) >= 3 && types[0] == nalSPS && types[1] == nalPPS && slices.Contains(types, nalIDR)
}

// Frames written at 5, 15 and 30 fps and at a variable rate come out as one
// access unit each, in order, with the pts they were written with, an IDR
// with SPS and PPS first, one more a fifth of a second in (a short first
// HLS segment), and then one keyframe every fps frames.
func TestTimestampsAtAnyRate(t *testing.T) {
	for _, c := range []struct {
		name     string
		fps, n   int
		interval func() time.Duration
	}{
		{"5fps", 5, 12, func() time.Duration { return 200 * time.Millisecond }},
		{"15fps", 15, 32, func() time.Duration { return time.Second / 15 }},
		{"30fps", 30, 62, func() time.Duration { return time.Second / 30 }},
		{"variable", 15, 40, func() time.Duration { return time.Duration(5+rand.IntN(150)) * time.Millisecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, got := startEncoder(t, 160, 120, c.fps, model.H264EncoderLibx264)
			var accepted []time.Duration
			start := time.Now()
			for i := range c.n {
				pts := time.Since(start)
				switch err := e.WriteFrame(pts, solid(160, 120, byte(i*7), 90, 200)); {
				case err == nil:
					accepted = append(accepted, pts)
				case !errors.Is(err, ErrDropped):
					t.Fatal(err)
				}
				time.Sleep(c.interval())
			}
			if len(accepted) < c.n/2 {
				t.Fatalf("only %d of %d frames accepted", len(accepted), c.n)
			}
			testutil.Eventually(t, 5*time.Second, "an access unit per frame", func() bool {
				st := e.Status()
				return st.FramesIn+st.FramesDropped == uint64(c.n) && got.count() == int(st.FramesIn)
			})
			aus, _, _ := got.snapshot()
			written := int(e.Status().FramesIn)
			var pts []time.Duration
			for _, au := range aus {
				pts = append(pts, au.PTS)
			}
			// Frames accepted but lost in the hand-over would be missing
			// from both; none is lost without a restart.
			if written != len(accepted) || !slices.Equal(pts, accepted) {
				t.Fatalf("pts out\n %v\nwant (as written)\n %v", pts, accepted)
			}
			if !startsWithParams(aus[0]) {
				t.Errorf("first access unit: IDR %v, NAL types %v", aus[0].IDR, nalTypes(aus[0]))
			}
			early := c.fps / 5
			for i, au := range aus {
				if want := i == 0 || i >= early && (i-early)%c.fps == 0; au.IDR != want {
					t.Errorf("unit %d: IDR %v, want %v (keyframes at 0, %d, then every %d frames)", i, au.IDR, want, early, c.fps)
				}
				if au.IDR && !startsWithParams(au) {
					t.Errorf("IDR %d lacks SPS/PPS: %v", i, nalTypes(au))
				}
			}
			if st := e.Status(); st.FramesSkipped != 0 || st.StreamError != "" {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// annexB writes access units as an H.264 elementary stream.
func annexB(aus []AccessUnit) []byte {
	var b bytes.Buffer
	for _, au := range aus {
		for _, n := range au.NALUs {
			b.Write([]byte{0, 0, 0, 1})
			b.Write(n)
		}
	}
	return b.Bytes()
}

// decode decodes an H.264 elementary stream into w x h BGR24 frames.
func decode(t *testing.T, stream []byte, w, h int) [][]byte {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "h264", "-i", "pipe:0",
		"-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
	cmd.Stdin = bytes.NewReader(stream)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode: %v: %s", err, stderr.String())
	}
	var frames [][]byte
	for size := w * h * 3; len(out) >= size; out = out[size:] {
		frames = append(frames, out[:size])
	}
	return frames
}

func near(a, b byte) bool { return max(a, b)-min(a, b) <= 12 }

// The access units decode to the pictures written, in order; asking for a
// hardware encoder this machine lacks runs libx264 and says so.
func TestDecodedPicturesMatch(t *testing.T) {
	const w, h = 128, 96
	e, got := startEncoder(t, w, h, 10, model.H264EncoderNVENC)
	if st := e.Status(); st.Codec != model.H264EncoderLibx264 || st.Hardware || st.Requested != model.H264EncoderNVENC || st.Warning == "" {
		t.Errorf("selection %+v, want libx264 (not hardware) with a warning", st.Selection)
	}
	colours := [][3]byte{{30, 160, 220}, {200, 40, 90}}
	var want [][3]byte
	for i := range 20 {
		c := colours[i/10]
		for e.WriteFrame(time.Duration(i)*100*time.Millisecond, solid(w, h, c[0], c[1], c[2])) != nil {
			time.Sleep(5 * time.Millisecond) // behind: the same frame again
		}
		want = append(want, c)
	}
	testutil.Eventually(t, 5*time.Second, "20 access units", func() bool { return got.count() == 20 })
	aus, _, _ := got.snapshot()
	frames := decode(t, annexB(aus), w, h)
	if len(frames) != len(want) {
		t.Fatalf("%d frames decoded from %d access units", len(frames), len(aus))
	}
	for i, f := range frames {
		px := f[3*(w*h/2+w/2):]
		if !near(px[0], want[i][0]) || !near(px[1], want[i][1]) || !near(px[2], want[i][2]) {
			t.Errorf("frame %d: centre BGR %v, want about %v", i, px[:3], want[i])
		}
	}
}

// kill -9 of ffmpeg mid-stream: a new one starts, the output resumes within
// 1.5 s with an IDR carrying SPS and PPS, and pts keep increasing.
func TestResumesAfterKill(t *testing.T) {
	e, got := startEncoder(t, 160, 120, 30, model.H264EncoderLibx264)
	stop := make(chan struct{})
	var feeder sync.WaitGroup
	feeder.Go(func() {
		start := time.Now()
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = e.WriteFrame(time.Since(start), solid(160, 120, byte(i), 128, 64))
			}
		}
	})
	defer func() {
		close(stop)
		feeder.Wait()
	}()
	testutil.Eventually(t, 5*time.Second, "output", func() bool { return got.count() >= 15 })
	old := e.Status().Process.PID
	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	isNew := func(pid int) bool { return pid != 0 && pid != old }
	testutil.Eventually(t, 5*time.Second, "output of the new ffmpeg", func() bool {
		_, pids, _ := got.snapshot()
		return slices.ContainsFunc(pids, isNew)
	})
	testutil.Eventually(t, 5*time.Second, "more output of the new ffmpeg", func() bool { return got.count() >= 15+30 })
	aus, pids, at := got.snapshot()
	first := slices.IndexFunc(pids, isNew)
	if gap := at[first].Sub(killed); gap > 1500*time.Millisecond {
		t.Errorf("output resumed %v after the kill, want within 1.5s", gap)
	}
	if !startsWithParams(aus[first]) {
		t.Errorf("first unit after the restart: IDR %v, NAL types %v", aus[first].IDR, nalTypes(aus[first]))
	}
	for i := 1; i < len(aus); i++ {
		if aus[i].PTS <= aus[i-1].PTS {
			t.Fatalf("pts %v after %v (unit %d)", aus[i].PTS, aus[i-1].PTS, i)
		}
	}
	if st := e.Status(); st.Process.Restarts != 1 || st.StreamError != "" {
		t.Errorf("status after the kill: %+v", st)
	}
	t.Logf("output resumed %v after kill -9", at[first].Sub(killed).Round(time.Millisecond))
}

// Every profile is low latency: each frame's access unit comes out before
// the next frame goes in (nothing held back for lookahead, B-frames or
// frame threads, and no container waiting for the next frame to end this
// one).
func TestNoFrameHeldBack(t *testing.T) {
	for _, p := range Profiles {
		t.Run(string(p), func(t *testing.T) {
			e, got := startEncoder(t, 320, 240, 30, model.H264EncoderLibx264, func(e *Encoder) { e.Profile = p })
			var worst time.Duration
			for i := range 10 {
				began := time.Now()
				if err := e.WriteFrame(time.Duration(i)*time.Second/30, solid(320, 240, byte(20*i), 100, 50)); err != nil {
					t.Fatal(err)
				}
				testutil.Eventually(t, 3*time.Second, fmt.Sprintf("the access unit of frame %d alone", i), func() bool { return got.count() == i+1 })
				worst = max(worst, time.Since(began))
			}
			t.Logf("%s: slowest frame in to access unit out %v", p, worst.Round(time.Millisecond))
		})
	}
}

// Garbage in ffmpeg's output (here: bytes pushed into the middle of its
// stream) delivers nothing broken: the encoder says why, ends that ffmpeg,
// and the next one's output starts with an IDR.
func TestGarbageOnStdoutRestartsClean(t *testing.T) {
	bin := garbageFFmpeg(t)
	e, got := startEncoder(t, 160, 120, 15, model.H264EncoderLibx264, func(e *Encoder) { e.FFmpeg = bin })
	first := e.Status().Process.PID
	fromNew := func(pid int) bool { return pid != first && pid != 0 }
	for i := 0; ; i++ {
		if _, pids, _ := got.snapshot(); slices.ContainsFunc(pids, fromNew) {
			break
		}
		if i > 300 {
			t.Fatalf("no output from a new ffmpeg after %d frames: %+v", i, e.Status())
		}
		_ = e.WriteFrame(time.Duration(i)*time.Second/15, solid(160, 120, byte(i), 60, 90))
		time.Sleep(time.Second / 15)
	}
	st := e.Status()
	if !strings.Contains(st.StreamError, "corrupt FLV stream") {
		t.Errorf("stream error %q", st.StreamError)
	}
	aus, pids, _ := got.snapshot()
	firstNew := slices.IndexFunc(pids, fromNew)
	if firstNew < 0 || !startsWithParams(aus[firstNew]) {
		t.Fatalf("no IDR first after the restart (units from pids %v, the first ffmpeg %d)", pids, first)
	}
	t.Logf("%d units before the garbage, then %s", firstNew, st.StreamError)
	// Everything delivered decodes: nothing of the garbage got through.
	if frames := decode(t, annexB(aus), 160, 120); len(frames) != len(aus) {
		t.Errorf("%d frames decoded from %d access units", len(frames), len(aus))
	}
}

// garbageFFmpeg is the real ffmpeg whose first encoder run gets 7 bytes of
// text pushed into its stdout after 6000 bytes.
func garbageFFmpeg(t *testing.T) string {
	t.Helper()
	testutil.RequireFFmpeg(t)
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	marker, bin := filepath.Join(dir, "ran"), filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\ncase \"$*\" in *pipe:1*) ;; *) exec " + real + " \"$@\";; esac\n" + // not the probe
		"[ -e " + marker + " ] && exec " + real + " \"$@\"\n" +
		"touch " + marker + "\n" + real + " \"$@\" | { head -c 6000; printf GARBAGE; cat; }\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestWriteFrameRefuses(t *testing.T) {
	e, _ := startEncoder(t, 64, 48, 10, model.H264EncoderLibx264)
	if err := e.WriteFrame(0, solid(32, 48, 0, 0, 0)); !errors.Is(err, ErrFrame) {
		t.Errorf("wrong size: %v", err)
	}
	short := solid(64, 48, 0, 0, 0)
	short.Data = short.Data[:100] // would shift every frame after it in ffmpeg's input
	if err := e.WriteFrame(0, short); !errors.Is(err, ErrFrame) {
		t.Errorf("short data: %v", err)
	}
	if err := e.WriteFrame(time.Second, solid(64, 48, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteFrame(time.Second, solid(64, 48, 0, 0, 0)); !errors.Is(err, ErrFrame) {
		t.Errorf("repeated pts: %v", err)
	}
	e.Close()
	if err := e.WriteFrame(2*time.Second, solid(64, 48, 0, 0, 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestInitializeRefusesBadConfig(t *testing.T) {
	for _, e := range []*Encoder{
		{FFmpeg: "ffmpeg", Width: 64, Height: 48, FPS: 10},                                    // no callback
		{FFmpeg: "ffmpeg", Width: 63, Height: 48, FPS: 10, OnAccessUnit: func(AccessUnit) {}}, // odd
		{FFmpeg: "ffmpeg", Width: 64, Height: 48, FPS: 0, OnAccessUnit: func(AccessUnit) {}},  // no rate
		{FFmpeg: "/nonexistent/ffmpeg", Width: 64, Height: 48, FPS: 10, OnAccessUnit: func(AccessUnit) {}},
	} {
		if err := e.Initialize(); err == nil {
			e.Close()
			t.Errorf("%+v initialized", e)
		}
	}
}
