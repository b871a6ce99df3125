package e2e

// Browser tests of the Settings panel's editing paths: editing a transmission
// and its outputs, deleting one, and the pipeline wizard with the cameras and
// pipelines lists. Every change made in the page is read back through the API.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// jget walks a decoded JSON value by object keys and list indexes.
func jget(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// txRow is the CSS selector of transmission id's row in the list.
func txRow(id string) string { return fmt.Sprintf(`[data-testid=tx-row][data-id=%q]`, id) }

func TestUISettingsEditAndDelete(t *testing.T) {
	s := startService(t, t.TempDir())
	keep := s.create(`{"name":"Keep Me","path":"keep-me","outputs":[{"id":"hls","protocol":"hls"}]}`)
	id := s.create(`{"name":"Loading Bay","path":"loading-bay","outputs":[{"id":"hls_main","protocol":"hls","resolution":{"width":1280,"height":720},"fps_limit":12,"latency_profile":"normal"}]}`)
	_, before := s.call("GET", "/transmissions/"+id, "")

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "both transmissions listed",
		fmt.Sprintf(`!!document.querySelector(%q) && !!document.querySelector(%q)`, txRow(id), txRow(keep)),
		`document.querySelector("[data-testid=tx-list]")?.innerText ?? "no list"`)

	// The editor opens with the stored values.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-edit]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	for sel, want := range map[string]string{
		"[data-testid=tx-name-input]":         "Loading Bay",
		"[data-testid=tx-path]":               "loading-bay",
		`[name="outputs.0.id"]`:               "hls_main",
		`[name="outputs.0.fps_limit"]`:        "12",
		`[name="outputs.0.resolution.width"]`: "1280",
		`[name="placeholder"]`:                "gray",
		`[name="arbitration"]`:                "priority_latest",
	} {
		if got := b.value(sel); got != want {
			t.Errorf("editor %s = %q, want %q", sel, got, want)
		}
	}

	// Change the existing output.
	b.setInput(`[name="outputs.0.resolution.width"]`, "960")
	b.setInput(`[name="outputs.0.resolution.height"]`, "540")
	b.setInput(`[name="outputs.0.bitrate_kbps"]`, "1500")
	b.setSelect(`[name="outputs.0.latency_profile"]`, "low")

	// Add a second output: WebRTC, since the first one is HLS.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=output-add]")))
	b.waitJS(5*time.Second, "a second output", `document.querySelectorAll("[data-testid=output]").length === 2`, `document.querySelector("[data-testid=tx-form]").innerText`)
	if got := b.value(`[name="outputs.1.protocol"]`); got != "webrtc" {
		t.Errorf("new output protocol %q, want webrtc", got)
	}
	// Issue 13 item 6: the id the UI proposes is readable (it names URLs).
	if got := b.value(`[name="outputs.1.id"]`); got != "webrtc" {
		t.Errorf("new output id %q, want webrtc", got)
	}
	b.setInput(`[name="outputs.1.id"]`, "rtc_low")
	b.setInput(`[name="outputs.1.resolution.width"]`, "640")
	b.setInput(`[name="outputs.1.resolution.height"]`, "360")
	b.setInput(`[name="outputs.1.fps_limit"]`, "15")
	b.setInput(`[name="outputs.1.bitrate_kbps"]`, "10") // under 64: the server refuses it
	b.setSelect(`[name="outputs.1.latency_profile"]`, "ultra_low")
	// Authentication: the login fields appear when it is switched on.
	if evalJS[bool](b, `!document.querySelector('[name="outputs.1.authentication.username"]').closest("[hidden]")`) {
		t.Error("login fields shown while authentication is off")
	}
	b.do(5*time.Second, chromedp.Click(chromedp.CSS(`[data-field="outputs.1.authentication.enabled"] label`)))
	b.waitJS(5*time.Second, "login fields shown", `!document.querySelector('[name="outputs.1.authentication.username"]').closest("[hidden]")`, "")
	b.setInput(`[name="outputs.1.authentication.username"]`, "viewer")
	b.setInput(`[name="outputs.1.authentication.password"]`, "pa55-word")
	b.setSelect(`[name="placeholder"]`, "black")
	b.setSelect(`[name="arbitration"]`, "latest")

	// The server's 422 is shown next to the new output's bitrate; nothing is stored.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the bitrate error next to the bitrate field",
		`document.querySelector('[data-field="outputs.1.bitrate_kbps"].invalid .field-error')?.textContent.includes("64")`,
		`document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
	if n := evalJS[int](b, `document.querySelectorAll(".field.invalid").length`); n != 1 {
		t.Errorf("%d fields marked invalid, want only the bitrate", n)
	}
	if _, now := s.call("GET", "/transmissions/"+id, ""); jget(now, "updated_at") != jget(before, "updated_at") || len(jget(now, "outputs").([]any)) != 1 {
		t.Fatalf("a refused save changed the transmission: %v", now)
	}
	b.setInput(`[name="outputs.1.bitrate_kbps"]`, "800")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	// A second output moves the first one's URL: the form says so first
	// (e2e/ui_urlchange_test.go pins it; here the move is accepted).
	b.waitJS(10*time.Second, "the URL change warning", `!!document.querySelector("[data-testid=url-change]")`, `document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=url-change-confirm]")))
	b.waitJS(10*time.Second, "the editor closed and the row updated",
		fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !document.querySelector("[data-testid=tx-form]") && !!r && r.innerText.includes("latest ·") && r.innerText.includes("black placeholder") && r.querySelectorAll(".chip").length === 2 })()`, txRow(id)),
		fmt.Sprintf(`document.querySelector(%q)?.innerText ?? document.body.innerText.slice(0, 1500)`, txRow(id)))

	// Every field was stored (the password only shows when asked for).
	status, got := s.call("GET", "/transmissions?include_secrets=true", "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, got)
	}
	var tx any
	for _, x := range got.([]any) {
		if jget(x, "id") == id {
			tx = x
		}
	}
	if tx == nil {
		t.Fatalf("transmission %s not listed: %v", id, got)
	}
	raw, _ := json.Marshal(tx)
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"name"}, "Loading Bay"},
		{[]any{"path"}, "loading-bay"},
		{[]any{"placeholder"}, "black"},
		{[]any{"arbitration"}, "latest"},
		{[]any{"enabled"}, true},
		{[]any{"created_at"}, jget(before, "created_at")},
		{[]any{"outputs", 0, "id"}, "hls_main"},
		{[]any{"outputs", 0, "protocol"}, "hls"},
		{[]any{"outputs", 0, "resolution", "width"}, 960.0},
		{[]any{"outputs", 0, "resolution", "height"}, 540.0},
		{[]any{"outputs", 0, "fps_limit"}, 12.0},
		{[]any{"outputs", 0, "bitrate_kbps"}, 1500.0},
		{[]any{"outputs", 0, "latency_profile"}, "low"},
		{[]any{"outputs", 0, "authentication", "enabled"}, false},
		{[]any{"outputs", 1, "id"}, "rtc_low"},
		{[]any{"outputs", 1, "protocol"}, "webrtc"},
		{[]any{"outputs", 1, "enabled"}, true},
		{[]any{"outputs", 1, "resolution", "width"}, 640.0},
		{[]any{"outputs", 1, "resolution", "height"}, 360.0},
		{[]any{"outputs", 1, "fps_limit"}, 15.0},
		{[]any{"outputs", 1, "bitrate_kbps"}, 800.0},
		{[]any{"outputs", 1, "latency_profile"}, "ultra_low"},
		{[]any{"outputs", 1, "authentication", "enabled"}, true},
		{[]any{"outputs", 1, "authentication", "username"}, "viewer"},
		{[]any{"outputs", 1, "authentication", "password"}, "pa55-word"},
	}
	for _, c := range checks {
		if v := jget(tx, c.path...); v != c.want {
			t.Errorf("stored %v = %v, want %v", c.path, v, c.want)
		}
	}
	if len(jget(tx, "outputs").([]any)) != 2 {
		t.Errorf("stored outputs: %s", raw)
	}
	_, plain := s.call("GET", "/transmissions/"+id, "")
	if auth := jget(plain, "outputs", 1, "authentication"); jget(auth, "password") != nil || jget(auth, "password_set") != true {
		t.Errorf("a plain GET shows the read password: %v", auth)
	}
	if jget(tx, "updated_at") == jget(before, "updated_at") {
		t.Error("updated_at did not change")
	}
	// The login applies: the WebRTC URL requires it.
	_, urls := s.call("GET", "/transmissions/"+id+"/urls", "")
	for _, o := range jget(urls, "outputs").([]any) {
		wantAuth := jget(o, "output_id") == "rtc_low"
		if jget(o, "requires_auth") != wantAuth || (wantAuth && jget(o, "auth_username") != "viewer") {
			t.Errorf("URL of %v: requires_auth %v, user %v", jget(o, "output_id"), jget(o, "requires_auth"), jget(o, "auth_username"))
		}
	}
	// The row's chips show both outputs with their new settings.
	chips := evalJS[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(c => c.textContent)`, txRow(id)+" .chip"))
	if len(chips) != 2 || chips[0] != "HLS 960×540 12fps" || chips[1] != "WEBRTC 640×360 15fps 🔒" {
		t.Errorf("row chips %q, want [HLS 960×540 12fps, WEBRTC 640×360 15fps 🔒]", chips)
	}

	// Reopening the editor shows what was stored.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-edit]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	for sel, want := range map[string]string{
		`[name="outputs.1.id"]`:                      "rtc_low",
		`[name="outputs.1.latency_profile"]`:         "ultra_low",
		`[name="outputs.1.authentication.username"]`: "viewer",
		`[name="placeholder"]`:                       "black",
		`[name="outputs.1.authentication.password"]`: "",
	} {
		if got := b.value(sel); got != want {
			t.Errorf("reopened editor %s = %q, want %q", sel, got, want)
		}
	}
	if ph := evalJS[string](b, `document.querySelector('[name="outputs.1.authentication.password"]').placeholder`); !strings.Contains(ph, "stored") {
		t.Errorf("the password field does not say a password is stored: placeholder %q", ph)
	}
	b.do(5*time.Second, chromedp.KeyEvent("\x1b"))
	b.waitJS(5*time.Second, "the editor closed", `!document.querySelector("dialog[open]")`, "")

	// Delete: Cancel keeps the transmission; confirming removes it.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-delete]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-confirm]")))
	if text := evalJS[string](b, `document.querySelector("[data-testid=delete-confirm]").innerText`); !strings.Contains(text, "Loading Bay") {
		t.Errorf("the confirmation does not name the transmission: %q", text)
	}
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=cancel-delete]")))
	b.waitJS(5*time.Second, "the confirmation closed", `!document.querySelector("dialog[open]")`, "")
	if status, _ := s.call("GET", "/transmissions/"+id, ""); status != 200 {
		t.Fatalf("Cancel deleted the transmission: %d", status)
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-delete]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=confirm-delete]")))
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=confirm-delete]")))
	b.waitJS(10*time.Second, "the row gone, the other kept",
		fmt.Sprintf(`!document.querySelector("dialog[open]") && !document.querySelector(%q) && !!document.querySelector(%q) && document.querySelectorAll("[data-testid=tx-row]").length === 1`, txRow(id), txRow(keep)),
		`document.querySelector("[data-testid=tx-list]").innerText`)
	if status, out := s.call("GET", "/transmissions/"+id, ""); status != 404 {
		t.Errorf("deleted transmission: %d %v, want 404", status, out)
	}
	if _, list := s.call("GET", "/transmissions", ""); len(list.([]any)) != 1 || jget(list, 0, "id") != keep {
		t.Errorf("transmissions after delete: %v", list)
	}
}

func TestUISettingsWizard(t *testing.T) {
	s := uiService(t)
	tx := s.create(`{"name":"Scene Watch","path":"scene-watch","outputs":[{"id":"hls","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10}]}`)
	yard := testutil.StartRTSPCamera(t, testutil.RTSPCameraOptions{Username: "viewer", Password: "yard-secret"})
	for _, cam := range []string{
		`{"id":"scene","name":"Scene","url":"testsrc","fps":10}`,
		`{"id":"door","name":"Door","url":"rtsp://192.0.2.9:554/stream1","username":"admin","password":"hunter2-secret"}`, // never read: no pipeline uses it
		fmt.Sprintf(`{"id":"yard","name":"Yard","url":%q,"username":"viewer","password":"yard-secret"}`, yard.URL),
	} {
		if status, out := s.callRoot("POST", "/api/cameras", cam); status != 200 && status != 201 {
			t.Fatalf("create camera: %d %v", status, out)
		}
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))

	// The cameras list shows the cameras, the login without its password,
	// and each camera's status: RTSP cameras idle while nothing reads them.
	b.waitJS(10*time.Second, "the cameras listed",
		`document.querySelectorAll("[data-testid=camera-row]").length === 3`, `document.querySelector("[data-testid=cameras]")?.innerText ?? "none"`)
	if state := evalJS[string](b, `document.querySelector("[data-testid=camera-row][data-id=door] [data-testid=camera-status]").dataset.state`); state != "idle" {
		t.Errorf("door camera state %q, want idle", state)
	}
	if state := evalJS[string](b, `document.querySelector("[data-testid=camera-row][data-id=scene] [data-testid=camera-status]").dataset.state`); state != "testsrc" {
		t.Errorf("scene camera state %q, want testsrc", state)
	}
	scene := evalJS[string](b, `document.querySelector("[data-testid=camera-row][data-id=scene]").innerText`)
	if !strings.Contains(scene, "Scene") || !strings.Contains(scene, "testsrc") || !strings.Contains(scene, "10") {
		t.Errorf("scene camera row: %q", scene)
	}
	if door := evalJS[string](b, `document.querySelector("[data-testid=camera-row][data-id=door]").innerText`); !strings.Contains(door, "admin · password set") {
		t.Errorf("door camera row %q, want the login with \"password set\"", door)
	}
	if evalJS[bool](b, `document.documentElement.outerHTML.includes("hunter2")`) {
		t.Error("the page shows a camera password")
	}

	// The wizard: camera, preset, options.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(tx)+` [data-testid=tx-wizard]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=wizard-form]")))
	b.setSelect(`[data-testid=wizard-form] [name=camera_id]`, "scene")
	if evalJS[bool](b, `!document.querySelector('[name="optional_parameters.motion_sensitivity"]').closest("[hidden]")`) {
		t.Error("motion options shown for the simple preset")
	}
	b.setSelect(`[data-testid=wizard-form] [name=preset_id]`, "motion_gate_stream")
	b.waitJS(5*time.Second, "motion options shown", `!document.querySelector('[name="optional_parameters.motion_sensitivity"]').closest("[hidden]")`, "")
	b.setInput(`[name="optional_parameters.pipeline_name"]`, "scene_motion")
	b.setInput(`[name="optional_parameters.fps_limit"]`, "5")
	b.setInput(`[name="optional_parameters.motion_hold_seconds"]`, "2")
	// A sensitivity of 0 is refused (422): the message lands next to that field.
	b.setInput(`[name="optional_parameters.motion_sensitivity"]`, "0")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=wizard-submit]")))
	b.waitJS(10*time.Second, "the sensitivity error next to its field",
		`document.querySelector('[data-field="optional_parameters.motion_sensitivity"].invalid .field-error')?.textContent.includes("(0, 1]")`,
		`document.querySelector("[data-testid=wizard]")?.innerText ?? "none"`)
	if _, pipes := s.callRoot("GET", "/api/pipelines", ""); len(pipes.([]any)) != 0 {
		t.Fatalf("a refused wizard request created a pipeline: %v", pipes)
	}
	b.setInput(`[name="optional_parameters.motion_sensitivity"]`, "0.02")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=wizard-submit]")))
	b.waitJS(15*time.Second, "the wizard reporting the pipeline",
		`document.querySelector("[data-testid=wizard-result]")?.innerText.includes("Pipeline scene_motion created")`,
		`document.querySelector("[data-testid=wizard]")?.innerText ?? "none"`)
	b.do(5*time.Second, jsDo(`(document.activeElement?.blur(), true)`))
	b.screenshot("settings-wizard.png")

	// The pipeline exists with what was chosen.
	status, pipes := s.callRoot("GET", "/api/pipelines", "")
	if status != 200 || len(pipes.([]any)) != 1 || jget(pipes, 0, "name") != "scene_motion" || jget(pipes, 0, "enabled") != true {
		t.Fatalf("pipelines: %d %v", status, pipes)
	}
	nodes := map[string]any{}
	for _, n := range jget(pipes, 0, "graph", "nodes").([]any) {
		nodes[jget(n, "type").(string)] = jget(n, "config")
	}
	if jget(nodes["camera.source"], "camera_id") != "scene" || jget(nodes["core.fps_reducer"], "target_fps") != 5.0 ||
		jget(nodes["camera.motion_gate"], "hold_seconds") != 2.0 || jget(nodes["camera.motion_gate"], "threshold") != 0.02 || jget(nodes["stream.publish_video"], "transmission_id") != tx {
		raw, _ := json.Marshal(nodes)
		t.Errorf("pipeline graph does not follow the wizard's choices: %s", raw)
	}

	// The same name again: the 409 is shown next to the name; nothing is added.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=wizard-submit]")))
	b.waitJS(10*time.Second, "the duplicate name error next to the name",
		`document.querySelector('[data-field="optional_parameters.pipeline_name"].invalid .field-error')?.textContent === "Pipeline already exists: scene_motion"`,
		`document.querySelector("[data-testid=wizard]")?.innerText ?? "none"`)
	if _, pipes := s.callRoot("GET", "/api/pipelines", ""); len(pipes.([]any)) != 1 {
		t.Errorf("pipelines after the refused duplicate: %v", pipes)
	}
	b.do(5*time.Second, chromedp.KeyEvent("\x1b"))
	b.waitJS(5*time.Second, "the wizard closed", `!document.querySelector("dialog[open]")`, "")

	// The Pipelines list shows it running with frames coming in.
	b.waitJS(25*time.Second, "the pipeline listed as running with fps in > 0",
		`(() => { const r = document.querySelector("[data-testid=pipeline-row][data-name=scene_motion]"); return !!r && r.querySelector("[data-testid=pipeline-state]").textContent === "running" && Number(r.dataset.fpsIn) > 0 })()`,
		`document.querySelector("[data-testid=pipelines]")?.innerText ?? "none"`)
	if _, st := s.callRoot("GET", "/api/pipelines/scene_motion/status", ""); jget(st, "running") != true {
		t.Errorf("pipeline status: %v", st)
	}
	if row := evalJS[string](b, `document.querySelector("[data-testid=pipeline-row][data-name=scene_motion]").innerText`); !strings.Contains(row, "local") {
		t.Errorf("pipeline row %q does not name its server", row)
	}
	// Cameras: still listed, still no password, in the page or the API.
	if evalJS[int](b, `document.querySelectorAll("[data-testid=camera-row]").length`) != 3 || evalJS[bool](b, `document.documentElement.outerHTML.includes("hunter2")`) || evalJS[bool](b, `document.documentElement.outerHTML.includes("yard-secret")`) {
		t.Error("cameras list changed or shows a password")
	}
	if _, cams := s.callRoot("GET", "/api/cameras", ""); strings.Contains(fmt.Sprint(cams), "hunter2") || strings.Contains(fmt.Sprint(cams), "yard-secret") {
		t.Errorf("camera listing shows a password: %v", cams)
	}

	// A pipeline reading the yard camera: the row shows it connected
	// through the camera hub, with its size and the pipeline as consumer.
	s.addCameraPipeline("yard_reader", "yard", tx, 160, 120)
	b.waitJS(20*time.Second, "the yard camera connected (the list polls)",
		`document.querySelector("[data-testid=camera-row][data-id=yard] [data-testid=camera-status]")?.dataset.state === "connected"`,
		`document.querySelector("[data-testid=cameras]")?.innerText ?? "none"`)
	b.waitJS(10*time.Second, "the yard camera's consumer and size",
		`(r => r.includes("1 consumer") && r.includes("pipeline yard_reader") && r.includes("320x240"))(document.querySelector("[data-testid=camera-row][data-id=yard]").innerText)`,
		`document.querySelector("[data-testid=camera-row][data-id=yard]").innerText`)
	b.screenshot("settings-cameras.png")
}
