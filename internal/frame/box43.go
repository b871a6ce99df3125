package frame

// The exact 4:3 box filter (the portrait case: 1080x1920 halved to
// 540x960, then 405x720).
//
// When the resample left after any halving is exactly 4:3 on both axes,
// every 4x4 block of source pixels becomes 3x3 output pixels, and per axis
// the area filter is (3a+b)/4, (b+c)/2, (c+3d)/4. Contain then runs this
// kernel (vbox43, hbox43) instead of the general two-tap passes, on CPUs
// where it has a SIMD version (box43_amd64.s: AVX2), as with box32.go.
//
// Rounding: the vertical pass rounds half up, (3a+b+2)>>2 and (b+c+1)>>1,
// each off by -1/4 to +1/2; the horizontal pass rounds half down,
// (3a+b+1)>>2 and (b+c)>>1, off by -1/2 to +1/4. Together every byte is
// within 3/4 of the exact filter, so within ±1 of its rounding, with no
// bias on average; flat colours are exact.

// isBox43 reports whether resampling rw x rh to w x h is exactly 4:3 on
// both axes.
func isBox43(rw, rh, w, h int) bool { return rw*3 == w*4 && rh*3 == h*4 }

// vbox43Go is the vertical pass from byte i on: d = avgUp(x, avgDown(y, z))
// per byte. With (x, y, z) = (a, a, b) that is (3a+b+2)>>2: (a+b)>>1 is
// (a+b)/2 rounded down, and averaging it with a rounding up lands on the
// nearest quarter, halves up. With (b, c, c) it is (b+c+1)>>1.
func vbox43Go(d, x, y, z []byte, i int) {
	n := len(d)
	x, y, z = x[:n], y[:n], z[:n]
	for ; i < n; i++ {
		m := (uint(y[i]) + uint(z[i])) >> 1
		d[i] = uint8((uint(x[i]) + m + 1) >> 1)
	}
}

// box43Weights are the weights of the two source pixels of output pixel p
// of a group of 3 (its first source pixel is pixel p of the group of 4).
var box43Weights = [3][2]uint8{{3, 1}, {2, 2}, {1, 3}}

// hbox43Go is the horizontal pass from 4-pixel group g on: every group of
// 4 pixels (12 bytes) of in becomes 3 pixels (9 bytes) of out, output byte
// o = 3p+c from source bytes o and o+3 (pixels p and p+1, channel c).
func hbox43Go(out, in []byte, g int) {
	for ; 9*g+9 <= len(out); g++ {
		s := in[12*g : 12*g+12 : 12*g+12]
		d := out[9*g : 9*g+9 : 9*g+9]
		for o := range 9 {
			w := box43Weights[o/3]
			d[o] = uint8((uint(w[0])*uint(s[o]) + uint(w[1])*uint(s[o+3]) + 1) >> 2)
		}
	}
}

// box43Row renders output row y of a 4:3 plan into out from the
// resample's source src (rows of n bytes), with ir as scratch.
func box43Row(out, src []byte, n, y int, ir *irow) {
	s := y / 3 * 4 * n
	row := func(i int) []byte { return src[s+i*n : s+(i+1)*n] }
	t := ir[:n]
	switch y % 3 {
	case 0:
		vbox43(t, row(0), row(0), row(1))
	case 1:
		vbox43(t, row(1), row(2), row(2))
	default:
		vbox43(t, row(3), row(3), row(2))
	}
	hbox43(out, t)
}
