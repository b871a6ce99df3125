package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// locOf is the answer's top-level loc as JSON ("" when absent).
func locOf(out map[string]any) string {
	loc, ok := out["loc"]
	if !ok {
		return ""
	}
	raw, _ := json.Marshal(loc)
	return string(raw)
}

// Every refusal about one field of the body says which field in "loc",
// next to the detail the spec promises, so that clients place it without
// reading the message; messages name transmissions by name.
func TestSingleFieldErrorsCarryLoc(t *testing.T) {
	c := newServer(t, "local")
	yard := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"},{"id":"webrtc","protocol":"webrtc"}]}`)["id"].(string)
	lobby := c.expect(200, "POST", "/transmissions", `{"name":"","path":"lobby","outputs":[{"id":"hls","protocol":"hls"}]}`)["id"].(string)
	c.expect(200, "POST", "/../cameras", `{"id":"front","name":"Front","url":"testsrc"}`)
	c.expect(200, "POST", "/../processing-servers", `{"id":"edge-1","name":"Edge","url":"http://127.0.0.1:1"}`)
	graph := fmt.Sprintf(`{"nodes":[{"id":"s","type":"camera.source","config":{"camera_id":"front"}},{"id":"p","type":"stream.publish_video","config":{"transmission_id":%q}}],"edges":[{"from":{"node":"s","port":"out"},"to":{"node":"p","port":"in"}}]}`, yard)
	c.expect(200, "POST", "/../pipelines", `{"name":"taken","enabled":false,"graph":`+graph+`}`)
	cases := []struct {
		name, method, path, body string
		status                   int
		detail, loc              string
	}{
		{"duplicate output id", "PUT", "/transmissions/" + yard, `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"},{"id":"hls","protocol":"webrtc"}]}`,
			409, "Duplicate output id in transmission 'Yard': hls", `["body","outputs",1,"id"]`},
		{"duplicate output id named by path without a name", "PUT", "/transmissions/" + lobby, `{"name":"","path":"lobby","outputs":[{"id":"a","protocol":"hls"},{"id":"a","protocol":"rtsp"}]}`,
			409, "Duplicate output id in transmission 'lobby': a", `["body","outputs",1,"id"]`},
		{"duplicate path on create", "POST", "/transmissions", `{"name":"Again","path":"Yard"}`,
			409, "Duplicate transmission path for host_server_id='local': yard", `["body","path"]`},
		{"duplicate path on replace", "PUT", "/transmissions/" + lobby, `{"name":"","path":"yard"}`,
			409, "Duplicate transmission path for host_server_id='local': yard", `["body","path"]`},
		{"path taken by another transmission's output", "POST", "/transmissions", `{"name":"Gate","path":"yard-hls"}`,
			409, "Engine path 'yard-hls' on host_server_id='local' is used by transmissions 'Gate' and 'Yard'", `["body","path"]`},
		{"output path taken by another transmission", "PUT", "/transmissions/" + lobby, `{"name":"","path":"lobby","outputs":[{"id":"hls","protocol":"hls","path":"yard"}]}`,
			409, "used by transmissions 'lobby' and 'Yard'", `["body","outputs",0,"path"]`},
		{"unpinned output path taken", "PUT", "/transmissions/" + lobby, `{"name":"","path":"yard-hls-x","outputs":[{"id":"hls","protocol":"hls","path":"yard-webrtc"}]}`,
			409, "Engine path 'yard-webrtc'", `["body","outputs",0,"path"]`},
		{"outputs sharing an engine path", "PUT", "/transmissions/" + yard, `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"},{"id":"webrtc","protocol":"webrtc","path":"yard-hls"}]}`,
			409, "Outputs 'hls' and 'webrtc' of transmission 'Yard' resolve to the same engine path: yard-hls", `["body","outputs",1,"path"]`},
		{"unknown host on create", "POST", "/transmissions", `{"name":"n","path":"p","host_server_id":"Mars"}`,
			400, "Unknown host_server_id: mars", `["body","host_server_id"]`},
		{"unknown host on replace", "PUT", "/transmissions/" + lobby, `{"name":"","path":"lobby","host_server_id":"mars"}`,
			400, "Unknown host_server_id: mars", `["body","host_server_id"]`},
		{"unknown host in a settings patch", "PATCH", "/settings", `{"transmissions":[{"id":"a","path":"a"},{"id":"b","path":"b","host_server_id":"mars"}]}`,
			400, "Unknown host_server_id: mars", `["body","transmissions",1,"host_server_id"]`},
		{"duplicate path in a settings patch", "PATCH", "/settings", `{"transmissions":[{"id":"a","path":"a"},{"id":"b","path":"a"}]}`,
			409, "Duplicate transmission path", `["body","transmissions",1,"path"]`},
		{"transmission id mismatch", "PUT", "/transmissions/" + lobby, `{"id":"other","name":"","path":"lobby"}`,
			400, "Transmission id mismatch", `["body","id"]`},
		{"preview checks like a save", "POST", "/transmissions/" + lobby + "/urls/preview", `{"name":"","path":"yard"}`,
			409, "Duplicate transmission path", `["body","path"]`},
		{"wizard: pipeline name exists", "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"front","preset_id":"simple_stream","optional_parameters":{"pipeline_name":"taken"}}`, yard),
			409, "Pipeline already exists: taken", `["body","optional_parameters","pipeline_name"]`},
		{"wizard: unknown camera", "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"back","preset_id":"simple_stream"}`, yard),
			404, "Camera not found", `["body","camera_id"]`},
		{"wizard: unknown transmission", "POST", "/wizard/create-pipeline", `{"transmission_id":"nope","camera_id":"front","preset_id":"simple_stream"}`,
			404, "Transmission not found", `["body","transmission_id"]`},
		{"wizard: unknown host", "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"front","preset_id":"simple_stream","optional_parameters":{"processing_server_id":"mars"}}`, yard),
			400, "Unknown host_server_id: mars", `["body","optional_parameters","processing_server_id"]`},
		{"wizard: host mismatch", "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"front","preset_id":"simple_stream","optional_parameters":{"processing_server_id":"edge-1"}}`, yard),
			400, "must match pipeline processing_server_id", `["body","optional_parameters","processing_server_id"]`},
		{"duplicate camera id", "POST", "/../cameras", `{"id":"front","name":"Front","url":"testsrc"}`,
			409, "Duplicate camera id: front", `["body","id"]`},
		{"pipeline exists", "POST", "/../pipelines", `{"name":"taken","graph":` + graph + `}`,
			409, "Pipeline already exists: taken", `["body","name"]`},
		{"pipeline on an unknown host", "PUT", "/../pipelines/taken", `{"name":"taken","enabled":false,"processing_server_id":"mars","graph":` + graph + `}`,
			400, "Unknown host_server_id: mars", `["body","processing_server_id"]`},
		{"pipeline name mismatch", "PUT", "/../pipelines/taken", `{"name":"other","graph":` + graph + `}`,
			400, "Pipeline name mismatch", `["body","name"]`},
		{"duplicate processing server", "POST", "/../processing-servers", `{"id":"edge-1","name":"Edge","url":"http://127.0.0.1:1"}`,
			409, "Duplicate processing server id: edge-1", `["body","id"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, answer := c.do(tc.method, tc.path, tc.body)
			out, _ := answer.(map[string]any)
			detail, _ := out["detail"].(string)
			if status != tc.status || !strings.Contains(detail, tc.detail) || locOf(out) != tc.loc {
				t.Errorf("%d detail %q loc %s; want %d %q at %s", status, detail, locOf(out), tc.status, tc.detail, tc.loc)
			}
		})
	}
	// Errors about no field carry no loc.
	if out := c.expect(404, "GET", "/transmissions/nope", nil); locOf(out) != "" {
		t.Errorf("404 of a URL has loc %s", locOf(out))
	}
	// Processing servers name the transmissions that use them by name.
	c.expect(200, "POST", "/transmissions", `{"name":"Far","path":"far","host_server_id":"edge-1"}`)
	if d := c.expect(409, "DELETE", "/../processing-servers/edge-1", nil)["detail"].(string); !strings.Contains(d, "transmission 'Far'") {
		t.Errorf("delete refusal: %q", d)
	}
}

// Adding a second output moves the first one's URL (the spec's
// {path}-{output id} rule); the preview says so without saving, and
// pinning output.path keeps the old URL.
func TestURLPreviewAndPinnedOutputPath(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"}]}`)["id"].(string)
	before := c.expect(200, "GET", "/transmissions/"+id+"/urls", nil)["outputs"].([]any)[0].(map[string]any)
	if before["resolved_engine_path"] != "yard" {
		t.Fatalf("one output: %v", before)
	}

	two := `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"},{"id":"webrtc","protocol":"webrtc"}]}`
	preview := c.expect(200, "POST", "/transmissions/"+id+"/urls/preview", two)
	changes := preview["changes"].([]any)
	if len(changes) != 1 {
		t.Fatalf("changes = %v", changes)
	}
	ch := changes[0].(map[string]any)
	if ch["output_id"] != "hls" || ch["old_engine_path"] != "yard" || ch["new_engine_path"] != "yard-hls" || ch["old_url"] != before["url"] || !strings.HasSuffix(ch["new_url"].(string), "/yard-hls/index.m3u8") {
		t.Errorf("change = %v", ch)
	}
	if got := c.expect(200, "GET", "/transmissions/"+id, nil)["outputs"].([]any); len(got) != 1 {
		t.Fatalf("the preview saved the draft: %v", got)
	}

	pinned := `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls","path":"yard"},{"id":"webrtc","protocol":"webrtc"}]}`
	if changes := c.expect(200, "POST", "/transmissions/"+id+"/urls/preview", pinned)["changes"].([]any); len(changes) != 0 {
		t.Errorf("a pinned output still changes: %v", changes)
	}
	saved := c.expect(200, "PUT", "/transmissions/"+id, pinned)
	if p := saved["outputs"].([]any)[0].(map[string]any)["path"]; p != "yard" {
		t.Errorf("saved pin = %v", p)
	}
	urls := map[string]string{}
	for _, o := range c.expect(200, "GET", "/transmissions/"+id+"/urls", nil)["outputs"].([]any) {
		o := o.(map[string]any)
		urls[o["output_id"].(string)] = o["url"].(string)
	}
	if urls["hls"] != before["url"] || !strings.HasSuffix(urls["webrtc"], "/yard-webrtc/whep") {
		t.Errorf("urls after pinning = %v, want hls at %v", urls, before["url"])
	}

	// A pin that takes another transmission's path is refused at the pin.
	other := c.expect(200, "POST", "/transmissions", `{"name":"Gate","path":"gate"}`)["id"].(string)
	out := c.expect(409, "PUT", "/transmissions/"+other, `{"name":"Gate","path":"gate","outputs":[{"id":"hls","protocol":"hls","path":"yard"}]}`)
	if locOf(out) != `["body","outputs",0,"path"]` {
		t.Errorf("colliding pin: %v", out)
	}
}
