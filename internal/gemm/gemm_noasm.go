//go:build purego || !(amd64 || arm64)

package gemm

func nn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	nnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func tn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	tnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func nnBias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	nnBiasGeneric(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
}

// archKernels lists the assembly kernels usable on this CPU: none.
func archKernels() []kernel { return nil }
