package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// Issue 12 item 3: camera answers carry the camera's status from the hub
// (connected, rates, consumers, sessions, decoders) beside every stored
// field, never the password; an answer sent back is accepted as it is.
func TestCameraStatusFromTheHub(t *testing.T) {
	testutil.RequireFFmpeg(t)
	bin, _ := exec.LookPath("ffmpeg")
	cam := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "admin", Password: "cam-s3cret"})
	hub := &camerahub.Hub{FFmpeg: bin}
	if err := hub.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	c := newServerWith(t, "local", func(o *Options) { o.Cameras = hub })
	c.expect(200, "POST", "/../cameras", fmt.Sprintf(`{"id":"ipcam","name":"IP","url":%q,"username":"admin","password":"cam-s3cret","fps":10}`, cam.URL))
	c.expect(200, "POST", "/../cameras", `{"id":"scene","url":"testsrc"}`)

	frames, err := hub.Frames(camerahub.Source{URL: cam.URL, Username: "admin", Password: "cam-s3cret"}, "pipeline p node cam", camerahub.FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer frames.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := frames.Next(ctx); err != nil {
		t.Fatal(err)
	}

	got := c.expect(200, "GET", "/../cameras/ipcam", nil)
	for _, field := range []string{"id", "name", "url", "username", "password_set", "fps"} {
		if _, ok := got[field]; !ok {
			t.Errorf("answer lacks %q: %v", field, got)
		}
	}
	st, _ := got["status"].(map[string]any)
	consumers, _ := st["consumers"].([]any)
	decoders, _ := st["decoders"].([]any)
	if st["input"] != "rtsp" || st["connected"] != true || st["sessions_opened"] != 1.0 || st["width"] != 320.0 || len(consumers) != 1 || len(decoders) != 1 {
		t.Fatalf("status %v", st)
	}
	if name := consumers[0].(map[string]any)["name"]; name != "pipeline p node cam" {
		t.Errorf("consumer %v", name)
	}
	if _, ok := st["last_error"]; !ok {
		t.Errorf("status lacks last_error (null): %v", st)
	}

	_, list := c.do("GET", "/../cameras", nil)
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), "cam-s3cret") {
		t.Errorf("a password in the listing: %s", raw)
	}
	byID := map[string]map[string]any{}
	for _, item := range list.([]any) {
		m := item.(map[string]any)
		byID[m["id"].(string)] = m
	}
	if s := byID["scene"]["status"].(map[string]any); s["input"] != "testsrc" || s["connected"] != false || len(s["consumers"].([]any)) != 0 {
		t.Errorf("idle test scene status %v", s)
	}
	// The test scene read by a pipeline: its shared ffmpeg is reported.
	scene, err := hub.LocalFrames(camerahub.Local{}, "pipeline q node cam", camerahub.FrameOptions{Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer scene.Close()
	if _, err := scene.Next(ctx); err != nil {
		t.Fatal(err)
	}
	st = c.expect(200, "GET", "/../cameras/scene", nil)["status"].(map[string]any)
	consumers, _ = st["consumers"].([]any)
	decoders, _ = st["decoders"].([]any)
	if st["input"] != "testsrc" || st["connected"] != true || len(consumers) != 1 || len(decoders) != 1 ||
		decoders[0].(map[string]any)["width"] != 160.0 || decoders[0].(map[string]any)["consumers"] != 1.0 {
		t.Errorf("test scene status %v", st)
	}
	if byID["ipcam"]["status"].(map[string]any)["connected"] != true {
		t.Errorf("listing %v", byID["ipcam"])
	}

	// What was read goes back unchanged (status and password_set are
	// read-only; no password member keeps the stored one).
	back := c.expect(200, "PUT", "/../cameras/ipcam", got)
	if back["password_set"] != true || back["status"] == nil {
		t.Errorf("put answer %v", back)
	}
}
