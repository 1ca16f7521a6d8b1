//go:build !purego

package conv

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2+FMA kernel of depthwise3_amd64.s, useAVX512
// the AVX-512 one for the blocks of 16 channels.
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F
)

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

// dw3AVX512 is dw3AVX2 with 16 channels at a time: cv is a multiple of 16.
//
//go:noescape
func dw3AVX512(y, x, w, b *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint, floor float32)

// dw3 runs one call of the 3×3 depthwise kernel.
func dw3(y, x, w, b []float32, a dw3Args) {
	if !useAVX2 || a.c < 8 {
		dw3Generic(y, x, w, b, a, 0, a.c)
		return
	}
	if useAVX512 {
		dw3Asm512(y, x, w, b, a)
		return
	}
	dw3Asm(y, x, w, b, a)
}

// dw3Asm runs the AVX2 kernel on the channels that fill whole vectors and
// the Go kernel on the rest.
func dw3Asm(y, x, w, b []float32, a dw3Args) { dw3Tail(y, x, w, b, a, 0) }

// dw3Asm512 runs the AVX-512 kernel on the channels that fill whole
// 16-float vectors, and the AVX2 and Go kernels on the rest.
func dw3Asm512(y, x, w, b []float32, a dw3Args) {
	c16 := a.c &^ 15
	if c16 > 0 {
		dw3AVX512(&y[a.yOff], &x[0], &w[0], &b[0], 4*a.xOff, a.n, 4*a.c, 4*c16, 4*a.rowStride, 4*a.pixStep, a.taps, reluFloor(a.relu))
	}
	dw3Tail(y, x, w, b, a, c16)
}

// dw3Tail computes channels [c0, C) of the call: the whole vectors of 8
// with AVX2, the rest in Go.
func dw3Tail(y, x, w, b []float32, a dw3Args, c0 int) {
	cv := a.c &^ 7
	if cv > c0 {
		dw3AVX2(&y[a.yOff+c0], &x[c0], &w[c0], &b[c0], 4*a.xOff, a.n, 4*a.c, 4*(cv-c0), 4*a.rowStride, 4*a.pixStep, a.taps, reluFloor(a.relu))
	}
	if cv < a.c {
		dw3Generic(y, x, w, b, a, max(cv, c0), a.c)
	}
}

// dw3Kernels lists the assembly kernels usable on this CPU.
func dw3Kernels() []dw3Kernel {
	var ks []dw3Kernel
	if useAVX2 {
		ks = append(ks, dw3Kernel{"avx2", dw3Asm})
	}
	if useAVX512 {
		ks = append(ks, dw3Kernel{"avx512", dw3Asm512})
	}
	return ks
}

// dw3BackWAVX2 adds the weight gradient of channels [0, cv) of one call of
// the 3×3 depthwise kernel to gw, 8 channels at a time (dw3BackGeneric's
// gw, summed over the call's pixels in registers first): cv is a multiple
// of 8 and greater than 0, n greater than 0. gy points at the call's first
// output gradient, x at the image; offsets and strides are dw3AVX2's, in
// bytes.
//
//go:noescape
func dw3BackWAVX2(gy, x, gw *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)

// dw3BackXAVX2 adds the input gradient of channels [0, cv) of one call to
// gx (dw3BackGeneric's gx), 8 channels at a time; gx is laid out like the
// image and the arguments are dw3BackWAVX2's.
//
//go:noescape
func dw3BackXAVX2(gy, gx, w *float32, xoff, n, c, cv, rowStride, pixStep int, taps uint)

// dw3Back runs one call of the 3×3 depthwise backward kernel.
func dw3Back(gx, gw, x, w, gy []float32, a dw3Args) {
	if !useAVX2 || a.c < 8 {
		dw3BackGeneric(gx, gw, x, w, gy, a, 0, a.c)
		return
	}
	dw3BackAsm(gx, gw, x, w, gy, a)
}

// dw3BackAsm runs the AVX2 backward kernels on the channels that fill
// whole vectors and the Go kernel on the rest.
func dw3BackAsm(gx, gw, x, w, gy []float32, a dw3Args) {
	cv := a.c &^ 7
	if cv > 0 {
		dw3BackWAVX2(&gy[a.yOff], &x[0], &gw[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps)
		if gx != nil {
			dw3BackXAVX2(&gy[a.yOff], &gx[0], &w[0], 4*a.xOff, a.n, 4*a.c, 4*cv, 4*a.rowStride, 4*a.pixStep, a.taps)
		}
	}
	if cv < a.c {
		dw3BackGeneric(gx, gw, x, w, gy, a, cv, a.c)
	}
}

// dw3BackKernels lists the assembly backward kernels usable on this CPU.
func dw3BackKernels() []dw3BackKernel {
	if !useAVX2 {
		return nil
	}
	return []dw3BackKernel{{"avx2", dw3BackAsm}}
}
