package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rawCall sends one request with the given headers (no defaults) and
// returns the status and body.
func rawCall(t *testing.T, method, url, host, body string, headers ...string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Issue 11's reproductions, from outside: a web page could create
// transmissions with text/plain JSON or from a foreign Origin, and read the
// settings through a rebinding host name. Each is refused and nothing
// changes; the UI's own requests, curl and IP-literal hosts still work.
func TestBrowserProtection(t *testing.T) {
	s := startService(t, t.TempDir())
	body := `{"name":"Evil","path":"evil"}`
	if status, out := rawCall(t, "POST", s.base+"/transmissions", "", body, "Content-Type", "text/plain"); status != 415 || !strings.Contains(out, "application/json") {
		t.Errorf("text/plain POST: %d %s", status, out)
	}
	if status, out := rawCall(t, "POST", s.base+"/transmissions", "", body, "Content-Type", "application/json", "Origin", "http://evil.example"); status != 403 || !strings.Contains(out, "Origin") {
		t.Errorf("foreign-Origin POST: %d %s", status, out)
	}
	if status, out := rawCall(t, "POST", s.base+"/engine/stop", "", "", "Origin", "http://evil.example"); status != 403 {
		t.Errorf("foreign-Origin engine stop: %d %s", status, out)
	}
	port := strconv.Itoa(portOf(t, s.base))
	if status, out := rawCall(t, "GET", s.base+"/settings", "evil.example:"+port, ""); status != 403 || !strings.Contains(out, "TOPOSYNC_STREAMING_ALLOWED_HOSTS") {
		t.Errorf("rebinding Host: %d %s", status, out)
	}
	if status, list := s.call("GET", "/transmissions", ""); status != 200 || len(list.([]any)) != 0 {
		t.Fatalf("a refused request changed the transmissions: %d %v", status, list)
	}
	// What must keep working: JSON with the page's own Origin, curl's
	// bodyless POST, an IP-literal host and localhost.
	if status, out := rawCall(t, "POST", s.base+"/transmissions", "", body, "Content-Type", "application/json", "Origin", s.uiRoot()); status != 200 {
		t.Errorf("same-origin POST: %d %s", status, out)
	}
	if status, out := rawCall(t, "POST", s.base+"/engine/stop", "", ""); status != 200 {
		t.Errorf("bodyless POST: %d %s", status, out)
	}
	for _, host := range []string{"192.168.77.5:" + port, "localhost:" + port} {
		if status, out := rawCall(t, "GET", s.base+"/settings", host, ""); status != 200 {
			t.Errorf("Host %s: %d %s", host, status, out)
		}
	}
	// An allowed name is accepted once configured.
	s2 := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_ALLOWED_HOSTS=streams.example.org")
	if status, out := rawCall(t, "GET", s2.base+"/settings", "streams.example.org", ""); status != 200 {
		t.Errorf("allowed host: %d %s", status, out)
	}
}

// With API credentials set, no route answers without them: API routes are
// 401 with a JSON detail, UI routes answer the login page. Basic and the
// token open everything; the sync token opens only the sync route.
func TestAPIAuthentication(t *testing.T) {
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_API_USERNAME=admin", "TOPOSYNC_STREAMING_API_PASSWORD=pa55-word",
		"TOPOSYNC_STREAMING_API_TOKEN=api-token-1", "TOPOSYNC_STREAMING_SYNC_BEARER_TOKEN=sync-token-1")
	root := s.uiRoot()
	routes := []struct{ method, path, body, ctype string }{
		{"GET", "/api/streams/health", "", ""},
		{"GET", "/api/streams/settings", "", ""},
		{"PATCH", "/api/streams/settings", `{"engine":{"enabled":true}}`, "application/json"},
		{"GET", "/api/streams/engine/status", "", ""},
		{"POST", "/api/streams/engine/start", "", ""},
		{"GET", "/api/streams/transmissions", "", ""},
		{"POST", "/api/streams/transmissions", `{"name":"x","path":"x"}`, "application/json"},
		{"GET", "/api/streams/runtime/outputs", "", ""},
		{"GET", "/api/streams/runtime/diagnostics", "", ""},
		{"PUT", "/api/streams/transmissions/x/writers/w/frame?width=2&height=2", "012345678901", "application/octet-stream"},
		{"GET", "/api/streams/distributed/settings/local", "", ""},
		{"GET", "/api/cameras", "", ""},
		{"GET", "/api/pipelines", "", ""},
		{"GET", "/api/processing-servers", "", ""},
		{"GET", "/api/auth/session", "", ""},
		{"GET", "/api/streams/no-such-route", "", ""},
		{"GET", "/", "", ""},
		{"GET", "/settings", "", ""},
		{"GET", "/assets/app.js", "", ""},
		{"GET", "/favicon.ico", "", ""},
	}
	for _, r := range routes {
		status, out := rawCall(t, r.method, root+r.path, "", r.body, "Content-Type", r.ctype)
		if status != 401 {
			t.Errorf("%s %s without credentials: %d %.200s", r.method, r.path, status, out)
		}
		if strings.HasPrefix(r.path, "/api/") && !strings.Contains(out, `"detail"`) {
			t.Errorf("%s %s: 401 without a JSON detail: %.200s", r.method, r.path, out)
		}
		if status, _ := rawCall(t, r.method, root+r.path, "", r.body, "Content-Type", r.ctype, "Authorization", "Bearer sync-token-1"); status == 200 && r.path != "/api/streams/distributed/settings/local" {
			t.Errorf("%s %s answered 200 to the sync token", r.method, r.path)
		}
	}
	if status, out := rawCall(t, "GET", root+"/", "", ""); !strings.Contains(out, `data-testid="login-form"`) {
		t.Errorf("UI without credentials: %d, no login form: %.300s", status, out)
	}
	if _, list := s.call("GET", "/transmissions", ""); len(list.([]any)) != 0 {
		t.Fatalf("a request without credentials created a transmission: %v", list)
	}
	for _, auth := range []string{"Bearer api-token-1", "Basic YWRtaW46cGE1NS13b3Jk"} { // admin:pa55-word
		if status, out := rawCall(t, "GET", s.base+"/settings", "", "", "Authorization", auth); status != 200 {
			t.Errorf("%s: %d %s", auth, status, out)
		}
		if status, _ := rawCall(t, "GET", root+"/", "", "", "Authorization", auth); status != 200 {
			t.Errorf("UI with %s: %d", auth, status)
		}
	}
	if status, out := rawCall(t, "GET", s.base+"/distributed/settings/local", "", "", "Authorization", "Bearer sync-token-1"); status != 200 {
		t.Errorf("sync token on the sync route: %d %s", status, out)
	}
	for _, secret := range []string{"pa55-word", "api-token-1", "sync-token-1"} {
		if strings.Contains(s.log.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

// serve on an address other machines reach needs API credentials, or an
// explicit opt-out that warns at every start.
func TestNonLoopbackListenNeedsCredentials(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	cmd.Env = os.Environ()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("serve on 0.0.0.0 without credentials kept running:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "TOPOSYNC_STREAMING_API_PASSWORD") || !strings.Contains(string(out), "--insecure-no-api-auth") {
		t.Errorf("exit %v, output does not say how to set credentials:\n%s", err, out)
	}

	open := startServiceArgs(t, t.TempDir(), []string{"--listen", "0.0.0.0:0", "--insecure-no-api-auth"})
	if !strings.Contains(open.log.String(), "insecure-no-api-auth") || !strings.Contains(open.log.String(), "level=WARN") {
		t.Errorf("the opt-out logs no warning:\n%s", open.log.String())
	}
	protected := startServiceArgs(t, t.TempDir(), []string{"--listen", "0.0.0.0:0"}, "TOPOSYNC_STREAMING_API_TOKEN=tok-2")
	if status, _ := rawCall(t, "GET", protected.base+"/settings", "", ""); status != 401 {
		t.Errorf("protected service without the token: %d", status)
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(portOf(t, protected.base))); err != nil {
		t.Errorf("0.0.0.0 listen not reachable on loopback: %v", err)
	}
}

// The UI asks for a login when the API needs one, then works; Sign out
// brings the login back.
func TestUILogin(t *testing.T) {
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_API_USERNAME=admin", "TOPOSYNC_STREAMING_API_PASSWORD=pa55-word")
	s.create(`{"name":"Yard","path":"yard","outputs":[{"id":"rtc","protocol":"webrtc"}]}`)
	b := newBrowser(t, "")
	b.do(20*time.Second, chromedp.Navigate(s.uiRoot()+"/settings"))
	b.waitJS(10*time.Second, "the login form", `!!document.querySelector("[data-testid=login-form]")`, `document.body.innerText`)
	b.setInput(`[name="username"]`, "admin")
	b.setInput(`[name="password"]`, "wrong")
	b.do(5*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)))
	b.waitJS(10*time.Second, "a wrong password is reported", `document.querySelector("[data-testid=login-error]").textContent.includes("Wrong credentials")`, `document.body.innerText`)
	b.setInput(`[name="password"]`, "pa55-word")
	b.do(5*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)))
	b.waitJS(15*time.Second, "the Settings panel lists the transmission", `document.body.innerText.includes("Yard") && !document.querySelector("[data-testid=login-form]")`, `document.body.innerText.slice(0, 500)`)
	b.waitJS(10*time.Second, "Sign out shown", `!document.querySelector("[data-testid=sign-out]").hidden`, "")
	b.do(5*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)))
	b.waitJS(10*time.Second, "the login form after signing out", `!!document.querySelector("[data-testid=login-form]")`, `document.body.innerText.slice(0, 500)`)
}
