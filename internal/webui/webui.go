// Package webui serves the built web UI (Settings panel, Streams dashboard
// and API docs) embedded in the binary: files under dist/ as they are, and
// index.html for the app's own routes (AppRoutes) so they work on reload;
// anything else is 404.
//
// dist/ is produced by `npm run build` in web/ (make run and make test
// rebuild it) and is committed, so `go build` works without Node.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed dist
var files embed.FS

// AppRoutes are the pages of the app (web/src/main.ts routes): they serve
// index.html; any other path that is not a file of dist/ is 404. A route
// ending in "/" (other than "/") is a page per name: /watch/{id or path}
// (a path may hold "/").
var AppRoutes = []string{"/", "/settings", "/docs", "/watch/"}

// isAppRoute reports whether p (cleaned, without a trailing "/") is a
// page of the app.
func isAppRoute(p string) bool {
	for _, r := range AppRoutes {
		if name, ok := strings.CutPrefix(p, r); p == r || (ok && r != "/" && strings.HasSuffix(r, "/") && name != "") {
			return true
		}
	}
	return false
}

// Handler serves the UI.
//
//   - index.html (for "/" and every app route) with Cache-Control no-cache,
//     so a new build is picked up at once, and 404 for any other path that
//     is not a file;
//   - assets/* (names carry a content hash) cached for a year, immutable; a
//     missing asset is 404, never index.html, so a stale page fails loudly;
//   - api/* paths that reach this handler (an endpoint this server lacks)
//     are answered 404 with a JSON detail, never with the app's HTML.
func Handler() http.Handler {
	dist, _ := fs.Sub(files, "dist")
	static := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "api" || strings.HasPrefix(name, "api/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"Not Found"}` + "\n"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		if name == "" || name == "index.html" {
			serveIndex(w, r, dist)
			return
		}
		if st, err := fs.Stat(dist, name); err != nil || st.IsDir() {
			if !isAppRoute("/" + strings.TrimSuffix(name, "/")) {
				// Neither a file nor a page of the app: a health probe or a
				// scrape must not "succeed" on the dashboard's HTML.
				http.NotFound(w, r)
				return
			}
			serveIndex(w, r, dist) // an app route such as /settings
			return
		}
		if strings.HasPrefix(name, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		static.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, dist fs.FS) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, dist, "index.html")
}
