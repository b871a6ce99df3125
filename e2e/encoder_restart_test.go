package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// Issue 12: when an encoder died, its RTSP publish session died with it and
// every viewer of the path was disconnected. The service now holds the
// publish session (the engine sink): kill -9 of the encoder leaves RTSP,
// HLS and WHEP readers connected, and new frames reach them, on both
// engines.
func TestReadersSurviveAKilledEncoder(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { readersSurviveAKilledEncoder(t, kind, env) })
	}
}

func readersSurviveAKilledEncoder(t *testing.T, kind string, env []string) {
	s := startService(t, t.TempDir(), env...)
	st := s.runEngine(kind, testutil.FreePorts(t, 4))
	f := s.fixtureFor(fmt.Sprintf(smallOutput, "cam", "gray", "priority_latest"))
	stop := f.keepWriting("pipe:red", red, "")
	defer stop()
	ports := st["ports"].(map[string]any)
	hlsURL := fmt.Sprintf("http://127.0.0.1:%d/cam/index.m3u8", int(ports["hls"].(float64)))
	whepURL := fmt.Sprintf("http://127.0.0.1:%d/cam/whep", int(ports["webrtc"].(float64)))

	rtsp := startReader(t, f.rtspURL, f.w, f.h)
	testutil.Eventually(t, 30*time.Second, "the RTSP reader decoding", func() bool { return rtsp.frames() > 5 })
	hls := startDecoder(t, []string{"-i", hlsURL}, f.w, f.h)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := whep.Dial(ctx, whepURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	testutil.Eventually(t, 30*time.Second, "the HLS and WHEP readers decoding", func() bool {
		return hls.frames() > 3 && sess.Stats().Frames > 3
	})

	pid := int(f.output()["publisher_pid"].(float64))
	whepBefore := sess.Stats().Frames
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	testutil.Eventually(t, 5*time.Second, "a new encoder", func() bool {
		p, ok := f.output()["publisher_pid"].(float64)
		return ok && int(p) != pid
	})
	// Frames come again within 1.5 s of the kill, on every reader's session.
	testutil.Eventually(t, 10*time.Second, "RTSP and WHEP frames after the kill", func() bool {
		return rtsp.framesSince(killed.Add(200*time.Millisecond)) > 3 && sess.Stats().Frames > whepBefore+3
	})
	if gap := rtsp.longestGapSince(killed.Add(-time.Second)); gap > 1500*time.Millisecond {
		t.Errorf("the RTSP reader waited %v for frames across the restart, want at most 1.5 s", gap)
	}
	testutil.Eventually(t, 15*time.Second, "HLS frames after the kill", func() bool { return hls.framesSince(killed.Add(time.Second)) > 3 })
	for name, r := range map[string]*frameReader{"RTSP": rtsp, "HLS": hls} {
		if r.ended() {
			t.Errorf("the %s reader's session ended", name)
		}
	}
	if c := f.centre(f.current()); !c.near(red, 40) {
		t.Errorf("after the restart: %v, want red", c)
	}
}

// Issue 12: publish credentials, viewer passwords and camera passwords sat
// in ffmpeg's argv (/proc/<pid>/cmdline), and children inherited the
// service's environment with its API credentials. While outputs with a
// read password play on both engines and a pipeline reads a
// password-protected RTSP camera, no child's argv or environment holds a
// secret.
func TestNoSecretInChildren(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "camuser", Password: "cam-secret-pw"})
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) {
			env = append(env, "TOPOSYNC_STREAMING_API_TOKEN=api-secret-token", "TOPOSYNC_STREAMING_SYNC_BEARER_TOKEN=sync-secret-token")
			s := startService(t, t.TempDir(), env...)
			st := s.runEngine(kind, testutil.FreePorts(t, 4))
			f := s.fixtureFor(`{"name":"V","path":"vault","outputs":[{"id":"main","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low","authentication":{"enabled":true,"username":"viewer","password":"viewer-secret-pw"}}]}`)
			stop := f.keepWriting("pipe:red", red, "")
			defer stop()
			u, err := url.Parse(f.rtspURL)
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.UserPassword("viewer", "viewer-secret-pw")
			rtsp := startReader(t, u.String(), f.w, f.h)
			testutil.Eventually(t, 30*time.Second, "the protected output playing", func() bool { return rtsp.frames() > 3 })
			// The engine's test pattern runs too.
			pattern := startReader(t, st["urls"].(map[string]any)["rtsp_url"].(string), 640, 360)
			testutil.Eventually(t, 30*time.Second, "the test pattern playing", func() bool { return pattern.frames() > 3 })
			// And a pipeline decoding a password-protected camera.
			if status, out := s.call("POST", "/../cameras", fmt.Sprintf(`{"id":"ipcam","url":%q,"username":"camuser","password":"cam-secret-pw"}`, cam.URL)); status != 200 {
				t.Fatalf("camera: %d %v", status, out)
			}
			s.addCameraPipeline("camera_reader", "ipcam", f.id, 160, 120)
			testutil.Eventually(t, 30*time.Second, "the camera pipeline delivering frames", func() bool {
				fps, _ := s.pipelineStatus("camera_reader")["fps_in"].(float64)
				return fps > 0 && len(s.decoders()) == 1
			})

			secrets := []string{"api-secret-token", "sync-secret-token", "viewer-secret-pw", "cam-secret-pw", "camuser", "rtsp://", "rtsps://"}
			children := testutil.Descendants(t, s.cmd.Process.Pid)
			if len(children) < 3 {
				t.Fatalf("only %d child processes found (encoders, test pattern, engine, camera decoder)", len(children))
			}
			for _, pid := range children {
				for _, file := range []string{"cmdline", "environ"} {
					raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
					if err != nil {
						continue // exited meanwhile
					}
					text := strings.ReplaceAll(string(raw), "\x00", " ")
					for _, secret := range secrets {
						if strings.Contains(text, secret) {
							t.Errorf("process %d's %s holds %q: %.300s", pid, file, secret, text)
						}
					}
				}
			}
		})
	}
}
