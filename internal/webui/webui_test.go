package webui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestIndexForAppRoutes(t *testing.T) {
	for _, path := range []string{"/", "/settings", "/settings/", "/docs", "/index.html", "/watch/demo", "/watch/yard/cam-1"} {
		rec := get(t, "GET", path)
		if path == "/index.html" && rec.Code == http.StatusMovedPermanently {
			continue // the file server redirects /index.html to /
		}
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" || !strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("GET %s: %d %q %.80s", path, rec.Code, rec.Header().Get("Cache-Control"), rec.Body.String())
		}
	}
}

// Only real routes answer: /metrics (served beside this handler),
// /healthz and any other path that is neither a page of the app nor a file
// used to get the dashboard's HTML with 200, so a health probe or a scrape
// "succeeded" on nothing.
func TestUnknownPathsAre404(t *testing.T) {
	for _, p := range []string{"/metrics", "/healthz", "/settings/x", "/docs/x", "/no/such/page", "/watch", "/watch/", "/watchx"} {
		rec := get(t, "GET", p)
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("GET %s: %d %.80q", p, rec.Code, rec.Body.String())
		}
	}
}

func TestAssetsCachedForeverAndMissingOnes404(t *testing.T) {
	dist, _ := fs.Sub(files, "dist")
	assets, _ := fs.ReadDir(dist, "assets")
	for _, a := range assets {
		rec := get(t, "GET", "/assets/"+a.Name())
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d %q", a.Name(), rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	for _, path := range []string{"/assets/app-gone.js", "/favicon.ico"} {
		if rec := get(t, "GET", path); rec.Code != 404 {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestUnknownAPIPathsAreJSON404(t *testing.T) {
	rec := get(t, "GET", "/api/cameras")
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"detail"`) {
		t.Errorf("GET /api/cameras: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	if rec := get(t, "POST", "/settings"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /settings: %d, want 405", rec.Code)
	}
}
