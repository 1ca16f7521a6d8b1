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
