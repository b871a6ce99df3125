package mediamtx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
)

// Publishing into MediaMTX.
//
// A sink is an RTSP publish session (TCP, ANNOUNCE/RECORD) that the
// service holds to rtsp://127.0.0.1:<rtsp port>/<path>, with the path's
// publish credentials in memory only. One goroutine (run) owns the session
// and the stream's state; WriteAccessUnit only queues. The session is made
// once the parameter sets are known (so the SDP carries them), and made
// again, with backoff, when MediaMTX ends it (a MediaMTX restarted by its
// supervisor, a path re-added); after each (re)connection the stream
// resumes at an IDR. Packets carry at most h264rtp.PayloadMaxSize bytes, so
// MediaMTX forwards them as they are. While no access unit comes (an
// encoder restarting) the session stays: gortsplib sends no RTSP keepalive
// while recording over TCP, but an RTCP sender report every 10 s, which is
// within MediaMTX's readTimeout (10 s from the last packet it read).

// Timing and sizes of a sink.
const (
	sinkQueue       = 128 // access units waiting for run (4 s at 30 fps)
	sinkWriteQueue  = 1024
	sinkRTSPTimeout = 5 * time.Second // for each RTSP answer and write
	sinkBackoffMin  = 250 * time.Millisecond
	sinkBackoffMax  = 5 * time.Second
)

// queuedAU is an access unit on its way to run (a copy of the caller's).
type queuedAU struct {
	pts   time.Duration
	nalus [][]byte
}

// sink publishes one path into MediaMTX (see engine.VideoSink).
type sink struct {
	set  *sinkSet
	path string
	url  *base.URL   // with the publish credentials: never log it
	tls  *tls.Config // RTSPS when MediaMTX serves TLS; nil: plain RTSP
	log  *slog.Logger

	aus      chan queuedAU
	dropping atomic.Bool // the queue was full: drop until an IDR (the writers' side)
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	done     chan struct{}

	// owned by run
	params     h264rtp.Params
	clock      h264rtp.Clock
	pack       *h264rtp.Packetizer
	conn       *sinkConn       // the recording session, nil without one
	connecting bool            // a connect goroutine runs
	connected  chan connResult // its result
	retry      *time.Timer     // armed while waiting to reconnect
	retrying   bool            // retry is armed
	delay      time.Duration   // the last backoff
	resync     bool            // drop until the next IDR
	failures   int             // connects failed in a row, for the log
}

// sinkConn is one recording RTSP session.
type sinkConn struct {
	c     *gortsplib.Client
	media *description.Media
	since time.Time
	died  chan error // the client's end
}

type connResult struct {
	conn *sinkConn
	err  error
}

// OpenSink makes the service the publisher of path: an RTSP session to
// MediaMTX with the path's publish credentials. A sink opened before on the
// path is closed first.
func (e *Engine) OpenSink(path string) (engine.VideoSink, error) {
	paths := e.snapshot().paths
	i := slices.IndexFunc(paths, func(p engine.Path) bool { return p.Name == path })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownPath, path)
	}
	p := paths[i]
	pack, err := h264rtp.NewPacketizer()
	if err != nil {
		return nil, err
	}
	scheme, tlsConfig := "rtsp", (*tls.Config)(nil)
	if c := e.Config.TLS; c != nil {
		// With TLS, MediaMTX's RTSP port speaks RTSPS only (rtspEncryption
		// strict).
		scheme, tlsConfig = "rtsps", pinned(c.Certificate.Leaf)
	}
	k := &sink{
		set:  &e.sinks,
		path: path,
		url: &base.URL{Scheme: scheme, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Config.Ports.RTSP)),
			Path: "/" + path, User: url.UserPassword(p.PublishUser, p.PublishPass)},
		tls:       tlsConfig,
		log:       e.log.With("path", path),
		aus:       make(chan queuedAU, sinkQueue),
		done:      make(chan struct{}),
		pack:      pack,
		connected: make(chan connResult, 1),
		retry:     time.NewTimer(time.Hour),
		resync:    true,
	}
	k.retry.Stop()
	k.ctx, k.cancel = context.WithCancel(context.Background())
	if err := e.sinks.add(k); err != nil {
		k.cancel()
		return nil, err
	}
	go k.run()
	return k, nil
}

// WriteAccessUnit queues one access unit for the session (see
// engine.VideoSink). A full queue drops it, and what follows up to the next
// IDR, so that the queue never holds a stream with a hole.
func (k *sink) WriteAccessUnit(pts time.Duration, au [][]byte) error {
	if k.ctx.Err() != nil {
		return engine.ErrSinkClosed
	}
	if k.dropping.Load() && !slices.ContainsFunc(au, func(n []byte) bool { return h264rtp.NALUType(n) == h264.NALUTypeIDR }) {
		return nil
	}
	nalus := make([][]byte, len(au))
	for i, n := range au {
		nalus[i] = slices.Clone(n)
	}
	select {
	case k.aus <- queuedAU{pts: pts, nalus: nalus}:
		k.dropping.Store(false)
	default:
		if !k.dropping.Swap(true) {
			k.log.Debug("the publish queue is full; dropping until the next IDR")
		}
	}
	return nil
}

// Close ends the session (MediaMTX disconnects the path's readers) and
// waits for the sink's goroutines.
func (k *sink) Close() {
	k.cancel()
	<-k.done
	k.set.remove(k)
}

func (k *sink) run() {
	defer close(k.done)
	defer k.retry.Stop()
	for {
		select {
		case q := <-k.aus:
			k.write(q)
		case r := <-k.connected:
			k.onConnected(r)
		case err := <-k.diedCh():
			k.onDied(err)
		case <-k.retry.C:
			k.retrying = false
		case <-k.ctx.Done():
			if k.conn != nil {
				k.conn.c.Close()
			}
			if k.connecting { // aborted by ctx, or done just before: close what it made
				if r := <-k.connected; r.conn != nil {
					r.conn.c.Close()
				}
			}
			k.wg.Wait() // the client waiters
			return
		}
		k.maybeConnect()
	}
}

// diedCh is the end of the current session, nil without one.
func (k *sink) diedCh() <-chan error {
	if k.conn == nil {
		return nil
	}
	return k.conn.died
}

// write sends one access unit if a session records and the stream can
// go on with it (an IDR after a gap).
func (k *sink) write(q queuedAU) {
	ticks := k.clock.Ticks(q.pts)
	nalus, idr, _ := k.params.Normalize(q.nalus)
	if k.conn == nil || len(nalus) == 0 {
		k.resync = true
		return
	}
	if k.resync {
		if !idr || !k.params.Known() {
			return
		}
		k.resync = false
	}
	pkts, err := k.pack.Packetize(ticks, nalus)
	if err != nil {
		return // rtph264 refuses only empty units
	}
	now := time.Now()
	for _, pkt := range pkts {
		if err := k.conn.c.WritePacketRTPWithNTP(k.conn.media, pkt, now); err != nil {
			k.log.Debug("access unit dropped; resuming at the next IDR", "err", err)
			k.resync = true
			return
		}
	}
}

// maybeConnect starts a connect when the sink has no session, knows its
// parameter sets and is not backing off.
func (k *sink) maybeConnect() {
	if k.conn != nil || k.connecting || k.retrying || !k.params.Known() || k.ctx.Err() != nil {
		return
	}
	f := &format.H264{PayloadTyp: h264rtp.PayloadType, PacketizationMode: 1, SPS: k.params.SPS, PPS: k.params.PPS}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{f}}}}
	k.connecting = true
	k.wg.Go(func() {
		c, err := k.connect(desc)
		r := connResult{err: err}
		if err == nil {
			r.conn = &sinkConn{c: c, media: desc.Medias[0], since: time.Now(), died: make(chan error, 1)}
			k.wg.Go(func() { r.conn.died <- c.Wait() })
		}
		k.connected <- r
	})
}

// connect makes a recording session; closing the sink aborts it.
func (k *sink) connect(desc *description.Session) (*gortsplib.Client, error) {
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme: k.url.Scheme, Host: k.url.Host, Protocol: &tcp, TLSConfig: k.tls,
		ReadTimeout: sinkRTSPTimeout, WriteTimeout: sinkRTSPTimeout, WriteQueueSize: sinkWriteQueue,
		UserAgent:         "toposync-streaming",
		OnTransportSwitch: func(err error) { k.log.Debug("RTSP transport switch", "err", err) },
		OnPacketsLost:     func(lost uint64) { k.log.Debug("RTCP packets lost", "lost", lost) },
		OnDecodeError:     func(err error) { k.log.Debug("RTCP decode error", "err", err) },
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(k.ctx, c.Close)
	defer stop()
	fail := func(step string, err error) (*gortsplib.Client, error) {
		c.Close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	if _, err := c.Announce(k.url, desc); err != nil {
		return fail("ANNOUNCE", err)
	}
	if err := c.SetupAll(k.url, desc.Medias); err != nil {
		return fail("SETUP", err)
	}
	if _, err := c.Record(); err != nil {
		return fail("RECORD", err)
	}
	return c, nil
}

func (k *sink) onConnected(r connResult) {
	k.connecting = false
	if r.err != nil {
		k.failures++
		if k.failures == 1 {
			k.log.Warn("MediaMTX publish session failed; retrying with backoff", "err", r.err)
		} else {
			k.log.Debug("MediaMTX publish session failed again", "err", r.err, "attempts", k.failures)
		}
		k.backoff()
		return
	}
	if k.ctx.Err() != nil {
		r.conn.c.Close()
		return
	}
	k.conn, k.resync = r.conn, true
	k.log.Info("publishing into MediaMTX", "after_failures", k.failures)
	k.failures = 0
}

func (k *sink) onDied(err error) {
	lived := time.Since(k.conn.since)
	k.conn.c.Close()
	k.conn = nil
	k.log.Warn("MediaMTX ended the publish session; reconnecting", "err", err, "lived", lived.Round(time.Millisecond).String())
	if lived > sinkBackoffMax {
		k.delay = 0 // it worked for a while: start the backoff anew
	}
	k.backoff()
}

// backoff waits before the next connect: sinkBackoffMin, doubling up to
// sinkBackoffMax.
func (k *sink) backoff() {
	k.delay = min(max(sinkBackoffMin, 2*k.delay), sinkBackoffMax)
	k.retry.Reset(k.delay)
	k.retrying = true
}

// pinned is the TLS client configuration of a session to our own MediaMTX:
// it accepts exactly the certificate MediaMTX was given. Its names need not
// cover 127.0.0.1, so name checks are replaced by the pin (which also keeps
// another local process listening on the port from getting the
// credentials).
func pinned(leaf *x509.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if leaf == nil || len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(leaf) {
				return errors.New("MediaMTX presented a certificate other than the service's")
			}
			return nil
		},
	}
}

// sinkSet is the open sinks of one engine instance: a newer sink of a path
// closes the older one, a path that is no longer served closes its sink,
// and the instance's Close closes them all.
type sinkSet struct {
	mu     sync.Mutex
	closed bool
	sinks  map[string]*sink // by path
}

// add registers k, closing the sink it replaces.
func (s *sinkSet) add(k *sink) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return engine.ErrNotRunning
	}
	old := s.sinks[k.path]
	if s.sinks == nil {
		s.sinks = map[string]*sink{}
	}
	s.sinks[k.path] = k
	s.mu.Unlock()
	if old != nil {
		old.Close() // before k connects: MediaMTX takes one publisher per path
	}
	return nil
}

// has reports whether a sink publishes path.
func (s *sinkSet) has(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sinks[path] != nil
}

func (s *sinkSet) remove(k *sink) {
	s.mu.Lock()
	if s.sinks[k.path] == k {
		delete(s.sinks, k.path)
	}
	s.mu.Unlock()
}

// closeUnless closes the sinks whose path keep does not report; with a
// nil keep it closes them all and refuses new ones.
func (s *sinkSet) closeUnless(keep func(path string) bool) {
	s.mu.Lock()
	var gone []*sink
	for name, k := range s.sinks {
		if keep == nil || !keep(name) {
			gone = append(gone, k)
		}
	}
	if keep == nil {
		s.closed = true
	}
	s.mu.Unlock()
	for _, k := range gone {
		k.Close()
	}
}
