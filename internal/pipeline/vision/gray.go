package vision

import "github.com/toposync/toposync-streaming/internal/frame"

// grayImage is an 8-bit gray image at analysis resolution: pixel (x, y)
// averages the scale x scale block of the full frame at (x*scale, y*scale).
// The right and bottom remainders of the frame (fewer than scale pixels)
// are not covered.
type grayImage struct {
	w, h, scale int
	pix         []uint8
	acc         []uint32 // per-row channel sums, reused
}

// scaleFor returns the integer downscale factor that brings a width x height
// frame to at most target pixels wide (never less than one row).
func scaleFor(width, height, target int) int {
	s := max(1, (width+target-1)/target)
	return min(s, height, width)
}

// load fills g with a gray, downscaled copy of f (f must be usable), at most
// target pixels wide. It reuses g's buffers. Each output pixel averages a
// regular grid of samples of its block: every pixel for a block up to 3x3,
// a 2x2 grid (stride s/2) for larger blocks, which keeps the cost at about
// four pixel reads per output pixel whatever the input size.
func (g *grayImage) load(f *frame.Frame, target int) {
	s := scaleFor(f.Width, f.Height, target)
	w, h := f.Width/s, f.Height/s
	g.w, g.h, g.scale = w, h, s
	if cap(g.pix) < w*h {
		g.pix = make([]uint8, w*h)
	}
	g.pix = g.pix[:w*h]
	if cap(g.acc) < 3*w {
		g.acc = make([]uint32, 3*w)
	}
	acc := g.acc[:3*w]
	step := 1
	if s >= 4 {
		step = s / 2
	}
	// Sample offsets inside a block, centred: 0..s-1 by step.
	first := (s - (s-1)/step*step) / 2
	n := uint32((s-1)/step + 1)
	div := n * n * 256
	stride := f.Width * 3
	for by := range h {
		clear(acc)
		for r := first; r < s; r += step {
			off := (by*s + r) * stride
			row := f.Data[off : off+w*s*3]
			for bx := range w {
				blk := row[bx*s*3 : (bx+1)*s*3]
				var b, gg, rr uint32
				for k := 3 * first; k+2 < len(blk); k += 3 * step {
					b += uint32(blk[k])
					gg += uint32(blk[k+1])
					rr += uint32(blk[k+2])
				}
				a := acc[3*bx : 3*bx+3 : 3*bx+3]
				a[0] += b
				a[1] += gg
				a[2] += rr
			}
		}
		out := g.pix[by*w : (by+1)*w]
		for bx := range out {
			a := acc[3*bx : 3*bx+3 : 3*bx+3]
			out[bx] = uint8((29*a[0] + 150*a[1] + 77*a[2]) / div)
		}
	}
}
