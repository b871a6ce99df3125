package embedded

import (
	_ "embed"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/google/uuid"

	"github.com/toposync/toposync-streaming/internal/model"
)

// HLS settings: segments of at least 200 ms that end on an IDR, so with
// the encoders' one-second GOP a segment is one GOP, except the first: the
// encoders add an IDR 0.2 s in (see encoder.Params.Args), so a player's
// first segment is ready that soon. Low-Latency HLS parts of at least
// 200 ms (any frame may end one), as MediaMTX's default. 7 segments is
// also Low-Latency HLS's minimum in gohlslib.
const (
	hlsSegmentCount       = 7
	hlsSegmentMinDuration = 200 * time.Millisecond
	hlsPartMinDuration    = 200 * time.Millisecond
	hlsQueueSize          = 256
)

// muxerVariant is gohlslib's variant for v; anything unknown is MPEG-TS,
// the spec's default.
func muxerVariant(v model.HLSVariant) gohlslib.MuxerVariant {
	switch v {
	case model.HLSFMP4:
		return gohlslib.MuxerVariantFMP4
	case model.HLSLowLatency:
		return gohlslib.MuxerVariantLowLatency
	default:
		return gohlslib.MuxerVariantMPEGTS
	}
}

// SetHLSVariant changes how HLS is served. Each path's muxer of another
// variant is closed, so its players' next playlist request gets a muxer of
// the new one (players reload; RTSP and WHEP readers are not touched).
func (s *Server) SetHLSVariant(v model.HLSVariant) {
	mv := muxerVariant(v)
	if gohlslib.MuxerVariant(s.hlsVariant.Swap(int64(mv))) == mv {
		return
	}
	s.mu.RLock()
	paths := make([]*path, 0, len(s.paths))
	for _, p := range s.paths {
		paths = append(paths, p)
	}
	s.mu.RUnlock()
	for _, p := range paths {
		p.closeHLSUnless(mv)
	}
	s.log.Info("[HLS] variant changed", "variant", string(v))
}

func (s *Server) currentHLSVariant() gohlslib.MuxerVariant {
	return gohlslib.MuxerVariant(s.hlsVariant.Load())
}

// closeHLSUnless closes the path's muxer when it is not of variant v.
func (p *path) closeHLSUnless(v gohlslib.MuxerVariant) {
	p.mu.Lock()
	m := p.hls
	if m != nil && m.mux.Variant != v {
		p.hls = nil
	} else {
		m = nil
	}
	p.mu.Unlock()
	if m != nil {
		m.close()
	}
}

// hlsPlayer is the page a browser gets for /<path>/ on the HLS port.
//
//go:embed player/hls.html
var hlsPlayer []byte

// hlsHandler serves /<path>/index.m3u8 and the files it lists, and a
// player page at /<path>/.
type hlsHandler struct {
	s *Server
}

// splitPathFile splits "/a/b/index.m3u8" into "a/b" and "index.m3u8".
func splitPathFile(urlPath string) (name, file string) {
	urlPath = strings.TrimPrefix(urlPath, "/")
	i := strings.LastIndexByte(urlPath, '/')
	if i < 0 {
		return "", urlPath
	}
	return cleanPathName(urlPath[:i]), urlPath[i+1:]
}

func (h *hlsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w, "GET, HEAD, OPTIONS")
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, file := splitPathFile(r.URL.Path)
	p := h.s.lookup(name)
	if p == nil && file != "" { // /<path> without its slash: the player
		name, file = cleanPathName(strings.Trim(r.URL.Path, "/")), ""
		p = h.s.lookup(name)
	}
	if name == "" || p == nil {
		http.NotFound(w, r)
		return
	}
	if !checkBasic(w, r, p.config()) {
		return
	}
	if file == "" { // /<path>/ or /<path>: a browser wants a player (as MediaMTX serves one)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(hlsPlayer)
		return
	}
	key := hlsClientKey{ip: remoteIP(r), userAgent: r.UserAgent()}

	var m *hlsMuxer
	var c *hlsClient
	if file == "index.m3u8" {
		// the entry point: hold until the path is ready, then make sure a
		// muxer exists
		var err error
		if _, err = p.waitStage(r.Context(), stageReady, func() { c = p.touchHLSLocked(key) }); err == nil {
			m, err = p.hlsMuxer()
		}
		if err != nil {
			if c != nil {
				p.endHLS(c)
			}
			h.s.log.Info("[HLS] reader not served", "path", p.name, "reason", err.Error(), "remote", r.RemoteAddr)
			unservedHTTP(w, err)
			return
		}
	} else {
		p.mu.Lock()
		m = p.hls
		if m != nil {
			c = p.touchHLSLocked(key)
		}
		p.mu.Unlock()
		if m == nil {
			http.NotFound(w, r)
			return
		}
	}
	defer p.endHLS(c)
	m.inflight.Add(1)
	defer func() {
		m.lastRequest.Store(time.Now().UnixNano())
		m.inflight.Add(-1)
	}()

	tw := &trackingWriter{ResponseWriter: w, playlist: strings.HasSuffix(r.URL.Path, ".m3u8")}
	m.mux.Handle(tw, r)
	if !tw.wrote {
		http.NotFound(w, r) // gohlslib answers unknown names with an empty 200
	}
	p.bytesSentHTTP.Add(uint64(tw.n))
}

// trackingWriter records whether a handler wrote anything, and how much.
type trackingWriter struct {
	http.ResponseWriter
	// playlist: the answer is a playlist, which players must never cache
	// (gohlslib lets them keep index.m3u8 for 30 s, so a player kept asking
	// for a playlist gone with an engine restart).
	playlist bool
	wrote    bool
	n        int64
}

func (t *trackingWriter) begin() {
	if !t.wrote && t.playlist {
		t.Header().Set("Cache-Control", "no-cache")
	}
	t.wrote = true
}

func (t *trackingWriter) WriteHeader(code int) {
	t.begin()
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.begin()
	n, err := t.ResponseWriter.Write(b)
	t.n += int64(n)
	return n, err
}

// touchHLSLocked counts an HLS request of a client (IP, User-Agent).
func (p *path) touchHLSLocked(key hlsClientKey) *hlsClient {
	now := time.Now()
	c := p.hlsClients[key]
	if c == nil {
		c = &hlsClient{id: uuid.NewString(), since: now}
		p.hlsClients[key] = c
		p.s.log.Info("[HLS] reader joined", "path", p.name, "id", c.id, "ip", key.ip)
	}
	c.inflight++
	c.lastSeen = now
	p.updateDemandLocked()
	return c
}

// endHLS marks the end of a request of c; the client lingers for HLSLinger.
func (p *path) endHLS(c *hlsClient) {
	p.mu.Lock()
	c.inflight--
	c.lastSeen = time.Now()
	p.mu.Unlock()
}

// hlsMuxer feeds one gohlslib muxer from the path's current publisher. A new
// publisher always gets a new muxer (timestamps restart).
type hlsMuxer struct {
	p           *path
	mux         *gohlslib.Muxer
	track       *gohlslib.Track
	sub         *subscriber
	stop        chan struct{}
	done        chan struct{}
	lastRequest atomic.Int64 // unix nanoseconds, end of the last request
	inflight    atomic.Int32 // requests being served
	closeOnce   sync.Once
}

// idleFor reports whether the muxer had no request for d.
func (m *hlsMuxer) idleFor(now time.Time, d time.Duration) bool {
	return m.inflight.Load() == 0 && now.Sub(time.Unix(0, m.lastRequest.Load())) > d
}

// hlsMuxer returns the path's muxer, creating it for the current publisher
// (pre-filled with the cached GOP).
func (p *path) hlsMuxer() (*hlsMuxer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hls != nil {
		return p.hls, nil
	}
	if p.removed {
		return nil, errPathNotFound
	}
	pub := p.pub
	if pub == nil || pub.stage < stageReady {
		return nil, errHoldTimeout
	}
	track := &gohlslib.Track{
		Codec:     &codecs.H264{SPS: pub.sps, PPS: pub.pps},
		ClockRate: 90000,
	}
	m := &hlsMuxer{
		p:     p,
		track: track,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		mux: &gohlslib.Muxer{
			Tracks:             []*gohlslib.Track{track},
			Variant:            p.s.currentHLSVariant(),
			SegmentCount:       hlsSegmentCount,
			SegmentMinDuration: hlsSegmentMinDuration,
			PartMinDuration:    hlsPartMinDuration,
			OnEncodeError: func(err error) {
				p.s.log.Debug("[HLS] encode error", "path", p.name, "err", err)
			},
		},
	}
	m.lastRequest.Store(time.Now().UnixNano())
	if err := m.mux.Start(); err != nil {
		return nil, err
	}
	// subscribe under the lock already held
	m.sub = &subscriber{ch: make(chan *accessUnit, hlsQueueSize)}
	if len(pub.gop) == 0 {
		m.sub.resync = true
	}
	for _, au := range pub.gop {
		p.offerLocked(m.sub, au)
	}
	p.subs[m.sub] = struct{}{}
	p.hls = m
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		m.run()
	}()
	p.s.log.Info("[HLS] muxer created", "path", p.name, "cachedAUs", len(pub.gop))
	return m, nil
}

func (m *hlsMuxer) run() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		case au := <-m.sub.ch:
			if err := m.mux.WriteH264(m.track, au.ntp, au.pts, au.nalus); err != nil {
				m.p.s.log.Debug("[HLS] write error", "path", m.p.name, "err", err)
			}
		}
	}
}

// close stops feeding and closes the muxer; requests waiting in it return.
func (m *hlsMuxer) close() {
	m.closeOnce.Do(func() {
		m.p.unsubscribe(m.sub)
		close(m.stop)
		<-m.done
		m.mux.Close()
	})
}
