package e2e

// Issue 13 items 1, 3 and 4 on the real binary: /metrics behind the API
// credentials with values that follow what happens, the JPEG snapshot, and
// the OpenAPI document with its page in the UI.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

var apiAuthEnv = []string{"TOPOSYNC_STREAMING_API_USERNAME=admin", "TOPOSYNC_STREAMING_API_PASSWORD=pa55-word"}

// get GETs path under the service's root with its credentials.
func (s *service) get(path string) (*http.Response, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.uiRoot()+path, nil)
	if s.authorization != "" {
		req.Header.Set("Authorization", s.authorization)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// scrape reads /metrics: every sample by its series as the text format
// prints it (`name{label="v",...}`, labels sorted by name).
func (s *service) scrape() map[string]float64 {
	s.t.Helper()
	resp, body := s.get("/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		s.t.Fatalf("/metrics: %d %q %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	out := map[string]float64{}
	lines := bufio.NewScanner(bytes.NewReader(body))
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// metric waits until series satisfies ok, and returns its value.
func (s *service) metric(series, what string, ok func(float64) bool) float64 {
	s.t.Helper()
	var v float64
	testutil.Eventually(s.t, 20*time.Second, what+" ("+series+")", func() bool {
		var present bool
		v, present = s.scrape()[series]
		return present && ok(v)
	})
	return v
}

func TestMetricsFollowTheRuntime(t *testing.T) {
	f := newRuntimeFixture(t, `{"name":"Yard","path":"yard","outputs":[{"id":"main","protocol":"rtsp","resolution":{"width":320,"height":240},"fps_limit":10}]}`, apiAuthEnv...)
	s := f.service

	// Protected like the API: a JSON 401 with a Basic challenge, for
	// Prometheus' basic_auth; counted like any request.
	status, body := rawCall(t, "GET", s.uiRoot()+"/metrics", "", "")
	if status != 401 || !strings.Contains(body, `"detail"`) {
		t.Fatalf("/metrics without credentials: %d %.200s", status, body)
	}
	if resp, _ := s.get("/metrics"); !strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	got := s.scrape()
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes", `toposync_streaming_engine_up{kind="embedded"}`,
		`toposync_streaming_http_requests_total{code="401",method="GET",route="/metrics"}`} {
		if _, ok := got[series]; !ok {
			t.Errorf("no %s", series)
		}
	}
	if got[`toposync_streaming_engine_up{kind="embedded"}`] != 1 {
		t.Errorf("engine_up = %v, want 1", got[`toposync_streaming_engine_up{kind="embedded"}`])
	}
	out := fmt.Sprintf(`{output="main",path="yard",transmission=%q}`, f.id)
	readers := `toposync_streaming_readers{path="yard",protocol="rtsp"}`
	if got[readers] != 0 || got["toposync_streaming_output_demand"+out] != 0 || got["toposync_streaming_output_publisher_running"+out] != 0 {
		t.Errorf("before any reader: readers %v, demand %v, publisher %v", got[readers], got["toposync_streaming_output_demand"+out], got["toposync_streaming_output_publisher_running"+out])
	}

	// A writer sends frames: frames ingested grows, it is the active writer.
	stop := f.keepWriting("cam", red, "")
	defer stop()
	ingested := fmt.Sprintf(`toposync_streaming_frames_ingested_total{transmission=%q}`, f.id)
	first := s.metric(ingested, "frames ingested", func(v float64) bool { return v >= 2 })
	s.metric(ingested, "frames ingested growing", func(v float64) bool { return v > first })
	s.metric(fmt.Sprintf(`toposync_streaming_active_writer{transmission=%q,writer="cam"}`, f.id), "the active writer", func(v float64) bool { return v == 1 })
	s.metric(`toposync_streaming_http_requests_total{code="202",method="PUT",route="/api/streams/transmissions/{id}/writers/{writer_id}/frame"}`, "frame uploads counted", func(v float64) bool { return v >= 2 })

	// A reader connects: readers per path and protocol, demand, the
	// publisher and its encoder, frames sent.
	r := startReader(t, f.rtspURL, f.w, f.h)
	s.metric(readers, "an RTSP reader of yard", func(v float64) bool { return v == 1 })
	s.metric("toposync_streaming_output_demand"+out, "demand", func(v float64) bool { return v == 1 })
	s.metric("toposync_streaming_output_publisher_running"+out, "a publisher", func(v float64) bool { return v == 1 })
	s.metric("toposync_streaming_output_encoder_running"+out, "its encoder", func(v float64) bool { return v == 1 })
	sent := s.metric("toposync_streaming_output_frames_sent_total"+out, "frames sent", func(v float64) bool { return v > 0 })
	s.metric("toposync_streaming_output_frames_sent_total"+out, "frames sent growing", func(v float64) bool { return v > sent })
	if _, ok := s.scrape()["toposync_streaming_output_frames_dropped_total"+out]; !ok {
		t.Error("no frames dropped counter")
	}

	// A writer of higher priority takes over: a writer switch.
	switches := fmt.Sprintf(`toposync_streaming_writer_switches_total{transmission=%q}`, f.id)
	before := s.scrape()[switches]
	stopHigh := f.keepWriting("high", blue, "priority=5")
	s.metric(switches, "a writer switch", func(v float64) bool { return v > before })
	s.metric(fmt.Sprintf(`toposync_streaming_active_writer{transmission=%q,writer="high"}`, f.id), "the new active writer", func(v float64) bool { return v == 1 })
	stopHigh()

	// The reader leaves: readers fall back to 0.
	r.stop()
	s.metric(readers, "the reader gone", func(v float64) bool { return v == 0 })
	restarts := s.scrape()[`toposync_streaming_engine_restarts_total{kind="embedded"}`]
	if status, out := s.call("POST", "/engine/restart", ""); status != 200 {
		t.Fatalf("restart: %d %v", status, out)
	}
	s.metric(`toposync_streaming_engine_restarts_total{kind="embedded"}`, "an engine restart counted", func(v float64) bool { return v == restarts+1 })
}

// The snapshot works without any viewer or encoder (the engine is not even
// enabled), behind the API credentials, and shows the writer's frame.
func TestSnapshotOnTheBinary(t *testing.T) {
	s := startService(t, t.TempDir(), apiAuthEnv...)
	id := s.create(`{"name":"Gate","path":"gate","placeholder":"black","outputs":[{"id":"hd","protocol":"hls","resolution":{"width":1280,"height":720}}]}`)
	snap := "/api/streams/transmissions/" + id + "/snapshot"
	if status, body := rawCall(t, "GET", s.uiRoot()+snap, "", ""); status != 401 {
		t.Fatalf("snapshot without credentials: %d %.200s", status, body)
	}
	decode := func(query string) (int, int, [3]uint32) {
		t.Helper()
		resp, body := s.get(snap + query)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("snapshot%s: %d %q %.200s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("snapshot%s: %v", query, err)
		}
		b := img.Bounds()
		r, g, bl, _ := img.At(b.Dx()/2, b.Dy()/2).RGBA()
		return b.Dx(), b.Dy(), [3]uint32{r >> 8, g >> 8, bl >> 8}
	}
	near := func(c [3]uint32, want rgb) bool {
		return rgb{int(c[0]), int(c[1]), int(c[2])}.near(want, 16)
	}
	if w, h, c := decode("?width=320"); w != 320 || h != 180 || !near(c, black) {
		t.Errorf("placeholder: %dx%d %v, want black 320x180", w, h, c)
	}
	frame := bgrFrame(64, 48, green)
	req, _ := http.NewRequest("PUT", s.base+"/transmissions/"+id+"/writers/cam/frame?width=64&height=48", bytes.NewReader(frame))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", s.authorization)
	resp, err := s.http.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("frame: %v %v", err, resp)
	}
	resp.Body.Close()
	if w, h, c := decode(""); w != 64 || h != 48 || !near(c, green) {
		t.Errorf("writer's frame: %dx%d %v, want green 64x48", w, h, c)
	}
	if w, h, c := decode("?output=hd&width=640"); w != 640 || h != 360 || !near(c, green) {
		t.Errorf("in the output: %dx%d %v, want green 640x360", w, h, c)
	}
	_, outputs := s.call("GET", "/runtime/outputs", "")
	for _, o := range outputs.(map[string]any)["outputs"].([]any) {
		if o.(map[string]any)["publisher_running"] != false {
			t.Errorf("a publisher runs: %v", o)
		}
	}
	if status, out := s.call("GET", "/transmissions/"+id+"/snapshot?width=99999", ""); status != 400 || !strings.Contains(fmt.Sprint(out), "3840") {
		t.Errorf("width too large: %d %v", status, out)
	}
}

// The document is served at both paths, behind the credentials.
func TestOpenAPIOnTheBinary(t *testing.T) {
	s := startService(t, t.TempDir(), apiAuthEnv...)
	var docs [][]byte
	for _, p := range []string{"/api/streams/openapi.json", "/api/openapi.json"} {
		if status, _ := rawCall(t, "GET", s.uiRoot()+p, "", ""); status != 401 {
			t.Errorf("%s without credentials: %d", p, status)
		}
		resp, body := s.get(p)
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/api/streams/transmissions/{id}/snapshot"]["get"] == nil || doc.Paths["/metrics"]["get"] == nil {
			t.Fatalf("%s: %d %.200s", p, resp.StatusCode, body)
		}
		docs = append(docs, body)
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Error("the two paths serve different documents")
	}
}

// The docs page lists every documented operation, filters them, shows an
// operation's parameters and leads to the schemas it names.
func TestUIDocsPage(t *testing.T) {
	s := startService(t, t.TempDir())
	_, raw := s.get("/api/streams/openapi.json")
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range doc.Paths {
		ops += len(item)
	}
	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/"))
	// Reached from the nav bar, as a page of the app.
	b.waitJS(10*time.Second, "the API link in the nav", `!!document.querySelector("[data-testid=nav-api]")`, `document.querySelector("nav")?.innerText ?? "no nav"`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS("[data-testid=nav-api]")))
	b.waitJS(10*time.Second, "every operation listed",
		fmt.Sprintf(`location.pathname === "/docs" && document.querySelectorAll("[data-testid=docs-op]").length === %d`, ops),
		`document.querySelector("[data-testid=docs]")?.innerText.slice(0, 500) ?? location.pathname`)
	if active := evalJS[bool](b, `document.querySelector("[data-testid=nav-api]").classList.contains("active")`); !active {
		t.Error("the API link is not marked active")
	}
	if n := evalJS[int](b, `document.querySelectorAll("[data-testid=docs-schema]").length`); n < 20 {
		t.Errorf("%d schemas shown", n)
	}

	// Filtering leaves the snapshot operation; opened, it shows its
	// parameters and responses; a schema link leads to the schema.
	b.setInput("[data-testid=docs-filter]", "snapshot")
	b.waitJS(5*time.Second, "only the snapshot operation",
		`(() => { const shown = [...document.querySelectorAll("[data-testid=docs-op]")].filter(e => !e.hidden); return shown.length === 1 && shown[0].dataset.path === "/api/streams/transmissions/{id}/snapshot" })()`,
		`[...document.querySelectorAll("[data-testid=docs-op]")].filter(e => !e.hidden).map(e => e.dataset.path).join(", ")`)
	b.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=docs-op][data-path="/api/streams/transmissions/{id}/snapshot"] > summary`)))
	text := evalJS[string](b, `document.querySelector('[data-testid=docs-op][data-path="/api/streams/transmissions/{id}/snapshot"]').innerText`)
	for _, want := range []string{"output", "width", "image/jpeg", "400", "16…3840"} {
		if !strings.Contains(text, want) {
			t.Errorf("the snapshot operation does not show %q:\n%s", want, text)
		}
	}
	b.screenshot("docs-snapshot.png")
	b.setInput("[data-testid=docs-filter]", "GET /api/streams/transmissions/{id}")
	b.waitJS(5*time.Second, "the transmission operation",
		`[...document.querySelectorAll("[data-testid=docs-op]")].some(e => !e.hidden && e.dataset.path === "/api/streams/transmissions/{id}" && e.dataset.method === "GET")`, "")
	b.do(10*time.Second,
		chromedp.Click(chromedp.CSS(`[data-testid=docs-op][data-method=GET][data-path="/api/streams/transmissions/{id}"] > summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid=docs-op][data-method=GET][data-path="/api/streams/transmissions/{id}"] a.docs-ref`)))
	b.waitJS(5*time.Second, "the Transmission schema in view",
		`(() => { const r = document.getElementById("schema-Transmission").getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight && document.getElementById("schema-Transmission").innerText.includes("host_server_id") })()`,
		`String(document.getElementById("schema-Transmission")?.getBoundingClientRect().top)`)
	b.screenshot("docs-schema.png")

	// On a phone the docs do not run past the screen, an operation opened
	// (wide tables scroll inside it). The nav bar's own fit is issue 13
	// item 7's.
	phone := newBrowser(t, "")
	phone.do(20*time.Second, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.uiRoot()+"/docs"))
	phone.waitJS(10*time.Second, "the operations listed", `document.querySelectorAll("[data-testid=docs-op]").length > 0`, "")
	phone.do(10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=docs-op][data-path="/api/streams/transmissions/{id}/snapshot"] > summary`)))
	phone.waitJS(5*time.Second, "the docs within 390 px",
		`(() => { const d = document.querySelector("[data-testid=docs]"); return innerWidth === 390 && d.scrollWidth <= innerWidth && d.getBoundingClientRect().right <= innerWidth })()`,
		`JSON.stringify({inner: innerWidth, docs: document.querySelector("[data-testid=docs]").scrollWidth, wide: [...document.querySelectorAll("[data-testid=docs] *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 8).map(e => e.tagName + "." + e.className)})`)
	phone.screenshot("docs-phone.png")
}
