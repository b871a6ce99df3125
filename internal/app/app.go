// Package app wires the service together and starts and stops its parts in
// order. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/toposync/toposync-streaming/internal/access"
	"github.com/toposync/toposync-streaming/internal/api"
	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/cluster"
	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/encoder"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/engine/mediamtx"
	"github.com/toposync/toposync-streaming/internal/metrics"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	_ "github.com/toposync/toposync-streaming/internal/pipeline/ops"    // registers the core operators
	_ "github.com/toposync/toposync-streaming/internal/pipeline/vision" // registers the vision operators
	"github.com/toposync/toposync-streaming/internal/publisher"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/testpattern"
	"github.com/toposync/toposync-streaming/internal/webui"
)

// Config is what the service is started with.
type Config struct {
	Listen   string // API address, e.g. 127.0.0.1:8100
	DataDir  string
	ServerID string // "local", or this processing server's id
	Getenv   func(string) string
	Logger   *slog.Logger
	// Demo creates the demo camera, transmission and pipelines when absent
	// and prints where to watch them to Out.
	Demo bool
	Out  io.Writer
	// InsecureNoAPIAuth lets the API listen beyond loopback without API
	// credentials (a warning is logged at every start).
	InsecureNoAPIAuth bool
}

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 2 * time.Second

// component is the lifecycle every long-lived part of the service has.
type component interface {
	Initialize() error
	Close()
}

// parts starts components in order and closes them in reverse.
type parts struct {
	log     *slog.Logger
	started []namedComponent
}

type namedComponent struct {
	name string
	c    component
}

func (p *parts) start(name string, c component) error {
	if err := c.Initialize(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p.started = append(p.started, namedComponent{name, c})
	p.log.Debug("started", "part", name)
	return nil
}

func (p *parts) closeAll() {
	for i := len(p.started) - 1; i >= 0; i-- {
		n := p.started[i]
		began := time.Now()
		n.c.Close()
		p.log.Debug("stopped", "part", n.name, "took", time.Since(began).Round(time.Millisecond))
	}
	p.started = nil
}

// Run serves until ctx is cancelled. Parts start in dependency order: the
// settings store, the settings sync (one pull first), the engine manager,
// the bridge and the test pattern (which act on the engine state), the
// camera hub, the pipelines (which read cameras through it and write
// frames), and last the HTTP server; they close in reverse order.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	tlsCert, err := config.LoadTLS(cfg.Getenv)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCert != nil {
		scheme = "https"
		log.Info("TLS on: HTTPS for the API, UI, HLS and WHEP, RTSPS on the RTSP port", "cert", tlsCert.CertFile, "expires", tlsCert.Certificate.Leaf.NotAfter)
		if w := tlsCert.Warning(time.Now()); w != "" {
			log.Warn(w)
		}
	}
	guard, err := newGuard(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.Demo {
		if err := ensureDemo(st); err != nil {
			return fmt.Errorf("set up the demo: %w", err)
		}
	}
	log.Info("settings loaded", "file", st.Path(), "revision", st.Current().Revision, "transmissions", len(st.Current().Streams.Transmissions))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (stop the other process or choose another --listen)", cfg.Listen, err)
	}
	defer ln.Close() // when a part fails before the HTTP server owns it

	p := &parts{log: log}
	defer p.closeAll()

	if syncer := newSyncer(cfg, st); syncer != nil {
		if err := p.start("settings sync", syncer); err != nil {
			return err
		}
		// One pull before the engine and the bridge start, so they start
		// with the core's settings; a failure is logged and the loop retries.
		syncer.SyncLogged(ctx)
	}

	runtimeDir := config.RuntimeDir(cfg.DataDir)
	logDir := filepath.Join(runtimeDir, "logs")
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program (MediaMTX runs it as its on-demand hook): %w", err)
	}
	mtx := &mediamtx.Kind{
		Version:        func() string { return st.Current().Streams.Engine.MediaMTXVersion },
		DataRuntimeDir: filepath.Join(cfg.DataDir, "runtime"),
		RuntimeDir:     runtimeDir,
		Hook:           []string{self, mediamtx.HookCommand},
		Getenv:         cfg.Getenv,
		Logger:         log.With("component", "engine.mediamtx"),
	}
	manager := &engine.Manager{
		Store: st,
		Kinds: map[string]engine.Kind{
			model.EngineEmbedded: embedded.Kind{Logger: log.With("component", "engine.embedded")},
			model.EngineMediaMTX: mtx,
		},
		ServerID:   cfg.ServerID,
		RuntimeDir: runtimeDir,
		WebRTC: engine.WebRTCNetwork{
			AdditionalHosts: config.WebRTCAdditionalHosts(cfg.Getenv),
			LocalUDPAddress: cfg.Getenv(config.EnvWebRTCLocalUDPAddress),
			LocalTCPAddress: cfg.Getenv(config.EnvWebRTCLocalTCPAddress),
		},
		TLS:    tlsCert,
		Logger: log.With("component", "engine"),
	}
	if err := p.start("engine manager", manager); err != nil {
		return err
	}

	ffmpeg, ffmpegErr := publisher.FindFFmpeg(cfg.Getenv)
	if ffmpegErr != nil {
		log.Warn("publishers are unavailable", "err", ffmpegErr)
	}
	logLevel := publisher.LogLevel(cfg.Getenv)
	arb := arbiter.New(arbiter.DefaultConfig(), nil, log.With("component", "arbiter"))
	// One probe per encoder for the whole service (see encoder.Prober).
	encoders := &encoder.Prober{}
	cameras := &camerahub.Hub{FFmpeg: ffmpeg, FFmpegErr: ffmpegErr, LogDir: logDir, LogLevel: logLevel, Logger: log.With("component", "camerahub")}
	if err := p.start("camera hub", cameras); err != nil {
		return err
	}
	runtimeBridge := &bridge.Bridge{
		Engine: manager, Arbiter: arb, FFmpeg: ffmpeg, FFmpegErr: ffmpegErr, LogLevel: logLevel,
		LogDir: logDir, Logger: log.With("component", "bridge"), Prober: encoders, Cameras: cameras,
	}
	if err := p.start("bridge", runtimeBridge); err != nil {
		return err
	}
	pattern := &testpattern.Pattern{Engine: manager, FFmpeg: ffmpeg, LogLevel: logLevel, LogDir: logDir, Logger: log.With("component", "testpattern")}
	if err := p.start("test pattern", pattern); err != nil {
		return err
	}
	cameraInputs := camerainput.Policy{FilesDir: config.CameraFilesDir(cfg.Getenv, cfg.DataDir)}
	if err := os.MkdirAll(cameraInputs.FilesDir, 0o750); err != nil { // so users find where clips go
		log.Warn("cannot create the camera files directory", "dir", cameraInputs.FilesDir, "err", err)
	}
	pipelines := &pipeline.Host{Store: st, ServerID: cfg.ServerID, Demand: runtimeBridge, Services: pipeline.StoreServices{Store: st, Arbiter: arb, Inputs: cameraInputs, Cameras: cameras}, Logger: log.With("component", "pipelines")}
	if err := p.start("pipelines", pipelines); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler(api.Options{
		Store: st, Engine: manager, Bridge: runtimeBridge, Arbiter: arb, Pipelines: pipelines, ServerID: cfg.ServerID,
		FFmpegPath: ffmpeg, FFmpegErr: ffmpegErr, Logger: log.With("component", "api"),
		CameraInputs: cameraInputs, Cameras: cameras,
	}))
	mets := metrics.New(metrics.Sources{
		Engine:         func() engine.Status { return manager.Status("127.0.0.1") },
		EngineState:    manager.State,
		Outputs:        runtimeBridge.Outputs,
		WriterCounts:   arb.Counts,
		Writers:        arb.Snapshot,
		Pipelines:      func() []pipeline.Status { return pipelineStatuses(st, pipelines) },
		CameraSessions: func() map[string]int { return cameraSessions(st, cameraInputs, cameras) },
	})
	mux.Handle("GET "+metrics.Path, mets.Handler())
	mux.Handle("/", webui.Handler())
	handler := mets.Instrument(guard.Wrap(mux), metrics.NewRoutes(Routes()...))
	server := &httpServer{Listener: ln, Handler: handler, Logger: log.With("component", "http"), Grace: shutdownGrace}
	if tlsCert != nil {
		server.TLS = tlsCert.ServerConfig()
	}
	if err := p.start("HTTP server", server); err != nil {
		return err
	}
	base := scheme + "://" + ln.Addr().String()
	log.Info("listening", "addr", base+api.Prefix, "ui", base+"/", "data_dir", cfg.DataDir, "camera_files_dir", cameraInputs.FilesDir, "server_id", cfg.ServerID)
	if cfg.Demo && cfg.Out != nil {
		printDemo(cfg.Out, manager, st, base, ffmpegErr)
	}

	select {
	case err := <-server.Failed():
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("HTTP server: %w", err)
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	p.closeAll()
	log.Info("stopped")
	return nil
}

// newGuard is the access control of every HTTP route, from the
// environment. Without API credentials, only a loopback listen address is
// accepted unless the operator opted out.
func newGuard(cfg Config) (*access.Guard, error) {
	hostname, _ := os.Hostname()
	ac := access.Config{
		APIUsername: cfg.Getenv(config.EnvAPIUsername), APIPassword: cfg.Getenv(config.EnvAPIPassword),
		APIToken:     cfg.Getenv(config.EnvAPIToken),
		SyncUsername: cfg.Getenv(config.EnvSyncUsername), SyncPassword: cfg.Getenv(config.EnvSyncPassword),
		SyncToken:    cfg.Getenv(config.EnvSyncBearerToken),
		SyncPrefix:   api.SyncPrefix,
		MachinePaths: []string{metrics.Path},
		AllowedHosts: config.AllowedHosts(cfg.Getenv),
		Hostname:     hostname,
		BodyTypes:    api.BodyTypes,
		Logger:       cfg.Logger.With("component", "access"),
	}
	if err := ac.Check(); err != nil {
		return nil, fmt.Errorf("%w (%s and %s)", err, config.EnvAPIUsername, config.EnvAPIPassword)
	}
	guard := access.New(ac)
	if !guard.AuthRequired() && !config.IsLoopbackListen(cfg.Listen) {
		if !cfg.InsecureNoAPIAuth {
			return nil, fmt.Errorf("refusing to serve the API on %s, which other machines reach, without API credentials: set %s and %s (Basic auth) or %s (Bearer token), listen on 127.0.0.1, or pass --insecure-no-api-auth to serve it open", cfg.Listen, config.EnvAPIUsername, config.EnvAPIPassword, config.EnvAPIToken)
		}
		cfg.Logger.Warn("the API and UI are open to anyone who reaches " + cfg.Listen + " (--insecure-no-api-auth): set " + config.EnvAPIUsername + " and " + config.EnvAPIPassword + " or " + config.EnvAPIToken + " to protect them")
	}
	return guard, nil
}

// newSyncer is the settings sync of a processing server (an id other than
// "local" and a core URL), or nil.
func newSyncer(cfg Config, st *store.Store) *cluster.Syncer {
	core := config.SyncCoreURL(cfg.Getenv)
	if cfg.ServerID == "" || cfg.ServerID == model.LocalHost || core == "" {
		return nil
	}
	s := &cluster.Syncer{
		Store: st, CoreURL: core, ServerID: cfg.ServerID,
		BearerToken: cfg.Getenv(config.EnvSyncBearerToken),
		Username:    cfg.Getenv(config.EnvSyncUsername), Password: cfg.Getenv(config.EnvSyncPassword),
		Interval: config.SyncSeconds(cfg.Getenv, config.EnvSyncInterval),
		Timeout:  config.SyncSeconds(cfg.Getenv, config.EnvSyncTimeout),
		Logger:   cfg.Logger.With("component", "sync"),
	}
	cfg.Logger.Info("settings sync enabled", "settings_url", s.Where(), "interval", config.SyncSeconds(cfg.Getenv, config.EnvSyncInterval))
	return s
}

// Routes are the patterns of every route the service serves: the API's,
// the guard's own, /metrics and the UI's pages and assets. They name routes
// in the request metrics.
func Routes() []string {
	routes := append(api.Routes(), access.LoginPath, access.LogoutPath, access.SessionPath, "GET "+metrics.Path, "GET /assets/")
	for _, page := range webui.AppRoutes {
		if page == "/" {
			page = "/{$}"
		}
		routes = append(routes, "GET "+page)
	}
	return routes
}

// pipelineStatuses are the stored pipelines that run here.
func pipelineStatuses(st *store.Store, host *pipeline.Host) []pipeline.Status {
	var out []pipeline.Status
	for _, p := range st.Current().Pipelines {
		if s, ok := host.Status(p.Name); ok {
			out = append(out, s)
		}
	}
	return out
}

// cameraSessions is the camera hub's open sessions (0 or 1) per stored
// RTSP camera.
func cameraSessions(st *store.Store, inputs camerainput.Policy, hub *camerahub.Hub) map[string]int {
	out := map[string]int{}
	for _, c := range st.Current().Cameras {
		if in, err := inputs.Check(c.URL); err != nil || in.Kind != camerainput.RTSP {
			continue
		}
		out[c.ID] = 0
		if hub.Status(camerahub.SourceOf(c)).Connected {
			out[c.ID] = 1
		}
	}
	return out
}
