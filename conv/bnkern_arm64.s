//go:build !purego

#include "textflag.h"

// The batch-norm kernels of bnkern.go in NEON, 4 channels a vector, in
// the orders of bnkern_amd64.s: the elementwise kernels and the gradient
// sums walk the pixels in order and within a pixel the channels [0, cv)
// (cv, c and R8, the block's offset, in bytes), the gradient sums in
// memory; the statistics, in float64, run over 32 pixels a block at a
// time with their sums in registers (R7 the run's length in pixels, R6
// the pixels left). Products and sums are rounded separately,
// as in the Go twins (no FMLA). Go's assembler lacks the vector
// floating-point arithmetic: its WORDs are checked against llvm-mc in
// TestARM64Encodings.

// func bnStatsNEON(src, shift *float32, s, ss *float64, c, cv, p int)
//
// In float64, 2 lanes a register: the block's shift in V16, V17, its sums
// in V1, V2 (x-shift) and V3, V4 ((x-shift)²), loaded from s and ss for
// each run and stored back after it.
TEXT ·bnStatsNEON(SB), NOSPLIT, $0-56
	MOVD src+0(FP), R0
	MOVD shift+8(FP), R1
	MOVD s+16(FP), R2
	MOVD ss+24(FP), R3
	MOVD c+32(FP), R4
	MOVD cv+40(FP), R5
	MOVD p+48(FP), R6

statsRun:
	MOVD $32, R7
	CMP R7, R6
	CSEL LT, R6, R7, R7
	MOVD $0, R8

statsBlock:
	ADD R8, R1, R9
	VLD1 (R9), [V0.S4]
	WORD $0x0e617810 // FCVTL V16.2D, V0.2S
	WORD $0x4e617811 // FCVTL2 V17.2D, V0.4S
	ADD R8<<1, R2, R10
	VLD1 (R10), [V1.D2, V2.D2]
	ADD R8<<1, R3, R11
	VLD1 (R11), [V3.D2, V4.D2]
	ADD R8, R0, R12
	MOVD R7, R13

statsPix:
	VLD1.P (R12)(R4), [V5.S4]
	WORD $0x0e6178a6 // FCVTL V6.2D, V5.2S
	WORD $0x4e6178a7 // FCVTL2 V7.2D, V5.4S
	WORD $0x4ef0d4c6 // FSUB V6.2D, V6.2D, V16.2D
	WORD $0x4ef1d4e7 // FSUB V7.2D, V7.2D, V17.2D
	WORD $0x4e66d421 // FADD V1.2D, V1.2D, V6.2D
	WORD $0x4e67d442 // FADD V2.2D, V2.2D, V7.2D
	WORD $0x6e66dcc6 // FMUL V6.2D, V6.2D, V6.2D
	WORD $0x6e67dce7 // FMUL V7.2D, V7.2D, V7.2D
	WORD $0x4e66d463 // FADD V3.2D, V3.2D, V6.2D
	WORD $0x4e67d484 // FADD V4.2D, V4.2D, V7.2D
	SUBS $1, R13, R13
	BNE statsPix
	VST1 [V1.D2, V2.D2], (R10)
	VST1 [V3.D2, V4.D2], (R11)
	ADD $16, R8, R8
	CMP R5, R8
	BLT statsBlock
	MUL R7, R4, R13
	ADD R13, R0, R0
	SUBS R7, R6, R6
	BNE statsRun
	RET

// func bnAffineNEON(dst, src, d, e *float32, c, cv, p, relu int)
//
// The ReLU is FMAX with +0: NaN stays NaN and -0 becomes +0, as with Go's
// max(x, 0).
TEXT ·bnAffineNEON(SB), NOSPLIT, $0-64
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD d+16(FP), R2
	MOVD e+24(FP), R3
	MOVD c+32(FP), R4
	MOVD cv+40(FP), R5
	MOVD p+48(FP), R6
	MOVD relu+56(FP), R15
	VEOR V30.B16, V30.B16, V30.B16

affinePix:
	MOVD R1, R12
	MOVD R0, R14
	MOVD R2, R9
	MOVD R3, R10
	MOVD $0, R8

affineBlock:
	VLD1.P 16(R12), [V2.S4]
	VLD1.P 16(R9), [V0.S4]
	VLD1.P 16(R10), [V1.S4]
	WORD $0x6e20dc42 // FMUL V2.4S, V2.4S, V0.4S
	WORD $0x4e21d442 // FADD V2.4S, V2.4S, V1.4S
	CBZ R15, affineStore
	WORD $0x4e3ef442 // FMAX V2.4S, V2.4S, V30.4S

affineStore:
	VST1.P [V2.S4], 16(R14)
	ADD $16, R8, R8
	CMP R5, R8
	BLT affineBlock
	ADD R4, R0, R0
	ADD R4, R1, R1
	SUBS $1, R6, R6
	BNE affinePix
	RET

// func bnGradSumsNEON(src, gy, y, mean *float32, sg, sgx *float64, run *float32, c, cv, p int)
//
// The gradient through the ReLU is gy ANDed with y > 0 (FCMGT: false for
// NaN, true for +Inf), reluGrad's mask. run holds 2·cv bytes: the float32
// sums of g and of g·(x-mean) over the current run of up to 32 pixels (R7
// of them; R6 the pixels left), added into sg and sgx in float64 after
// it.
TEXT ·bnGradSumsNEON(SB), NOSPLIT, $0-80
	MOVD src+0(FP), R0
	MOVD gy+8(FP), R1
	MOVD y+16(FP), R2
	MOVD mean+24(FP), R3
	MOVD sg+32(FP), R19
	MOVD sgx+40(FP), R20
	MOVD run+48(FP), R21
	MOVD c+56(FP), R4
	MOVD cv+64(FP), R5
	MOVD p+72(FP), R6
	ADD R5, R21, R22 // the sums of g·(x-mean)
	VEOR V31.B16, V31.B16, V31.B16

sumsRun:
	MOVD $32, R7
	CMP R7, R6
	CSEL LT, R6, R7, R7
	SUB R7, R6, R6
	MOVD $0, R8

sumsClear:
	ADD R8, R21, R9
	VST1 [V31.S4], (R9)
	ADD R8, R22, R9
	VST1 [V31.S4], (R9)
	ADD $16, R8, R8
	CMP R5, R8
	BLT sumsClear

sumsPix:
	MOVD R0, R10
	MOVD R1, R11
	MOVD R2, R12
	MOVD R3, R13
	MOVD R21, R14
	MOVD R22, R15
	MOVD $0, R8

sumsBlock:
	VLD1.P 16(R12), [V3.S4]
	VLD1.P 16(R11), [V4.S4]
	VLD1.P 16(R10), [V5.S4]
	VLD1.P 16(R13), [V0.S4]
	VLD1 (R14), [V1.S4]
	VLD1 (R15), [V2.S4]
	WORD $0x4ea0c863 // FCMGT V3.4S, V3.4S, #0.0
	VAND V3.B16, V4.B16, V4.B16
	WORD $0x4e24d421 // FADD V1.4S, V1.4S, V4.4S
	WORD $0x4ea0d4a5 // FSUB V5.4S, V5.4S, V0.4S
	WORD $0x6e25dc85 // FMUL V5.4S, V4.4S, V5.4S
	WORD $0x4e25d442 // FADD V2.4S, V2.4S, V5.4S
	VST1.P [V1.S4], 16(R14)
	VST1.P [V2.S4], 16(R15)
	ADD $16, R8, R8
	CMP R5, R8
	BLT sumsBlock
	ADD R4, R0, R0
	ADD R4, R1, R1
	ADD R4, R2, R2
	SUBS $1, R7, R7
	BNE sumsPix

	MOVD $0, R8

sumsFold:
	ADD R8, R21, R9
	VLD1 (R9), [V1.S4]
	ADD R8, R22, R9
	VLD1 (R9), [V2.S4]
	ADD R8<<1, R19, R14
	VLD1 (R14), [V8.D2, V9.D2]
	WORD $0x0e617826 // FCVTL V6.2D, V1.2S
	WORD $0x4e617827 // FCVTL2 V7.2D, V1.4S
	WORD $0x4e66d508 // FADD V8.2D, V8.2D, V6.2D
	WORD $0x4e67d529 // FADD V9.2D, V9.2D, V7.2D
	VST1 [V8.D2, V9.D2], (R14)
	ADD R8<<1, R20, R14
	VLD1 (R14), [V8.D2, V9.D2]
	WORD $0x0e617846 // FCVTL V6.2D, V2.2S
	WORD $0x4e617847 // FCVTL2 V7.2D, V2.4S
	WORD $0x4e66d508 // FADD V8.2D, V8.2D, V6.2D
	WORD $0x4e67d529 // FADD V9.2D, V9.2D, V7.2D
	VST1 [V8.D2, V9.D2], (R14)
	ADD $16, R8, R8
	CMP R5, R8
	BLT sumsFold
	CBNZ R6, sumsRun
	RET

// func bnGradInputNEON(gx, gy, y, src, a, e, k *float32, c, cv, p int)
//
// g is bnGradSumsNEON's.
TEXT ·bnGradInputNEON(SB), NOSPLIT, $0-80
	MOVD gx+0(FP), R0
	MOVD gy+8(FP), R1
	MOVD y+16(FP), R2
	MOVD src+24(FP), R3
	MOVD a+32(FP), R19
	MOVD e+40(FP), R20
	MOVD k+48(FP), R21
	MOVD c+56(FP), R4
	MOVD cv+64(FP), R5
	MOVD p+72(FP), R6

inputPix:
	MOVD R0, R10
	MOVD R1, R11
	MOVD R2, R12
	MOVD R3, R14
	MOVD R19, R15
	MOVD R20, R16
	MOVD R21, R17
	MOVD $0, R8

inputBlock:
	VLD1.P 16(R12), [V3.S4]
	VLD1.P 16(R11), [V4.S4]
	VLD1.P 16(R14), [V5.S4]
	VLD1.P 16(R15), [V0.S4]
	VLD1.P 16(R16), [V1.S4]
	VLD1.P 16(R17), [V2.S4]
	WORD $0x4ea0c863 // FCMGT V3.4S, V3.4S, #0.0
	VAND V3.B16, V4.B16, V4.B16
	WORD $0x6e20dc84 // FMUL V4.4S, V4.4S, V0.4S
	WORD $0x4e21d484 // FADD V4.4S, V4.4S, V1.4S
	WORD $0x6e22dca5 // FMUL V5.4S, V5.4S, V2.4S
	WORD $0x4e25d484 // FADD V4.4S, V4.4S, V5.4S
	VST1.P [V4.S4], 16(R10)
	ADD $16, R8, R8
	CMP R5, R8
	BLT inputBlock
	ADD R4, R0, R0
	ADD R4, R1, R1
	ADD R4, R2, R2
	ADD R4, R3, R3
	SUBS $1, R6, R6
	BNE inputPix
	RET
