package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// addCameraPipeline stores a pipeline reading camera id at width x height
// (0x0: the camera's size) into transmission tid, never bypassed (the
// bridge's bypass still pulls the camera with its own ffmpeg).
func (s *service) addCameraPipeline(name, id, tid string, width, height int) {
	s.t.Helper()
	source := fmt.Sprintf(`{"camera_id":%q}`, id)
	if width > 0 {
		source = fmt.Sprintf(`{"camera_id":%q,"width":%d,"height":%d}`, id, width, height)
	}
	body := fmt.Sprintf(`{"name":%q,"enabled":true,"graph":{"schema_version":1,
	 "nodes":[{"id":"source","type":"camera.source","config":%s},
	          {"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q,"bypass_mode":"force_off"}}],
	 "edges":[{"from":{"node":"source","port":"out"},"to":{"node":"stream","port":"in"}}]}}`, name, source, tid)
	if status, out := s.call("POST", "/../pipelines", body); status != 200 {
		s.t.Fatalf("pipeline %s: %d %v", name, status, out)
	}
}

// pipelineStatus is GET /pipelines/<name>/status.
func (s *service) pipelineStatus(name string) map[string]any {
	_, out := s.call("GET", "/../pipelines/"+name+"/status", "")
	st, _ := out.(map[string]any)
	return st
}

// cameraStatus is the status object of GET /cameras/<id>.
func (s *service) cameraStatus(id string) map[string]any {
	_, out := s.call("GET", "/../cameras/"+id, "")
	cam, _ := out.(map[string]any)
	st, _ := cam["status"].(map[string]any)
	return st
}

// decoders are the service's ffmpeg processes decoding a camera for the
// hub (MPEG-TS on stdin).
func (s *service) decoders() []int {
	var out []int
	for _, pid := range testutil.Descendants(s.t, s.cmd.Process.Pid) {
		if raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(raw), "mpegts\x00-i\x00pipe:0") {
			out = append(out, pid)
		}
	}
	return out
}

// Issue 12 item 3: three pipelines on one RTSP camera opened three RTSP
// sessions (three ffmpeg each pulling the camera with its password in
// argv). Through the camera hub the camera serves exactly one session and
// two decoders run (two pipelines share 320x240); when the camera goes
// away and comes back, the pipelines deliver frames again without any
// pipeline restarting.
func TestThreePipelinesOneCameraSession(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "viewer", Password: "cam-pass-9"})
	s := startService(t, t.TempDir())
	f := s.fixtureFor(fmt.Sprintf(smallOutput, "cam", "black", "priority_latest"))
	if status, out := s.call("POST", "/../cameras", fmt.Sprintf(`{"id":"ipcam","url":%q,"username":"viewer","password":"cam-pass-9"}`, cam.URL)); status != 200 {
		t.Fatalf("camera: %d %v", status, out)
	}
	names := []string{"p_small_a", "p_small_b", "p_full"}
	s.addCameraPipeline(names[0], "ipcam", f.id, 320, 240)
	s.addCameraPipeline(names[1], "ipcam", f.id, 320, 240)
	s.addCameraPipeline(names[2], "ipcam", f.id, 0, 0)
	// delivered counts the frames each pipeline took, by pipeline name.
	delivered := func(st map[string]any) map[string]float64 {
		out := map[string]float64{}
		consumers, _ := st["consumers"].([]any)
		for _, c := range consumers {
			c := c.(map[string]any)
			out[strings.TrimSuffix(strings.TrimPrefix(c["name"].(string), "pipeline "), " node source")] = c["delivered"].(float64)
		}
		return out
	}
	allDeliver := func() bool {
		for _, n := range names {
			if st := s.pipelineStatus(n); st["running"] != true || st["fps_in"].(float64) < 5 {
				return false
			}
		}
		return true
	}
	testutil.Eventually(t, 30*time.Second, "three pipelines delivering frames", allDeliver)
	if n, now := cam.SessionsOpened(), cam.Readers(); n != 1 || now != 1 {
		t.Errorf("the camera served %d sessions (%d playing now), want exactly one", n, now)
	}
	if d := s.decoders(); len(d) != 2 {
		t.Errorf("%d camera decoders run (%v), want 2: one per size", len(d), d)
	}
	sessions := `toposync_streaming_camera_sessions{camera="ipcam"}`
	s.metric(sessions, "the camera's session in /metrics", func(v float64) bool { return v == 1 })
	st := s.cameraStatus("ipcam")
	if consumers, _ := st["consumers"].([]any); st["connected"] != true || len(consumers) != 3 || st["sessions_opened"] != 1.0 {
		t.Errorf("camera status %v", st)
	}

	cam.Stop()
	testutil.Eventually(t, 20*time.Second, "the camera seen gone", func() bool {
		st := s.cameraStatus("ipcam")
		return st["connected"] == false && st["last_error"] != nil
	})
	testutil.Eventually(t, 10*time.Second, "the pipelines without frames", func() bool {
		for _, n := range names {
			if s.pipelineStatus(n)["fps_in"].(float64) != 0 {
				return false
			}
		}
		return true
	})
	s.metric(sessions, "no camera session in /metrics", func(v float64) bool { return v == 0 })
	before := delivered(s.cameraStatus("ipcam"))
	cam.Start()
	back := time.Now()
	testutil.Eventually(t, 30*time.Second, "frames again after the camera came back", func() bool {
		st := s.cameraStatus("ipcam")
		now := delivered(st)
		for _, n := range names {
			if now[n] < before[n]+10 {
				return false
			}
		}
		return st["connected"] == true && allDeliver()
	})
	t.Logf("frames again %v after the camera came back", time.Since(back).Round(100*time.Millisecond))
	for _, n := range names {
		if st := s.pipelineStatus(n); st["restarts"] != 0.0 {
			t.Errorf("pipeline %s restarted: %v", n, st)
		}
	}
	if n, now := cam.SessionsOpened(), cam.Readers(); n != 2 || now != 1 {
		t.Errorf("the camera served %d sessions (%d playing now), want 2 (one before, one after) and 1", n, now)
	}
}
