package testpattern

import (
	"slices"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
)

// The picture: 75% colour bars over the top two thirds, a white square
// that sweeps across them and back once every two seconds (so a frozen
// stream is seen at once), and the wall clock in seven-segment digits on a
// dark strip below. Drawn in Go: the background is built once and each
// frame is a copy of it with the square and the clock on top, a few
// hundred microseconds at this size.

// Layout, in pixels of the width x height frame.
const (
	barsHeight = height * 2 / 3
	boxSize    = 48
	boxY       = (barsHeight - boxSize) / 2
	// sweepFrames is one pass of the square from the left edge to the
	// right one; it comes back in as many.
	sweepFrames = fps
	digitW      = 28
	digitH      = 56
	segment     = 6 // segment thickness
	digitGap    = 10
	clockX      = 24
	clockY      = barsHeight + (height-barsHeight-digitH)/2
)

type bgr [3]byte

var (
	white = bgr{255, 255, 255}
	strip = bgr{40, 40, 40}
	// bars are the 75% colour bars, left to right: white, yellow, cyan,
	// green, magenta, red, blue.
	bars = []bgr{{191, 191, 191}, {0, 191, 191}, {191, 191, 0}, {0, 191, 0}, {191, 0, 191}, {0, 0, 191}, {191, 0, 0}}
)

// digitSegments are the lit segments of 0..9, bit i for segment "abcdefg"[i]:
// a top, b top right, c bottom right, d bottom, e bottom left, f top left,
// g middle.
var digitSegments = [10]uint8{0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f}

var background = sync.OnceValue(func() []byte {
	data := make([]byte, width*height*3)
	f := &frame.Frame{Width: width, Height: height, Data: data}
	for i, c := range bars {
		x0, x1 := i*width/len(bars), (i+1)*width/len(bars)
		fill(f, x0, 0, x1-x0, barsHeight, c)
	}
	fill(f, 0, barsHeight, width, height-barsHeight, strip)
	return data
})

// draw returns frame n of the pattern, showing the clock at now. The frame
// is new: the encoder may still be reading the previous one.
func draw(n uint64, now time.Time) *frame.Frame {
	f := &frame.Frame{Width: width, Height: height, Data: slices.Clone(background())}
	fill(f, boxX(n), boxY, boxSize, boxSize, white)
	x := clockX
	for _, r := range now.Format("15:04:05") {
		if r == ':' {
			fill(f, x, clockY+digitH/4, segment, segment, white)
			fill(f, x, clockY+3*digitH/4-segment, segment, segment, white)
			x += segment + digitGap
			continue
		}
		drawDigit(f, x, clockY, int(r-'0'))
		x += digitW + digitGap
	}
	return f
}

// boxX is the square's left edge in frame n: a triangle wave between the
// left and right edges.
func boxX(n uint64) int {
	travel := uint64(width - boxSize)
	step := n % (2 * sweepFrames)
	if step > sweepFrames {
		step = 2*sweepFrames - step
	}
	return int(step * travel / sweepFrames)
}

func drawDigit(f *frame.Frame, x, y, d int) {
	half := digitH / 2
	rects := [7][4]int{
		{x, y, digitW, segment},                         // a
		{x + digitW - segment, y, segment, half},        // b
		{x + digitW - segment, y + half, segment, half}, // c
		{x, y + digitH - segment, digitW, segment},      // d
		{x, y + half, segment, half},                    // e
		{x, y, segment, half},                           // f
		{x, y + half - segment/2, digitW, segment},      // g
	}
	for i, r := range rects {
		if digitSegments[d]&(1<<i) != 0 {
			fill(f, r[0], r[1], r[2], r[3], white)
		}
	}
}

// fill paints a rectangle, which must lie inside f.
func fill(f *frame.Frame, x, y, w, h int, c bgr) {
	row := f.Data[(y*f.Width+x)*3 : (y*f.Width+x+w)*3]
	for i := 0; i < len(row); i += 3 {
		copy(row[i:], c[:])
	}
	for r := 1; r < h; r++ {
		off := ((y+r)*f.Width + x) * 3
		copy(f.Data[off:off+w*3], row)
	}
}
