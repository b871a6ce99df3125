package e2e

// Browser test of the Settings inventory: cameras (add, test with a
// preview, edit with the password kept, delete refused while a pipeline
// reads it, delete), pipelines (disable, enable, delete) and processing
// servers (add, edit, delete), each change read back through the API, and
// a refused field shown at that field.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

func row(kind, id string) string {
	attr := "id"
	if kind == "pipeline" {
		attr = "name"
	}
	return fmt.Sprintf(`[data-testid=%s-row][data-%s=%q]`, kind, attr, id)
}

func TestUIInventory(t *testing.T) {
	testutil.RequireFFmpeg(t)
	s := startService(t, t.TempDir())
	tx := s.create(`{"name":"Dock","path":"dock","outputs":[{"id":"hls","protocol":"hls"}]}`)
	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "the cards", `!!document.querySelector("[data-testid=camera-add]") && !!document.querySelector("[data-testid=server-add]")`, `document.body.innerText`)
	modalGone := func(testid string) {
		t.Helper()
		b.waitJS(10*time.Second, testid+" closed", fmt.Sprintf(`!document.querySelector("[data-testid=%s]")`, testid), `document.querySelector("dialog")?.innerText ?? ""`)
	}
	camera := func() map[string]any {
		t.Helper()
		status, out := s.callRoot("GET", "/api/cameras/gate", "")
		if status != 200 {
			t.Fatalf("camera: %d %v", status, out)
		}
		return out.(map[string]any)
	}

	// Add a camera; a refused URL is shown at the URL field first.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-add]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=camera-form]")))
	b.setInput("[data-testid=camera-name-input]", "Gate")
	b.setInput("[data-testid=camera-url]", "http://127.0.0.1/cam.mjpg")
	b.setInput("[data-testid=camera-username]", "admin")
	b.setInput("[data-testid=camera-form] [data-testid=password]", "gate-s3cret")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-save]")))
	b.waitJS(10*time.Second, "the refusal at the URL field",
		`(f => !!f && f.classList.contains("invalid") && f.querySelector(".field-error").textContent.includes("inputs are not accepted"))(document.querySelector("[data-testid=camera-form] [data-field=url]"))`,
		`document.querySelector("[data-testid=camera-form]").innerText`)
	if n := evalJS[int](b, `document.querySelectorAll("[data-testid=camera-form] .field.invalid").length`); n != 1 {
		t.Errorf("%d invalid fields, want the URL only", n)
	}
	b.screenshot("inventory-camera-422.png")
	b.setInput("[data-testid=camera-url]", "testsrc")

	// Test connection: the frame is shown.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-test-run]")))
	b.waitJS(20*time.Second, "the preview", `(i => !!i && i.complete && i.naturalWidth > 0)(document.querySelector("[data-testid=camera-preview]"))`,
		`document.querySelector("[data-testid=camera-test]").innerText`)
	b.screenshot("inventory-camera-test.png")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-save]")))
	modalGone("camera-modal")
	b.waitJS(10*time.Second, "the camera listed", fmt.Sprintf(`!!document.querySelector(%q)`, row("camera", "gate")), `document.querySelector("[data-testid=cameras]").innerText`)
	if c := camera(); c["name"] != "Gate" || c["url"] != "testsrc" || c["username"] != "admin" || c["password_set"] != true {
		t.Fatalf("created camera %v", c)
	}

	// The wizard lists the camera made here, and follows cameras changed while it is open.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(tx)+" [data-testid=tx-wizard]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=wizard-form]")))
	if opts := evalJS[string](b, `[...document.querySelectorAll("[data-testid=wizard-form] [name=camera_id] option")].map(o => o.value).join(",")`); opts != "gate" {
		t.Errorf("wizard cameras %q, want gate", opts)
	}
	if status, out := s.callRoot("POST", "/api/cameras", `{"id":"yard","name":"Yard","url":"testsrc"}`); status != 200 {
		t.Fatalf("camera: %d %v", status, out)
	}
	b.do(5*time.Second, jsDo(`document.dispatchEvent(new CustomEvent("toposync:cameras-changed")) || true`))
	b.waitJS(10*time.Second, "the wizard's list to follow", `[...document.querySelectorAll("[data-testid=wizard-form] [name=camera_id] option")].map(o => o.value).join(",") === "gate,yard"`,
		`[...document.querySelectorAll("[data-testid=wizard-form] [name=camera_id] option")].map(o => o.value).join(",")`)
	if status, _ := s.callRoot("DELETE", "/api/cameras/yard", ""); status != 200 {
		t.Fatalf("delete yard: %d", status)
	}
	b.do(5*time.Second, jsDo(`(document.querySelector("[data-testid=wizard-modal]").close(), true)`))
	modalGone("wizard-modal")

	// Edit: the password is not shown, and kept when none is typed.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("camera", "gate")+" [data-testid=row-edit]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=camera-form]")))
	if pw, ph := b.value("[data-testid=camera-form] [data-testid=password]"), evalJS[string](b, `document.querySelector("[data-testid=camera-form] [data-testid=password]").placeholder`); pw != "" || !strings.Contains(ph, "password set") {
		t.Errorf("password field %q, placeholder %q", pw, ph)
	}
	if evalJS[bool](b, `document.documentElement.outerHTML.includes("gate-s3cret")`) {
		t.Error("the stored password is in the page")
	}
	// The test of the stored camera uses its stored password (none sent).
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-test-run]")))
	b.waitJS(20*time.Second, "the preview of the stored camera", `(i => !!i && i.complete && i.naturalWidth > 0)(document.querySelector("[data-testid=camera-preview]"))`,
		`document.querySelector("[data-testid=camera-test]").innerText`)
	b.setInput("[data-testid=camera-name-input]", "North gate")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=camera-save]")))
	modalGone("camera-modal")
	b.waitJS(10*time.Second, "the new name", fmt.Sprintf(`document.querySelector(%q)?.innerText === "North gate"`, row("camera", "gate")+" [data-testid=camera-name]"),
		`document.querySelector("[data-testid=cameras]").innerText`)
	if c := camera(); c["name"] != "North gate" || c["password_set"] != true {
		t.Fatalf("edited camera %v: the password must be kept", c)
	}

	// A pipeline reads the camera: the camera's delete is refused, in the dialog.
	status, out := s.callRoot("POST", "/api/pipelines", fmt.Sprintf(`{"name":"gate_feed","enabled":false,"run_mode":"on_demand","graph":{"nodes":[{"id":"s","type":"camera.source","config":{"camera_id":"gate"}},{"id":"p","type":"stream.publish_video","config":{"transmission_id":%q}}],"edges":[{"from":{"node":"s","port":"out"},"to":{"node":"p","port":"in"}}]}}`, tx))
	if status != 200 {
		t.Fatalf("pipeline: %d %v", status, out)
	}
	b.waitJS(10*time.Second, "the pipeline listed, disabled", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === "disabled"`, row("pipeline", "gate_feed")),
		`document.querySelector("[data-testid=pipelines]").innerText`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("camera", "gate")+" [data-testid=row-delete]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-confirm]")))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=confirm-delete]")))
	b.waitJS(10*time.Second, "the refusal", `(e => !!e && !e.hidden && e.innerText.includes("North gate") && e.innerText.includes("gate_feed"))(document.querySelector("[data-testid=delete-error]"))`,
		`document.querySelector("[data-testid=delete-confirm]")?.innerText ?? "no dialog"`)
	b.screenshot("inventory-camera-in-use.png")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=cancel-delete]")))
	modalGone("modal")

	// Enable, disable, delete the pipeline.
	pipeline := func() map[string]any {
		t.Helper()
		_, out := s.callRoot("GET", "/api/pipelines/gate_feed", "")
		return out.(map[string]any)
	}
	for _, want := range []bool{true, false} {
		b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("pipeline", "gate_feed")+" [data-testid=pipeline-toggle]")))
		label := map[bool]string{true: "Disable", false: "Enable"}[want]
		b.waitJS(15*time.Second, "the toggle to follow", fmt.Sprintf(`document.querySelector(%q)?.textContent === %q`, row("pipeline", "gate_feed")+" [data-testid=pipeline-toggle]", label),
			`document.querySelector("[data-testid=pipelines]").innerText`)
		p := pipeline()
		if p["enabled"] != want || p["run_mode"] != "on_demand" || len(jget(p, "graph", "nodes").([]any)) != 2 {
			t.Fatalf("pipeline after the toggle: %v, want enabled %v with its run_mode and graph", p, want)
		}
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("pipeline", "gate_feed")+" [data-testid=row-delete]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-confirm]")))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=confirm-delete]")))
	b.waitJS(10*time.Second, "the pipeline gone", fmt.Sprintf(`!document.querySelector(%q)`, row("pipeline", "gate_feed")), `document.querySelector("[data-testid=pipelines]").innerText`)
	if status, _ := s.callRoot("GET", "/api/pipelines/gate_feed", ""); status != 404 {
		t.Errorf("deleted pipeline: %d", status)
	}

	// Now the camera goes.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("camera", "gate")+" [data-testid=row-delete]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-confirm]")))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=confirm-delete]")))
	b.waitJS(10*time.Second, "the camera gone", fmt.Sprintf(`!document.querySelector(%q)`, row("camera", "gate")), `document.querySelector("[data-testid=cameras]").innerText`)
	if status, _ := s.callRoot("GET", "/api/cameras/gate", ""); status != 404 {
		t.Errorf("deleted camera: %d", status)
	}

	// A processing server: added (a bad URL first, shown at its field), edited with the password kept, deleted.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=server-add]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=server-form]")))
	b.setInput("[data-testid=server-name-input]", "Edge One")
	b.setInput("[data-testid=server-url]", "ftp://10.0.0.5")
	b.setInput("[data-testid=server-form] [data-testid=password]", "edge-s3cret")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=server-save]")))
	b.waitJS(10*time.Second, "the refusal at the URL field", `!!document.querySelector("[data-testid=server-form] [data-field=url].invalid")`, `document.querySelector("[data-testid=server-form]").innerText`)
	b.setInput("[data-testid=server-url]", "http://127.0.0.1:1")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=server-save]")))
	modalGone("server-modal")
	b.waitJS(10*time.Second, "the server listed", fmt.Sprintf(`!!document.querySelector(%q)`, row("server", "edge-one")), `document.querySelector("[data-testid=servers]").innerText`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("server", "edge-one")+" [data-testid=row-edit]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=server-form]")))
	b.setInput("[data-testid=server-name-input]", "Edge East")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=server-save]")))
	modalGone("server-modal")
	b.waitJS(10*time.Second, "the new name", fmt.Sprintf(`document.querySelector(%q)?.innerText === "Edge East"`, row("server", "edge-one")+" [data-testid=server-name]"),
		`document.querySelector("[data-testid=servers]").innerText`)
	if _, out := s.callRoot("GET", "/api/processing-servers/edge-one", ""); jget(out, "name") != "Edge East" || jget(out, "password_set") != true {
		t.Fatalf("edited server %v: the password must be kept", out)
	}
	b.screenshot("inventory-servers.png")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row("server", "edge-one")+" [data-testid=row-delete]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-confirm]")))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=confirm-delete]")))
	b.waitJS(10*time.Second, "the server gone", fmt.Sprintf(`!document.querySelector(%q)`, row("server", "edge-one")), `document.querySelector("[data-testid=servers]").innerText`)
	if status, _ := s.callRoot("GET", "/api/processing-servers/edge-one", ""); status != 404 {
		t.Errorf("deleted server: %d", status)
	}
}
