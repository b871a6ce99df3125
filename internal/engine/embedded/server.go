package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/pion/webrtc/v4"
	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
)

// PathConfig is one path the server accepts publishers and readers on.
type PathConfig struct {
	// Name of the path, without leading or trailing slash ("cam1", "site/cam1").
	Name string
	// ReadUser and ReadPass, when both are non-empty, are required from every
	// reader (RTSP Basic/Digest, HTTP Basic for HLS and WHEP). Otherwise
	// reading is open.
	ReadUser, ReadPass string
	// PublishUser and PublishPass are required from the RTSP publisher (Basic
	// or Digest). When both are empty any loopback client may publish.
	// Publishing is accepted only from a loopback address in any case.
	PublishUser, PublishPass string
}

func (c PathConfig) readAuth() bool { return c.ReadUser != "" && c.ReadPass != "" }

// Config configures a [Server]. Zero durations take the documented defaults.
type Config struct {
	// BindHost is the address the RTSP, HLS and WHEP listeners bind to:
	// "127.0.0.1" (this machine only) or "0.0.0.0" (all interfaces).
	// Empty means "127.0.0.1".
	BindHost string
	// RTSPPort, HLSPort and WebRTCPort are the TCP ports of the listeners;
	// 0 picks a free port (see [Server.Addrs]).
	RTSPPort, HLSPort, WebRTCPort int
	// RTSPUDPRTPAddress and RTSPUDPRTCPAddress ("host:port"), when both set,
	// enable the RTSP UDP transport; the RTP port must be even and the RTCP
	// port the next one. Empty: RTSP over TCP only (UDP SETUPs get 461 and
	// clients such as ffmpeg fall back to TCP).
	RTSPUDPRTPAddress, RTSPUDPRTCPAddress string
	// TLS, when set, makes the RTSP listener speak RTSPS only (over UDP
	// then only SRTP) and the HLS and WHEP listeners HTTPS only.
	TLS *tls.Config

	// ReaderHoldTimeout is how long a reader of a configured path without a
	// publisher is held waiting for the first keyframe before it gets 404.
	// Default 10s.
	ReaderHoldTimeout time.Duration
	// HLSVariant is how HLS is served (mpegts when empty); see
	// [Server.SetHLSVariant].
	HLSVariant model.HLSVariant
	// HLSLinger is how long an HLS client, identified by (IP, User-Agent),
	// still counts as a reader after its last request. Default 10s.
	HLSLinger time.Duration
	// HLSMuxerCloseAfter is how long an HLS muxer lives without requests
	// before it is closed. Default 60s.
	HLSMuxerCloseAfter time.Duration

	// ICEServers are STUN/TURN URLs passed to every WHEP peer
	// ("stun:host:port"; TURN credentials as "turn:user:pass@host:port").
	ICEServers []string
	// WebRTCAdditionalHosts are IPs (or host names, resolved once in New)
	// announced as extra host candidates, for clients behind NAT or docker.
	WebRTCAdditionalHosts []string
	// WebRTCLocalUDPAddress ("host:port"), when set, serves all WHEP peers
	// over this single UDP port. Empty: one ephemeral UDP port per peer.
	WebRTCLocalUDPAddress string
	// WebRTCLocalTCPAddress ("host:port"), when set, also offers ICE-TCP
	// candidates on this port, for networks that block UDP.
	WebRTCLocalTCPAddress string

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

const (
	defaultReaderHoldTimeout  = 10 * time.Second
	defaultHLSLinger          = 10 * time.Second
	defaultHLSMuxerCloseAfter = 60 * time.Second
)

// Reader types, as MediaMTX names them in /v3/paths/list.
const (
	ReaderRTSP   = "rtspSession"
	ReaderHLS    = "hlsSession"
	ReaderWebRTC = "webRTCSession"
)

// Reader is one reader of a path.
type Reader struct {
	Type  string // ReaderRTSP, ReaderHLS or ReaderWebRTC
	ID    string
	Since time.Time
}

// Source describes the publisher of a path.
type Source struct {
	Type  string // SourceRTSP or SourceInProcess
	ID    string
	Since time.Time
}

// PathInfo is the state of one configured path.
type PathInfo struct {
	Name string
	// Ready is true when the path has a publisher whose SPS/PPS and first
	// keyframe have been received; readers are served only then.
	Ready     bool
	ReadyTime time.Time
	Source    *Source // nil without publisher
	Tracks    []TrackInfo
	Readers   []Reader
	// BytesReceived counts bytes from publishers, BytesSent bytes to readers
	// (all protocols), both since the path was configured.
	BytesReceived uint64
	BytesSent     uint64
	// ReaderDrops counts access units (HLS, WHEP) and RTSP write errors a
	// slow reader had to skip.
	ReaderDrops uint64
}

// DemandEvent reports that a configured path gained its first reader
// (Demanded true) or lost its last one (false). Readers held waiting for a
// publisher count, and so do RTSP clients between DESCRIBE and PLAY and HLS
// clients during HLSLinger; a publisher alone does not. Removing a demanded
// path reports false.
type DemandEvent = engine.DemandEvent

// Server is the embedded media server: set Config, then Initialize; all
// methods are safe for concurrent use.
type Server struct {
	// Config is set before Initialize.
	Config Config

	cfg        Config // Config with defaults
	log        *slog.Logger
	iceServers atomic.Pointer[[]webrtc.ICEServer]
	readerHold atomic.Int64 // time.Duration
	hlsVariant atomic.Int64 // gohlslib.MuxerVariant of new muxers

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.RWMutex
	paths map[string]*path

	rtsp       *gortsplib.Server
	hlsHTTP    *http.Server
	hlsLn      net.Listener
	webrtcHTTP *http.Server
	webrtcLn   net.Listener
	whep       *whepServer

	demand *engine.DemandQueue

	closeOnce sync.Once
}

// Initialize starts the RTSP, HLS and WHEP listeners. No path is
// configured until [Server.SetPaths] is called. On error nothing is left
// listening.
func (s *Server) Initialize() error {
	cfg := s.Config
	if cfg.BindHost == "" {
		cfg.BindHost = "127.0.0.1"
	}
	if cfg.ReaderHoldTimeout <= 0 {
		cfg.ReaderHoldTimeout = defaultReaderHoldTimeout
	}
	if cfg.HLSLinger <= 0 {
		cfg.HLSLinger = defaultHLSLinger
	}
	if cfg.HLSMuxerCloseAfter <= 0 {
		cfg.HLSMuxerCloseAfter = defaultHLSMuxerCloseAfter
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.cfg = cfg
	s.log = logger.With("component", "engine.embedded")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.paths = map[string]*path{}
	s.demand = engine.NewDemandQueue()
	s.SetICEServers(cfg.ICEServers)
	s.SetReaderHold(cfg.ReaderHoldTimeout)
	s.hlsVariant.Store(int64(muxerVariant(cfg.HLSVariant)))

	if err := s.start(); err != nil {
		s.Close()
		return err
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.demand.Run(s.ctx) }()
	go func() { defer s.wg.Done(); s.janitor() }()
	return nil
}

// SetICEServers changes the STUN/TURN servers handed to new WHEP sessions;
// sessions that run keep theirs.
func (s *Server) SetICEServers(urls []string) {
	servers := parseICEServers(urls, s.log)
	s.iceServers.Store(&servers)
}

func (s *Server) currentICEServers() []webrtc.ICEServer { return *s.iceServers.Load() }

// RefuseReaders refuses the readers held on a path now, saying why in the
// log (see engine.Engine.RefuseReaders).
func (s *Server) RefuseReaders(name, reason string) {
	p := s.lookup(cleanPathName(name))
	if p == nil {
		return
	}
	if n := p.refuse(reason); n > 0 {
		s.log.Warn("held readers refused: the stream cannot start", "path", p.name, "readers", n, "reason", reason)
	}
}

// SetReaderHold changes how long new readers of a path without a publisher
// are held (0: the default).
func (s *Server) SetReaderHold(d time.Duration) {
	if d <= 0 {
		d = defaultReaderHoldTimeout
	}
	s.readerHold.Store(int64(d))
}

func (s *Server) currentReaderHold() time.Duration { return time.Duration(s.readerHold.Load()) }

func (s *Server) start() error {
	host := s.cfg.BindHost
	s.rtsp = &gortsplib.Server{
		Handler:        &rtspHandler{s: s},
		RTSPAddress:    net.JoinHostPort(host, strconv.Itoa(s.cfg.RTSPPort)),
		UDPRTPAddress:  s.cfg.RTSPUDPRTPAddress,
		UDPRTCPAddress: s.cfg.RTSPUDPRTCPAddress,
		TLSConfig:      s.cfg.TLS,
		WriteQueueSize: rtspWriteQueueSize,
	}
	if err := s.rtsp.Start(); err != nil {
		s.rtsp = nil
		return fmt.Errorf("embedded engine: RTSP listener on %s:%d: %w (choose another RTSP port or stop the program using it)", host, s.cfg.RTSPPort, err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.cfg.HLSPort)))
	if err != nil {
		return fmt.Errorf("embedded engine: HLS listener on %s:%d: %w (choose another HLS port or stop the program using it)", host, s.cfg.HLSPort, err)
	}
	s.hlsLn = ln
	s.hlsHTTP = &http.Server{Handler: &hlsHandler{s: s}, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.httpTLS(), ErrorLog: s.httpErrorLog()}

	w, err := newWHEPServer(s)
	if err != nil {
		return err
	}
	s.whep = w
	ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.cfg.WebRTCPort)))
	if err != nil {
		return fmt.Errorf("embedded engine: WebRTC listener on %s:%d: %w (choose another WebRTC port or stop the program using it)", host, s.cfg.WebRTCPort, err)
	}
	s.webrtcLn = ln
	s.webrtcHTTP = &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.httpTLS(), ErrorLog: s.httpErrorLog()}

	for _, srv := range []struct {
		h  *http.Server
		ln net.Listener
	}{{s.hlsHTTP, s.hlsLn}, {s.webrtcHTTP, s.webrtcLn}} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serve := srv.h.Serve
			if srv.h.TLSConfig != nil {
				serve = func(ln net.Listener) error { return srv.h.ServeTLS(ln, "", "") } // the certificate is in TLSConfig
			}
			if err := serve(srv.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP listener stopped", "addr", srv.ln.Addr().String(), "err", err)
			}
		}()
	}
	s.log.Info("listening", "rtsp", s.rtsp.NetListener().Addr().String(),
		"hls", s.hlsLn.Addr().String(), "webrtc", s.webrtcLn.Addr().String(), "tls", s.cfg.TLS != nil)
	return nil
}

// httpErrorLog puts what an HTTP server reports (a TLS handshake a client
// refused, say) into the engine's log.
func (s *Server) httpErrorLog() *log.Logger {
	return slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
}

// httpTLS is a copy of Config.TLS for one HTTP server (each adds its
// protocols to it), or nil.
func (s *Server) httpTLS() *tls.Config {
	if s.cfg.TLS == nil {
		return nil
	}
	return s.cfg.TLS.Clone()
}

// Addrs returns the actual "host:port" of the RTSP, HLS and WHEP listeners
// (with BindHost "0.0.0.0" the host is the unspecified address).
func (s *Server) Addrs() (rtsp, hls, webrtc string) {
	if s.rtsp != nil {
		rtsp = s.rtsp.NetListener().Addr().String()
	}
	if s.hlsLn != nil {
		hls = s.hlsLn.Addr().String()
	}
	if s.webrtcLn != nil {
		webrtc = s.webrtcLn.Addr().String()
	}
	return rtsp, hls, webrtc
}

// Close stops all listeners, disconnects every publisher and reader, closes
// the Demand channel and waits for every goroutine of the server to end.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel() // releases held readers

		s.mu.Lock()
		paths := s.paths
		s.paths = map[string]*path{}
		s.mu.Unlock()
		for _, p := range paths {
			p.remove()
		}

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, h := range []*http.Server{s.hlsHTTP, s.webrtcHTTP} {
			if h != nil {
				if err := h.Shutdown(ctx); err != nil {
					_ = h.Close()
				}
			}
		}
		for _, ln := range []net.Listener{s.hlsLn, s.webrtcLn} {
			if ln != nil {
				_ = ln.Close() // when Serve never ran
			}
		}
		if s.rtsp != nil {
			s.rtsp.Close()
		}
		if s.whep != nil {
			s.whep.close()
		}
		s.wg.Wait()
		s.demand.Close()
	})
}

// SetPaths replaces the set of configured paths. Paths that stay (same name)
// keep their publisher and readers; new credentials apply to new requests.
// Removed paths close their publisher and readers. Paths of other names are
// never disturbed.
func (s *Server) SetPaths(paths []PathConfig) {
	want := make(map[string]PathConfig, len(paths))
	for _, pc := range paths {
		pc.Name = cleanPathName(pc.Name)
		if pc.Name != "" {
			want[pc.Name] = pc
		}
	}
	var removed []*path
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	for name, p := range s.paths {
		if _, ok := want[name]; !ok {
			removed = append(removed, p)
			delete(s.paths, name)
		}
	}
	for name, pc := range want {
		if p, ok := s.paths[name]; ok {
			p.setConf(pc)
		} else {
			s.paths[name] = newPath(s, pc)
		}
	}
	s.mu.Unlock()
	for _, p := range removed {
		s.log.Info("path removed", "path", p.name)
		p.remove()
	}
}

// Readers returns the current readers of a path, oldest first (nil for an
// unknown path). Held readers waiting for a publisher are not listed.
func (s *Server) Readers(name string) []Reader {
	p := s.lookup(cleanPathName(name))
	if p == nil {
		return nil
	}
	return p.readersList(time.Now())
}

// Paths returns the state of every configured path, sorted by name.
func (s *Server) Paths() []PathInfo {
	s.mu.RLock()
	ps := make([]*path, 0, len(s.paths))
	for _, p := range s.paths {
		ps = append(ps, p)
	}
	s.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	out := make([]PathInfo, 0, len(ps))
	now := time.Now()
	for _, p := range ps {
		out = append(out, p.info(now))
	}
	return out
}

// Demand returns the channel of demand events. There is one channel per
// Server; events are coalesced per path (a consumer that falls behind gets
// the latest state of each path, never a stale one) and sending never blocks
// the media path. The channel is closed by Close.
func (s *Server) Demand() <-chan DemandEvent { return s.demand.Out() }

func (s *Server) lookup(name string) *path {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.paths[name]
}

// janitor expires lingering HLS clients and idle HLS muxers.
func (s *Server) janitor() {
	period := min(s.cfg.HLSLinger/4, time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.RLock()
			ps := make([]*path, 0, len(s.paths))
			for _, p := range s.paths {
				ps = append(ps, p)
			}
			s.mu.RUnlock()
			for _, p := range ps {
				p.expire(now)
			}
		}
	}
}
