package conv

import "catd/internal/gemm"

// The elementwise passes of batch norm in training, y = x*d + e per
// channel, run through the matrix-product kernels, whose vector registers
// Go code cannot use: a block of up to 8 channels of a block of pixels is
// a matrix with a row per pixel, and multiplying it by the diagonal matrix
// of those channels' d (bias e, the epilogue's ReLU if asked) computes
// x*d + e with one rounding, the other 7 products of each sum being x*0.
// Eight multiply-adds per value in registers 8 wide cost less than one in
// scalar code. A NaN or infinity in one channel of a pixel therefore makes
// the other channels of its block NaN at that pixel (0 times infinity),
// where the batch statistics are NaN already.

// diagBlock is the number of channels one product covers.
const diagBlock = 8

// diagRows returns how many pixels of c channels one block of products
// takes: about 16 KB of input, so that a block of the input and output
// stays in the first-level cache across its channel blocks.
func diagRows(c int) int { return max(48, 4096/c/12*12) }

// diagProduct sets dst = act(src*d + e) for channels [c0, c0+len(d)) of
// every pixel of c channels, or, with e nil, adds src*d to dst (relu
// ignored). diag is scratch of at least diagBlock² floats. dst must not
// overlap src.
func diagProduct(dst, src []float32, c, c0 int, d, e []float32, relu bool, diag []float32) {
	p := len(src) / c
	rows := diagRows(c)
	for r0 := 0; r0 < p; r0 += rows {
		m := min(rows, p-r0)
		for j0 := 0; j0 < len(d); j0 += diagBlock {
			n := min(diagBlock, len(d)-j0)
			clear(diag[:n*n])
			for j := range n {
				diag[j*n+j] = d[j0+j]
			}
			off := r0*c + c0 + j0
			if e == nil {
				gemm.NN(m, n, n, src[off:], c, diag[:n*n], n, dst[off:], c)
			} else {
				gemm.NNBias(m, n, n, src[off:], c, diag[:n*n], n, e[j0:j0+n], dst[off:], c, relu)
			}
		}
	}
}
