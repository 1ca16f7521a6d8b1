//go:build !purego

package conv

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2+FMA kernel of depthwise3_amd64.s.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dw3AVX2 computes channels [0, cv) of one call of the 3×3 depthwise
// kernel (dw3Generic's loop, with fused multiply-adds), 8 channels at a
// time: cv is a multiple of 8 and greater than 0, n greater than 0. y points
// at the call's first output pixel, x at the image, whose window base is
// x + xoff; xoff, rowStride, pixStep and cv are in bytes. floor is 0 for a
// ReLU and -Inf for none (the kernel takes max(floor, sum), passing NaN
// through).
//
//go:noescape
func dw3AVX2(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)

// dw3 runs one call of the 3×3 depthwise kernel.
func dw3(y, x, w, b []float32, a dw3Args) {
	if !useAVX2 || a.c < 8 {
		dw3Generic(y, x, w, b, a, 0, a.c)
		return
	}
	dw3Asm(y, x, w, b, a)
}

// dw3Asm runs the assembly kernel on the channels that fill whole vectors
// and the Go kernel on the rest.
func dw3Asm(y, x, w, b []float32, a dw3Args) {
	cv := a.c &^ 7
	dw3AVX2(&y[a.yOff], &x[0], &w[0], &b[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps, reluFloor(a.relu))
	if cv < a.c {
		dw3Generic(y, x, w, b, a, cv, a.c)
	}
}

// dw3Kernels lists the assembly kernels usable on this CPU.
func dw3Kernels() []dw3Kernel {
	if !useAVX2 {
		return nil
	}
	return []dw3Kernel{{"avx2", dw3Asm}}
}
