package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// Routes names the route of a request for the request counter: the pattern
// it matches among those given, so that label values are bounded by the
// router, never by what clients send.
type Routes struct {
	mux *http.ServeMux
}

// Unmatched is the route label of a request that matches no pattern.
const Unmatched = "unmatched"

// NewRoutes matches requests against patterns (http.ServeMux patterns,
// such as "GET /api/streams/transmissions/{id}"). It panics on patterns
// that conflict, as ServeMux does.
func NewRoutes(patterns ...string) *Routes {
	mux := http.NewServeMux()
	for _, p := range patterns {
		mux.Handle(p, http.NotFoundHandler()) // only its pattern is used
	}
	return &Routes{mux: mux}
}

// Name is the path of the pattern r matches (without its method), or
// Unmatched.
func (rt *Routes) Name(r *http.Request) string {
	_, pattern := rt.mux.Handler(r)
	if pattern == "" {
		return Unmatched
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// methods are the method label values; others count as "other".
var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// Instrument counts every request next answers by method, route (from
// routes) and status code.
func (m *Metrics) Instrument(next http.Handler, routes *Routes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := routes.Name(r) // before next: handlers may change r.URL
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		method := r.Method
		if !methods[method] {
			method = "other"
		}
		m.requests.WithLabelValues(method, route, strconv.Itoa(rec.status)).Inc()
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wroteHeader && status >= 200 { // 1xx are informational: the final status follows
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
