package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	_ "github.com/toposync/toposync-streaming/internal/pipeline/ops"
	_ "github.com/toposync/toposync-streaming/internal/pipeline/vision"
	"github.com/toposync/toposync-streaming/internal/publisher"
	"github.com/toposync/toposync-streaming/internal/reqbody"
	"github.com/toposync/toposync-streaming/internal/store"
)

type client struct {
	t       *testing.T
	base    string
	dir     string // the data dir
	store   *store.Store
	handler http.Handler // what srv serves, for tests that call it in-process
	arbiter *arbiter.Arbiter
}

// newServer runs the API on a real HTTP server over a fresh data dir, with
// the embedded engine (disabled until a test enables it).
func newServer(t *testing.T, serverID string) *client {
	t.Helper()
	return newServerWith(t, serverID, func(*Options) {})
}

// newServerWith is newServer with changed API options.
func newServerWith(t *testing.T, serverID string, mod func(*Options)) *client {
	t.Helper()
	return newServerIdle(t, serverID, 0, mod)
}

// newServerIdle is newServerWith with request bodies cut after idle (the
// default when 0), as the service's HTTP server does.
func newServerIdle(t *testing.T, serverID string, idle time.Duration, mod func(*Options)) *client {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	manager := &engine.Manager{
		Store: st, Kinds: map[string]engine.Kind{model.EngineEmbedded: embedded.Kind{Logger: nil}}, ServerID: serverID, RuntimeDir: filepath.Join(dir, "runtime", "streaming"),
	}
	if err := manager.Initialize(); err != nil {
		t.Fatal(err)
	}
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	ffmpeg, ffmpegErr := publisher.FindFFmpeg(os.Getenv)
	b := &bridge.Bridge{Engine: manager, Arbiter: arb, FFmpeg: ffmpeg, FFmpegErr: ffmpegErr, LogLevel: "error", LogDir: filepath.Join(dir, "runtime", "streaming", "logs")}
	if err := b.Initialize(); err != nil {
		t.Fatal(err)
	}
	host := &pipeline.Host{Store: st, ServerID: serverID, Services: pipeline.StoreServices{Store: st, Arbiter: arb}}
	if err := host.Initialize(); err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, Engine: manager, Bridge: b, Arbiter: arb, Pipelines: host, ServerID: serverID, FFmpegPath: ffmpeg, FFmpegErr: ffmpegErr}
	mod(&opts)
	handler := reqbody.Handler(Handler(opts), idle)
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		host.Close()
		b.Close()
		manager.Close()
		_ = st.Close()
	})
	return &client{t: t, base: srv.URL + Prefix, dir: dir, store: st, handler: handler, arbiter: arb}
}

// do sends body (a string, or any value marshalled as JSON) and decodes the
// JSON answer into a generic value.
func (c *client) do(method, path string, body any, header ...string) (int, any) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var out any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

// expect checks the status and returns the answer as an object.
func (c *client) expect(status int, method, path string, body any, header ...string) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body, header...)
	if got != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %v", method, path, got, status, out)
	}
	obj, _ := out.(map[string]any)
	return obj
}

const quickstart = `{
    "name": "Front Door",
    "path": "front-door",
    "host_server_id": "local",
    "enabled": true,
    "outputs": [
      {
        "id": "hls_main",
        "protocol": "hls",
        "enabled": true,
        "resolution": { "width": 1280, "height": 720 },
        "fps_limit": 12,
        "bitrate_kbps": 2500,
        "latency_profile": "normal",
        "authentication": { "enabled": false }
      }
    ]
  }`

func TestHealth(t *testing.T) {
	c := newServer(t, "local")
	got := c.expect(200, "GET", "/health", nil)
	if got["status"] != "ok" || got["extension"] != "com.toposync.streaming" || len(got) != 2 {
		t.Errorf("health = %v", got)
	}
}

// Issue 13: with ffmpeg missing the service looked healthy. /health stays
// 200 (liveness) but says degraded and why.
func TestHealthDegradedWithoutFFmpeg(t *testing.T) {
	c := newServerWith(t, "local", func(o *Options) { o.FFmpegPath, o.FFmpegErr = "", errors.New("ffmpeg not found on PATH") })
	got := c.expect(200, "GET", "/health", nil)
	problems, _ := got["problems"].([]any)
	if got["status"] != "degraded" || len(problems) != 1 || !strings.Contains(fmt.Sprint(problems[0]), "ffmpeg not found") {
		t.Errorf("health = %v", got)
	}
}

func TestQuickstartCreateAndResolveURLs(t *testing.T) {
	c := newServer(t, "local")
	tr := c.expect(200, "POST", "/transmissions", quickstart)
	id, _ := tr["id"].(string)
	if len(id) != 36 || tr["path"] != "front-door" || tr["arbitration"] != "priority_latest" || tr["placeholder"] != "gray" {
		t.Fatalf("created = %v", tr)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		ts, _ := tr[k].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z", ts); err != nil {
			t.Errorf("%s = %q is not UTC ISO-8601 with microseconds and Z", k, ts)
		}
	}
	urls := c.expect(200, "GET", "/transmissions/"+id+"/urls", nil)
	want := map[string]any{
		"transmission_id": id,
		"engine_running":  false,
		"outputs": []any{map[string]any{
			"output_id": "hls_main", "protocol": "hls", "resolved_engine_path": "front-door",
			"url": "http://127.0.0.1:8888/front-door/index.m3u8", "requires_auth": false, "auth_username": nil,
		}},
		"warnings": []any{"Engine is not running. URLs are based on preferred ports."},
	}
	if fmt.Sprint(urls) != fmt.Sprint(want) {
		t.Errorf("urls =\n %v\nwant\n %v", urls, want)
	}
}

func TestCreateErrors(t *testing.T) {
	c := newServer(t, "local")
	c.expect(200, "POST", "/transmissions", quickstart)
	cases := []struct {
		name   string
		body   string
		status int
		detail string // substring of the detail (string or JSON of the list)
	}{
		{"unknown top-level field", `{"name":"n","path":"p","color":"red"}`, 422, `"extra_forbidden"`},
		{"id is server-generated", `{"name":"n","path":"p","id":"mine"}`, 422, `"loc":["body","id"]`},
		{"missing name", `{"path":"p"}`, 422, `"loc":["body","name"]`},
		{"out of range", `{"name":"n","path":"p","outputs":[{"protocol":"hls","resolution":{"width":8000,"height":720}}]}`, 422, `"loc":["body","outputs",0,"resolution","width"]`},
		{"reserved path", `{"name":"n","path":"all_others"}`, 422, `reserved`},
		{"duplicate path", `{"name":"n","path":"Front Door"}`, 409, `Duplicate transmission path for host_server_id='local': front-door`},
		{"duplicate output id", `{"name":"n","path":"p","outputs":[{"id":"o","protocol":"hls"},{"id":"o","protocol":"rtsp"}]}`, 409, `Duplicate output id`},
		{"unknown host", `{"name":"n","path":"p","host_server_id":"Edge-9"}`, 400, `Unknown host_server_id: edge-9`},
		{"malformed JSON", `{"name":`, 400, `Malformed JSON`},
		{"empty body", ``, 400, `Malformed JSON`},
		{"not an object", `[1,2]`, 422, `dict_type`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := c.do("POST", "/transmissions", tc.body)
			raw, _ := json.Marshal(out.(map[string]any)["detail"])
			if status != tc.status || !strings.Contains(string(raw), tc.detail) {
				t.Errorf("status %d detail %s; want %d with %q", status, raw, tc.status, tc.detail)
			}
		})
	}
	list := c.expect(200, "GET", "/settings", nil)["transmissions"].([]any)
	if len(list) != 1 {
		t.Errorf("refused requests stored something: %d transmissions", len(list))
	}
}

func TestBodyLimit(t *testing.T) {
	c := newServer(t, "local")
	big := `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `","path":"p"}`
	out := c.expect(413, "POST", "/transmissions", big)
	if !strings.Contains(fmt.Sprint(out["detail"]), "larger than") {
		t.Errorf("detail = %v", out["detail"])
	}
}

func TestListNewestFirst(t *testing.T) {
	c := newServer(t, "local")
	for _, p := range []string{"one", "two", "three"} {
		c.expect(200, "POST", "/transmissions", map[string]any{"name": p, "path": p})
	}
	_, out := c.do("GET", "/transmissions", nil)
	var paths []string
	for _, tr := range out.([]any) {
		paths = append(paths, tr.(map[string]any)["path"].(string))
	}
	if strings.Join(paths, ",") != "three,two,one" {
		t.Errorf("order = %v, want newest first", paths)
	}
}

func TestPutTransmission(t *testing.T) {
	c := newServer(t, "local")
	created := c.expect(200, "POST", "/transmissions", quickstart)
	id := created["id"].(string)
	other := c.expect(200, "POST", "/transmissions", `{"name":"Other","path":"other"}`)

	body := map[string]any{
		"name": "Renamed", "path": "front-door", "arbitration": "latest", "vendor_field": map[string]any{"a": []any{1.0, "b"}},
		"created_at": "2000-01-01T00:00:00Z",
		"outputs":    []any{map[string]any{"id": "hls_main", "protocol": "hls", "resize_mode": "none"}},
	}
	time.Sleep(2 * time.Millisecond) // updated_at must move past created_at's microsecond
	updated := c.expect(200, "PUT", "/transmissions/"+id, body)
	if updated["id"] != id || updated["name"] != "Renamed" || updated["arbitration"] != "latest" {
		t.Errorf("updated = %v", updated)
	}
	if updated["created_at"] != created["created_at"] {
		t.Errorf("created_at changed from %v to %v", created["created_at"], updated["created_at"])
	}
	if updated["updated_at"] == created["updated_at"] {
		t.Errorf("updated_at not refreshed")
	}
	if fmt.Sprint(updated["vendor_field"]) != "map[a:[1 b]]" || updated["outputs"].([]any)[0].(map[string]any)["resize_mode"] != "none" {
		t.Errorf("extra fields lost: %v", updated)
	}
	fetched := c.expect(200, "GET", "/transmissions/"+id, nil)
	if fmt.Sprint(fetched) != fmt.Sprint(updated) {
		t.Errorf("stored %v\nanswered %v", fetched, updated)
	}

	body["id"] = "someone-else"
	out := c.expect(400, "PUT", "/transmissions/"+id, body)
	if !strings.Contains(fmt.Sprint(out["detail"]), "Transmission id mismatch") {
		t.Errorf("mismatch detail = %v", out["detail"])
	}
	delete(body, "id")
	c.expect(404, "PUT", "/transmissions/nope", body)
	body["path"] = "other"
	c.expect(409, "PUT", "/transmissions/"+id, body)
	body["path"] = "front-door"
	body["host_server_id"] = "nowhere"
	c.expect(400, "PUT", "/transmissions/"+id, body)
	c.expect(200, "GET", "/transmissions/"+other["id"].(string), nil)
}

func TestDeleteTransmission(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", quickstart)["id"].(string)
	if got := c.expect(200, "DELETE", "/transmissions/"+id, nil); got["deleted"] != true {
		t.Errorf("delete = %v", got)
	}
	c.expect(404, "DELETE", "/transmissions/"+id, nil)
	c.expect(404, "GET", "/transmissions/"+id+"/urls", nil)
	c.expect(200, "POST", "/transmissions", quickstart) // the path is free again
}

func TestURLRules(t *testing.T) {
	c := newServer(t, "local")
	id := c.expect(200, "POST", "/transmissions", `{"name":"Lobby","path":"Lobby","outputs":[
		{"id":"hls_main","protocol":"hls"},
		{"id":"rtsp_sub","protocol":"rtsp","authentication":{"enabled":true,"username":" viewer ","password":"s3cret"}},
		{"id":"cam","protocol":"webrtc","path":"Lobby Live","authentication":{"enabled":true,"username":"only-user"}},
		{"id":"off","protocol":"rtsp","enabled":false}
	]}`)["id"].(string)
	got := c.expect(200, "GET", "/transmissions/"+id+"/urls", nil)
	raw, _ := json.Marshal(got["outputs"])
	want := `[{"output_id":"hls_main","protocol":"hls","resolved_engine_path":"lobby-hls_main","url":"http://127.0.0.1:8888/lobby-hls_main/index.m3u8","requires_auth":false,"auth_username":null},` +
		`{"output_id":"rtsp_sub","protocol":"rtsp","resolved_engine_path":"lobby-rtsp_sub","url":"rtsp://127.0.0.1:8554/lobby-rtsp_sub","requires_auth":true,"auth_username":"viewer"},` +
		`{"output_id":"cam","protocol":"webrtc","resolved_engine_path":"lobby-live","url":"http://127.0.0.1:8889/lobby-live/whep","requires_auth":false,"auth_username":null}]`
	var wantOutputs any
	if err := json.Unmarshal([]byte(want), &wantOutputs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["outputs"], wantOutputs) {
		t.Errorf("outputs\n got  %s\n want %s", raw, want)
	}
	if strings.Contains(string(raw), "s3cret") {
		t.Error("a password is in the URL payload")
	}

	// Host: 127.0.0.1 unless exposed to the LAN, then the request's host.
	got = c.expect(200, "GET", "/transmissions/"+id+"/urls", nil, "Host", "192.168.7.20:8100")
	if u := got["outputs"].([]any)[0].(map[string]any)["url"]; u != "http://127.0.0.1:8888/lobby-hls_main/index.m3u8" {
		t.Errorf("not exposed: url %v", u)
	}
	c.expect(200, "PATCH", "/settings", `{"engine":{"expose_to_lan":true,"preferred_ports":{"hls":9888}}}`)
	got = c.expect(200, "GET", "/transmissions/"+id+"/urls", nil, "Host", "192.168.7.20:8100")
	if u := got["outputs"].([]any)[0].(map[string]any)["url"]; u != "http://192.168.7.20:9888/lobby-hls_main/index.m3u8" {
		t.Errorf("exposed: url %v", u)
	}
	got = c.expect(200, "GET", "/transmissions/"+id+"/urls", nil, "Host", "[fd00::5]:8100")
	if u := got["outputs"].([]any)[1].(map[string]any)["url"]; u != "rtsp://[fd00::5]:8554/lobby-rtsp_sub" {
		t.Errorf("IPv6 host: url %v", u)
	}
	got = c.expect(200, "GET", "/transmissions/"+id+"/urls", nil, "Host", "evil.example/x?y")
	if u := got["outputs"].([]any)[0].(map[string]any)["url"]; u != "http://127.0.0.1:9888/lobby-hls_main/index.m3u8" {
		t.Errorf("bad Host header: url %v", u)
	}
}

func TestInternalURLsOnlyForHostedTransmissions(t *testing.T) {
	c := newServer(t, "edge-1")
	local := c.expect(200, "POST", "/transmissions", `{"name":"a","path":"a"}`)["id"].(string)
	mine := c.expect(200, "POST", "/transmissions", `{"name":"b","path":"b","host_server_id":"EDGE-1"}`)["id"].(string)
	c.expect(200, "GET", "/internal/transmissions/"+mine+"/urls", nil)
	c.expect(409, "GET", "/internal/transmissions/"+local+"/urls", nil)
	c.expect(404, "GET", "/internal/transmissions/nope/urls", nil)
}

func TestPatchSettings(t *testing.T) {
	c := newServer(t, "local")
	got := c.expect(200, "PATCH", "/settings", `{"engine":{"enabled":true,"preferred_ports":{"rtsp":9554},"webrtc_ice_servers":"stun:stun.example.org:3478, bogus"}}`)
	engine := got["engine"].(map[string]any)
	if engine["enabled"] != true || fmt.Sprint(engine["preferred_ports"]) != "map[api:9997 hls:8888 rtp:50000 rtsp:9554 webrtc:8889]" || fmt.Sprint(engine["webrtc_ice_servers"]) != "[stun:stun.example.org:3478]" {
		t.Errorf("engine = %v", engine)
	}
	c.expect(200, "PATCH", "/settings", `{"engine":{"enabled":null,"preferred_ports":{"hls":null}}}`)
	before := c.expect(200, "GET", "/settings", nil)
	if before["engine"].(map[string]any)["enabled"] != true {
		t.Errorf("null cleared a value")
	}

	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"engine":{"preferred_ports":{"rtsp":0}}}`, 422},
		{`{"engine":{"h264_encoder":"h264_amf"}}`, 422},
		{`{"transmissions":[{"id":"a","path":"x"},{"id":"b","path":"x"}]}`, 409},
		{`{"transmissions":[{"id":"a","path":"x","host_server_id":"mars"}]}`, 400},
		{`{"camera_ingest":{"enabled":true}}`, 422},
		{`{"engine":`, 400},
	} {
		c.expect(bad.status, "PATCH", "/settings", bad.body)
	}
	after := c.expect(200, "GET", "/settings", nil)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused PATCH changed the settings:\n before %v\n after %v", before, after)
	}

	got = c.expect(200, "PATCH", "/settings", `{"transmissions":[{"id":"t1","name":"T","path":"t","outputs":[{"protocol":"rtsp","x_extra":true}]}]}`)
	tr := got["transmissions"].([]any)[0].(map[string]any)
	if tr["id"] != "t1" || tr["outputs"].([]any)[0].(map[string]any)["x_extra"] != true || tr["created_at"] == nil {
		t.Errorf("patched transmission = %v", tr)
	}
	if got["engine"].(map[string]any)["enabled"] != true {
		t.Errorf("patching transmissions changed the engine")
	}
}

func TestPatchHLSVariant(t *testing.T) {
	c := newServer(t, "local")
	if v := c.expect(200, "GET", "/settings", nil)["engine"].(map[string]any)["hls_variant"]; v != "mpegts" {
		t.Errorf("default hls_variant = %v, want mpegts", v)
	}
	c.expect(200, "PATCH", "/settings", `{"engine":{"preferred_ports":{"rtsp":9554}}}`)
	c.expect(200, "PATCH", "/settings", `{"engine":{"hls_variant":"lowLatency"}}`)
	engine := c.expect(200, "GET", "/settings", nil)["engine"].(map[string]any)
	if engine["hls_variant"] != "lowLatency" || engine["preferred_ports"].(map[string]any)["rtsp"] != 9554.0 {
		t.Errorf("engine after a partial PATCH = %v", engine)
	}
	bad := c.expect(422, "PATCH", "/settings", `{"engine":{"hls_variant":"ll","reader_hold_seconds":5}}`)
	detail, _ := bad["detail"].([]any)
	first, _ := detail[0].(map[string]any)
	if len(detail) != 1 || fmt.Sprint(first["loc"]) != "[body engine hls_variant]" || !strings.Contains(fmt.Sprint(first["msg"]), "'lowLatency'") {
		t.Errorf("422 detail = %v", bad)
	}
	if engine := c.expect(200, "GET", "/settings", nil)["engine"].(map[string]any); engine["hls_variant"] != "lowLatency" || engine["reader_hold_seconds"] != 10.0 {
		t.Errorf("a refused PATCH was half applied: %v", engine)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	c := newServer(t, "local")
	c.expect(404, "GET", "/nope", nil)
	c.expect(404, "GET", "/transmissions/x/y/z", nil)
	out := c.expect(405, "DELETE", "/settings", nil)
	if out["detail"] != "Method Not Allowed" {
		t.Errorf("405 detail = %v", out["detail"])
	}
}

func TestConcurrentCreatesAllLand(t *testing.T) {
	c := newServer(t, "local")
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if status, out := c.do("POST", "/transmissions", fmt.Sprintf(`{"name":"t%d","path":"t%d"}`, i, i)); status != 200 {
				t.Errorf("create %d: %d %v", i, status, out)
			}
		})
	}
	wg.Wait()
	_, list := c.do("GET", "/transmissions", nil)
	if got := len(list.([]any)); got != n {
		t.Errorf("%d transmissions stored, want %d", got, n)
	}
}

// POST /engine/download answers the engine status; the embedded engine has
// nothing to download, and its status carries the kind fields all the same.
func TestEngineDownloadAnswersStatus(t *testing.T) {
	c := newServer(t, "local")
	st := c.expect(200, "POST", "/engine/download", nil)
	if st["kind"] != "embedded" || st["platform"] == "" || st["binary_path"] != nil || st["orphan_pids"] == nil {
		t.Fatalf("status %v", st)
	}
	if d, _ := st["download"].(map[string]any); d == nil || d["active"] != false {
		t.Fatalf("download %v", st["download"])
	}
}

// Issue 11's reproduction: PUT {} answered 200 and wiped the transmission
// (name "", no outputs). PUT requires name and path, as POST does, and a
// refused PUT changes nothing.
func TestPutRequiresNameAndPath(t *testing.T) {
	c := newServer(t, "local")
	created := c.expect(200, "POST", "/transmissions", quickstart)
	id := created["id"].(string)
	for _, body := range []string{`{}`, `{"name":"Only name"}`, `{"path":"only-path"}`, `{"name":null,"path":"front-door"}`} {
		out := c.expect(422, "PUT", "/transmissions/"+id, body)
		if !strings.Contains(fmt.Sprint(out["detail"]), "missing") {
			t.Errorf("PUT %s: detail %v", body, out["detail"])
		}
	}
	if now := c.expect(200, "GET", "/transmissions/"+id, nil); fmt.Sprint(now) != fmt.Sprint(created) {
		t.Errorf("a refused PUT changed the transmission:\n%v\n%v", created, now)
	}
}

// Issue 11's reproduction: a 20 KB PUT with an unknown member nested 9,990
// deep was kept (settings.json grew to 200 MB) and at 9,997 the answer was
// a 500. Bodies nested deeper than 64 levels are a 422 naming the limit,
// and nothing is stored.
func TestDeeplyNestedBodyIsRefused(t *testing.T) {
	c := newServer(t, "local")
	created := c.expect(200, "POST", "/transmissions", quickstart)
	id := created["id"].(string)
	for _, depth := range []int{65, 9990, 9997, 10000} {
		body := `{"name":"Deep","path":"front-door","vendor":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		out := c.expect(422, "PUT", "/transmissions/"+id, body)
		if !strings.Contains(fmt.Sprint(out["detail"]), "deeper than 64 levels") {
			t.Errorf("depth %d: detail %v", depth, out["detail"])
		}
		c.expect(422, "PATCH", "/settings", `{"engine":{"x":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}}`)
	}
	if now := c.expect(200, "GET", "/transmissions/"+id, nil); fmt.Sprint(now) != fmt.Sprint(created) {
		t.Errorf("a refused body changed the transmission")
	}
}
