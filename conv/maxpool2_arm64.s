//go:build !purego

#include "textflag.h"

// func maxPool2NEON(d, r0, r1 *float32, n, c, cv int)
//
// For each output pixel (R3 counts them) and each 4 channels of it (R6
// counts bytes), the FMAX of the four: it returns NaN if either input is,
// and +0 for +0 and -0, as Go's max does. Go's assembler lacks the vector
// FMAX: its WORDs are checked against llvm-mc in TestARM64Encodings.
TEXT ·maxPool2NEON(SB), NOSPLIT, $0-48
	MOVD d+0(FP), R0
	MOVD r0+8(FP), R1
	MOVD r1+16(FP), R2
	MOVD n+24(FP), R3
	MOVD c+32(FP), R4
	MOVD cv+40(FP), R5

pixel:
	MOVD $0, R6
	ADD R4, R1, R7 // r0, pixel 2x+1
	ADD R4, R2, R8 // r1, pixel 2x+1

vec:
	ADD R6, R1, R10
	VLD1 (R10), [V0.S4]
	ADD R6, R7, R10
	VLD1 (R10), [V1.S4]
	ADD R6, R2, R10
	VLD1 (R10), [V2.S4]
	ADD R6, R8, R10
	VLD1 (R10), [V3.S4]
	WORD $0x4e21f404 // FMAX V4.4S, V0.4S, V1.4S
	WORD $0x4e23f445 // FMAX V5.4S, V2.4S, V3.4S
	WORD $0x4e25f486 // FMAX V6.4S, V4.4S, V5.4S
	ADD R6, R0, R10
	VST1 [V6.S4], (R10)
	ADD $16, R6, R6
	CMP R5, R6
	BLT vec

	ADD R4, R0, R0
	ADD R4<<1, R1, R1
	ADD R4<<1, R2, R2
	SUBS $1, R3, R3
	BNE pixel
	RET

// func maxPool2BackReLUNEON(gx, src, y, gy *float32, n, row, c, cv int)
//
// For each output pixel (R4 counts them) and each 4 channels of it (R8
// counts bytes): the gradient g, kept where y > 0 (FCMGT: not for NaN),
// goes to the first of the window's inputs equal to y (FCMEQ), taken out
// of g as it goes (BIC), and what is left to the last.
TEXT ·maxPool2BackReLUNEON(SB), NOSPLIT, $0-64
	MOVD gx+0(FP), R0
	MOVD src+8(FP), R1
	MOVD y+16(FP), R2
	MOVD gy+24(FP), R3
	MOVD n+32(FP), R4
	MOVD row+40(FP), R5
	MOVD c+48(FP), R6
	MOVD cv+56(FP), R7

backPixel:
	MOVD $0, R8

backVec:
	ADD R8, R2, R10
	VLD1 (R10), [V0.S4]
	ADD R8, R3, R10
	VLD1 (R10), [V1.S4]
	ADD R8, R1, R10
	VLD1 (R10), [V2.S4]
	ADD R6, R10, R11
	VLD1 (R11), [V3.S4]
	ADD R5, R10, R11
	VLD1 (R11), [V4.S4]
	WORD $0x4ea0c805 // FCMGT V5.4S, V0.4S, #0.0
	VAND V5.B16, V1.B16, V1.B16
	WORD $0x4e20e442 // FCMEQ V2.4S, V2.4S, V0.4S
	WORD $0x4e20e463 // FCMEQ V3.4S, V3.4S, V0.4S
	WORD $0x4e20e484 // FCMEQ V4.4S, V4.4S, V0.4S
	VAND V2.B16, V1.B16, V6.B16
	WORD $0x4e621c21 // BIC V1.16B, V1.16B, V2.16B
	VAND V3.B16, V1.B16, V7.B16
	WORD $0x4e631c21 // BIC V1.16B, V1.16B, V3.16B
	VAND V4.B16, V1.B16, V16.B16
	WORD $0x4e641c21 // BIC V1.16B, V1.16B, V4.16B
	ADD R8, R0, R10
	VST1 [V6.S4], (R10)
	ADD R6, R10, R11
	VST1 [V7.S4], (R11)
	ADD R5, R10, R11
	VST1 [V16.S4], (R11)
	ADD R6, R11, R11
	VST1 [V1.S4], (R11)
	ADD $16, R8, R8
	CMP R7, R8
	BLT backVec

	ADD R6, R2, R2
	ADD R6, R3, R3
	ADD R6<<1, R1, R1
	ADD R6<<1, R0, R0
	SUBS $1, R4, R4
	BNE backPixel
	RET
