package embedded

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/sdp"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
)

// announceSDP is an ANNOUNCE body like ffmpeg's, with the SPS and PPS in
// sprop-parameter-sets.
func announceSDP(sps, pps []byte) []byte {
	return []byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"a=tool:libavformat\r\nm=video 0 RTP/AVP 96\r\nb=AS:200\r\na=rtpmap:96 H264/90000\r\n" +
		"a=fmtp:96 packetization-mode=1; sprop-parameter-sets=" + base64.StdEncoding.EncodeToString(sps) + "," +
		base64.StdEncoding.EncodeToString(pps) + "; profile-level-id=42C016\r\na=control:streamid=0\r\n")
}

// framePackets frames RTP packets as FuzzPublisherInput reads them: a
// 2-byte big-endian length before each.
func framePackets(t testing.TB, pkts []*rtp.Packet) []byte {
	var out []byte
	for _, p := range pkts {
		raw, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(raw)))
		out = append(out, raw...)
	}
	return out
}

// maxFuzzPackets bounds one input's work.
const maxFuzzPackets = 64

// FuzzPublisherInput feeds what an RTSP publisher controls through our
// handling of it: the ANNOUNCE SDP (parsed as gortsplib does, then our
// choice of the H.264 track, its decoder and parameter sets, and the SDP
// readers are DESCRIBEd with), then RTP packets through the depacketizer
// into buildAccessUnit and the track description of the SPS that leaves.
// Nothing may panic, and every access unit keeps its invariants.
func FuzzPublisherInput(f *testing.F) {
	var h264f format.H264
	h264f.PayloadTyp, h264f.PacketizationMode = 96, 1
	enc, err := h264f.CreateEncoder()
	if err != nil {
		f.Fatal(err)
	}
	big := append([]byte{0x65}, bytes.Repeat([]byte{0x88, 0x84, 0x21}, 1000)...) // fragmented (FU-A)
	var seeds []*rtp.Packet
	for _, au := range [][][]byte{{testAUD, testSPS, testPPS, testIDR}, {testP}, {big}, {testIDR}} {
		pkts, err := enc.Encode(au)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, pkts...)
	}
	f.Add(announceSDP(testSPS, testPPS), framePackets(f, seeds))
	f.Add(announceSDP(testSPS, testPPS), framePackets(f, seeds[len(seeds)-1:])) // an IDR without in-band parameters
	f.Add(announceSDP([]byte{0x67}, []byte{0x68}), framePackets(f, seeds[:1]))  // truncated parameter sets
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"), []byte{})
	f.Add([]byte("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=2\r\n"), []byte{0, 1, 0x80})

	f.Fuzz(func(t *testing.T, body, packets []byte) {
		var sd sdp.SessionDescription
		if sd.Unmarshal(body) != nil {
			return
		}
		var desc description.Session
		if desc.Unmarshal(&sd) != nil {
			return
		}
		if _, err := desc.Marshal(); err != nil { // what DESCRIBE answers readers
			return
		}
		video, err := announcedVideo(&desc)
		if err != nil {
			return
		}
		if (video.sps == nil) != (video.pps == nil) {
			t.Fatalf("one parameter set without the other: %x %x", video.sps, video.pps)
		}
		h264TrackInfo(video.sps)
		ps := h264rtp.Params{SPS: video.sps, PPS: video.pps}
		for n := 0; len(packets) >= 2 && n < maxFuzzPackets; n++ {
			size := int(binary.BigEndian.Uint16(packets))
			packets = packets[2:]
			if size > len(packets) {
				size = len(packets)
			}
			raw := packets[:size]
			packets = packets[size:]
			var pkt rtp.Packet
			if pkt.Unmarshal(raw) != nil {
				continue
			}
			nalus, err := video.decoder.Decode(&pkt)
			if err != nil || len(nalus) == 0 {
				continue
			}
			out, idr, _ := ps.Normalize(nalus)
			checkAccessUnit(t, nalus, out, idr, ps.SPS, ps.PPS)
			h264TrackInfo(ps.SPS)
		}
	})
}

// checkAccessUnit checks what Normalize made of nalus: no AUDs, its
// own copies of every NALU, and an IDR led by SPS and PPS once both are
// known.
func checkAccessUnit(t *testing.T, nalus, out [][]byte, idr bool, sps, pps []byte) {
	t.Helper()
	for _, n := range out {
		if h264rtp.NALUType(n) == h264.NALUTypeAccessUnitDelimiter {
			t.Fatal("an AUD was kept")
		}
		for _, in := range nalus {
			if len(n) > 0 && len(in) > 0 && &n[0] == &in[0] {
				t.Fatal("an output NALU shares memory with the depacketizer's")
			}
		}
	}
	if idr && sps != nil && pps != nil {
		hasSPS, hasPPS := false, false
		for _, n := range out {
			hasSPS = hasSPS || h264rtp.NALUType(n) == h264.NALUTypeSPS
			hasPPS = hasPPS || h264rtp.NALUType(n) == h264.NALUTypePPS
		}
		if !hasSPS || !hasPPS {
			t.Fatalf("an IDR without SPS and PPS: %d NALUs", len(out))
		}
	}
}
