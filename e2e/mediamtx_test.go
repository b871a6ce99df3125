package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
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
	s.runEngine("mediamtx", testutil.FreePorts(t, 4))
	return s.fixtureFor(transmission)
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
	// Viewers reconnect, as players do.
	testutil.Eventually(t, 15*time.Second, "the output playing again", func() bool { return !strings.HasPrefix(probe(t, f.rtspURL, "-rtsp_transport", "tcp"), "error") })
	if c := f.centre(f.current()); !c.near(rgb{220, 20, 20}, 40) {
		t.Fatalf("after the crash the reader sees %v, want red", c)
	}
	if n, _ := f.engineStatus()["restart_count"].(float64); n < 1 {
		t.Errorf("restart_count %v after a crash", n)
	}
}

// MediaMTX dies with the service, even one killed with SIGKILL. A stray
// MediaMTX of the data dir (started by hand, or left where the kernel has
// no parent-death signal) is stopped by the next engine start, shows in
// orphan_pids, and POST /engine/reclaim stops it.
func TestMediaMTXOrphansAreReclaimed(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	mirror := testutil.MediaMTXMirror(t)
	data := t.TempDir()
	env := "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://" + mirror
	s := startService(t, data, env)
	// all five ports fixed: the second runEngine then changes nothing, so
	// its status is the start beside the stray (a new RTP port would
	// restart the engine, and a restart's warnings are its own)
	p := enginePorts(t, testutil.FreePorts(t, 4))
	first := s.runEngine("mediamtx", p)
	managed := int(first["pid"].(float64))
	s.stop(syscall.SIGKILL)
	testutil.Eventually(t, 5*time.Second, "MediaMTX gone with the killed service", func() bool { return !processAlive(managed) })

	startStray := func() (*exec.Cmd, chan struct{}) {
		stray := exec.Command(first["binary_path"].(string), first["config_path"].(string))
		if err := stray.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = stray.Wait(); close(exited) }()
		t.Cleanup(func() { _ = stray.Process.Kill(); <-exited })
		return stray, exited
	}
	stray, exited := startStray()
	testutil.Eventually(t, 5*time.Second, "the stray holding the RTSP port", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	s = startService(t, data, env)
	st := s.runEngine("mediamtx", p)
	if st["ports"].(map[string]any)["rtsp"] != float64(p[0]) || !strings.Contains(fmt.Sprint(st["warnings"]), "Automatically recovered 1 stale mediamtx process(es)") {
		t.Fatalf("start beside a stray: %v", st)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the stray %d still runs", stray.Process.Pid)
	}

	// A stray with the engine stopped (beside a running engine it would
	// exit at once, its ports taken).
	if status, out := s.call("POST", "/engine/stop", ""); status != 200 {
		t.Fatalf("stop: %d %v", status, out)
	}
	stray, exited = startStray()
	testutil.Eventually(t, 5*time.Second, "the stray in orphan_pids", func() bool {
		_, out := s.call("GET", "/engine/status", "")
		pids, _ := out.(map[string]any)["orphan_pids"].([]any)
		return len(pids) == 1 && pids[0] == float64(stray.Process.Pid)
	})
	status, out := s.call("POST", "/engine/reclaim", "")
	if status != 200 || !strings.Contains(fmt.Sprint(out.(map[string]any)["warnings"]), "Cleaned up 1 stale MediaMTX process(es).") {
		t.Fatalf("reclaim: %d %v", status, out)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the stray still runs after reclaim")
	}
	if status, out := s.call("POST", "/engine/start", ""); status != 200 || out.(map[string]any)["running"] != true {
		t.Fatalf("start after reclaim: %d %v", status, out)
	}
}

// processAlive reports whether pid runs (zombies count as gone).
func processAlive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(raw), ')')
	return i < 0 || i+2 >= len(raw) || raw[i+2] != 'Z'
}

// Switching the kind at run time stops one engine and starts the other on
// the same ports; the publisher follows and the same URL plays.
func TestSwitchEngineKindAtRunTime(t *testing.T) {
	mirror := testutil.MediaMTXMirror(t)
	f := newRuntimeFixture(t, fmt.Sprintf(smallOutput, "switch", "gray", "priority_latest"), "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://"+mirror)
	stopWriting := f.keepWriting("blue", rgb{20, 20, 220}, "")
	defer stopWriting()
	if c := f.centre(f.current()); !c.near(rgb{20, 20, 220}, 40) {
		t.Fatalf("embedded: %v, want blue", c)
	}
	before := f.engineStatus()
	if status, out := f.call("PATCH", "/settings", `{"engine":{"kind":"mediamtx"}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	testutil.Eventually(t, 60*time.Second, "MediaMTX running", func() bool {
		st := f.engineStatus()
		return st["running"] == true && st["kind"] == "mediamtx"
	})
	after := f.engineStatus()
	if fmt.Sprint(after["ports"]) != fmt.Sprint(before["ports"]) {
		t.Errorf("ports moved from %v to %v", before["ports"], after["ports"])
	}
	if c := f.centre(f.current()); !c.near(rgb{20, 20, 220}, 40) {
		t.Fatalf("mediamtx: %v, want blue", c)
	}
}
