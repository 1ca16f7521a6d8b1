//go:build !purego

#include "textflag.h"

// The kernels of box_amd64.go, 8 pixels an iteration in 32-bit lanes.
//
// Registers: Y6 zero, Y7 255 in each lane, Y8…Y13 the coefficients ky,
// y0, rv, gu, gv, bu broadcast, Y14 the weight w, Y15 128. Each loop loads
// luma into Y0, Cb into Y1 and Cr into Y2 (each pair's chroma twice, one
// for each pixel) and runs CONVERT, which adds the 8 packed pixels
// (R | G<<16 | B<<32, times w) to the 8 words at DI and advances DI.

// SETUP loads the constants from c (at R8) and w (at R9 as a register).
#define SETUP \
	VPXOR        Y6, Y6, Y6         \
	VPBROADCASTD c255<>(SB), Y7     \
	VPBROADCASTD 0(R8), Y8          \
	VPBROADCASTD 4(R8), Y9          \
	VPBROADCASTD 8(R8), Y10         \
	VPBROADCASTD 12(R8), Y11        \
	VPBROADCASTD 16(R8), Y12        \
	VPBROADCASTD 20(R8), Y13        \
	VMOVQ        R9, X14            \
	VPBROADCASTD X14, Y14           \
	VPBROADCASTD c128<>(SB), Y15

#define CONVERT \
	VPMULLD   Y8, Y0, Y0 \
	VPADDD    Y9, Y0, Y0   \
	VPSUBD    Y15, Y1, Y1 \
	VPSUBD    Y15, Y2, Y2 \
	VPMULLD   Y10, Y2, Y3  \
	VPADDD    Y0, Y3, Y3 \
	VPMULLD   Y13, Y1, Y4  \
	VPADDD    Y0, Y4, Y4 \
	VPMULLD   Y11, Y1, Y1  \
	VPMULLD   Y12, Y2, Y2  \
	VPADDD    Y1, Y0, Y0   \
	VPADDD    Y2, Y0, Y0 \
	VPSRAD    $16, Y3, Y3  \
	VPSRAD    $16, Y0, Y0  \
	VPSRAD    $16, Y4, Y4  \
	VPMAXSD   Y6, Y3, Y3   \
	VPMAXSD   Y6, Y0, Y0   \
	VPMAXSD   Y6, Y4, Y4   \
	VPMINSD   Y7, Y3, Y3   \
	VPMINSD   Y7, Y0, Y0   \
	VPMINSD   Y7, Y4, Y4   \
	VPSLLD    $16, Y0, Y0  \
	VPOR      Y3, Y0, Y0 \
	VPMULLD   Y14, Y0, Y0 \
	VPMULLD   Y14, Y4, Y4  \
	VPUNPCKLDQ Y4, Y0, Y5 \
	VPUNPCKHDQ Y4, Y0, Y1 \
	VPERM2I128 $0x20, Y1, Y5, Y2 \
	VPERM2I128 $0x31, Y1, Y5, Y3 \
	VPADDQ    (DI), Y2, Y2 \
	VPADDQ    32(DI), Y3, Y3 \
	VMOVDQU   Y2, (DI)     \
	VMOVDQU   Y3, 32(DI)   \
	ADDQ      $64, DI

// func yuyvAVX2(acc *uint64, src *uint8, n int, w uint64, c *yuvCoef)
TEXT ·yuyvAVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), R9
	MOVQ c+32(FP), R8
	SETUP
	SHRQ $3, CX
yuyvLoop:
	VMOVDQU    (SI), X3
	VPSHUFB    yuyvY<>(SB), X3, X0
	VPSHUFB    yuyvU<>(SB), X3, X1
	VPSHUFB    yuyvV<>(SB), X3, X2
	VPMOVZXBD  X0, Y0
	VPMOVZXBD  X1, Y1
	VPMOVZXBD  X2, Y2
	CONVERT
	ADDQ $16, SI
	DECQ CX
	JNZ  yuyvLoop
	VZEROUPPER
	RET

// func i420AVX2(acc *uint64, y, cb, cr *uint8, n int, w uint64, c *yuvCoef)
TEXT ·i420AVX2(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ cb+16(FP), BX
	MOVQ cr+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ w+40(FP), R9
	MOVQ c+48(FP), R8
	SETUP
	SHRQ $3, CX
i420Loop:
	VMOVQ      (SI), X0
	VMOVD      (BX), X1
	VMOVD      (DX), X2
	VPSHUFB    dup4<>(SB), X1, X1
	VPSHUFB    dup4<>(SB), X2, X2
	VPMOVZXBD  X0, Y0
	VPMOVZXBD  X1, Y1
	VPMOVZXBD  X2, Y2
	CONVERT
	ADDQ $8, SI
	ADDQ $4, BX
	ADDQ $4, DX
	DECQ CX
	JNZ  i420Loop
	VZEROUPPER
	RET

// func nv12AVX2(acc *uint64, y, uv *uint8, n int, w uint64, c *yuvCoef)
TEXT ·nv12AVX2(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ uv+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ w+32(FP), R9
	MOVQ c+40(FP), R8
	SETUP
	SHRQ $3, CX
nv12Loop:
	VMOVQ      (SI), X0
	VMOVQ      (BX), X3
	VPSHUFB    nv12U<>(SB), X3, X1
	VPSHUFB    nv12V<>(SB), X3, X2
	VPMOVZXBD  X0, Y0
	VPMOVZXBD  X1, Y1
	VPMOVZXBD  X2, Y2
	CONVERT
	ADDQ $8, SI
	ADDQ $8, BX
	DECQ CX
	JNZ  nv12Loop
	VZEROUPPER
	RET

DATA c255<>+0(SB)/4, $255
GLOBL c255<>(SB), RODATA|NOPTR, $4
DATA c128<>+0(SB)/4, $128
GLOBL c128<>(SB), RODATA|NOPTR, $4

// Byte shuffles (the upper 8 bytes of each are not used).
DATA yuyvY<>+0(SB)/8, $0x0e0c0a0806040200
DATA yuyvY<>+8(SB)/8, $0x8080808080808080
GLOBL yuyvY<>(SB), RODATA|NOPTR, $16
DATA yuyvU<>+0(SB)/8, $0x0d0d090905050101
DATA yuyvU<>+8(SB)/8, $0x8080808080808080
GLOBL yuyvU<>(SB), RODATA|NOPTR, $16
DATA yuyvV<>+0(SB)/8, $0x0f0f0b0b07070303
DATA yuyvV<>+8(SB)/8, $0x8080808080808080
GLOBL yuyvV<>(SB), RODATA|NOPTR, $16
DATA dup4<>+0(SB)/8, $0x0303020201010000
DATA dup4<>+8(SB)/8, $0x8080808080808080
GLOBL dup4<>(SB), RODATA|NOPTR, $16
DATA nv12U<>+0(SB)/8, $0x0606040402020000
DATA nv12U<>+8(SB)/8, $0x8080808080808080
GLOBL nv12U<>(SB), RODATA|NOPTR, $16
DATA nv12V<>+0(SB)/8, $0x0707050503030101
DATA nv12V<>+8(SB)/8, $0x8080808080808080
GLOBL nv12V<>(SB), RODATA|NOPTR, $16

// func grayAVX2(acc *uint64, src *uint8, n int, w uint64)
//
// 4 pixels an iteration: each byte zero-extended to a word and copied to
// the R, G and B lanes by a shuffle, times w in 16-bit lanes (Y14).
TEXT ·grayAVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), AX
	VMOVQ AX, X14
	VPBROADCASTW X14, Y14
	VMOVDQU grayShuf<>(SB), Y13
	SHRQ $2, CX
grayLoop:
	VPMOVZXBQ (SI), Y0
	VPSHUFB   Y13, Y0, Y0
	VPMULLW   Y14, Y0, Y0
	VPADDQ    (DI), Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ $4, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  grayLoop
	VZEROUPPER
	RET

// func rgbAVX2(acc *uint64, src *uint8, n int, w uint64)
//
// 4 pixels an iteration: bytes 0–15 and 6–21 in the two halves of Y0,
// each half shuffled into two packed pixels (pixels 0, 1 and 2, 3), times
// w in 16-bit lanes. It reads 10 bytes past the 3n of the pixels.
TEXT ·rgbAVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), AX
	VMOVQ AX, X14
	VPBROADCASTW X14, Y14
	VMOVDQU rgbShuf<>(SB), Y13
	SHRQ $2, CX
rgbLoop:
	VMOVDQU     (SI), X0
	VINSERTI128 $1, 6(SI), Y0, Y0
	VPSHUFB     Y13, Y0, Y0
	VPMULLW     Y14, Y0, Y0
	VPADDQ      (DI), Y0, Y0
	VMOVDQU     Y0, (DI)
	ADDQ $12, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  rgbLoop
	VZEROUPPER
	RET

DATA grayShuf<>+0(SB)/8, $0x8080800080008000
DATA grayShuf<>+8(SB)/8, $0x8080800880088008
DATA grayShuf<>+16(SB)/8, $0x8080800080008000
DATA grayShuf<>+24(SB)/8, $0x8080800880088008
GLOBL grayShuf<>(SB), RODATA|NOPTR, $32
DATA rgbShuf<>+0(SB)/8, $0x8080800280018000
DATA rgbShuf<>+8(SB)/8, $0x8080800580048003
DATA rgbShuf<>+16(SB)/8, $0x8080800280018000
DATA rgbShuf<>+24(SB)/8, $0x8080800580048003
GLOBL rgbShuf<>(SB), RODATA|NOPTR, $32

// func hboxAVX2(o *uint8, acc *uint64, first *int32, w4 *uint64, n int, q *hquot)
//
// 4 output pixels an iteration: for each, the 4 words at its first tap
// times its 4 weights in 16-bit lanes (Y0…Y3), summed word by word into
// one word a pixel (Y4: A C | B D), divided (half Y13, mul Y14, shift X15)
// in 16-bit lanes, packed to bytes and shuffled to 12 bytes, RGB RGB RGB
// RGB.
TEXT ·hboxAVX2(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ first+16(FP), BX
	MOVQ w4+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ q+40(FP), R8
	VPBROADCASTW 0(R8), Y13
	VPBROADCASTW 2(R8), Y14
	MOVWQZX 4(R8), AX
	VMOVQ AX, X15
	VMOVDQU hboxShuf<>(SB), X12
	SHRQ $2, CX
hboxLoop:
	MOVLQSX 0(BX), R9
	VMOVDQU (SI)(R9*8), Y0
	VPMULLW 0(DX), Y0, Y0
	MOVLQSX 4(BX), R9
	VMOVDQU (SI)(R9*8), Y1
	VPMULLW 32(DX), Y1, Y1
	MOVLQSX 8(BX), R9
	VMOVDQU (SI)(R9*8), Y2
	VPMULLW 64(DX), Y2, Y2
	MOVLQSX 12(BX), R9
	VMOVDQU (SI)(R9*8), Y3
	VPMULLW 96(DX), Y3, Y3
	VPERM2I128  $0x20, Y1, Y0, Y4 // a0 a1 | b0 b1
	VPERM2I128  $0x31, Y1, Y0, Y5 // a2 a3 | b2 b3
	VPADDW      Y5, Y4, Y4
	VPERM2I128  $0x20, Y3, Y2, Y6 // c0 c1 | d0 d1
	VPERM2I128  $0x31, Y3, Y2, Y7 // c2 c3 | d2 d3
	VPADDW      Y7, Y6, Y6
	VPUNPCKLQDQ Y6, Y4, Y5
	VPUNPCKHQDQ Y6, Y4, Y4
	VPADDW      Y5, Y4, Y4 // A C | B D
	VPADDW      Y13, Y4, Y4
	VPMULHUW    Y14, Y4, Y4
	VPSRLW      X15, Y4, Y4
	VPACKUSWB   Y4, Y4, Y4 // bytes A C A C | B D B D
	VPERMQ      $0x08, Y4, Y4 // A C B D
	VPSHUFB     X12, X4, X4 // A B C D, 3 bytes each
	VMOVQ       X4, 0(DI)
	VPEXTRD     $2, X4, 8(DI)
	ADDQ $16, BX
	ADDQ $128, DX
	ADDQ $12, DI
	DECQ CX
	JNZ  hboxLoop
	VZEROUPPER
	RET

DATA hboxShuf<>+0(SB)/8, $0x05040a0908020100
DATA hboxShuf<>+8(SB)/8, $0x808080800e0d0c06
GLOBL hboxShuf<>(SB), RODATA|NOPTR, $16

// func scaledAVX2(acc, next *uint64, n int, w, w2 uint64)
//
// 4 words an iteration, multiplied in 16-bit lanes (Y14 w, Y13 w2).
TEXT ·scaledAVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ next+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), AX
	VMOVQ AX, X14
	VPBROADCASTW X14, Y14
	MOVQ w2+32(FP), AX
	VMOVQ AX, X13
	VPBROADCASTW X13, Y13
	SHRQ $2, CX
scaledLoop:
	VMOVDQU (SI), Y0
	VPMULLW Y14, Y0, Y1
	VPADDQ  (DI), Y1, Y1
	VMOVDQU Y1, (DI)
	VPMULLW Y13, Y0, Y0
	VMOVDQU Y0, (SI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  scaledLoop
	VZEROUPPER
	RET
