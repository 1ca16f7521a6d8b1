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
