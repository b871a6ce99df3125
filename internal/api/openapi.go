package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of every route the service serves
// (the API's, the guard's sign-in routes and /metrics). It is written by
// hand, not generated: the payloads are FastAPI-shaped and built by custom
// marshalers (write-only passwords, kept unknown members), which Go types
// do not describe. TestOpenAPIMatchesTheRouter keeps it true: every route
// documented, every documented route served, answers valid against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPIPaths are where the document is served: beside the /api/streams
// routes and beside the other /api/ prefixes (cameras, pipelines,
// processing servers).
var OpenAPIPaths = []string{Prefix + "/openapi.json", "/api/openapi.json"}

// OpenAPI returns the document.
func OpenAPI() []byte { return openAPI }

func (s *server) openAPIDocument(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache") // a new build may change it
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	_, _ = w.Write(openAPI)
}
