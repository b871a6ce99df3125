// Package webui serves the built web UI (Settings panel and Streams
// dashboard) embedded in the binary: files under dist/ as they are, and
// index.html for every other path so the app's own routes work on reload.
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

// Handler serves the UI.
//
//   - index.html (for "/" and every app route) with Cache-Control no-cache,
//     so a new build is picked up at once;
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
			if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
				http.NotFound(w, r) // a file, not an app route
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
