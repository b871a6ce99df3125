package encoder

import (
	"encoding/binary"
	"fmt"
	"io"
)

// H.264 NAL unit types the splitter looks at.
const (
	nalIDR = 5
	nalSPS = 7
	nalPPS = 8
)

// AVC video tags (FLV section E.4.3.1).
const (
	codecAVC       = 7
	avcSequenceHdr = 0
	avcNALU        = 1
	avcEndOfSeq    = 2
)

// encodedFrame is one frame of the encoder's output: its FLV timestamp and
// its access unit. NALUs is nil when the frame cannot be delivered (larger
// than the cap, or a frame that depends on one that was not delivered); it
// still counts as a frame, so timestamps stay paired.
type encodedFrame struct {
	MS    uint32
	NALUs [][]byte
	IDR   bool
}

// splitter turns ffmpeg's FLV into access units: NAL units without start
// codes or length prefixes, with SPS and PPS (from the sequence header, or
// the latest in-band ones) in front of every IDR that lacks them, and
// nothing delivered until the first IDR or after an undeliverable frame
// until the next IDR, so every delivered access unit decodes.
type splitter struct {
	flv        *flvReader
	lengthSize int // NAL length prefix size from the sequence header; 0: none yet
	sps, pps   [][]byte
	needIDR    bool
}

func newSplitter(r io.Reader, maxAU int) *splitter {
	return &splitter{flv: newFLVReader(r, maxAU+5), needIDR: true} // + the AVC tag header
}

// next returns the next frame. Errors are those of flvReader, or wrap
// errCorrupt for a video tag that is not H.264 in AVCC form.
func (s *splitter) next() (encodedFrame, error) {
	for {
		tag, err := s.flv.next()
		if err != nil {
			return encodedFrame{}, err
		}
		if tag.Type != tagVideo {
			continue // metadata
		}
		if tag.Body == nil { // too large to read
			s.needIDR = true
			return encodedFrame{MS: tag.MS}, nil
		}
		b := tag.Body
		if len(b) < 5 || b[0]&0x0f != codecAVC {
			return encodedFrame{}, fmt.Errorf("%w: video tag is not H.264", errCorrupt)
		}
		payload := b[5:] // after codec, AVCPacketType and CompositionTime
		switch b[1] {
		case avcSequenceHdr:
			if err := s.config(payload); err != nil {
				return encodedFrame{}, err
			}
		case avcNALU:
			return s.frame(tag.MS, payload)
		case avcEndOfSeq:
		default:
			return encodedFrame{}, fmt.Errorf("%w: AVC packet type %d", errCorrupt, b[1])
		}
	}
}

// config reads an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1).
func (s *splitter) config(b []byte) error {
	bad := fmt.Errorf("%w: bad AVC sequence header", errCorrupt)
	if len(b) < 6 || b[0] != 1 {
		return bad
	}
	lengthSize := int(b[4]&3) + 1
	if lengthSize == 3 {
		return bad
	}
	var sets [2][][]byte
	count, p := int(b[5]&0x1f), 6
	for i, typ := range []byte{nalSPS, nalPPS} {
		for range count {
			if p+2 > len(b) {
				return bad
			}
			n := int(binary.BigEndian.Uint16(b[p:]))
			p += 2
			if n == 0 || p+n > len(b) || b[p]&0x1f != typ {
				return bad
			}
			sets[i] = append(sets[i], b[p:p+n])
			p += n
		}
		if i == 0 {
			if p >= len(b) {
				return bad
			}
			count = int(b[p])
			p++
		}
	}
	if len(sets[0]) == 0 || len(sets[1]) == 0 {
		return bad
	}
	s.lengthSize, s.sps, s.pps = lengthSize, sets[0], sets[1]
	return nil
}

// frame splits the length-prefixed NAL units of one access unit.
func (s *splitter) frame(ms uint32, b []byte) (encodedFrame, error) {
	if s.lengthSize == 0 {
		return encodedFrame{}, fmt.Errorf("%w: H.264 frame before the sequence header", errCorrupt)
	}
	count := 0
	for p := 0; p < len(b); count++ {
		if p+s.lengthSize > len(b) {
			return encodedFrame{}, fmt.Errorf("%w: truncated NAL length", errCorrupt)
		}
		size := naluLength(b[p:], s.lengthSize)
		p += s.lengthSize
		if size > len(b)-p {
			return encodedFrame{}, fmt.Errorf("%w: NAL unit of %d bytes in %d", errCorrupt, size, len(b)-p)
		}
		p += size
	}
	// Room in front for the parameter sets, so the slice is made once.
	params := len(s.sps) + len(s.pps)
	nalus := make([][]byte, params, params+count)
	var idr, sps, pps bool
	for p := 0; p < len(b); {
		size := naluLength(b[p:], s.lengthSize)
		p += s.lengthSize
		nalu := b[p : p+size : p+size]
		p += size
		if size == 0 {
			continue
		}
		switch nalu[0] & 0x1f {
		case nalIDR:
			idr = true
		case nalSPS:
			sps = true
		case nalPPS:
			pps = true
		}
		nalus = append(nalus, nalu)
	}
	f := encodedFrame{MS: ms, IDR: idr}
	switch {
	case idr:
		s.needIDR = false
	case s.needIDR || len(nalus) == params:
		return f, nil
	}
	if idr && !(sps && pps) {
		copy(nalus, s.sps)
		copy(nalus[len(s.sps):], s.pps)
		f.NALUs = nalus
	} else {
		f.NALUs = nalus[params:]
	}
	return f, nil
}

func naluLength(b []byte, size int) int {
	switch size {
	case 1:
		return int(b[0])
	case 2:
		return int(binary.BigEndian.Uint16(b))
	default:
		return int(binary.BigEndian.Uint32(b))
	}
}
