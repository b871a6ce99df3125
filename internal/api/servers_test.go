package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestProcessingServersCRUD(t *testing.T) {
	c := newServer(t, "local")
	if _, out := c.do("GET", "/../processing-servers", nil); fmt.Sprint(out) != "[]" {
		t.Errorf("empty list: %v", out)
	}
	const base = "/../processing-servers"
	got := c.expect(200, "POST", base, `{"name":"Edge One","url":"http://10.0.0.5:8100/","username":"core","password":"pw"}`)
	if fmt.Sprint(got) != "map[id:edge-one name:Edge One password_set:true url:http://10.0.0.5:8100 username:core]" {
		t.Errorf("created %v", got)
	}
	out := c.expect(409, "POST", base, `{"id":"EDGE-ONE","url":"http://h:1"}`)
	if out["detail"] != "Duplicate processing server id: edge-one" {
		t.Errorf("duplicate: %v", out)
	}
	c.expect(422, "POST", base, `{"id":"local","url":"http://h:1"}`)
	c.expect(422, "POST", base, `{"id":"x","url":"rtsp://h:1"}`)

	// PUT keeps the password unless the body names it; the id comes from the URL.
	got = c.expect(200, "PUT", base+"/Edge-One", `{"name":"Edge 1","url":"http://10.0.0.6:8100"}`)
	if got["password_set"] != true || got["url"] != "http://10.0.0.6:8100" || got["id"] != "edge-one" {
		t.Errorf("put %v", got)
	}
	got = c.expect(200, "PUT", base+"/edge-one", `{"name":"Edge 1","url":"http://10.0.0.6:8100","password":null}`)
	if got["password_set"] != false {
		t.Errorf("password not cleared: %v", got)
	}
	c.expect(400, "PUT", base+"/edge-one", `{"id":"other","url":"http://h:1"}`)
	c.expect(404, "PUT", base+"/nope", `{"url":"http://h:1"}`)
	c.expect(404, "GET", base+"/nope", nil)
	c.expect(200, "GET", base+"/edge-one", nil)

	// Registered ids are valid hosts; others are not.
	out = c.expect(400, "POST", "/transmissions", `{"name":"m","path":"m","host_server_id":"mars"}`)
	if out["detail"] != "Unknown host_server_id: mars" {
		t.Errorf("unknown host: %v", out)
	}
	tr := c.expect(200, "POST", "/transmissions", `{"name":"Gate","path":"gate","host_server_id":" Edge-One "}`)
	c.expect(200, "PATCH", "/settings", `{"transmissions":[`+mustJSON(t, tr)+`,{"id":"t2","name":"x","path":"x","host_server_id":"edge-one"}]}`)
	c.expect(400, "PATCH", "/settings", `{"transmissions":[{"id":"t3","name":"y","path":"y","host_server_id":"mars"}]}`)
	c.expect(200, "POST", "/../pipelines", `{"name":"edge_pipe","enabled":false,"processing_server_id":"edge-one","graph":{"schema_version":1,"nodes":[{"id":"src","type":"camera.source","config":{"url":"testsrc"}},{"id":"pub","type":"stream.publish_video","config":{"transmission_id":"t2"}}],"edges":[{"from":{"node":"src","port":"out"},"to":{"node":"pub","port":"in"}}]}}`)

	out = c.expect(409, "DELETE", base+"/edge-one", nil)
	want := "Processing server 'edge-one' is used by transmission 'Gate', transmission 'x', pipeline 'edge_pipe': change or delete them first"
	if out["detail"] != want {
		t.Errorf("delete in use: %v\nwant %s", out["detail"], want)
	}
	c.expect(200, "DELETE", "/../pipelines/edge_pipe", nil)
	c.expect(200, "PATCH", "/settings", `{"transmissions":[]}`)
	c.expect(200, "DELETE", base+"/edge-one", nil)
	c.expect(404, "DELETE", base+"/edge-one", nil)
}

func mustJSON(t *testing.T, v map[string]any) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range []string{"id", "name", "path", "host_server_id"} {
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "%q:%q", k, v[k])
	}
	b.WriteString("}")
	return b.String()
}

// remoteTransmission is one transmission, stored with the same id on a
// core and on the processing server hosting it.
const remoteTransmission = `{"transmissions":[{"id":"t1","name":"Gate","path":"gate","host_server_id":"edge-1",
  "outputs":[{"id":"r","protocol":"rtsp"},{"id":"h","protocol":"hls"},{"id":"w","protocol":"webrtc"}]}]}`

// TestURLProxyToARealProcessingServer asks a core for the URLs of a
// transmission another API instance (a processing server, "edge-1") hosts.
func TestURLProxyToARealProcessingServer(t *testing.T) {
	edge := newServer(t, "edge-1")
	edge.expect(200, "PATCH", "/settings", remoteTransmission)
	core := newServer(t, "local")
	edgeURL := strings.TrimSuffix(edge.base, Prefix)
	port := edgeURL[strings.LastIndex(edgeURL, ":")+1:]
	core.expect(200, "POST", "/../processing-servers", `{"id":"edge-1","url":"http://localhost:`+port+`"}`)
	core.expect(200, "PATCH", "/settings", remoteTransmission)

	got := core.expect(200, "GET", "/transmissions/t1/urls", nil)
	outs := got["outputs"].([]any)
	wantURLs := []string{"rtsp://localhost:8554/gate-r", "http://localhost:8888/gate-h/index.m3u8", "http://localhost:8889/gate-w/whep"}
	for i, w := range wantURLs {
		if u := outs[i].(map[string]any)["url"]; u != w {
			t.Errorf("output %d: %v, want %s", i, u, w)
		}
	}
	if fmt.Sprint(got["warnings"]) != "[Engine is not running. URLs are based on preferred ports. Resolved via processing server 'edge-1'. URLs normalized to host 'localhost'.]" {
		t.Errorf("warnings %v", got["warnings"])
	}
	if got["transmission_id"] != "t1" || got["engine_running"] != false {
		t.Errorf("urls %v", got)
	}
	// Demand goes to the processing server too (it answers zeros: no publisher runs there).
	d := core.expect(200, "GET", "/transmissions/t1/demand", nil)
	if d["transmission_id"] != "t1" || d["viewer_count_total"] != float64(0) {
		t.Errorf("demand %v", d)
	}
}

// fakeEdge stands in for a processing server: it checks Basic auth and
// answers each path with a canned status and body.
type fakeEdge struct {
	mu      sync.Mutex
	answers map[string]string // "METHOD path" -> "status body"
	seen    []string
}

func (f *fakeEdge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	user, pass, _ := r.BasicAuth()
	f.seen = append(f.seen, r.Method+" "+r.URL.EscapedPath()+" "+user+":"+pass)
	a, ok := f.answers[r.Method+" "+r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var status int
	var body string
	_, _ = fmt.Sscanf(a, "%d", &status)
	body = a[strings.Index(a, " ")+1:]
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func TestURLProxyRewritesAndFails(t *testing.T) {
	edge := &fakeEdge{answers: map[string]string{
		"GET /api/streams/internal/transmissions/t1/urls": `200 {"transmission_id":"t1","engine_running":true,"outputs":[{"output_id":"r","protocol":"rtsp","resolved_engine_path":"gate","url":"rtsp://user:pw@127.0.0.1:18554/gate","requires_auth":false,"auth_username":null}],"warnings":["RTSP port 8554 unavailable; using 18554."]}`,
		"GET /api/streams/transmissions/t1/demand":        `200 {"transmission_id":"t1","viewer_count_total":3}`,
		"POST /api/streams/transmissions/t1/demand/prime": `200 {"transmission_id":"t1","primed":true,"primed_outputs":1}`,
	}}
	srv := httptest.NewServer(edge)
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	core := newServer(t, "local")
	core.expect(200, "POST", "/../processing-servers", `{"id":"edge-1","url":"http://localhost:`+port+`","username":"core","password":"pw"}`)
	core.expect(200, "PATCH", "/settings", remoteTransmission)

	got := core.expect(200, "GET", "/transmissions/t1/urls", nil)
	if u := got["outputs"].([]any)[0].(map[string]any)["url"]; u != "rtsp://localhost:18554/gate" {
		t.Errorf("url %v", u)
	}
	if fmt.Sprint(got["warnings"]) != "[RTSP port 8554 unavailable; using 18554. Resolved via processing server 'edge-1'. URLs normalized to host 'localhost'.]" {
		t.Errorf("warnings %v", got["warnings"])
	}
	if d := core.expect(200, "GET", "/transmissions/t1/demand", nil); d["viewer_count_total"] != float64(3) {
		t.Errorf("demand %v", d)
	}
	if p := core.expect(200, "POST", "/transmissions/t1/demand/prime", nil); p["primed"] != true {
		t.Errorf("prime %v", p)
	}
	edge.mu.Lock()
	if fmt.Sprint(edge.seen) != "[GET /api/streams/internal/transmissions/t1/urls core:pw GET /api/streams/transmissions/t1/demand core:pw POST /api/streams/transmissions/t1/demand/prime core:pw]" {
		t.Errorf("edge saw %v", edge.seen)
	}
	edge.mu.Unlock()

	const prefix = "Failed to resolve URLs from processing server 'edge-1': "
	for answer, want := range map[string]string{
		`500 boom`:                  "HTTP 500: boom",
		`200 {"outputs":`:           "invalid JSON",
		`200 {"outputs":"nope"}`:    "invalid JSON",
		`200 {"transmission_id":1}`: "invalid JSON",
		`200 {}`:                    "invalid payload (no outputs)",
	} {
		edge.mu.Lock()
		edge.answers["GET /api/streams/internal/transmissions/t1/urls"] = answer
		edge.mu.Unlock()
		out := core.expect(502, "GET", "/transmissions/t1/urls", nil)
		if out["detail"] != prefix+want {
			t.Errorf("%s: %v", answer, out["detail"])
		}
	}
	srv.Close()
	out := core.expect(502, "GET", "/transmissions/t1/urls", nil)
	if d, _ := out["detail"].(string); !strings.HasPrefix(d, prefix+"Connection failed: ") || strings.Contains(d, "pw") {
		t.Errorf("down: %v", out["detail"])
	}
	out = core.expect(502, "GET", "/transmissions/t1/demand", nil)
	if d, _ := out["detail"].(string); !strings.HasPrefix(d, "Failed to reach processing server 'edge-1': Connection failed: ") {
		t.Errorf("demand down: %v", out["detail"])
	}
	// Local transmissions are still answered locally.
	core.expect(200, "POST", "/transmissions", `{"name":"Here","path":"here"}`)
}
