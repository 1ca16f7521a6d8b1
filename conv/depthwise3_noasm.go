//go:build purego || !(amd64 || arm64)

package conv

// dw3 runs one call of the 3×3 depthwise kernel.
func dw3(y, x, w, b []float32, a dw3Args) { dw3Generic(y, x, w, b, a, 0, a.c) }

// dw3Back runs one call of the 3×3 depthwise backward kernel.
func dw3Back(gx, gw, x, w, gy []float32, a dw3Args) { dw3BackGeneric(gx, gw, x, w, gy, a, 0, a.c) }

// dw3Kernels lists the assembly kernels usable on this CPU: none.
func dw3Kernels() []dw3Kernel { return nil }

// dw3BackKernels lists the assembly backward kernels usable on this CPU:
// none.
func dw3BackKernels() []dw3BackKernel { return nil }

// maxPool2Row computes one output row of MaxPool2 (maxPool2RowGeneric).
func maxPool2Row(d, r0, r1 []float32, c int) { maxPool2RowGeneric(d, r0, r1, c, 0) }

// maxPool2Kernels lists the assembly max-pooling kernels usable on this
// CPU: none.
func maxPool2Kernels() []maxPool2Kernel { return nil }

// maxPool2BackReLURow computes one output row of MaxPool2.BackwardReLU.
func maxPool2BackReLURow(gx, src, y, gy []float32, row, c int) {
	maxPool2BackReLURowGeneric(gx, src, y, gy, row, c, 0)
}

// maxPool2BackKernels lists the assembly kernels of MaxPool2.BackwardReLU
// usable on this CPU: none.
func maxPool2BackKernels() []maxPool2BackKernel { return nil }
