package e2e

// Browser test of the responsive layout (issue 13 item 7): on a phone
// (360-430 px wide) and on a laptop (1280x800) no page scrolls sideways, the
// dashboard defaults to one tile per page on a phone with the tile's height
// given to the video, long names stay readable, tables stay inside their
// cards and the modals fit the screen.

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// layoutJS measures the page: its width against the viewport, the elements
// that run past the right edge of a viewport %d px wide (the overflow's
// culprits, even when a mobile browser zoomed the page out to fit them), the
// tables whose right edge passes their card's, and the open dialog's fit.
const layoutJS = `(() => {
	const inner = %d, doc = document.documentElement;
	const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "") + (e.dataset.testid ? "[" + e.dataset.testid + "]" : "");
	// Elements inside a scroll container that clips them within the
	// viewport are fine: only what reaches past it on the page counts.
	const clipped = (e) => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { if (getComputedStyle(p).overflowX !== "visible" && p.getBoundingClientRect().right <= inner + 0.5) return true; } return false; };
	const wide = [...document.querySelectorAll("body *")].filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > inner + 0.5 && !clipped(e); }).slice(0, 10).map((e) => name(e) + " right=" + Math.round(e.getBoundingClientRect().right));
	const tables = [...document.querySelectorAll("table")].map((t) => { const card = t.closest(".card, dialog"); if (!card) return null; const tr = t.getBoundingClientRect(), cr = card.getBoundingClientRect(); const box = t.parentElement.getBoundingClientRect(); return tr.width > 0 && Math.min(tr.right, box.right) > cr.right + 0.5 ? name(t.parentElement) + " table right=" + Math.round(tr.right) + " card right=" + Math.round(cr.right) : null; }).filter(Boolean);
	const d = document.querySelector("dialog[open]");
	let dialog = null;
	if (d) {
		const r = d.getBoundingClientRect(), body = d.querySelector(".modal-body");
		dialog = {left: r.left, right: r.right, top: r.top, bottom: r.bottom, scrollW: d.scrollWidth, clientW: d.clientWidth, bodyScrollW: body.scrollWidth, bodyClientW: body.clientWidth};
	}
	return JSON.stringify({inner: innerWidth, scroll: doc.scrollWidth, bodyScroll: document.body.scrollWidth, wide, tables, dialog});
})()`

type layout struct {
	Inner      float64  `json:"inner"`
	Scroll     float64  `json:"scroll"`
	BodyScroll float64  `json:"bodyScroll"`
	Wide       []string `json:"wide"`
	Tables     []string `json:"tables"`
	Dialog     *struct {
		Left, Right, Top, Bottom float64
		ScrollW                  float64 `json:"scrollW"`
		ClientW                  float64 `json:"clientW"`
		BodyScrollW              float64 `json:"bodyScrollW"`
		BodyClientW              float64 `json:"bodyClientW"`
	} `json:"dialog"`
}

// checkLayout fails the test when the page is wider than the viewport of
// width px, a table passes its card, or an open dialog does not fit.
func (b *browser) checkLayout(what string, width int) layout {
	b.t.Helper()
	var l layout
	if err := json.Unmarshal([]byte(evalJS[string](b, fmt.Sprintf(layoutJS, width))), &l); err != nil {
		b.t.Fatal(err)
	}
	if l.Inner != float64(width) {
		b.t.Errorf("%s: viewport %v px wide, want %d (the page was zoomed out to fit?)", what, l.Inner, width)
	}
	if l.Scroll > l.Inner || l.BodyScroll > l.Inner || len(l.Wide) > 0 {
		b.t.Errorf("%s: the page is %v px wide (body %v) in a %v px viewport; past %d px: %q", what, l.Scroll, l.BodyScroll, l.Inner, width, l.Wide)
	}
	if len(l.Tables) > 0 {
		b.t.Errorf("%s: tables past their card: %q", what, l.Tables)
	}
	if d := l.Dialog; d != nil {
		if d.Left < 0 || d.Right > l.Inner || d.Top < 0 || d.Bottom > float64(evalJS[int](b, `innerHeight`)) {
			b.t.Errorf("%s: the dialog %+v does not fit the %v px viewport", what, *d, l.Inner)
		}
		if d.ScrollW > d.ClientW || d.BodyScrollW > d.BodyClientW {
			b.t.Errorf("%s: the dialog scrolls sideways: %+v", what, *d)
		}
	}
	return l
}

// emulate sets the viewport; phone adds mobile emulation (the page's
// viewport meta tag applies, touch events) as on a real phone.
func emulate(width, height int64, phone bool) chromedp.Action[chromedp.Void] {
	if phone {
		return chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(width, height)
}

func TestUILayout(t *testing.T) {
	s := uiService(t)

	// Three cameras (one with a long URL and a login) and four pipelines:
	// two reading the test scene, two an address that never answers.
	for _, cam := range []string{
		`{"id":"scene","name":"Scene","url":"testsrc","fps":10}`,
		`{"id":"door","name":"Front door","url":"rtsp://192.0.2.9:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1","username":"admin","password":"hunter2-secret"}`,
		`{"id":"loading_dock_north_entrance_camera","name":"Loading dock north entrance (forklift lane, second floor)","url":"rtsp://192.0.2.10:8554/cam/realmonitor?channel=1&subtype=0&unicast=true&proto=Onvif"}`,
	} {
		if status, out := s.callRoot("POST", "/api/cameras", cam); status != 200 && status != 201 {
			t.Fatalf("create camera: %d %v", status, out)
		}
	}
	const rtc = `{"id":"rtc","protocol":"webrtc","resolution":{"width":320,"height":180},"fps_limit":10,"latency_profile":"ultra_low"}`
	const hls = `{"id":"hls","protocol":"hls","resolution":{"width":320,"height":180},"fps_limit":10}`
	var ids []string
	for _, tx := range [][2]string{{"Gate", "gate"}, {"Yard", "yard"}, {"Parking lot east", "parking-east"}, {"Dock", "dock"}} {
		ids = append(ids, s.create(fmt.Sprintf(uiOutputs, tx[0], tx[1], rtc)))
	}
	s.create(fmt.Sprintf(uiOutputs, "transmission_with_a_very_long_name_and_no_spaces_at_all_0123456789", "no-spaces", rtc))
	// Created last, so the first tile: a long name with a live writer.
	longName := "Warehouse loading dock north entrance — forklift lane camera three (night shift)"
	long := s.create(fmt.Sprintf(uiOutputs, longName, "warehouse-dock-north", rtc+","+hls))
	s.addCameraPipeline("scene_to_the_long_named_warehouse_transmission", "scene", long, 160, 90)
	s.addCameraPipeline("scene_small", "scene", ids[0], 160, 90)
	s.addCameraPipeline("front_door_reader_with_a_rather_long_pipeline_name", "door", ids[1], 0, 0)
	s.addCameraPipeline("dock_north", "loading_dock_north_entrance_camera", ids[3], 0, 0)
	s.publishPattern(long, 320, 180, rgb{30, 90, 160})

	// The Settings page once its lists are filled.
	settingsReady := func(b *browser) {
		b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
		b.waitJS(20*time.Second, "six transmissions, three cameras and four pipelines listed",
			`document.querySelectorAll("[data-testid=tx-row]").length === 6 && document.querySelectorAll("[data-testid=camera-row]").length === 3 && document.querySelectorAll("[data-testid=pipeline-row]").length === 4`,
			`document.querySelector("[data-testid=settings]")?.innerText.slice(0, 2000) ?? "none"`)
	}
	longRow := txRow(long)
	// openModal opens the modal of the long-named row's button testid.
	openModal := func(b *browser, testid, ready string) {
		b.do(10*time.Second, chromedp.Click(chromedp.CSS(longRow+` [data-testid=`+testid+`]`)))
		b.waitJS(10*time.Second, "the modal of "+testid, ready, `document.querySelector("dialog[open]")?.innerText ?? "no dialog"`)
	}
	closeModal := func(b *browser) {
		b.do(5*time.Second, chromedp.KeyEvent("\x1b"))
		b.waitJS(5*time.Second, "the modal closed", `!document.querySelector("dialog[open]")`, "")
	}

	// A phone, 390x844.
	b := newBrowser(t, "")
	b.do(20*time.Second, emulate(390, 844, true), chromedp.Navigate(s.uiRoot()+"/"))
	b.waitJS(10*time.Second, "the dashboard with its first tile",
		fmt.Sprintf(`!!document.querySelector('[data-testid=tile][data-id=%q]')`, long),
		`document.querySelector("[data-testid=dashboard]")?.innerText ?? "none"`)
	if g := evalJS[string](b, `document.querySelector("[data-testid=grid]").dataset.grid`); g != "1x1" {
		t.Errorf("default grid on a phone %q, want 1x1", g)
	}
	b.waitPlaying(long, "WebRTC", 40*time.Second)
	// The video's picture (object-fit: contain) fills most of the tile.
	type share struct{ Height, Area, TileW, TileH float64 }
	sh := evalJS[share](b, fmt.Sprintf(`(() => {
		const tile = document.querySelector('[data-testid=tile][data-id=%q]'), v = tile.querySelector("video");
		const r = tile.getBoundingClientRect(), k = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
		const w = v.videoWidth * k, h = v.videoHeight * k;
		return {height: h / r.height, area: (w * h) / (r.width * r.height), tileW: r.width, tileH: r.height};
	})()`, long))
	if sh.Height < 0.9 || sh.Area < 0.8 {
		t.Errorf("on a phone the picture takes %.0f%% of the tile's height and %.0f%% of its area (tile %.0fx%.0f), want most of it", sh.Height*100, sh.Area*100, sh.TileW, sh.TileH)
	}
	// The long name: cut with an ellipsis, whole in its title.
	label := fmt.Sprintf(`document.querySelector('[data-testid=tile][data-id=%q] [data-testid=tile-label]')`, long)
	if got := evalJS[string](b, label+`.title`); got != longName {
		t.Errorf("tile label title %q, want the full name %q", got, longName)
	}
	b.checkLayout("dashboard at 390", 390)
	b.do(5*time.Second, chromedp.MouseEvent("mouseMoved", 200, 300))
	b.waitJS(3*time.Second, "overlay shown", `getComputedStyle(document.querySelector("[data-testid=tile-overlay]")).opacity === "1"`, "")
	b.screenshot("layout-dashboard-390.png")

	// A stored choice wins over the phone's default.
	b.do(5*time.Second, jsDo(`(localStorage.setItem("toposync.streams.grid_mode.v1", "2x2"), true)`), chromedp.Reload())
	b.waitJS(10*time.Second, "the stored 2x2 grid", `document.querySelector("[data-testid=grid]")?.dataset.grid === "2x2" && document.querySelectorAll("[data-testid=tile]").length === 4`,
		`document.querySelector("[data-testid=dashboard]")?.innerText ?? "none"`)
	b.checkLayout("dashboard 2x2 at 390", 390)
	b.screenshot("layout-dashboard-2x2-390.png")
	b.do(5*time.Second, jsDo(`(localStorage.removeItem("toposync.streams.grid_mode.v1"), true)`))

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/watch/"+long))
	b.waitJS(10*time.Second, "the watch page", `!!document.querySelector("[data-testid=watch] [data-testid=tile]")`, `document.body.innerText`)
	if got := evalJS[string](b, `document.querySelector("[data-testid=watch] h1").title`); got != longName {
		t.Errorf("watch title %q, want the full name %q", got, longName)
	}
	b.checkLayout("watch at 390", 390)
	b.screenshot("layout-watch-390.png")

	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/docs"))
	b.waitJS(10*time.Second, "the docs", `document.querySelectorAll("[data-testid=docs-op]").length > 0`, "")
	b.checkLayout("docs at 390", 390)
	b.screenshot("layout-docs-390.png")

	settingsReady(b)
	b.checkLayout("settings at 390", 390)
	// Names wrap: none is cut by its box.
	if cut := evalJS[[]string](b, `[...document.querySelectorAll("[data-testid=tx-name], [data-testid=camera-row] strong, [data-testid=pipeline-row] strong")].filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > e.closest(".card").getBoundingClientRect().right).map(e => e.textContent)`); len(cut) > 0 {
		t.Errorf("names cut at 390: %q", cut)
	}
	b.screenshot("layout-settings-390.png")
	b.do(5*time.Second, chromedp.ScrollIntoView(chromedp.CSS("[data-testid=pipelines]")))
	b.screenshot("layout-settings-tables-390.png")

	// The modals: full width, scrolling inside, the editor's actions in reach.
	openModal(b, "tx-edit", `!!document.querySelector("dialog[open] [data-testid=tx-form]")`)
	b.checkLayout("transmission editor at 390", 390)
	if !evalJS[bool](b, `(() => { const r = document.querySelector("[data-testid=tx-save]").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.right <= innerWidth })()`) {
		t.Error("the editor's Save button is off screen at 390")
	}
	b.screenshot("layout-editor-390.png")
	closeModal(b)
	openModal(b, "tx-wizard", `!!document.querySelector("dialog[open] [data-testid=wizard-form]")`)
	b.checkLayout("wizard at 390", 390)
	b.screenshot("layout-wizard-390.png")
	closeModal(b)
	openModal(b, "tx-urls", `document.querySelectorAll("dialog[open] [data-testid=url-row]").length === 2`)
	b.checkLayout("URLs at 390", 390)
	b.screenshot("layout-urls-390.png")
	closeModal(b)

	// The narrowest and widest phones: no page scrolls sideways.
	for _, w := range []int64{360, 430} {
		b.do(10*time.Second, emulate(w, 800, true))
		for _, page := range []string{"/", "/watch/" + long, "/docs"} {
			b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+page))
			b.waitJS(10*time.Second, "the page "+page, `!!document.querySelector("[data-testid=tile], [data-testid=docs-op]")`, `document.body.innerText`)
			b.checkLayout(fmt.Sprintf("%s at %d", page, w), int(w))
		}
		// The nav bar shows every link without scrolling.
		if off := evalJS[[]string](b, `[...document.querySelectorAll(".nav a")].filter(a => a.getBoundingClientRect().right > innerWidth).map(a => a.textContent)`); len(off) > 0 {
			t.Errorf("nav links off screen at %d: %q", w, off)
		}
		settingsReady(b)
		b.checkLayout(fmt.Sprintf("settings at %d", w), int(w))
		openModal(b, "tx-edit", `!!document.querySelector("dialog[open] [data-testid=tx-form]")`)
		b.checkLayout(fmt.Sprintf("transmission editor at %d", w), int(w))
		closeModal(b)
	}
	b.screenshot("layout-settings-430.png")

	// A phone on its side is a phone too: 1x1 by default.
	b.do(20*time.Second, emulate(844, 390, true), chromedp.Navigate(s.uiRoot()+"/"))
	b.waitJS(10*time.Second, "the dashboard", `!!document.querySelector("[data-testid=tile]")`, `document.body.innerText`)
	if g := evalJS[string](b, `document.querySelector("[data-testid=grid]").dataset.grid`); g != "1x1" {
		t.Errorf("default grid on a phone on its side %q, want 1x1", g)
	}
	b.checkLayout("dashboard at 844x390", 844)

	// A laptop, 1280x800: 2x2 by default, Settings' tables inside their cards.
	d := newBrowser(t, "")
	d.do(20*time.Second, emulate(1280, 800, false), chromedp.Navigate(s.uiRoot()+"/"))
	d.waitJS(10*time.Second, "the 2x2 grid", `document.querySelector("[data-testid=grid]")?.dataset.grid === "2x2" && document.querySelectorAll("[data-testid=tile]").length === 4`,
		`document.querySelector("[data-testid=dashboard]")?.innerText ?? "none"`)
	d.waitPlaying(long, "WebRTC", 40*time.Second)
	d.checkLayout("dashboard at 1280", 1280)
	d.screenshot("layout-dashboard-1280.png")
	settingsReady(d)
	d.checkLayout("settings at 1280", 1280)
	d.screenshot("layout-settings-1280.png")
	d.do(5*time.Second, chromedp.ScrollIntoView(chromedp.CSS("[data-testid=pipelines]")))
	d.screenshot("layout-settings-tables-1280.png")
	openModal(d, "tx-edit", `!!document.querySelector("dialog[open] [data-testid=tx-form]")`)
	d.checkLayout("transmission editor at 1280", 1280)
	d.screenshot("layout-editor-1280.png")
	closeModal(d)
}
