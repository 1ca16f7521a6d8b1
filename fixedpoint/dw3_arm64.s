//go:build !purego

#include "textflag.h"

// func dw3NEON(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int)
//
// Registers: R0 pixels left, R1 the pixel's offset from the taps, R2 xs,
// R7 the pixel's output, R8 ldc; R12-R15 and R19-R23 the nine tap
// pointers; per block R9 blocks left, R10 the offset at the block, R5
// its weights, R6 its bias, R11 its output, R24 an address. V0-V8 the
// taps' inputs widened to int16, V20-V29 their weights (LD2 splits each
// pair), V16 and V17 the sums of channels 0-3 and 4-7.
TEXT ·dw3NEON(SB), NOSPLIT, $0-64
	MOVD n+0(FP), R0
	MOVD xs+24(FP), R2
	MOVD acc+48(FP), R7
	MOVD ldc+56(FP), R8
	MOVD tap+16(FP), R3
	LDP 0(R3), (R12, R13)
	LDP 16(R3), (R14, R15)
	LDP 32(R3), (R19, R20)
	LDP 48(R3), (R21, R22)
	MOVD 64(R3), R23
	MOVD ZR, R1
pixel:
	MOVD cb+8(FP), R9
	MOVD R1, R10
	MOVD w+32(FP), R5
	MOVD bias+40(FP), R6
	MOVD R7, R11
block:
	VLD1.P 32(R6), [V16.S4, V17.S4]
	ADD R10, R12, R24
	VLD1 (R24), [V0.B8]
	ADD R10, R13, R24
	VLD1 (R24), [V1.B8]
	ADD R10, R14, R24
	VLD1 (R24), [V2.B8]
	ADD R10, R15, R24
	VLD1 (R24), [V3.B8]
	ADD R10, R19, R24
	VLD1 (R24), [V4.B8]
	ADD R10, R20, R24
	VLD1 (R24), [V5.B8]
	ADD R10, R21, R24
	VLD1 (R24), [V6.B8]
	ADD R10, R22, R24
	VLD1 (R24), [V7.B8]
	ADD R10, R23, R24
	VLD1 (R24), [V8.B8]
	WORD $0x0f08a400 // SXTL V0.8H, V0.8B
	WORD $0x0f08a421 // SXTL V1.8H, V1.8B
	WORD $0x0f08a442 // SXTL V2.8H, V2.8B
	WORD $0x0f08a463 // SXTL V3.8H, V3.8B
	WORD $0x0f08a484 // SXTL V4.8H, V4.8B
	WORD $0x0f08a4a5 // SXTL V5.8H, V5.8B
	WORD $0x0f08a4c6 // SXTL V6.8H, V6.8B
	WORD $0x0f08a4e7 // SXTL V7.8H, V7.8B
	WORD $0x0f08a508 // SXTL V8.8H, V8.8B
	VLD2.P 32(R5), [V20.H8, V21.H8]
	VLD2.P 32(R5), [V22.H8, V23.H8]
	VLD2.P 32(R5), [V24.H8, V25.H8]
	VLD2.P 32(R5), [V26.H8, V27.H8]
	VLD2.P 32(R5), [V28.H8, V29.H8]
	WORD $0x0e748010 // SMLAL V16.4S, V0.4H, V20.4H
	WORD $0x4e748011 // SMLAL2 V17.4S, V0.8H, V20.8H
	WORD $0x0e758030 // SMLAL V16.4S, V1.4H, V21.4H
	WORD $0x4e758031 // SMLAL2 V17.4S, V1.8H, V21.8H
	WORD $0x0e768050 // SMLAL V16.4S, V2.4H, V22.4H
	WORD $0x4e768051 // SMLAL2 V17.4S, V2.8H, V22.8H
	WORD $0x0e778070 // SMLAL V16.4S, V3.4H, V23.4H
	WORD $0x4e778071 // SMLAL2 V17.4S, V3.8H, V23.8H
	WORD $0x0e788090 // SMLAL V16.4S, V4.4H, V24.4H
	WORD $0x4e788091 // SMLAL2 V17.4S, V4.8H, V24.8H
	WORD $0x0e7980b0 // SMLAL V16.4S, V5.4H, V25.4H
	WORD $0x4e7980b1 // SMLAL2 V17.4S, V5.8H, V25.8H
	WORD $0x0e7a80d0 // SMLAL V16.4S, V6.4H, V26.4H
	WORD $0x4e7a80d1 // SMLAL2 V17.4S, V6.8H, V26.8H
	WORD $0x0e7b80f0 // SMLAL V16.4S, V7.4H, V27.4H
	WORD $0x4e7b80f1 // SMLAL2 V17.4S, V7.8H, V27.8H
	WORD $0x0e7c8110 // SMLAL V16.4S, V8.4H, V28.4H
	WORD $0x4e7c8111 // SMLAL2 V17.4S, V8.8H, V28.8H
	VST1.P [V16.S4, V17.S4], 32(R11)
	ADD $8, R10, R10
	SUBS $1, R9, R9
	BNE block
	ADD R2, R1, R1
	ADD R8, R7, R7
	SUBS $1, R0, R0
	BNE pixel
	RET
