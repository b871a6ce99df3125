#include "textflag.h"

// AVX2 kernels of the exact 3:2 box filter (see box32.go). Both compute
// round((2a+b)/3) for byte pairs (a, b): VPMADDUBSW of the interleaved
// bytes with weights (2, 1) gives s = 2a+b in 16-bit lanes, and VPMULHRSW
// by 10923 (32768/3 rounded up) gives (s*10923 + 2^14) >> 15, which is
// exactly round(s/3) for every s <= 765.

// (2, 1) byte weights.
DATA box32w<>+0(SB)/8, $0x0102010201020102
DATA box32w<>+8(SB)/8, $0x0102010201020102
DATA box32w<>+16(SB)/8, $0x0102010201020102
DATA box32w<>+24(SB)/8, $0x0102010201020102
GLOBL box32w<>(SB), RODATA|NOPTR, $32

// 10923 in every 16-bit lane.
DATA box32third<>+0(SB)/8, $0x2aab2aab2aab2aab
DATA box32third<>+8(SB)/8, $0x2aab2aab2aab2aab
DATA box32third<>+16(SB)/8, $0x2aab2aab2aab2aab
DATA box32third<>+24(SB)/8, $0x2aab2aab2aab2aab
GLOBL box32third<>(SB), RODATA|NOPTR, $32

// THIRDS sets the 16 words of r to round((2a+b)/3) of its 16 (a, b) byte
// pairs (Y12: weights, Y11: 10923).
#define THIRDS(r) \
	VPMADDUBSW Y12, r, r; \
	VPMULHRSW Y11, r, r

// func vbox32AVX2(d0, d1, r0, r1, r2 *byte, blocks int)
//
// d0 = (2*r0+r1)/3 and d1 = (2*r2+r1)/3, 32 bytes a block. Unpacking low
// and high bytes within each 128-bit lane and packing them back keeps the
// byte order. blocks > 0.
TEXT ·vbox32AVX2(SB), NOSPLIT, $0-48
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), DX
	MOVQ r0+16(FP), R8
	MOVQ r1+24(FP), R9
	MOVQ r2+32(FP), R10
	MOVQ blocks+40(FP), CX
	VMOVDQU box32w<>(SB), Y12
	VMOVDQU box32third<>(SB), Y11
	XORQ AX, AX
	SHLQ $5, CX

vloop:
	VMOVDQU (R8)(AX*1), Y0
	VMOVDQU (R9)(AX*1), Y1
	VMOVDQU (R10)(AX*1), Y2
	VPUNPCKLBW Y1, Y0, Y3 // (a, b) pairs
	VPUNPCKHBW Y1, Y0, Y4
	VPUNPCKLBW Y1, Y2, Y5 // (c, b) pairs
	VPUNPCKHBW Y1, Y2, Y6
	THIRDS(Y3)
	THIRDS(Y4)
	THIRDS(Y5)
	THIRDS(Y6)
	VPACKUSWB Y4, Y3, Y3
	VPACKUSWB Y6, Y5, Y5
	VMOVDQU Y3, (DI)(AX*1)
	VMOVDQU Y5, (DX)(AX*1)
	ADDQ $32, AX
	CMPQ AX, CX
	JB vloop
	VZEROUPPER
	RET

// Shuffles of the horizontal pass. Output byte o of a 3-pixel group
// (6 bytes from 9) is pixel p = o/3, channel c = o%3: it weighs A twice and
// B once, with A = src[c] (p = 0) or src[6+c] (p = 1) and B = src[3+c].
// Every 8 output bytes (16 bytes of (A, B) pairs, one 128-bit lane) come
// from one 16-byte load; the pattern repeats every 24 output bytes (36
// source bytes), with loads at 0, 11 and 22 and these lane shuffles:
//   T0: 0,3, 1,4, 2,5, 6,3, 7,4, 8,5, 9,12, 10,13
//   T1: 0,3, 4,1, 5,2, 6,3, 7,10, 8,11, 9,12, 13,10
//   T2: 3,0, 4,1, 5,8, 6,9, 7,10, 11,8, 12,9, 13,10
// The masks pair them as the registers of a block do (see hbox32AVX2).
DATA box32m02<>+0(SB)/8, $0x0306050204010300
DATA box32m02<>+8(SB)/8, $0x0d0a0c0905080407
DATA box32m02<>+16(SB)/8, $0x0906080501040003
DATA box32m02<>+24(SB)/8, $0x0a0d090c080b0a07
GLOBL box32m02<>(SB), RODATA|NOPTR, $32
DATA box32m10<>+0(SB)/8, $0x0306020501040300
DATA box32m10<>+8(SB)/8, $0x0a0d0c090b080a07
DATA box32m10<>+16(SB)/8, $0x0306050204010300
DATA box32m10<>+24(SB)/8, $0x0d0a0c0905080407
GLOBL box32m10<>(SB), RODATA|NOPTR, $32
DATA box32m21<>+0(SB)/8, $0x0906080501040003
DATA box32m21<>+8(SB)/8, $0x0a0d090c080b0a07
DATA box32m21<>+16(SB)/8, $0x0306020501040300
DATA box32m21<>+24(SB)/8, $0x0a0d0c090b080a07
GLOBL box32m21<>(SB), RODATA|NOPTR, $32

// PAIRS loads the 16 source bytes at lo(SI) into the low lane of y (x: its
// low half) and those at hi(SI) into the high lane, shuffles them into
// (A, B) pairs by mask and computes their 16 output words.
#define PAIRS(lo, hi, mask, x, y) \
	VMOVDQU lo(SI), x; \
	VINSERTI128 $1, hi(SI), y, y; \
	VPSHUFB mask, y, y; \
	THIRDS(y)

// func hbox32AVX2(dst, src *byte, blocks int)
//
// A block is 96 output bytes, 12 lanes u0..u11 (lane u: output bytes 8u..
// 8u+7, loaded at 36*(u/3) + 0, 11 or 22, shuffled by T(u%3)). Registers
// hold lanes (u, u+2) so that VPACKUSWB of two of them, which interleaves
// 128-bit lanes, gives u, u+1, u+2, u+3 in order. The last load (u11, at
// 130) reads 2 bytes past the block's 144. blocks > 0.
TEXT ·hbox32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	VMOVDQU box32w<>(SB), Y12
	VMOVDQU box32third<>(SB), Y11
	VMOVDQU box32m02<>(SB), Y13
	VMOVDQU box32m10<>(SB), Y14
	VMOVDQU box32m21<>(SB), Y15

hloop:
	PAIRS(0, 22, Y13, X0, Y0)    // u0, u2: T0, T2
	PAIRS(11, 36, Y14, X1, Y1)   // u1, u3: T1, T0
	PAIRS(47, 72, Y14, X2, Y2)   // u4, u6: T1, T0
	PAIRS(58, 83, Y15, X3, Y3)   // u5, u7: T2, T1
	PAIRS(94, 119, Y15, X4, Y4)  // u8, u10: T2, T1
	PAIRS(108, 130, Y13, X5, Y5) // u9, u11: T0, T2
	VPACKUSWB Y1, Y0, Y0
	VPACKUSWB Y3, Y2, Y2
	VPACKUSWB Y5, Y4, Y4
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y4, 64(DI)
	ADDQ $144, SI
	ADDQ $96, DI
	DECQ CX
	JNZ hloop
	VZEROUPPER
	RET
