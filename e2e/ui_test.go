package e2e

// Browser tests of the web UI: the real binary serves the UI, Debian's
// Chromium (headless) drives it through chromedp. Every check reads what the
// page shows or does (rows listed, errors next to fields, video frames
// decoded), never merely that a page loaded.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

func TestUISettingsPanel(t *testing.T) {
	s := uiService(t)
	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))

	// The engine card shows the live status and the actual ports.
	_, st := s.call("GET", "/engine/status", "")
	rtsp := int(st.(map[string]any)["ports"].(map[string]any)["rtsp"].(float64))
	b.waitJS(10*time.Second, "engine card running with its ports",
		fmt.Sprintf(`document.querySelector("[data-testid=engine-state]")?.textContent === "Running" && document.querySelector("[data-testid=engine-ports]")?.textContent.includes("%d")`, rtsp),
		`document.querySelector("[data-testid=engine-card]")?.innerText ?? "no card"`)

	// Create a transmission through the form; it is listed, and stored.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-new]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	b.setInput("[data-testid=tx-name-input]", "Front Door")
	if path := evalJS[string](b, `document.querySelector("[data-testid=tx-path]").value`); path != "front-door" {
		t.Errorf("path follows the name: %q, want front-door", path)
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the new transmission listed",
		`!document.querySelector("[data-testid=tx-form]") && [...document.querySelectorAll("[data-testid=tx-name]")].some(e => e.textContent === "Front Door")`,
		`document.body.innerText.slice(0, 2000)`)
	_, list := s.call("GET", "/transmissions", "")
	if ts := list.([]any); len(ts) != 1 || ts[0].(map[string]any)["path"] != "front-door" || ts[0].(map[string]any)["name"] != "Front Door" {
		t.Fatalf("stored transmissions: %v", ts)
	}

	// A 422 lands next to the field it names; a 409 next to the path.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-new]")), chromedp.WaitVisible(chromedp.CSS("[data-testid=tx-form]")))
	b.setInput("[data-testid=tx-name-input]", "Too Fast")
	b.setInput("[data-testid=output-fps]", "500")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the fps error next to the fps field",
		`document.querySelector('[data-field="outputs.0.fps_limit"].invalid .field-error')?.textContent.includes("less than or equal to 120")`,
		`document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
	if n := evalJS[int](b, `document.querySelectorAll(".field.invalid").length`); n != 1 {
		t.Errorf("%d fields marked invalid, want only fps", n)
	}
	b.screenshot("settings-validation.png")
	b.setInput("[data-testid=output-fps]", "10")
	b.setInput("[data-testid=tx-path]", "front-door")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the duplicate path error next to the path field",
		`document.querySelector('[data-field="path"].invalid .field-error')?.textContent.includes("Duplicate transmission path")`,
		`document.querySelector("[data-testid=tx-form]")?.innerText ?? "no form"`)
	b.setInput("[data-testid=tx-path]", "side-door")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=tx-save]")))
	b.waitJS(10*time.Second, "the corrected transmission listed",
		`!document.querySelector("[data-testid=tx-form]") && document.querySelectorAll("[data-testid=tx-row]").length === 2`, `document.body.innerText.slice(0, 2000)`)

	// Search filters the list.
	b.setInput("[data-testid=tx-search]", "side")
	b.waitJS(5*time.Second, "search keeps one row",
		`document.querySelectorAll("[data-testid=tx-row]").length === 1 && document.querySelector("[data-testid=tx-name]").textContent === "Too Fast"`, `document.querySelector("[data-testid=tx-list]").innerText`)
	b.setInput("[data-testid=tx-search]", "")
	b.waitJS(5*time.Second, "search cleared", `document.querySelectorAll("[data-testid=tx-row]").length === 2`, "")

	// Load URLs: the HLS URL with the engine's actual port, and a copy button.
	hls := int(st.(map[string]any)["ports"].(map[string]any)["hls"].(float64))
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=tx-row]:last-child [data-testid=tx-urls]`)))
	want := fmt.Sprintf("http://127.0.0.1:%d/front-door/index.m3u8", hls)
	b.waitJS(10*time.Second, "the URL listed", fmt.Sprintf(`document.querySelector("[data-testid=url-value]")?.textContent === %q && !!document.querySelector("[data-testid=url-copy]")`, want),
		`document.querySelector("[data-testid=urls]")?.innerText ?? "no urls"`)
	b.do(10*time.Second, chromedp.KeyEvent("\x1b")) // Escape closes the dialog
	b.waitJS(5*time.Second, "the URLs dialog closed", `!document.querySelector("dialog[open]")`, "")

	// Engine settings: a refused port is shown next to its field.
	b.setInput(`[name="engine.preferred_ports.rtsp"]`, "70000")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=engine-form] button[type=submit]`)))
	b.waitJS(10*time.Second, "the port error next to the RTSP port",
		`document.querySelector('[data-field="engine.preferred_ports.rtsp"].invalid .field-error')?.textContent.includes("65535")`,
		`document.querySelector("[data-testid=engine-form]").innerText`)
	b.setInput(`[name="engine.preferred_ports.rtsp"]`, fmt.Sprint(rtsp))
	if evalJS[bool](b, `!!document.querySelector('[data-field="engine.preferred_ports.rtsp"].invalid')`) {
		t.Error("the RTSP port error stayed after the field was edited")
	}
	// The H.264 encoder is chosen here too (auto by default).
	if got := b.value("[data-testid=engine-h264-encoder]"); got != "auto" {
		t.Errorf("encoder choice %q, want auto", got)
	}
	b.setSelect("[data-testid=engine-h264-encoder]", "libx264")
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=engine-form] button[type=submit]`)))
	testutil.Eventually(t, 10*time.Second, "the encoder choice saved", func() bool {
		_, out := s.call("GET", "/settings", "")
		return jget(out, "engine", "h264_encoder") == "libx264"
	})

	// Stop and start from the engine card.
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-stop]")))
	b.waitJS(15*time.Second, "engine stopped", `document.querySelector("[data-testid=engine-state]").textContent === "Stopped"`, "")
	if _, st := s.call("GET", "/engine/status", ""); st.(map[string]any)["running"] != false {
		t.Errorf("engine still running after Stop: %v", st)
	}
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=engine-start]")))
	b.waitJS(15*time.Second, "engine running again", `document.querySelector("[data-testid=engine-state]").textContent === "Running"`, "")

	// The wizard and the cameras/pipelines lists render either data or "not available".
	b.do(10*time.Second, jsDo(`(window.scrollTo(0, 0), true)`), chromedp.Click(chromedp.CSS(`[data-testid=tx-row]:first-child [data-testid=tx-wizard]`)))
	b.waitJS(10*time.Second, "the wizard says what it can do",
		`(() => { const w = document.querySelector("[data-testid=wizard]"); return !!w && !w.innerText.includes("Loading") })()`, `document.querySelector("[data-testid=wizard]")?.innerText ?? "none"`)
	b.do(10*time.Second, chromedp.KeyEvent("\x1b"))
	b.waitJS(10*time.Second, "cameras and pipelines sections loaded",
		`["cameras", "pipelines"].every(id => { const el = document.querySelector("[data-testid=" + id + "]"); return el && !el.innerText.includes("Loading") })`, "")

	b.do(5*time.Second, jsDo(`(window.scrollTo(0, 0), document.activeElement?.blur(), true)`))
	b.waitJS(10*time.Second, "toasts gone", `!document.querySelector(".toast")`, "")
	b.screenshot("settings.png")
}

// tileJS is a JavaScript expression giving the state of the tile of id.
func tileJS(id string) string {
	return fmt.Sprintf(`(() => {
		const tile = document.querySelector('[data-testid=tile][data-id=%q]');
		if (!tile) return null;
		const v = tile.querySelector("video");
		const q = v.getVideoPlaybackQuality();
		return {state: tile.dataset.state, transport: tile.dataset.transport,
			label: tile.querySelector("[data-testid=tile-transport]").textContent,
			note: tile.querySelector("[data-testid=tile-note]").textContent,
			message: tile.querySelector("[data-testid=tile-message]").innerText,
			time: v.currentTime, frames: q.totalVideoFrames, width: v.videoWidth, height: v.videoHeight};
	})()`, id)
}

type tileState struct {
	State     string  `json:"state"`
	Transport string  `json:"transport"`
	Label     string  `json:"label"`
	Note      string  `json:"note"`
	Message   string  `json:"message"`
	Time      float64 `json:"time"`
	Frames    int     `json:"frames"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
}

// waitPlaying waits until the tile of id plays over transport: its overlay
// says so and its video decodes frames and advances by at least a second.
func (b *browser) waitPlaying(id, transport string, within time.Duration) tileState {
	b.t.Helper()
	b.waitJS(within, fmt.Sprintf("tile %s playing over %s", id, transport),
		fmt.Sprintf(`(() => { const s = %s; return !!s && s.state === "playing" && s.transport === %q && s.label === %q })()`, tileJS(id), transport, transport),
		fmt.Sprintf(`JSON.stringify(%s)`, tileJS(id)))
	first := evalJS[tileState](b, tileJS(id))
	b.waitJS(15*time.Second, fmt.Sprintf("tile %s video advancing", id),
		fmt.Sprintf(`(() => { const s = %s; return !!s && s.state === "playing" && s.time >= %f + 1 && s.frames >= %d + 8 && s.width > 0 })()`, tileJS(id), first.Time, first.Frames),
		fmt.Sprintf(`JSON.stringify(%s)`, tileJS(id)))
	return evalJS[tileState](b, tileJS(id))
}

const uiOutputs = `{"name":%q,"path":%q,"outputs":[%s]}`
const uiRTC = `{"id":"rtc","protocol":"webrtc","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"}`
const uiHLS = `{"id":"hls","protocol":"hls","resolution":{"width":320,"height":240},"fps_limit":10,"latency_profile":"ultra_low"}`

func TestUIDashboard(t *testing.T) {
	s := uiService(t)
	// Newest first: Lobby is the first tile; Spare and Vault (RTSP only) are
	// on page 2 of the 2x2 grid. Lobby's outputs need a login.
	vault := s.create(`{"name":"Vault","path":"vault","outputs":[{"id":"cam","protocol":"rtsp"}]}`)
	spare := s.create(fmt.Sprintf(uiOutputs, "Spare", "spare", uiRTC))
	yard := s.create(fmt.Sprintf(uiOutputs, "Yard", "yard", uiRTC))
	gate := s.create(fmt.Sprintf(uiOutputs, "Gate", "gate", uiRTC))
	dock := s.create(fmt.Sprintf(uiOutputs, "Dock", "dock", uiRTC))
	login := `,"authentication":{"enabled":true,"username":"viewer","password":"s3cret"}}`
	lobby := s.create(fmt.Sprintf(uiOutputs, "Lobby", "lobby", strings.TrimSuffix(uiRTC, "}")+login+","+strings.TrimSuffix(uiHLS, "}")+login))
	_, urls := s.call("GET", "/transmissions/"+lobby+"/urls", "")
	for _, o := range urls.(map[string]any)["outputs"].([]any) {
		o := o.(map[string]any)
		if o["requires_auth"] != true {
			t.Fatalf("Lobby output without auth: %v", o)
		}
		if o["protocol"] == "webrtc" { // the engine refuses a WHEP offer without the login
			resp, err := http.Post(o["url"].(string), "application/sdp", strings.NewReader("v=0\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("WHEP without credentials: %d, want 401", resp.StatusCode)
			}
		}
	}
	s.create(`{"name":"Archive","path":"archive","enabled":false,"outputs":[` + uiRTC + `]}`) // disabled: no tile
	for id, c := range map[string]rgb{lobby: {30, 90, 160}, dock: {150, 60, 40}, gate: {40, 130, 70}, yard: {120, 90, 150}} {
		s.publishPattern(id, 320, 240, c)
	}

	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	b.waitJS(10*time.Second, "a 2x2 grid on page 1 of 2",
		`document.querySelector("[data-testid=grid]")?.dataset.grid === "2x2" && document.querySelector("[data-testid=page-label]").textContent === "1 / 2" && document.querySelectorAll("[data-testid=tile]").length === 4`,
		`document.querySelector("[data-testid=dashboard]")?.innerText ?? "none"`)

	// The live writer's tile plays over WebRTC (with Basic auth), and so do the others.
	st := b.waitPlaying(lobby, "WebRTC", 40*time.Second)
	if st.Width != 320 || st.Height != 240 {
		t.Errorf("Lobby video is %dx%d, want 320x240", st.Width, st.Height)
	}
	for _, id := range []string{dock, gate, yard} {
		b.waitPlaying(id, "WebRTC", 40*time.Second)
	}
	if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('[data-testid=tile][data-id=%q] [data-testid=tile-label]').textContent`, lobby)); got != "Lobby" {
		t.Errorf("tile label %q, want Lobby", got)
	}

	// The overlay shows on mouse move and hides after 2.5 s idle.
	b.do(5*time.Second, chromedp.MouseEvent("mouseMoved", 400, 300))
	b.waitJS(2*time.Second, "overlay shown on mouse move", `document.querySelector("[data-testid=dashboard]").classList.contains("overlay-on")`, "")
	b.waitJS(2*time.Second, "overlay faded in", `getComputedStyle(document.querySelector("[data-testid=tile-overlay]")).opacity === "1"`, "")
	b.screenshot("dashboard-2x2.png")
	shown := time.Now()
	b.waitJS(5*time.Second, "overlay hidden when idle", `!document.querySelector("[data-testid=dashboard]").classList.contains("overlay-on")`, "")
	if idle := time.Since(shown); idle < 1500*time.Millisecond {
		t.Errorf("overlay hid after %v, want about 2.5 s", idle)
	}
	b.do(5*time.Second, chromedp.KeyEvent("a"))
	b.waitJS(2*time.Second, "overlay shown on a key press", `document.querySelector("[data-testid=dashboard]").classList.contains("overlay-on")`, "")

	// Pagination: page 2 holds Spare and Vault; Lobby's tile is torn down.
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=page-next]")))
	b.waitJS(5*time.Second, "page 2 with Spare and Vault",
		fmt.Sprintf(`document.querySelector("[data-testid=page-label]").textContent === "2 / 2" && document.querySelectorAll("[data-testid=tile]").length === 2 && !!document.querySelector('[data-testid=tile][data-id=%q]') && !document.querySelector('[data-testid=tile][data-id=%q]')`, spare, lobby),
		`document.querySelector("[data-testid=dashboard]").innerText`)
	b.waitPlaying(spare, "WebRTC", 40*time.Second) // no writer: the placeholder plays
	b.waitJS(10*time.Second, "the RTSP-only tile saying why it does not play",
		fmt.Sprintf(`(() => { const s = %s; return s.state === "blocked" && s.message.includes("No WebRTC or HLS output") })()`, tileJS(vault)),
		fmt.Sprintf(`JSON.stringify(%s)`, tileJS(vault)))
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=page-prev]")))

	// 1x1: one tile per page, remembered across a reload.
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=grid-1x1]")))
	b.waitJS(5*time.Second, "1x1 grid on page 1 of 6",
		`document.querySelector("[data-testid=grid]").dataset.grid === "1x1" && document.querySelector("[data-testid=page-label]").textContent === "1 / 6" && document.querySelectorAll("[data-testid=tile]").length === 1`,
		`document.querySelector("[data-testid=dashboard]").innerText`)
	b.do(20*time.Second, chromedp.Reload())
	b.waitJS(10*time.Second, "1x1 remembered after reload",
		`document.querySelector("[data-testid=grid]")?.dataset.grid === "1x1" && document.querySelector("[data-testid=page-label]").textContent === "1 / 6"`, "")
	b.waitPlaying(lobby, "WebRTC", 40*time.Second)

	// Engine restart during playback: the tile comes back by itself, with no reload.
	b.do(5*time.Second, jsDo(fmt.Sprintf(`(() => {
		window.__noReload = true;
		window.__states = [];
		const tile = document.querySelector('[data-testid=tile][data-id=%q]');
		new MutationObserver(() => window.__states.push(tile.dataset.state)).observe(tile, {attributes: true, attributeFilter: ["data-state"]});
		return true;
	})()`, lobby)))
	if status, out := s.call("POST", "/engine/restart", ""); status != 200 {
		t.Fatalf("restart: %d %v", status, out)
	}
	b.waitJS(20*time.Second, "the tile noticing the restart", `window.__states.some(s => s !== "playing")`, fmt.Sprintf(`JSON.stringify(%s)`, tileJS(lobby)))
	b.waitPlaying(lobby, "WebRTC", 45*time.Second)
	if !evalJS[bool](b, `window.__noReload === true`) {
		t.Error("the page was reloaded")
	}
	t.Logf("tile states during the restart: %v", evalJS[[]string](b, `window.__states`))

	// A stopped engine is named as the reason; starting it brings the picture back.
	if status, out := s.call("POST", "/engine/stop", ""); status != 200 {
		t.Fatalf("stop: %d %v", status, out)
	}
	b.waitJS(15*time.Second, "the tile saying the engine is stopped",
		fmt.Sprintf(`(() => { const s = %s; return s.state === "blocked" && s.message.includes("Engine stopped") })()`, tileJS(lobby)),
		fmt.Sprintf(`JSON.stringify(%s)`, tileJS(lobby)))
	if status, out := s.call("POST", "/engine/start", ""); status != 200 {
		t.Fatalf("start: %d %v", status, out)
	}
	b.waitPlaying(lobby, "WebRTC", 45*time.Second)
	if !evalJS[bool](b, `window.__noReload === true`) {
		t.Error("the page was reloaded")
	}

	// Back to 2x2 for the next visitor.
	b.do(5*time.Second, chromedp.Click(chromedp.CSS("[data-testid=grid-2x2]")))

	// With WebRTC blocked by the browser's policy (no UDP without a proxy),
	// the tile falls back to HLS and says why.
	blocked := newBrowser(t, blockWebRTCPrefs)
	blocked.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	st = blocked.waitPlaying(lobby, "HLS", 60*time.Second)
	if !strings.Contains(st.Note, "WebRTC unreachable") {
		t.Errorf("HLS tile note %q, want it to say WebRTC is unreachable", st.Note)
	}
	// A tile without an HLS output says plainly why it is not playing.
	blocked.waitJS(30*time.Second, "the WebRTC-only tile explaining itself",
		fmt.Sprintf(`(() => { const s = %s; return !!s && s.state === "retrying" && s.message.includes("WebRTC unreachable") })()`, tileJS(dock)),
		fmt.Sprintf(`JSON.stringify(%s)`, tileJS(dock)))
}

func TestUIServesAppRoutesAndAssets(t *testing.T) {
	s := startService(t, t.TempDir())
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := httpGet(s.uiRoot() + path)
		if err != nil {
			t.Fatal(err)
		}
		return resp.status, resp.header.Get("Cache-Control"), resp.body
	}
	status, cache, body := get("/settings")
	if status != 200 || cache != "no-cache" || !strings.Contains(body, `<div id="app">`) {
		t.Fatalf("/settings: %d %q %.200s", status, cache, body)
	}
	i := strings.Index(body, "/assets/app-")
	if i < 0 {
		t.Fatalf("index.html names no hashed asset: %s", body)
	}
	asset := body[i : i+strings.IndexByte(body[i:], '"')]
	if status, cache, _ := get(asset); status != 200 || !strings.Contains(cache, "immutable") {
		t.Errorf("%s: %d %q, want 200 with an immutable cache", asset, status, cache)
	}
	if status, _, _ := get("/assets/app-missing.js"); status != 404 {
		t.Errorf("missing asset: %d, want 404", status)
	}
	if status, _, body := get("/api/no-such-endpoint"); status != 404 || !strings.Contains(body, `"detail"`) {
		t.Errorf("unknown API path: %d %s, want a JSON 404", status, body)
	}
}

type httpResult struct {
	status int
	header http.Header
	body   string
}

func httpGet(url string) (httpResult, error) {
	resp, err := http.Get(url)
	if err != nil {
		return httpResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header, string(body)}, err
}
