package api

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/camerainput"
)

func TestCameras(t *testing.T) {
	c := newServer(t, "local")
	cam := c.expect(200, "POST", "/../cameras", `{"name":"Front Door","url":"rtsp://10.1.1.9/stream","username":"admin","password":"s3cret","fps":10}`)
	if cam["id"] != "front-door" || cam["password_set"] != true || cam["password"] != nil {
		t.Fatalf("created %v", cam)
	}
	c.expect(409, "POST", "/../cameras", `{"name":"Front Door","url":"testsrc"}`)
	c.expect(422, "POST", "/../cameras", `{"name":"x"}`)
	c.expect(422, "POST", "/../cameras", `{"name":"y","url":"rtsp://a:b@host/x"}`)

	// PUT without a password keeps it; the listing never shows it.
	updated := c.expect(200, "PUT", "/../cameras/front-door", `{"name":"Front","url":"rtsp://10.1.1.9/other","username":"admin"}`)
	if updated["password_set"] != true || updated["url"] != "rtsp://10.1.1.9/other" {
		t.Errorf("updated %v", updated)
	}
	_, list := c.do("GET", "/../cameras", nil)
	if raw := fmt.Sprint(list); strings.Contains(raw, "s3cret") {
		t.Errorf("a password in the listing: %s", raw)
	}
	cleared := c.expect(200, "PUT", "/../cameras/front-door", `{"name":"Front","url":"rtsp://10.1.1.9/other","password":null}`)
	if cleared["password_set"] != false {
		t.Errorf("explicit null did not clear the password: %v", cleared)
	}
	c.expect(400, "PUT", "/../cameras/front-door", `{"id":"other","name":"x","url":"testsrc"}`)
	c.expect(404, "PUT", "/../cameras/nope", `{"name":"x","url":"testsrc"}`)

	// A camera in use cannot be deleted.
	tid := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	c.expect(200, "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"front-door","preset_id":"simple_stream","optional_parameters":{"enabled":false}}`, tid))
	out := c.expect(409, "DELETE", "/../cameras/front-door", nil)
	if !strings.Contains(fmt.Sprint(out["detail"]), "frente") && !strings.Contains(fmt.Sprint(out["detail"]), "used by pipelines") {
		t.Errorf("detail %v", out["detail"])
	}
}

func TestPipelineValidation(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "POST", "/../cameras", `{"id":"cam","url":"testsrc"}`)
	tid := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	valid := fmt.Sprintf(`{"name":"ok","enabled":false,"graph":{"schema_version":1,"nodes":[
		{"id":"source","type":"camera.source","config":{"camera_id":"cam"}},
		{"id":"fps","type":"core.fps_reducer","config":{"target_fps":5}},
		{"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q}}],
		"edges":[{"from":{"node":"source","port":"out"},"to":{"node":"fps","port":"in"}},{"from":{"node":"fps","port":"out"},"to":{"node":"stream","port":"in"}}]}}`, tid)
	c.expect(200, "POST", "/../pipelines", valid)
	c.expect(409, "POST", "/../pipelines", valid)
	for _, bad := range []struct{ body, reason string }{
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"magic.wand"}]}}`, "unknown operator"},
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"camera_id":"nope"}}]}}`, "does not exist"},
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"camera_id":"cam","colour":1}}]}}`, "unknown field"},
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"core.fps_reducer","config":{"target_fps":5}}]}}`, "has no input"},
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"camera_id":"cam"}},{"id":"b","type":"core.fps_reducer"}],"edges":[{"from":{"node":"a"},"to":{"node":"b"}},{"from":{"node":"b"},"to":{"node":"b"}}]}}`, "cycle"},
		{`{"name":"x","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"camera_id":"cam"}}],"edges":[{"from":{"node":"a"},"to":{"node":"z"}}]}}`, "does not exist"},
		{`{"name":"x","processing_server_id":"mars","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"camera_id":"cam"}}]}}`, "Unknown host_server_id"},
	} {
		out := c.expect(400, "POST", "/../pipelines", bad.body)
		if !strings.Contains(fmt.Sprint(out["detail"]), bad.reason) {
			t.Errorf("%s: detail %v, want %q", bad.body, out["detail"], bad.reason)
		}
	}
	st := c.expect(200, "GET", "/../pipelines/ok/status", nil)
	if st["running"] != false || st["name"] != "ok" {
		t.Errorf("disabled pipeline status %v", st)
	}
	c.expect(404, "GET", "/../pipelines/nope/status", nil)
	c.expect(400, "PUT", "/../pipelines/ok", strings.Replace(valid, `"name":"ok"`, `"name":"other"`, 1))
	c.expect(200, "DELETE", "/../pipelines/ok", nil)
	c.expect(404, "DELETE", "/../pipelines/ok", nil)
}

func TestWizardErrors(t *testing.T) {
	c := newServer(t, "edge-1")
	c.expect(200, "POST", "/../cameras", `{"id":"camera-frente","name":"Câmera Frente","url":"testsrc"}`)
	tid := c.expect(200, "POST", "/transmissions", `{"name":"Entrada","path":"entrada-frente"}`)["id"].(string)
	body := func(camera, preset, options string) string {
		return fmt.Sprintf(`{"transmission_id":%q,"camera_id":%q,"preset_id":%q,"optional_parameters":%s}`, tid, camera, preset, options)
	}
	out := c.expect(200, "POST", "/wizard/create-pipeline", body("Câmera Frente", "detection_stream", `{"enabled":false}`))
	if out["pipeline_name"] != "entrada_frente__camera_frente__detection" || out["camera_id"] != "camera-frente" || out["engine_running"] != false {
		t.Errorf("wizard answer %v", out)
	}
	// This server is edge-1: a pipeline for a "local" transmission runs on the core.
	if w := fmt.Sprint(out["warnings"]); !strings.Contains(w, "processing server 'local'") {
		t.Errorf("warnings %v", w)
	}
	again := c.expect(200, "POST", "/wizard/create-pipeline", body("camera-frente", "detection_stream", `{"enabled":false}`))
	if again["pipeline_name"] != "entrada_frente__camera_frente__detection_2" {
		t.Errorf("second suggestion %v", again["pipeline_name"])
	}
	c.expect(409, "POST", "/wizard/create-pipeline", body("camera-frente", "simple_stream", `{"pipeline_name":"entrada_frente__camera_frente__detection"}`))
	c.expect(404, "POST", "/wizard/create-pipeline", body("no-such-camera", "simple_stream", `{}`))
	c.expect(404, "POST", "/wizard/create-pipeline", `{"transmission_id":"nope","camera_id":"camera-frente","preset_id":"simple_stream"}`)
	c.expect(422, "POST", "/wizard/create-pipeline", body("camera-frente", "dance_stream", `{}`))
	c.expect(422, "POST", "/wizard/create-pipeline", body("camera-frente", "simple_stream", `{"fps_limit":500}`))
	c.expect(422, "POST", "/wizard/create-pipeline", `{"transmission_id":"","camera_id":"camera-frente","preset_id":"simple_stream"}`)
	c.expect(422, "POST", "/wizard/create-pipeline", `{"transmission_id":"x","camera_id":"y","preset_id":"simple_stream","extra":1}`)
	out = c.expect(400, "POST", "/wizard/create-pipeline", body("camera-frente", "simple_stream", `{"processing_server_id":"edge-1"}`))
	if out["detail"] != "Transmission host_server_id must match pipeline processing_server_id. Transmission='local' Pipeline='edge-1'." {
		t.Errorf("host mismatch detail %v", out["detail"])
	}
}

func TestDistributedSettings(t *testing.T) {
	c := newServer(t, "edge-1")
	c.expect(200, "POST", "/transmissions", `{"name":"core","path":"core-cam"}`)
	c.expect(200, "POST", "/transmissions", `{"name":"edge","path":"edge-cam","host_server_id":"edge-1"}`)
	for server, want := range map[string]string{"edge-1": "edge-cam", "EDGE-1": "edge-cam", "local": "core-cam"} {
		out := c.expect(200, "GET", "/distributed/settings/"+server, nil)
		ts := out["transmissions"].([]any)
		if len(ts) != 1 || ts[0].(map[string]any)["path"] != want || out["engine"] == nil {
			t.Errorf("settings for %s: %v", server, out)
		}
	}
	c.expect(400, "GET", "/distributed/settings/mars", nil)
}

// Issue 11's reproduction: camera ids accepted "../x" and NUL bytes. Ids
// follow the id rules (letters of any script, digits, '-', '_', '.').
func TestCameraIDsAreChecked(t *testing.T) {
	c := newServer(t, "local")
	for _, id := range []string{"../x", "a/b", `a\u0000b`, "..", "two words", `tab\there`} {
		out := c.expect(422, "POST", "/../cameras", `{"id":"`+id+`","url":"testsrc"}`)
		if !strings.Contains(fmt.Sprint(out["detail"]), "id") {
			t.Errorf("id %q: detail %v", id, out["detail"])
		}
	}
	if status, list := c.do("GET", "/../cameras", nil); status != 200 || fmt.Sprint(list) != "[]" {
		t.Errorf("refused cameras were stored: %d %v", status, list)
	}
	c.expect(200, "POST", "/../cameras", `{"id":"café-1.v2","url":"testsrc"}`)
	c.expect(200, "POST", "/../cameras", `{"name":"Front Door","url":"testsrc"}`) // the slug of the name
}

// Issue 11: camera URLs took any ffmpeg input (/etc/passwd, lavfi:, concat:,
// http://, file:, subfile...). Only rtsp:// and rtsps:// URLs with a host,
// files inside the camera files directory and 'testsrc' are accepted; the
// rest is a 422 at body.url naming what is accepted, and nothing is stored.
func TestCameraURLsAreChecked(t *testing.T) {
	media := t.TempDir()
	c := newServerWith(t, "local", func(o *Options) { o.CameraInputs = camerainput.Policy{FilesDir: media} })
	hostile := []string{"/etc/passwd", "../../etc/passwd", "lavfi:testsrc", "concat:/etc/passwd|/etc/hosts", "http://127.0.0.1/a.m3u8",
		"file:/etc/passwd", "subfile,,0,100,,:/etc/passwd", "rtsp://", "rtsp:///x", "rtmp://cam/live", "pipe:0", ".", media}
	for _, u := range hostile {
		out := c.expect(422, "POST", "/../cameras", fmt.Sprintf(`{"id":"x","url":%q}`, u))
		detail, _ := out["detail"].([]any)
		first, _ := detail[0].(map[string]any)
		msg := fmt.Sprint(first["msg"])
		if len(detail) != 1 || fmt.Sprint(first["loc"]) != "[body url]" || !strings.Contains(msg, "rtsp://") || !strings.Contains(msg, media) || !strings.Contains(msg, "testsrc") {
			t.Errorf("url %q: detail %v", u, out["detail"])
		}
	}
	if _, list := c.do("GET", "/../cameras", nil); fmt.Sprint(list) != "[]" {
		t.Fatalf("refused cameras were stored: %v", list)
	}
	for i, u := range []string{"testsrc", "rtsp://10.0.0.5:554/stream1", "rtsps://cam.example/live", "clip.mp4", filepath.Join(media, "sub", "b.mkv")} {
		c.expect(200, "POST", "/../cameras", fmt.Sprintf(`{"id":"ok%d","url":%q}`, i, u))
	}
	c.expect(422, "PUT", "/../cameras/ok0", `{"name":"x","url":"lavfi:color"}`)
	if got := c.expect(200, "GET", "/../cameras/ok0", nil); got["url"] != "testsrc" {
		t.Errorf("a refused PUT changed the camera: %v", got)
	}
	// camera.source's own url is held to the same rule.
	out := c.expect(400, "POST", "/../pipelines", `{"name":"x","graph":{"nodes":[{"id":"a","type":"camera.source","config":{"url":"/etc/passwd"}}]}}`)
	if !strings.Contains(fmt.Sprint(out["detail"]), "url: ") || !strings.Contains(fmt.Sprint(out["detail"]), "rtsp://") {
		t.Errorf("pipeline with a hostile url: %v", out["detail"])
	}
}

// Issue 14 item 4: run_mode is always (the default) or on_demand; anything
// else, or on_demand without a stream.publish_video node (nothing could
// wake it), is a 422 at body.run_mode saying what to send, and nothing is
// stored.
func TestPipelineRunMode(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "POST", "/../cameras", `{"id":"cam","url":"testsrc"}`)
	tid := c.expect(200, "POST", "/transmissions", `{"name":"t","path":"t"}`)["id"].(string)
	withMode := func(name, mode string, publish bool) string {
		nodes := `{"id":"source","type":"camera.source","config":{"camera_id":"cam"}}`
		edges := ``
		if publish {
			nodes += fmt.Sprintf(`,{"id":"stream","type":"stream.publish_video","config":{"transmission_id":%q}}`, tid)
			edges = `{"from":{"node":"source","port":"out"},"to":{"node":"stream","port":"in"}}`
		}
		return fmt.Sprintf(`{"name":%q,"enabled":false,%s"graph":{"nodes":[%s],"edges":[%s]}}`, name, mode, nodes, edges)
	}
	if p := c.expect(200, "POST", "/../pipelines", withMode("plain", "", true)); p["run_mode"] != "always" {
		t.Errorf("default run_mode %v", p["run_mode"])
	}
	if p := c.expect(200, "POST", "/../pipelines", withMode("lazy", `"run_mode":"on_demand",`, true)); p["run_mode"] != "on_demand" {
		t.Errorf("run_mode %v", p["run_mode"])
	}
	for _, bad := range []struct{ body, msg string }{
		{withMode("x", `"run_mode":"sometimes",`, true), "Input should be 'always' or 'on_demand'"},
		{withMode("x", `"run_mode":true,`, true), "string"},
		{withMode("x", `"run_mode":"on_demand",`, false), "no stream.publish_video node: add one or use always"},
	} {
		out := c.expect(422, "POST", "/../pipelines", bad.body)
		detail, _ := out["detail"].([]any)
		first, _ := detail[0].(map[string]any)
		if len(detail) != 1 || fmt.Sprint(first["loc"]) != "[body run_mode]" || !strings.Contains(fmt.Sprint(first["msg"]), bad.msg) {
			t.Errorf("%s: detail %v, want one error at body.run_mode saying %q", bad.body, out["detail"], bad.msg)
		}
	}
	c.expect(422, "PUT", "/../pipelines/plain", withMode("plain", `"run_mode":"on_demand",`, false))
	if p := c.expect(200, "GET", "/../pipelines/plain", nil); p["run_mode"] != "always" || len(p["graph"].(map[string]any)["nodes"].([]any)) != 2 {
		t.Errorf("a refused PUT changed the pipeline: %v", p)
	}
	c.expect(404, "GET", "/../pipelines/x", nil)
	st := c.expect(200, "GET", "/../pipelines/lazy/status", nil)
	if st["state"] != "stopped" || st["running"] != false {
		t.Errorf("disabled on_demand pipeline: %v", st)
	}
}
