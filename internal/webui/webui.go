// Package webui serves the built web UI (Settings panel and Streams
// dashboard) embedded in the binary: files under dist/ as they are, and
// index.html for every other path so the app's own routes work on reload.
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
func Handler() http.Handler {
	dist, _ := fs.Sub(files, "dist")
	static := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" || name == "index.html" {
			serveIndex(w, r, dist)
			return
		}
		if _, err := fs.Stat(dist, name); err != nil {
			serveIndex(w, r, dist) // an app route
			return
		}
		if strings.HasPrefix(name, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable") // names carry a content hash
		}
		static.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, dist fs.FS) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, dist, "index.html")
}
