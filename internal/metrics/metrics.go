// Package metrics serves the Prometheus metrics of the service at /metrics:
// the Go runtime's and the process's, and ours, which are read from the
// status the owning components already publish (bridge outputs, arbiter
// counts, engine status, pipeline status) at scrape time, plus the HTTP
// requests it counts itself.
//
// It owns no state of the service and changes nothing: a scrape only reads.
// Counters read from a status (frames sent, restarts) start again when
// their owner is replaced (a new publisher, a transmission the arbiter
// forgot), which Prometheus reads as a counter reset.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// Path is where the metrics are served.
const Path = "/metrics"

// namespace prefixes every metric of ours.
const namespace = "toposync_streaming"

// Sources are where the metrics are read from at each scrape. A nil field
// leaves its metrics out.
type Sources struct {
	// Engine is the engine status (engine.Manager.Status).
	Engine func() engine.Status
	// EngineState lists the served paths and their readers
	// (engine.Manager.State).
	EngineState func() *engine.State
	// Outputs are the bridge's outputs (bridge.Bridge.Outputs).
	Outputs func() []bridge.OutputStatus
	// WriterCounts are the arbiter's frame and switch counts
	// (arbiter.Arbiter.Counts); Writers its writers (arbiter.Arbiter.Snapshot).
	WriterCounts func() map[string]arbiter.Counts
	Writers      func() map[string]arbiter.State
	// Pipelines are the pipelines running here.
	Pipelines func() []pipeline.Status
	// CameraSessions is the hook for the camera hub: the open sessions per
	// camera id. Nil until a hub that pulls each camera once exists.
	CameraSessions func() map[string]int
}

// Metrics is the registry behind /metrics and the HTTP request counter.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
}

// New registers the Go and process collectors, ours over src, and the
// HTTP request counter on a registry of their own (never the global one, so
// tests and libraries cannot add to it).
func New(src Sources) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route (the pattern that matched, \"unmatched\" for none) and status code.",
		}, []string{"method", "route", "code"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{src: src},
		m.requests,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format (or what the
// scraper negotiates).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
