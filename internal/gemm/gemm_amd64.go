//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2+FMA kernels of kernels_amd64.s; useAVX512 its
// AVX-512 epilogue kernels for NNBias and NNBiasRuns.
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
)

func nn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if useAVX2 {
		avx2(m, n, k, a, lda, 1, b, ldb, c, ldc)
		return
	}
	nnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func tn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if useAVX2 {
		avx2(m, n, k, a, 1, lda, b, ldb, c, ldc)
		return
	}
	tnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func nnBias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	if useAVX512 {
		avx512Bias(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
		return
	}
	if useAVX2 {
		avx2Bias(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
		return
	}
	nnBiasGeneric(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
}

func nnAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	avx2(m, n, k, a, lda, 1, b, ldb, c, ldc)
}

func tnAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	avx2(m, n, k, a, 1, lda, b, ldb, c, ldc)
}

// archKernels lists the assembly kernels usable on this CPU.
func archKernels() []kernel {
	if !useAVX2 {
		return nil
	}
	ks := []kernel{{"avx2", nnAVX2, tnAVX2, avx2Bias}}
	if useAVX512 {
		ks = append(ks, kernel{"avx512", nnAVX2, tnAVX2, avx512Bias})
	}
	return ks
}

// maskTable holds eight set lanes and then eight clear ones: the eight
// int32s from &maskTable[8-r] set the first r lanes of a YMM mask.
var maskTable = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

// avx2 computes C += A·B with element (i, p) of A at a[i*rsa+p*csa]. It
// walks C in column panels of 16, then 8, then 1 to 7 (masked) columns;
// each kernel call covers a panel's rows in blocks and a second call, if
// needed, the rows left over.
func avx2(m, n, k int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	const mr16 = len(avx16) - 1
	const mr8 = len(avx8) - 1
	rs, cs, lb, lc := 4*rsa, 4*csa, 4*ldb, 4*ldc
	full16 := m - m%mr16
	full8 := m - m%mr8
	j := 0
	for ; j+16 <= n; j += 16 {
		if full16 > 0 {
			avx16[mr16](full16, k, &a[0], rs, cs, &b[j], lb, &c[j], lc)
		}
		if r := m - full16; r > 0 {
			avx16[r](r, k, &a[full16*rsa], rs, cs, &b[j], lb, &c[full16*ldc+j], lc)
		}
	}
	if j+8 <= n {
		if full8 > 0 {
			avx8[mr8](full8, k, &a[0], rs, cs, &b[j], lb, &c[j], lc)
		}
		if r := m - full8; r > 0 {
			avx8[r](r, k, &a[full8*rsa], rs, cs, &b[j], lb, &c[full8*ldc+j], lc)
		}
		j += 8
	}
	if j < n {
		mask := &maskTable[8-(n-j)]
		if full8 > 0 {
			avxMask8[mr8](full8, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, mask)
		}
		if r := m - full8; r > 0 {
			avxMask8[r](r, k, &a[full8*rsa], rs, cs, &b[j], lb, &c[full8*ldc+j], lc, mask)
		}
	}
}

// avx2Bias computes C = act(bias + A·B) for NN (row i of A is runs
// runs of k floats, run r at a[i*lda+r*lds]) with the epilogue kernels,
// walking C like avx2.
func avx2Bias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	const mr16 = len(avxBias16) - 1
	const mr8 = len(avxBias8) - 1
	rs, cs, lb, lc := 4*lda, 4, 4*ldb, 4*ldc
	r := 0
	if relu {
		r = 1
	}
	jump := 4 * (lds - k) // bytes from the end of one run to the next
	full16 := m - m%mr16
	full8 := m - m%mr8
	j := 0
	for ; j+16 <= n; j += 16 {
		if full16 > 0 {
			avxBias16[mr16](full16, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump)
		}
		if rest := m - full16; rest > 0 {
			avxBias16[rest](rest, k, &a[full16*lda], rs, cs, &b[j], lb, &c[full16*ldc+j], lc, &bias[j], r, runs, jump)
		}
	}
	if j+8 <= n {
		if full8 > 0 {
			avxBias8[mr8](full8, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump)
		}
		if rest := m - full8; rest > 0 {
			avxBias8[rest](rest, k, &a[full8*lda], rs, cs, &b[j], lb, &c[full8*ldc+j], lc, &bias[j], r, runs, jump)
		}
		j += 8
	}
	if j < n {
		mask := &maskTable[8-(n-j)]
		if full8 > 0 {
			avxBiasMask8[mr8](full8, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump, mask)
		}
		if rest := m - full8; rest > 0 {
			avxBiasMask8[rest](rest, k, &a[full8*lda], rs, cs, &b[j], lb, &c[full8*ldc+j], lc, &bias[j], r, runs, jump, mask)
		}
	}
}

// avx512Bias computes C = act(bias + A·B) like avx2Bias with the AVX-512
// epilogue kernels: column panels of 48 when n is a multiple of 48, else
// of 32, then one panel of the 1 to 31 columns left in the narrowest
// kernel that holds them, its last vector masked.
func avx512Bias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	const mr = len(avx512Bias32) - 1
	rs, cs, lb, lc := 4*lda, 4, 4*ldb, 4*ldc
	r := 0
	if relu {
		r = 1
	}
	jump := 4 * (lds - k) // bytes from the end of one run to the next
	full := m - m%mr
	rest := m - full
	panel := func(kern *[mr + 1]func(m, k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int, runs, jump int, mask int), j, mask int) {
		if full > 0 {
			kern[mr](full, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump, mask)
		}
		if rest > 0 {
			kern[rest](rest, k, &a[full*lda], rs, cs, &b[j], lb, &c[full*ldc+j], lc, &bias[j], r, runs, jump, mask)
		}
	}
	j := 0
	if n%48 == 0 {
		// 8 rows × 48 columns, one pass over A for every 48 columns
		// instead of two (32, then 16): a little faster on catsep64's
		// pointwise products.
		const mr48 = len(avx512Bias48) - 1
		full48 := m - m%mr48
		for ; j < n; j += 48 {
			if full48 > 0 {
				avx512Bias48[mr48](full48, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump, 0xffff)
			}
			if rest := m - full48; rest > 0 {
				avx512Bias48[rest](rest, k, &a[full48*lda], rs, cs, &b[j], lb, &c[full48*ldc+j], lc, &bias[j], r, runs, jump, 0xffff)
			}
		}
	}
	for ; j+32 <= n; j += 32 {
		panel(&avx512Bias32, j, 0xffff)
	}
	switch left := n - j; {
	case left == 0:
	case left <= 8:
		panel(&avx512Bias8, j, 1<<left-1)
	case left <= 16:
		panel(&avx512Bias16, j, 1<<left-1)
	case left <= 24:
		panel(&avx512Bias24, j, 1<<(left-16)-1)
	default:
		panel(&avx512Bias32, j, 1<<(left-16)-1)
	}
}
