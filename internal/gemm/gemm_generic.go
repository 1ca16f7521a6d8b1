package gemm

// The portable kernels. They run under the purego tag, on 32-bit arm and on
// CPUs without the vector features the assembly needs, and they finish the
// edges the assembly leaves over. Arguments are already checked.
//
// The main loop keeps a 2×4 block of C in local variables, so each step over
// p loads two elements of A and four of B for eight multiply-adds; with the
// twelve values live at once the block fits the sixteen floating-point
// registers of amd64 and 32-bit arm without spilling (a 4×4 block spills and
// runs at half the speed). Every row of A and B is resliced to its exact
// length before or inside the p loop so the compiler drops the bounds checks
// on the element loads.

// nnGeneric computes C += A·B (A is m×k, row stride lda).
func nnGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	i := 0
	for ; i+2 <= m; i += 2 {
		a0 := a[i*lda:][:k]
		a1 := a[(i+1)*lda:][:len(a0)]
		c0 := c[i*ldc:][:n]
		c1 := c[(i+1)*ldc:][:n]
		j := 0
		for ; j+4 <= n; j += 4 {
			var s00, s01, s02, s03 float32
			var s10, s11, s12, s13 float32
			o := j
			for p, x0 := range a0 {
				bp := b[o : o+4 : o+4]
				o += ldb
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				s00 += x0 * b0
				s01 += x0 * b1
				s02 += x0 * b2
				s03 += x0 * b3
				x1 := a1[p]
				s10 += x1 * b0
				s11 += x1 * b1
				s12 += x1 * b2
				s13 += x1 * b3
			}
			add4(c0[j:j+4:j+4], s00, s01, s02, s03)
			add4(c1[j:j+4:j+4], s10, s11, s12, s13)
		}
		if j < n {
			strided(2, n-j, k, a[i*lda:], lda, 1, b[j:], ldb, c[i*ldc+j:], ldc)
		}
	}
	if i < m {
		strided(m-i, n, k, a[i*lda:], lda, 1, b, ldb, c[i*ldc:], ldc)
	}
}

// tnGeneric computes C += Aᵀ·B (A is stored k×m, row stride lda).
func tnGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	i := 0
	for ; i+2 <= m; i += 2 {
		c0 := c[i*ldc:][:n]
		c1 := c[(i+1)*ldc:][:n]
		j := 0
		for ; j+4 <= n; j += 4 {
			var s00, s01, s02, s03 float32
			var s10, s11, s12, s13 float32
			oa, ob := i, j
			for p := 0; p < k; p++ {
				ap := a[oa : oa+2 : oa+2]
				bp := b[ob : ob+4 : ob+4]
				oa += lda
				ob += ldb
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				x0 := ap[0]
				s00 += x0 * b0
				s01 += x0 * b1
				s02 += x0 * b2
				s03 += x0 * b3
				x1 := ap[1]
				s10 += x1 * b0
				s11 += x1 * b1
				s12 += x1 * b2
				s13 += x1 * b3
			}
			add4(c0[j:j+4:j+4], s00, s01, s02, s03)
			add4(c1[j:j+4:j+4], s10, s11, s12, s13)
		}
		if j < n {
			strided(2, n-j, k, a[i:], 1, lda, b[j:], ldb, c[i*ldc+j:], ldc)
		}
	}
	if i < m {
		strided(m-i, n, k, a[i:], 1, lda, b, ldb, c[i*ldc:], ldc)
	}
}

// nnBiasGeneric computes C = act(bias + A·B) (row i of A is runs runs of
// k > 0 floats, run r at a[i*lda+r*lds]): nnGeneric's loop, run by run,
// with the bias added and the activation applied as each 2×4 block is
// stored.
func nnBiasGeneric(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	i := 0
	for ; i+2 <= m; i += 2 {
		c0 := c[i*ldc:][:n]
		c1 := c[(i+1)*ldc:][:n]
		j := 0
		for ; j+4 <= n; j += 4 {
			var s00, s01, s02, s03 float32
			var s10, s11, s12, s13 float32
			o := j
			for r := range runs {
				a0 := a[i*lda+r*lds:][:k]
				a1 := a[(i+1)*lda+r*lds:][:len(a0)]
				for p, x0 := range a0 {
					bp := b[o : o+4 : o+4]
					o += ldb
					b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
					s00 += x0 * b0
					s01 += x0 * b1
					s02 += x0 * b2
					s03 += x0 * b3
					x1 := a1[p]
					s10 += x1 * b0
					s11 += x1 * b1
					s12 += x1 * b2
					s13 += x1 * b3
				}
			}
			bj := bias[j : j+4 : j+4]
			set4(c0[j:j+4:j+4], bj, relu, s00, s01, s02, s03)
			set4(c1[j:j+4:j+4], bj, relu, s10, s11, s12, s13)
		}
		if j < n {
			stridedBias(2, n-j, runs, k, a[i*lda:], lda, lds, b[j:], ldb, bias[j:], c[i*ldc+j:], ldc, relu)
		}
	}
	if i < m {
		stridedBias(m-i, n, runs, k, a[i*lda:], lda, lds, b, ldb, bias, c[i*ldc:], ldc, relu)
	}
}

// set4 stores act(bias + s) into the four elements of c.
func set4(c, bias []float32, relu bool, s0, s1, s2, s3 float32) {
	c, bias = c[:4], bias[:4]
	c[0] = act(bias[0]+s0, relu)
	c[1] = act(bias[1]+s1, relu)
	c[2] = act(bias[2]+s2, relu)
	c[3] = act(bias[3]+s3, relu)
}

// stridedBias computes C = act(bias + A·B) for small edge blocks of NN
// products (row i of A is runs runs of k floats, run r at a[i*lda+r*lds]).
func stridedBias(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias, c []float32, ldc int, relu bool) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc:][:n]
		for j := range cr {
			var s float32
			ob := j
			for r := range runs {
				ar := a[i*lda+r*lds:][:k]
				for _, x := range ar {
					s += x * b[ob]
					ob += ldb
				}
			}
			cr[j] = act(bias[j]+s, relu)
		}
	}
}

func add4(c []float32, s0, s1, s2, s3 float32) {
	c = c[:4]
	c[0] += s0
	c[1] += s1
	c[2] += s2
	c[3] += s3
}

// strided computes C += A·B for small edge blocks, with element (i, p) of A
// at a[i*rsa+p*csa]. It serves both NN (rsa = lda, csa = 1) and TN (rsa = 1,
// csa = lda).
func strided(m, n, k int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc:][:n]
		for j := range cr {
			var s float32
			oa, ob := i*rsa, j
			for p := 0; p < k; p++ {
				s += a[oa] * b[ob]
				oa += csa
				ob += ldb
			}
			cr[j] += s
		}
	}
}

// kernel names one implementation of nn, tn and nnBias, for tests and
// benchmarks.
type kernel struct {
	name   string
	nn, tn func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)
	nnBias func(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool)
}

var genericKernel = kernel{"generic", nnGeneric, tnGeneric, nnBiasGeneric}
