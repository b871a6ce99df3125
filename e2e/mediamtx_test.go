package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// newMediaMTXFixture is a service whose engine is MediaMTX, installed from
// the release-shaped mirror through the real download code, with one
// transmission with one RTSP output.
func newMediaMTXFixture(t *testing.T, transmission string) *runtimeFixture {
	t.Helper()
	testutil.RequireFFmpegAndFFprobe(t)
	mirror := testutil.MediaMTXMirror(t)
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://"+mirror)
	p := testutil.FreePorts(t, 4)
	if status, out := s.call("PATCH", "/settings", fmt.Sprintf(`{"engine":{"kind":"mediamtx","enabled":true,"preferred_ports":{"rtsp":%d,"hls":%d,"webrtc":%d,"api":%d}}}`, p[0], p[1], p[2], p[3])); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	testutil.Eventually(t, 60*time.Second, "MediaMTX downloaded and running", func() bool {
		_, out := s.call("GET", "/engine/status", "")
		return out.(map[string]any)["running"] == true
	})
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

func (f *runtimeFixture) engineStatus() map[string]any {
	_, out := f.call("GET", "/engine/status", "")
	return out.(map[string]any)
}

// The spec's quickstart on MediaMTX: a writer's red frames are red at the
// reader, whose first read of the idle output succeeds; a second
// transmission created while it watches does not disturb it (same MediaMTX
// process); kill -9 of MediaMTX recovers.
func TestMediaMTXEngine(t *testing.T) {
	f := newMediaMTXFixture(t, fmt.Sprintf(smallOutput, "front-door", "gray", "priority_latest"))
	st := f.engineStatus()
	pid, _ := st["pid"].(float64)
	if st["kind"] != "mediamtx" || st["binary_path"] == nil || st["config_path"] == nil || st["log_path"] == nil || pid == 0 || int(pid) == f.cmd.Process.Pid {
		t.Fatalf("status %v", st)
	}
	stopWriting := f.keepWriting("red", rgb{220, 20, 20}, "")
	defer stopWriting()
	if c := f.centre(f.current()); !c.near(rgb{220, 20, 20}, 40) {
		t.Fatalf("the reader sees %v, want red", c)
	}

	reader := startReader(t, f.rtspURL, f.w, f.h)
	testutil.Eventually(t, 15*time.Second, "the reader decoding", func() bool { return reader.frames() > 5 })
	created := time.Now()
	if status, out := f.call("POST", "/transmissions", fmt.Sprintf(smallOutput, "back-door", "gray", "priority_latest")); status != 200 {
		t.Fatalf("second transmission: %d %v", status, out)
	}
	testutil.Eventually(t, 5*time.Second, "3 s of reading after the change", func() bool { return time.Since(created) > 3*time.Second })
	if gap := reader.longestGapSince(created); gap > time.Second {
		t.Errorf("the reader had a %v gap while a transmission was added", gap)
	}
	if now := f.engineStatus()["pid"]; now != st["pid"] {
		t.Errorf("adding a transmission restarted MediaMTX (pid %v -> %v)", st["pid"], now)
	}
	reader.stop()

	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "MediaMTX back after kill -9", func() bool {
		p, _ := f.engineStatus()["pid"].(float64)
		return p != 0 && p != pid
	})
	if c := f.centre(f.current()); !c.near(rgb{220, 20, 20}, 40) {
		t.Fatalf("after the crash the reader sees %v, want red", c)
	}
	if n, _ := f.engineStatus()["restart_count"].(float64); n < 1 {
		t.Errorf("restart_count %v after a crash", n)
	}
}
