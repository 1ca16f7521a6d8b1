//go:build !purego

package conv

// maxPool2NEON computes channels [0, cv) of one output row of MaxPool2
// (maxPool2RowGeneric), 4 channels at a time; cv is a multiple of 16
// bytes. The arguments are maxPool2AVX2's.
//
//go:noescape
func maxPool2NEON(d, r0, r1 *float32, n, c, cv int)

// maxPool2Row computes one output row of MaxPool2: len(d)/c pixels of c
// channels from the input rows r0 and r1.
func maxPool2Row(d, r0, r1 []float32, c int) {
	if !useASIMD {
		maxPool2RowGeneric(d, r0, r1, c, 0)
		return
	}
	maxPool2Asm(d, r0, r1, c)
}

// maxPool2Asm runs the NEON kernel on the channels that fill whole
// vectors and the Go kernel on the rest.
func maxPool2Asm(d, r0, r1 []float32, c int) {
	cv := c &^ 3
	if cv == 0 || len(d) == 0 {
		maxPool2RowGeneric(d, r0, r1, c, 0)
		return
	}
	_, _ = r0[2*len(d)-1], r1[2*len(d)-1]
	maxPool2NEON(&d[0], &r0[0], &r1[0], len(d)/c, 4*c, 4*cv)
	if cv < c {
		maxPool2RowGeneric(d, r0, r1, c, cv)
	}
}

// maxPool2Kernels lists the assembly max-pooling kernels usable on this
// CPU.
func maxPool2Kernels() []maxPool2Kernel {
	if !useASIMD {
		return nil
	}
	return []maxPool2Kernel{{"neon", maxPool2Asm}}
}

// maxPool2BackReLUNEON is maxPool2BackReLUAVX2 with 4 channels at a time:
// cv is a multiple of 16 bytes.
//
//go:noescape
func maxPool2BackReLUNEON(gx, src, y, gy *float32, n, row, c, cv int)

// maxPool2BackReLURow computes one output row of MaxPool2.BackwardReLU.
func maxPool2BackReLURow(gx, src, y, gy []float32, row, c int) {
	if !useASIMD {
		maxPool2BackReLURowGeneric(gx, src, y, gy, row, c, 0)
		return
	}
	maxPool2BackReLUAsm(gx, src, y, gy, row, c)
}

// maxPool2BackReLUAsm runs the NEON kernel on the channels that fill
// whole vectors and the Go kernel on the rest.
func maxPool2BackReLUAsm(gx, src, y, gy []float32, row, c int) {
	cv := c &^ 3
	if cv == 0 || len(y) == 0 {
		maxPool2BackReLURowGeneric(gx, src, y, gy, row, c, 0)
		return
	}
	n := len(y) / c
	_, _, _ = gx[row+2*n*c-1], src[row+2*n*c-1], gy[len(y)-1]
	maxPool2BackReLUNEON(&gx[0], &src[0], &y[0], &gy[0], n, 4*row, 4*c, 4*cv)
	if cv < c {
		maxPool2BackReLURowGeneric(gx, src, y, gy, row, c, cv)
	}
}

// maxPool2BackKernels lists the assembly kernels of MaxPool2.BackwardReLU
// usable on this CPU.
func maxPool2BackKernels() []maxPool2BackKernel {
	if !useASIMD {
		return nil
	}
	return []maxPool2BackKernel{{"neon", maxPool2BackReLUAsm}}
}
