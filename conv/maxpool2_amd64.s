//go:build !purego

#include "textflag.h"

// func maxPool2AVX2(d, r0, r1 *float32, n, c, cv int)
//
// For each output pixel (CX counts them) and each 8 channels of it (DX
// counts bytes): Go's max(x, y) is MAXPS both ways round ANDed together
// (the two agree unless x = y, where the AND turns a +0/-0 tie into +0),
// then ORed with the unordered compare of x and y (all ones, a NaN, where
// either is NaN). Intel's MAXPS returns its second source on NaN, which
// the OR overrides.
TEXT ·maxPool2AVX2(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R9
	MOVQ cv+40(FP), R10

pixel:
	XORQ DX, DX

vec:
	VMOVUPS (SI)(DX*1), Y0     // r0, pixel 2x
	LEAQ (SI)(R9*1), AX
	VMOVUPS (AX)(DX*1), Y1     // r0, pixel 2x+1
	VMOVUPS (R8)(DX*1), Y2     // r1, pixel 2x
	LEAQ (R8)(R9*1), BX
	VMOVUPS (BX)(DX*1), Y3     // r1, pixel 2x+1

	// Y4 = max(Y0, Y1)
	VMAXPS Y1, Y0, Y4
	VMAXPS Y0, Y1, Y5
	VANDPS Y5, Y4, Y4
	VCMPPS $3, Y1, Y0, Y5
	VORPS Y5, Y4, Y4

	// Y6 = max(Y2, Y3)
	VMAXPS Y3, Y2, Y6
	VMAXPS Y2, Y3, Y7
	VANDPS Y7, Y6, Y6
	VCMPPS $3, Y3, Y2, Y7
	VORPS Y7, Y6, Y6

	// Y8 = max(Y4, Y6)
	VMAXPS Y6, Y4, Y8
	VMAXPS Y4, Y6, Y9
	VANDPS Y9, Y8, Y8
	VCMPPS $3, Y6, Y4, Y9
	VORPS Y9, Y8, Y8

	VMOVUPS Y8, (DI)(DX*1)
	ADDQ $32, DX
	CMPQ DX, R10
	JLT vec

	ADDQ R9, DI
	LEAQ (SI)(R9*2), SI
	LEAQ (R8)(R9*2), R8
	DECQ CX
	JNZ pixel
	VZEROUPPER
	RET

// func maxPool2BackReLUAVX2(gx, src, y, gy *float32, n, row, c, cv int)
//
// For each output pixel (CX counts them) and each 8 channels of it (BX
// counts bytes): the gradient g, kept where 0 < y (LT_OS: not for NaN),
// goes to the first of the window's inputs equal to y (EQ_OQ), taken out
// of g as it goes (ANDN), and what is left to the last.
TEXT ·maxPool2BackReLUAVX2(SB), NOSPLIT, $0-64
	MOVQ gx+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ gy+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ row+40(FP), DX
	MOVQ c+48(FP), R10
	MOVQ cv+56(FP), R11
	VXORPS Y15, Y15, Y15

backPixel:
	XORQ BX, BX
	LEAQ (SI)(R10*1), R12 // the window's second column
	LEAQ (DI)(R10*1), R13

backVec:
	VMOVUPS (R8)(BX*1), Y0
	VCMPPS $1, Y0, Y15, Y1
	VANDPS (R9)(BX*1), Y1, Y1
	LEAQ (SI)(BX*1), AX
	VCMPPS $0, (AX), Y0, Y2
	VCMPPS $0, (AX)(DX*1), Y0, Y4
	LEAQ (R12)(BX*1), AX
	VCMPPS $0, (AX), Y0, Y3
	VANDPS Y2, Y1, Y5
	VANDNPS Y1, Y2, Y1
	VANDPS Y3, Y1, Y6
	VANDNPS Y1, Y3, Y1
	VANDPS Y4, Y1, Y7
	VANDNPS Y1, Y4, Y1
	LEAQ (DI)(BX*1), AX
	VMOVUPS Y5, (AX)
	VMOVUPS Y7, (AX)(DX*1)
	LEAQ (R13)(BX*1), AX
	VMOVUPS Y6, (AX)
	VMOVUPS Y1, (AX)(DX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT backVec

	ADDQ R10, R8
	ADDQ R10, R9
	LEAQ (SI)(R10*2), SI
	LEAQ (DI)(R10*2), DI
	DECQ CX
	JNZ backPixel
	VZEROUPPER
	RET
