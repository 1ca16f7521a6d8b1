//go:build !purego

#include "textflag.h"

// func dw3AVX2(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int)
//
// Registers: R11 pixels left, R13 the pixel's offset from the taps, R10
// its output; per block R12 blocks of 8 channels left, SI the offset at
// the block, DI the block's weights, R9 its bias, DX its output, BX the
// tap pointers, AX and R8 a pair's. Y0 and Y1 sum channels 0-7 and 8-15
// of a block of 16; Y4 and Y5 hold a pair of taps' inputs, bytes
// interleaved and widened to int16 words.
TEXT ·dw3AVX2(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), R11
	MOVQ tap+16(FP), BX
	MOVQ acc+48(FP), R10
	XORQ R13, R13
pixel:
	MOVQ cb+8(FP), R12
	MOVQ R13, SI
	MOVQ w+32(FP), DI
	MOVQ bias+40(FP), R9
	MOVQ R10, DX
blocks16:
	CMPQ R12, $2
	JLT blocks8
	VMOVDQU 0(R9), Y0
	VMOVDQU 32(R9), Y1
	MOVQ 0(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 8(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMADDWD 0(DI), Y4, Y4
	VPMADDWD 160(DI), Y5, Y5
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	MOVQ 16(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 24(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMADDWD 32(DI), Y4, Y4
	VPMADDWD 192(DI), Y5, Y5
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	MOVQ 32(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 40(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMADDWD 64(DI), Y4, Y4
	VPMADDWD 224(DI), Y5, Y5
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	MOVQ 48(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 56(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMADDWD 96(DI), Y4, Y4
	VPMADDWD 256(DI), Y5, Y5
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	MOVQ 64(BX), AX
	VMOVDQU (AX)(SI*1), X4
	VPUNPCKHBW X4, X4, X5
	VPUNPCKLBW X4, X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPMADDWD 128(DI), Y4, Y4
	VPMADDWD 288(DI), Y5, Y5
	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	VMOVDQU Y0, 0(DX)
	VMOVDQU Y1, 32(DX)
	ADDQ $16, SI
	ADDQ $320, DI
	ADDQ $64, R9
	ADDQ $64, DX
	SUBQ $2, R12
	JMP blocks16
blocks8:
	CMPQ R12, $1
	JLT done
	VMOVDQU 0(R9), Y0
	MOVQ 0(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 8(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPMADDWD 0(DI), Y4, Y4
	VPADDD Y4, Y0, Y0
	MOVQ 16(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 24(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPMADDWD 32(DI), Y4, Y4
	VPADDD Y4, Y0, Y0
	MOVQ 32(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 40(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPMADDWD 64(DI), Y4, Y4
	VPADDD Y4, Y0, Y0
	MOVQ 48(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 56(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPMADDWD 96(DI), Y4, Y4
	VPADDD Y4, Y0, Y0
	MOVQ 64(BX), AX
	VMOVQ (AX)(SI*1), X4
	VPUNPCKLBW X4, X4, X4
	VPMOVSXBW X4, Y4
	VPMADDWD 128(DI), Y4, Y4
	VPADDD Y4, Y0, Y0
	VMOVDQU Y0, 0(DX)
done:
	ADDQ xs+24(FP), R13
	ADDQ ldc+56(FP), R10
	DECQ R11
	JNZ pixel
	VZEROUPPER
	RET

// func dw3One512(n, cb int, tap *[9]*int8, xs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32)
//
// dw3AVX2's sums, with VPDPWSSD (AVX-512 VNNI: VPMADDWD and VPADDD in one),
// requantised while in registers as rqOne512 does (p: the first channel's
// chunk of outStage.one, 384 bytes per 16 channels) and stored as int8s:
// pixel p's channels go to y + p*ys (the strided layers' kernel: the
// stride-1 ones take dwRowOne512 below). Unlike dw3AVX2 it runs a block of
// channels down all the pixels before the next block, so that the block's
// weights (Y6-Y15), biases (Y16-Y17) and requantisation parameters
// (Z18-Z23) stay in registers: loads, not arithmetic, bounded the
// pixel-major loop. Registers: R12 blocks left, R13 the block's channel
// offset, DI its weights, R9 its biases, CX its parameters, R10 its output;
// R11 pixels left, SI the pixel's offset from the taps, DX its output, BX
// the tap pointers, AX and R8 a pair's; Z2 the odd lanes, K3 their mask,
// X26 lo and X27 hi in every byte, K5 zero when that clamp is VPMOVSDB's
// saturation and is skipped.
TEXT ·dw3One512(SB), NOSPLIT, $0-80
	MOVL lo+72(FP), AX
	VPBROADCASTB AX, X26
	MOVL hi+76(FP), DX
	VPBROADCASTB DX, X27
	ADDL $128, AX // K5 = 0 when the clamp is [-128, 127], which VPMOVSDB's saturation gives
	XORL $127, DX
	ORL DX, AX
	KMOVW AX, K5
	MOVL $0xaaaa, AX
	KMOVW AX, K3
	MOVQ tap+16(FP), BX
	MOVQ cb+8(FP), R12
	XORQ R13, R13
	MOVQ w+32(FP), DI
	MOVQ bias+40(FP), R9
	MOVQ p+64(FP), CX
	MOVQ y+48(FP), R10
blocks16:
	CMPQ R12, $2
	JLT blocks8
	VMOVDQU 0(DI), Y6
	VMOVDQU 32(DI), Y7
	VMOVDQU 64(DI), Y8
	VMOVDQU 96(DI), Y9
	VMOVDQU 128(DI), Y10
	VMOVDQU 160(DI), Y11
	VMOVDQU 192(DI), Y12
	VMOVDQU 224(DI), Y13
	VMOVDQU 256(DI), Y14
	VMOVDQU 288(DI), Y15
	VMOVDQU32 0(R9), Y16
	VMOVDQU32 32(R9), Y17
	VMOVDQU64 0(CX), Z18
	VMOVDQU64 64(CX), Z19
	VMOVDQU64 128(CX), Z20
	VMOVDQU64 192(CX), Z21
	VMOVDQU64 256(CX), Z22
	VMOVDQU64 320(CX), Z23
	MOVQ n+0(FP), R11
	MOVQ R13, SI
	MOVQ R10, DX
pixel16:
	VMOVDQA32 Y16, Y0
	VMOVDQA32 Y17, Y1
	MOVQ 0(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 8(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPDPWSSD Y6, Y4, Y0
	VPDPWSSD Y11, Y5, Y1
	MOVQ 16(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 24(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPDPWSSD Y7, Y4, Y0
	VPDPWSSD Y12, Y5, Y1
	MOVQ 32(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 40(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPDPWSSD Y8, Y4, Y0
	VPDPWSSD Y13, Y5, Y1
	MOVQ 48(BX), AX
	VMOVDQU (AX)(SI*1), X4
	MOVQ 56(BX), R8
	VPUNPCKHBW (R8)(SI*1), X4, X5
	VPUNPCKLBW (R8)(SI*1), X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPDPWSSD Y9, Y4, Y0
	VPDPWSSD Y14, Y5, Y1
	MOVQ 64(BX), AX
	VMOVDQU (AX)(SI*1), X4
	VPUNPCKHBW X4, X4, X5
	VPUNPCKLBW X4, X4, X4
	VPMOVSXBW X4, Y4
	VPMOVSXBW X5, Y5
	VPDPWSSD Y10, Y4, Y0
	VPDPWSSD Y15, Y5, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VPSRLQ $32, Z0, Z2
	VPMULDQ Z18, Z0, Z0
	VPMULDQ Z19, Z2, Z2
	VPADDQ Z20, Z0, Z0
	VPADDQ Z21, Z2, Z2
	VPSRAVQ Z22, Z0, Z0
	VPSRAVQ Z23, Z2, Z2
	VPBLENDMD Z2, Z0, K3, Z0
	VPMOVSDB Z0, X0
	KORTESTW K5, K5
	JZ noclamp0
	VPMAXSB X26, X0, X0
	VPMINSB X27, X0, X0
noclamp0:
	VMOVDQU X0, (DX)
	ADDQ xs+24(FP), SI
	ADDQ ys+56(FP), DX
	DECQ R11
	JNZ pixel16
	ADDQ $16, R13
	ADDQ $320, DI
	ADDQ $64, R9
	ADDQ $384, CX
	ADDQ $16, R10
	SUBQ $2, R12
	JMP blocks16
blocks8:
	CMPQ R12, $1
	JLT done
	VMOVDQU 0(DI), Y6
	VMOVDQU 32(DI), Y7
	VMOVDQU 64(DI), Y8
	VMOVDQU 96(DI), Y9
	VMOVDQU 128(DI), Y10
	VMOVDQU32 0(R9), Y16
	VMOVDQU64 0(CX), Y18
	VMOVDQU64 64(CX), Y19
	VMOVDQU64 128(CX), Y20
	VMOVDQU64 192(CX), Y21
	VMOVDQU64 256(CX), Y22
	VMOVDQU64 320(CX), Y23
	MOVQ n+0(FP), R11
	MOVQ R13, SI
	MOVQ R10, DX
pixel8:
	VMOVDQA32 Y16, Y0
	MOVQ 0(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 8(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPDPWSSD Y6, Y4, Y0
	MOVQ 16(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 24(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPDPWSSD Y7, Y4, Y0
	MOVQ 32(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 40(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPDPWSSD Y8, Y4, Y0
	MOVQ 48(BX), AX
	VMOVQ (AX)(SI*1), X4
	MOVQ 56(BX), R8
	VMOVQ (R8)(SI*1), X5
	VPUNPCKLBW X5, X4, X4
	VPMOVSXBW X4, Y4
	VPDPWSSD Y9, Y4, Y0
	MOVQ 64(BX), AX
	VMOVQ (AX)(SI*1), X4
	VPUNPCKLBW X4, X4, X4
	VPMOVSXBW X4, Y4
	VPDPWSSD Y10, Y4, Y0
	VPSRLQ $32, Y0, Y2
	VPMULDQ Y18, Y0, Y0
	VPMULDQ Y19, Y2, Y2
	VPADDQ Y20, Y0, Y0
	VPADDQ Y21, Y2, Y2
	VPSRAVQ Y22, Y0, Y0
	VPSRAVQ Y23, Y2, Y2
	VPBLENDMD Y2, Y0, K3, Y0
	VPMOVSDB Y0, X0
	KORTESTW K5, K5
	JZ noclamp1
	VPMAXSB X26, X0, X0
	VPMINSB X27, X0, X0
noclamp1:
	VMOVQ X0, (DX)
	ADDQ xs+24(FP), SI
	ADDQ ys+56(FP), DX
	DECQ R11
	JNZ pixel8
done:
	VZEROUPPER
	RET

// func dwRowOne512(n, cb int, r0, r1, r2 *int16, xs, cs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32)
//
// One output row of a 3×3 depthwise layer, fused: the sums of n pixels,
// requantised in registers as rqOne512 does and stored as int8s (pixel
// p's channels at y + p*ys). The input is three rows of int16s, widened
// once and padded with the zero point (depthwiseConv2D.forwardOne): tap
// (ky, kx) of pixel p is at r_ky + p*xs + kx*cs bytes, so no tap list is
// read and every pixel of the row, edges included, is a whole window.
// A pair of taps' int16s is interleaved word by word (VPUNPCKLWD and
// VPUNPCKHWD, in 128-bit lanes) and multiplied by the pair's weights,
// VPDPWSSD; for a block of 16 channels the two accumulators hold channels
// 0-3, 8-11 and 4-7, 12-15 (the weights and biases are laid out so, see
// newDWRowWeights), which VINSERTI64X4 and VSHUFI64X2 put back in order
// before the requantisation. A block of 8 channels works on XMM halves,
// channels 0-3 and 4-7. Each block of channels runs down the row with
// its weights (Y6-Y15), biases (Y16-Y17) and parameters (Z18-Z23) in
// registers.
//
// Registers: R12 blocks left, R13 the block's byte offset in the rows, DI
// its weights, R8 its biases, R9 its parameters (outStage.one), R10 its
// output; R11 pixels left, AX, BX and DX the pixel's three rows, SI its
// output, CX cs; K3 the odd lanes, X26 lo and X27 hi in every byte, K5
// zero when that clamp is VPMOVSDB's saturation and is skipped.
TEXT ·dwRowOne512(SB), NOSPLIT, $0-104
	MOVL lo+96(FP), AX
	VPBROADCASTB AX, X26
	MOVL hi+100(FP), DX
	VPBROADCASTB DX, X27
	ADDL $128, AX // K5 = 0 when the clamp is [-128, 127], which VPMOVSDB's saturation gives
	XORL $127, DX
	ORL DX, AX
	KMOVW AX, K5
	MOVL $0xaaaa, AX
	KMOVW AX, K3
	MOVQ cs+48(FP), CX
	MOVQ cb+8(FP), R12
	XORQ R13, R13
	MOVQ w+56(FP), DI
	MOVQ bias+64(FP), R8
	MOVQ p+88(FP), R9
	MOVQ y+72(FP), R10
blocks16:
	CMPQ R12, $2
	JLT blocks8
	VMOVDQU32 0(DI), Y6
	VMOVDQU32 32(DI), Y11
	VMOVDQU32 64(DI), Y7
	VMOVDQU32 96(DI), Y12
	VMOVDQU32 128(DI), Y8
	VMOVDQU32 160(DI), Y13
	VMOVDQU32 192(DI), Y9
	VMOVDQU32 224(DI), Y14
	VMOVDQU32 256(DI), Y10
	VMOVDQU32 288(DI), Y15
	VMOVDQU32 0(R8), Y16
	VMOVDQU32 32(R8), Y17
	VMOVDQU64 0(R9), Z18
	VMOVDQU64 64(R9), Z19
	VMOVDQU64 128(R9), Z20
	VMOVDQU64 192(R9), Z21
	VMOVDQU64 256(R9), Z22
	VMOVDQU64 320(R9), Z23
	MOVQ n+0(FP), R11
	MOVQ r0+16(FP), AX
	MOVQ r1+24(FP), BX
	MOVQ r2+32(FP), DX
	ADDQ R13, AX
	ADDQ R13, BX
	ADDQ R13, DX
	MOVQ R10, SI
pixel16:
	VMOVDQA32 Y16, Y0
	VMOVDQA32 Y17, Y1
	VMOVDQU (AX), Y4
	VPUNPCKHWD (AX)(CX*1), Y4, Y5
	VPUNPCKLWD (AX)(CX*1), Y4, Y4
	VPDPWSSD Y6, Y4, Y0
	VPDPWSSD Y11, Y5, Y1
	VMOVDQU (AX)(CX*2), Y4
	VPUNPCKHWD (BX), Y4, Y5
	VPUNPCKLWD (BX), Y4, Y4
	VPDPWSSD Y7, Y4, Y0
	VPDPWSSD Y12, Y5, Y1
	VMOVDQU (BX)(CX*1), Y4
	VPUNPCKHWD (BX)(CX*2), Y4, Y5
	VPUNPCKLWD (BX)(CX*2), Y4, Y4
	VPDPWSSD Y8, Y4, Y0
	VPDPWSSD Y13, Y5, Y1
	VMOVDQU (DX), Y4
	VPUNPCKHWD (DX)(CX*1), Y4, Y5
	VPUNPCKLWD (DX)(CX*1), Y4, Y4
	VPDPWSSD Y9, Y4, Y0
	VPDPWSSD Y14, Y5, Y1
	VMOVDQU (DX)(CX*2), Y4
	VPUNPCKHWD Y4, Y4, Y5
	VPUNPCKLWD Y4, Y4, Y4
	VPDPWSSD Y10, Y4, Y0
	VPDPWSSD Y15, Y5, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPSRLQ $32, Z0, Z2
	VPMULDQ Z18, Z0, Z0
	VPMULDQ Z19, Z2, Z2
	VPADDQ Z20, Z0, Z0
	VPADDQ Z21, Z2, Z2
	VPSRAVQ Z22, Z0, Z0
	VPSRAVQ Z23, Z2, Z2
	VPBLENDMD Z2, Z0, K3, Z0
	VPMOVSDB Z0, X0
	KORTESTW K5, K5
	JZ noclamp0
	VPMAXSB X26, X0, X0
	VPMINSB X27, X0, X0
noclamp0:
	VMOVDQU X0, (SI)
	ADDQ xs+40(FP), AX
	ADDQ xs+40(FP), BX
	ADDQ xs+40(FP), DX
	ADDQ ys+80(FP), SI
	DECQ R11
	JNZ pixel16
	ADDQ $32, R13
	ADDQ $320, DI
	ADDQ $64, R8
	ADDQ $384, R9
	ADDQ $16, R10
	SUBQ $2, R12
	JMP blocks16
blocks8:
	CMPQ R12, $1
	JLT done
	VMOVDQU32 0(DI), X6
	VMOVDQU32 16(DI), X11
	VMOVDQU32 32(DI), X7
	VMOVDQU32 48(DI), X12
	VMOVDQU32 64(DI), X8
	VMOVDQU32 80(DI), X13
	VMOVDQU32 96(DI), X9
	VMOVDQU32 112(DI), X14
	VMOVDQU32 128(DI), X10
	VMOVDQU32 144(DI), X15
	VMOVDQU32 0(R8), X16
	VMOVDQU32 16(R8), X17
	VMOVDQU64 0(R9), Y18
	VMOVDQU64 64(R9), Y19
	VMOVDQU64 128(R9), Y20
	VMOVDQU64 192(R9), Y21
	VMOVDQU64 256(R9), Y22
	VMOVDQU64 320(R9), Y23
	MOVQ n+0(FP), R11
	MOVQ r0+16(FP), AX
	MOVQ r1+24(FP), BX
	MOVQ r2+32(FP), DX
	ADDQ R13, AX
	ADDQ R13, BX
	ADDQ R13, DX
	MOVQ R10, SI
pixel8:
	VMOVDQA32 X16, X0
	VMOVDQA32 X17, X1
	VMOVDQU (AX), X4
	VPUNPCKHWD (AX)(CX*1), X4, X5
	VPUNPCKLWD (AX)(CX*1), X4, X4
	VPDPWSSD X6, X4, X0
	VPDPWSSD X11, X5, X1
	VMOVDQU (AX)(CX*2), X4
	VPUNPCKHWD (BX), X4, X5
	VPUNPCKLWD (BX), X4, X4
	VPDPWSSD X7, X4, X0
	VPDPWSSD X12, X5, X1
	VMOVDQU (BX)(CX*1), X4
	VPUNPCKHWD (BX)(CX*2), X4, X5
	VPUNPCKLWD (BX)(CX*2), X4, X4
	VPDPWSSD X8, X4, X0
	VPDPWSSD X13, X5, X1
	VMOVDQU (DX), X4
	VPUNPCKHWD (DX)(CX*1), X4, X5
	VPUNPCKLWD (DX)(CX*1), X4, X4
	VPDPWSSD X9, X4, X0
	VPDPWSSD X14, X5, X1
	VMOVDQU (DX)(CX*2), X4
	VPUNPCKHWD X4, X4, X5
	VPUNPCKLWD X4, X4, X4
	VPDPWSSD X10, X4, X0
	VPDPWSSD X15, X5, X1
	VINSERTI128 $1, X1, Y0, Y0
	VPSRLQ $32, Y0, Y2
	VPMULDQ Y18, Y0, Y0
	VPMULDQ Y19, Y2, Y2
	VPADDQ Y20, Y0, Y0
	VPADDQ Y21, Y2, Y2
	VPSRAVQ Y22, Y0, Y0
	VPSRAVQ Y23, Y2, Y2
	VPBLENDMD Y2, Y0, K3, Y0
	VPMOVSDB Y0, X0
	KORTESTW K5, K5
	JZ noclamp1
	VPMAXSB X26, X0, X0
	VPMINSB X27, X0, X0
noclamp1:
	VMOVQ X0, (SI)
	ADDQ xs+40(FP), AX
	ADDQ xs+40(FP), BX
	ADDQ xs+40(FP), DX
	ADDQ ys+80(FP), SI
	DECQ R11
	JNZ pixel8
done:
	VZEROUPPER
	RET

// func widen16(n int, src *int8, dst *int16)
//
// dst[i] = int16(src[i]) for i < n, n a multiple of 8: 16 at a time, then
// 8 (VPMOVSXBW).
TEXT ·widen16(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI
loop16:
	CMPQ CX, $16
	JLT tail8
	VPMOVSXBW (SI), Y0
	VMOVDQU Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JMP loop16
tail8:
	CMPQ CX, $8
	JLT end
	VPMOVSXBW (SI), X0
	VMOVDQU X0, (DI)
end:
	VZEROUPPER
	RET
