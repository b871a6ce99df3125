package frame

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"runtime"
	"testing"
)

// pngSpec describes a PNG for writePNG.
type pngSpec struct {
	pngHeader
	plte   []byte // PLTE data (palette images), nil for none
	trns   []byte // tRNS data, nil for none
	idat   int    // largest IDAT chunk (0: one chunk)
	extra  bool   // add ancillary chunks before PLTE and after IDAT
	filter func(y int) byte
	// row fills the unfiltered bytes of row y of a pass (pass 0 when not
	// interlaced) of width pixels; nil leaves zeros.
	row func(pass, y, width int, dst []byte)
}

func appendChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// writePNG encodes a PNG of any colour type, bit depth, filter and
// interlace, which image/png's encoder cannot. Rows are produced one at a
// time, so huge images cost little memory.
func writePNG(tb testing.TB, s pngSpec) []byte {
	tb.Helper()
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(s.width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(s.height))
	ihdr[8], ihdr[9] = byte(s.depth), byte(s.colorType)
	if s.interlaced {
		ihdr[12] = 1
	}
	out := appendChunk([]byte(pngSignature), "IHDR", ihdr)
	if s.extra {
		out = appendChunk(out, "tEXt", []byte("Comment\x00before the palette"))
	}
	if s.plte != nil {
		out = appendChunk(out, "PLTE", s.plte)
	}
	if s.trns != nil {
		out = appendChunk(out, "tRNS", s.trns)
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	bpp := (s.bitsPerPixel() + 7) / 8
	passes := [][4]int{{1, 1, 0, 0}}
	if s.interlaced {
		passes = adam7[:]
	}
	line := 0
	for pass, p := range passes {
		pw := (s.width - p[2] + p[0] - 1) / p[0]
		ph := (s.height - p[3] + p[1] - 1) / p[1]
		if pw <= 0 || ph <= 0 {
			continue
		}
		n := s.rowBytes(pw) - 1
		prev, cur, filtered := make([]byte, n), make([]byte, n), make([]byte, n+1)
		for y := range ph {
			clear(cur)
			if s.row != nil {
				s.row(pass, y, pw, cur)
			}
			f := byte(0)
			if s.filter != nil {
				f = s.filter(line)
			}
			line++
			filtered[0] = f
			for i := range cur {
				var a, b, c byte
				if i >= bpp {
					a, c = cur[i-bpp], prev[i-bpp]
				}
				b = prev[i]
				pred := [5]byte{0, a, b, byte((int(a) + int(b)) / 2), paeth(a, b, c)}[f]
				filtered[1+i] = cur[i] - pred
			}
			if _, err := zw.Write(filtered); err != nil {
				tb.Fatal(err)
			}
			prev, cur = cur, prev
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	data := z.Bytes()
	size := s.idat
	if size <= 0 {
		size = len(data)
	}
	for len(data) > size {
		out = appendChunk(out, "IDAT", data[:size])
		data = data[size:]
	}
	out = appendChunk(out, "IDAT", data)
	if s.extra {
		out = appendChunk(out, "tIME", []byte{7, 234, 1, 2, 3, 4, 5})
	}
	return appendChunk(out, "IEND", nil)
}

// stdFrame is what the decoder replaced gives: image/png, then FromImage.
func stdFrame(body []byte) (*Frame, error) {
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}

// sameAsStd fails unless decodePNG accepts exactly what image/png accepts
// and gives the frame FromImage gives.
// Images outside the frame limits must be refused; huge ones are not
// compared (image/png would allocate them whole).
func sameAsStd(t *testing.T, name string, body []byte) {
	t.Helper()
	if cfg, err := png.DecodeConfig(bytes.NewReader(body)); err == nil && CheckSize(cfg.Width, cfg.Height) != nil {
		if _, err := decodePNG(body); err == nil {
			t.Fatalf("%s: %dx%d decoded", name, cfg.Width, cfg.Height)
		}
		return
	} else if err == nil && cfg.Width*cfg.Height > 1<<20 {
		return
	}
	want, werr := stdFrame(body)
	got, gerr := decodePNG(body)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: image/png error %v, ours %v", name, werr, gerr)
	}
	if werr != nil {
		return
	}
	if got.Width != want.Width || got.Height != want.Height || !bytes.Equal(got.Data, want.Data) {
		for i := range got.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("%s: %dx%d, byte %d (pixel %d) = %d, image/png+FromImage %d", name, got.Width, got.Height, i, i/3, got.Data[i], want.Data[i])
			}
		}
		t.Fatalf("%s: %dx%d, want %dx%d", name, got.Width, got.Height, want.Width, want.Height)
	}
}

// pickSample is a random sample of at most maxSample, half of the time one
// of a few values, so tRNS colours and fully opaque or transparent alpha
// occur.
func pickSample(r *rand.Rand, maxSample int) int {
	if r.IntN(2) == 0 {
		return []int{0, maxSample, maxSample / 2, 1}[r.IntN(4)] & maxSample
	}
	return r.IntN(maxSample + 1)
}

// randomSpec is a random PNG of the given colour type and depth: random
// size, filters, interlace, IDAT split, palette and transparency.
func randomSpec(rng *rand.Rand, colorType, depth int) pngSpec {
	s := pngSpec{pngHeader: pngHeader{width: 1 + rng.IntN(40), height: 1 + rng.IntN(20), depth: depth, colorType: colorType, interlaced: rng.IntN(2) == 0}}
	s.idat = rng.IntN(3) * (1 + rng.IntN(50))
	s.extra = rng.IntN(2) == 0
	s.filter = func(int) byte { return byte(rng.IntN(5)) }
	maxSample := 1<<depth - 1
	sample := func(r *rand.Rand) int { return pickSample(r, maxSample) }
	if colorType == pngPalette {
		n := 1 + rng.IntN(1<<depth)
		s.plte = make([]byte, 3*n)
		for i := range s.plte {
			s.plte[i] = byte(rng.IntN(256))
		}
		if rng.IntN(2) == 0 {
			s.trns = make([]byte, rng.IntN(n+2)) // may run past the palette
			for i := range s.trns {
				s.trns[i] = byte(sample(rng))
			}
		}
	} else if (colorType == pngGray || colorType == pngRGB) && rng.IntN(2) == 0 {
		s.trns = make([]byte, 2*s.channels())
		for c := 0; c < s.channels(); c++ {
			binary.BigEndian.PutUint16(s.trns[2*c:], uint16(pickSample(rng, maxSample)))
		}
	}
	// Pixels are fixed per (pass, y, x) by the seed, so whatever the pass
	// layout they come out the same for both decoders.
	seed := rng.Uint64()
	s.row = func(pass, y, width int, dst []byte) {
		r := rand.New(rand.NewPCG(seed, uint64(pass)<<32|uint64(y)))
		for x := range width {
			for c := range s.channels() {
				v := sample(r) // palette indexes may be past the palette
				i := x*s.channels() + c
				switch depth {
				case 16:
					binary.BigEndian.PutUint16(dst[2*i:], uint16(v))
				case 8:
					dst[i] = byte(v)
				default:
					bit := i * depth
					dst[bit/8] |= byte(v) << (8 - depth - bit%8)
				}
			}
		}
	}
	return s
}

var pngLayouts = []struct{ colorType, depth int }{
	{pngGray, 1}, {pngGray, 2}, {pngGray, 4}, {pngGray, 8}, {pngGray, 16},
	{pngRGB, 8}, {pngRGB, 16},
	{pngPalette, 1}, {pngPalette, 2}, {pngPalette, 4}, {pngPalette, 8},
	{pngGrayAlpha, 8}, {pngGrayAlpha, 16},
	{pngRGBA, 8}, {pngRGBA, 16},
}

// Every colour type and bit depth, with and without tRNS, interlaced or
// not, every filter: the frame is bit-identical to image/png + FromImage.
func TestDecodePNGMatchesImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range pngLayouts {
		for i := range 60 {
			s := randomSpec(rng, l.colorType, l.depth)
			sameAsStd(t, fmt.Sprintf("type %d depth %d #%d (%dx%d interlaced=%v trns=%d)", l.colorType, l.depth, i, s.width, s.height, s.interlaced, len(s.trns)), writePNG(t, s))
		}
	}
}

// What image/png's own encoder writes (the common case) decodes the same.
func TestDecodePNGMatchesImagePNGEncoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(pix []byte) {
		for i := range pix {
			pix[i] = []byte{0, 255, byte(rng.IntN(256))}[rng.IntN(3)]
		}
	}
	r := image.Rect(0, 0, 33, 17)
	rgba, nrgba, gray, gray16, rgba64, nrgba64 := image.NewRGBA(r), image.NewNRGBA(r), image.NewGray(r), image.NewGray16(r), image.NewRGBA64(r), image.NewNRGBA64(r)
	for _, pix := range [][]byte{rgba.Pix, nrgba.Pix, gray.Pix, gray16.Pix, rgba64.Pix, nrgba64.Pix} {
		fill(pix)
	}
	pal := color.Palette{color.NRGBA{255, 0, 0, 128}, color.RGBA{0, 255, 0, 255}, color.NRGBA{0, 0, 255, 0}, color.Black}
	paletted := image.NewPaletted(r, pal)
	for i := range paletted.Pix {
		paletted.Pix[i] = uint8(rng.IntN(len(pal)))
	}
	for _, img := range []image.Image{rgba, nrgba, gray, gray16, rgba64, nrgba64, paletted} {
		for _, level := range []png.CompressionLevel{png.NoCompression, png.BestSpeed, png.BestCompression} {
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			sameAsStd(t, fmt.Sprintf("%T level %d", img, level), buf.Bytes())
		}
	}
}

// Truncated and corrupted files (with their CRCs repaired, so the damage
// reaches the decoder) are refused or accepted exactly as image/png does.
func TestDecodePNGDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, l := range pngLayouts {
		s := randomSpec(rng, l.colorType, l.depth)
		body := writePNG(t, s)
		for n := 0; n < len(body); n += 1 + n/16 {
			sameAsStd(t, fmt.Sprintf("type %d depth %d cut at %d", l.colorType, l.depth, n), body[:n])
		}
		for i := range 200 {
			damaged := bytes.Clone(body)
			for range 1 + rng.IntN(3) {
				damaged[8+rng.IntN(len(damaged)-8)] ^= byte(1 + rng.IntN(255))
			}
			repairCRCs(damaged)
			sameAsStd(t, fmt.Sprintf("type %d depth %d damage #%d", l.colorType, l.depth, i), damaged)
		}
	}
}

// repairCRCs recomputes the CRC of every whole chunk of a PNG in place.
func repairCRCs(b []byte) {
	for i := len(pngSignature); i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n < 0 || i+12+n > len(b) {
			return
		}
		binary.BigEndian.PutUint32(b[i+8+n:], crc32.ChecksumIEEE(b[i+4:i+8+n]))
		i += 12 + n
	}
}

func TestDecodePNGRefuses(t *testing.T) {
	base := pngSpec{pngHeader: pngHeader{width: 4, height: 3, depth: 8, colorType: pngRGB}}
	good := writePNG(t, base)
	badCRC := bytes.Clone(good)
	badCRC[len(pngSignature)+8+13] ^= 1 // IHDR's CRC
	huge := bytes.Clone(good)
	binary.BigEndian.PutUint32(huge[len(pngSignature)+8+13+4:], 0x80000000) // the next chunk's length
	noPalette := writePNG(t, pngSpec{pngHeader: pngHeader{width: 2, height: 2, depth: 8, colorType: pngPalette}})
	tooWide := writePNG(t, pngSpec{pngHeader: pngHeader{width: MaxWidth + 1, height: 1, depth: 1, colorType: pngGray}})
	for name, body := range map[string][]byte{
		"bad CRC": badCRC, "chunk length over 2^31-1": huge, "palette image without PLTE": noPalette,
		"too wide": tooWide, "not a PNG": []byte("GIF89a"), "signature only": []byte(pngSignature),
	} {
		if _, err := decodePNG(body); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := decodePNG(good); err != nil {
		t.Fatal(err)
	}
}

// A 16-bit RGBA PNG costs the frame and O(row), not 8 bytes a pixel (the
// 258 KB file of 7680x4320 took image/png 265 MB before the frame).
func TestDecodePNGMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, l := range []struct{ colorType, depth int }{{pngRGBA, 16}, {pngPalette, 1}, {pngGray, 16}} {
		s := pngSpec{pngHeader: pngHeader{width: 3840, height: 2160, depth: l.depth, colorType: l.colorType}, plte: []byte{9, 9, 9}}
		if l.colorType != pngPalette {
			s.plte = nil
		}
		s.row = func(_, y, _ int, dst []byte) { dst[y%len(dst)] = byte(y) }
		body := writePNG(t, s)
		h, err := ReadHeader("image/png", body)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f, err := Decode("image/png", body)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		frameBytes := uint64(len(f.Data))
		if got := after.TotalAlloc - before.TotalAlloc; got > frameBytes+256<<10 {
			t.Errorf("type %d depth %d: decoding allocated %d bytes, want at most the frame (%d) + 256 KiB", l.colorType, l.depth, got, frameBytes)
		}
		if h.Cost < int64(frameBytes) || h.Cost > int64(frameBytes)+1<<20 {
			t.Errorf("type %d depth %d: Cost %d for a %d-byte frame", l.colorType, l.depth, h.Cost, frameBytes)
		}
	}
}

// FuzzDecodePNG: on any input, decodePNG accepts what image/png accepts
// (within the frame limits) and gives the same frame. The seeds cover
// every colour type and depth.
func FuzzDecodePNG(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, l := range pngLayouts {
		s := randomSpec(rng, l.colorType, l.depth)
		s.width, s.height = 1+rng.IntN(9), 1+rng.IntN(9)
		f.Add(writePNG(f, s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameAsStd(t, "input", body) })
}
