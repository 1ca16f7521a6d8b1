//go:build purego || !(amd64 || arm64)

package conv

// bnStats, bnAffine, bnGradSums and bnGradInput run the batch-norm
// kernels of bnkern.go: the Go ones.
func bnStats(s, ss []float64, src, shift []float32, c, c0 int) { bnStatsGo(s, ss, src, shift, c, c0) }

func bnAffine(dst, src []float32, c, c0 int, d, e []float32, relu bool) {
	bnAffineGo(dst, src, c, c0, d, e, relu)
}

func bnGradSums(sg, sgx []float64, src, gy, y, mean []float32, c, c0 int) {
	bnGradSumsGo(sg, sgx, src, gy, y, mean, c, c0)
}

func bnGradInput(gx, gy, y, src []float32, c, c0 int, a, e, k []float32) {
	bnGradInputGo(gx, gy, y, src, c, c0, a, e, k)
}

// bnAsmKernels lists the assembly batch-norm kernels usable on this CPU:
// none.
func bnAsmKernels() []bnKernels { return nil }
