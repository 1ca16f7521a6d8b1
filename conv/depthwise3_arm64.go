//go:build !purego

package conv

import "golang.org/x/sys/cpu"

// useASIMD selects the NEON kernel of depthwise3_arm64.s. ASIMD is part of
// every arm64 core catd runs on; the check keeps the fallback honest.
var useASIMD = cpu.ARM64.HasASIMD

// dw3NEON computes channels [0, cv) of one call of the 3×3 depthwise
// kernel (dw3Generic's loop, with fused multiply-adds), 4 channels at a
// time: cv is a multiple of 4 and greater than 0, n greater than 0. The
// arguments are dw3AVX2's.
//
//go:noescape
func dw3NEON(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)

// dw3 runs one call of the 3×3 depthwise kernel.
func dw3(y, x, w, b []float32, a dw3Args) {
	if !useASIMD || a.c < 4 {
		dw3Generic(y, x, w, b, a, 0, a.c)
		return
	}
	dw3Asm(y, x, w, b, a)
}

// dw3Asm runs the assembly kernel on the channels that fill whole vectors
// and the Go kernel on the rest.
func dw3Asm(y, x, w, b []float32, a dw3Args) {
	cv := a.c &^ 3
	if cv == 0 {
		dw3Generic(y, x, w, b, a, 0, a.c)
		return
	}
	dw3NEON(&y[a.yOff], &x[0], &w[0], &b[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps, reluFloor(a.relu))
	if cv < a.c {
		dw3Generic(y, x, w, b, a, cv, a.c)
	}
}

// dw3Kernels lists the assembly kernels usable on this CPU.
func dw3Kernels() []dw3Kernel {
	if !useASIMD {
		return nil
	}
	return []dw3Kernel{{"neon", dw3Asm}}
}

// dw3BackWNEON and dw3BackXNEON are dw3BackWAVX2 and dw3BackXAVX2 with 4
// channels at a time: cv is a multiple of 4.
//
//go:noescape
func dw3BackWNEON(gy, x, gw *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)

//go:noescape
func dw3BackXNEON(gy, gx, w *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)

// dw3Back runs one call of the 3×3 depthwise backward kernel.
func dw3Back(gx, gw, x, w, gy []float32, a dw3Args) {
	if !useASIMD || a.c < 4 {
		dw3BackGeneric(gx, gw, x, w, gy, a, 0, a.c)
		return
	}
	dw3BackAsm(gx, gw, x, w, gy, a)
}

// dw3BackAsm runs the NEON backward kernels on the channels that fill
// whole vectors and the Go kernel on the rest.
func dw3BackAsm(gx, gw, x, w, gy []float32, a dw3Args) {
	cv := a.c &^ 3
	if cv > 0 {
		dw3BackWNEON(&gy[a.yOff], &x[0], &gw[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps)
		if gx != nil {
			dw3BackXNEON(&gy[a.yOff], &gx[0], &w[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps)
		}
	}
	if cv < a.c {
		dw3BackGeneric(gx, gw, x, w, gy, a, cv, a.c)
	}
}

// dw3BackKernels lists the assembly backward kernels usable on this CPU.
func dw3BackKernels() []dw3BackKernel {
	if !useASIMD {
		return nil
	}
	return []dw3BackKernel{{"neon", dw3BackAsm}}
}
