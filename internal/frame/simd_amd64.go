package frame

import "golang.org/x/sys/cpu"

// hasSIMD: the AVX2 kernels (box32_amd64.s, halve_amd64.s) can run.
var hasSIMD = cpu.X86.HasAVX2

// vbox32AVX2 runs the vertical pass on blocks*32 bytes of each row.
//
//go:noescape
func vbox32AVX2(d0, d1, r0, r1, r2 *byte, blocks int)

// hbox32AVX2 runs the horizontal pass on blocks of 16 groups: 144 bytes of
// src (reading 146) into 96 bytes of dst.
//
//go:noescape
func hbox32AVX2(dst, src *byte, blocks int)

// vbox32 is the vertical pass over whole rows (see vbox32Go).
func vbox32(d0, d1, r0, r1, r2 []byte) {
	n := len(d0)
	d1, r0, r1, r2 = d1[:n], r0[:n], r1[:n], r2[:n]
	b := n / 32
	if b > 0 {
		vbox32AVX2(&d0[0], &d1[0], &r0[0], &r1[0], &r2[0], b)
	}
	vbox32Go(d0, d1, r0, r1, r2, 32*b)
}

// hbox32 is the horizontal pass into all of out (see hbox32Go); in must
// hold 3/2 as many bytes as out, and may hold more, which the SIMD loop
// reads (never uses) past the last block.
func hbox32(out, in []byte) {
	b := len(out) / 96
	if 144*b+2 > len(in) {
		b--
	}
	if b > 0 {
		hbox32AVX2(&out[0], &in[0], b)
	}
	hbox32Go(out, in, 16*max(b, 0))
}

// The SIMD horizontal pass works on blocks of 16 groups: 192 source bytes
// into 144 output bytes, 18 lanes of 8 output bytes. Output byte o of a
// block (group o/9, byte o%9 of it) reads source bytes box43Src(o) and
// box43Src(o)+3 with the weights of its pixel; a lane's 8 pairs come from
// one 16-byte load, shuffled into (a, b) pairs for VPMADDUBSW.
const (
	box43Lanes = 18
	box43Block = 192 // source bytes of a block
)

func box43Src(o int) int { return 12*(o/9) + o%9 }

// box43Load is the offset of lane u's load: its first source byte, or
// earlier for the last lane so that a block reads only its own 192 bytes.
// box43_amd64.s has these offsets as constants.
func box43Load(u int) int { return min(box43Src(8*u), box43Block-16) }

// box43Tab holds each lane's shuffle (mask) and weights, in the order the
// SIMD pass reads them: registers of two lanes (u, u+1).
type box43Tab struct {
	mask, weight [box43Lanes][16]uint8
}

var box43Table = func() (t box43Tab) {
	for u := range box43Lanes {
		for j := range 8 {
			o := 8*u + j
			s := box43Src(o) - box43Load(u)
			t.mask[u][2*j], t.mask[u][2*j+1] = uint8(s), uint8(s+3)
			w := box43Weights[o%9/3]
			t.weight[u][2*j], t.weight[u][2*j+1] = w[0], w[1]
		}
	}
	return t
}()

// vbox43AVX2 runs the 4:3 vertical pass on blocks*32 bytes of each row.
//
//go:noescape
func vbox43AVX2(d, x, y, z *byte, blocks int)

// hbox43AVX2 runs the 4:3 horizontal pass on blocks of 16 groups: 192
// bytes of src into 144 bytes of dst.
//
//go:noescape
func hbox43AVX2(dst, src *byte, tab *box43Tab, blocks int)

// vbox43 is the 4:3 vertical pass over whole rows (see vbox43Go). Rows of
// 32 bytes or more end with one more block, overlapping the last: it
// rewrites the same values, faster than a scalar tail.
func vbox43(d, x, y, z []byte) {
	n := len(d)
	x, y, z = x[:n], y[:n], z[:n]
	b := n / 32
	if b == 0 {
		vbox43Go(d, x, y, z, 0)
		return
	}
	vbox43AVX2(&d[0], &x[0], &y[0], &z[0], b)
	if e := n - 32; e > 32*(b-1) {
		vbox43AVX2(&d[e], &x[e], &y[e], &z[e], 1)
	}
}

// hbox43 is the 4:3 horizontal pass into all of out (see hbox43Go); in
// holds 4/3 as many bytes. As in vbox43, rows of 16 groups or more end
// with one more block overlapping the last (a scalar tail of up to 15
// groups took about as long as the whole SIMD row).
func hbox43(out, in []byte) {
	g := len(out) / 9
	in = in[:12*g]
	b := g / 16
	if b == 0 {
		hbox43Go(out, in, 0)
		return
	}
	hbox43AVX2(&out[0], &in[0], &box43Table, b)
	if e := g - 16; e > 16*(b-1) {
		hbox43AVX2(&out[9*e], &in[12*e], &box43Table, 1)
	}
}

// avgRowsAVX2 sets blocks*32 bytes of dst to the means of r0 and r1,
// rounding half up (VPAVGB).
//
//go:noescape
func avgRowsAVX2(dst, r0, r1 *byte, blocks int)

// halvePixelsAVX2 averages pixel pairs (see halvePixels) in blocks of 6
// output pixels: 36 bytes of src (reading 37) into 18 bytes of dst (writing
// 25), rounding half up (flip 0) or down (flip all ones).
//
//go:noescape
func halvePixelsAVX2(dst, src *byte, blocks int, flip uint64)

// pairMeans averages the pixel pairs of src into the first 6*k pixels of
// dst for the largest k whose blocks stay inside both, and returns 6*k.
func pairMeans(dst, src []byte, up bool) int {
	b := min((len(dst)-7)/18, (len(src)-1)/36)
	if b <= 0 {
		return 0
	}
	flip := ^uint64(0)
	if up {
		flip = 0
	}
	halvePixelsAVX2(&dst[0], &src[0], b, flip)
	return 6 * b
}

// avgRows sets the first 32*k bytes of dst to the means of r0 and r1
// (rounding half up) for the largest such k, and returns 32*k.
func avgRows(dst, r0, r1 []byte) int {
	b := min(len(dst), len(r0), len(r1)) / 32
	if b > 0 {
		avgRowsAVX2(&dst[0], &r0[0], &r1[0], b)
	}
	return 32 * b
}
