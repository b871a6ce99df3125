// Package whep is a small WHEP (RFC 9725) client that receives one H.264
// video track with pion/webrtc. It is the one WHEP reader of this repository:
// the embedded engine's tests, the end-to-end tests and the benchmark harness
// (bench/) all use it.
//
// A session POSTs a recvonly offer (non-trickle: all ICE candidates are in
// the offer), applies the 201 answer, depacketizes the received RTP into
// H.264 access units and counts what it got. Close DELETEs the session
// resource (the Location of the 201) and closes the peer connection.
//
// What "decodable" means here: an access unit holding an IDR slice, with SPS
// and PPS seen in it or before it on this session (WHEP has no
// sprop-parameter-sets, so the parameters must come in-band). The first such
// access unit is reported by [Session.FirstIDR]; access units are recorded
// for [Session.WriteAnnexB] from it on.
//
// When the WHEP URL names a loopback host, ICE is restricted to loopback
// UDP4 candidates (pion leaves loopback out by default); otherwise pion's
// defaults apply.
package whep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// maxSDPSize bounds the answer read from the server.
const maxSDPSize = 64 << 10

// defaultHTTP never keeps idle connections: a WHEP session makes two
// requests minutes apart, and idle keep-alive goroutines only get in the way
// of leak checks.
var defaultHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// Dialer holds the options of [Dialer.Dial]; the zero value is ready to use.
type Dialer struct {
	// HTTPClient sends the POST and DELETE; nil uses a client without
	// keep-alives and a 30 s timeout.
	HTTPClient *http.Client
	// RecordAUs is how many access units, from the first decodable IDR on,
	// are kept for [Session.WriteAnnexB]. 0 keeps none.
	RecordAUs int
	// OnAccessUnit, when set, is called on the track's goroutine for every
	// access unit (NALUs without start codes; idr tells whether it holds an
	// IDR slice). It must not block for long and must not keep nalus.
	OnAccessUnit func(nalus [][]byte, idr bool)
	// OfferLF sends the offer with bare LF line endings instead of CRLF
	// (servers must accept both; tests use this).
	OfferLF bool
}

// Stats are the counters of a session.
type Stats struct {
	Packets uint64 // RTP packets received
	Bytes   uint64 // RTP payload bytes received
	Frames  uint64 // access units depacketized
	IDRs    uint64 // access units holding an IDR slice
	// Started is when Dial was called; Answered when the 201 arrived;
	// Connected when the peer connection reached "connected"; FirstPacket
	// and FirstIDR when the first RTP packet and the first decodable IDR
	// arrived (zero while not yet).
	Started, Answered, Connected, FirstPacket, FirstIDR time.Time
}

// Session is one WHEP reader. Its methods are safe for concurrent use.
type Session struct {
	pc       *webrtc.PeerConnection
	http     *http.Client
	resource string // absolute URL of the session resource
	location string // Location header as sent
	answer   string
	user     string
	pass     string
	onAU     func([][]byte, bool)
	record   int

	firstIDR  chan struct{}
	closeOnce sync.Once
	closeErr  error
	trackDone chan struct{} // closed when the track goroutine ends (or never started)
	trackOnce sync.Once

	mu        sync.Mutex
	stats     Stats
	annexB    []byte
	recorded  int
	spsSeen   bool
	ppsSeen   bool
	decodable bool
	// trackStarted is set when the video track's goroutine starts.
	trackStarted bool
}

// Dial connects a WHEP reader to whepURL (http://host:port/<path>/whep)
// with the zero [Dialer]. user and pass, when user is non-empty, are sent as
// HTTP Basic credentials on every request.
func Dial(ctx context.Context, whepURL, user, pass string) (*Session, error) {
	var d Dialer
	return d.Dial(ctx, whepURL, user, pass)
}

// HTTPError is a WHEP request answered with an unexpected status.
type HTTPError struct {
	Method string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("WHEP %s: HTTP %d %s", e.Method, e.Status, strings.TrimSpace(e.Body))
}

// Dial connects a WHEP reader; see the package-level [Dial]. It returns
// once the answer is applied; media then flows asynchronously (wait on
// [Session.FirstIDR]). On error nothing is left running.
func (d *Dialer) Dial(ctx context.Context, whepURL, user, pass string) (*Session, error) {
	started := time.Now()
	u, err := url.Parse(whepURL)
	if err != nil {
		return nil, fmt.Errorf("WHEP URL: %w", err)
	}
	pc, err := newPeerConnection(isLoopbackHost(u.Hostname()))
	if err != nil {
		return nil, err
	}
	s := &Session{
		pc: pc, http: d.HTTPClient, user: user, pass: pass, onAU: d.OnAccessUnit, record: d.RecordAUs,
		firstIDR: make(chan struct{}), trackDone: make(chan struct{}),
	}
	if s.http == nil {
		s.http = defaultHTTP
	}
	s.stats.Started = started
	fail := func(err error) (*Session, error) {
		_ = pc.Close()
		return nil, err
	}

	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			s.mu.Lock()
			if s.stats.Connected.IsZero() {
				s.stats.Connected = time.Now()
			}
			s.mu.Unlock()
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		s.mu.Lock()
		first := !s.trackStarted && tr.Kind() == webrtc.RTPCodecTypeVideo
		s.trackStarted = s.trackStarted || first
		s.mu.Unlock()
		if !first {
			return
		}
		go drainRTCP(recv)
		s.readTrack(tr)
	})

	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return fail(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	sdp := pc.LocalDescription().SDP
	if d.OfferLF {
		sdp = strings.ReplaceAll(sdp, "\r\n", "\n")
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, whepURL, strings.NewReader(sdp))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	s.auth(req)
	res, err := s.http.Do(req)
	if err != nil {
		return fail(err)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxSDPSize))
	res.Body.Close()
	if err != nil {
		return fail(err)
	}
	if res.StatusCode != http.StatusCreated {
		return fail(&HTTPError{Method: http.MethodPost, Status: res.StatusCode, Body: string(body)})
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
		return fail(fmt.Errorf("WHEP POST: answer has Content-Type %q, want application/sdp", ct))
	}
	s.location = res.Header.Get("Location")
	if s.location == "" {
		return fail(errors.New("WHEP POST: 201 without Location"))
	}
	loc, err := u.Parse(s.location)
	if err != nil {
		return fail(fmt.Errorf("WHEP POST: bad Location %q: %w", s.location, err))
	}
	s.resource = loc.String()
	s.answer = string(body)
	s.mu.Lock()
	s.stats.Answered = time.Now()
	s.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.answer}); err != nil {
		_ = s.deleteResource(context.Background())
		return fail(err)
	}
	return s, nil
}

func newPeerConnection(loopback bool) (*webrtc.PeerConnection, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{})
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// drainRTCP reads the receiver's RTCP so that the interceptors see the
// sender reports; it ends when the peer connection closes.
func drainRTCP(recv *webrtc.RTPReceiver) {
	for {
		if _, _, err := recv.ReadRTCP(); err != nil {
			return
		}
	}
}

func (s *Session) readTrack(tr *webrtc.TrackRemote) {
	defer s.trackOnce.Do(func() { close(s.trackDone) })
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return
	}
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		s.mu.Lock()
		s.stats.Packets++
		s.stats.Bytes += uint64(len(pkt.Payload))
		if s.stats.FirstPacket.IsZero() {
			s.stats.FirstPacket = now
		}
		s.mu.Unlock()
		au, err := dec.Decode(pkt)
		if err != nil || len(au) == 0 {
			continue // ErrMorePacketsNeeded, or a loss: wait for the next access unit
		}
		s.onAccessUnit(au, now)
	}
}

func (s *Session) onAccessUnit(au [][]byte, now time.Time) {
	idr := false
	s.mu.Lock()
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR:
			idr = true
		case h264.NALUTypeSPS:
			s.spsSeen = true
		case h264.NALUTypePPS:
			s.ppsSeen = true
		}
	}
	s.stats.Frames++
	if idr {
		s.stats.IDRs++
	}
	if idr && s.spsSeen && s.ppsSeen && !s.decodable {
		s.decodable = true
		s.stats.FirstIDR = now
		close(s.firstIDR)
	}
	if s.decodable && s.recorded < s.record {
		s.recorded++
		for _, n := range au {
			s.annexB = append(s.annexB, 0, 0, 0, 1)
			s.annexB = append(s.annexB, n...)
		}
	}
	s.mu.Unlock()
	if s.onAU != nil {
		s.onAU(au, idr)
	}
}

func (s *Session) auth(req *http.Request) {
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
}

// FirstIDR is closed when the first decodable IDR access unit arrived.
func (s *Session) FirstIDR() <-chan struct{} { return s.firstIDR }

// Stats returns a snapshot of the counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Answer is the SDP answer of the server.
func (s *Session) Answer() string { return s.answer }

// Location is the session resource as the server sent it (often a path).
func (s *Session) Location() string { return s.location }

// ResourceURL is the absolute URL of the session resource.
func (s *Session) ResourceURL() string { return s.resource }

// WriteAnnexB writes the recorded access units (see [Dialer.RecordAUs]) as
// an H.264 Annex-B byte stream, starting with the first decodable IDR, and
// returns how many access units it wrote.
func (s *Session) WriteAnnexB(w io.Writer) (int, error) {
	s.mu.Lock()
	data, n := append([]byte(nil), s.annexB...), s.recorded
	s.mu.Unlock()
	_, err := w.Write(data)
	return n, err
}

// Do sends a request without body to the session resource (e.g. PATCH or
// DELETE by hand) with the session's credentials and returns the status.
func (s *Session) Do(ctx context.Context, method string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.resource, nil)
	if err != nil {
		return 0, err
	}
	s.auth(req)
	res, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxSDPSize))
	res.Body.Close()
	return res.StatusCode, nil
}

func (s *Session) deleteResource(ctx context.Context) error {
	code, err := s.Do(ctx, http.MethodDelete)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return &HTTPError{Method: http.MethodDelete, Status: code}
	}
	return nil
}

// Close DELETEs the session resource (once; 5 s at most), closes the peer
// connection and waits for the track goroutine to end. It returns the error
// of the DELETE or of closing the peer connection, if any; a server that
// already ended the session answers 404, which Close reports.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = errors.Join(s.deleteResource(ctx), s.pc.Close())
		s.trackMaybeNeverStarted()
		<-s.trackDone
	})
	return s.closeErr
}

// trackMaybeNeverStarted releases Close when no track ever arrived. pion
// runs OnTrack handlers only while the connection is open, and pc.Close has
// returned by now, so a handler that has not started will not start.
func (s *Session) trackMaybeNeverStarted() {
	s.mu.Lock()
	started := s.trackStarted
	s.mu.Unlock()
	if !started {
		s.trackOnce.Do(func() { close(s.trackDone) })
	}
}
