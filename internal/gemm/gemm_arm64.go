//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// useASIMD selects the NEON kernels of kernels_arm64.s. ASIMD is part of
// every arm64 core catd runs on; the check keeps the fallback honest.
var useASIMD = cpu.ARM64.HasASIMD

func nn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if useASIMD {
		neon(m, n, k, a, lda, 1, b, ldb, c, ldc)
		return
	}
	nnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func tn(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if useASIMD {
		neon(m, n, k, a, 1, lda, b, ldb, c, ldc)
		return
	}
	tnGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func nnBias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	if useASIMD {
		neonBias(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
		return
	}
	nnBiasGeneric(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
}

func nnNEON(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	neon(m, n, k, a, lda, 1, b, ldb, c, ldc)
}

func tnNEON(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	neon(m, n, k, a, 1, lda, b, ldb, c, ldc)
}

// archKernels lists the assembly kernels usable on this CPU.
func archKernels() []kernel {
	if !useASIMD {
		return nil
	}
	return []kernel{{"neon", nnNEON, tnNEON, neonBias}}
}

// neon computes C += A·B with element (i, p) of A at a[i*rsa+p*csa]. It
// walks C in column panels of 8, then 4 columns; each kernel call covers a
// panel's rows in blocks of 8 and a second call, if needed, the rows left
// over. The last 1 to 3 columns go to the Go kernel.
func neon(m, n, k int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	const mr = len(neon8) - 1
	rs, cs, lb, lc := 4*rsa, 4*csa, 4*ldb, 4*ldc
	full := m - m%mr
	r := m - full
	j := 0
	for ; j+8 <= n; j += 8 {
		if full > 0 {
			neon8[mr](full, k, &a[0], rs, cs, &b[j], lb, &c[j], lc)
		}
		if r > 0 {
			neon8[r](r, k, &a[full*rsa], rs, cs, &b[j], lb, &c[full*ldc+j], lc)
		}
	}
	if j+4 <= n {
		if full > 0 {
			neon4[mr](full, k, &a[0], rs, cs, &b[j], lb, &c[j], lc)
		}
		if r > 0 {
			neon4[r](r, k, &a[full*rsa], rs, cs, &b[j], lb, &c[full*ldc+j], lc)
		}
		j += 4
	}
	if j < n {
		strided(m, n-j, k, a, rsa, csa, b[j:], ldb, c[j:], ldc)
	}
}

// neonBias computes C = act(bias + A·B) for NN (row i of A is runs
// runs of k floats, run r at a[i*lda+r*lds]) with the epilogue kernels,
// walking C like neon.
func neonBias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	const mr = len(neonBias8) - 1
	rs, cs, lb, lc := 4*lda, 4, 4*ldb, 4*ldc
	r := 0
	if relu {
		r = 1
	}
	jump := 4 * (lds - k) // bytes from the end of one run to the next
	full := m - m%mr
	rest := m - full
	j := 0
	for ; j+8 <= n; j += 8 {
		if full > 0 {
			neonBias8[mr](full, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump)
		}
		if rest > 0 {
			neonBias8[rest](rest, k, &a[full*lda], rs, cs, &b[j], lb, &c[full*ldc+j], lc, &bias[j], r, runs, jump)
		}
	}
	if j+4 <= n {
		if full > 0 {
			neonBias4[mr](full, k, &a[0], rs, cs, &b[j], lb, &c[j], lc, &bias[j], r, runs, jump)
		}
		if rest > 0 {
			neonBias4[rest](rest, k, &a[full*lda], rs, cs, &b[j], lb, &c[full*ldc+j], lc, &bias[j], r, runs, jump)
		}
		j += 4
	}
	if j < n {
		stridedBias(m, n-j, runs, k, a, lda, lds, b[j:], ldb, bias[j:], c[j:], ldc, relu)
	}
}
