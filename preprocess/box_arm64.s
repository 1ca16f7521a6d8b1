//go:build !purego

#include "textflag.h"

// The kernels of box_arm64.go, 8 pixels an iteration in 32-bit lanes:
// box_amd64.s's, with the offsets of the three channels folded into
// constants (cR = y0 - 128·rv and so on) and the clamp done by narrowing
// with saturation (SQSHRUN: the shift right by 16, negative to 0) and
// UMIN. Go's assembler lacks most of these instructions: their WORDs are
// checked against llvm-mc by TestARM64Encodings.
//
// Registers: V16 ky, V17…V19 cR, cG, cB, V20…V23 rv, gu, gv, bu (32-bit
// lanes), V24 w and V25 255 (16-bit lanes), V26…V28 byte shuffles, V31
// zero. Each loop puts the 8 lumas in V0.8B and each pair's Cb and Cr,
// twice, in V1.8B and V2.8B, and converts them with the same instructions
// (CONVERT) in each: the 8 packed pixels (R | G<<16 | B<<32, times w) are
// added to the 8 words at R0, and R0 advances.

// SETUP loads the constants from c (at R8) and w (in R9).
#define SETUP \
	MOVW 0(R8), R10 \
	VDUP R10, V16.S4 \
	MOVW 24(R8), R10 \
	VDUP R10, V17.S4 \
	MOVW 28(R8), R10 \
	VDUP R10, V18.S4 \
	MOVW 32(R8), R10 \
	VDUP R10, V19.S4 \
	MOVW 8(R8), R10 \
	VDUP R10, V20.S4 \
	MOVW 12(R8), R10 \
	VDUP R10, V21.S4 \
	MOVW 16(R8), R10 \
	VDUP R10, V22.S4 \
	MOVW 20(R8), R10 \
	VDUP R10, V23.S4 \
	VDUP R9, V24.H8 \
	MOVD $255, R10 \
	VDUP R10, V25.H8 \
	VEOR V31.B16, V31.B16, V31.B16

// func yuyvNEON(acc *uint64, src *uint8, n int, w uint64, c *yuvCoef)
TEXT ·yuyvNEON(SB), NOSPLIT, $0-40
	MOVD acc+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R4
	MOVD w+24(FP), R9
	MOVD c+32(FP), R8
	SETUP
	MOVD $yuyvTbl<>(SB), R10
	VLD1 (R10), [V26.B16, V27.B16, V28.B16]
	LSR $3, R4, R4
yuyvLoop:
	VLD1.P 16(R1), [V30.B16]
	WORD $0x0e1a03c0 // TBL V0.8B, {V30.16B}, V26.8B
	WORD $0x0e1b03c1 // TBL V1.8B, {V30.16B}, V27.8B
	WORD $0x0e1c03c2 // TBL V2.8B, {V30.16B}, V28.8B
	// CONVERT: the pixels to packed words, added to the sums at R0.
	WORD $0x2f08a400 // UXTL V0.8H, V0.8B
	WORD $0x2f08a421 // UXTL V1.8H, V1.8B
	WORD $0x2f08a442 // UXTL V2.8H, V2.8B
	WORD $0x2f10a403 // UXTL V3.4S, V0.4H
	WORD $0x6f10a404 // UXTL2 V4.4S, V0.8H
	WORD $0x2f10a425 // UXTL V5.4S, V1.4H
	WORD $0x6f10a426 // UXTL2 V6.4S, V1.8H
	WORD $0x2f10a447 // UXTL V7.4S, V2.4H
	WORD $0x6f10a441 // UXTL2 V1.4S, V2.8H
	WORD $0x4eb09c63 // MUL V3.4S, V3.4S, V16.4S
	WORD $0x4eb09c84 // MUL V4.4S, V4.4S, V16.4S
	WORD $0x4eb18468 // ADD V8.4S, V3.4S, V17.4S
	WORD $0x4eb18489 // ADD V9.4S, V4.4S, V17.4S
	WORD $0x4eb494e8 // MLA V8.4S, V7.4S, V20.4S
	WORD $0x4eb49429 // MLA V9.4S, V1.4S, V20.4S
	WORD $0x4eb3846a // ADD V10.4S, V3.4S, V19.4S
	WORD $0x4eb3848b // ADD V11.4S, V4.4S, V19.4S
	WORD $0x4eb794aa // MLA V10.4S, V5.4S, V23.4S
	WORD $0x4eb794cb // MLA V11.4S, V6.4S, V23.4S
	WORD $0x4eb2846c // ADD V12.4S, V3.4S, V18.4S
	WORD $0x4eb2848d // ADD V13.4S, V4.4S, V18.4S
	WORD $0x4eb594ac // MLA V12.4S, V5.4S, V21.4S
	WORD $0x4eb594cd // MLA V13.4S, V6.4S, V21.4S
	WORD $0x4eb694ec // MLA V12.4S, V7.4S, V22.4S
	WORD $0x4eb6942d // MLA V13.4S, V1.4S, V22.4S
	WORD $0x2f108508 // SQSHRUN V8.4H, V8.4S, #16
	WORD $0x6f108528 // SQSHRUN2 V8.8H, V9.4S, #16
	WORD $0x2f10854a // SQSHRUN V10.4H, V10.4S, #16
	WORD $0x6f10856a // SQSHRUN2 V10.8H, V11.4S, #16
	WORD $0x2f10858c // SQSHRUN V12.4H, V12.4S, #16
	WORD $0x6f1085ac // SQSHRUN2 V12.8H, V13.4S, #16
	WORD $0x6e796d08 // UMIN V8.8H, V8.8H, V25.8H
	WORD $0x6e796d4a // UMIN V10.8H, V10.8H, V25.8H
	WORD $0x6e796d8c // UMIN V12.8H, V12.8H, V25.8H
	WORD $0x4e789d08 // MUL V8.8H, V8.8H, V24.8H
	WORD $0x4e789d4a // MUL V10.8H, V10.8H, V24.8H
	WORD $0x4e789d8c // MUL V12.8H, V12.8H, V24.8H
	WORD $0x4e4c390d // ZIP1 V13.8H, V8.8H, V12.8H
	WORD $0x4e4c790e // ZIP2 V14.8H, V8.8H, V12.8H
	WORD $0x4e5f3940 // ZIP1 V0.8H, V10.8H, V31.8H
	WORD $0x4e5f7942 // ZIP2 V2.8H, V10.8H, V31.8H
	WORD $0x4e8039a3 // ZIP1 V3.4S, V13.4S, V0.4S
	WORD $0x4e8079a4 // ZIP2 V4.4S, V13.4S, V0.4S
	WORD $0x4e8239c5 // ZIP1 V5.4S, V14.4S, V2.4S
	WORD $0x4e8279c6 // ZIP2 V6.4S, V14.4S, V2.4S
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	WORD $0x4ee38508 // ADD V8.2D, V8.2D, V3.2D
	WORD $0x4ee48529 // ADD V9.2D, V9.2D, V4.2D
	WORD $0x4ee5854a // ADD V10.2D, V10.2D, V5.2D
	WORD $0x4ee6856b // ADD V11.2D, V11.2D, V6.2D
	VST1.P [V8.D2, V9.D2, V10.D2, V11.D2], 64(R0)
	SUBS $1, R4, R4
	BNE yuyvLoop
	RET

// func i420NEON(acc *uint64, y, cb, cr *uint8, n int, w uint64, c *yuvCoef)
TEXT ·i420NEON(SB), NOSPLIT, $0-56
	MOVD acc+0(FP), R0
	MOVD y+8(FP), R1
	MOVD cb+16(FP), R2
	MOVD cr+24(FP), R3
	MOVD n+32(FP), R4
	MOVD w+40(FP), R9
	MOVD c+48(FP), R8
	SETUP
	LSR $3, R4, R4
i420Loop:
	FMOVD.P 8(R1), F0
	FMOVS.P 4(R2), F1
	FMOVS.P 4(R3), F2
	WORD $0x0e013821 // ZIP1 V1.8B, V1.8B, V1.8B
	WORD $0x0e023842 // ZIP1 V2.8B, V2.8B, V2.8B
	// CONVERT: the pixels to packed words, added to the sums at R0.
	WORD $0x2f08a400 // UXTL V0.8H, V0.8B
	WORD $0x2f08a421 // UXTL V1.8H, V1.8B
	WORD $0x2f08a442 // UXTL V2.8H, V2.8B
	WORD $0x2f10a403 // UXTL V3.4S, V0.4H
	WORD $0x6f10a404 // UXTL2 V4.4S, V0.8H
	WORD $0x2f10a425 // UXTL V5.4S, V1.4H
	WORD $0x6f10a426 // UXTL2 V6.4S, V1.8H
	WORD $0x2f10a447 // UXTL V7.4S, V2.4H
	WORD $0x6f10a441 // UXTL2 V1.4S, V2.8H
	WORD $0x4eb09c63 // MUL V3.4S, V3.4S, V16.4S
	WORD $0x4eb09c84 // MUL V4.4S, V4.4S, V16.4S
	WORD $0x4eb18468 // ADD V8.4S, V3.4S, V17.4S
	WORD $0x4eb18489 // ADD V9.4S, V4.4S, V17.4S
	WORD $0x4eb494e8 // MLA V8.4S, V7.4S, V20.4S
	WORD $0x4eb49429 // MLA V9.4S, V1.4S, V20.4S
	WORD $0x4eb3846a // ADD V10.4S, V3.4S, V19.4S
	WORD $0x4eb3848b // ADD V11.4S, V4.4S, V19.4S
	WORD $0x4eb794aa // MLA V10.4S, V5.4S, V23.4S
	WORD $0x4eb794cb // MLA V11.4S, V6.4S, V23.4S
	WORD $0x4eb2846c // ADD V12.4S, V3.4S, V18.4S
	WORD $0x4eb2848d // ADD V13.4S, V4.4S, V18.4S
	WORD $0x4eb594ac // MLA V12.4S, V5.4S, V21.4S
	WORD $0x4eb594cd // MLA V13.4S, V6.4S, V21.4S
	WORD $0x4eb694ec // MLA V12.4S, V7.4S, V22.4S
	WORD $0x4eb6942d // MLA V13.4S, V1.4S, V22.4S
	WORD $0x2f108508 // SQSHRUN V8.4H, V8.4S, #16
	WORD $0x6f108528 // SQSHRUN2 V8.8H, V9.4S, #16
	WORD $0x2f10854a // SQSHRUN V10.4H, V10.4S, #16
	WORD $0x6f10856a // SQSHRUN2 V10.8H, V11.4S, #16
	WORD $0x2f10858c // SQSHRUN V12.4H, V12.4S, #16
	WORD $0x6f1085ac // SQSHRUN2 V12.8H, V13.4S, #16
	WORD $0x6e796d08 // UMIN V8.8H, V8.8H, V25.8H
	WORD $0x6e796d4a // UMIN V10.8H, V10.8H, V25.8H
	WORD $0x6e796d8c // UMIN V12.8H, V12.8H, V25.8H
	WORD $0x4e789d08 // MUL V8.8H, V8.8H, V24.8H
	WORD $0x4e789d4a // MUL V10.8H, V10.8H, V24.8H
	WORD $0x4e789d8c // MUL V12.8H, V12.8H, V24.8H
	WORD $0x4e4c390d // ZIP1 V13.8H, V8.8H, V12.8H
	WORD $0x4e4c790e // ZIP2 V14.8H, V8.8H, V12.8H
	WORD $0x4e5f3940 // ZIP1 V0.8H, V10.8H, V31.8H
	WORD $0x4e5f7942 // ZIP2 V2.8H, V10.8H, V31.8H
	WORD $0x4e8039a3 // ZIP1 V3.4S, V13.4S, V0.4S
	WORD $0x4e8079a4 // ZIP2 V4.4S, V13.4S, V0.4S
	WORD $0x4e8239c5 // ZIP1 V5.4S, V14.4S, V2.4S
	WORD $0x4e8279c6 // ZIP2 V6.4S, V14.4S, V2.4S
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	WORD $0x4ee38508 // ADD V8.2D, V8.2D, V3.2D
	WORD $0x4ee48529 // ADD V9.2D, V9.2D, V4.2D
	WORD $0x4ee5854a // ADD V10.2D, V10.2D, V5.2D
	WORD $0x4ee6856b // ADD V11.2D, V11.2D, V6.2D
	VST1.P [V8.D2, V9.D2, V10.D2, V11.D2], 64(R0)
	SUBS $1, R4, R4
	BNE i420Loop
	RET

// func nv12NEON(acc *uint64, y, uv *uint8, n int, w uint64, c *yuvCoef)
TEXT ·nv12NEON(SB), NOSPLIT, $0-48
	MOVD acc+0(FP), R0
	MOVD y+8(FP), R1
	MOVD uv+16(FP), R2
	MOVD n+24(FP), R4
	MOVD w+32(FP), R9
	MOVD c+40(FP), R8
	SETUP
	MOVD $nv12Tbl<>(SB), R10
	VLD1 (R10), [V26.B16, V27.B16]
	LSR $3, R4, R4
nv12Loop:
	FMOVD.P 8(R1), F0
	FMOVD.P 8(R2), F30
	WORD $0x0e1a03c1 // TBL V1.8B, {V30.16B}, V26.8B
	WORD $0x0e1b03c2 // TBL V2.8B, {V30.16B}, V27.8B
	// CONVERT: the pixels to packed words, added to the sums at R0.
	WORD $0x2f08a400 // UXTL V0.8H, V0.8B
	WORD $0x2f08a421 // UXTL V1.8H, V1.8B
	WORD $0x2f08a442 // UXTL V2.8H, V2.8B
	WORD $0x2f10a403 // UXTL V3.4S, V0.4H
	WORD $0x6f10a404 // UXTL2 V4.4S, V0.8H
	WORD $0x2f10a425 // UXTL V5.4S, V1.4H
	WORD $0x6f10a426 // UXTL2 V6.4S, V1.8H
	WORD $0x2f10a447 // UXTL V7.4S, V2.4H
	WORD $0x6f10a441 // UXTL2 V1.4S, V2.8H
	WORD $0x4eb09c63 // MUL V3.4S, V3.4S, V16.4S
	WORD $0x4eb09c84 // MUL V4.4S, V4.4S, V16.4S
	WORD $0x4eb18468 // ADD V8.4S, V3.4S, V17.4S
	WORD $0x4eb18489 // ADD V9.4S, V4.4S, V17.4S
	WORD $0x4eb494e8 // MLA V8.4S, V7.4S, V20.4S
	WORD $0x4eb49429 // MLA V9.4S, V1.4S, V20.4S
	WORD $0x4eb3846a // ADD V10.4S, V3.4S, V19.4S
	WORD $0x4eb3848b // ADD V11.4S, V4.4S, V19.4S
	WORD $0x4eb794aa // MLA V10.4S, V5.4S, V23.4S
	WORD $0x4eb794cb // MLA V11.4S, V6.4S, V23.4S
	WORD $0x4eb2846c // ADD V12.4S, V3.4S, V18.4S
	WORD $0x4eb2848d // ADD V13.4S, V4.4S, V18.4S
	WORD $0x4eb594ac // MLA V12.4S, V5.4S, V21.4S
	WORD $0x4eb594cd // MLA V13.4S, V6.4S, V21.4S
	WORD $0x4eb694ec // MLA V12.4S, V7.4S, V22.4S
	WORD $0x4eb6942d // MLA V13.4S, V1.4S, V22.4S
	WORD $0x2f108508 // SQSHRUN V8.4H, V8.4S, #16
	WORD $0x6f108528 // SQSHRUN2 V8.8H, V9.4S, #16
	WORD $0x2f10854a // SQSHRUN V10.4H, V10.4S, #16
	WORD $0x6f10856a // SQSHRUN2 V10.8H, V11.4S, #16
	WORD $0x2f10858c // SQSHRUN V12.4H, V12.4S, #16
	WORD $0x6f1085ac // SQSHRUN2 V12.8H, V13.4S, #16
	WORD $0x6e796d08 // UMIN V8.8H, V8.8H, V25.8H
	WORD $0x6e796d4a // UMIN V10.8H, V10.8H, V25.8H
	WORD $0x6e796d8c // UMIN V12.8H, V12.8H, V25.8H
	WORD $0x4e789d08 // MUL V8.8H, V8.8H, V24.8H
	WORD $0x4e789d4a // MUL V10.8H, V10.8H, V24.8H
	WORD $0x4e789d8c // MUL V12.8H, V12.8H, V24.8H
	WORD $0x4e4c390d // ZIP1 V13.8H, V8.8H, V12.8H
	WORD $0x4e4c790e // ZIP2 V14.8H, V8.8H, V12.8H
	WORD $0x4e5f3940 // ZIP1 V0.8H, V10.8H, V31.8H
	WORD $0x4e5f7942 // ZIP2 V2.8H, V10.8H, V31.8H
	WORD $0x4e8039a3 // ZIP1 V3.4S, V13.4S, V0.4S
	WORD $0x4e8079a4 // ZIP2 V4.4S, V13.4S, V0.4S
	WORD $0x4e8239c5 // ZIP1 V5.4S, V14.4S, V2.4S
	WORD $0x4e8279c6 // ZIP2 V6.4S, V14.4S, V2.4S
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	WORD $0x4ee38508 // ADD V8.2D, V8.2D, V3.2D
	WORD $0x4ee48529 // ADD V9.2D, V9.2D, V4.2D
	WORD $0x4ee5854a // ADD V10.2D, V10.2D, V5.2D
	WORD $0x4ee6856b // ADD V11.2D, V11.2D, V6.2D
	VST1.P [V8.D2, V9.D2, V10.D2, V11.D2], 64(R0)
	SUBS $1, R4, R4
	BNE nv12Loop
	RET

// func grayNEON(acc *uint64, src *uint8, n int, w uint64)
//
// 8 pixels an iteration: the bytes widened to 16-bit lanes, times w, and
// zipped into packed pixels (v, v, v, 0).
TEXT ·grayNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R4
	MOVD w+24(FP), R9
	VDUP R9, V24.H8
	VEOR V31.B16, V31.B16, V31.B16
	LSR $3, R4, R4
grayLoop:
	FMOVD.P 8(R1), F0
	WORD $0x2f08a400 // UXTL V0.8H, V0.8B
	WORD $0x4e789c00 // MUL V0.8H, V0.8H, V24.8H
	WORD $0x4e403801 // ZIP1 V1.8H, V0.8H, V0.8H
	WORD $0x4e407802 // ZIP2 V2.8H, V0.8H, V0.8H
	WORD $0x4e5f3803 // ZIP1 V3.8H, V0.8H, V31.8H
	WORD $0x4e5f7804 // ZIP2 V4.8H, V0.8H, V31.8H
	WORD $0x4e833825 // ZIP1 V5.4S, V1.4S, V3.4S
	WORD $0x4e837826 // ZIP2 V6.4S, V1.4S, V3.4S
	WORD $0x4e843847 // ZIP1 V7.4S, V2.4S, V4.4S
	WORD $0x4e847850 // ZIP2 V16.4S, V2.4S, V4.4S
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	WORD $0x4ee58508 // ADD V8.2D, V8.2D, V5.2D
	WORD $0x4ee68529 // ADD V9.2D, V9.2D, V6.2D
	WORD $0x4ee7854a // ADD V10.2D, V10.2D, V7.2D
	WORD $0x4ef0856b // ADD V11.2D, V11.2D, V16.2D
	VST1.P [V8.D2, V9.D2, V10.D2, V11.D2], 64(R0)
	SUBS $1, R4, R4
	BNE grayLoop
	RET

// func rgbNEON(acc *uint64, src *uint8, n int, w uint64)
//
// 8 pixels an iteration: LD3 splits the channels, which are widened,
// multiplied by w and zipped into packed pixels as in CONVERT.
TEXT ·rgbNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R4
	MOVD w+24(FP), R9
	VDUP R9, V24.H8
	VEOR V31.B16, V31.B16, V31.B16
	LSR $3, R4, R4
rgbLoop:
	WORD $0x0cdf4020 // LD3 {V0.8B, V1.8B, V2.8B}, [X1], #24
	WORD $0x2f08a408 // UXTL V8.8H, V0.8B
	WORD $0x2f08a42c // UXTL V12.8H, V1.8B
	WORD $0x2f08a44a // UXTL V10.8H, V2.8B
	WORD $0x4e789d08 // MUL V8.8H, V8.8H, V24.8H
	WORD $0x4e789d4a // MUL V10.8H, V10.8H, V24.8H
	WORD $0x4e789d8c // MUL V12.8H, V12.8H, V24.8H
	WORD $0x4e4c390d // ZIP1 V13.8H, V8.8H, V12.8H
	WORD $0x4e4c790e // ZIP2 V14.8H, V8.8H, V12.8H
	WORD $0x4e5f3940 // ZIP1 V0.8H, V10.8H, V31.8H
	WORD $0x4e5f7942 // ZIP2 V2.8H, V10.8H, V31.8H
	WORD $0x4e8039a3 // ZIP1 V3.4S, V13.4S, V0.4S
	WORD $0x4e8079a4 // ZIP2 V4.4S, V13.4S, V0.4S
	WORD $0x4e8239c5 // ZIP1 V5.4S, V14.4S, V2.4S
	WORD $0x4e8279c6 // ZIP2 V6.4S, V14.4S, V2.4S
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	WORD $0x4ee38508 // ADD V8.2D, V8.2D, V3.2D
	WORD $0x4ee48529 // ADD V9.2D, V9.2D, V4.2D
	WORD $0x4ee5854a // ADD V10.2D, V10.2D, V5.2D
	WORD $0x4ee6856b // ADD V11.2D, V11.2D, V6.2D
	VST1.P [V8.D2, V9.D2, V10.D2, V11.D2], 64(R0)
	SUBS $1, R4, R4
	BNE rgbLoop
	RET

// TBL indices: YUYV's lumas, Cb and Cr twice each; NV12's Cb and Cr twice
// each (the upper 8 bytes of each are not used).
DATA yuyvTbl<>+0(SB)/8, $0x0e0c0a0806040200
DATA yuyvTbl<>+8(SB)/8, $0
DATA yuyvTbl<>+16(SB)/8, $0x0d0d090905050101
DATA yuyvTbl<>+24(SB)/8, $0
DATA yuyvTbl<>+32(SB)/8, $0x0f0f0b0b07070303
DATA yuyvTbl<>+40(SB)/8, $0
GLOBL yuyvTbl<>(SB), RODATA|NOPTR, $48
DATA nv12Tbl<>+0(SB)/8, $0x0606040402020000
DATA nv12Tbl<>+8(SB)/8, $0
DATA nv12Tbl<>+16(SB)/8, $0x0707050503030101
DATA nv12Tbl<>+24(SB)/8, $0
GLOBL nv12Tbl<>(SB), RODATA|NOPTR, $32

// func hboxNEON(o *uint8, acc *uint64, first *int32, w4 *uint64, n int, q *hquot)
//
// 2 output pixels an iteration: for each, the 4 words at its first tap
// times its 4 weights in 16-bit lanes, the two halves added (MUL, MLA);
// ADDP adds each pixel's two words (no lane carries: every sum fits 16
// bits) into V0 = A B; then the division (V20 half, V21 mul, V22 the
// right shift 16+shift as a negative left shift) in 32-bit lanes, narrowed
// to bytes, and 6 bytes RGB RGB stored.
TEXT ·hboxNEON(SB), NOSPLIT, $0-48
	MOVD o+0(FP), R0
	MOVD acc+8(FP), R1
	MOVD first+16(FP), R2
	MOVD w4+24(FP), R3
	MOVD n+32(FP), R4
	MOVD q+40(FP), R5
	MOVHU 0(R5), R6
	VDUP R6, V20.H8
	MOVHU 2(R5), R6
	VDUP R6, V21.H8
	MOVHU 4(R5), R6
	ADD $16, R6, R6
	NEG R6, R6
	VDUP R6, V22.S4
	MOVD $hboxTbl<>(SB), R10
	VLD1 (R10), [V23.B16]
	LSR $1, R4, R4
hboxLoop:
	MOVWU.P 4(R2), R6
	ADD R6<<3, R1, R7
	VLD1 (R7), [V0.D2, V1.D2]
	VLD1.P 32(R3), [V2.D2, V3.D2]
	MOVWU.P 4(R2), R6
	ADD R6<<3, R1, R7
	VLD1 (R7), [V4.D2, V5.D2]
	VLD1.P 32(R3), [V6.D2, V7.D2]
	WORD $0x4e629c00 // MUL V0.8H, V0.8H, V2.8H
	WORD $0x4e639420 // MLA V0.8H, V1.8H, V3.8H
	WORD $0x4e669c84 // MUL V4.8H, V4.8H, V6.8H
	WORD $0x4e6794a4 // MLA V4.8H, V5.8H, V7.8H
	WORD $0x4ee4bc00 // ADDP V0.2D, V0.2D, V4.2D
	WORD $0x4e748400 // ADD V0.8H, V0.8H, V20.8H
	WORD $0x2e75c001 // UMULL V1.4S, V0.4H, V21.4H
	WORD $0x6e75c002 // UMULL2 V2.4S, V0.8H, V21.8H
	WORD $0x6eb64421 // USHL V1.4S, V1.4S, V22.4S
	WORD $0x6eb64442 // USHL V2.4S, V2.4S, V22.4S
	WORD $0x0e612820 // XTN V0.4H, V1.4S
	WORD $0x4e612840 // XTN2 V0.8H, V2.4S
	WORD $0x0e212800 // XTN V0.8B, V0.8H
	WORD $0x0e170000 // TBL V0.8B, {V0.16B}, V23.8B
	VMOV V0.S[0], R6
	VMOV V0.H[2], R7
	MOVW R6, 0(R0)
	MOVH R7, 4(R0)
	ADD $6, R0, R0
	SUBS $1, R4, R4
	BNE hboxLoop
	RET

// func scaledNEON(acc, next *uint64, n int, w, w2 uint64)
//
// 4 words an iteration, multiplied in 16-bit lanes (V24 w, V25 w2).
TEXT ·scaledNEON(SB), NOSPLIT, $0-40
	MOVD acc+0(FP), R0
	MOVD next+8(FP), R1
	MOVD n+16(FP), R2
	MOVD w+24(FP), R3
	MOVD w2+32(FP), R4
	VDUP R3, V24.H8
	VDUP R4, V25.H8
	LSR $2, R2, R2
scaledLoop:
	VLD1 (R1), [V0.D2, V1.D2]
	VLD1 (R0), [V2.D2, V3.D2]
	WORD $0x4e789402 // MLA V2.8H, V0.8H, V24.8H
	WORD $0x4e789423 // MLA V3.8H, V1.8H, V24.8H
	WORD $0x4e799c00 // MUL V0.8H, V0.8H, V25.8H
	WORD $0x4e799c21 // MUL V1.8H, V1.8H, V25.8H
	VST1.P [V2.D2, V3.D2], 32(R0)
	VST1.P [V0.D2, V1.D2], 32(R1)
	SUBS $1, R2, R2
	BNE scaledLoop
	RET

// TBL indices: A's R, G, B, then B's (bytes 0-2 and 4-6).
DATA hboxTbl<>+0(SB)/8, $0x0606060504020100
DATA hboxTbl<>+8(SB)/8, $0
GLOBL hboxTbl<>(SB), RODATA|NOPTR, $16
