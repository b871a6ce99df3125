package access

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// backend records whether a request got through the guard.
type backend struct{ reached int }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.reached++
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

type req struct {
	method, path, host, body string
	headers                  map[string]string
}

func (g *Guard) answer(t *testing.T, q req) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	b := &backend{}
	r := httptest.NewRequest(q.method, "http://127.0.0.1:8100"+q.path, strings.NewReader(q.body))
	if q.body == "" {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	if q.host != "" {
		r.Host = q.host
	}
	for k, v := range q.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	g.Wrap(b).ServeHTTP(w, r)
	return w, b.reached == 1
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func detail(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Detail string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer %d is not JSON: %q", w.Code, w.Body.String())
	}
	return body.Detail
}

func ingestTypes(path string) []string {
	if strings.Contains(path, "/writers/") {
		return []string{"image/jpeg", "image/png", "application/octet-stream"}
	}
	return nil
}

// Issue 11's reproductions: text/plain JSON, foreign Origins and rebinding
// host names reached the API. Each is refused before any handler runs.
func TestBrowserFacingChecks(t *testing.T) {
	g := New(Config{AllowedHosts: []string{"streams.example.org", "*.lan.example"}, Hostname: "edgebox", BodyTypes: ingestTypes})
	json := map[string]string{"Content-Type": "application/json"}
	for _, c := range []struct {
		name   string
		q      req
		status int // 0: reaches the handler
		want   string
	}{
		{"text/plain JSON", req{method: "POST", path: "/api/streams/transmissions", body: `{"name":"x"}`, headers: map[string]string{"Content-Type": "text/plain"}}, 415, "application/json"},
		{"form", req{method: "POST", path: "/api/streams/engine/stop", body: "a=b", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "application/json"},
		{"empty text/plain POST", req{method: "POST", path: "/api/streams/engine/stop", headers: map[string]string{"Content-Type": "text/plain"}}, 415, ""},
		{"body without type", req{method: "PUT", path: "/api/streams/transmissions/x", body: `{}`}, 415, "missing"},
		{"JSON", req{method: "POST", path: "/api/streams/transmissions", body: `{}`, headers: json}, 0, ""},
		{"JSON with charset", req{method: "PATCH", path: "/api/streams/settings", body: `{}`, headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 0, ""},
		{"bodyless POST (curl -X POST)", req{method: "POST", path: "/api/streams/engine/start"}, 0, ""},
		{"DELETE", req{method: "DELETE", path: "/api/streams/transmissions/x"}, 0, ""},
		{"GET ignores the type", req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"Content-Type": "text/plain"}}, 0, ""},
		{"JPEG frame", req{method: "PUT", path: "/api/streams/transmissions/x/writers/w/frame", body: "\xff\xd8", headers: map[string]string{"Content-Type": "image/jpeg"}}, 0, ""},
		{"raw stream", req{method: "POST", path: "/api/streams/transmissions/x/writers/w/stream", body: "\x00", headers: map[string]string{"Content-Type": "application/octet-stream"}}, 0, ""},
		{"JSON to a writer route", req{method: "PUT", path: "/api/streams/transmissions/x/writers/w/frame", body: "{}", headers: json}, 415, "image/jpeg"},
		{"foreign Origin", req{method: "POST", path: "/api/streams/engine/stop", headers: map[string]string{"Origin": "http://evil.example"}}, 403, "Origin"},
		{"foreign Origin, same host other port", req{method: "POST", path: "/api/streams/engine/stop", headers: map[string]string{"Origin": "http://127.0.0.1:9999"}}, 403, "Origin"},
		{"null Origin", req{method: "POST", path: "/api/streams/engine/stop", headers: map[string]string{"Origin": "null"}}, 403, "Origin"},
		{"own Origin", req{method: "POST", path: "/api/streams/engine/stop", headers: map[string]string{"Origin": "http://127.0.0.1:8100"}}, 0, ""},
		{"own Origin, default port", req{method: "GET", path: "/", host: "192.168.1.5", headers: map[string]string{"Origin": "http://192.168.1.5:80"}}, 0, ""},
		{"rebinding host", req{method: "GET", path: "/api/streams/settings", host: "evil.example:8100"}, 403, "TOPOSYNC_STREAMING_ALLOWED_HOSTS"},
		{"rebinding host on the UI", req{method: "GET", path: "/", host: "evil.example:8100"}, 403, "not allowed"},
		{"LAN IP", req{method: "GET", path: "/api/streams/settings", host: "192.168.1.5:8100"}, 0, ""},
		{"IPv6 literal", req{method: "GET", path: "/api/streams/settings", host: "[fe80::1]:8100"}, 0, ""},
		{"localhost", req{method: "GET", path: "/api/streams/settings", host: "localhost:8100"}, 0, ""},
		{"a .localhost name", req{method: "GET", path: "/api/streams/settings", host: "app.localhost:8100"}, 0, ""},
		{"this machine", req{method: "GET", path: "/api/streams/settings", host: "EdgeBox:8100"}, 0, ""},
		{"this machine .local", req{method: "GET", path: "/api/streams/settings", host: "edgebox.local"}, 0, ""},
		{"allowed name", req{method: "GET", path: "/api/streams/settings", host: "streams.example.org"}, 0, ""},
		{"allowed domain", req{method: "GET", path: "/api/streams/settings", host: "cam.lan.example:8100"}, 0, ""},
		{"lookalike of an allowed domain", req{method: "GET", path: "/api/streams/settings", host: "evil-lan.example"}, 403, "not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, reached := g.answer(t, c.q)
			if c.status == 0 {
				if !reached {
					t.Fatalf("refused with %d: %s", w.Code, w.Body.String())
				}
				return
			}
			if reached || w.Code != c.status {
				t.Fatalf("got %d (handler reached: %v), want %d", w.Code, reached, c.status)
			}
			if d := detail(t, w); !strings.Contains(d, c.want) {
				t.Errorf("detail %q does not mention %q", d, c.want)
			}
		})
	}
}

// Credentials let a request through under any host name: a rebinding page
// cannot attach them, while a reverse proxy or a processing server can.
func TestCredentialsPassTheHostCheck(t *testing.T) {
	g := New(Config{APIToken: "tok", SyncUsername: "sync", SyncPassword: "s3cret", SyncPrefix: "/api/streams/distributed/"})
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", host: "proxy.internal", headers: map[string]string{"Authorization": "Bearer tok"}}); !reached {
		t.Error("API token under a name was refused")
	}
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/distributed/settings/edge", host: "core.internal", headers: map[string]string{"Authorization": basic("sync", "s3cret")}}); !reached {
		t.Error("sync credentials under a name were refused")
	}
	if w, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", host: "proxy.internal", headers: map[string]string{"Authorization": "Bearer wrong"}}); reached || w.Code != 403 {
		t.Errorf("a wrong token under a name: %d, want 403", w.Code)
	}
}

func TestAPICredentials(t *testing.T) {
	g := New(Config{APIUsername: "admin", APIPassword: "pa55", APIToken: "tok3n", SyncUsername: "sync", SyncPassword: "s3cret", SyncToken: "synctok", SyncPrefix: "/api/streams/distributed/"})
	if !g.AuthRequired() {
		t.Fatal("AuthRequired is false with credentials set")
	}
	auth := func(v string) map[string]string { return map[string]string{"Authorization": v} }
	for _, c := range []struct {
		name    string
		q       req
		reached bool
	}{
		{"no credentials, API", req{method: "GET", path: "/api/streams/settings"}, false},
		{"no credentials, health", req{method: "GET", path: "/api/streams/health"}, false},
		{"no credentials, UI", req{method: "GET", path: "/"}, false},
		{"no credentials, asset", req{method: "GET", path: "/assets/app.js"}, false},
		{"basic", req{method: "GET", path: "/api/streams/settings", headers: auth(basic("admin", "pa55"))}, true},
		{"basic, wrong password", req{method: "GET", path: "/api/streams/settings", headers: auth(basic("admin", "nope"))}, false},
		{"bearer", req{method: "GET", path: "/api/cameras", headers: auth("Bearer tok3n")}, true},
		{"bearer, lower-case scheme", req{method: "GET", path: "/api/cameras", headers: auth("bearer tok3n")}, true},
		{"bearer, wrong", req{method: "GET", path: "/api/cameras", headers: auth("Bearer tok3")}, false},
		{"sync basic on the sync route", req{method: "GET", path: "/api/streams/distributed/settings/edge", headers: auth(basic("sync", "s3cret"))}, true},
		{"sync bearer on the sync route", req{method: "GET", path: "/api/streams/distributed/settings/edge", headers: auth("Bearer synctok")}, true},
		{"sync basic elsewhere", req{method: "GET", path: "/api/streams/settings", headers: auth(basic("sync", "s3cret"))}, false},
		{"sync bearer elsewhere", req{method: "POST", path: "/api/streams/engine/stop", headers: auth("Bearer synctok")}, false},
		{"API credentials on the sync route", req{method: "GET", path: "/api/streams/distributed/settings/edge", headers: auth("Bearer tok3n")}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, reached := g.answer(t, c.q)
			if reached != c.reached {
				t.Fatalf("reached %v, want %v (%d %s)", reached, c.reached, w.Code, w.Body.String())
			}
			if !reached && w.Code != http.StatusUnauthorized {
				t.Fatalf("refused with %d, want 401", w.Code)
			}
			if !reached && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// UI routes answer with the login page; the UI's own fetches get no
	// Basic challenge (the browser would show its dialog over the app).
	w, _ := g.answer(t, req{method: "GET", path: "/settings"})
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(w.Body.String(), `data-testid="login-form"`) || !strings.Contains(w.Body.String(), `name="token"`) {
		t.Errorf("UI route without credentials: %s %q", ct, w.Body.String())
	}
	w, _ = g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"X-Requested-With": "toposync-ui"}})
	if strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic") {
		t.Errorf("the UI's request got a Basic challenge: %q", w.Header().Get("WWW-Authenticate"))
	}
}

// Issue 11's reproduction: a processing server's bearer token was sent but
// the core never checked it, and with the core's Basic auth set bearer
// clients got 401. The core takes either.
func TestSyncBearerAlongsideBasic(t *testing.T) {
	g := New(Config{SyncUsername: "sync", SyncPassword: "s3cret", SyncToken: "edge-token", SyncPrefix: "/api/streams/distributed/"})
	route := "/api/streams/distributed/settings/edge"
	for header, want := range map[string]bool{"": false, "Bearer edge-token": true, basic("sync", "s3cret"): true, "Bearer nope": false, basic("sync", "nope"): false} {
		q := req{method: "GET", path: route, headers: map[string]string{}}
		if header != "" {
			q.headers["Authorization"] = header
		}
		if _, reached := g.answer(t, q); reached != want {
			t.Errorf("Authorization %q: reached %v, want %v", header, reached, want)
		}
	}
	// Without API credentials every other route stays open.
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/health"}); !reached {
		t.Error("health needs credentials although no API credentials are set")
	}
	// A token alone protects the sync route too.
	g = New(Config{SyncToken: "edge-token", SyncPrefix: "/api/streams/distributed/"})
	if _, reached := g.answer(t, req{method: "GET", path: route}); reached {
		t.Error("the sync route is open although a sync token is set")
	}
}

func TestLoginSession(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g := New(Config{APIUsername: "admin", APIPassword: "pa55", SessionTTL: time.Hour, Now: func() time.Time { return now }})
	json := map[string]string{"Content-Type": "application/json"}
	w, _ := g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"wrong"}`, headers: json})
	if w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("wrong password: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	w, _ = g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"pa55"}`, headers: map[string]string{"Content-Type": "text/plain"}})
	if w.Code != 415 {
		t.Fatalf("text/plain login: %d, want 415 (a page must not log the browser in)", w.Code)
	}
	w, _ = g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"pa55"}`, headers: json})
	cookies := w.Result().Cookies()
	if w.Code != 200 || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d, cookies %+v", w.Code, cookies)
	}
	withCookie := map[string]string{"Cookie": cookies[0].Name + "=" + cookies[0].Value}
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: withCookie}); !reached {
		t.Fatal("the session cookie does not open the API")
	}
	w, _ = g.answer(t, req{method: "GET", path: SessionPath, headers: withCookie})
	if !strings.Contains(w.Body.String(), `"session":true`) {
		t.Errorf("session answer %s", w.Body.String())
	}
	now = now.Add(61 * time.Minute)
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: withCookie}); reached {
		t.Fatal("an expired session still opens the API")
	}
	now = now.Add(-61 * time.Minute)
	g.answer(t, req{method: "POST", path: LogoutPath, headers: withCookie})
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: withCookie}); reached {
		t.Fatal("a closed session still opens the API")
	}
	if _, reached := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"Cookie": sessionCookie + "=forged"}}); reached {
		t.Fatal("a forged session opens the API")
	}
}

func TestSessionsAreBounded(t *testing.T) {
	s := newSessions(time.Now, time.Hour)
	first := s.open()
	for range maxSessions {
		s.open()
	}
	if len(s.expires) != maxSessions || s.valid(first) {
		t.Errorf("%d sessions kept, first still valid %v", len(s.expires), s.valid(first))
	}
}

func TestConfigCheck(t *testing.T) {
	if err := (Config{APIUsername: "admin"}).Check(); err == nil {
		t.Error("a username without a password passed")
	}
	if err := (Config{SyncPassword: "x"}).Check(); err == nil {
		t.Error("a sync password without a username passed")
	}
	if err := (Config{APIToken: "t", APIUsername: "a", APIPassword: "b"}).Check(); err != nil {
		t.Error(err)
	}
}

// Guessing the password through the login form is slowed down: after ten
// failures in a minute an address gets 429, even with the right password,
// until the minute is over.
func TestLoginFailuresAreLimited(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g := New(Config{APIUsername: "admin", APIPassword: "pa55", Now: func() time.Time { return now }})
	json := map[string]string{"Content-Type": "application/json"}
	for i := range maxLoginFailures {
		if w, _ := g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"guess"}`, headers: json}); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	w, _ := g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"pa55"}`, headers: json})
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d (Retry-After %q), want 429", maxLoginFailures, w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(loginFailureWindow)
	if w, _ := g.answer(t, req{method: "POST", path: LoginPath, body: `{"username":"admin","password":"pa55"}`, headers: json}); w.Code != 200 {
		t.Fatalf("after the window: %d", w.Code)
	}
}

// Wrong Basic or Bearer credentials on API routes are limited like failed
// sign-ins: once blocked, even the right token waits out the window (else
// a guesser would see which guess worked).
func TestWrongCredentialsAreLimited(t *testing.T) {
	g := New(Config{APIToken: "tok"})
	for range maxLoginFailures {
		if w, _ := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"Authorization": "Bearer nope"}}); w.Code != 401 {
			t.Fatalf("wrong token: %d", w.Code)
		}
	}
	if w, _ := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"Authorization": "Bearer nope"}}); w.Code != 429 {
		t.Fatalf("after %d wrong tokens: %d, want 429", maxLoginFailures, w.Code)
	}
	if w, _ := g.answer(t, req{method: "GET", path: "/api/streams/settings", headers: map[string]string{"Authorization": "Bearer tok"}}); w.Code != 429 {
		t.Errorf("the right token while blocked: %d, want 429", w.Code)
	}
}

// Issue 13: a Prometheus scrape of /metrics without credentials got the
// UI's sign-in page. Machine paths are answered as the API is: a JSON 401
// with a Basic challenge; with credentials they pass.
func TestMachinePathsAreAnsweredLikeTheAPI(t *testing.T) {
	g := New(Config{APIUsername: "admin", APIPassword: "pa55", APIToken: "tok3n", MachinePaths: []string{"/metrics"}})
	w, reached := g.answer(t, req{method: "GET", path: "/metrics"})
	if reached || w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic") ||
		!strings.Contains(detail(t, w), "Authentication required") {
		t.Errorf("/metrics without credentials: reached %v, %d %q %q", reached, w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	for _, auth := range []string{basic("admin", "pa55"), "Bearer tok3n"} {
		if w, reached := g.answer(t, req{method: "GET", path: "/metrics", headers: map[string]string{"Authorization": auth}}); !reached {
			t.Errorf("/metrics with %s: %d %s", auth[:6], w.Code, w.Body.String())
		}
	}
	// Other pages keep the sign-in page.
	if w, _ := g.answer(t, req{method: "GET", path: "/docs"}); !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("/docs without credentials: %q", w.Header().Get("Content-Type"))
	}
}
