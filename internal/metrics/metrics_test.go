package metrics

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// scrape GETs url and returns every sample by its series as the text
// format prints it (`name{label="v",...}`, labels sorted by name).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %q %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return parseSamples(t, resp.Body)
}

func parseSamples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	lines := bufio.NewScanner(r)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func img() *frame.Frame { return &frame.Frame{Width: 2, Height: 2, Data: make([]byte, 12)} }

// Each source's values appear under their names and labels, and move with
// what the owners report; a real arbiter feeds the writer metrics.
func TestCollectorReadsTheSources(t *testing.T) {
	arb := arbiter.New(arbiter.DefaultConfig(), nil, nil)
	outputs := []bridge.OutputStatus{{
		Target:           model.Target{TransmissionID: "yard", OutputID: "rtsp", Path: "yard"},
		DemandSignal:     true,
		PublisherRunning: true,
		Publisher:        &publisher.Status{Running: true, Restarts: 2},
		FramesSent:       40, FramesDropped: 3,
	}, {
		Target: model.Target{TransmissionID: "gate", OutputID: "hls", Path: "gate"},
	}}
	engineStatus := engine.Status{Running: true, Kind: "embedded", RestartCount: 1}
	m := New(Sources{
		Engine:       func() engine.Status { return engineStatus },
		EngineState:  func() *engine.State { return &engine.State{} }, // not running: no readers
		Outputs:      func() []bridge.OutputStatus { return outputs },
		WriterCounts: arb.Counts,
		Writers:      arb.Snapshot,
		Pipelines: func() []pipeline.Status {
			return []pipeline.Status{{Name: "yard-motion", Running: true, Restarts: 4}}
		},
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	got := scrape(t, srv.URL)
	want := map[string]float64{
		`toposync_streaming_engine_up{kind="embedded"}`:                                                   1,
		`toposync_streaming_engine_restarts_total{kind="embedded"}`:                                       1,
		`toposync_streaming_output_demand{output="rtsp",path="yard",transmission="yard"}`:                 1,
		`toposync_streaming_output_publisher_running{output="rtsp",path="yard",transmission="yard"}`:      1,
		`toposync_streaming_output_encoder_running{output="rtsp",path="yard",transmission="yard"}`:        1,
		`toposync_streaming_output_encoder_restarts_total{output="rtsp",path="yard",transmission="yard"}`: 2,
		`toposync_streaming_output_frames_sent_total{output="rtsp",path="yard",transmission="yard"}`:      40,
		`toposync_streaming_output_frames_dropped_total{output="rtsp",path="yard",transmission="yard"}`:   3,
		`toposync_streaming_output_demand{output="hls",path="gate",transmission="gate"}`:                  0,
		`toposync_streaming_output_publisher_running{output="hls",path="gate",transmission="gate"}`:       0,
		`toposync_streaming_pipeline_running{pipeline="yard-motion"}`:                                     1,
		`toposync_streaming_pipeline_restarts_total{pipeline="yard-motion"}`:                              4,
	}
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", series, g, ok, v)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go collector metrics")
	}
	if _, ok := got["process_open_fds"]; !ok {
		t.Error("no process collector metrics")
	}
	for series := range got {
		if strings.HasPrefix(series, "toposync_streaming_camera_sessions") || strings.HasPrefix(series, "toposync_streaming_readers") {
			t.Errorf("%s reported without a source for it", series)
		}
	}

	// Writers publish: frames ingested and switches move, the active writer
	// is named. A writer id that is not UTF-8 does not break the scrape.
	arb.Publish("yard", "cam", arbiter.Open, 0, img())
	arb.Publish("yard", "cam", arbiter.Update, 0, img())
	arb.Publish("gate", "bad\xffid", arbiter.Open, 0, img())
	engineStatus.Running = false
	got = scrape(t, srv.URL)
	for series, v := range map[string]float64{
		`toposync_streaming_frames_ingested_total{transmission="yard"}`:         2,
		`toposync_streaming_writer_switches_total{transmission="yard"}`:         1,
		`toposync_streaming_writers{transmission="yard"}`:                       1,
		`toposync_streaming_active_writer{transmission="yard",writer="cam"}`:    1,
		`toposync_streaming_active_writer{transmission="gate",writer="bad�id"}`: 1,
		`toposync_streaming_writers_refused_total{transmission="yard"}`:         0,
		`toposync_streaming_engine_up{kind="embedded"}`:                         0,
	} {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", series, g, ok, v)
		}
	}
}

// The camera hub's hook, when set, is reported per camera.
func TestCameraSessionsHook(t *testing.T) {
	m := New(Sources{CameraSessions: func() map[string]int { return map[string]int{"front": 1} }})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	if got := scrape(t, srv.URL)[`toposync_streaming_camera_sessions{camera="front"}`]; got != 1 {
		t.Errorf("camera_sessions = %v, want 1", got)
	}
}

// Requests are counted by the route pattern they match (never the raw path)
// and their final status; other paths and methods fall into bounded values.
func TestInstrumentCountsRequestsByRoute(t *testing.T) {
	m := New(Sources{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusEarlyHints) // informational: not the status
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET /metrics", m.Handler())
	srv := httptest.NewServer(m.Instrument(mux, NewRoutes("GET /api/things/{id}", "GET /metrics")))
	defer srv.Close()
	for _, p := range []string{"/api/things/a", "/api/things/b", "/api/things/missing", "/nowhere/1", "/nowhere/2"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("BREW", srv.URL+"/api/things/a", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	got := scrape(t, srv.URL+"/metrics")
	for series, v := range map[string]float64{
		`toposync_streaming_http_requests_total{code="200",method="GET",route="/api/things/{id}"}`: 2,
		`toposync_streaming_http_requests_total{code="404",method="GET",route="/api/things/{id}"}`: 1,
		`toposync_streaming_http_requests_total{code="404",method="GET",route="unmatched"}`:        2,
		`toposync_streaming_http_requests_total{code="405",method="other",route="unmatched"}`:      1,
	} {
		if g := got[series]; g != v {
			t.Errorf("%s = %v, want %v", series, g, v)
		}
	}
	// The scrape itself is counted once it is answered.
	if got := scrape(t, srv.URL+"/metrics")[`toposync_streaming_http_requests_total{code="200",method="GET",route="/metrics"}`]; got != 1 {
		t.Errorf("scrapes counted: %v, want 1", got)
	}
}
