package embedded

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

const (
	whepQueueSize      = 128
	whepPayloadMaxSize = 1200 // fits a 1500-byte MTU after SRTP/UDP/IP headers
	whepMaxOfferSize   = 64 << 10
	whepConnectTimeout = 15 * time.Second
	// The answer waits for ICE gathering to complete, but never on a STUN
	// or TURN server for long: it goes out whepServerGrace after the first
	// host candidate at the latest (see gatherAnswer). Without any host
	// candidate after whepHostTimeout the offer fails.
	whepServerGrace = 300 * time.Millisecond
	whepHostTimeout = 5 * time.Second
	h264FMTP        = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
)

// whepServer serves WHEP (RFC 9725) on the WebRTC listener:
//
//	OPTIONS /<path>/whep        CORS preflight; otherwise 204 + ICE servers (Link)
//	POST    /<path>/whep        offer in, 201 + answer + Location + ICE servers (Link)
//	PATCH   /<path>/whep/<id>   trickle ICE: accepted and ignored (204)
//	DELETE  /<path>/whep/<id>   ends the session
type whepServer struct {
	s       *Server
	api     *webrtc.API
	udpConn net.PacketConn
	udpMux  ice.UDPMux
	tcpLn   net.Listener
	tcpMux  ice.TCPMux

	mu       sync.Mutex
	sessions map[string]*whepSession
}

func newWHEPServer(s *Server) (*whepServer, error) {
	w := &whepServer{s: s, sessions: map[string]*whepSession{}}

	me := &webrtc.MediaEngine{}
	err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType:    webrtc.MimeTypeH264,
			ClockRate:   90000,
			SDPFmtpLine: h264FMTP,
			RTCPFeedback: []webrtc.RTCPFeedback{
				{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
				{Type: "nack"}, {Type: "nack", Parameter: "pli"},
			},
		},
		PayloadType: 96,
	}, webrtc.RTPCodecTypeVideo)
	if err != nil {
		return nil, fmt.Errorf("embedded engine: WebRTC codec: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("embedded engine: WebRTC interceptors: %w", err)
	}

	se := webrtc.SettingEngine{LoggerFactory: pionLogs{s.log}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}

	if a := s.cfg.WebRTCLocalUDPAddress; a != "" {
		w.udpConn, err = net.ListenPacket("udp", a)
		if err != nil {
			return nil, fmt.Errorf("embedded engine: WebRTC UDP port %s: %w (choose another WebRTC UDP address or stop the program using it)", a, err)
		}
		w.udpMux = webrtc.NewICEUDPMux(se.LoggerFactory.NewLogger("udpmux"), w.udpConn)
		se.SetICEUDPMux(w.udpMux)
	}
	if a := s.cfg.WebRTCLocalTCPAddress; a != "" {
		w.tcpLn, err = net.Listen("tcp", a)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("embedded engine: WebRTC TCP port %s: %w (choose another WebRTC TCP address or stop the program using it)", a, err)
		}
		w.tcpMux = webrtc.NewICETCPMux(se.LoggerFactory.NewLogger("tcpmux"), w.tcpLn, 8)
		se.SetICETCPMux(w.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)

	if len(s.cfg.WebRTCAdditionalHosts) > 0 {
		var ips []string
		for _, h := range s.cfg.WebRTCAdditionalHosts {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip.String())
				continue
			}
			addrs, err := net.DefaultResolver.LookupHost(context.Background(), h)
			if err != nil {
				s.log.Warn("[WebRTC] additional host not resolved, ignored", "host", h, "err", err)
				continue
			}
			ips = append(ips, addrs...)
		}
		if len(ips) > 0 {
			if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
				External:        ips,
				AsCandidateType: webrtc.ICECandidateTypeHost,
				Mode:            webrtc.ICEAddressRewriteAppend,
			}); err != nil {
				w.close()
				return nil, fmt.Errorf("embedded engine: WebRTC additional hosts %v: %w", ips, err)
			}
		}
	}

	w.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return w, nil
}

// close ends all sessions and the shared ICE ports.
func (w *whepServer) close() {
	w.mu.Lock()
	ss := make([]*whepSession, 0, len(w.sessions))
	for _, x := range w.sessions {
		ss = append(ss, x)
	}
	w.mu.Unlock()
	for _, x := range ss {
		x.close()
	}
	if w.udpMux != nil {
		_ = w.udpMux.Close()
	}
	if w.udpConn != nil {
		_ = w.udpConn.Close()
	}
	if w.tcpMux != nil {
		_ = w.tcpMux.Close()
	}
	if w.tcpLn != nil {
		_ = w.tcpLn.Close()
	}
}

// webrtcPlayer is the page a browser gets for a path on the WebRTC port.
//
//go:embed player/webrtc.html
var webrtcPlayer []byte

func (w *whepServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	setCORS(rw, "OPTIONS, POST, PATCH, DELETE")
	rest := strings.Trim(r.URL.Path, "/")
	if r.Method == http.MethodOptions {
		// A WHEP client's own OPTIONS on the endpoint (not a CORS
		// preflight) asks for the ICE servers (RFC 9725 §4.6).
		if strings.HasSuffix(rest, "/whep") && r.Header.Get("Access-Control-Request-Method") == "" {
			w.handleOptions(rw, r, cleanPathName(strings.TrimSuffix(rest, "/whep")))
			return
		}
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	switch {
	case r.Method == http.MethodGet && !strings.Contains(rest, "/whep/"):
		// A browser opening /<path>/, /<path> or the WHEP endpoint itself
		// gets the path's player (as MediaMTX serves one).
		name := cleanPathName(strings.TrimSuffix(rest, "/whep"))
		if w.authorizedPath(rw, r, name) != nil {
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			rw.Header().Set("Cache-Control", "no-cache")
			_, _ = rw.Write(webrtcPlayer)
		}
	case strings.HasSuffix(rest, "/whep"):
		if r.Method != http.MethodPost {
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.handleOffer(rw, r, cleanPathName(strings.TrimSuffix(rest, "/whep")))
	case strings.Contains(rest, "/whep/"):
		i := strings.LastIndex(rest, "/whep/")
		name, id := cleanPathName(rest[:i]), rest[i+len("/whep/"):]
		w.handleSession(rw, r, name, id)
	default:
		http.NotFound(rw, r)
	}
}

// handleOptions advertises the ICE servers to a client of a path, behind
// the same read credentials as the offer: TURN credentials are for viewers.
func (w *whepServer) handleOptions(rw http.ResponseWriter, r *http.Request, name string) {
	if w.authorizedPath(rw, r, name) == nil {
		return
	}
	setICELinks(rw.Header(), w.s.currentICEServers())
	rw.WriteHeader(http.StatusNoContent)
}

// authorizedPath is the configured path name when the request carries its
// read credentials; else it answers (404 or 401) and returns nil.
func (w *whepServer) authorizedPath(rw http.ResponseWriter, r *http.Request, name string) *path {
	p := w.s.lookup(name)
	if name == "" || p == nil {
		http.NotFound(rw, r)
		return nil
	}
	if !checkBasic(rw, r, p.config()) {
		return nil
	}
	return p
}

func (w *whepServer) handleSession(rw http.ResponseWriter, r *http.Request, name, id string) {
	p := w.authorizedPath(rw, r, name)
	if p == nil {
		return
	}
	w.mu.Lock()
	sess := w.sessions[id]
	w.mu.Unlock()
	if sess == nil || sess.p != p {
		http.NotFound(rw, r)
		return
	}
	switch r.Method {
	case http.MethodPatch:
		// Client candidates sent late are not needed: the offer has them,
		// and pion learns any other address from the checks themselves.
		rw.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		sess.close()
		rw.WriteHeader(http.StatusOK)
	default:
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (w *whepServer) handleOffer(rw http.ResponseWriter, r *http.Request, name string) {
	p := w.authorizedPath(rw, r, name)
	if p == nil {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/sdp" {
		http.Error(rw, "415 the offer must be sent with Content-Type: application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	offer, err := io.ReadAll(io.LimitReader(r.Body, whepMaxOfferSize+1))
	if err != nil || len(offer) == 0 || len(offer) > whepMaxOfferSize {
		http.Error(rw, "400 missing or oversized SDP offer", http.StatusBadRequest)
		return
	}

	// Hold until a publisher records (it need not have sent an IDR yet: the
	// session waits for that once connected, so that ICE and DTLS overlap
	// the encoder's start). From then on this request counts as a pending
	// reader until the session is registered (or fails).
	pendingHeld := false
	pub, err := p.waitStage(r.Context(), stageRecording, func() { p.pending++; pendingHeld = true })
	if err != nil {
		w.s.log.Info("[WebRTC] reader not served", "path", p.name, "reason", err.Error(), "remote", r.RemoteAddr)
		unservedHTTP(rw, err)
		return
	}
	releasePendingHTTP := func() {
		if pendingHeld {
			pendingHeld = false
			p.mu.Lock()
			p.pending--
			p.updateDemandLocked()
			p.mu.Unlock()
		}
	}
	defer releasePendingHTTP()

	servers := w.s.currentICEServers()
	sess, answer, err := w.newSession(r.Context(), p, pub, servers, string(offer))
	if err != nil {
		w.s.log.Info("[WebRTC] offer refused", "path", p.name, "err", err, "remote", r.RemoteAddr)
		if errors.Is(err, errPathNotFound) {
			http.Error(rw, "404 no stream on this path", http.StatusNotFound)
			return
		}
		if errors.Is(err, errNoHostCandidate) {
			http.Error(rw, "503 "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		http.Error(rw, "400 "+err.Error(), http.StatusBadRequest)
		return
	}
	// newSession registered the reader under p.mu; drop the pending count
	// it replaced.
	pendingHeld = false
	w.s.log.Info("[WebRTC] reader joined", "path", p.name, "id", sess.id, "remote", r.RemoteAddr)
	rw.Header().Set("Content-Type", "application/sdp")
	rw.Header().Set("Location", "/"+p.name+"/whep/"+sess.id)
	rw.Header().Set("ETag", `"`+sess.id+`"`)
	setICELinks(rw.Header(), servers)
	rw.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(rw, answer)
}

// whepSession is one WebRTC reader: a peer connection with one H.264 track,
// fed by a per-peer goroutine from its own bounded queue.
type whepSession struct {
	w     *whepServer
	p     *path
	pub   *publisher
	id    string
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP

	connected chan struct{} // closed when the peer connection is connected
	failed    chan struct{} // closed when it failed or closed
	stop      chan struct{} // closed by close
	stateOnce sync.Once
	failOnce  sync.Once
	closeOnce sync.Once
}

func (w *whepServer) newSession(ctx context.Context, p *path, pub *publisher, servers []webrtc.ICEServer, offer string) (*whepSession, string, error) {
	pc, err := w.api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, "", err
	}
	sess := &whepSession{
		w: w, p: p, pub: pub, id: uuid.NewString(), pc: pc,
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
		stop:      make(chan struct{}),
	}
	fail := func(err error) (*whepSession, string, error) {
		_ = pc.Close()
		return nil, "", err
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			sess.stateOnce.Do(func() { close(sess.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			sess.failOnce.Do(func() { close(sess.failed) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("invalid SDP offer: %w", err))
	}
	sess.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264FMTP,
	}, "video", "toposync")
	if err != nil {
		return fail(err)
	}
	sender, err := pc.AddTrack(sess.track)
	if err != nil {
		return fail(fmt.Errorf("the offer cannot receive H.264 video: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("no answer to the offer (does it offer H.264 packetization-mode=1?): %w", err))
	}
	sdp, err := gatherAnswer(ctx, pc, answer)
	if err != nil {
		return fail(err)
	}

	// register, unless the publisher changed meanwhile
	p.mu.Lock()
	if p.removed || p.pub != pub {
		p.mu.Unlock()
		return fail(errPathNotFound)
	}
	p.pending--
	p.readers[sess.id] = Reader{Type: ReaderWebRTC, ID: sess.id, Since: time.Now()}
	p.whep[sess.id] = sess
	p.updateDemandLocked()
	w.s.wg.Add(2)
	p.mu.Unlock()
	w.mu.Lock()
	w.sessions[sess.id] = sess
	w.mu.Unlock()

	go func() {
		defer w.s.wg.Done()
		sess.readRTCP(sender)
	}()
	go func() {
		defer w.s.wg.Done()
		sess.run()
	}()
	return sess, sdp, nil
}

var errNoHostCandidate = fmt.Errorf("no local ICE candidate within %v: the engine has no usable network interface for WebRTC", whepHostTimeout)

// gatherAnswer sets answer as the local description and returns it with the
// candidates gathered in time. Host candidates come at once; srflx and
// relay candidates need a STUN/TURN server, which may be slow or never
// answer (pion waits 5 s for STUN, about 8 s for a TURN allocation). So the
// answer goes out when gathering completes or whepServerGrace after the
// first host candidate, whichever is first. WHEP has no way to send server
// candidates after the answer (a trickle PATCH is answered 204 without a
// body), but a late candidate is still used: its connectivity checks reach
// the client, which learns it as peer-reflexive.
func gatherAnswer(ctx context.Context, pc *webrtc.PeerConnection, answer webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	host := make(chan struct{})
	var hostOnce sync.Once
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil && c.Typ == webrtc.ICECandidateTypeHost {
			hostOnce.Do(func() { close(host) })
		}
	})
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	hostTimer := time.NewTimer(whepHostTimeout)
	defer hostTimer.Stop()
	select {
	case <-gathered:
		return pc.LocalDescription().SDP, nil
	case <-host:
	case <-hostTimer.C:
		return "", errNoHostCandidate
	case <-ctx.Done():
		return "", ctx.Err()
	}
	grace := time.NewTimer(whepServerGrace)
	defer grace.Stop()
	select {
	case <-gathered:
	case <-grace.C:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// readRTCP drains the RTCP of the sender, so that the interceptors (NACK
// responder, reports) work. It ends when the peer connection closes.
func (sess *whepSession) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				sess.w.s.log.Debug("[WebRTC] PLI (the publisher cannot be asked for a keyframe)", "path", sess.p.name, "id", sess.id)
			}
		}
	}
}

// run waits for the connection and for the publisher's first IDR, then
// sends the cached GOP and the live access units, repacketized for WebRTC.
func (sess *whepSession) run() {
	defer sess.close()
	if !sess.await(sess.connected, whepConnectTimeout, "peer did not connect in time") {
		return
	}
	ready, ok := sess.p.reachedCh(sess.pub, stageReady)
	if !ok || !sess.await(ready, sess.w.s.currentReaderHold(), "publisher sent no IDR in time") {
		return
	}
	sub, pub := sess.p.subscribe(whepQueueSize, true)
	if sub == nil || pub != sess.pub {
		if sub != nil {
			sess.p.unsubscribe(sub)
		}
		return
	}
	defer sess.p.unsubscribe(sub)

	enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: whepPayloadMaxSize}
	if err := enc.Init(); err != nil {
		return
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tsOffset := binary.BigEndian.Uint32(b[:])
	for {
		select {
		case <-sess.stop:
			return
		case <-sess.failed:
			sess.w.s.log.Info("[WebRTC] peer connection ended", "path", sess.p.name, "id", sess.id)
			return
		case au := <-sub.ch:
			pkts, err := enc.Encode(au.nalus)
			if err != nil {
				continue
			}
			var n uint64
			for _, pkt := range pkts {
				pkt.Timestamp = tsOffset + uint32(au.pts)
				if err := sess.track.WriteRTP(pkt); err != nil {
					if errors.Is(err, io.ErrClosedPipe) {
						return
					}
				}
				n += uint64(len(pkt.Payload) + 12)
			}
			sess.p.bytesSentHTTP.Add(n)
		}
	}
}

// await waits for ch up to within; false (logging timeout when that is
// why) when the session ended or the time ran out first.
func (sess *whepSession) await(ch <-chan struct{}, within time.Duration, timeout string) bool {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		sess.w.s.log.Info("[WebRTC] "+timeout, "path", sess.p.name, "id", sess.id)
	case <-sess.failed:
	case <-sess.stop:
	}
	return false
}

// close ends the session and unregisters it. It never waits for the
// session's goroutines (they may call it).
func (sess *whepSession) close() {
	sess.closeOnce.Do(func() {
		close(sess.stop)
		_ = sess.pc.Close()
		p := sess.p
		p.mu.Lock()
		delete(p.readers, sess.id)
		delete(p.whep, sess.id)
		p.updateDemandLocked()
		p.mu.Unlock()
		sess.w.mu.Lock()
		delete(sess.w.sessions, sess.id)
		sess.w.mu.Unlock()
		sess.w.s.log.Info("[WebRTC] reader left", "path", p.name, "id", sess.id)
	})
}

// pionLogs sends pion's logs to slog: errors and warnings at Debug level
// (pion is chatty about peers that go away), the rest dropped.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (pionLogger) Debug(string)          {}
func (pionLogger) Debugf(string, ...any) {}
func (pionLogger) Info(string)           {}
func (pionLogger) Infof(string, ...any)  {}
func (l pionLogger) Warn(msg string)     { l.log.Debug("[WebRTC] " + msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.log.Debug("[WebRTC] " + fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.log.Debug("[WebRTC] " + msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.log.Debug("[WebRTC] " + fmt.Sprintf(format, args...))
}
