package frame

import (
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A PNG decoder that writes straight into a BGR frame.
//
// image/png decodes into an image of the file's own pixel type (8 bytes a
// pixel for 16-bit RGBA), which FromImage then converts: a 7680x4320
// 16-bit PNG of 258 KB cost 265 MB plus the frame. This decoder inflates
// the IDAT stream row by row with two row buffers and converts each row
// into the frame at once, so its working memory is the frame plus O(row).
// On every valid PNG its frame is bit-identical to
// FromImage(png.Decode(...)): alpha is premultiplied the same way
// (transparent pixels are black), 16-bit samples keep their high byte after
// premultiplication, out-of-palette indexes are black. It also accepts and
// refuses what image/png does: the same chunk order rules, CRCs, and the
// same buffering of the zlib stream, so "too much pixel data" means the
// same thing (the differential fuzz target checks both).
//
// The format is the W3C PNG specification (https://www.w3.org/TR/png/).

const pngSignature = "\x89PNG\r\n\x1a\n"

// PNG colour types.
const (
	pngGray      = 0
	pngRGB       = 2
	pngPalette   = 3
	pngGrayAlpha = 4
	pngRGBA      = 6
)

// pngMaxChunk is the largest chunk length the format allows (2^31-1).
const pngMaxChunk = 0x7fffffff

// pngHeader is what IHDR says.
type pngHeader struct {
	width, height int
	depth         int // bits per sample
	colorType     int
	interlaced    bool
}

// channels is the number of samples of a pixel.
func (h pngHeader) channels() int {
	switch h.colorType {
	case pngRGB:
		return 3
	case pngGrayAlpha:
		return 2
	case pngRGBA:
		return 4
	}
	return 1
}

func (h pngHeader) bitsPerPixel() int { return h.depth * h.channels() }

// rowBytes is the size of a row of width pixels, its filter byte included.
func (h pngHeader) rowBytes(width int) int { return 1 + (h.bitsPerPixel()*width+7)/8 }

func errPNG(format string, args ...any) error {
	return fmt.Errorf("png: "+format, args...)
}

var errNotEnoughPixels = errPNG("not enough pixel data")

// pngChunks walks the chunks of a PNG held in memory; each chunk's length
// is bounded and its CRC checked before its data is looked at.
type pngChunks struct {
	rest []byte
}

// next returns the next chunk.
func (c *pngChunks) next() (typ string, data []byte, err error) {
	if len(c.rest) < 8 {
		return "", nil, io.ErrUnexpectedEOF
	}
	n := binary.BigEndian.Uint32(c.rest)
	if n > pngMaxChunk {
		return "", nil, errPNG("chunk length %d is over the format's limit", n)
	}
	if uint64(n)+12 > uint64(len(c.rest)) {
		return "", nil, io.ErrUnexpectedEOF
	}
	body := c.rest[4 : 8+n] // type and data: what the CRC covers
	if binary.BigEndian.Uint32(c.rest[8+n:]) != crc32.ChecksumIEEE(body) {
		return "", nil, errPNG("invalid checksum of chunk %q", body[:4])
	}
	c.rest = c.rest[12+n:]
	return string(body[:4]), body[4:], nil
}

// peekType is the type of the next chunk, or "" when fewer than 8 bytes
// remain.
func (c *pngChunks) peekType() string {
	if len(c.rest) < 8 {
		return ""
	}
	return string(c.rest[4:8])
}

// parseIHDR reads an IHDR chunk's data.
func parseIHDR(data []byte) (pngHeader, error) {
	var h pngHeader
	if len(data) != 13 {
		return h, errPNG("bad IHDR length")
	}
	if data[10] != 0 {
		return h, errPNG("unsupported compression method")
	}
	if data[11] != 0 {
		return h, errPNG("unsupported filter method")
	}
	if data[12] > 1 {
		return h, errPNG("invalid interlace method")
	}
	w, ht := int32(binary.BigEndian.Uint32(data)), int32(binary.BigEndian.Uint32(data[4:]))
	if w <= 0 || ht <= 0 {
		return h, errPNG("non-positive dimension")
	}
	h = pngHeader{width: int(w), height: int(ht), depth: int(data[8]), colorType: int(data[9]), interlaced: data[12] == 1}
	ok := false
	switch h.colorType {
	case pngGray:
		ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8 || h.depth == 16
	case pngPalette:
		ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8
	case pngRGB, pngGrayAlpha, pngRGBA:
		ok = h.depth == 8 || h.depth == 16
	}
	if !ok {
		return h, errPNG("unsupported bit depth %d with colour type %d", data[8], data[9])
	}
	return h, nil
}

// readPNGHeader returns the IHDR of a PNG body. Like image/png, it skips
// unknown chunks before IHDR.
func readPNGHeader(body []byte) (pngHeader, *pngChunks, error) {
	if len(body) < len(pngSignature) || string(body[:len(pngSignature)]) != pngSignature {
		return pngHeader{}, nil, errPNG("not a PNG file")
	}
	c := &pngChunks{rest: body[len(pngSignature):]}
	for {
		typ, data, err := c.next()
		if err != nil {
			return pngHeader{}, nil, err
		}
		switch typ {
		case "IHDR":
			h, err := parseIHDR(data)
			return h, c, err
		case "PLTE", "tRNS", "IDAT", "IEND":
			return pngHeader{}, nil, errPNG("chunk out of order")
		}
	}
}

// pngDecoder holds what the chunks before IDAT said.
type pngDecoder struct {
	pngHeader
	// palette is the BGR colour of each index, alpha applied; indexes
	// past the palette are black.
	palette    [256][3]byte
	hasPalette bool
	// transparent is the tRNS of gray and RGB images: gray in bytes 0-1,
	// or R, G, B in bytes 0-1, 2-3, 4-5 (big-endian, as in the chunk).
	transparent    [6]byte
	useTransparent bool
}

// Decoding stages, for the chunk order rules (the same as image/png's).
const (
	stageIHDR = iota
	stagePLTE
	stageTRNS
	stageIDAT
	stageIEND
)

// decodePNG decodes a PNG body into a frame.
func decodePNG(body []byte) (*Frame, error) {
	h, chunks, err := readPNGHeader(body)
	if err != nil {
		return nil, err
	}
	if err := CheckSize(h.width, h.height); err != nil {
		return nil, err
	}
	d := &pngDecoder{pngHeader: h}
	var out *Frame
	stage := stageIHDR
	for stage != stageIEND {
		typ, data, err := chunks.next()
		if err != nil {
			return nil, err
		}
		switch typ {
		case "IHDR":
			return nil, errPNG("chunk out of order")
		case "PLTE":
			if stage != stageIHDR {
				return nil, errPNG("chunk out of order")
			}
			stage = stagePLTE
			if err := d.parsePLTE(data); err != nil {
				return nil, err
			}
		case "tRNS":
			switch {
			case d.colorType == pngPalette && stage != stagePLTE,
				d.colorType == pngRGB && stage != stageIHDR && stage != stagePLTE,
				d.colorType != pngPalette && d.colorType != pngRGB && stage != stageIHDR:
				return nil, errPNG("chunk out of order")
			}
			stage = stageTRNS
			if err := d.parseTRNS(data); err != nil {
				return nil, err
			}
		case "IDAT":
			if stage == stageIDAT {
				continue // trailing IDAT chunks after the image are ignored
			}
			if d.colorType == pngPalette && !d.hasPalette {
				return nil, errPNG("chunk out of order")
			}
			stage = stageIDAT
			out = &Frame{Width: h.width, Height: h.height, Data: make([]byte, h.width*h.height*3)}
			if err := d.decodeIDAT(out.Data, data, chunks); err != nil {
				return nil, err
			}
		case "IEND":
			if stage != stageIDAT {
				return nil, errPNG("chunk out of order")
			}
			if len(data) != 0 {
				return nil, errPNG("bad IEND length")
			}
			stage = stageIEND
		}
	}
	return out, nil
}

func (d *pngDecoder) parsePLTE(data []byte) error {
	n := len(data) / 3
	if len(data)%3 != 0 || n <= 0 || n > 256 || n > 1<<d.depth {
		return errPNG("bad PLTE length")
	}
	switch d.colorType {
	case pngPalette:
		d.hasPalette = true
		for i := range n {
			d.palette[i] = [3]byte{data[3*i+2], data[3*i+1], data[3*i]}
		}
	case pngRGB, pngRGBA:
		// A suggested palette for true-colour images: ignored.
	default:
		return errPNG("PLTE, colour type mismatch")
	}
	return nil
}

func (d *pngDecoder) parseTRNS(data []byte) error {
	switch d.colorType {
	case pngGray, pngRGB:
		if want := 2 * d.channels(); len(data) != want {
			return errPNG("bad tRNS length")
		}
		copy(d.transparent[:], data)
		d.useTransparent = true
	case pngPalette:
		if len(data) > 256 {
			return errPNG("bad tRNS length")
		}
		for i, a := range data {
			p := &d.palette[i]
			p[0], p[1], p[2] = premul(p[0], a), premul(p[1], a), premul(p[2], a)
		}
	default:
		return errPNG("tRNS, colour type mismatch")
	}
	return nil
}

// idatReader presents the data of consecutive IDAT chunks as one stream.
// It hands out at most the rest of the current chunk per Read and moves
// to the next chunk only when asked for more, exactly as image/png does:
// the zlib reader's buffering over it, hence what counts as too much
// pixel data, is then the same. It is deliberately not an io.ByteReader.
type idatReader struct {
	cur    []byte // the rest of the current IDAT chunk's data
	chunks *pngChunks
}

func (r *idatReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.cur) == 0 {
		if r.chunks.peekType() != "IDAT" {
			if len(r.chunks.rest) < 8 {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, errNotEnoughPixels
		}
		_, data, err := r.chunks.next()
		if err != nil {
			return 0, err
		}
		r.cur = data
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// adam7 is the pass layout of Adam7 interlacing: x and y step, x and y
// offset of each pass.
var adam7 = [7][4]int{{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1}}

// decodeIDAT inflates the image data (first the IDAT chunk data, then the
// IDAT chunks that follow in chunks) into out, pass by pass for an
// interlaced image.
func (d *pngDecoder) decodeIDAT(out, first []byte, chunks *pngChunks) error {
	src := &idatReader{cur: first, chunks: chunks}
	zr, err := zlib.NewReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	full := d.rowBytes(d.width)
	cr, pr := make([]byte, full), make([]byte, full)
	w := d.width
	if !d.interlaced {
		if err := d.readPass(zr, cr, pr, out, w, d.height, 3*w, 3); err != nil {
			return err
		}
	} else {
		for _, p := range adam7 {
			pw := (d.width - p[2] + p[0] - 1) / p[0]
			ph := (d.height - p[3] + p[1] - 1) / p[1]
			if pw <= 0 || ph <= 0 {
				continue // an empty pass has no filter bytes either
			}
			n := d.rowBytes(pw)
			clear(pr[:n])
			dst := out[3*(p[3]*w+p[2]):]
			if err := d.readPass(zr, cr[:n], pr[:n], dst, pw, ph, 3*w*p[1], 3*p[0]); err != nil {
				return err
			}
		}
	}
	// The zlib stream must end here (which checks its checksum), and
	// with it the IDAT data.
	var one [1]byte
	n := 0
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return io.ErrNoProgress
		}
		n, err = zr.Read(one[:])
	}
	if err != nil && err != io.EOF {
		return errPNG("%v", err)
	}
	if n != 0 || len(src.cur) != 0 {
		return errPNG("too much pixel data")
	}
	return nil
}

// readPass reads height rows of width pixels, unfilters them and writes
// their pixels into dst: row y at y*rowStep, pixel x at x*pixStep.
func (d *pngDecoder) readPass(r io.Reader, cr, pr, dst []byte, width, height, rowStep, pixStep int) error {
	bpp := (d.bitsPerPixel() + 7) / 8 // filter distance in bytes
	for y := range height {
		if _, err := io.ReadFull(r, cr); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errNotEnoughPixels
			}
			return err
		}
		if err := unfilter(cr[0], cr[1:], pr[1:], bpp); err != nil {
			return err
		}
		d.convertRow(dst[y*rowStep:], pixStep, cr[1:], width)
		cr, pr = pr, cr
	}
	return nil
}

// unfilter reverses a row's filter in place; prev is the unfiltered row
// above (zeros for a pass's first row).
func unfilter(filter byte, cur, prev []byte, bpp int) error {
	prev = prev[:len(cur)]
	switch filter {
	case 0: // None
	case 1: // Sub
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2: // Up
		for i, p := range prev {
			cur[i] += p
		}
	case 3: // Average
		for i := 0; i < bpp && i < len(cur); i++ {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4: // Paeth
		for i := 0; i < bpp && i < len(cur); i++ {
			cur[i] += prev[i] // a and c are 0: the predictor is b
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += paeth(cur[i-bpp], prev[i], prev[i-bpp])
		}
	default:
		return errPNG("bad filter type %d", filter)
	}
	return nil
}

// paeth is the Paeth predictor of left a, above b and upper left c. With
// p = a + b - c, the distances p-a, p-b and p-c are b-c, a-c and their sum.
func paeth(a, b, c uint8) uint8 {
	da, db := int(b)-int(c), int(a)-int(c)
	pa, pb, pc := abs(da), abs(db), abs(da+db)
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// convertRow writes the width pixels of an unfiltered row as BGR into dst,
// one pixel every step bytes, the way FromImage converts what image/png
// returns for this pixel type.
func (d *pngDecoder) convertRow(dst []byte, step int, row []byte, width int) {
	put := func(x int, b, g, r byte) {
		q := dst[x*step : x*step+3 : x*step+3]
		q[0], q[1], q[2] = b, g, r
	}
	switch {
	case d.colorType == pngPalette:
		for x := range width {
			p := &d.palette[subSample(row, x, d.depth)]
			put(x, p[0], p[1], p[2])
		}
	case d.colorType == pngGray && d.depth < 16:
		scale := byte(0xff / (1<<d.depth - 1)) // widens 1, 2, 4 bit gray to 8 bits
		ty := d.transparent[1] * scale         // wraps as image/png's does
		for x := range width {
			v := byte(subSample(row, x, d.depth)) * scale
			if d.useTransparent && v == ty {
				v = 0
			}
			put(x, v, v, v)
		}
	case d.colorType == pngGray: // 16 bits
		ty := binary.BigEndian.Uint16(d.transparent[:])
		for x := range width {
			v := row[2*x]
			if d.useTransparent && binary.BigEndian.Uint16(row[2*x:]) == ty {
				v = 0
			}
			put(x, v, v, v)
		}
	case d.colorType == pngRGB && d.depth == 8:
		tr, tg, tb := d.transparent[1], d.transparent[3], d.transparent[5]
		for x := range width {
			s := row[3*x : 3*x+3 : 3*x+3]
			if d.useTransparent && s[0] == tr && s[1] == tg && s[2] == tb {
				put(x, 0, 0, 0)
			} else {
				put(x, s[2], s[1], s[0])
			}
		}
	case d.colorType == pngRGB: // 16 bits
		t := d.transparent
		for x := range width {
			s := row[6*x : 6*x+6 : 6*x+6]
			if d.useTransparent && string(s) == string(t[:]) {
				put(x, 0, 0, 0)
			} else {
				put(x, s[4], s[2], s[0])
			}
		}
	case d.colorType == pngGrayAlpha && d.depth == 8:
		for x := range width {
			v := premul(row[2*x], row[2*x+1])
			put(x, v, v, v)
		}
	case d.colorType == pngGrayAlpha: // 16 bits
		for x := range width {
			s := row[4*x : 4*x+4 : 4*x+4]
			a := binary.BigEndian.Uint16(s[2:])
			v := premul16(binary.BigEndian.Uint16(s), a)
			put(x, v, v, v)
		}
	case d.depth == 8: // RGBA
		for x := range width {
			s := row[4*x : 4*x+4 : 4*x+4]
			if a := s[3]; a == 0xff {
				put(x, s[2], s[1], s[0])
			} else {
				put(x, premul(s[2], a), premul(s[1], a), premul(s[0], a))
			}
		}
	default: // RGBA, 16 bits
		for x := range width {
			s := row[8*x : 8*x+8 : 8*x+8]
			a := binary.BigEndian.Uint16(s[6:])
			put(x, premul16(binary.BigEndian.Uint16(s[4:]), a), premul16(binary.BigEndian.Uint16(s[2:]), a), premul16(binary.BigEndian.Uint16(s), a))
		}
	}
}

// subSample is sample x of a row of depth-bit samples (depth 1, 2, 4 or
// 8), most significant bits first.
func subSample(row []byte, x, depth int) int {
	bit := x * depth
	return int(row[bit>>3]>>(8-depth-bit&7)) & (1<<depth - 1)
}

// premul16 multiplies a 16-bit channel by a 16-bit alpha as
// color.NRGBA64.RGBA does, and keeps the high byte.
func premul16(c, a uint16) uint8 {
	return uint8(uint32(c) * uint32(a) / 0xffff >> 8)
}
