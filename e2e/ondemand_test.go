package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// pictureReader is an ffmpeg RTSP reader that decodes until stopped and
// notes when it decoded its first frame and its first frame that is not
// the flat gray placeholder (the pipeline's picture). It outputs frames as
// soon as it decodes them (-fpsprobesize 0, as bench/runtime's first-frame
// reader): stock ffmpeg first waits for 20 frames' timestamps.
type pictureReader struct {
	*frameReader
	frame   chan time.Duration // first decoded frame, after the start
	picture chan time.Duration // first non-placeholder frame, after the start
}

func readPictures(t *testing.T, url string, w, h int) *pictureReader {
	t.Helper()
	r := &pictureReader{frame: make(chan time.Duration, 1), picture: make(chan time.Duration, 1)}
	started := time.Now()
	first, pictured := true, false
	r.frameReader = startDecoderFunc(t, []string{"-flags", "low_delay", "-fpsprobesize", "0", "-rtsp_transport", "tcp", "-i", url}, w, h, func(frame []byte) {
		if first {
			r.frame <- time.Since(started)
			first = false
		}
		if !pictured && !flatGray(frame) {
			r.picture <- time.Since(started)
			pictured = true
		}
	})
	return r
}

// flatGray reports whether most of an rgb24 frame is the gray placeholder.
func flatGray(frame []byte) bool {
	grayish := 0
	for i := 0; i+2 < len(frame); i += 3 {
		if (rgb{int(frame[i]), int(frame[i+1]), int(frame[i+2])}).near(gray, 12) {
			grayish++
		}
	}
	return grayish*2 > len(frame)/3
}

// Issue 14 item 4: an on_demand pipeline nobody watches rests: no camera
// session (camera_sessions 0, no consumers), no decoder or test-scene
// ffmpeg, status resting rather than failed; a viewer wakes it and gets the
// pipeline's picture (not only the placeholder) within 3 s; when the viewer
// leaves it rests again after the stop debounce. An always pipeline keeps
// running with nobody watching.
func TestOnDemandPipelineRestsAndWakes(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { onDemandRestsAndWakes(t, kind, env) })
	}
}

func onDemandRestsAndWakes(t *testing.T, kind string, env []string) {
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{})
	s := startService(t, t.TempDir(), env...)
	s.runEngine(kind, testutil.FreePorts(t, 4))
	if status, out := s.call("PATCH", "/settings", `{"runtime":{"stop_debounce_seconds":1}}`); status != 200 {
		t.Fatalf("patch: %d %v", status, out)
	}
	for _, c := range []string{
		fmt.Sprintf(`{"id":"ipcam","url":%q}`, cam.URL),
		`{"id":"scene","url":"testsrc","fps":10}`,
		`{"id":"steady","url":"testsrc","fps":5}`, // another scene ffmpeg: the always pipeline's
	} {
		if status, out := s.call("POST", "/../cameras", c); status != 200 {
			t.Fatalf("camera %s: %d %v", c, status, out)
		}
	}
	lazyCam := s.fixtureFor(fmt.Sprintf(smallOutput, "lazy-cam", "gray", "priority_latest"))
	lazyScene := s.fixtureFor(fmt.Sprintf(smallOutput, "lazy-scene", "gray", "priority_latest"))
	busy := s.fixtureFor(fmt.Sprintf(smallOutput, "busy", "gray", "priority_latest"))
	addPipeline := func(name, mode, camera, tid string) {
		body := fmt.Sprintf(`{"name":%q,"run_mode":%q,"graph":{"nodes":[
		  {"id":"source","type":"camera.source","config":{"camera_id":%q}},
		  {"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q,"bypass_mode":"force_off"}}],
		 "edges":[{"from":{"node":"source","port":"out"},"to":{"node":"stream","port":"in"}}]}}`, name, mode, camera, tid)
		if status, out := s.call("POST", "/../pipelines", body); status != 200 {
			t.Fatalf("pipeline %s: %d %v", name, status, out)
		}
	}
	addPipeline("lazy_cam", "on_demand", "ipcam", lazyCam.id)
	addPipeline("lazy_scene", "on_demand", "scene", lazyScene.id)
	addPipeline("busy", "always", "steady", busy.id)

	sessions := `toposync_streaming_camera_sessions{camera="ipcam"}`
	atRest := func(what string) {
		t.Helper()
		testutil.Eventually(t, 15*time.Second, what, func() bool {
			for _, name := range []string{"lazy_cam", "lazy_scene"} {
				if st := s.pipelineStatus(name); st["state"] != "resting" || st["running"] != false || st["last_error"] != nil {
					return false
				}
			}
			consumers, _ := s.cameraStatus("ipcam")["consumers"].([]any)
			return len(consumers) == 0 && cam.Readers() == 0 && len(s.decoders()) == 0 && len(sceneProcesses(t, s.cmd.Process.Pid)) == 1
		})
		s.metric(sessions, what+": no camera session", func(v float64) bool { return v == 0 })
		testutil.Eventually(t, 10*time.Second, what+": the always pipeline running with frames", func() bool {
			st := s.pipelineStatus("busy")
			return st["state"] == "running" && st["fps_in"].(float64) > 0
		})
	}
	atRest("on_demand pipelines resting before anyone watches")

	// Each is woken twice: the first wake also waits for the service's
	// encoder probe (it just started), the second is what a viewer of a
	// settled service sees. The always pipeline's transmission is read
	// too: its encoder starts cold as well, but its pipeline runs, which
	// gives what waking the pipeline adds.
	type wake struct {
		f        *runtimeFixture
		pipeline string
		rtsp     bool
	}
	cases := []wake{{lazyCam, "lazy_cam", true}, {lazyScene, "lazy_scene", false}, {busy, "busy", false}}
	for round, c := range append(cases, cases...) {
		r := readPictures(t, c.f.rtspURL, c.f.w, c.f.h)
		var picture time.Duration
		select {
		case picture = <-r.picture:
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: no pipeline picture 3 s after the viewer connected", c.pipeline)
		}
		first := <-r.frame // came before the picture
		t.Logf("%s (%s, wake %d): first frame %v, first pipeline frame %v after the reader started", c.pipeline, kind, round/len(cases)+1, first.Round(time.Millisecond), picture.Round(time.Millisecond))
		if st := s.pipelineStatus(c.pipeline); st["state"] != "running" || st["running"] != true {
			t.Errorf("%s watched: %v", c.pipeline, st)
		}
		switch {
		case c.pipeline == "busy":
		case c.rtsp:
			s.metric(sessions, "the woken pipeline's camera session", func(v float64) bool { return v == 1 })
			if n := len(s.decoders()); n != 1 {
				t.Errorf("%d camera decoders while watched, want 1", n)
			}
		default:
			if n := len(sceneProcesses(t, s.cmd.Process.Pid)); n != 2 {
				t.Errorf("%d test-scene ffmpegs while watched, want 2 (the always one and the woken one)", n)
			}
		}
		r.stop()
		atRest(c.pipeline + "'s viewer gone: the on_demand pipelines rest")
	}
	if n := cam.SessionsOpened(); n != 2 {
		t.Errorf("the camera served %d sessions, want 2 (one per wake)", n)
	}
}
