//go:build !purego && (amd64 || arm64)

package model

// batchTol bounds how far the batched training step may be from the
// per-image one: the largest difference in any gradient, loss or
// batch-norm statistic relative to the largest magnitude among them. With
// the assembly kernels only the strips of the first convolutions add in
// another order than im2col (each output's taps column by column), so sums
// round differently, about 1e-7 relative, and the differences grow through
// the layers below to a few 1e-6 (catsep64 at batch 3), also in the
// second step, after an update.
const (
	batchTol   = 1e-5
	batchSteps = 2
)
