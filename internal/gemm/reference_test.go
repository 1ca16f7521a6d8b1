package gemm

// The plain loops the fast paths are tested against.

// NNRef is the reference for NN. It checks its arguments like NN and then
// runs exactly this loop:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*lda+p] * b[p*ldb+j]
//			}
//			c[i*ldc+j] += s
//		}
//	}
func NNRef(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !checkNN(m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*lda+p] * b[p*ldb+j]
			}
			c[i*ldc+j] += s
		}
	}
}

// TNRef is the reference for TN. It checks its arguments like TN and then
// runs exactly this loop:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[p*lda+i] * b[p*ldb+j]
//			}
//			c[i*ldc+j] += s
//		}
//	}
func TNRef(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !checkTN(m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*lda+i] * b[p*ldb+j]
			}
			c[i*ldc+j] += s
		}
	}
}

// NNBiasRef is the reference for NNBias. It runs exactly this loop
// (act(v) is 0 if relu and v < 0, else v):
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*lda+p] * b[p*ldb+j]
//			}
//			c[i*ldc+j] = act(bias[j]+s, relu)
//		}
//	}
func NNBiasRef(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*lda+p] * b[p*ldb+j]
			}
			v := bias[j] + s
			if relu && v < 0 {
				v = 0
			}
			c[i*ldc+j] = v
		}
	}
}

// NNBiasRunsRef is the reference for NNBiasRuns: NNBiasRef's loop with the
// element (i, p) of A read from run p/k (act(v) is 0 if relu and v < 0,
// else v):
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < runs*k; p++ {
//				s += a[i*lda+(p/k)*lds+p%k] * b[p*ldb+j]
//			}
//			c[i*ldc+j] = act(bias[j]+s, relu)
//		}
//	}
func NNBiasRunsRef(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < runs*k; p++ {
				s += a[i*lda+(p/k)*lds+p%k] * b[p*ldb+j]
			}
			v := bias[j] + s
			if relu && v < 0 {
				v = 0
			}
			c[i*ldc+j] = v
		}
	}
}
