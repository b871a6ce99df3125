package h264rtp

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// NAL units of a real stream (see testutil).
var (
	testSPS = testutil.H264SPS
	testPPS = testutil.H264PPS
	testIDR = testutil.H264IDR
	testP   = testutil.H264P
	testAUD = testutil.H264AUD
)

func TestNormalizeInjectsParams(t *testing.T) {
	var ps Params
	// an IDR before any parameter set passes as it is
	out, idr, changed := ps.Normalize([][]byte{testAUD, testIDR})
	if !idr || changed || len(out) != 1 || ps.Known() {
		t.Fatalf("before params: idr=%v changed=%v out=%x", idr, changed, out)
	}
	// parameter sets seen in-band are remembered
	out, idr, changed = ps.Normalize([][]byte{testAUD, testSPS, testPPS, testIDR})
	if !idr || !changed || len(out) != 3 || !bytes.Equal(ps.SPS, testSPS) || !bytes.Equal(ps.PPS, testPPS) {
		t.Fatalf("in-band: idr=%v changed=%v out=%x", idr, changed, out)
	}
	// the same ones again are no change
	if _, _, changed = ps.Normalize([][]byte{testSPS, testPPS, testIDR}); changed {
		t.Fatal("the same parameter sets reported as a change")
	}
	// an IDR without them gets them in front; AUDs, empty units and the
	// types RTP would misread (a STAP-A, 24) dropped
	out, idr, _ = ps.Normalize([][]byte{testAUD, {}, {0x38, 0x01}, testIDR})
	if !idr || len(out) != 3 || NALUType(out[0]) != h264.NALUTypeSPS || NALUType(out[1]) != h264.NALUTypePPS || NALUType(out[2]) != h264.NALUTypeIDR {
		t.Fatalf("injected: idr=%v out=%x", idr, out)
	}
	// an IDR with only a new PPS gets the known SPS and the new PPS, once each
	newPPS := []byte{0x68, 0xce, 0x3c, 0x81}
	out, _, changed = ps.Normalize([][]byte{newPPS, testIDR})
	if !changed || len(out) != 3 || !bytes.Equal(out[0], testSPS) || !bytes.Equal(out[1], newPPS) {
		t.Fatalf("new PPS: changed=%v out=%x", changed, out)
	}
	// parameter sets after the IDR slice move in front of it
	out, _, _ = ps.Normalize([][]byte{testSPS, testIDR, testPPS})
	if len(out) != 3 || !bytes.Equal(out[0], testSPS) || !bytes.Equal(out[1], testPPS) || NALUType(out[2]) != h264.NALUTypeIDR {
		t.Fatalf("PPS after the IDR: out=%x", out)
	}
	// non-IDR untouched
	out, idr, _ = ps.Normalize([][]byte{testP})
	if idr || len(out) != 1 {
		t.Fatalf("P frame: idr=%v out=%x", idr, out)
	}
	// the input is copied
	in := [][]byte{append([]byte(nil), testP...)}
	out, _, _ = ps.Normalize(in)
	in[0][1] = 0
	if out[0][1] == 0 {
		t.Fatal("the access unit shares the caller's buffer")
	}
}

func TestClockKeepsTimeIncreasing(t *testing.T) {
	var c Clock
	frame := time.Second / 15
	const step = ClockRate / 15
	var got []int64
	for i := range 3 {
		got = append(got, c.Ticks(10*time.Second+time.Duration(i)*frame))
	}
	if got[0] != 10*ClockRate || got[1] != got[0]+step || got[2] != got[1]+step {
		t.Fatalf("increasing times changed: %v", got)
	}
	// an encoder restarting at 0 continues one frame after the last one,
	// and its later frames keep their spacing
	a := c.Ticks(0)
	b := c.Ticks(frame)
	if a != got[2]+step || b != a+step {
		t.Fatalf("after the restart: %d, %d (last %d)", a, b, got[2])
	}
	// a repeated time moves on too
	if d := c.Ticks(frame); d != b+step {
		t.Fatalf("repeated time: %d after %d", d, b)
	}
	// a gap keeps the last frame interval, not the gap
	g := c.Ticks(5 * time.Second)
	if r := c.Ticks(0); r != g+step {
		t.Fatalf("after a gap: %d after %d", r, g)
	}
	// a fresh clock without a known interval assumes 30 fps
	var fresh Clock
	fresh.Ticks(time.Second)
	if r := fresh.Ticks(time.Second); r != ClockRate+defaultStep {
		t.Fatalf("first repeat: %d", r)
	}
	// durations beyond 28 hours do not overflow
	if v := ticksOf(100 * 24 * time.Hour); v != 100*24*3600*ClockRate {
		t.Fatalf("100 days: %d", v)
	}
}

func TestPacketizerSizesAndTimestamps(t *testing.T) {
	p, err := NewPacketizer()
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 20000)
	big[0] = 0x65
	pkts, err := p.Packetize(ClockRate, [][]byte{testSPS, testPPS, big})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 17 {
		t.Fatalf("%d packets for 20 kB", len(pkts))
	}
	for i, pkt := range pkts {
		if len(pkt.Payload) > PayloadMaxSize || pkt.MarshalSize() > PayloadMaxSize+12 {
			t.Fatalf("packet %d: payload %d bytes", i, len(pkt.Payload))
		}
		if pkt.Timestamp != pkts[0].Timestamp || pkt.PayloadType != PayloadType || pkt.Marker != (i == len(pkts)-1) {
			t.Fatalf("packet %d: %+v", i, pkt.Header)
		}
		if i > 0 && pkt.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, pkt.SequenceNumber, pkts[i-1].SequenceNumber)
		}
	}
	next, err := p.Packetize(ClockRate+6000, [][]byte{testP})
	if err != nil {
		t.Fatal(err)
	}
	if next[0].Timestamp-pkts[0].Timestamp != 6000 || next[0].SequenceNumber != pkts[len(pkts)-1].SequenceNumber+1 {
		t.Fatalf("next access unit: ts +%d, seq %d", next[0].Timestamp-pkts[0].Timestamp, next[0].SequenceNumber)
	}
	// the packets decode back to the access unit
	dec := &rtph264.Decoder{}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var au [][]byte
	for _, pkt := range pkts {
		if au, err = dec.Decode(pkt); err != nil && err != rtph264.ErrMorePacketsNeeded {
			t.Fatal(err)
		}
	}
	if len(au) != 3 || !bytes.Equal(au[2], big) {
		t.Fatalf("decoded %d NALUs", len(au))
	}
}

// FuzzNormalize: for any access unit (NAL units split at 0xff bytes) the
// output holds no AUD, empty or unspecified unit, both parameter sets come before an
// IDR slice once they are known, and the packets decode back to the output.
func FuzzNormalize(f *testing.F) {
	f.Add(bytes.Join([][]byte{testAUD, testSPS, testPPS, testIDR}, []byte{0xff}), []byte{0x65, 0x01})
	f.Add([]byte{0x09, 0xf0, 0xff, 0x41, 0x9a}, []byte{})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var ps Params
		pack, err := NewPacketizer()
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{first, second} {
			if bytes.Contains(in, []byte{0, 0, 0}) || bytes.Contains(in, []byte{0, 0, 1}) || bytes.Contains(in, []byte{0, 0, 2}) {
				t.Skip("not NAL units: they never hold 00 00 00, 00 00 01 or 00 00 02 (emulation prevention)")
			}
			out, idr, _ := ps.Normalize(bytes.Split(in, []byte{0xff}))
			for _, n := range out {
				if typ := NALUType(n); typ == 0 || typ >= 24 || typ == h264.NALUTypeAccessUnitDelimiter {
					t.Fatalf("unit of type %d kept: %x", typ, out)
				}
			}
			if idr && ps.Known() {
				i := slices.IndexFunc(out, func(n []byte) bool { return NALUType(n) == h264.NALUTypeIDR })
				before := func(typ h264.NALUType) bool {
					return slices.ContainsFunc(out[:i], func(n []byte) bool { return NALUType(n) == typ })
				}
				if !before(h264.NALUTypeSPS) || !before(h264.NALUTypePPS) {
					t.Fatalf("IDR without its parameter sets before it: %x", out)
				}
			}
			if len(out) == 0 {
				continue
			}
			pkts, err := pack.Packetize(0, out)
			if err != nil {
				t.Fatal(err)
			}
			dec := &rtph264.Decoder{}
			if err := dec.Init(); err != nil {
				t.Fatal(err)
			}
			var back [][]byte
			for _, pkt := range pkts {
				if len(pkt.Payload) > PayloadMaxSize {
					t.Fatalf("payload of %d bytes", len(pkt.Payload))
				}
				if back, err = dec.Decode(pkt); err != nil && err != rtph264.ErrMorePacketsNeeded {
					t.Fatal(err)
				}
			}
			if len(back) != len(out) {
				t.Fatalf("decoded %d units of %d", len(back), len(out))
			}
		}
	})
}
