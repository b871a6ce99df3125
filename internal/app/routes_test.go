package app

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/api"
	"github.com/toposync/toposync-streaming/internal/metrics"
)

// Requests are named by the route that serves them, in the request
// metrics; a path no route serves is "unmatched", never its raw path.
func TestRoutesNameRequests(t *testing.T) {
	routes := metrics.NewRoutes(Routes()...) // panics on a conflict
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/api/streams/transmissions/yard/snapshot", "/api/streams/transmissions/{id}/snapshot"},
		{"PUT", "/api/streams/transmissions/yard/writers/cam%2F1/frame", "/api/streams/transmissions/{id}/writers/{writer_id}/frame"},
		{"GET", "/api/cameras/front", "/api/cameras/{id}"},
		{"GET", "/api/no/such", "/api/"},
		{"POST", "/api/auth/login", "/api/auth/login"},
		{"GET", "/metrics", "/metrics"},
		{"GET", "/", "/{$}"},
		{"GET", "/settings", "/settings"},
		{"GET", "/assets/app-1234.js", "/assets/"},
		{"GET", "/wp-login.php", metrics.Unmatched},
		{"POST", "/metrics", metrics.Unmatched},
	} {
		if got := routes.Name(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("%s %s named %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// The documented routes served outside the API package (the guard's
// sign-in routes, /metrics) are routes of the service.
func TestDocumentedRoutesOutsideTheAPIAreServed(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	inAPI := api.Routes()
	routes := metrics.NewRoutes(Routes()...)
	outside := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			pattern := strings.ToUpper(method) + " " + path
			if slices.Contains(inAPI, pattern) {
				continue
			}
			outside++
			if got := routes.Name(httptest.NewRequest(strings.ToUpper(method), path, nil)); got != path {
				t.Errorf("documented %s is served by %q", pattern, got)
			}
		}
	}
	if outside != 4 {
		t.Errorf("%d documented routes outside the API, want 4 (login, logout, session, metrics)", outside)
	}
}
