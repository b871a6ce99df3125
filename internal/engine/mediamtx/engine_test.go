package mediamtx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// testKind is a MediaMTX kind that installs from the mirror (file://) into
// a temporary data dir and runs this test binary as its hook.
func testKind(t *testing.T) *Kind {
	t.Helper()
	mirror := realMirror(t)
	data := t.TempDir()
	env := map[string]string{"TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL": "file://" + mirror}
	return &Kind{
		Version:        func() string { return version },
		DataRuntimeDir: filepath.Join(data, "runtime"),
		RuntimeDir:     filepath.Join(data, "runtime", "streaming"),
		Hook:           []string{os.Args[0], HookCommand},
		Getenv:         func(k string) string { return env[k] },
	}
}

func testPath(name string) engine.Path {
	user, pass := engine.PublishCredentials([]byte("test secret"), name)
	return engine.Path{Name: name, PublishUser: user, PublishPass: pass}
}

func publishURL(port int, p engine.Path) string {
	u := url.URL{Scheme: "rtsp", User: url.UserPassword(p.PublishUser, p.PublishPass), Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/" + p.Name}
	return u.String()
}

// startPublisher runs an ffmpeg test-pattern publisher into url, ended by
// the cleanup at the latest.
func startPublisher(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15",
		"-f", "rtsp", "-rtsp_transport", "tcp", url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// plays reports whether url decodes as H.264 over RTSP/TCP.
func plays(t *testing.T, url string) error {
	codec, err := probe(t, url)
	if err != nil || codec != "h264" {
		return fmt.Errorf("%v: %q", err, codec)
	}
	return nil
}

// The MediaMTX engine end to end: downloaded from the mirror, the first
// read of an idle path is held while the demand it raises starts a
// publisher, a path added live plays without a new process, and Close
// frees the ports.
func TestEngineHoldsFirstReadAndChangesPathsLive(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	k := testKind(t)
	p := testutil.FreePorts(t, 4)
	ports := model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
	yard := testPath("yard")
	eng := k.New(engine.RunConfig{BindHost: "127.0.0.1", Ports: ports, Paths: []engine.Path{yard}, RuntimeDir: k.RuntimeDir, ReaderHoldTimeout: 10 * time.Second})
	if err := eng.Initialize(); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			eng.Close()
		}
	}()
	pid := eng.PID()
	if pid == 0 || eng.LogPath() == "" {
		t.Fatalf("pid %d, log %q", pid, eng.LogPath())
	}

	// A reader of the idle path: MediaMTX holds it and runs our hook.
	read := make(chan error, 1)
	go func() { read <- plays(t, fmt.Sprintf("rtsp://127.0.0.1:%d/yard", ports.RTSP)) }()
	select {
	case ev := <-eng.Demand():
		if ev != (engine.DemandEvent{Path: "yard", Demanded: true}) {
			t.Fatalf("demand event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no demand event for a held reader")
	}
	startPublisher(t, publishURL(ports.RTSP, yard))
	if err := <-read; err != nil {
		t.Fatalf("the held first read failed: %v", err)
	}

	// A path added live plays; the process is the same, and its config
	// file is not rewritten (MediaMTX would reload it).
	filed, err := os.ReadFile(k.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	dock := testPath("dock")
	eng.SetPaths([]engine.Path{yard, dock})
	startPublisher(t, publishURL(ports.RTSP, dock))
	testutil.Eventually(t, 15*time.Second, "the new path playing", func() bool {
		return plays(t, fmt.Sprintf("rtsp://127.0.0.1:%d/dock", ports.RTSP)) == nil
	})
	if eng.PID() != pid {
		t.Errorf("adding a path restarted MediaMTX (pid %d -> %d)", pid, eng.PID())
	}
	if now, _ := os.ReadFile(k.ConfigPath()); string(now) != string(filed) {
		t.Error("the config file was rewritten on a live change")
	}

	// MediaMTX killed: the supervisor restarts it from the file, and the
	// live change is applied again.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "MediaMTX restarted", func() bool { return eng.PID() != 0 && eng.PID() != pid })
	if now, _ := os.ReadFile(k.ConfigPath()); !strings.Contains(string(now), "dock") {
		t.Error("the restarted MediaMTX's config lacks the path added live")
	}
	// A publisher refused while the path is not back yet exits: try anew.
	testutil.Eventually(t, 20*time.Second, "the live path back after the restart", func() bool {
		pub := startPublisher(t, publishURL(ports.RTSP, dock))
		defer func() { _ = pub.Process.Kill() }()
		return plays(t, fmt.Sprintf("rtsp://127.0.0.1:%d/dock", ports.RTSP)) == nil
	})
	if r, ok := eng.(engine.Supervised); !ok || r.Restarts() != 1 || r.LastError() == "" {
		t.Errorf("supervised: %v", eng)
	}
	eng.Close()
	closed = true
	if pids := strays(k.ConfigPath(), 0); len(pids) != 0 {
		t.Errorf("MediaMTX still runs after Close: %v", pids)
	}
}

// hlsMedia is the first media playlist of a path's HLS index, "" while
// MediaMTX has none to give.
func hlsMedia(base string) string {
	get := func(u string) string {
		res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(u)
		if err != nil {
			return ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return ""
		}
		return string(b)
	}
	for _, l := range strings.Split(get(base+"index.m3u8"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return get(base + l)
		}
	}
	return ""
}

// engine.hls_variant on MediaMTX: served as configured at start, changed
// live through the API (no new process, no config rewrite), and the
// Low-Latency playlist has parts and blocking reloads and plays.
func TestEngineHLSVariantLive(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	k := testKind(t)
	p := testutil.FreePorts(t, 4)
	ports := model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
	yard := testPath("yard")
	eng := k.New(engine.RunConfig{BindHost: "127.0.0.1", Ports: ports, Paths: []engine.Path{yard}, RuntimeDir: k.RuntimeDir, HLSVariant: model.HLSMPEGTS})
	if err := eng.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	pid := eng.PID()
	startPublisher(t, publishURL(ports.RTSP, yard))
	base := fmt.Sprintf("http://127.0.0.1:%d/yard/", ports.HLS)
	var media string
	testutil.Eventually(t, 20*time.Second, "an mpegts playlist", func() bool {
		media = hlsMedia(base)
		return strings.Contains(media, ".ts")
	})
	if strings.Contains(media, "#EXT-X-PART:") {
		t.Fatalf("mpegts playlist with parts:\n%s", media)
	}
	filed, err := os.ReadFile(k.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}

	eng.SetHLSVariant(model.HLSLowLatency)
	testutil.Eventually(t, 20*time.Second, "a Low-Latency playlist", func() bool {
		media = hlsMedia(base)
		return strings.Contains(media, "#EXT-X-PART:") && strings.Contains(media, "CAN-BLOCK-RELOAD=YES")
	})
	if eng.PID() != pid {
		t.Errorf("the variant change restarted MediaMTX (pid %d -> %d)", pid, eng.PID())
	}
	if now, _ := os.ReadFile(k.ConfigPath()); string(now) != string(filed) {
		t.Error("the config file was rewritten on a live change")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "csv=p=0", base+"index.m3u8").CombinedOutput()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), "h264") {
		t.Fatalf("ffprobe of the Low-Latency stream: %q %v", out, err)
	}
}
