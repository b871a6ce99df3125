package embedded

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Engine is one instance of the embedded engine as the service's
// engine.Engine: a Server plus the loopback-only MediaMTX-shaped API on the
// api port (plain HTTP, with TLS on too).
type Engine struct {
	Config engine.RunConfig
	Logger *slog.Logger

	srv *Server
	api *http.Server
	ln  net.Listener
	// served is closed when the API's Serve returned.
	served chan struct{}
}

// Kind is the embedded engine kind: nothing to install, nothing on disk.
type Kind struct{ Logger *slog.Logger }

// New makes an embedded engine for cfg.
func (k Kind) New(cfg engine.RunConfig) engine.Engine { return &Engine{Config: cfg, Logger: k.Logger} }

// Install does nothing: the engine is part of this binary.
func (Kind) Install(context.Context) error { return nil }

// Describe reports the platform; the engine has no binary or config file.
func (Kind) Describe() engine.KindInfo {
	return engine.KindInfo{Platform: engine.PlatformKey(runtime.GOOS, runtime.GOARCH), Download: engine.Download{Total: -1}}
}

// Initialize listens on the config's ports and serves its paths.
func (e *Engine) Initialize() error {
	cfg := e.Config
	c := Config{
		BindHost:              cfg.BindHost,
		RTSPPort:              cfg.Ports.RTSP,
		HLSPort:               cfg.Ports.HLS,
		WebRTCPort:            cfg.Ports.WebRTC,
		ReaderHoldTimeout:     cfg.ReaderHoldTimeout,
		HLSVariant:            cfg.HLSVariant,
		ICEServers:            cfg.ICEServers,
		WebRTCAdditionalHosts: cfg.WebRTCAdditionalHosts,
		WebRTCLocalUDPAddress: cfg.WebRTCLocalUDPAddress,
		WebRTCLocalTCPAddress: cfg.WebRTCLocalTCPAddress,
		Logger:                e.Logger,
	}
	if cfg.TLS != nil {
		c.TLS = cfg.TLS.ServerConfig()
	}
	if cfg.Ports.RTP > 0 {
		c.RTSPUDPRTPAddress = net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.Ports.RTP))
		c.RTSPUDPRTCPAddress = net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.Ports.RTP+1))
	}
	srv := &Server{Config: c}
	if err := srv.Initialize(); err != nil {
		return err
	}
	srv.SetPaths(pathConfigs(cfg.Paths))

	// The API answers loopback only, whatever the bind host.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Ports.API)))
	if err != nil {
		srv.Close()
		return err
	}
	e.srv, e.ln, e.served = srv, ln, make(chan struct{})
	e.api = &http.Server{Handler: apiHandler(srv), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(e.served)
		_ = e.api.Serve(ln)
	}()
	return nil
}

// Close ends every session and listener.
func (e *Engine) Close() {
	_ = e.api.Close()
	<-e.served
	e.srv.Close()
}

// SetPaths replaces the served paths; sessions of paths that stay go on.
func (e *Engine) SetPaths(paths []engine.Path) { e.srv.SetPaths(pathConfigs(paths)) }

// SetICEServers changes the ICE servers of new WHEP sessions.
func (e *Engine) SetICEServers(urls []string) { e.srv.SetICEServers(urls) }

// SetReaderHold changes how long new readers of an idle path are held.
func (e *Engine) SetReaderHold(d time.Duration) { e.srv.SetReaderHold(d) }

// SetHLSVariant changes how HLS is served; HLS players reload.
func (e *Engine) SetHLSVariant(v model.HLSVariant) { e.srv.SetHLSVariant(v) }

// Readers lists the viewers of one path.
func (e *Engine) Readers(path string) []engine.Reader {
	var out []engine.Reader
	for _, r := range e.srv.Readers(path) {
		out = append(out, engine.Reader{Type: r.Type, ID: r.ID, Since: r.Since})
	}
	return out
}

// RefuseReaders refuses the readers held on path (see engine.Engine).
func (e *Engine) RefuseReaders(path, reason string) { e.srv.RefuseReaders(path, reason) }

// Demand delivers demand changes until Close.
func (e *Engine) Demand() <-chan engine.DemandEvent { return e.srv.Demand() }

// PID is this process: the engine runs inside it.
func (e *Engine) PID() int { return os.Getpid() }

// LogPath is empty: the embedded engine logs into the service's log.
func (e *Engine) LogPath() string { return "" }

func pathConfigs(paths []engine.Path) []PathConfig {
	out := make([]PathConfig, len(paths))
	for i, p := range paths {
		out[i] = PathConfig{Name: p.Name, ReadUser: p.ReadUser, ReadPass: p.ReadPass, PublishUser: p.PublishUser, PublishPass: p.PublishPass}
	}
	return out
}
