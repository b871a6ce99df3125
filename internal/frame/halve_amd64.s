#include "textflag.h"

// func avgRowsAVX2(dst, r0, r1 *byte, blocks int)
//
// VPAVGB is (a+b+1)>>1 per byte: avgUp of halve.go, 32 bytes at a time.
// blocks > 0.
TEXT ·avgRowsAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ blocks+24(FP), CX
	XORQ AX, AX
	SHLQ $5, CX

loop:
	VMOVDQU (SI)(AX*1), Y0
	VPAVGB (DX)(AX*1), Y0, Y0
	VMOVDQU Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, CX
	JB loop
	VZEROUPPER
	RET

// Pixel-pair means. In a 128-bit lane, the 16 bytes loaded at s and the 16
// loaded at s+3 line pixel 2x+1 up with pixel 2x for three pairs (bytes
// 0-2, 6-8 and 12-14 of the lane); VPAVGB averages them and PSHUFB packs
// the three output pixels into the lane's low 9 bytes. Rounding down is
// rounding up on the complements: (a+b)>>1 = 255 - ((255-a)+(255-b)+1)>>1.
DATA pairsPack<>+0(SB)/8, $0x0d0c080706020100
DATA pairsPack<>+8(SB)/8, $0xffffffffffffff0e
DATA pairsPack<>+16(SB)/8, $0x0d0c080706020100
DATA pairsPack<>+24(SB)/8, $0xffffffffffffff0e
GLOBL pairsPack<>(SB), RODATA|NOPTR, $32

// func halvePixelsAVX2(dst, src *byte, blocks int, flip uint64)
//
// A block is two lanes: 36 source bytes (loads at 0, 3, 18 and 21, the
// last reading byte 36) into 6 pixels, stored as 16 bytes at 0 and at 9
// (writing 25 bytes; the next block overwrites the last 7). flip is 0 to
// round half up, all ones to round half down. blocks > 0.
TEXT ·halvePixelsAVX2(SB), NOSPLIT, $0-32
	VMOVDQU pairsPack<>(SB), Y14
	MOVQ flip+24(FP), X15
	VPBROADCASTB X15, Y15
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX

ploop:
	VMOVDQU (SI), X0
	VINSERTI128 $1, 18(SI), Y0, Y0
	VMOVDQU 3(SI), X1
	VINSERTI128 $1, 21(SI), Y1, Y1
	VPXOR Y15, Y0, Y0
	VPXOR Y15, Y1, Y1
	VPAVGB Y1, Y0, Y0
	VPXOR Y15, Y0, Y0
	VPSHUFB Y14, Y0, Y0
	VMOVDQU X0, (DI)
	VEXTRACTI128 $1, Y0, 9(DI)
	ADDQ $36, SI
	ADDQ $18, DI
	DECQ CX
	JNZ ploop
	VZEROUPPER
	RET
