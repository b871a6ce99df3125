package frame

import "encoding/binary"

// Halving: before a large downscale, Contain halves the source along every
// axis that shrinks by 2 or more (repeatedly), averaging pairs of pixels.
// What is left shrinks by less than 2 and takes the fast two-tap passes
// instead of the general ones: the 1080x1920 -> 1280x720 portrait case
// becomes one 2x2 halving and an exact 4:3 area resample (box43.go). The
// result is an area filter on the halved image, not the exact area filter
// on the source: on smooth content the two agree within a level or two
// (TestContainNearArea).
//
// Only even sizes are halved, so the halved image covers exactly the
// source; an odd axis goes to the general passes as it is.
//
// Rounding: one axis rounds half up; both axes average the rows rounding up
// and then the pixels rounding down, within ±0.5 of the exact mean of the
// four with no bias.

// halving is one halving stage: its output size and the axes it halves.
type halving struct {
	w, h   int
	hx, hy bool
}

// halvings lists the stages that take a sw x sh source to within a factor
// of 2 of w x h, and returns the size they end at.
func halvings(sw, sh, w, h int) (stages []halving, rw, rh int) {
	for {
		hx, hy := sw >= 2*w && sw%2 == 0, sh >= 2*h && sh%2 == 0
		if !hx && !hy {
			return stages, sw, sh
		}
		if hx {
			sw /= 2
		}
		if hy {
			sh /= 2
		}
		stages = append(stages, halving{w: sw, h: sh, hx: hx, hy: hy})
	}
}

const lo7 = 0x7f7f7f7f7f7f7f7f

// avgUp and avgDown are the per-byte means of 8 bytes, rounding half up
// and down: a+b = 2(a&b) + (a^b) = 2(a|b) - (a^b), halved lane by lane.
func avgUp(a, b uint64) uint64   { return (a | b) - ((a ^ b) >> 1 & lo7) }
func avgDown(a, b uint64) uint64 { return (a & b) + ((a ^ b) >> 1 & lo7) }

// halveRows sets dst to the byte means of r0 and r1, rounding half up.
func halveRows(dst, r0, r1 []byte) {
	n := len(dst)
	r0, r1 = r0[:n], r1[:n]
	i := 0
	if useSIMD {
		i = avgRows(dst, r0, r1)
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:i+8], avgUp(binary.LittleEndian.Uint64(r0[i:i+8]), binary.LittleEndian.Uint64(r1[i:i+8])))
	}
	for ; i < n; i++ {
		dst[i] = uint8((uint(r0[i]) + uint(r1[i]) + 1) >> 1)
	}
}

// halvePixels sets each BGR pixel of dst to the mean of source pixels 2x
// and 2x+1, rounding half up or down. One 8-byte load holds pixels 2x and
// 2x+1 in bytes 0-5; shifted by 3 bytes it lines pixel 2x+1 up with pixel
// 2x, and the low 3 bytes of their mean are the output pixel. With SIMD,
// pairMeans does the same 6 pixels at a time first (halve_amd64.s).
func halvePixels(dst, src []byte, up bool) {
	w := len(dst) / 3
	src = src[:6*w]
	x := 0
	if useSIMD {
		x = pairMeans(dst, src, up)
	}
	// Whole loads and 4-byte stores (the 4th byte is overwritten by the
	// next pixel) while they stay inside the rows.
	for ; 6*x+8 <= len(src) && 3*x+4 <= len(dst); x++ {
		u := binary.LittleEndian.Uint64(src[6*x : 6*x+8])
		var m uint64
		if up {
			m = avgUp(u, u>>24)
		} else {
			m = avgDown(u, u>>24)
		}
		binary.LittleEndian.PutUint32(dst[3*x:3*x+4], uint32(m))
	}
	r := uint(0)
	if up {
		r = 1
	}
	for ; x < w; x++ {
		s := src[6*x : 6*x+6 : 6*x+6]
		d := dst[3*x : 3*x+3 : 3*x+3]
		d[0] = uint8((uint(s[0]) + uint(s[3]) + r) >> 1)
		d[1] = uint8((uint(s[1]) + uint(s[4]) + r) >> 1)
		d[2] = uint8((uint(s[2]) + uint(s[5]) + r) >> 1)
	}
}

// halveRow renders output row y of stage st from its input in (iw pixels
// wide), into out, with tmp as scratch for a row of the input.
func halveRow(out, in []byte, iw, y int, st halving, tmp []byte) {
	n := 3 * iw
	switch {
	case st.hx && st.hy:
		t := tmp[:n]
		halveRows(t, in[2*y*n:(2*y+1)*n], in[(2*y+1)*n:(2*y+2)*n])
		halvePixels(out, t, false)
	case st.hy:
		halveRows(out, in[2*y*n:(2*y+1)*n], in[(2*y+1)*n:(2*y+2)*n])
	default:
		halvePixels(out, in[y*n:(y+1)*n], true)
	}
}
