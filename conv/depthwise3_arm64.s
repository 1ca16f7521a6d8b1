//go:build !purego

#include "textflag.h"

// func dw3NEON(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)
//
// Registers: V0…V8 the nine weights of a block of 4 channels, V9 its bias,
// V10 the sum, V11…V19 the nine input taps, V31 the floor. R8 is the
// channel block's offset in bytes; per pixel R11 points at the output and
// R12, R13, R14 at column 0 of the window's three rows. FMAX is not in Go's
// assembler: its WORD is checked against llvm-mc in TestARM64Encodings.
TEXT ·dw3NEON(SB), NOSPLIT, $0-92
	MOVD w+16(FP), R0
	MOVD b+24(FP), R1
	MOVD y+0(FP), R2
	MOVD x+8(FP), R3
	MOVD xoff+32(FP), R15
	ADD R15, R3, R3
	MOVD c+48(FP), R4
	MOVD rowStride+64(FP), R5
	MOVD pixStep+72(FP), R6
	MOVD cv+56(FP), R7
	MOVD taps+80(FP), R9
	MOVWU floor+88(FP), R15
	VDUP R15, V31.S4
	SUB R4<<1, R6, R17 // from column 2 of a window to column 0 of the next
	MOVD $0, R8

block:
	ADD R8, R0, R15
	VLD1.P (R15)(R4), [V0.S4]
	VLD1.P (R15)(R4), [V1.S4]
	VLD1.P (R15)(R4), [V2.S4]
	VLD1.P (R15)(R4), [V3.S4]
	VLD1.P (R15)(R4), [V4.S4]
	VLD1.P (R15)(R4), [V5.S4]
	VLD1.P (R15)(R4), [V6.S4]
	VLD1.P (R15)(R4), [V7.S4]
	VLD1.P (R15)(R4), [V8.S4]
	ADD R8, R1, R15
	VLD1 (R15), [V9.S4]
	ADD R8, R2, R11
	ADD R8, R3, R12
	ADD R5, R12, R13
	ADD R5, R13, R14
	MOVD n+40(FP), R10
	CMP $0x1ff, R9
	BNE masked

full:
	VORR V9.B16, V9.B16, V10.B16
	VLD1.P (R12)(R4), [V11.S4]
	VLD1.P (R12)(R4), [V12.S4]
	VLD1 (R12), [V13.S4]
	ADD R17, R12, R12
	VLD1.P (R13)(R4), [V14.S4]
	VLD1.P (R13)(R4), [V15.S4]
	VLD1 (R13), [V16.S4]
	ADD R17, R13, R13
	VLD1.P (R14)(R4), [V17.S4]
	VLD1.P (R14)(R4), [V18.S4]
	VLD1 (R14), [V19.S4]
	ADD R17, R14, R14
	VFMLA V11.S4, V0.S4, V10.S4
	VFMLA V12.S4, V1.S4, V10.S4
	VFMLA V13.S4, V2.S4, V10.S4
	VFMLA V14.S4, V3.S4, V10.S4
	VFMLA V15.S4, V4.S4, V10.S4
	VFMLA V16.S4, V5.S4, V10.S4
	VFMLA V17.S4, V6.S4, V10.S4
	VFMLA V18.S4, V7.S4, V10.S4
	VFMLA V19.S4, V8.S4, V10.S4
	WORD $0x4e2af7ea // FMAX V10.4S, V31.4S, V10.4S
	VST1.P [V10.S4], (R11)(R4)
	SUBS $1, R10, R10
	BNE full
	B next

// Windows that hang over an edge: the same sum, each tap only if its bit
// of taps (R9) is set.
masked:
	VORR V9.B16, V9.B16, V10.B16
	TBZ $0, R9, m0
	VLD1 (R12), [V11.S4]
	VFMLA V11.S4, V0.S4, V10.S4
m0:
	TBZ $1, R9, m1
	ADD R4, R12, R15
	VLD1 (R15), [V12.S4]
	VFMLA V12.S4, V1.S4, V10.S4
m1:
	TBZ $2, R9, m2
	ADD R4<<1, R12, R15
	VLD1 (R15), [V13.S4]
	VFMLA V13.S4, V2.S4, V10.S4
m2:
	TBZ $3, R9, m3
	VLD1 (R13), [V14.S4]
	VFMLA V14.S4, V3.S4, V10.S4
m3:
	TBZ $4, R9, m4
	ADD R4, R13, R15
	VLD1 (R15), [V15.S4]
	VFMLA V15.S4, V4.S4, V10.S4
m4:
	TBZ $5, R9, m5
	ADD R4<<1, R13, R15
	VLD1 (R15), [V16.S4]
	VFMLA V16.S4, V5.S4, V10.S4
m5:
	TBZ $6, R9, m6
	VLD1 (R14), [V17.S4]
	VFMLA V17.S4, V6.S4, V10.S4
m6:
	TBZ $7, R9, m7
	ADD R4, R14, R15
	VLD1 (R15), [V18.S4]
	VFMLA V18.S4, V7.S4, V10.S4
m7:
	TBZ $8, R9, m8
	ADD R4<<1, R14, R15
	VLD1 (R15), [V19.S4]
	VFMLA V19.S4, V8.S4, V10.S4
m8:
	WORD $0x4e2af7ea // FMAX V10.4S, V31.4S, V10.4S
	VST1.P [V10.S4], (R11)(R4)
	ADD R6, R12, R12
	ADD R6, R13, R13
	ADD R6, R14, R14
	SUBS $1, R10, R10
	BNE masked

next:
	ADD $16, R8, R8
	CMP R7, R8
	BLT block
	RET

// func dw3BackWNEON(gy, x, gw *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)
//
// Registers: V0…V8 the weight gradient of a block of 4 channels, summed
// over the call's pixels and added to gw at the end (FADD, a WORD checked
// like FMAX), V9 the output gradient of one pixel, V11…V19 the input taps;
// the general registers are dw3NEON's.
TEXT ·dw3BackWNEON(SB), NOSPLIT, $0-80
	MOVD gy+0(FP), R2
	MOVD x+8(FP), R3
	MOVD xoff+24(FP), R15
	ADD R15, R3, R3
	MOVD gw+16(FP), R0
	MOVD c+40(FP), R4
	MOVD rowStride+56(FP), R5
	MOVD pixStep+64(FP), R6
	MOVD cv+48(FP), R7
	MOVD taps+72(FP), R9
	SUB R4<<1, R6, R17 // from column 2 of a window to column 0 of the next
	MOVD $0, R8
block:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	ADD R8, R2, R11
	ADD R8, R3, R12
	ADD R5, R12, R13
	ADD R5, R13, R14
	MOVD n+32(FP), R10
	CMP $0x1ff, R9
	BNE masked
full:
	VLD1.P (R11)(R4), [V9.S4]
	VLD1.P (R12)(R4), [V11.S4]
	VLD1.P (R12)(R4), [V12.S4]
	VLD1 (R12), [V13.S4]
	ADD R17, R12, R12
	VLD1.P (R13)(R4), [V14.S4]
	VLD1.P (R13)(R4), [V15.S4]
	VLD1 (R13), [V16.S4]
	ADD R17, R13, R13
	VLD1.P (R14)(R4), [V17.S4]
	VLD1.P (R14)(R4), [V18.S4]
	VLD1 (R14), [V19.S4]
	ADD R17, R14, R14
	VFMLA V9.S4, V11.S4, V0.S4
	VFMLA V9.S4, V12.S4, V1.S4
	VFMLA V9.S4, V13.S4, V2.S4
	VFMLA V9.S4, V14.S4, V3.S4
	VFMLA V9.S4, V15.S4, V4.S4
	VFMLA V9.S4, V16.S4, V5.S4
	VFMLA V9.S4, V17.S4, V6.S4
	VFMLA V9.S4, V18.S4, V7.S4
	VFMLA V9.S4, V19.S4, V8.S4
	SUBS $1, R10, R10
	BNE full
	B sum

masked:
	VLD1.P (R11)(R4), [V9.S4]
	TBZ $0, R9, m0
	VLD1 (R12), [V11.S4]
	VFMLA V9.S4, V11.S4, V0.S4
m0:
	TBZ $1, R9, m1
	ADD R4, R12, R15
	VLD1 (R15), [V12.S4]
	VFMLA V9.S4, V12.S4, V1.S4
m1:
	TBZ $2, R9, m2
	ADD R4<<1, R12, R15
	VLD1 (R15), [V13.S4]
	VFMLA V9.S4, V13.S4, V2.S4
m2:
	TBZ $3, R9, m3
	VLD1 (R13), [V14.S4]
	VFMLA V9.S4, V14.S4, V3.S4
m3:
	TBZ $4, R9, m4
	ADD R4, R13, R15
	VLD1 (R15), [V15.S4]
	VFMLA V9.S4, V15.S4, V4.S4
m4:
	TBZ $5, R9, m5
	ADD R4<<1, R13, R15
	VLD1 (R15), [V16.S4]
	VFMLA V9.S4, V16.S4, V5.S4
m5:
	TBZ $6, R9, m6
	VLD1 (R14), [V17.S4]
	VFMLA V9.S4, V17.S4, V6.S4
m6:
	TBZ $7, R9, m7
	ADD R4, R14, R15
	VLD1 (R15), [V18.S4]
	VFMLA V9.S4, V18.S4, V7.S4
m7:
	TBZ $8, R9, m8
	ADD R4<<1, R14, R15
	VLD1 (R15), [V19.S4]
	VFMLA V9.S4, V19.S4, V8.S4
m8:
	ADD R6, R12, R12
	ADD R6, R13, R13
	ADD R6, R14, R14
	SUBS $1, R10, R10
	BNE masked

sum:
	ADD R8, R0, R15
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d400 // FADD V0.4S, V0.4S, V20.4S
	VST1.P [V0.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d421 // FADD V1.4S, V1.4S, V20.4S
	VST1.P [V1.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d442 // FADD V2.4S, V2.4S, V20.4S
	VST1.P [V2.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d463 // FADD V3.4S, V3.4S, V20.4S
	VST1.P [V3.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d484 // FADD V4.4S, V4.4S, V20.4S
	VST1.P [V4.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d4a5 // FADD V5.4S, V5.4S, V20.4S
	VST1.P [V5.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d4c6 // FADD V6.4S, V6.4S, V20.4S
	VST1.P [V6.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d4e7 // FADD V7.4S, V7.4S, V20.4S
	VST1.P [V7.S4], (R15)(R4)
	VLD1 (R15), [V20.S4]
	WORD $0x4e34d508 // FADD V8.4S, V8.4S, V20.4S
	VST1.P [V8.S4], (R15)(R4)
	ADD $16, R8, R8
	CMP R7, R8
	BLT block
	RET

// func dw3BackXNEON(gy, gx, w *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)
//
// Registers: V0…V8 the weights of a block of 4 channels, V9 the output
// gradient of one pixel, V10 a tap of gx being updated; the general
// registers are dw3NEON's, with gx in place of x.
TEXT ·dw3BackXNEON(SB), NOSPLIT, $0-80
	MOVD gy+0(FP), R2
	MOVD gx+8(FP), R3
	MOVD xoff+24(FP), R15
	ADD R15, R3, R3
	MOVD w+16(FP), R0
	MOVD c+40(FP), R4
	MOVD rowStride+56(FP), R5
	MOVD pixStep+64(FP), R6
	MOVD cv+48(FP), R7
	MOVD taps+72(FP), R9
	SUB R4<<1, R6, R17 // from column 2 of a window to column 0 of the next
	MOVD $0, R8
block:
	ADD R8, R0, R15
	VLD1.P (R15)(R4), [V0.S4]
	VLD1.P (R15)(R4), [V1.S4]
	VLD1.P (R15)(R4), [V2.S4]
	VLD1.P (R15)(R4), [V3.S4]
	VLD1.P (R15)(R4), [V4.S4]
	VLD1.P (R15)(R4), [V5.S4]
	VLD1.P (R15)(R4), [V6.S4]
	VLD1.P (R15)(R4), [V7.S4]
	VLD1.P (R15)(R4), [V8.S4]
	ADD R8, R2, R11
	ADD R8, R3, R12
	ADD R5, R12, R13
	ADD R5, R13, R14
	MOVD n+32(FP), R10
	CMP $0x1ff, R9
	BNE masked
full:
	VLD1.P (R11)(R4), [V9.S4]
	VLD1 (R12), [V10.S4]
	VFMLA V9.S4, V0.S4, V10.S4
	VST1.P [V10.S4], (R12)(R4)
	VLD1 (R12), [V10.S4]
	VFMLA V9.S4, V1.S4, V10.S4
	VST1.P [V10.S4], (R12)(R4)
	VLD1 (R12), [V10.S4]
	VFMLA V9.S4, V2.S4, V10.S4
	VST1 [V10.S4], (R12)
	ADD R17, R12, R12
	VLD1 (R13), [V10.S4]
	VFMLA V9.S4, V3.S4, V10.S4
	VST1.P [V10.S4], (R13)(R4)
	VLD1 (R13), [V10.S4]
	VFMLA V9.S4, V4.S4, V10.S4
	VST1.P [V10.S4], (R13)(R4)
	VLD1 (R13), [V10.S4]
	VFMLA V9.S4, V5.S4, V10.S4
	VST1 [V10.S4], (R13)
	ADD R17, R13, R13
	VLD1 (R14), [V10.S4]
	VFMLA V9.S4, V6.S4, V10.S4
	VST1.P [V10.S4], (R14)(R4)
	VLD1 (R14), [V10.S4]
	VFMLA V9.S4, V7.S4, V10.S4
	VST1.P [V10.S4], (R14)(R4)
	VLD1 (R14), [V10.S4]
	VFMLA V9.S4, V8.S4, V10.S4
	VST1 [V10.S4], (R14)
	ADD R17, R14, R14
	SUBS $1, R10, R10
	BNE full
	B next

masked:
	VLD1.P (R11)(R4), [V9.S4]
	TBZ $0, R9, m0
	VLD1 (R12), [V10.S4]
	VFMLA V9.S4, V0.S4, V10.S4
	VST1 [V10.S4], (R12)
m0:
	TBZ $1, R9, m1
	ADD R4, R12, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V1.S4, V10.S4
	VST1 [V10.S4], (R15)
m1:
	TBZ $2, R9, m2
	ADD R4<<1, R12, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V2.S4, V10.S4
	VST1 [V10.S4], (R15)
m2:
	TBZ $3, R9, m3
	VLD1 (R13), [V10.S4]
	VFMLA V9.S4, V3.S4, V10.S4
	VST1 [V10.S4], (R13)
m3:
	TBZ $4, R9, m4
	ADD R4, R13, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V4.S4, V10.S4
	VST1 [V10.S4], (R15)
m4:
	TBZ $5, R9, m5
	ADD R4<<1, R13, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V5.S4, V10.S4
	VST1 [V10.S4], (R15)
m5:
	TBZ $6, R9, m6
	VLD1 (R14), [V10.S4]
	VFMLA V9.S4, V6.S4, V10.S4
	VST1 [V10.S4], (R14)
m6:
	TBZ $7, R9, m7
	ADD R4, R14, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V7.S4, V10.S4
	VST1 [V10.S4], (R15)
m7:
	TBZ $8, R9, m8
	ADD R4<<1, R14, R15
	VLD1 (R15), [V10.S4]
	VFMLA V9.S4, V8.S4, V10.S4
	VST1 [V10.S4], (R15)
m8:
	ADD R6, R12, R12
	ADD R6, R13, R13
	ADD R6, R14, R14
	SUBS $1, R10, R10
	BNE masked

next:
	ADD $16, R8, R8
	CMP R7, R8
	BLT block
	RET
