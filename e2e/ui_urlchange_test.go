package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// Issue 13 item 6: adding a second output moves the first one's URL from
// /yard to /yard-hls (the spec's rule). Before saving, the form shows old →
// new and offers to keep the old URL, which pins output.path; conflicts
// are shown at the field the server's loc names.
func TestUIURLChangeWarning(t *testing.T) {
	s := uiService(t)
	id := s.create(`{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"}]}`)
	s.create(`{"name":"Gate","path":"gate","outputs":[{"id":"hls","protocol":"hls"}]}`)
	_, urls := s.call("GET", "/transmissions/"+id+"/urls", "")
	oldURL := jget(urls, "outputs", 0, "url").(string)
	if !strings.HasSuffix(oldURL, "/yard/index.m3u8") {
		t.Fatalf("one output's URL: %s", oldURL)
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "Yard listed", fmt.Sprintf(`!!document.querySelector(%q)`, txRow(id)), `document.querySelector("[data-testid=tx-list]")?.innerText ?? "no list"`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-edit]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	if hint := evalJS[string](b, `document.querySelector('[data-field="path"] .hint').textContent`); !strings.Contains(hint, "<path>-<output id>") {
		t.Errorf("path hint does not tell the multi-output rule: %q", hint)
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=output-add]")))
	b.waitJS(5*time.Second, "a second output", `document.querySelectorAll("[data-testid=output]").length === 2`, `document.querySelector("[data-testid=tx-form]").innerText`)

	// Save: the warning lists the first output's old and new URL; nothing is saved yet.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the URL change warning",
		`document.querySelectorAll("[data-testid=url-change-row]").length === 1`, `document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
	row := `[data-testid=url-change-row][data-output="hls"]`
	if got := evalJS[string](b, fmt.Sprintf(`document.querySelector(%q).querySelector("[data-testid=url-old]").textContent`, row)); got != oldURL {
		t.Errorf("old URL shown %q, want %q", got, oldURL)
	}
	if got := evalJS[string](b, fmt.Sprintf(`document.querySelector(%q).querySelector("[data-testid=url-new]").textContent`, row)); got != strings.Replace(oldURL, "/yard/", "/yard-hls/", 1) {
		t.Errorf("new URL shown %q", got)
	}
	if _, now := s.call("GET", "/transmissions/"+id, ""); len(jget(now, "outputs").([]any)) != 1 {
		t.Fatalf("saved before the warning was answered: %v", now)
	}
	b.screenshot("settings-url-change.png")

	// Keep the old URL, save: the first output is pinned and its URL unchanged.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(row+" [data-testid=url-keep]")), chromedp.Click(chromedp.CSS("[data-testid=url-change-confirm]")))
	b.waitJS(10*time.Second, "the editor closed", `!document.querySelector("[data-testid=tx-form]")`, `document.querySelector("[data-testid=tx-form]")?.innerText ?? ""`)
	_, tx := s.call("GET", "/transmissions/"+id, "")
	if len(jget(tx, "outputs").([]any)) != 2 || jget(tx, "outputs", 0, "path") != "yard" || jget(tx, "outputs", 1, "path") != nil {
		t.Fatalf("stored outputs: %v", jget(tx, "outputs"))
	}
	_, urls = s.call("GET", "/transmissions/"+id+"/urls", "")
	if got := jget(urls, "outputs", 0, "url"); got != oldURL {
		t.Errorf("pinned output's URL %v, want %s", got, oldURL)
	}

	// The editor shows the pin; a pin that takes Gate's path is refused at the pin.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(txRow(id)+` [data-testid=tx-edit]`)), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	if got := b.value(`[name="outputs.0.path"]`); got != "yard" {
		t.Errorf("pin shown as %q", got)
	}
	b.setInput(`[name="outputs.1.path"]`, "gate")
	b.saveExpectingFieldError("outputs.1.path", "Engine path 'gate'")
	// A duplicate transmission path lands at the path field.
	b.setInput(`[name="outputs.1.path"]`, "")
	b.setInput("[data-testid=tx-path]", "gate")
	b.saveExpectingFieldError("path", "Duplicate transmission path")
	if n := evalJS[int](b, `document.querySelectorAll(".field.invalid").length`); n != 1 {
		t.Errorf("%d fields marked invalid, want only the path", n)
	}
	if evalJS[bool](b, `!document.querySelector("[data-testid=form-banner]").hidden`) {
		t.Errorf("banner shown: %s", evalJS[string](b, `document.querySelector("[data-testid=form-banner]").innerText`))
	}
	b.screenshot("settings-path-conflict.png")
}

// The engine serves a pinned output at its pin, not at {path}-{output id}.
func TestPinnedOutputPathServed(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) {
			s := startService(t, t.TempDir(), env...)
			st := s.runEngine(kind, testutil.FreePorts(t, 4))
			s.create(`{"name":"Yard","path":"yard","outputs":[{"id":"rtsp","protocol":"rtsp","path":"yard","resolution":{"width":320,"height":240}},{"id":"hls","protocol":"hls"}]}`)
			url := fmt.Sprintf("rtsp://127.0.0.1:%v/yard", jget(st, "ports", "rtsp"))
			if got := probe(t, url, "-rtsp_transport", "tcp"); got != "h264 320x240" {
				t.Errorf("%s: %s", url, got)
			}
		})
	}
}
