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
