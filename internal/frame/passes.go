package frame

import "encoding/binary"

// The intermediate row.
//
// A source row of n bytes (n = width*3) becomes n uint16 samples of
// value<<tBits, stored little-endian in a []byte of 2n bytes split in two
// halves: samples of even index first (sample e at byte e), then samples of
// odd index (sample e at byte evenBytes(n)+e-1). That is the layout the
// two-tap vertical pass produces for free: it splits 8 source bytes into
// the even and odd ones, each as 4 lanes of 16 bits of one uint64, and
// stores both lanes words as they are.
//
// For a pixel j (samples 3j, 3j+1, 3j+2) and the next one, ipos gives two
// byte offsets p and q such that, reading uint16 at p, q, p+2, q+2, p+4, q+4,
// one gets B, G, R of pixel j then B, G, R of pixel j+1, whatever the parity.

// irow holds an intermediate row of up to MaxWidth pixels (46080 bytes).
// Its size is a power of two plus a little, so that the horizontal pass,
// reading at uint16 offsets plus at most 5, needs no bounds check.
type irow [1<<16 + 8]byte

// evenBytes is the size of the even half of an intermediate row of n
// samples.
func evenBytes(n int) int { return 2 * ((n + 1) / 2) }

// ipos returns the offsets p and q of pixel j in an intermediate row of n
// samples.
func ipos(j, n int) (p, q int) {
	e := 3 * j
	if e&1 == 0 {
		return e, evenBytes(n) + e
	}
	return evenBytes(n) + e - 1, e + 1
}

// spos returns the byte offset of sample e in an intermediate row of n
// samples.
func spos(e, n int) int {
	if e&1 == 0 {
		return e
	}
	return evenBytes(n) + e - 1
}

// vpass1 copies a source row into the intermediate format.
func vpass1(tmp, src []byte) {
	n := len(src)
	ev, od := tmp[:evenBytes(n)], tmp[evenBytes(n):2*n]
	for i := 0; i+1 < n; i += 2 {
		binary.LittleEndian.PutUint16(ev[i:i+2], uint16(src[i])<<tBits)
		binary.LittleEndian.PutUint16(od[i:i+2], uint16(src[i+1])<<tBits)
	}
	if n&1 == 1 {
		binary.LittleEndian.PutUint16(ev[n-1:n+1], uint16(src[n-1])<<tBits)
	}
}

// vpass2 blends two source rows with 8-bit weights w0+w1 == 256: 8 source
// bytes are split in their 4 even and 4 odd bytes, each set as 4 lanes of 16
// bits of a uint64, so one 64-bit multiply weighs 4 samples (255*256 fits a
// lane). The lanes hold value<<8 already, the intermediate format.
func vpass2(tmp, r0, r1 []byte, w0, w1 uint64) {
	const m = 0x00ff00ff00ff00ff
	n := len(r0)
	r1 = r1[:n]
	eb := evenBytes(n)
	ev, od := tmp[:eb], tmp[eb:2*n]
	i := 0
	for ; i+8 <= n; i += 8 {
		a := binary.LittleEndian.Uint64(r0[i : i+8])
		b := binary.LittleEndian.Uint64(r1[i : i+8])
		binary.LittleEndian.PutUint64(ev[i:i+8], (a&m)*w0+(b&m)*w1)
		binary.LittleEndian.PutUint64(od[i:i+8], (a>>8&m)*w0+(b>>8&m)*w1)
	}
	for ; i < n; i++ {
		v := uint16(uint64(r0[i])*w0 + uint64(r1[i])*w1)
		binary.LittleEndian.PutUint16(tmp[spos(i, n):], v)
	}
}

// vpassN blends len(w) consecutive source rows (rows holds them, n bytes
// each) with weights of wBits.
func vpassN(tmp, rows []byte, n int, w []int32) {
	const shift = wBits - tBits
	k := len(w)
	rows = rows[:k*n]
	for i := 0; i < n; i++ {
		acc := uint32(1) << (shift - 1)
		for t, wt := range w {
			acc += uint32(rows[t*n+i]) * uint32(wt)
		}
		binary.LittleEndian.PutUint16(tmp[spos(i, n):], uint16(acc>>shift))
	}
}

// Round and shift of the horizontal pass: intermediate (tBits) times weight
// (wBits), back to 8 bits.
const (
	hShift = tBits + wBits
	hRound = 1 << (hShift - 1)
)

// hpass1 converts an intermediate row back to bytes.
func hpass1(out, tmp []byte) {
	n := len(out)
	for i := range out {
		v := uint32(binary.LittleEndian.Uint16(tmp[spos(i, n):]))
		out[i] = uint8((v + 1<<(tBits-1)) >> tBits)
	}
}

// hpass2 is the horizontal pass with two taps per output pixel (the common
// case: bilinear, and area for ratios up to 2 that keep to two pixels), the
// three channels of a pixel together.
func hpass2(out []byte, tmp *irow, taps []tap2) {
	const (
		lanes = 0x0000ffff0000ffff
		round = hRound | hRound<<32
	)
	for i, t := range taps {
		p, q := int(t.p), int(t.q)
		w0 := uint64(t.w0)
		w1 := 1<<wBits - w0
		// B and R of a pixel are adjacent samples in the intermediate row:
		// blend both at once, in two 32-bit lanes.
		br0 := uint64(tmp[p]) | uint64(tmp[p+1])<<8 | uint64(tmp[p+2])<<32 | uint64(tmp[p+3])<<40
		br1 := uint64(tmp[q+2]) | uint64(tmp[q+3])<<8 | uint64(tmp[q+4])<<32 | uint64(tmp[q+5])<<40
		br := br0*w0 + br1*w1 + round
		g0 := uint64(tmp[q]) | uint64(tmp[q+1])<<8
		g1 := uint64(tmp[p+4]) | uint64(tmp[p+5])<<8
		g := g0*w0 + g1*w1 + hRound
		d := out[3*i : 3*i+3 : 3*i+3]
		d[0] = uint8(br >> hShift)
		d[1] = uint8(g >> hShift)
		d[2] = uint8(br >> (32 + hShift))
	}
}

// hpassN is the general horizontal pass.
func hpassN(out, tmp []byte, a *axis) {
	k, n := a.k, a.n*3
	for x := 0; x < a.m; x++ {
		j := int(a.start[x])
		w := a.w[k*x : k*x+k]
		var b, g, r uint32
		for t, wt := range w {
			p, q := ipos(j+t, n)
			b += uint32(binary.LittleEndian.Uint16(tmp[p:])) * uint32(wt)
			g += uint32(binary.LittleEndian.Uint16(tmp[q:])) * uint32(wt)
			r += uint32(binary.LittleEndian.Uint16(tmp[p+2:])) * uint32(wt)
		}
		d := out[3*x : 3*x+3 : 3*x+3]
		d[0] = uint8((b + hRound) >> hShift)
		d[1] = uint8((g + hRound) >> hShift)
		d[2] = uint8((r + hRound) >> hShift)
	}
}
