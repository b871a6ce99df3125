// Package api serves the HTTP API under /api/streams with net/http. Handlers
// decode and check requests, change settings only through the store's Update,
// and answer JSON; errors are {"detail": ...} with a 4xx status that says
// whose fault it is. The package never touches files or processes itself.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Prefix is where the API lives.
const Prefix = "/api/streams"

// ExtensionID names the service in /health, as the original extension does.
const ExtensionID = "com.toposync.streaming"

// SyncPrefix is where processing servers pull their settings; the sync
// credentials open only this prefix (see internal/access).
const SyncPrefix = Prefix + "/distributed/"

// ingestTypes are the bodies a writer route takes (a frame or a stream).
var ingestTypes = []string{"image/jpeg", "image/png", "application/octet-stream"}

// BodyTypes are the media types a state-changing request to path may
// carry: the ingest's on writer routes, else nil (JSON).
func BodyTypes(path string) []string {
	rest, ok := strings.CutPrefix(path, Prefix+"/transmissions/")
	if !ok {
		return nil
	}
	if _, after, ok := strings.Cut(rest, "/"); ok && strings.HasPrefix(after, "writers/") {
		return ingestTypes
	}
	return nil
}

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 1 << 20

// Options are what the API needs from the rest of the service.
type Options struct {
	Store   *store.Store
	Engine  *engine.Manager
	Bridge  *bridge.Bridge
	Arbiter *arbiter.Arbiter
	// Pipelines runs the stored pipelines and reports their state.
	Pipelines *pipeline.Host
	ServerID  string // this server's host_server_id ("local" on the core)
	// FFmpegPath is the ffmpeg publishers run; FFmpegErr says why it is
	// missing. Both are reported in diagnostics.
	FFmpegPath string
	FFmpegErr  error
	// RemoteClient calls registered processing servers (URL and demand
	// proxy); each call is also bounded by RemoteTimeout. Defaults to a
	// plain client.
	RemoteClient *http.Client
	// CameraInputs is what camera URLs (and camera.source urls) may be;
	// the zero Policy accepts no local files.
	CameraInputs camerainput.Policy
	// Cameras reports the cameras' sessions in camera answers and opens
	// camera tests; nil: camera answers carry only the input kind, and
	// camera tests are refused.
	Cameras CameraHub
	// CameraTestTimeout bounds a camera test's wait for its frame
	// (0: DefaultCameraTestTimeout).
	CameraTestTimeout time.Duration
	// Ingest bounds the frame ingest (zero: the defaults).
	Ingest IngestLimits
	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now
}

type server struct {
	store     *store.Store
	engine    *engine.Manager
	bridge    *bridge.Bridge
	arbiter   *arbiter.Arbiter
	pipelines *pipeline.Host
	ffmpeg    ffmpegInfo
	serverID  string
	remote    *http.Client
	// cameraInputs is Options.CameraInputs.
	cameraInputs camerainput.Policy
	cameras      CameraHub
	// cameraTests holds a token per camera test in progress; cameraTestTimeout bounds each.
	cameraTests       chan struct{}
	cameraTestTimeout time.Duration
	ingest            IngestLimits
	clients           *clientSlots // ingest requests in progress per client
	log               *slog.Logger
	now               func() time.Time
	mux               *routeMux
}

// routeMux is the API's router; it remembers its patterns, so that the
// route list (Routes) is the router itself and cannot drift from it.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, handler)
}

// Routes are the patterns the API serves (http.ServeMux patterns, in the
// order they are registered), the catch-all "/api/" last.
func Routes() []string {
	s := &server{mux: &routeMux{ServeMux: http.NewServeMux()}}
	s.routes()
	return slices.Clone(s.mux.patterns)
}

// Handler returns the API's HTTP handler.
func Handler(opts Options) http.Handler {
	s := &server{store: opts.Store, engine: opts.Engine, bridge: opts.Bridge, arbiter: opts.Arbiter, pipelines: opts.Pipelines, ffmpeg: ffmpegInfo{path: opts.FFmpegPath}, serverID: opts.ServerID, cameraInputs: opts.CameraInputs, cameras: opts.Cameras, log: opts.Logger, now: opts.Now, mux: &routeMux{ServeMux: http.NewServeMux()}}
	if s.now == nil {
		s.now = time.Now
	}
	s.cameraTests = make(chan struct{}, cameraTestsAtOnce)
	s.cameraTestTimeout = opts.CameraTestTimeout
	if s.cameraTestTimeout <= 0 {
		s.cameraTestTimeout = DefaultCameraTestTimeout
	}
	s.ingest = opts.Ingest.withDefaults()
	s.clients = &clientSlots{max: s.ingest.PerClient}
	s.remote = opts.RemoteClient
	if s.remote == nil {
		s.remote = &http.Client{Timeout: RemoteTimeout}
	}
	if opts.FFmpegErr != nil {
		s.ffmpeg.err = opts.FFmpegErr.Error()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s.logRequests(s.mux)
}

func (s *server) routes() {
	s.mux.HandleFunc("GET "+Prefix+"/health", s.health)
	for _, p := range OpenAPIPaths {
		s.mux.HandleFunc("GET "+p, s.openAPIDocument)
	}
	s.mux.HandleFunc("GET "+Prefix+"/settings", s.getSettings)
	s.mux.HandleFunc("PATCH "+Prefix+"/settings", s.patchSettings)
	s.mux.HandleFunc("GET "+Prefix+"/engine/status", s.engineStatus)
	s.mux.HandleFunc("POST "+Prefix+"/engine/start", s.engineAction(s.engine.Start, "Failed to start streaming engine"))
	s.mux.HandleFunc("POST "+Prefix+"/engine/stop", s.engineAction(s.engine.Stop, "Failed to stop streaming engine"))
	s.mux.HandleFunc("POST "+Prefix+"/engine/restart", s.engineAction(s.engine.Restart, "Failed to restart streaming engine"))
	s.mux.HandleFunc("POST "+Prefix+"/engine/download", s.engineDownload)
	s.mux.HandleFunc("POST "+Prefix+"/engine/reclaim", s.engineReclaim)
	s.mux.HandleFunc("GET "+Prefix+"/transmissions", s.listTransmissions)
	s.mux.HandleFunc("POST "+Prefix+"/transmissions", s.createTransmission)
	s.mux.HandleFunc("GET "+Prefix+"/transmissions/{id}", s.getTransmission)
	s.mux.HandleFunc("PUT "+Prefix+"/transmissions/{id}", s.putTransmission)
	s.mux.HandleFunc("DELETE "+Prefix+"/transmissions/{id}", s.deleteTransmission)
	s.mux.HandleFunc("GET "+Prefix+"/transmissions/{id}/urls", s.transmissionURLs)
	s.mux.HandleFunc("POST "+Prefix+"/transmissions/{id}/urls/preview", s.previewURLs)
	s.mux.HandleFunc("GET "+Prefix+"/transmissions/{id}/snapshot", s.snapshot)
	s.mux.HandleFunc("GET "+Prefix+"/transmissions/{id}/demand", s.proxyRemote(s.transmissionDemand))
	s.mux.HandleFunc("POST "+Prefix+"/transmissions/{id}/demand/prime", s.proxyRemote(s.primeDemand))
	s.mux.HandleFunc("PUT "+Prefix+"/transmissions/{id}/writers/{writer_id}/frame", s.putFrame)
	s.mux.HandleFunc("POST "+Prefix+"/transmissions/{id}/writers/{writer_id}/stream", s.streamFrames)
	s.mux.HandleFunc("DELETE "+Prefix+"/transmissions/{id}/writers/{writer_id}", s.deleteWriter)
	s.mux.HandleFunc("GET "+Prefix+"/runtime/outputs", s.runtimeOutputs)
	s.mux.HandleFunc("GET "+Prefix+"/runtime/diagnostics", s.runtimeDiagnostics)
	s.mux.HandleFunc("GET "+Prefix+"/internal/transmissions/{id}/urls", s.internalTransmissionURLs)
	s.mux.HandleFunc("POST "+Prefix+"/wizard/create-pipeline", s.wizardCreatePipeline)
	s.mux.HandleFunc("GET "+Prefix+"/distributed/settings/{server_id}", s.distributedSettings)
	s.mux.HandleFunc("GET /api/processing-servers", s.listProcessingServers)
	s.mux.HandleFunc("POST /api/processing-servers", s.createProcessingServer)
	s.mux.HandleFunc("GET /api/processing-servers/{id}", s.getProcessingServer)
	s.mux.HandleFunc("PUT /api/processing-servers/{id}", s.putProcessingServer)
	s.mux.HandleFunc("DELETE /api/processing-servers/{id}", s.deleteProcessingServer)
	s.mux.HandleFunc("GET /api/cameras", s.listCameras)
	s.mux.HandleFunc("POST /api/cameras", s.createCamera)
	s.mux.HandleFunc("POST /api/cameras/test", s.testCamera)
	s.mux.HandleFunc("GET /api/cameras/{id}", s.getCamera)
	s.mux.HandleFunc("PUT /api/cameras/{id}", s.putCamera)
	s.mux.HandleFunc("DELETE /api/cameras/{id}", s.deleteCamera)
	s.mux.HandleFunc("GET /api/pipelines", s.listPipelines)
	s.mux.HandleFunc("POST /api/pipelines", s.createPipeline)
	s.mux.HandleFunc("GET /api/pipelines/{name}", s.getPipeline)
	s.mux.HandleFunc("PUT /api/pipelines/{name}", s.putPipeline)
	s.mux.HandleFunc("DELETE /api/pipelines/{name}", s.deletePipeline)
	s.mux.HandleFunc("GET /api/pipelines/{name}/status", s.pipelineStatus)
	s.mux.HandleFunc("/api/", s.notFound)
}

// health is GET /health: always 200 while the service serves (liveness);
// "status" is "degraded", with the reasons in "problems", when video cannot
// be made here: ffmpeg is missing, or the enabled engine does not run.
func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	problems := []string{}
	if s.ffmpeg.err != "" {
		problems = append(problems, "ffmpeg is unavailable, so no output can be encoded: "+s.ffmpeg.err)
	}
	if st := s.engine.State(); s.store.Current().Streams.Engine.Enabled && !st.Running && st.LastError != "" {
		problems = append(problems, "the streaming engine is enabled but not running: "+st.LastError)
	}
	answer := map[string]any{"status": "ok", "extension": ExtensionID} // the spec's answer
	if len(problems) > 0 {
		answer["status"], answer["problems"] = "degraded", problems
	}
	writeJSON(w, http.StatusOK, answer)
}

// notFound answers every other /api request: 405 when the path
// exists for another method, else 404.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	writeDetail(w, http.StatusNotFound, "Not Found")
}

// ffmpegInfo is what diagnostics say about ffmpeg.
type ffmpegInfo struct {
	path string
	err  string
}

// httpError is an error with the status it should be answered with.
type httpError struct {
	status     int
	detail     string
	loc        []any  // the request field at fault, "body" first; nil: none
	retryAfter string // Retry-After of a 503, seconds
}

func (e *httpError) Error() string { return e.detail }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, detail: fmt.Sprintf(format, args...)}
}

// errorAt is errorf for an error about one field of the request body: the
// answer carries its loc next to the detail, so clients place it without
// reading the message.
func errorAt(status int, loc []any, format string, args ...any) error {
	return &httpError{status: status, detail: fmt.Sprintf(format, args...), loc: loc}
}

// bodyConflict locates a conflict the store found in the whole document
// inside a request body that is the document's part at part (for example
// "streams", "transmissions", 0): the side of the conflict there becomes
// the loc, rooted at "body". Other errors are returned as they are.
func bodyConflict(err error, part ...any) error {
	var ce *model.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	out := &model.ConflictError{Msg: ce.Msg}
	if rest, ok := ce.At(part...); ok {
		out.Loc = append([]any{"body"}, rest...)
	}
	return out
}

// writeError answers err with the status its type calls for.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var ve *model.ValidationError
	var ce *model.ConflictError
	switch {
	case errors.As(err, &he):
		if he.retryAfter != "" {
			w.Header().Set("Retry-After", he.retryAfter)
		}
		writeDetailAt(w, he.status, he.detail, he.loc)
	case errors.As(err, &ve):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": ve.Errors})
	case errors.As(err, &ce):
		// Only a loc inside the request is answered: one in the stored
		// document (a handler that did not locate it) means nothing to
		// the client.
		var loc []any
		if len(ce.Loc) > 0 && ce.Loc[0] == "body" {
			loc = ce.Loc
		}
		writeDetailAt(w, http.StatusConflict, ce.Msg, loc)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeDetail(w, http.StatusInternalServerError, err.Error())
	}
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeDetailAt(w, status, detail, nil)
}

// writeDetailAt answers {"detail": detail}, with "loc" when the error is
// about one field of the request (FastAPI's loc: "body", then members and
// indexes).
func writeDetailAt(w http.ResponseWriter, status int, detail string, loc []any) {
	answer := map[string]any{"detail": detail}
	if loc != nil {
		answer["loc"] = loc
	}
	writeJSON(w, status, answer)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"detail":"failed to encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// readJSONBody reads a request body of at most MaxBodyBytes that is
// syntactically valid JSON; what it means is for the model to judge.
func readJSONBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, bodyError(err, fmt.Sprintf("Request body is larger than %d bytes", MaxBodyBytes))
	}
	if err := model.CheckJSONDepth(body, model.MaxJSONDepth, "body"); err != nil {
		return nil, err
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, errorf(http.StatusBadRequest, "Malformed JSON body at byte %d: %v", syn.Offset, err)
		}
		return nil, errorf(http.StatusBadRequest, "Malformed JSON body: %v", err)
	}
	return body, nil
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// logRequests logs method, path, status and duration at debug level; bodies
// and query strings are never logged (they may hold credentials).
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}
