package testutil

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// PNG colour types for ZeroPNG.
const (
	PNGGray = 0
	PNGRGB  = 2
	PNGRGBA = 6
)

// ZeroPNG is a valid PNG of width x height black (or transparent) pixels
// at depth bits a sample: small however large its pixels are (a 7680x4320
// 16-bit RGBA one is under 2 MB for 265 MB of pixel data), the shape of a
// decompression bomb. Its zlib stream is written directly (every row is
// zeros, filter byte included), so building it is fast even under the race
// detector.
func ZeroPNG(width, height, depth, colorType int) []byte {
	channels := map[int]int{PNGGray: 1, PNGRGB: 3, PNGRGBA: 4}[colorType]
	n := height * (1 + (width*channels*depth+7)/8)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = byte(depth), byte(colorType)
	out := []byte("\x89PNG\r\n\x1a\n")
	for _, c := range []struct {
		typ  string
		data []byte
	}{{"IHDR", ihdr}, {"IDAT", zlibZeros(n)}, {"IEND", nil}} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(c.data)))
		start := len(out)
		out = append(out, c.typ...)
		out = append(out, c.data...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	return out
}

// zlibZeros is a zlib stream of n (at least 1) zero bytes: one deflate
// block with the fixed Huffman codes (RFC 1951, 3.2.6) holding a literal
// 0 and then copies of 258 bytes at distance 1.
func zlibZeros(n int) []byte {
	w := &bitWriter{out: []byte{0x78, 0x01}}
	w.bits(1, 1) // last block
	w.bits(1, 2) // fixed Huffman codes
	const literal0, length258, distance1, endOfBlock = 0x30, 0xc5, 0, 0
	w.code(literal0, 8)
	left := n - 1
	for ; left >= 258; left -= 258 {
		w.code(length258, 8)
		w.code(distance1, 5)
	}
	for ; left > 0; left-- {
		w.code(literal0, 8)
	}
	w.code(endOfBlock, 7)
	w.flush()
	// Adler-32 of n zeros: a = 1, b = n*1.
	return binary.BigEndian.AppendUint32(w.out, uint32(n%65521)<<16|1)
}

// bitWriter packs bits least significant first, as deflate does.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	for w.n += n; w.n >= 8; w.n -= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
	}
}

// code writes a Huffman code of n bits, which deflate packs most
// significant bit first.
func (w *bitWriter) code(c uint64, n uint) { w.bits(bits.Reverse64(c)>>(64-n), n) }

func (w *bitWriter) flush() {
	if w.n > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.n = 0, 0
	}
}
