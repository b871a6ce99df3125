package embedded

import (
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/google/uuid"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
)

// In-process publishing.
//
// A sink is a publisher without a network session: OpenSink makes the
// path's ServerStream (one H.264 track, packetization mode 1) and a
// publisher for it, and every WriteAccessUnit goes down the same two roads
// as a packet of an RTSP publisher, on the writer's goroutine:
//
//   - packetized into RTP (h264rtp, small packets) and written through
//     path.writeRTP: the stream, the RTP GOP cache and fast-joining RTSP
//     readers;
//   - as the normalized access unit through path.addAULocked: the GOP
//     cache, the HLS muxer and the WHEP sessions.
//
// The sink, and so the stream and every reader of it, lives until Close
// (or the path's removal, or the engine's close); encoders come and go
// under it. New SPS/PPS from a new encoder need no new stream: they are in
// front of every IDR (decoders switch there), in the SDP of later
// DESCRIBEs, and gohlslib starts a new segment at them.

// sink is the in-process publisher of one path.
type sink struct {
	p   *path
	pub *publisher

	mu     sync.Mutex // serializes writers; guards what follows
	closed bool
	clock  h264rtp.Clock
	pack   *h264rtp.Packetizer
}

// OpenSink makes the service the publisher of the path name. An RTSP
// publisher of the path is disconnected, a sink opened before is closed,
// and RTSP publishers are refused until this sink closes.
func (s *Server) OpenSink(name string) (engine.VideoSink, error) {
	if s.ctx.Err() != nil {
		return nil, engine.ErrNotRunning
	}
	p := s.lookup(cleanPathName(name))
	if p == nil {
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownPath, name)
	}
	pack, err := h264rtp.NewPacketizer()
	if err != nil {
		return nil, err
	}
	f := &format.H264{PayloadTyp: h264rtp.PayloadType, PacketizationMode: 1}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}
	stream := &gortsplib.ServerStream{Server: s.rtsp, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := stream.Initialize(); err != nil {
		return nil, err
	}
	pub := &publisher{id: uuid.NewString(), since: time.Now(), stream: stream, media: medi, format: f}
	if !p.attachPublisher(pub) {
		stream.Close()
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownPath, name)
	}
	// recording from the start: WHEP readers are answered now, RTSP
	// readers as soon as the parameter sets are known
	p.startRecording(pub)
	s.log.Info("in-process publisher opened", "path", p.name, "id", pub.id)
	return &sink{p: p, pub: pub, pack: pack}, nil
}

// WriteAccessUnit publishes one access unit (see engine.VideoSink).
func (k *sink) WriteAccessUnit(pts time.Duration, au [][]byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return engine.ErrSinkClosed
	}
	p, pub := k.p, k.pub
	ticks := k.clock.Ticks(pts)

	p.mu.Lock()
	if p.pub != pub {
		p.mu.Unlock()
		k.closed = true // removed, engine closed, or a newer sink
		return engine.ErrSinkClosed
	}
	nalus, idr := pub.normalizeLocked(au)
	p.mu.Unlock()
	if len(nalus) == 0 {
		return nil
	}

	pkts, err := k.pack.Packetize(ticks, nalus)
	if err != nil {
		return nil // nothing a reader could use (rtph264 refuses only empty units)
	}
	for _, pkt := range pkts {
		pub.bytesIn.Add(uint64(pkt.MarshalSize()))
		p.writeRTP(pub, pub.media, pkt, true)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pub == pub {
		p.addAULocked(pub, ticks, nalus, idr)
	}
	return nil
}

// Close ends the path's stream and its readers; RTSP publishers are
// accepted again.
func (k *sink) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	k.closed = true
	k.p.detachPublisher(k.pub)
}

// OpenSink makes the service the publisher of path (see Server.OpenSink).
func (e *Engine) OpenSink(path string) (engine.VideoSink, error) { return e.srv.OpenSink(path) }
