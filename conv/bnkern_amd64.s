//go:build !purego

#include "textflag.h"

// The batch-norm kernels of bnkern.go in AVX2, 8 channels a vector. The
// elementwise kernels and the gradient sums walk the pixels in order, and
// within a pixel the channels [0, cv) a block of 8 at a time (cv, c and
// BX, the block's offset, in bytes), so that memory is read and written
// in one sequential stream (a run of pixels a block at a time took up to
// twice as long); the gradient sums live in memory, in the first-level
// cache, each channel's a chain of its own. The statistics, in float64,
// keep their sums in registers instead, over runs of 32 pixels a block at
// a time (their chains through memory took half as long again).
// Products and sums are rounded separately, as in the Go twins (no FMA).
// Go's assembler writes VCMPPS $p, b, a, m as m = a p b.

// func bnStatsAVX2(src, shift *float32, s, ss *float64, c, cv, p int)
//
// In float64, 4 lanes a register: the block's shift in Y0 (channels 0-3)
// and Y6 (4-7), its sums in Y1, Y7 (x-shift) and Y2, Y8 ((x-shift)²),
// loaded from s and ss for each run and stored back after it.
TEXT ·bnStatsAVX2(SB), NOSPLIT, $0-56
	MOVQ src+0(FP), SI
	MOVQ shift+8(FP), R8
	MOVQ s+16(FP), R9
	MOVQ ss+24(FP), R10
	MOVQ c+32(FP), DX
	MOVQ cv+40(FP), R11
	MOVQ p+48(FP), CX
	XORQ DI, DI // the run's first pixel, in bytes

statsRun:
	MOVQ $32, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	XORQ BX, BX

statsBlock:
	VCVTPS2PD (R8)(BX*1), Y0
	VCVTPS2PD 16(R8)(BX*1), Y6
	LEAQ (BX)(BX*1), R14 // the block's offset in the float64 sums
	VMOVUPD (R9)(R14*1), Y1
	VMOVUPD 32(R9)(R14*1), Y7
	VMOVUPD (R10)(R14*1), Y2
	VMOVUPD 32(R10)(R14*1), Y8
	LEAQ (DI)(BX*1), AX
	MOVQ R12, R13

statsPix:
	VCVTPS2PD (SI)(AX*1), Y3
	VCVTPS2PD 16(SI)(AX*1), Y9
	VSUBPD Y0, Y3, Y3
	VSUBPD Y6, Y9, Y9
	VADDPD Y3, Y1, Y1
	VADDPD Y9, Y7, Y7
	VMULPD Y3, Y3, Y3
	VMULPD Y9, Y9, Y9
	VADDPD Y3, Y2, Y2
	VADDPD Y9, Y8, Y8
	ADDQ DX, AX
	DECQ R13
	JNZ statsPix
	VMOVUPD Y1, (R9)(R14*1)
	VMOVUPD Y7, 32(R9)(R14*1)
	VMOVUPD Y2, (R10)(R14*1)
	VMOVUPD Y8, 32(R10)(R14*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT statsBlock
	MOVQ R12, R13
	IMULQ DX, R13
	ADDQ R13, DI
	SUBQ R12, CX
	JNZ statsRun
	VZEROUPPER
	RET

// func bnAffineAVX2(dst, src, d, e *float32, c, cv, p, relu int)
//
// The ReLU keeps x where x > 0 or x is NaN (VCMPPS NLE_US) and gives +0
// elsewhere: Go's max(x, 0).
TEXT ·bnAffineAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ d+16(FP), R8
	MOVQ e+24(FP), R9
	MOVQ c+32(FP), DX
	MOVQ cv+40(FP), R11
	MOVQ p+48(FP), CX
	MOVQ relu+56(FP), R15
	VXORPS Y15, Y15, Y15
	TESTQ R15, R15
	JZ affinePix

affinePixReLU:
	XORQ BX, BX

affineBlockReLU:
	VMOVUPS (SI)(BX*1), Y2
	VMULPS (R8)(BX*1), Y2, Y2
	VADDPS (R9)(BX*1), Y2, Y2
	VCMPPS $6, Y15, Y2, Y3
	VANDPS Y3, Y2, Y2
	VMOVUPS Y2, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT affineBlockReLU
	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNZ affinePixReLU
	VZEROUPPER
	RET

affinePix:
	XORQ BX, BX

affineBlock:
	VMOVUPS (SI)(BX*1), Y2
	VMULPS (R8)(BX*1), Y2, Y2
	VADDPS (R9)(BX*1), Y2, Y2
	VMOVUPS Y2, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT affineBlock
	ADDQ DX, SI
	ADDQ DX, DI
	DECQ CX
	JNZ affinePix
	VZEROUPPER
	RET

// func bnGradSumsAVX2(src, gy, y, mean *float32, sg, sgx *float64, run *float32, c, cv, p int)
//
// The gradient through the ReLU is gy ANDed with 0 < y (VCMPPS LT_OS:
// false for NaN, true for +Inf), reluGrad's mask. run holds 2·cv bytes:
// the float32 sums of g and of g·(x-mean) over the current run of up to
// 32 pixels (R12 of them; CX the pixels left), added into sg and sgx in
// float64 after it.
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-80
	MOVQ src+0(FP), SI
	MOVQ gy+8(FP), DI
	MOVQ y+16(FP), R15
	MOVQ mean+24(FP), R8
	MOVQ run+48(FP), R13
	MOVQ c+56(FP), DX
	MOVQ cv+64(FP), R11
	MOVQ p+72(FP), CX
	LEAQ (R13)(R11*1), R10 // the sums of g·(x-mean)
	VXORPS Y15, Y15, Y15

sumsRun:
	MOVQ $32, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	SUBQ R12, CX
	XORQ BX, BX

sumsClear:
	VMOVUPS Y15, (R13)(BX*1)
	VMOVUPS Y15, (R10)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT sumsClear

sumsPix:
	XORQ BX, BX

sumsBlock:
	VCMPPS $1, (R15)(BX*1), Y15, Y3
	VANDPS (DI)(BX*1), Y3, Y3
	VADDPS (R13)(BX*1), Y3, Y5
	VMOVUPS Y5, (R13)(BX*1)
	VMOVUPS (SI)(BX*1), Y4
	VSUBPS (R8)(BX*1), Y4, Y4
	VMULPS Y4, Y3, Y3
	VADDPS (R10)(BX*1), Y3, Y3
	VMOVUPS Y3, (R10)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT sumsBlock
	ADDQ DX, SI
	ADDQ DX, DI
	ADDQ DX, R15
	DECQ R12
	JNZ sumsPix

	MOVQ sg+32(FP), R9
	MOVQ sgx+40(FP), R14
	XORQ BX, BX
	XORQ AX, AX // the block's offset in the float64 sums

sumsFold:
	VCVTPS2PD (R13)(BX*1), Y4
	VCVTPS2PD 16(R13)(BX*1), Y5
	VADDPD (R9)(AX*1), Y4, Y4
	VADDPD 32(R9)(AX*1), Y5, Y5
	VMOVUPD Y4, (R9)(AX*1)
	VMOVUPD Y5, 32(R9)(AX*1)
	VCVTPS2PD (R10)(BX*1), Y4
	VCVTPS2PD 16(R10)(BX*1), Y5
	VADDPD (R14)(AX*1), Y4, Y4
	VADDPD 32(R14)(AX*1), Y5, Y5
	VMOVUPD Y4, (R14)(AX*1)
	VMOVUPD Y5, 32(R14)(AX*1)
	ADDQ $32, BX
	ADDQ $64, AX
	CMPQ BX, R11
	JLT sumsFold
	TESTQ CX, CX
	JNZ sumsRun
	VZEROUPPER
	RET

// func bnGradInputAVX2(gx, gy, y, src, a, e, k *float32, c, cv, p int)
//
// g is bnGradSumsAVX2's.
TEXT ·bnGradInputAVX2(SB), NOSPLIT, $0-80
	MOVQ gx+0(FP), DI
	MOVQ gy+8(FP), R14
	MOVQ y+16(FP), R15
	MOVQ src+24(FP), SI
	MOVQ a+32(FP), R8
	MOVQ e+40(FP), R9
	MOVQ k+48(FP), R10
	MOVQ c+56(FP), DX
	MOVQ cv+64(FP), R11
	MOVQ p+72(FP), CX
	VXORPS Y15, Y15, Y15

inputPix:
	XORQ BX, BX

inputBlock:
	VCMPPS $1, (R15)(BX*1), Y15, Y3
	VANDPS (R14)(BX*1), Y3, Y3
	VMULPS (R8)(BX*1), Y3, Y3
	VADDPS (R9)(BX*1), Y3, Y3
	VMOVUPS (SI)(BX*1), Y4
	VMULPS (R10)(BX*1), Y4, Y4
	VADDPS Y4, Y3, Y3
	VMOVUPS Y3, (DI)(BX*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT inputBlock
	ADDQ DX, DI
	ADDQ DX, R14
	ADDQ DX, R15
	ADDQ DX, SI
	DECQ CX
	JNZ inputPix
	VZEROUPPER
	RET
