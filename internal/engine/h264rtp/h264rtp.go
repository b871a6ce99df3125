// Package h264rtp prepares H.264 access units for an engine path's
// publisher: it normalizes them (parameter sets learned in-band and put in
// front of every IDR, AUDs dropped), keeps their timestamps strictly
// increasing on a 90 kHz clock across encoder restarts, and packetizes them
// into RTP packets small enough for every engine and network on the way.
//
// It holds no goroutine and does no I/O; each value is used by one
// goroutine at a time (its owner serializes the calls).
package h264rtp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// ClockRate is the RTP clock of H.264.
const ClockRate = 90000

// PayloadType is the dynamic RTP payload type of our H.264 tracks.
const PayloadType = 96

// PayloadMaxSize bounds an RTP payload (the packet is 12 bytes more):
// below MediaMTX's udpMaxPayloadSize (1452, above which it repacketizes
// every packet it forwards), gortsplib's MaxPacketSize (1472) and the MTU
// of tunnels and VPNs between a reader and us. WHEP uses the same size.
const PayloadMaxSize = 1200

// NALUType is the type of a NAL unit (0 for an empty one).
func NALUType(n []byte) h264.NALUType {
	if len(n) == 0 {
		return 0
	}
	return h264.NALUType(n[0] & 0x1f)
}

// Params are the parameter sets of a stream as last seen in-band.
type Params struct {
	SPS, PPS []byte
}

// Known reports whether both parameter sets were seen.
func (ps *Params) Known() bool { return ps.SPS != nil && ps.PPS != nil }

// Normalize copies the NAL units of an access unit, dropping AUDs, empty
// units and the types H.264 leaves unspecified (0 and 24 to 31: RTP gives
// them meanings, so every RTP reader would misread them), remembers the
// parameter sets it carries, and puts SPS and PPS in front of an IDR slice
// that they do not both precede. idr reports an IDR slice; changed reports
// a parameter set that differs from the one known before.
func (ps *Params) Normalize(au [][]byte) (out [][]byte, idr, changed bool) {
	spsFirst, ppsFirst := false, false // seen before the first IDR slice
	out = make([][]byte, 0, len(au)+2)
	for _, n := range au {
		switch typ := NALUType(n); {
		case typ == 0 || typ >= 24 || typ == h264.NALUTypeAccessUnitDelimiter:
			continue
		case typ == h264.NALUTypeSPS:
			spsFirst = spsFirst || !idr
			changed = changed || !bytes.Equal(ps.SPS, n)
			ps.SPS = bytes.Clone(n)
		case typ == h264.NALUTypePPS:
			ppsFirst = ppsFirst || !idr
			changed = changed || !bytes.Equal(ps.PPS, n)
			ps.PPS = bytes.Clone(n)
		case typ == h264.NALUTypeIDR:
			idr = true
		}
		out = append(out, bytes.Clone(n))
	}
	if idr && !(spsFirst && ppsFirst) && ps.Known() {
		params := [][]byte{ps.SPS, ps.PPS}
		kept := out[:0:0]
		for _, n := range out {
			if t := NALUType(n); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
				kept = append(kept, n)
			}
		}
		out = append(params, kept...)
	}
	return out, idr, changed
}

// defaultStep is the frame interval assumed before two access units were
// seen (30 fps).
const defaultStep = ClockRate / 30

// Clock maps the presentation times of a sink's writers to a strictly
// increasing 90 kHz clock. Times that increase pass unchanged; a time that
// is not after the previous one (a new encoder whose clock started again)
// moves the clock so that it follows the previous access unit by the last
// frame interval, and later times keep that offset.
type Clock struct {
	started bool
	last    int64 // ticks of the last access unit
	step    int64 // the last interval below one second
	offset  int64 // added to the writers' ticks
}

// Ticks returns the clock's time for pts.
func (c *Clock) Ticks(pts time.Duration) int64 {
	t := ticksOf(pts) + c.offset
	if c.started {
		d := t - c.last
		switch {
		case d <= 0:
			step := c.step
			if step <= 0 {
				step = defaultStep
			}
			c.offset += c.last + step - t
			t = c.last + step
		case d < ClockRate:
			c.step = d
		}
	}
	c.started, c.last = true, t
	return t
}

// ticksOf converts a duration to the nearest 90 kHz tick without
// overflowing for any duration (a plain pts*90000 overflows after 28 hours).
func ticksOf(d time.Duration) int64 {
	const s = int64(time.Second)
	return int64(d/time.Second)*ClockRate + (int64(d%time.Second)*ClockRate+s/2)/s
}

// Packetizer turns access units into RTP packets (RFC 6184, packetization
// mode 1) of at most PayloadMaxSize payload bytes, with one sequence
// number space and one random timestamp base for its whole life.
type Packetizer struct {
	enc    rtph264.Encoder
	tsBase uint32
}

// NewPacketizer makes a packetizer with random SSRC, sequence numbers and
// timestamp base.
func NewPacketizer() (*Packetizer, error) {
	p := &Packetizer{enc: rtph264.Encoder{PayloadType: PayloadType, PayloadMaxSize: PayloadMaxSize, PacketizationMode: 1}}
	if err := p.enc.Init(); err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	p.tsBase = binary.BigEndian.Uint32(b[:]) // RFC 3550: a random start
	return p, nil
}

// Packetize returns the packets of one access unit at ticks (from Clock).
func (p *Packetizer) Packetize(ticks int64, au [][]byte) ([]*rtp.Packet, error) {
	pkts, err := p.enc.Encode(au)
	if err != nil {
		return nil, err
	}
	ts := p.tsBase + uint32(ticks)
	for _, pkt := range pkts {
		pkt.Timestamp = ts
	}
	return pkts, nil
}
