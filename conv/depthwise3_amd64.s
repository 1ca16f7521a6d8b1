//go:build !purego

#include "textflag.h"

// func dw3AVX2(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)
//
// Registers: Y0…Y8 the nine weights of a block of 8 channels, Y9 its bias,
// Y10 the sum, Y15 the floor. R13 is the channel block's offset in bytes;
// per pixel AX points at the output, BX, DX and R14 at the window's taps
// in columns 0, 1 and 2 of row 0 (rows 1 and 2 are SI and 2·SI further).
TEXT ·dw3AVX2(SB), NOSPLIT, $0-92
	MOVQ w+16(FP), R9
	MOVQ b+24(FP), R10
	MOVQ y+0(FP), R11
	MOVQ x+8(FP), R12
	ADDQ xoff+32(FP), R12
	MOVQ c+48(FP), R8
	MOVQ rowStride+64(FP), SI
	MOVQ pixStep+72(FP), DI
	VBROADCASTSS floor+88(FP), Y15
	XORQ R13, R13

block:
	LEAQ (R9)(R13*1), AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	LEAQ (AX)(R8*2), AX
	ADDQ R8, AX
	VMOVUPS (AX), Y3
	VMOVUPS (AX)(R8*1), Y4
	VMOVUPS (AX)(R8*2), Y5
	LEAQ (AX)(R8*2), AX
	ADDQ R8, AX
	VMOVUPS (AX), Y6
	VMOVUPS (AX)(R8*1), Y7
	VMOVUPS (AX)(R8*2), Y8
	VMOVUPS (R10)(R13*1), Y9
	LEAQ (R11)(R13*1), AX
	LEAQ (R12)(R13*1), BX
	LEAQ (BX)(R8*1), DX
	LEAQ (BX)(R8*2), R14
	MOVQ n+40(FP), CX
	MOVQ taps+80(FP), R15
	CMPQ R15, $0x1ff
	JNE masked

full:
	VMOVAPS Y9, Y10
	VFMADD231PS (BX), Y0, Y10
	VFMADD231PS (DX), Y1, Y10
	VFMADD231PS (R14), Y2, Y10
	VFMADD231PS (BX)(SI*1), Y3, Y10
	VFMADD231PS (DX)(SI*1), Y4, Y10
	VFMADD231PS (R14)(SI*1), Y5, Y10
	VFMADD231PS (BX)(SI*2), Y6, Y10
	VFMADD231PS (DX)(SI*2), Y7, Y10
	VFMADD231PS (R14)(SI*2), Y8, Y10
	VMAXPS Y10, Y15, Y10
	VMOVUPS Y10, (AX)
	ADDQ R8, AX
	ADDQ DI, BX
	ADDQ DI, DX
	ADDQ DI, R14
	DECQ CX
	JNZ full
	JMP next

// Windows that hang over an edge: the same sum, each tap only if its bit
// of taps (R15) is set.
masked:
	VMOVAPS Y9, Y10
	TESTQ $0x001, R15
	JZ m1
	VFMADD231PS (BX), Y0, Y10
m1:
	TESTQ $0x002, R15
	JZ m2
	VFMADD231PS (DX), Y1, Y10
m2:
	TESTQ $0x004, R15
	JZ m3
	VFMADD231PS (R14), Y2, Y10
m3:
	TESTQ $0x008, R15
	JZ m4
	VFMADD231PS (BX)(SI*1), Y3, Y10
m4:
	TESTQ $0x010, R15
	JZ m5
	VFMADD231PS (DX)(SI*1), Y4, Y10
m5:
	TESTQ $0x020, R15
	JZ m6
	VFMADD231PS (R14)(SI*1), Y5, Y10
m6:
	TESTQ $0x040, R15
	JZ m7
	VFMADD231PS (BX)(SI*2), Y6, Y10
m7:
	TESTQ $0x080, R15
	JZ m8
	VFMADD231PS (DX)(SI*2), Y7, Y10
m8:
	TESTQ $0x100, R15
	JZ m9
	VFMADD231PS (R14)(SI*2), Y8, Y10
m9:
	VMAXPS Y10, Y15, Y10
	VMOVUPS Y10, (AX)
	ADDQ R8, AX
	ADDQ DI, BX
	ADDQ DI, DX
	ADDQ DI, R14
	DECQ CX
	JNZ masked

next:
	ADDQ $32, R13
	CMPQ R13, cv+56(FP)
	JLT block
	VZEROUPPER
	RET

// func dw3AVX512(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)
//
// dw3AVX2 with 16 channels a block, in ZMM registers Z0…Z15 where
// dw3AVX2 uses Y0…Y15.
TEXT ·dw3AVX512(SB), NOSPLIT, $0-92
	MOVQ w+16(FP), R9
	MOVQ b+24(FP), R10
	MOVQ y+0(FP), R11
	MOVQ x+8(FP), R12
	ADDQ xoff+32(FP), R12
	MOVQ c+48(FP), R8
	MOVQ rowStride+64(FP), SI
	MOVQ pixStep+72(FP), DI
	VBROADCASTSS floor+88(FP), Z15
	XORQ R13, R13

block:
	LEAQ (R9)(R13*1), AX
	VMOVUPS (AX), Z0
	VMOVUPS (AX)(R8*1), Z1
	VMOVUPS (AX)(R8*2), Z2
	LEAQ (AX)(R8*2), AX
	ADDQ R8, AX
	VMOVUPS (AX), Z3
	VMOVUPS (AX)(R8*1), Z4
	VMOVUPS (AX)(R8*2), Z5
	LEAQ (AX)(R8*2), AX
	ADDQ R8, AX
	VMOVUPS (AX), Z6
	VMOVUPS (AX)(R8*1), Z7
	VMOVUPS (AX)(R8*2), Z8
	VMOVUPS (R10)(R13*1), Z9
	LEAQ (R11)(R13*1), AX
	LEAQ (R12)(R13*1), BX
	LEAQ (BX)(R8*1), DX
	LEAQ (BX)(R8*2), R14
	MOVQ n+40(FP), CX
	MOVQ taps+80(FP), R15
	CMPQ R15, $0x1ff
	JNE masked

full:
	VMOVAPS Z9, Z10
	VFMADD231PS (BX), Z0, Z10
	VFMADD231PS (DX), Z1, Z10
	VFMADD231PS (R14), Z2, Z10
	VFMADD231PS (BX)(SI*1), Z3, Z10
	VFMADD231PS (DX)(SI*1), Z4, Z10
	VFMADD231PS (R14)(SI*1), Z5, Z10
	VFMADD231PS (BX)(SI*2), Z6, Z10
	VFMADD231PS (DX)(SI*2), Z7, Z10
	VFMADD231PS (R14)(SI*2), Z8, Z10
	VMAXPS Z10, Z15, Z10
	VMOVUPS Z10, (AX)
	ADDQ R8, AX
	ADDQ DI, BX
	ADDQ DI, DX
	ADDQ DI, R14
	DECQ CX
	JNZ full
	JMP next

// Windows that hang over an edge: the same sum, each tap only if its bit
// of taps (R15) is set.
masked:
	VMOVAPS Z9, Z10
	TESTQ $0x001, R15
	JZ m1
	VFMADD231PS (BX), Z0, Z10
m1:
	TESTQ $0x002, R15
	JZ m2
	VFMADD231PS (DX), Z1, Z10
m2:
	TESTQ $0x004, R15
	JZ m3
	VFMADD231PS (R14), Z2, Z10
m3:
	TESTQ $0x008, R15
	JZ m4
	VFMADD231PS (BX)(SI*1), Z3, Z10
m4:
	TESTQ $0x010, R15
	JZ m5
	VFMADD231PS (DX)(SI*1), Z4, Z10
m5:
	TESTQ $0x020, R15
	JZ m6
	VFMADD231PS (R14)(SI*1), Z5, Z10
m6:
	TESTQ $0x040, R15
	JZ m7
	VFMADD231PS (BX)(SI*2), Z6, Z10
m7:
	TESTQ $0x080, R15
	JZ m8
	VFMADD231PS (DX)(SI*2), Z7, Z10
m8:
	TESTQ $0x100, R15
	JZ m9
	VFMADD231PS (R14)(SI*2), Z8, Z10
m9:
	VMAXPS Z10, Z15, Z10
	VMOVUPS Z10, (AX)
	ADDQ R8, AX
	ADDQ DI, BX
	ADDQ DI, DX
	ADDQ DI, R14
	DECQ CX
	JNZ masked

next:
	ADDQ $64, R13
	CMPQ R13, cv+56(FP)
	JLT block
	VZEROUPPER
	RET
