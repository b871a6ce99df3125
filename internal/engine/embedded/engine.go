package embedded

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
)

// Engine runs a Server as the service's engine.Engine: a fresh Server per
// Start, plus the loopback-only MediaMTX-shaped API on the api port. Its
// demand channel outlives restarts.
type Engine struct {
	log    *slog.Logger
	demand chan engine.DemandEvent

	mu      sync.Mutex
	srv     *Server
	api     *http.Server
	stopFwd chan struct{}
	fwdDone chan struct{}
}

// NewEngine returns a stopped engine.
func NewEngine(log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{log: log, demand: make(chan engine.DemandEvent, 64)}
}

// Start listens on cfg's ports and serves cfg's paths.
func (e *Engine) Start(cfg engine.RunConfig) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		return errors.New("embedded engine already running")
	}
	c := Config{
		BindHost:              cfg.BindHost,
		RTSPPort:              cfg.Ports.RTSP,
		HLSPort:               cfg.Ports.HLS,
		WebRTCPort:            cfg.Ports.WebRTC,
		ReaderHoldTimeout:     cfg.ReaderHoldTimeout,
		ICEServers:            cfg.ICEServers,
		WebRTCAdditionalHosts: cfg.WebRTCAdditionalHosts,
		WebRTCLocalUDPAddress: cfg.WebRTCLocalUDPAddress,
		WebRTCLocalTCPAddress: cfg.WebRTCLocalTCPAddress,
		Logger:                e.log,
	}
	if cfg.RTPPort > 0 {
		c.RTSPUDPRTPAddress = net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.RTPPort))
		c.RTSPUDPRTCPAddress = net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.RTPPort+1))
	}
	srv, err := New(c)
	if err != nil {
		return err
	}
	srv.SetPaths(pathConfigs(cfg.Paths))

	// The API answers loopback only, whatever the bind host.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Ports.API)))
	if err != nil {
		_ = srv.Close()
		return err
	}
	api := &http.Server{Handler: apiHandler(srv), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = api.Serve(ln) }()

	e.srv, e.api = srv, api
	e.stopFwd, e.fwdDone = make(chan struct{}), make(chan struct{})
	go e.forwardDemand(srv, e.stopFwd, e.fwdDone)
	return nil
}

func (e *Engine) forwardDemand(srv *Server, stop, done chan struct{}) {
	defer close(done)
	for ev := range srv.Demand() {
		select {
		case e.demand <- engine.DemandEvent{Path: ev.Path, Demanded: ev.Demanded}:
		case <-stop:
			return
		}
	}
}

// Stop closes every session and listener.
func (e *Engine) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return nil
	}
	close(e.stopFwd)
	err := errors.Join(e.api.Close(), e.srv.Close())
	<-e.fwdDone
	e.srv, e.api = nil, nil
	return err
}

// SetPaths replaces the served paths; sessions of paths that stay go on.
func (e *Engine) SetPaths(paths []engine.Path) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		e.srv.SetPaths(pathConfigs(paths))
	}
}

// Readers lists the viewers of one path.
func (e *Engine) Readers(path string) []engine.Reader {
	e.mu.Lock()
	srv := e.srv
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	var out []engine.Reader
	for _, r := range srv.Readers(path) {
		out = append(out, engine.Reader{Type: r.Type, ID: r.ID, Since: r.Since})
	}
	return out
}

// Demand delivers demand changes across restarts.
func (e *Engine) Demand() <-chan engine.DemandEvent { return e.demand }

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
