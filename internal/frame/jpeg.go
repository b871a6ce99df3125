package frame

import "encoding/binary"

// jpegLayout is what the markers before a JPEG's first scan say about the
// memory image/jpeg will need: the components' sampling factors, whether
// the image is progressive, and whether it ends up converted to RGBA.
type jpegLayout struct {
	comps       [][2]int // horizontal, vertical sampling factor of each component
	progressive bool
	rgb         bool // Adobe APP14 or R, G, B component ids: converted through image.RGBA
}

// scanJPEG reads the markers of a JPEG up to its frame header (SOFn).
// It reports false when it finds no well-formed frame header.
func scanJPEG(b []byte) (jpegLayout, bool) {
	var l jpegLayout
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return l, false
	}
	b = b[2:]
	for {
		// A marker is 0xff (any number of them: fill bytes) and a code.
		i := 0
		for i < len(b) && b[i] == 0xff {
			i++
		}
		if i == 0 || i >= len(b) {
			return l, false
		}
		m := b[i]
		b = b[i+1:]
		if m == 0x01 || (m >= 0xd0 && m <= 0xd8) {
			continue // no segment
		}
		if m == 0xd9 || m == 0xda || len(b) < 2 {
			return l, false // the end, or a scan, before any frame header
		}
		n := int(binary.BigEndian.Uint16(b))
		if n < 2 || n > len(b) {
			return l, false
		}
		seg := b[2:n]
		b = b[n:]
		switch {
		case m == 0xee && len(seg) >= 5 && string(seg[:5]) == "Adobe":
			l.rgb = true
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			if len(seg) < 6 || len(seg) < 6+3*int(seg[5]) || seg[5] == 0 {
				return l, false
			}
			l.progressive = m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce
			ids := ""
			for c := range int(seg[5]) {
				p := seg[6+3*c:]
				h, v := int(p[1]>>4), int(p[1]&0x0f)
				if h == 0 || v == 0 {
					return l, false
				}
				l.comps = append(l.comps, [2]int{h, v})
				ids += string(p[0])
			}
			l.rgb = l.rgb || ids == "RGB"
			return l, true
		}
	}
}

// jpegCost is about how many bytes image/jpeg and FromImage allocate
// decoding a width x height JPEG: the component planes padded to whole
// MCUs, 4 bytes a sample more for progressive coefficients, an RGBA or
// CMYK image when the components are not plain YCbCr or gray, and the
// frame. Without a readable frame header it assumes the worst.
func jpegCost(body []byte, width, height int) int64 {
	px := int64(width) * int64(height)
	l, ok := scanJPEG(body)
	if !ok {
		l = jpegLayout{comps: [][2]int{{1, 1}, {1, 1}, {1, 1}, {1, 1}}, progressive: true, rgb: true}
	}
	hmax, vmax := 1, 1
	for _, c := range l.comps {
		hmax, vmax = max(hmax, c[0]), max(vmax, c[1])
	}
	mcux := int64((width + 8*hmax - 1) / (8 * hmax))
	mcuy := int64((height + 8*vmax - 1) / (8 * vmax))
	var planes int64
	for _, c := range l.comps {
		planes += 8 * int64(c[0]) * mcux * 8 * int64(c[1]) * mcuy
	}
	cost := planes + 3*px
	if l.progressive {
		cost += 4 * planes
	}
	if len(l.comps) == 4 || (len(l.comps) == 3 && l.rgb) {
		cost += 4 * px
	}
	return cost
}
