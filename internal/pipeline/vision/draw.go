package vision

import (
	"strconv"

	"github.com/toposync/toposync-streaming/internal/frame"
)

// bgr is a colour, blue first.
type bgr [3]uint8

var (
	detectColour = bgr{0, 255, 0} // bright green
	// palette holds bright, distinct colours for track ids and instances.
	palette = []bgr{
		{0, 255, 255},   // yellow
		{255, 0, 255},   // magenta
		{255, 255, 0},   // cyan
		{0, 128, 255},   // orange
		{0, 255, 0},     // green
		{255, 128, 0},   // azure
		{128, 0, 255},   // pink-red
		{0, 255, 128},   // lime
		{255, 0, 128},   // violet
		{128, 255, 255}, // light yellow
	}
)

// colourFor returns the palette colour of id (ids from 1).
func colourFor(id int) bgr {
	return palette[(max(id, 1)-1)%len(palette)]
}

// cloneFrame returns a new frame with a copy of f's pixels.
func cloneFrame(f *frame.Frame) *frame.Frame {
	n := f.Width * f.Height * 3
	data := make([]byte, n)
	copy(data, f.Data[:n])
	return &frame.Frame{Width: f.Width, Height: f.Height, Data: data}
}

// fillRect paints [x0,x1) x [y0,y1), clipped to f, with c. f must be a frame
// this package just made (never an emitted one).
func fillRect(f *frame.Frame, x0, y0, x1, y1 int, c bgr) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, f.Width), min(y1, f.Height)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	stride := f.Width * 3
	row := f.Data[y0*stride+x0*3 : y0*stride+x1*3]
	for i := 0; i < len(row); i += 3 {
		row[i], row[i+1], row[i+2] = c[0], c[1], c[2]
	}
	for y := y0 + 1; y < y1; y++ {
		copy(f.Data[y*stride+x0*3:y*stride+x1*3], row)
	}
}

// drawBox outlines b on f with lines t pixels thick, inside the box.
func drawBox(f *frame.Frame, b Box, t int, c bgr) {
	x0, y0, x1, y1 := b.X, b.Y, b.X+b.W, b.Y+b.H
	t = min(t, max(1, b.W/2), max(1, b.H/2))
	fillRect(f, x0, y0, x1, y0+t, c)
	fillRect(f, x0, y1-t, x1, y1, c)
	fillRect(f, x0, y0, x0+t, y1, c)
	fillRect(f, x1-t, y0, x1, y1, c)
}

// digitFont is a 3x5 bitmap font of the digits: one row per byte, bit 2 is
// the left column.
var digitFont = [10][5]uint8{
	{7, 5, 5, 5, 7}, // 0
	{2, 6, 2, 2, 7}, // 1
	{7, 1, 7, 4, 7}, // 2
	{7, 1, 7, 1, 7}, // 3
	{5, 5, 7, 1, 1}, // 4
	{7, 4, 7, 1, 7}, // 5
	{7, 4, 7, 5, 7}, // 6
	{7, 1, 2, 2, 2}, // 7
	{7, 5, 7, 5, 7}, // 8
	{7, 5, 7, 1, 7}, // 9
}

// Label geometry: digits are 3x5 cells scaled by labelScale, one cell of
// spacing between digits and labelPad pixels of padding around the text.
const (
	labelScale = 3
	labelPad   = 3
)

// labelSize returns the size of the label drawn for text.
func labelSize(text string) (w, h int) {
	n := len(text)
	return n*3*labelScale + (n-1)*labelScale + 2*labelPad, 5*labelScale + 2*labelPad
}

// drawLabel draws text (digits only) in black on a filled rectangle of
// colour c with its top-left corner at (x, y).
func drawLabel(f *frame.Frame, x, y int, text string, c bgr) {
	w, h := labelSize(text)
	fillRect(f, x, y, x+w, y+h, c)
	cx := x + labelPad
	for _, r := range text {
		if r < '0' || r > '9' {
			cx += 4 * labelScale
			continue
		}
		glyph := digitFont[r-'0']
		for row, bits := range glyph {
			for col := range 3 {
				if bits&(4>>col) == 0 {
					continue
				}
				px, py := cx+col*labelScale, y+labelPad+row*labelScale
				fillRect(f, px, py, px+labelScale, py+labelScale, bgr{})
			}
		}
		cx += 4 * labelScale
	}
}

// drawTrack outlines b with c and writes id above it (inside the box when
// there is no room above).
func drawTrack(f *frame.Frame, b Box, id int, c bgr) {
	drawBox(f, b, 3, c)
	text := strconv.Itoa(id)
	_, h := labelSize(text)
	y := b.Y - h
	if y < 0 {
		y = b.Y
	}
	drawLabel(f, b.X, y, text, c)
}

// overlayMask returns a copy of f with the instance colours blended over the
// pixels m marks (3/8 colour, 5/8 image) and, when wantMask, the mask as a
// BGR frame (white foreground on black).
func overlayMask(f *frame.Frame, m *Mask, wantMask bool) (over, mask *frame.Frame) {
	over = cloneFrame(f)
	var maskData []byte
	if wantMask {
		maskData = make([]byte, f.Width*f.Height*3)
		mask = &frame.Frame{Width: f.Width, Height: f.Height, Data: maskData}
	}
	if m == nil || m.Instances == 0 || m.Scale < 1 {
		return over, mask
	}
	stride := f.Width * 3
	for my := range m.H {
		labels := m.Labels[my*m.W : (my+1)*m.W]
		y0 := my * m.Scale
		y1 := min(y0+m.Scale, f.Height)
		for mx, l := range labels {
			if l == 0 {
				continue
			}
			x0 := mx * m.Scale
			x1 := min(x0+m.Scale, f.Width)
			if x0 >= x1 {
				continue
			}
			c := colourFor(int(l))
			c0, c1, c2 := 3*uint16(c[0]), 3*uint16(c[1]), 3*uint16(c[2])
			for y := y0; y < y1; y++ {
				px := over.Data[y*stride+x0*3 : y*stride+x1*3]
				for i := 0; i+2 < len(px); i += 3 {
					px[i] = uint8((5*uint16(px[i]) + c0) >> 3)
					px[i+1] = uint8((5*uint16(px[i+1]) + c1) >> 3)
					px[i+2] = uint8((5*uint16(px[i+2]) + c2) >> 3)
				}
				if maskData != nil {
					mp := maskData[y*stride+x0*3 : y*stride+x1*3]
					for i := range mp {
						mp[i] = 255
					}
				}
			}
		}
	}
	return over, mask
}
