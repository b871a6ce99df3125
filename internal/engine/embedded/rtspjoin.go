package embedded

import (
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// RTSP fast join.
//
// All RTSP readers of a publisher share its gortsplib ServerStream, which
// serializes each packet once and queues the same bytes to every playing
// session. A ServerStream only forwards live packets, so a reader joining a
// running stream would wait for the next IDR (up to one GOP). Instead:
//
//   - the publisher keeps the RTP packets of the H.264 track from the first
//     packet of the access unit holding the last IDR (rtpGOPCache);
//   - in OnPlay (the session's write queue exists by then, its writer starts
//     once PLAY is answered) the cached packets are queued to the new session
//     with ServerSession.WritePacketRTP, under publisher.fanMu, which the
//     publisher's RTP callback also holds while it writes to the stream;
//   - gortsplib makes the session an active reader of the stream only after
//     OnPlay returns. Until then the callback also writes each live packet
//     to the joining session directly ("bridging"). It tells whether the
//     stream already delivered a packet to the session from the session's
//     RTP counter (ServerSession.Stats, which counts packets queued by the
//     stream and by WritePacketRTP alike): the first packet the stream
//     delivered ends the bridging. The session thus gets the GOP, then every
//     live packet exactly once, in order, with the publisher's sequence
//     numbers and timestamps (the GOP arrives as a burst; a real-time player
//     starts at most one GOP behind and a recorder gets true timestamps).
//
// Steady-state cost is unchanged (one serialization per packet for all
// readers); the cache costs one packet copy per received packet.
// A GOP too large for the session's write queue (rtspJoinMaxPackets) is not
// sent: that reader waits for the next IDR, as before.

const (
	// rtspWriteQueueSize is gortsplib's per-session write queue (packets).
	rtspWriteQueueSize = 1024
	// rtspJoinMaxPackets bounds the GOP queued to a joining reader, leaving
	// room in its queue for the live packets that follow.
	rtspJoinMaxPackets = rtspWriteQueueSize * 3 / 4
	// Limits of the RTP GOP cache: beyond them the cache is dropped until
	// the next IDR.
	maxGOPPackets  = 8192
	maxGOPRTPBytes = 16 << 20
	// rtspBridgeMax ends a bridging that never saw the stream deliver (it
	// should end within a packet or two).
	rtspBridgeMax = 5 * time.Second
)

// rtpGOPCache holds the RTP packets of the current GOP of one track.
type rtpGOPCache struct {
	pkts    []*rtp.Packet // valid: from the IDR access unit on; else the current access unit only
	bytes   int
	auStart int // index in pkts of the current access unit's first packet
	valid   bool

	started    bool
	lastTS     uint32
	lastMarker bool
}

// add records a packet of the track (it is copied).
func (g *rtpGOPCache) add(pkt *rtp.Packet) {
	newAU := !g.started || g.lastMarker || pkt.Timestamp != g.lastTS
	g.started, g.lastTS, g.lastMarker = true, pkt.Timestamp, pkt.Marker
	if newAU {
		if !g.valid {
			g.pkts, g.bytes = nil, 0
		}
		g.auStart = len(g.pkts)
	}
	if rtpHasIDR(pkt.Payload) && (!g.valid || g.auStart > 0) {
		// a new GOP starts with the current access unit
		cur := make([]*rtp.Packet, len(g.pkts)-g.auStart, max(64, 2*(len(g.pkts)-g.auStart)))
		copy(cur, g.pkts[g.auStart:])
		g.pkts, g.auStart, g.valid = cur, 0, true
		g.bytes = 0
		for _, p := range cur {
			g.bytes += len(p.Payload)
		}
	}
	g.pkts = append(g.pkts, pkt.Clone())
	g.bytes += len(pkt.Payload)
	if g.valid && (len(g.pkts) > maxGOPPackets || g.bytes > maxGOPRTPBytes) {
		g.valid = false
		g.pkts = append([]*rtp.Packet(nil), g.pkts[g.auStart:]...)
		g.auStart = 0
	}
}

// gop returns the cached GOP (plus the access unit in progress), nil when
// no IDR is cached. The packets must not be kept beyond publisher.fanMu.
func (g *rtpGOPCache) gop() []*rtp.Packet {
	if !g.valid {
		return nil
	}
	return g.pkts
}

// rtpHasIDR reports whether an H.264 RTP payload (RFC 6184) carries an IDR
// slice or the start of one: a single NALU, a STAP-A, or the first fragment
// of an FU-A.
func rtpHasIDR(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	switch h264.NALUType(payload[0] & 0x1f) {
	case h264.NALUTypeIDR:
		return true
	case h264.NALUTypeSTAPA:
		b := payload[1:]
		for len(b) >= 3 {
			size := int(b[0])<<8 | int(b[1])
			b = b[2:]
			if size == 0 || size > len(b) {
				return false
			}
			if h264.NALUType(b[0]&0x1f) == h264.NALUTypeIDR {
				return true
			}
			b = b[size:]
		}
	case h264.NALUTypeFUA:
		return len(payload) >= 2 && payload[1]&0x80 != 0 && h264.NALUType(payload[1]&0x1f) == h264.NALUTypeIDR
	}
	return false
}

// rtspJoiner is a reader session that got the cached GOP and is bridged
// until the stream delivers to it.
type rtspJoiner struct {
	medias map[*description.Media]struct{} // the medias it set up
	since  time.Time
	sent   uint64 // its RTP packet count before the current stream write
}

// sessionRTPSent is the number of RTP packets queued to a session, by its
// stream or directly.
func sessionRTPSent(ss *gortsplib.ServerSession) uint64 {
	var n uint64
	for _, m := range ss.Stats().Medias {
		for _, f := range m.Formats {
			n += f.RTPPacketsSent
		}
	}
	return n
}

// writeRTP forwards a packet of the publisher to its RTSP readers: to the
// stream, and to the joining sessions the stream does not deliver to yet.
// It also caches the packets of the H.264 track. Called on the publisher's
// writing goroutine only (an RTSP session's read goroutine, or the writer of
// a sink).
func (p *path) writeRTP(pub *publisher, medi *description.Media, pkt *rtp.Packet, isVideo bool) {
	pub.fanMu.Lock()
	defer pub.fanMu.Unlock()
	if isVideo {
		pub.rtpGOP.add(pkt)
	}
	for ss, j := range pub.joining {
		if _, ok := j.medias[medi]; ok {
			j.sent = sessionRTPSent(ss)
		}
	}
	if err := pub.stream.WritePacketRTP(medi, pkt); err != nil {
		p.drops.Add(1)
		if !pub.dropped { // once per publisher: it sends such packets all the time
			pub.dropped = true
			p.s.log.Warn("[RTSP] a packet of the publisher could not be sent to RTSP readers: they lose it (over RTSPS packets must be at most 1462 bytes)",
				"path", p.name, "bytes", pkt.MarshalSize(), "err", err)
		}
	}
	for ss, j := range pub.joining {
		if _, ok := j.medias[medi]; !ok {
			continue
		}
		if sessionRTPSent(ss) > j.sent {
			delete(pub.joining, ss) // the stream delivers to it now
			continue
		}
		if time.Since(j.since) > rtspBridgeMax {
			delete(pub.joining, ss)
			p.s.log.Warn("[RTSP] joining reader never became active on the stream", "path", p.name)
			continue
		}
		if err := ss.WritePacketRTP(medi, pkt); err != nil {
			p.drops.Add(1)
		} else {
			p.bytesSentDirect.Add(uint64(len(pkt.Payload)))
		}
	}
}

// joinRTSP queues the cached GOP of pub to a reader session that is about
// to start playing pub's stream and bridges it until the stream delivers to
// it (see the comment at the top of this file). It returns how many packets
// it queued (0: the reader gets live packets only).
func (p *path) joinRTSP(pub *publisher, ss *gortsplib.ServerSession) int {
	medias := map[*description.Media]struct{}{}
	for _, m := range ss.Medias() {
		medias[m] = struct{}{}
	}
	if _, ok := medias[pub.media]; !ok {
		return 0
	}
	pub.fanMu.Lock()
	defer pub.fanMu.Unlock()
	gop := pub.rtpGOP.gop()
	if len(gop) == 0 {
		return 0
	}
	if len(gop) > rtspJoinMaxPackets {
		p.s.log.Debug("[RTSP] GOP too large to send to a joining reader, it waits for the next IDR",
			"path", p.name, "packets", len(gop))
		return 0
	}
	for i, pkt := range gop {
		if err := ss.WritePacketRTP(pub.media, pkt); err != nil {
			p.drops.Add(1)
			return i // the reader resyncs at the next IDR; no bridging needed
		}
		p.bytesSentDirect.Add(uint64(len(pkt.Payload)))
	}
	if pub.joining == nil {
		pub.joining = map[*gortsplib.ServerSession]*rtspJoiner{}
	}
	pub.joining[ss] = &rtspJoiner{medias: medias, since: time.Now()}
	return len(gop)
}

// leaveRTSP forgets a reader session that closed while joining.
func (pub *publisher) leaveRTSP(ss *gortsplib.ServerSession) {
	pub.fanMu.Lock()
	delete(pub.joining, ss)
	pub.fanMu.Unlock()
}
