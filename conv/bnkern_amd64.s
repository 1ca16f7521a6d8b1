//go:build !purego

#include "textflag.h"

// The batch-norm kernels of bnkern.go in AVX2, 8 channels a vector. Every
// kernel walks the pixels in runs of 32 (sumRun) and, within a run, the
// channels [0, cv) a block at a time (cv, c and the channel offsets in
// bytes), the pixels of the run in order. AX is the offset of the current
// pixel's block from every array's base (or the run's), so that one
// register steps all of them; R12 is the run's length in pixels, CX the pixels left.
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
// Y0 and Y1 the block's d and e. The ReLU keeps x where x > 0 or x is NaN
// (VCMPPS NLE_US) and gives +0 elsewhere: Go's max(x, 0).
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
	XORQ R10, R10 // the run's first pixel, in bytes

affineRun:
	MOVQ $32, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	XORQ BX, BX

affineBlock:
	VMOVUPS (R8)(BX*1), Y0
	VMOVUPS (R9)(BX*1), Y1
	LEAQ (R10)(BX*1), AX
	MOVQ R12, R13
	TESTQ R15, R15
	JZ affinePix

affinePixReLU:
	VMULPS (SI)(AX*1), Y0, Y2
	VADDPS Y1, Y2, Y2
	VCMPPS $6, Y15, Y2, Y3
	VANDPS Y3, Y2, Y2
	VMOVUPS Y2, (DI)(AX*1)
	ADDQ DX, AX
	DECQ R13
	JNZ affinePixReLU
	JMP affineBlockNext

affinePix:
	VMULPS (SI)(AX*1), Y0, Y2
	VADDPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)(AX*1)
	ADDQ DX, AX
	DECQ R13
	JNZ affinePix

affineBlockNext:
	ADDQ $32, BX
	CMPQ BX, R11
	JLT affineBlock
	MOVQ R12, R13
	IMULQ DX, R13
	ADDQ R13, R10
	SUBQ R12, CX
	JNZ affineRun
	VZEROUPPER
	RET

// func bnGradSumsAVX2(src, gy, y, mean *float32, sg, sgx *float64, c, cv, p int)
//
// The gradient through the ReLU is gy ANDed with 0 < y (VCMPPS LT_OS:
// false for NaN, true for +Inf), reluGrad's mask. Y0 the block's mean,
// Y1 and Y2 the run's sums of g and g·(x-mean); two blocks at once where
// they fit (Y6, Y7, Y8).
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-72
	MOVQ src+0(FP), SI
	MOVQ gy+8(FP), DI
	MOVQ y+16(FP), R15
	MOVQ mean+24(FP), R8
	MOVQ sg+32(FP), R9
	MOVQ sgx+40(FP), R10
	MOVQ c+48(FP), DX
	MOVQ cv+56(FP), R11
	MOVQ p+64(FP), CX
	VXORPS Y15, Y15, Y15

sumsRun:
	MOVQ $32, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	XORQ BX, BX

sumsBlock:
	MOVQ R11, R13
	SUBQ BX, R13
	CMPQ R13, $64
	JLT sumsOne
	VMOVUPS (R8)(BX*1), Y0
	VMOVUPS 32(R8)(BX*1), Y6
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	MOVQ BX, AX
	MOVQ R12, R13

sumsPix2:
	VCMPPS $1, (R15)(AX*1), Y15, Y3
	VCMPPS $1, 32(R15)(AX*1), Y15, Y9
	VANDPS (DI)(AX*1), Y3, Y3
	VANDPS 32(DI)(AX*1), Y9, Y9
	VADDPS Y3, Y1, Y1
	VADDPS Y9, Y7, Y7
	VMOVUPS (SI)(AX*1), Y4
	VMOVUPS 32(SI)(AX*1), Y10
	VSUBPS Y0, Y4, Y4
	VSUBPS Y6, Y10, Y10
	VMULPS Y4, Y3, Y3
	VMULPS Y10, Y9, Y9
	VADDPS Y3, Y2, Y2
	VADDPS Y9, Y8, Y8
	ADDQ DX, AX
	DECQ R13
	JNZ sumsPix2
	LEAQ (BX)(BX*1), R14
	VCVTPS2PD X1, Y4
	VEXTRACTF128 $1, Y1, X5
	VCVTPS2PD X5, Y5
	VADDPD (R9)(R14*1), Y4, Y4
	VADDPD 32(R9)(R14*1), Y5, Y5
	VMOVUPD Y4, (R9)(R14*1)
	VMOVUPD Y5, 32(R9)(R14*1)
	VCVTPS2PD X2, Y4
	VEXTRACTF128 $1, Y2, X5
	VCVTPS2PD X5, Y5
	VADDPD (R10)(R14*1), Y4, Y4
	VADDPD 32(R10)(R14*1), Y5, Y5
	VMOVUPD Y4, (R10)(R14*1)
	VMOVUPD Y5, 32(R10)(R14*1)
	VCVTPS2PD X7, Y4
	VEXTRACTF128 $1, Y7, X5
	VCVTPS2PD X5, Y5
	VADDPD 64(R9)(R14*1), Y4, Y4
	VADDPD 96(R9)(R14*1), Y5, Y5
	VMOVUPD Y4, 64(R9)(R14*1)
	VMOVUPD Y5, 96(R9)(R14*1)
	VCVTPS2PD X8, Y4
	VEXTRACTF128 $1, Y8, X5
	VCVTPS2PD X5, Y5
	VADDPD 64(R10)(R14*1), Y4, Y4
	VADDPD 96(R10)(R14*1), Y5, Y5
	VMOVUPD Y4, 64(R10)(R14*1)
	VMOVUPD Y5, 96(R10)(R14*1)
	ADDQ $64, BX
	CMPQ BX, R11
	JLT sumsBlock
	JMP sumsNext

sumsOne:
	VMOVUPS (R8)(BX*1), Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	MOVQ BX, AX
	MOVQ R12, R13

sumsPix1:
	VCMPPS $1, (R15)(AX*1), Y15, Y3
	VANDPS (DI)(AX*1), Y3, Y3
	VADDPS Y3, Y1, Y1
	VMOVUPS (SI)(AX*1), Y4
	VSUBPS Y0, Y4, Y4
	VMULPS Y4, Y3, Y3
	VADDPS Y3, Y2, Y2
	ADDQ DX, AX
	DECQ R13
	JNZ sumsPix1
	LEAQ (BX)(BX*1), R14
	VCVTPS2PD X1, Y4
	VEXTRACTF128 $1, Y1, X5
	VCVTPS2PD X5, Y5
	VADDPD (R9)(R14*1), Y4, Y4
	VADDPD 32(R9)(R14*1), Y5, Y5
	VMOVUPD Y4, (R9)(R14*1)
	VMOVUPD Y5, 32(R9)(R14*1)
	VCVTPS2PD X2, Y4
	VEXTRACTF128 $1, Y2, X5
	VCVTPS2PD X5, Y5
	VADDPD (R10)(R14*1), Y4, Y4
	VADDPD 32(R10)(R14*1), Y5, Y5
	VMOVUPD Y4, (R10)(R14*1)
	VMOVUPD Y5, 32(R10)(R14*1)
	ADDQ $32, BX
	CMPQ BX, R11
	JLT sumsBlock

sumsNext:
	MOVQ R12, R13
	IMULQ DX, R13
	ADDQ R13, SI
	ADDQ R13, DI
	ADDQ R13, R15
	SUBQ R12, CX
	JNZ sumsRun
	VZEROUPPER
	RET

// func bnGradInputAVX2(gx, gy, y, src, a, e, k *float32, c, cv, p int)
//
// Y0, Y1, Y2 the block's a, e and k; g is bnGradSumsAVX2's.
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

inputRun:
	MOVQ $32, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	XORQ BX, BX

inputBlock:
	VMOVUPS (R8)(BX*1), Y0
	VMOVUPS (R9)(BX*1), Y1
	VMOVUPS (R10)(BX*1), Y2
	MOVQ BX, AX
	MOVQ R12, R13

inputPix:
	VCMPPS $1, (R15)(AX*1), Y15, Y3
	VANDPS (R14)(AX*1), Y3, Y3
	VMULPS Y0, Y3, Y3
	VADDPS Y1, Y3, Y3
	VMULPS (SI)(AX*1), Y2, Y4
	VADDPS Y4, Y3, Y3
	VMOVUPS Y3, (DI)(AX*1)
	ADDQ DX, AX
	DECQ R13
	JNZ inputPix
	ADDQ $32, BX
	CMPQ BX, R11
	JLT inputBlock
	MOVQ R12, R13
	IMULQ DX, R13
	ADDQ R13, DI
	ADDQ R13, R14
	ADDQ R13, R15
	ADDQ R13, SI
	SUBQ R12, CX
	JNZ inputRun
	VZEROUPPER
	RET
