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
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/api"
	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/cluster"
	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
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
}

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 10 * time.Second

// Run serves until ctx is cancelled, then shuts down in reverse order: the
// API stops taking requests and finishes the ones in flight, the engine and
// its publishers stop, the settings store is closed.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
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

	syncer := newSyncer(cfg, st)
	if syncer != nil {
		if err := syncer.Initialize(); err != nil {
			return err
		}
		defer syncer.Close()
		// One pull before the engine and the bridge start, so they start
		// with the core's settings; a failure is logged and the loop retries.
		syncer.SyncLogged(ctx)
	}

	runtimeDir := config.RuntimeDir(cfg.DataDir)
	manager, err := engine.NewManager(engine.ManagerOptions{
		Store:      st,
		Engine:     embedded.NewEngine(log),
		ServerID:   cfg.ServerID,
		RuntimeDir: runtimeDir,
		WebRTC: engine.WebRTCNetwork{
			AdditionalHosts: config.WebRTCAdditionalHosts(cfg.Getenv),
			LocalUDPAddress: cfg.Getenv(config.EnvWebRTCLocalUDPAddress),
			LocalTCPAddress: cfg.Getenv(config.EnvWebRTCLocalTCPAddress),
		},
		Logger: log.With("component", "engine"),
	})
	if err != nil {
		return err
	}
	ffmpeg, ffmpegErr := publisher.FindFFmpeg(cfg.Getenv)
	if ffmpegErr != nil {
		log.Warn("publishers are unavailable", "err", ffmpegErr)
	}
	arb := arbiter.New(arbiter.DefaultConfig(), nil, log.With("component", "arbiter"))
	runtimeBridge := bridge.New(bridge.Options{
		Store: st, Engine: manager, Arbiter: arb, ServerID: cfg.ServerID,
		FFmpeg: ffmpeg, FFmpegErr: ffmpegErr, LogLevel: publisher.LogLevel(cfg.Getenv),
		RuntimeDir: runtimeDir, Logger: log.With("component", "bridge"),
	})

	pipelines := &pipeline.Host{Store: st, ServerID: cfg.ServerID, Services: pipeline.StoreServices{Store: st, Arbiter: arb, Getenv: cfg.Getenv, LogDir: filepath.Join(runtimeDir, "logs")}, Logger: log.With("component", "pipelines")}
	if err := pipelines.Initialize(); err != nil {
		return err
	}
	defer pipelines.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (stop the other process or choose another --listen)", cfg.Listen, err)
	}

	runtimeCtx, stopRuntime := context.WithCancel(context.Background())
	var runtime sync.WaitGroup
	runtime.Go(func() { manager.Run(runtimeCtx) })
	runtime.Go(func() { runtimeBridge.Run(runtimeCtx) })
	runtime.Go(func() {
		testpattern.Run(runtimeCtx, testpattern.Options{
			Engine: manager, FFmpeg: ffmpeg, LogLevel: publisher.LogLevel(cfg.Getenv),
			LogDir: filepath.Join(runtimeDir, "logs"), Logger: log.With("component", "testpattern"),
		})
	})
	defer func() {
		stopRuntime()
		runtime.Wait()
	}()

	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler(api.Options{
		Store: st, Engine: manager, Bridge: runtimeBridge, Arbiter: arb, Pipelines: pipelines, ServerID: cfg.ServerID,
		FFmpegPath: ffmpeg, FFmpegErr: ffmpegErr, Logger: log.With("component", "api"),
		SyncUsername: cfg.Getenv(config.EnvSyncUsername), SyncPassword: cfg.Getenv(config.EnvSyncPassword),
	}))
	mux.Handle("/", webui.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", "http://"+ln.Addr().String()+api.Prefix, "ui", "http://"+ln.Addr().String()+"/", "data_dir", cfg.DataDir, "server_id", cfg.ServerID)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if cfg.Demo && cfg.Out != nil {
		go printDemo(cfg.Out, manager, st, ln.Addr().String())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopRuntime()
	runtime.Wait()
	log.Info("stopped")
	return nil
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
