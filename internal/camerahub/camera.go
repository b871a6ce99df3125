package camerahub

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
)

// AccessUnit is one H.264 frame of a camera, in decode order.
type AccessUnit struct {
	// PTS is the camera's presentation time on one clock for the hub's
	// life: it keeps increasing across reconnects (h264rtp.Clock).
	PTS  time.Duration
	Time time.Time // when it arrived
	// NALUs are the NAL units without start codes, AUDs removed, SPS and
	// PPS in front of every IDR. Read-only: consumers share them.
	NALUs [][]byte
	IDR   bool
}

// camera is one Source: its consumers, decoders and session. Its mutex
// guards the consumer sets and the status, never I/O; the packet path
// reads the consumers from an immutable snapshot (fan) without locking.
type camera struct {
	hub *Hub
	src Source
	log *slog.Logger

	mu       sync.Mutex
	closed   bool
	frames   map[*Frames]struct{}
	units    map[*AccessUnits]struct{}
	decoders map[[2]int]*decoder
	run      *sessionRun     // while consumers remain
	lastRun  <-chan struct{} // closed when the previous run ended
	st       liveState
	pin      []byte // SHA-256 of the rtsps certificate first accepted
	// kept: a consumer other than a probe subscribed once, so the record
	// lives as long as the hub; forgotten: forget removed it.
	kept, forgotten bool

	fan atomic.Pointer[fanout]

	// The packet path's state, used by one session at a time (runs are
	// sequential: a run starts after the previous one ended).
	params h264rtp.Params
	clock  h264rtp.Clock
}

// liveState is the reported state of a camera (under camera.mu).
type liveState struct {
	connected      bool
	width, height  int
	lastError      string
	failures       int // sessions that ended with an error
	sessionsOpened int
	lastUnit       time.Time
	windowStart    time.Time
	windowUnits    int
	windowBytes    int
	fps, kbps      float64
}

// fanout is who gets the camera's access units.
type fanout struct {
	decoders []*decoder
	units    []*AccessUnits
}

// sessionRun is the goroutine that keeps a session open while the camera
// has consumers.
type sessionRun struct {
	stop, done chan struct{}
}

func newCamera(h *Hub, src Source) *camera {
	c := &camera{hub: h, src: src, log: h.log.With("camera", src.URL),
		frames: map[*Frames]struct{}{}, units: map[*AccessUnits]struct{}{}, decoders: map[[2]int]*decoder{}}
	c.fan.Store(&fanout{})
	return c
}

func (c *camera) subscribeFrames(name string, opts FrameOptions) (*Frames, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, ErrClosed
	case c.forgotten:
		return nil, errForgotten
	}
	c.kept = c.kept || !opts.Probe
	key := [2]int{opts.Width, opts.Height}
	d := c.decoders[key]
	if d == nil {
		d = newDecoder(c, opts.Width, opts.Height)
		c.decoders[key] = d
	}
	f := &Frames{cam: c, dec: d, name: name, opts: opts, slot: make(chan Frame, 1), done: make(chan struct{}), limit: rateLimit{fps: opts.FPS}, failBase: c.st.failures}
	c.frames[f] = struct{}{}
	d.setSubscribers(c.framesOf(d))
	c.changed()
	return f, nil
}

func (c *camera) subscribeAccessUnits(name string) (*AccessUnits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, ErrClosed
	case c.forgotten:
		return nil, errForgotten
	}
	c.kept = true
	a := &AccessUnits{cam: c, name: name, queue: make(chan AccessUnit, accessUnitQueue), done: make(chan struct{})}
	a.waitIDR.Store(true)
	c.units[a] = struct{}{}
	c.changed()
	return a, nil
}

// framesOf lists d's subscribers (under c.mu).
func (c *camera) framesOf(d *decoder) []*Frames {
	var out []*Frames
	for f := range c.frames {
		if f.dec == d {
			out = append(out, f)
		}
	}
	return out
}

// changed publishes the consumers to the packet path and starts the
// session run when the first consumer came (under c.mu).
func (c *camera) changed() {
	fan := &fanout{}
	for _, d := range c.decoders {
		fan.decoders = append(fan.decoders, d)
	}
	for a := range c.units {
		fan.units = append(fan.units, a)
	}
	c.fan.Store(fan)
	if c.run == nil && len(c.frames)+len(c.units) > 0 {
		r := &sessionRun{stop: make(chan struct{}), done: make(chan struct{})}
		prev := c.lastRun
		c.run, c.lastRun = r, r.done
		go c.keepSession(r, prev)
	}
}

// unsubscribe removes a consumer (f or a); the decoder that loses its
// last consumer and the session that loses the camera's last consumer are
// closed, after the lock is released, before it returns.
func (c *camera) unsubscribe(f *Frames, a *AccessUnits) {
	c.mu.Lock()
	var idle *decoder
	if f != nil {
		delete(c.frames, f)
		subs := c.framesOf(f.dec)
		f.dec.setSubscribers(subs)
		if len(subs) == 0 && c.decoders[f.dec.key()] == f.dec {
			delete(c.decoders, f.dec.key())
			idle = f.dec
		}
	}
	if a != nil {
		delete(c.units, a)
	}
	c.changed()
	var r *sessionRun
	if c.run != nil && len(c.frames)+len(c.units) == 0 {
		r, c.run = c.run, nil
		close(r.stop)
	}
	c.mu.Unlock()
	if idle != nil {
		idle.close()
	}
	if r != nil {
		<-r.done
	}
	c.hub.forget(c)
}

// shutdown ends everything the camera runs (Hub.Close).
func (c *camera) shutdown() {
	c.mu.Lock()
	c.closed = true
	frames, units := c.frames, c.units
	decoders := c.decoders
	r := c.run
	c.frames, c.units, c.decoders, c.run = map[*Frames]struct{}{}, map[*AccessUnits]struct{}{}, map[[2]int]*decoder{}, nil
	c.fan.Store(&fanout{})
	c.mu.Unlock()
	for f := range frames {
		f.end()
	}
	for a := range units {
		a.end()
	}
	for _, d := range decoders {
		d.close()
	}
	if r != nil {
		close(r.stop)
		<-r.done
	}
}

// keepSession opens sessions until r is stopped, waiting between them
// with a backoff that doubles (up to BackoffMax) after each session that
// brought no access unit. It first waits for the previous run to end, so
// a camera never has two sessions.
func (c *camera) keepSession(r *sessionRun, prev <-chan struct{}) {
	defer close(r.done)
	if prev != nil {
		select {
		case <-prev:
		case <-r.stop:
			return
		}
	}
	backoff := c.hub.BackoffMin
	for {
		delivered, err := c.session(r)
		select {
		case <-r.stop:
			c.setDisconnected("")
			return
		default:
		}
		msg := c.explain(err)
		c.setDisconnected(msg)
		if delivered {
			backoff = c.hub.BackoffMin
		}
		c.log.Warn("camera session ended; opening it again", "err", msg, "after", backoff)
		timer := time.NewTimer(backoff)
		select {
		case <-r.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(backoff*2, c.hub.BackoffMax)
	}
}

// session runs one RTSP session until it fails or r is stopped; delivered
// reports whether any access unit came.
func (c *camera) session(r *sessionRun) (delivered bool, err error) {
	u, err := base.ParseURL(c.src.URL)
	if err != nil {
		return false, errors.New("the camera URL does not parse")
	}
	if c.src.Username != "" || c.src.Password != "" {
		u.User = url.UserPassword(c.src.Username, c.src.Password)
	}
	tcp := gortsplib.ProtocolTCP
	client := &gortsplib.Client{
		Scheme: strings.ToLower(u.Scheme), Host: u.Host, Protocol: &tcp,
		ReadTimeout: c.hub.ReadTimeout, WriteTimeout: c.hub.ReadTimeout,
		TLSConfig: c.tlsConfig(), UserAgent: "toposync-streaming",
	}
	if err := client.Start(); err != nil {
		return false, err
	}
	ended := make(chan struct{})
	defer close(ended)
	go func() { // a stop cuts whatever request is on the way
		select {
		case <-r.stop:
			client.Close()
		case <-ended:
		}
	}()
	defer client.Close()

	desc, _, err := client.Describe(u)
	if err != nil {
		return false, err
	}
	var forma *format.H264
	media := desc.FindFormat(&forma)
	if media == nil {
		return false, errors.New("the camera offers no H.264 video (only H.264 cameras are supported)")
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return false, err
	}
	if sps, pps := forma.SafeParams(); sps != nil && pps != nil {
		c.params.Normalize([][]byte{sps, pps}) // the SDP's parameter sets, until in-band ones come
	}
	if _, err := client.Setup(desc.BaseURL, media, 0, 0); err != nil {
		return false, err
	}
	var got atomic.Bool
	client.OnPacketRTP(media, forma, func(pkt *rtp.Packet) {
		pts, ok := client.PacketPTS(media, pkt)
		if !ok {
			return
		}
		nalus, err := dec.Decode(pkt)
		if err != nil {
			return // more packets needed, or a unit lost: the next one starts clean
		}
		if c.deliver(nalus, pts) {
			got.Store(true)
		}
	})
	if _, err := client.Play(nil); err != nil {
		return false, err
	}
	c.setConnected()
	c.log.Info("camera session opened")
	err = client.Wait()
	return got.Load(), err
}

// deliver hands one access unit (pts in 90 kHz ticks of this session) to
// every consumer without waiting for any. False: it was not usable
// (parameter sets still unknown).
func (c *camera) deliver(nalus [][]byte, pts int64) bool {
	au, idr, _ := c.params.Normalize(nalus)
	if len(au) == 0 || !c.params.Known() {
		return false
	}
	now := time.Now()
	unit := AccessUnit{PTS: durationOf(c.clock.Ticks(durationOf(pts))), Time: now, NALUs: au, IDR: idr}
	size := 0
	for _, n := range au {
		size += len(n)
	}
	c.mu.Lock()
	if idr {
		if w, h, ok := spsSize(c.params.SPS); ok {
			c.st.width, c.st.height = w, h
		}
	}
	c.meter(now, size)
	c.mu.Unlock()
	fan := c.fan.Load()
	for _, d := range fan.decoders {
		d.push(unit)
	}
	for _, a := range fan.units {
		a.push(unit)
	}
	return true
}

// meter updates the rates once a second (under c.mu).
func (c *camera) meter(now time.Time, size int) {
	st := &c.st
	st.lastUnit = now
	if st.windowStart.IsZero() {
		st.windowStart = now
	}
	st.windowUnits++
	st.windowBytes += size
	if d := now.Sub(st.windowStart); d >= time.Second {
		st.fps = float64(st.windowUnits) / d.Seconds()
		st.kbps = float64(st.windowBytes) * 8 / 1000 / d.Seconds()
		st.windowStart, st.windowUnits, st.windowBytes = now, 0, 0
	}
}

func (c *camera) setConnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.connected = true
	c.st.sessionsOpened++
}

// setDisconnected records a session's end (why: empty when stopped).
func (c *camera) setDisconnected(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.connected = false
	c.st.windowStart, c.st.windowUnits, c.st.windowBytes, c.st.fps, c.st.kbps = time.Time{}, 0, 0, 0, 0
	if why != "" {
		c.st.lastError = why
		c.st.failures++
	}
}

// explain turns a session's error into what the user should know and do,
// without any credential.
func (c *camera) explain(err error) string {
	if err == nil {
		return "the camera ended the session"
	}
	var bad liberrors.ErrClientBadStatusCode
	msg := err.Error()
	if errors.Is(err, io.EOF) {
		msg = "the camera closed the connection"
	}
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized:
			msg = "the camera refused the credentials (401 Unauthorized): check the camera's username and password"
		case base.StatusNotFound:
			msg = "the camera has no stream at this URL (404 Not Found): check the URL's path"
		}
	}
	return redact(msg, c.src)
}

// redact hides src's credentials in s, as given and as escaped in a URL.
func redact(s string, src Source) string {
	for _, secret := range []string{src.Password, url.QueryEscape(src.Password), url.PathEscape(src.Password)} {
		if len(secret) >= 3 { // shorter ones would hide random characters, and leak nothing by length
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

// tlsConfig is the TLS of an rtsps camera. IP cameras present
// self-signed certificates, and ffmpeg never verified them, so no CA
// check is made; instead the first certificate a camera shows is pinned
// for the life of the service and a different one later is refused, so a
// reconnect cannot be taken over (see DESIGN.md, "Camera hub").
func (c *camera) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // pinned in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the camera sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			c.mu.Lock()
			defer c.mu.Unlock()
			switch {
			case c.pin == nil:
				c.pin = sum[:]
			case !bytes.Equal(c.pin, sum[:]):
				return fmt.Errorf("the camera's TLS certificate changed since it was first seen (SHA-256 %x): restart the service to accept the new one", sum[:8])
			}
			return nil
		},
	}
}

func (c *camera) status() Status {
	c.mu.Lock()
	st := c.st
	frames := make([]*Frames, 0, len(c.frames))
	for f := range c.frames {
		frames = append(frames, f)
	}
	units := make([]*AccessUnits, 0, len(c.units))
	for a := range c.units {
		units = append(units, a)
	}
	decoders := make([]*decoder, 0, len(c.decoders))
	for _, d := range c.decoders {
		decoders = append(decoders, d)
	}
	c.mu.Unlock()

	out := Status{Connected: st.connected, Width: st.width, Height: st.height, SessionsOpened: st.sessionsOpened,
		Consumers: []ConsumerStatus{}, Decoders: []DecoderStatus{}}
	if st.connected && time.Since(st.lastUnit) < 2*time.Second {
		out.FPS, out.BitrateKbps = round1(st.fps), round1(st.kbps)
	}
	if st.lastError != "" {
		out.LastError = &st.lastError
	}
	for _, f := range frames {
		out.Consumers = append(out.Consumers, f.status())
	}
	for _, a := range units {
		out.Consumers = append(out.Consumers, a.status())
	}
	slices.SortFunc(out.Consumers, func(a, b ConsumerStatus) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range decoders {
		out.Decoders = append(out.Decoders, d.status())
	}
	slices.SortFunc(out.Decoders, func(a, b DecoderStatus) int { return a.Width*a.Height - b.Width*b.Height })
	return out
}

// problem is what a frames consumer of this camera reports while no
// frame can come: the camera's last error while it is not connected.
func (c *camera) problem() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.connected {
		return ""
	}
	return c.st.lastError
}

// failureSince is the camera's last error when a session failed after
// the failures-th one and none is connected now, else "".
func (c *camera) failureSince(failures int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.connected || c.st.failures <= failures {
		return ""
	}
	return c.st.lastError
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// durationOf converts 90 kHz ticks to a duration without overflow.
func durationOf(ticks int64) time.Duration {
	return time.Duration(ticks/h264rtp.ClockRate)*time.Second + time.Duration(ticks%h264rtp.ClockRate)*time.Second/h264rtp.ClockRate
}

// ticksOf converts a duration to 90 kHz ticks without overflow.
func ticksOf(d time.Duration) int64 {
	return int64(d/time.Second)*h264rtp.ClockRate + int64(d%time.Second)*h264rtp.ClockRate/int64(time.Second)
}

// spsSize is the picture size an SPS gives (cropping applied).
func spsSize(sps []byte) (w, h int, ok bool) {
	var s h264.SPS
	if len(sps) == 0 || s.Unmarshal(sps) != nil {
		return 0, 0, false
	}
	return s.Width(), s.Height(), s.Width() > 0 && s.Height() > 0
}
