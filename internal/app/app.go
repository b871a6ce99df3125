// Package app wires the service together and starts and stops its parts in
// order. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/toposync/toposync-streaming/internal/api"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Config is what the service is started with.
type Config struct {
	Listen   string // API address, e.g. 127.0.0.1:8100
	DataDir  string
	ServerID string // "local", or this processing server's id
	Logger   *slog.Logger
}

// shutdownGrace is how long in-flight requests get to finish on shutdown.
const shutdownGrace = 10 * time.Second

// Run serves until ctx is cancelled, then shuts down cleanly: in-flight
// requests finish, the settings store is closed. ready, when not nil, is
// called with the API address once it accepts connections.
func Run(ctx context.Context, cfg Config, ready func(addr net.Addr)) error {
	log := cfg.Logger
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("settings loaded", "file", st.Path(), "revision", st.Current().Revision, "transmissions", len(st.Current().Streams.Transmissions))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (stop the other process or choose another --listen)", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           api.Handler(api.Options{Store: st, ServerID: cfg.ServerID, Logger: log.With("component", "api")}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", "http://"+ln.Addr().String()+api.Prefix, "data_dir", cfg.DataDir, "server_id", cfg.ServerID)
	if ready != nil {
		ready(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
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
	log.Info("stopped")
	return nil
}
