// Package gemm multiplies row-major float32 matrices for catd's layer
// kernels.
//
// The convolution layers lower to matrix products through im2col (NHWC
// activations, so an im2col row is one output pixel and its columns are
// kh·kw·ic taps); the forward product reads those rows straight from the
// padded input instead, one output row at a time (NNBiasRuns):
//
//	forward          NN  m = P pixels,  n = OC, k = kh·kw·ic
//	weight gradient  TN  m = kh·kw·ic,  n = OC, k = P (A is the P×K im2col matrix)
//	input gradient   NN  m = P pixels,  n = kh·kw·ic, k = OC
//
// All matrices are row-major: element (i, j) of a matrix with row stride ld
// is at index i*ld+j. Every product accumulates into C (C += A·B), so the
// caller zeroes C first when it wants a plain product; this lets gradient
// code sum over a batch without a scratch buffer. The forward product has
// a variant of its own, NNBias, that overwrites C with bias + A·B and can
// apply a ReLU before C leaves the registers. The caller owns and
// allocates every buffer; the functions never allocate and never retain a
// slice. C must not overlap A or B.
//
// Wrong shapes, strides and slice lengths are programmer errors and panic
// with a message starting with "gemm: ". A zero m, n or k is a no-op.
//
// On amd64 with AVX2 and FMA, and on arm64 with ASIMD, the products run in
// assembly micro-kernels that keep a block of C in vector registers; everywhere
// else (and with the purego build tag) they run in a register-blocked Go
// kernel. Where the CPU has AVX-512 (F and VL), NNBias and NNBiasRuns run in
// AVX-512 kernels (12 rows × 32 columns, the element of A broadcast inside
// each multiply-add, the last columns masked): on AMD's Zen 4, which splits
// every 512-bit operation in two, their gain is the fewer instructions per
// multiply-add and the longer reuse of each row of B, which shows on the
// small-m, wide-n products of catd's models (BenchmarkEpilogueKernels). The tests hold every kernel to plain loops (NNRef and TNRef, in
// reference_test.go).
package gemm

import "unsafe"

//go:generate go run gen.go

// NN computes C += A·B, where A is m×k with row stride lda, B is k×n with row
// stride ldb and C is m×n with row stride ldc. Rows of A may overlap (lda
// may be below k, even 0): the products of a convolution's kernel columns
// with strips of its input read them so. C must not overlap A or B. NN
// does not allocate.
func NN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !checkNN(m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	nn(m, n, k, a, lda, b, ldb, c, ldc)
}

// NNBias computes C = act(bias + A·B), overwriting C: A is m×k with row
// stride lda, B is k×n with row stride ldb, bias holds n floats (one per
// column, the same for every row) and C is m×n with row stride ldc. With
// relu, every sum below 0 becomes 0 (NaN and -0 stay as they are); without,
// act is the identity. The bias and the activation are applied while the
// block of C is still in registers, so a convolution with a bias and a
// ReLU makes one pass over its output. With k = 0, C = act(bias). Rows of
// A may overlap, as in NN. C must not overlap A, B or bias. NNBias does
// not allocate.
func NNBias(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	if m < 0 || n < 0 || k < 0 {
		panic("gemm: negative dimension")
	}
	if m == 0 || n == 0 {
		return
	}
	if len(bias) < n {
		panic("gemm: bias too short")
	}
	if k == 0 {
		biasOnly(m, n, bias, c, ldc, relu)
		return
	}
	checkNN(m, n, k, a, lda, b, ldb, c, ldc)
	if overlap(c[:(m-1)*ldc+n], bias[:n]) {
		panic("gemm: c overlaps bias")
	}
	nnBias(m, n, 1, k, a, lda, k, b, ldb, bias[:n], c, ldc, relu)
}

// NNBiasRuns is NNBias for an A whose rows are made of runs: row i of A is
// runs runs of k floats, run r of row i starting at a[i*lda+r*lds], so
// element (i, r·k+q) of A (q < k) is a[i*lda+r*lds+q], and B has runs·k
// rows. Rows and runs may overlap in a (lda and lds may be below k, even 0).
//
// It is a convolution read straight from its zero-padded NHWC input, one
// output row per call, with no im2col patch matrix: m is the output
// width, lda the stride times the channels, runs the kernel height, k the
// kernel width times the channels and lds the padded input's row length;
// B is the HWIO weights. The sums run in the order of NNBias on the
// patch matrix, so the two give the same bits. With runs·k = 0, C =
// act(bias). C must not overlap A, B or bias. NNBiasRuns does not
// allocate.
func NNBiasRuns(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	if m < 0 || n < 0 || runs < 0 || k < 0 {
		panic("gemm: negative dimension")
	}
	if lda < 0 || lds < 0 {
		panic("gemm: negative stride")
	}
	if m == 0 || n == 0 {
		return
	}
	if len(bias) < n {
		panic("gemm: bias too short")
	}
	if runs == 0 || k == 0 {
		biasOnly(m, n, bias, c, ldc, relu)
		return
	}
	if ldb < n {
		panic("gemm: bad ldb")
	}
	if ldc < n {
		panic("gemm: bad ldc")
	}
	if len(a) < (m-1)*lda+(runs-1)*lds+k {
		panic("gemm: a too short")
	}
	checkBC(m, n, runs*k, a[:(m-1)*lda+(runs-1)*lds+k], b, ldb, c, ldc)
	if overlap(c[:(m-1)*ldc+n], bias[:n]) {
		panic("gemm: c overlaps bias")
	}
	nnBias(m, n, runs, k, a, lda, lds, b, ldb, bias[:n], c, ldc, relu)
}

// biasOnly writes C = act(bias) (m×n, row stride ldc), for products with
// an empty inner dimension.
func biasOnly(m, n int, bias []float32, c []float32, ldc int, relu bool) {
	if ldc < n {
		panic("gemm: bad ldc")
	}
	if len(c) < (m-1)*ldc+n {
		panic("gemm: c too short")
	}
	if overlap(c[:(m-1)*ldc+n], bias[:n]) {
		panic("gemm: c overlaps bias")
	}
	for i := range m {
		setAct(c[i*ldc:i*ldc+n], bias[:n], relu)
	}
}

// setAct writes act(s) into dst; the two have the same length.
func setAct(dst, s []float32, relu bool) {
	s = s[:len(dst)]
	for j, v := range s {
		dst[j] = act(v, relu)
	}
}

// act is the epilogue's activation: with relu, v if v is not below 0 (so
// NaN and -0 stay), else 0.
func act(v float32, relu bool) float32 {
	if relu && v < 0 {
		return 0
	}
	return v
}

// TN computes C += Aᵀ·B, where A is stored k×m with row stride lda (so Aᵀ is
// m×k), B is k×n with row stride ldb and C is m×n with row stride ldc. Rows
// of A may overlap (lda may be below m, even 0). C must not overlap A or B.
// TN does not allocate.
func TN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !checkTN(m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	tn(m, n, k, a, lda, b, ldb, c, ldc)
}

// Transpose writes the transpose of the rows×cols matrix src (row stride
// lds) into dst (cols×rows, row stride ldd): dst[j*ldd+i] = src[i*lds+j].
// dst must not overlap src. Transpose does not allocate.
func Transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows < 0 || cols < 0 {
		panic("gemm: negative dimension")
	}
	if lds < max(1, cols) {
		panic("gemm: bad src stride")
	}
	if ldd < max(1, rows) {
		panic("gemm: bad dst stride")
	}
	if rows == 0 || cols == 0 {
		return
	}
	if len(src) < (rows-1)*lds+cols {
		panic("gemm: src too short")
	}
	if len(dst) < (cols-1)*ldd+rows {
		panic("gemm: dst too short")
	}
	if overlap(dst[:(cols-1)*ldd+rows], src[:(rows-1)*lds+cols]) {
		panic("gemm: dst overlaps src")
	}
	// 8×8 tiles keep both the reads and the writes within a few cache lines.
	const tile = 8
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(i0+tile, rows)
		for j0 := 0; j0 < cols; j0 += tile {
			j1 := min(j0+tile, cols)
			for i := i0; i < i1; i++ {
				s := src[i*lds+j0 : i*lds+j1]
				d := dst[j0*ldd+i:]
				for jj, v := range s {
					d[jj*ldd] = v
				}
			}
		}
	}
}

// checkNN panics on bad arguments to NN and reports whether there is any
// work to do. A is m×k.
func checkNN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	return checkArgs(m, n, k, m, k, a, lda, b, ldb, c, ldc)
}

// checkTN panics on bad arguments to TN and reports whether there is any
// work to do. A is stored k×m.
func checkTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	return checkArgs(m, n, k, k, m, a, lda, b, ldb, c, ldc)
}

// checkArgs checks a product whose A is stored as aRows×aCols with row
// stride lda, B as k×n and C as m×n.
func checkArgs(m, n, k, aRows, aCols int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	if m < 0 || n < 0 || k < 0 {
		panic("gemm: negative dimension")
	}
	if lda < 0 {
		panic("gemm: negative lda")
	}
	if ldb < max(1, n) {
		panic("gemm: bad ldb")
	}
	if ldc < max(1, n) {
		panic("gemm: bad ldc")
	}
	if m == 0 || n == 0 || k == 0 {
		return false
	}
	if len(a) < (aRows-1)*lda+aCols {
		panic("gemm: a too short")
	}
	checkBC(m, n, k, a[:(aRows-1)*lda+aCols], b, ldb, c, ldc)
	return true
}

// checkBC checks the lengths of b and c and that c overlaps neither a nor b;
// a is already cut to the elements the product reads.
func checkBC(m, n, k int, a, b []float32, ldb int, c []float32, ldc int) {
	if len(b) < (k-1)*ldb+n {
		panic("gemm: b too short")
	}
	if len(c) < (m-1)*ldc+n {
		panic("gemm: c too short")
	}
	cu := c[:(m-1)*ldc+n]
	if overlap(cu, a) {
		panic("gemm: c overlaps a")
	}
	if overlap(cu, b[:(k-1)*ldb+n]) {
		panic("gemm: c overlaps b")
	}
}

// overlap reports whether the memory spans of the non-empty slices x and y
// intersect.
func overlap(x, y []float32) bool {
	x0 := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	y0 := uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	x1 := x0 + uintptr(len(x))*4
	y1 := y0 + uintptr(len(y))*4
	return x0 < y1 && y0 < x1
}
