package frame

// The exact 3:2 box filter (the 1080p -> 720p case).
//
// When the resample left after any halving is exactly 3:2 on both axes,
// every 3x3 block of source pixels becomes 2x2 output pixels, and per axis
// the area filter is out0 = (2a+b)/3, out1 = (b+2c)/3. Contain then runs
// this kernel (vbox32, hbox32) instead of the general two-tap passes, on
// CPUs where it has a SIMD version (box32_amd64.s: AVX2); elsewhere the
// general passes stay, as they are faster than these scalar loops.
//
// Precision: both passes round to bytes, round((2a+b)/3) = (2a+b+1)/3 (an
// error of at most 1/3 each). The horizontal pass moves the vertical
// errors by at most 1/3, and adds its own 1/3: the result is within 2/3 of
// the exact filter, so within ±1 of its rounding; flat colours are exact.

// isBox32 reports whether resampling rw x rh to w x h is exactly 3:2 on
// both axes.
func isBox32(rw, rh, w, h int) bool { return rw*2 == w*3 && rh*2 == h*3 }

// third is round(s/3) for s = 2a+b of two bytes.
func third(s uint) uint8 { return uint8((s + 1) / 3) }

// vbox32Go is the vertical pass from byte i on: three source rows r0, r1,
// r2 into the two rows d0 = (2*r0+r1)/3 and d1 = (r1+2*r2)/3.
func vbox32Go(d0, d1, r0, r1, r2 []byte, i int) {
	n := len(d0)
	d1, r0, r1, r2 = d1[:n], r0[:n], r1[:n], r2[:n]
	for ; i < n; i++ {
		b := uint(r1[i])
		d0[i] = third(2*uint(r0[i]) + b)
		d1[i] = third(2*uint(r2[i]) + b)
	}
}

// hbox32Go is the horizontal pass from 3-pixel group g on: every group of
// 3 pixels (9 bytes) of in becomes 2 pixels (6 bytes) of out.
func hbox32Go(out, in []byte, g int) {
	for ; 6*g+6 <= len(out); g++ {
		s := in[9*g : 9*g+9 : 9*g+9]
		d := out[6*g : 6*g+6 : 6*g+6]
		for c := range 3 {
			b := uint(s[3+c])
			d[c] = third(2*uint(s[c]) + b)
			d[3+c] = third(2*uint(s[6+c]) + b)
		}
	}
}

// box32Rows renders output rows y and y+1 of a 3:2 plan into o0 and o1
// from the resample's source src (rows of n bytes), with ir as scratch.
func box32Rows(o0, o1, src []byte, n, y int, ir *irow) {
	s := y / 2 * 3 * n
	d0, d1 := ir[:n], ir[n:2*n]
	vbox32(d0, d1, src[s:s+n], src[s+n:s+2*n], src[s+2*n:s+3*n])
	// The SIMD horizontal pass reads up to 2 bytes past a block: the rows
	// are given with what follows them in ir.
	hbox32(o0, ir[:n+2])
	hbox32(o1, ir[n:2*n+2])
}
