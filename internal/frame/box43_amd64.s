#include "textflag.h"

// AVX2 kernels of the exact 4:3 box filter (see box43.go).

// func vbox43AVX2(d, x, y, z *byte, blocks int)
//
// d = avgUp(x, avgDown(y, z)), 32 bytes a block. avgDown is avgUp on the
// complements: (a+b)>>1 = 255 - ((255-a)+(255-b)+1)>>1. blocks > 0.
TEXT ·vbox43AVX2(SB), NOSPLIT, $0-40
	VPCMPEQB Y15, Y15, Y15 // all ones
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), R8
	MOVQ y+16(FP), R9
	MOVQ z+24(FP), R10
	MOVQ blocks+32(FP), CX

vloop:
	VMOVDQU (R9), Y1
	VMOVDQU (R10), Y2
	VPXOR Y15, Y1, Y1
	VPXOR Y15, Y2, Y2
	VPAVGB Y2, Y1, Y1
	VPXOR Y15, Y1, Y1
	VPAVGB (R8), Y1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ vloop
	VZEROUPPER
	RET

// 1 in every 16-bit lane: the rounding of (w0*a + w1*b + 1) >> 2.
DATA box43one<>+0(SB)/8, $0x0001000100010001
DATA box43one<>+8(SB)/8, $0x0001000100010001
DATA box43one<>+16(SB)/8, $0x0001000100010001
DATA box43one<>+24(SB)/8, $0x0001000100010001
GLOBL box43one<>(SB), RODATA|NOPTR, $32

// LANES computes two lanes of 8 output words in y: the 16 source bytes at
// lo(SI) (low lane, x: its low half) and at hi(SI) (high lane), shuffled
// into (a, b) pairs by the masks at mask(R8), weighed by the bytes at
// weight(R8) (VPMADDUBSW), rounded and shifted (Y15: ones).
#define LANES(lo, hi, mask, weight, x, y) \
	VMOVDQU lo(SI), x; \
	VINSERTI128 $1, hi(SI), y, y; \
	VPSHUFB mask(R8), y, y; \
	VPMADDUBSW weight(R8), y, y; \
	VPADDW Y15, y, y; \
	VPSRLW $2, y, y

// STORE32 packs registers a (lanes u, u+1) and b (u+2, u+3) into 32 output
// bytes at off(DI): VPACKUSWB interleaves 128-bit lanes (u, u+2, u+1, u+3)
// and VPERMQ puts them in order.
#define STORE32(a, b, off) \
	VPACKUSWB b, a, a; \
	VPERMQ $0xd8, a, a; \
	VMOVDQU a, off(DI)

// func hbox43AVX2(dst, src *byte, tab *box43Tab, blocks int)
//
// A block is 16 groups: 192 bytes of src (it reads no more) into 144 bytes
// of dst, 18 lanes. The loads are at box43Load(u) for u = 0..17; the
// masks and weights of lanes 2k and 2k+1 at 32k and 288+32k of tab.
// blocks > 0.
TEXT ·hbox43AVX2(SB), NOSPLIT, $0-32
	VMOVDQU box43one<>(SB), Y15
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ tab+16(FP), R8
	MOVQ blocks+24(FP), CX

hloop:
	LANES(0, 8, 0, 288, X0, Y0)
	LANES(19, 30, 32, 320, X1, Y1)
	LANES(41, 52, 64, 352, X2, Y2)
	LANES(63, 74, 96, 384, X3, Y3)
	LANES(85, 96, 128, 416, X4, Y4)
	LANES(104, 115, 160, 448, X5, Y5)
	LANES(126, 137, 192, 480, X6, Y6)
	LANES(148, 159, 224, 512, X7, Y7)
	LANES(170, 176, 256, 544, X8, Y8)
	STORE32(Y0, Y1, 0)
	STORE32(Y2, Y3, 32)
	STORE32(Y4, Y5, 64)
	STORE32(Y6, Y7, 96)
	// The last two lanes: packed with themselves, qwords 0 and 2.
	VPACKUSWB Y8, Y8, Y8
	VPERMQ $0x08, Y8, Y8
	VMOVDQU X8, 128(DI)
	ADDQ $192, SI
	ADDQ $144, DI
	DECQ CX
	JNZ hloop
	VZEROUPPER
	RET
