package app

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/toposync/toposync-streaming/internal/reqbody"
)

// idleConnTimeout closes kept-alive connections that send no request.
const idleConnTimeout = 2 * time.Minute

// httpServer serves the API and the UI on a listener that is already open:
// HTTPS only when TLS is set, plain HTTP otherwise.
type httpServer struct {
	Listener net.Listener
	Handler  http.Handler
	TLS      *tls.Config // with the certificate
	Logger   *slog.Logger
	// Grace is how long requests in flight get to finish on Close.
	Grace time.Duration
	// BodyIdle is how long a request body may send nothing before it is
	// cut (reqbody.DefaultIdle when 0).
	BodyIdle time.Duration

	srv        *http.Server
	cancelBase context.CancelFunc
	served     chan error
}

// Initialize starts serving.
func (h *httpServer) Initialize() error {
	base, cancel := context.WithCancel(context.Background())
	h.cancelBase = cancel
	h.srv = &http.Server{
		// Bodies that stall are cut, and all of them when Close cancels
		// the base context, so neither uploads nor shutdown wait on them.
		Handler:           reqbody.Handler(h.Handler, h.BodyIdle),
		ReadHeaderTimeout: 10 * time.Second,
		// A kept-alive connection with no request is closed after this.
		IdleTimeout: idleConnTimeout,
		ErrorLog:    slog.NewLogLogger(h.Logger.Handler(), slog.LevelWarn),
		// Long requests watch their context: Close cancels it, so they
		// end instead of holding shutdown.
		BaseContext: func(net.Listener) context.Context { return base },
		TLSConfig:   h.TLS,
	}
	h.served = make(chan error, 1)
	if h.TLS != nil {
		go func() { h.served <- h.srv.ServeTLS(h.Listener, "", "") }() // the certificate is in TLSConfig
	} else {
		go func() { h.served <- h.srv.Serve(h.Listener) }()
	}
	return nil
}

// Failed delivers an error when serving stops on its own.
func (h *httpServer) Failed() <-chan error { return h.served }

// Close stops taking requests, tells long ones to end, and waits up to
// Grace for those in flight.
func (h *httpServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), h.Grace)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- h.srv.Shutdown(ctx) }()
	h.cancelBase()
	if err := <-shutdown; err != nil {
		h.Logger.Warn("requests still running at shutdown were cut", "err", err)
		_ = h.srv.Close()
	}
	if err := <-h.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		h.Logger.Warn("HTTP server", "err", err)
	}
}
