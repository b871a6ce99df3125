package embedded

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/pion/rtp"

	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
)

// refusedError is why the service cannot publish a path whose readers it
// refused (see path.refuse).
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "the stream cannot start: " + e.reason }

var (
	errPathNotFound = errors.New("path not configured")
	errHoldTimeout  = errors.New("no publisher in time")
	errServerClosed = errors.New("server closed")
)

// Limits of the per-path GOP cache: beyond them (a publisher that sends
// keyframes rarely) the cache is dropped until the next IDR.
const (
	maxGOPAccessUnits = 600
	maxGOPBytes       = 16 << 20
)

// path is the state of one configured path. All fields below mu are guarded
// by it; the publisher's RTP callback, the RTSP/HLS/WHEP handlers and the
// janitor all meet here, each for a short critical section that never does
// I/O or blocks.
type path struct {
	s         *Server
	name      string
	removedCh chan struct{} // closed by remove

	bytesSentHTTP   atomic.Uint64 // HLS + WHEP payload bytes
	bytesSentDirect atomic.Uint64 // RTSP bytes queued to sessions directly (fast join, see rtspjoin.go)
	drops           atomic.Uint64

	mu      sync.Mutex
	conf    PathConfig
	removed bool
	pub     *publisher
	// reached[s] is closed once pub reached stage s, and replaced when it
	// leaves (stageRecording and later; see waitStage).
	reached   [stageReady + 1]chan struct{}
	refusedCh chan struct{} // closed by refuse; replaced at once
	refusal   error         // why refusedCh was last closed
	readyTime time.Time

	subs       map[*subscriber]struct{}
	readers    map[string]Reader // RTSP and WebRTC readers by ID
	hlsClients map[hlsClientKey]*hlsClient
	waiting    int // readers held until the path is ready
	pending    int // readers between "ready" and their registration (RTSP DESCRIBE..PLAY, WHEP setup)
	demanded   bool

	hls  *hlsMuxer
	whep map[string]*whepSession

	bytesReceivedPrev uint64 // from publishers that left
	bytesSentPrev     uint64 // RTSP bytes of streams that closed
}

// Source types of PathInfo.Source.
const (
	SourceRTSP      = "rtspSession" // an RTSP publisher (ffmpeg), as MediaMTX names it
	SourceInProcess = "inProcess"   // a sink of the service itself (sink.go)
)

// publisher is what publishes on a path: an RTSP session, or a sink of the
// service (in-process, see sink.go). Both feed the same stream, GOP caches
// and subscribers, so every reader type works the same with either.
type publisher struct {
	id     string
	since  time.Time
	stream *gortsplib.ServerStream
	media  *description.Media // the H.264 media
	format *format.H264

	// An RTSP publisher's session and depacketizer (its read goroutine
	// only); nil for an in-process one.
	session *gortsplib.ServerSession
	decoder *rtph264.Decoder
	// bytesIn counts the RTP bytes an in-process publisher wrote (an RTSP
	// session counts its own).
	bytesIn atomic.Uint64

	// RTSP fast join (rtspjoin.go), guarded by fanMu, which the writing
	// goroutine holds while it writes a packet to the stream.
	fanMu   sync.Mutex
	rtpGOP  rtpGOPCache
	joining map[*gortsplib.ServerSession]*rtspJoiner
	dropped bool // a packet the stream refused was logged

	// guarded by path.mu
	sps, pps []byte
	gop      []*accessUnit // from the last IDR; nil while no IDR
	gopBytes int
	stage    stage
}

// stage is how far the publisher of a path has come. Each reader type waits
// for the stage it needs (path.waitStage); every stage implies the ones
// before it.
type stage int

const (
	// stageAnnounced: attached, not sending yet (RTSP ANNOUNCE..RECORD).
	stageAnnounced stage = iota
	// stageRecording: media is coming (RTSP RECORD, or an in-process sink
	// opened). WHEP answers here, so that ICE and DTLS run while the
	// publisher's first IDR is still being encoded.
	stageRecording
	// stageArmed: recording with SPS/PPS known. RTSP readers start here:
	// they SETUP and PLAY in time to get the first IDR live.
	stageArmed
	// stageReady: an IDR received; the GOP cache can start any decoder
	// (HLS needs it to make a segment).
	stageReady
)

// sourceType is the publisher's PathInfo.Source type.
func (pub *publisher) sourceType() string {
	if pub.session != nil {
		return SourceRTSP
	}
	return SourceInProcess
}

// bytesReceived is what the publisher sent us so far.
func (pub *publisher) bytesReceived() uint64 {
	if pub.session != nil {
		return pub.session.Stats().BytesReceived
	}
	return pub.bytesIn.Load()
}

// normalizeLocked prepares an access unit of pub (h264rtp.Normalize) and
// reports whether it is an IDR that readers can start at (parameter sets
// known). New parameter sets also go into the stream's SDP, for readers
// that DESCRIBE from now on; readers that play get them in-band.
func (pub *publisher) normalizeLocked(nalus [][]byte) (out [][]byte, idr bool) {
	ps := h264rtp.Params{SPS: pub.sps, PPS: pub.pps}
	out, idr, changed := ps.Normalize(nalus)
	pub.sps, pub.pps = ps.SPS, ps.PPS
	if changed && ps.Known() {
		pub.format.SafeSetParams(ps.SPS, ps.PPS)
	}
	return out, idr && ps.Known()
}

// subscriber receives the access units of a path through a bounded queue.
type subscriber struct {
	ch     chan *accessUnit
	resync bool // guarded by path.mu: skipping until the next IDR
}

type hlsClientKey struct{ ip, userAgent string }

type hlsClient struct {
	id       string
	since    time.Time
	lastSeen time.Time
	inflight int
}

func newPath(s *Server, conf PathConfig) *path {
	p := &path{
		s:          s,
		name:       conf.Name,
		conf:       conf,
		removedCh:  make(chan struct{}),
		refusedCh:  make(chan struct{}),
		subs:       map[*subscriber]struct{}{},
		readers:    map[string]Reader{},
		hlsClients: map[hlsClientKey]*hlsClient{},
		whep:       map[string]*whepSession{},
	}
	for st := stageRecording; st <= stageReady; st++ {
		p.reached[st] = make(chan struct{})
	}
	return p
}

func (p *path) config() PathConfig {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conf
}

func (p *path) setConf(c PathConfig) {
	p.mu.Lock()
	p.conf = c
	p.mu.Unlock()
}

// remove closes everything on a path that is no longer configured.
func (p *path) remove() {
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return
	}
	p.removed = true
	close(p.removedCh)
	cleanup := p.detachLocked(p.pub, true)
	clear(p.hlsClients)
	p.updateDemandLocked()
	p.mu.Unlock()
	cleanup()
}

// attachPublisher makes pub the publisher of the path, evicting a previous
// one. It fails when the path was removed, and for an RTSP publisher while
// the service publishes the path in-process: nobody else takes a stream
// over from the service.
func (p *path) attachPublisher(pub *publisher) bool {
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return false
	}
	if pub.session != nil && p.pub != nil && p.pub.session == nil {
		p.mu.Unlock()
		p.s.log.Warn("[RTSP] publish refused: the service publishes this path itself", "path", p.name)
		return false
	}
	cleanup := p.detachLocked(p.pub, true)
	p.pub = pub
	p.mu.Unlock()
	cleanup()
	return true
}

// detachPublisher is called when a publisher session ends.
func (p *path) detachPublisher(pub *publisher) {
	p.mu.Lock()
	cleanup := p.detachLocked(pub, false)
	p.mu.Unlock()
	cleanup()
}

// detachLocked removes pub (if it is still the publisher) and returns the
// cleanup to run without the lock: closing its stream (which disconnects the
// RTSP readers), the HLS muxer and the WHEP sessions fed by it.
func (p *path) detachLocked(pub *publisher, closeSession bool) func() {
	if pub == nil || p.pub != pub {
		return func() {}
	}
	p.pub = nil
	p.bytesReceivedPrev += pub.bytesReceived()
	p.bytesSentPrev += pub.stream.Stats().BytesSent
	for st := stageRecording; st <= pub.stage; st++ {
		p.reached[st] = make(chan struct{})
	}
	p.readyTime = time.Time{}
	hls := p.hls
	p.hls = nil
	wheps := make([]*whepSession, 0, len(p.whep))
	for _, w := range p.whep {
		wheps = append(wheps, w)
	}
	clear(p.subs)
	p.s.log.Info("publisher left", "path", p.name, "id", pub.id, "source", pub.sourceType())
	return func() {
		pub.stream.Close()
		if closeSession && pub.session != nil {
			pub.session.Close()
		}
		if hls != nil {
			hls.close()
		}
		for _, w := range wheps {
			w.close()
		}
	}
}

// onRTP handles one RTP packet of the publisher. It runs on the publisher's
// read goroutine and never blocks: RTSP readers get the packet through the
// gortsplib stream queues, the others get access units through subscribers.
func (p *path) onRTP(pub *publisher, medi *description.Media, forma format.Format, pkt *rtp.Packet) {
	// PTS first: writing to the stream rewrites the SSRC in place.
	var pts int64
	var ptsOK bool
	isVideo := medi == pub.media && forma == format.Format(pub.format)
	if isVideo {
		pts, ptsOK = pub.session.PacketPTS(medi, pkt)
	}
	p.writeRTP(pub, medi, pkt, isVideo)
	if !isVideo || !ptsOK {
		return
	}
	nalus, err := pub.decoder.Decode(pkt)
	if err != nil || len(nalus) == 0 {
		return // ErrMorePacketsNeeded and friends: not a whole access unit yet
	}
	p.writeAU(pub, pts, nalus)
}

func (p *path) writeAU(pub *publisher, pts int64, nalus [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub != pub {
		return
	}
	out, idr := pub.normalizeLocked(nalus)
	p.addAULocked(pub, pts, out, idr)
}

// addAULocked hands a normalized access unit of pub (the current
// publisher) to the GOP cache and the subscribers, and makes the path
// ready at the first IDR.
func (p *path) addAULocked(pub *publisher, pts int64, nalus [][]byte, idr bool) {
	if len(nalus) == 0 {
		return
	}
	au := &accessUnit{pts: pts, ntp: time.Now(), nalus: nalus, idr: idr}
	for _, n := range nalus {
		au.size += len(n)
	}

	switch {
	case idr:
		pub.gop = make([]*accessUnit, 0, max(32, len(pub.gop)+8))
		pub.gop = append(pub.gop, au)
		pub.gopBytes = au.size
	case pub.gop != nil:
		if len(pub.gop) >= maxGOPAccessUnits || pub.gopBytes+au.size > maxGOPBytes {
			pub.gop, pub.gopBytes = nil, 0
		} else {
			pub.gop = append(pub.gop, au)
			pub.gopBytes += au.size
		}
	}

	p.armLocked(pub)
	if idr && pub.stage < stageReady {
		p.advanceLocked(pub, stageReady)
		p.readyTime = time.Now()
		p.s.log.Info("path ready", "path", p.name, "publisher", pub.id, "source", pub.sourceType(),
			"after", time.Since(pub.since).Round(time.Millisecond).String())
	}
	for sub := range p.subs {
		p.offerLocked(sub, au)
	}
}

// startRecording is called when the publisher starts sending media.
func (p *path) startRecording(pub *publisher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub == pub {
		p.advanceLocked(pub, stageRecording)
		p.armLocked(pub)
	}
}

// armLocked releases held RTSP readers once the publisher records and its
// SPS/PPS are known: they SETUP and PLAY in time for the first IDR.
func (p *path) armLocked(pub *publisher) {
	if pub.stage == stageRecording && pub.sps != nil && pub.pps != nil {
		p.advanceLocked(pub, stageArmed)
	}
}

// advanceLocked moves pub (the current publisher) on to stage to, releasing
// the readers waiting for it and for every stage before it.
func (p *path) advanceLocked(pub *publisher, to stage) {
	for st := pub.stage + 1; st <= to; st++ {
		close(p.reached[st])
	}
	pub.stage = max(pub.stage, to)
}

// reachedCh returns the channel closed when pub reaches stage st; ok is
// false when pub is no longer the publisher.
func (p *path) reachedCh(pub *publisher, st stage) (ch <-chan struct{}, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub != pub {
		return nil, false
	}
	return p.reached[st], true
}

// offerLocked queues au for sub without blocking; a full queue drops and
// makes the subscriber skip to the next IDR.
func (p *path) offerLocked(sub *subscriber, au *accessUnit) {
	if sub.resync {
		if !au.idr {
			return
		}
		sub.resync = false
	}
	select {
	case sub.ch <- au:
	default:
		sub.resync = true
		p.drops.Add(1)
	}
}

// subscribe registers a subscriber of the current publisher, pre-filled with
// the cached GOP so that it can start decoding at once. With squeeze the
// cached access units get timestamps 1 tick apart ending at the newest one,
// so that a real-time player shows the newest picture instead of replaying
// the GOP at its original pace (used for WebRTC). It returns nil when the
// path is not ready.
func (p *path) subscribe(capacity int, squeeze bool) (*subscriber, *publisher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed || p.pub == nil || p.pub.stage < stageReady {
		return nil, nil
	}
	sub := &subscriber{ch: make(chan *accessUnit, capacity)}
	gop := p.pub.gop
	if len(gop) == 0 {
		sub.resync = true
	}
	for i, au := range gop {
		if squeeze {
			c := *au
			c.pts = gop[len(gop)-1].pts - int64(len(gop)-1-i)
			au = &c
		}
		p.offerLocked(sub, au)
	}
	p.subs[sub] = struct{}{}
	return sub, p.pub
}

func (p *path) unsubscribe(sub *subscriber) {
	p.mu.Lock()
	delete(p.subs, sub)
	p.mu.Unlock()
}

// waitStage returns the publisher once it reached stage need, holding the
// caller (and raising demand) up to ReaderHoldTimeout. onReady runs under
// the path lock on success, so that the caller can register itself as a
// reader without the demand ever dropping in between.
func (p *path) waitStage(ctx context.Context, need stage, onReady func()) (*publisher, error) {
	usable := func() bool { return p.pub != nil && p.pub.stage >= need }
	waitCh := func() chan struct{} { return p.reached[need] }
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return nil, errPathNotFound
	}
	if usable() {
		if onReady != nil {
			onReady()
		}
		pub := p.pub
		p.mu.Unlock()
		return pub, nil
	}
	p.waiting++
	p.updateDemandLocked()
	ch, refused := waitCh(), p.refusedCh
	p.mu.Unlock()

	timer := time.NewTimer(p.s.currentReaderHold())
	defer timer.Stop()
	for {
		var err error
		select {
		case <-ch:
		case <-timer.C:
			err = errHoldTimeout
		case <-ctx.Done():
			err = ctx.Err()
		case <-p.s.ctx.Done():
			err = errServerClosed
		case <-p.removedCh:
			err = errPathNotFound
		case <-refused:
		}
		p.mu.Lock()
		if err == nil && !usable() {
			select {
			case <-refused:
				err = p.refusal
			default:
			}
		}
		if err == nil && p.removed {
			err = errPathNotFound
		}
		var pub *publisher
		if err == nil {
			if !usable() {
				ch = waitCh() // the publisher left again: keep waiting
				p.mu.Unlock()
				continue
			}
			pub = p.pub
			if onReady != nil {
				onReady()
			}
		}
		p.waiting--
		p.updateDemandLocked()
		p.mu.Unlock()
		return pub, err
	}
}

// unservedHTTP answers an HTTP reader that waitStage did not serve: 503
// with the reason when the service refused it or is closing, else 404.
func unservedHTTP(w http.ResponseWriter, err error) {
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		http.Error(w, "503 "+err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, errServerClosed):
		http.Error(w, "server closing", http.StatusServiceUnavailable)
	default:
		http.Error(w, "404 no stream on this path (no publisher yet)", http.StatusNotFound)
	}
}

// refuse ends the hold of the readers waiting now (see
// Engine.RefuseReaders), unless a publisher is there. It returns how many
// it refused.
func (p *path) refuse(reason string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub != nil || p.waiting == 0 {
		return 0
	}
	p.refusal = &refusedError{reason: reason}
	close(p.refusedCh)
	p.refusedCh = make(chan struct{})
	return p.waiting
}

// updateDemandLocked raises or drops demand when the reader count crosses 0.
func (p *path) updateDemandLocked() {
	d := !p.removed && len(p.readers)+len(p.hlsClients)+p.waiting+p.pending > 0
	if d == p.demanded {
		return
	}
	p.demanded = d
	p.s.log.Debug("demand", "path", p.name, "demanded", d)
	p.s.demand.Set(p.name, d)
}

func (p *path) removeReader(id string) {
	p.mu.Lock()
	delete(p.readers, id)
	p.updateDemandLocked()
	p.mu.Unlock()
}

// expire drops HLS clients idle for HLSLinger and closes an HLS muxer
// without requests for HLSMuxerCloseAfter.
func (p *path) expire(now time.Time) {
	p.mu.Lock()
	for k, c := range p.hlsClients {
		if c.inflight == 0 && now.Sub(c.lastSeen) > p.s.cfg.HLSLinger {
			delete(p.hlsClients, k)
		}
	}
	p.updateDemandLocked()
	var idle *hlsMuxer
	if p.hls != nil && p.hls.idleFor(now, p.s.cfg.HLSMuxerCloseAfter) {
		idle = p.hls
		p.hls = nil
	}
	p.mu.Unlock()
	if idle != nil {
		p.s.log.Debug("HLS muxer idle, closing", "path", p.name)
		idle.close()
	}
}

func (p *path) readersList(now time.Time) []Reader {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readersLocked(now)
}

func (p *path) readersLocked(now time.Time) []Reader {
	out := make([]Reader, 0, len(p.readers)+len(p.hlsClients))
	for _, r := range p.readers {
		out = append(out, r)
	}
	for _, c := range p.hlsClients {
		if c.inflight > 0 || now.Sub(c.lastSeen) <= p.s.cfg.HLSLinger {
			out = append(out, Reader{Type: ReaderHLS, ID: c.id, Since: c.since})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (p *path) info(now time.Time) PathInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	pi := PathInfo{
		Name:          p.name,
		Readers:       p.readersLocked(now),
		BytesReceived: p.bytesReceivedPrev,
		BytesSent:     p.bytesSentPrev + p.bytesSentHTTP.Load() + p.bytesSentDirect.Load(),
		ReaderDrops:   p.drops.Load(),
	}
	if pub := p.pub; pub != nil {
		pi.Ready = pub.stage == stageReady
		pi.ReadyTime = p.readyTime
		pi.Source = &Source{Type: pub.sourceType(), ID: pub.id, Since: pub.since}
		pi.BytesReceived += pub.bytesReceived()
		pi.BytesSent += pub.stream.Stats().BytesSent
		for _, m := range pub.stream.Desc.Medias {
			for _, f := range m.Formats {
				if f == format.Format(pub.format) {
					pi.Tracks = append(pi.Tracks, h264TrackInfo(pub.sps))
				} else {
					pi.Tracks = append(pi.Tracks, TrackInfo{Codec: f.Codec()})
				}
			}
		}
	}
	return pi
}
