package camerahub

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// startHub starts a hub with real ffmpeg and short reconnect delays; the
// test's cleanup closes it.
func startHub(t *testing.T) *Hub {
	t.Helper()
	testutil.RequireFFmpeg(t)
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{FFmpeg: bin, LogDir: t.TempDir(), BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// counter reads a subscription's frames in the background and counts them
// by size.
type counter struct {
	mu     sync.Mutex
	sizes  map[[2]int]int
	last   time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

func count(t *testing.T, f *Frames) *counter {
	ctx, cancel := context.WithCancel(context.Background())
	c := &counter{sizes: map[[2]int]int{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			fr, err := f.Next(ctx)
			if err != nil {
				return
			}
			if len(fr.Data) != fr.Width*fr.Height*3 {
				t.Errorf("frame %dx%d with %d bytes", fr.Width, fr.Height, len(fr.Data))
			}
			c.mu.Lock()
			c.sizes[[2]int{fr.Width, fr.Height}]++
			c.last = time.Now()
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

func (c *counter) n(w, h int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sizes[[2]int{w, h}]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.sizes {
		n += v
	}
	return n
}

// decoderPIDs are the ffmpeg decoders this test process runs now.
func decoderPIDs(t *testing.T) []int {
	t.Helper()
	return childrenWith(t, []byte("mpegts\x00-i\x00pipe:0"))
}

// childrenWith are this test process's children whose command line holds
// marker.
func childrenWith(t *testing.T, marker []byte) []int {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, stat := range stats {
		raw, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(fields) < 2 || fields[1] != self {
			continue
		}
		dir := filepath.Dir(stat)
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		if bytes.Contains(cmdline, marker) {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// Issue 12 item 3: three pipelines on one camera were three RTSP sessions
// and three decoders. Through the hub, four consumers (two at 160x120,
// one at the camera's size, one of the compressed stream) make one
// session and two decoders, and each gets its own size.
func TestOneSessionForManyConsumers(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	var counters []*counter
	for i, size := range [][2]int{{160, 120}, {160, 120}, {0, 0}} {
		f, err := h.Frames(src, "consumer "+strconv.Itoa(i), FrameOptions{Width: size[0], Height: size[1]})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		counters = append(counters, count(t, f))
	}
	units, err := h.AccessUnits(src, "bypass")
	if err != nil {
		t.Fatal(err)
	}
	defer units.Close()
	testutil.Eventually(t, 15*time.Second, "frames for every consumer", func() bool {
		return counters[0].n(160, 120) > 5 && counters[1].n(160, 120) > 5 && counters[2].n(320, 240) > 5
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, err := units.Next(ctx)
	if err != nil || !first.IDR {
		t.Errorf("first access unit: IDR %v, err %v", first.IDR, err)
	}
	if cam.SessionsOpened() != 1 || cam.Readers() != 1 {
		t.Errorf("the camera served %d sessions, %d playing now; want 1 and 1", cam.SessionsOpened(), cam.Readers())
	}
	if pids := decoderPIDs(t); len(pids) != 2 {
		t.Errorf("%d decoders run (%v), want 2: one per size", len(pids), pids)
	}
	testutil.Eventually(t, 5*time.Second, "the camera's rate measured", func() bool { return h.Status(src).FPS >= 10 })
	st := h.Status(src)
	if !st.Connected || st.SessionsOpened != 1 || len(st.Consumers) != 4 || len(st.Decoders) != 2 || st.Width != 320 || st.Height != 240 {
		t.Fatalf("status %+v", st)
	}
	if st.BitrateKbps <= 0 {
		t.Errorf("bitrate %v kbps", st.BitrateKbps)
	}
	small, own := st.Decoders[0], st.Decoders[1]
	if small.Width != 160 || small.Consumers != 2 || own.Width != 320 || !own.OwnSize || own.Consumers != 1 || !small.Running || !own.Running {
		t.Errorf("decoders %+v", st.Decoders)
	}
	t.Logf("decoder latency (access unit written to frame read, median): 160x120 %.1f ms, 320x240 %.1f ms", small.LatencyMS, own.LatencyMS)
}

// The session closes with the last consumer, decoders with theirs; a new
// consumer opens a new session.
func TestSessionClosesWithLastConsumer(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	a, err := h.Frames(src, "a", FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Frames(src, "b", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := count(t, a), count(t, b)
	testutil.Eventually(t, 15*time.Second, "frames", func() bool { return ca.total() > 2 && cb.total() > 2 })
	b.Close()
	if pids := decoderPIDs(t); len(pids) != 1 {
		t.Errorf("after one of two sizes left: decoders %v, want 1", pids)
	}
	if cam.Readers() != 1 {
		t.Errorf("the session closed with a consumer left")
	}
	a.Close()
	if pids := decoderPIDs(t); len(pids) != 0 {
		t.Errorf("decoders %v still run", pids)
	}
	testutil.Eventually(t, 5*time.Second, "the camera's session closed", func() bool { return cam.Readers() == 0 })
	if st := h.Status(src); st.Connected || len(st.Consumers) != 0 || len(st.Decoders) != 0 || st.SessionsOpened != 1 {
		t.Errorf("status %+v", st)
	}

	c, err := h.Frames(src, "c", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc := count(t, c)
	testutil.Eventually(t, 15*time.Second, "frames again", func() bool { return cc.total() > 2 })
	if n := cam.SessionsOpened(); n != 2 {
		t.Errorf("%d sessions served, want 2", n)
	}
}

// The camera going away and coming back: the hub opens a new session and
// frames resume, through the same decoder (not restarted) and the same
// subscription; the PTS go on increasing.
func TestCameraGoesAwayAndComesBack(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	f, err := h.Frames(src, "pipeline", FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := f.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pids := decoderPIDs(t)

	cam.Stop()
	testutil.Eventually(t, 15*time.Second, "the hub to see the camera gone", func() bool {
		st := h.Status(src)
		return !st.Connected && st.LastError != nil
	})
	if problem, _ := f.Health(); problem == "" {
		t.Error("no problem reported while the camera is away")
	}
	t.Logf("while away: %q", *h.Status(src).LastError)

	cam.Start()
	var after Frame
	for after.PTS <= first.PTS || !h.Status(src).Connected {
		if after, err = f.Next(ctx); err != nil {
			t.Fatalf("no frame after the camera came back: %v (status %+v)", err, h.Status(src))
		}
	}
	st := h.Status(src)
	if st.SessionsOpened != 2 || cam.Readers() != 1 {
		t.Errorf("sessions opened %d, camera readers %d", st.SessionsOpened, cam.Readers())
	}
	if got := decoderPIDs(t); !slices.Equal(got, pids) || st.Decoders[0].Restarts != 0 {
		t.Errorf("decoder %v became %v (restarts %d): it should have waited", pids, got, st.Decoders[0].Restarts)
	}
	if problem, restarts := f.Health(); problem != "" || restarts != 0 {
		t.Errorf("health after the return: %q, %d restarts", problem, restarts)
	}
}

// Wrong credentials: the status says so (and what to check), never with
// the password; the right ones play.
func TestBadCredentials(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "admin", Password: "right-pass"})
	h := startHub(t)
	bad := Source{URL: cam.URL, Username: "admin", Password: "wrong-pass"}
	f, err := h.Frames(bad, "pipeline", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	testutil.Eventually(t, 10*time.Second, "an error", func() bool { return h.Status(bad).LastError != nil })
	st := h.Status(bad)
	if msg := *st.LastError; !strings.Contains(msg, "401") || !strings.Contains(msg, "username and password") || strings.Contains(msg, "wrong-pass") {
		t.Errorf("last error %q", msg)
	}
	if problem, _ := f.Health(); problem != *st.LastError {
		t.Errorf("health %q", problem)
	}
	if st.Connected || cam.SessionsOpened() != 0 {
		t.Errorf("connected %v with bad credentials, %d sessions", st.Connected, cam.SessionsOpened())
	}

	good := Source{URL: cam.URL, Username: "admin", Password: "right-pass"}
	g, err := h.Frames(good, "pipeline 2", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cg := count(t, g)
	testutil.Eventually(t, 15*time.Second, "frames with the right password", func() bool { return cg.total() > 2 })
}

// Frame-rate limits are per consumer, in Go: a 15 fps camera gives 5 fps
// to one consumer and all its frames to another of the same decoder.
func TestFPSLimitPerConsumer(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	slow, err := h.Frames(src, "slow", FrameOptions{Width: 160, Height: 120, FPS: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	all, err := h.Frames(src, "all", FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	cs, ca := count(t, slow), count(t, all)
	testutil.Eventually(t, 15*time.Second, "frames", func() bool { return ca.total() > 0 && cs.total() > 0 })
	s0, a0 := cs.total(), ca.total()
	time.Sleep(3 * time.Second) // a measuring window, not a wait for a condition
	s, a := cs.total()-s0, ca.total()-a0
	if s < 12 || s > 18 || a < 36 {
		t.Errorf("in 3 s: %d frames limited to 5 fps, %d unlimited (camera at 15 fps)", s, a)
	}
	if st := h.Status(src); len(st.Decoders) != 1 {
		t.Errorf("decoders %+v", st.Decoders)
	}
}

func TestRateLimitSlots(t *testing.T) {
	l := rateLimit{fps: 10}
	kept := 0
	for i := range 250 { // 10 s at 25 fps
		if l.keep(time.Duration(i) * 40 * time.Millisecond) {
			kept++
		}
	}
	if kept != 100 {
		t.Errorf("kept %d of 250 frames at 25 fps limited to 10 over 10 s, want 100", kept)
	}
}

// A decoder's ffmpeg killed is restarted by its supervision; the
// camera's session stays and frames resume.
func TestDecoderRestartsWhenKilled(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	f, err := h.Frames(src, "pipeline", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := count(t, f)
	testutil.Eventually(t, 15*time.Second, "frames", func() bool { return c.total() > 2 })
	pids := decoderPIDs(t)
	if len(pids) != 1 {
		t.Fatalf("decoders %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a new decoder", func() bool {
		now := decoderPIDs(t)
		return len(now) == 1 && now[0] != pids[0]
	})
	n := c.total()
	testutil.Eventually(t, 10*time.Second, "frames again", func() bool { return c.total() > n+2 })
	if _, restarts := f.Health(); restarts != 1 || cam.SessionsOpened() != 1 {
		t.Errorf("decoder restarts %d, camera sessions %d", restarts, cam.SessionsOpened())
	}
}

// A new SPS size replaces a decoder at the camera's own size (its frames
// take the new size) and a scaling one alike, within the same session.
func TestSizeChangeReplacesDecoders(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	h := startHub(t)
	src := Source{URL: cam.URL}
	own, err := h.Frames(src, "own", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	scaled, err := h.Frames(src, "scaled", FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer scaled.Close()
	co, cs := count(t, own), count(t, scaled)
	testutil.Eventually(t, 15*time.Second, "frames", func() bool { return co.n(320, 240) > 2 && cs.n(160, 120) > 2 })
	cam.SetSource("testsrc=size=480x270:rate=15")
	testutil.Eventually(t, 15*time.Second, "frames of the new size", func() bool { return co.n(480, 270) > 2 })
	n := cs.n(160, 120)
	testutil.Eventually(t, 10*time.Second, "scaled frames go on", func() bool { return cs.n(160, 120) > n+2 })
	st := h.Status(src)
	if st.Width != 480 || st.Height != 270 || st.SessionsOpened != 1 {
		t.Errorf("status %+v", st)
	}
	for _, d := range st.Decoders {
		if d.Restarts != 1 {
			t.Errorf("decoder %dx%d: %d restarts, want 1 (replaced)", d.Width, d.Height, d.Restarts)
		}
	}
}

// The decoder hands a frame on as soon as ffmpeg decoded it: without the
// trailing AUD, the extra PES and -threads 1 for the rawvideo encoder it
// held each frame back by one to three frame intervals (67 ms each at
// 15 fps).
func TestDecoderAddsLessThanAFrameInterval(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Source: "testsrc=size=640x360:rate=15"})
	h := startHub(t)
	src := Source{URL: cam.URL}
	f, err := h.Frames(src, "pipeline", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := count(t, f)
	testutil.Eventually(t, 20*time.Second, "64 frames", func() bool { return c.total() >= 64 })
	d := h.Status(src).Decoders[0]
	t.Logf("640x360 decoder: median latency %.1f ms over the last 64 frames", d.LatencyMS)
	if d.LatencyMS <= 0 || d.LatencyMS > 50 {
		t.Errorf("median decoder latency %.1f ms, want under 50 (a frame interval is 67)", d.LatencyMS)
	}
}

// rtsps: the first certificate is pinned; a camera that comes back with
// another is refused, and the status says why.
func TestRTSPSCertificateIsPinned(t *testing.T) {
	first, second := testutil.SelfSignedCert(t), testutil.SelfSignedCert(t)
	cfg := func(c testutil.TestCert) *tls.Config {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{TLS: cfg(first)})
	h := startHub(t)
	src := Source{URL: cam.URL}
	f, err := h.Frames(src, "pipeline", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := count(t, f)
	testutil.Eventually(t, 15*time.Second, "frames over rtsps", func() bool { return c.total() > 2 })
	cam.Stop()
	cam.SetTLS(cfg(second))
	cam.Start()
	testutil.Eventually(t, 10*time.Second, "the new certificate refused", func() bool {
		st := h.Status(src)
		return st.LastError != nil && strings.Contains(*st.LastError, "certificate changed")
	})
	if cam.SessionsOpened() != 1 {
		t.Errorf("%d sessions served: the hub played with an unknown certificate", cam.SessionsOpened())
	}
}

func TestRefusedInput(t *testing.T) {
	h := startHub(t)
	for _, u := range []string{"http://cam/x", "rtsp:///x", "file:/etc/passwd", "rtsp://u:p@cam/x"} {
		if _, err := h.Frames(Source{URL: u}, "x", FrameOptions{}); err == nil || strings.Contains(err.Error(), u) {
			t.Errorf("%q: %v", u, err)
		}
	}
	if _, err := h.Frames(Source{URL: "rtsp://cam/x"}, "x", FrameOptions{Width: 10}); err == nil {
		t.Error("width without height accepted")
	}
	none := &Hub{FFmpegErr: os.ErrNotExist}
	if err := none.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if _, err := none.Frames(Source{URL: "rtsp://cam/x"}, "x", FrameOptions{}); err != os.ErrNotExist {
		t.Errorf("without ffmpeg: %v", err)
	}
}

// A decoder's command line names no URL, host or network protocol: only
// its pipes.
func TestDecoderArgsOpenOnlyPipes(t *testing.T) {
	for _, args := range [][]string{decoderArgs(0, 0, "warning"), decoderArgs(640, 360, "info")} {
		line := strings.Join(args, " ")
		for _, bad := range []string{"rtsp", "tcp", "udp", "http", "://", "@"} {
			if strings.Contains(line, bad) {
				t.Errorf("%q holds %q", line, bad)
			}
		}
		if !strings.Contains(line, "-protocol_whitelist pipe -f mpegts -i pipe:0") || !strings.HasSuffix(line, "pipe:1") {
			t.Errorf("args %q", line)
		}
	}
}

// A probe (the API's connection test) reports only a failure of its own
// attempt, and a camera only probes read is forgotten with its last probe:
// no record, last error or credential stays; a pipeline's camera stays.
func TestProbeIsForgotten(t *testing.T) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "admin", Password: "right-pass"})
	h := startHub(t)
	bad := Source{URL: cam.URL, Username: "admin", Password: "wrong-pass"}
	probe := func() string {
		f, err := h.Frames(bad, "connection test", FrameOptions{Probe: true})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var failure string
		testutil.Eventually(t, 10*time.Second, "the probe's failure", func() bool { failure = f.Failure(); return failure != "" })
		return failure
	}
	if failure := probe(); !strings.Contains(failure, "401") {
		t.Fatalf("failure %q", failure)
	}
	if st := h.Status(bad); st.LastError != nil {
		t.Fatalf("a probed camera is remembered: last error %q", *st.LastError)
	}

	// A pipeline's camera keeps its record (and its history) after a probe.
	p, err := h.Frames(bad, "pipeline", FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the pipeline's error", func() bool { return h.Status(bad).LastError != nil })
	p.Close()
	f, err := h.Frames(bad, "connection test", FrameOptions{Probe: true})
	if err != nil {
		t.Fatal(err)
	}
	if failure := f.Failure(); failure != "" {
		t.Errorf("a fresh probe reports the pipeline's old error %q", failure)
	}
	f.Close()
	if st := h.Status(bad); st.LastError == nil {
		t.Error("the pipeline's camera record was forgotten")
	}
}
