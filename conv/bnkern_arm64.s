//go:build !purego

#include "textflag.h"

// The batch-norm kernels of bnkern.go in NEON, 4 channels a vector. Every
// kernel walks the pixels in runs of 32 (sumRun) and, within a run, the
// channels [0, cv) a block at a time (cv, c and the channel offsets in
// bytes), the pixels of the run in order; R7 is the run's length in
// pixels, R6 the pixels left. Products and sums are rounded separately,
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
// V0 and V1 the block's d and e. The ReLU is FMAX with +0: NaN stays NaN
// and -0 becomes +0, as with Go's max(x, 0).
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

affineRun:
	MOVD $32, R7
	CMP R7, R6
	CSEL LT, R6, R7, R7
	MOVD $0, R8

affineBlock:
	ADD R8, R2, R9
	VLD1 (R9), [V0.S4]
	ADD R8, R3, R9
	VLD1 (R9), [V1.S4]
	ADD R8, R1, R12
	ADD R8, R0, R14
	MOVD R7, R13
	CBZ R15, affinePix

affinePixReLU:
	VLD1.P (R12)(R4), [V2.S4]
	WORD $0x6e20dc42 // FMUL V2.4S, V2.4S, V0.4S
	WORD $0x4e21d442 // FADD V2.4S, V2.4S, V1.4S
	WORD $0x4e3ef442 // FMAX V2.4S, V2.4S, V30.4S
	VST1.P [V2.S4], (R14)(R4)
	SUBS $1, R13, R13
	BNE affinePixReLU
	B affineBlockNext

affinePix:
	VLD1.P (R12)(R4), [V2.S4]
	WORD $0x6e20dc42 // FMUL V2.4S, V2.4S, V0.4S
	WORD $0x4e21d442 // FADD V2.4S, V2.4S, V1.4S
	VST1.P [V2.S4], (R14)(R4)
	SUBS $1, R13, R13
	BNE affinePix

affineBlockNext:
	ADD $16, R8, R8
	CMP R5, R8
	BLT affineBlock
	MUL R7, R4, R13
	ADD R13, R0, R0
	ADD R13, R1, R1
	SUBS R7, R6, R6
	BNE affineRun
	RET

// func bnGradSumsNEON(src, gy, y, mean *float32, sg, sgx *float64, c, cv, p int)
//
// The gradient through the ReLU is gy ANDed with y > 0 (FCMGT: false for
// NaN, true for +Inf), reluGrad's mask. V0 the block's mean, V1 and V2
// the run's sums of g and g·(x-mean), added in float64 to sg and sgx
// after the run.
TEXT ·bnGradSumsNEON(SB), NOSPLIT, $0-72
	MOVD src+0(FP), R0
	MOVD gy+8(FP), R1
	MOVD y+16(FP), R2
	MOVD mean+24(FP), R3
	MOVD sg+32(FP), R19
	MOVD sgx+40(FP), R20
	MOVD c+48(FP), R4
	MOVD cv+56(FP), R5
	MOVD p+64(FP), R6

sumsRun:
	MOVD $32, R7
	CMP R7, R6
	CSEL LT, R6, R7, R7
	MOVD $0, R8

sumsBlock:
	ADD R8, R3, R9
	VLD1 (R9), [V0.S4]
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	ADD R8, R0, R10
	ADD R8, R1, R11
	ADD R8, R2, R12
	MOVD R7, R13

sumsPix:
	VLD1.P (R12)(R4), [V3.S4]
	VLD1.P (R11)(R4), [V4.S4]
	VLD1.P (R10)(R4), [V5.S4]
	WORD $0x4ea0c863 // FCMGT V3.4S, V3.4S, #0.0
	VAND V3.B16, V4.B16, V4.B16
	WORD $0x4e24d421 // FADD V1.4S, V1.4S, V4.4S
	WORD $0x4ea0d4a5 // FSUB V5.4S, V5.4S, V0.4S
	WORD $0x6e25dc85 // FMUL V5.4S, V4.4S, V5.4S
	WORD $0x4e25d442 // FADD V2.4S, V2.4S, V5.4S
	SUBS $1, R13, R13
	BNE sumsPix
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
	BLT sumsBlock
	MUL R7, R4, R13
	ADD R13, R0, R0
	ADD R13, R1, R1
	ADD R13, R2, R2
	SUBS R7, R6, R6
	BNE sumsRun
	RET

// func bnGradInputNEON(gx, gy, y, src, a, e, k *float32, c, cv, p int)
//
// V0, V1, V2 the block's a, e and k; g is bnGradSumsNEON's.
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

inputRun:
	MOVD $32, R7
	CMP R7, R6
	CSEL LT, R6, R7, R7
	MOVD $0, R8

inputBlock:
	ADD R8, R19, R9
	VLD1 (R9), [V0.S4]
	ADD R8, R20, R9
	VLD1 (R9), [V1.S4]
	ADD R8, R21, R9
	VLD1 (R9), [V2.S4]
	ADD R8, R0, R10
	ADD R8, R1, R11
	ADD R8, R2, R12
	ADD R8, R3, R14
	MOVD R7, R13

inputPix:
	VLD1.P (R12)(R4), [V3.S4]
	VLD1.P (R11)(R4), [V4.S4]
	VLD1.P (R14)(R4), [V5.S4]
	WORD $0x4ea0c863 // FCMGT V3.4S, V3.4S, #0.0
	VAND V3.B16, V4.B16, V4.B16
	WORD $0x6e20dc84 // FMUL V4.4S, V4.4S, V0.4S
	WORD $0x4e21d484 // FADD V4.4S, V4.4S, V1.4S
	WORD $0x6e22dca5 // FMUL V5.4S, V5.4S, V2.4S
	WORD $0x4e25d484 // FADD V4.4S, V4.4S, V5.4S
	VST1.P [V4.S4], (R10)(R4)
	SUBS $1, R13, R13
	BNE inputPix
	ADD $16, R8, R8
	CMP R5, R8
	BLT inputBlock
	MUL R7, R4, R13
	ADD R13, R0, R0
	ADD R13, R1, R1
	ADD R13, R2, R2
	ADD R13, R3, R3
	SUBS R7, R6, R6
	BNE inputRun
	RET
