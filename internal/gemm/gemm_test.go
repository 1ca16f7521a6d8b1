package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// kernels lists every implementation this build can run: the exported
// dispatch, the portable Go kernel and the assembly kernels the CPU supports.
func kernels() []kernel {
	ks := []kernel{{"dispatch", NN, TN, nnBiasExported}, genericKernel}
	return append(ks, archKernels()...)
}

// nnBiasExported is the exported epilogue product: NNBias for a plain A,
// NNBiasRuns otherwise.
func nnBiasExported(m, n, runs, k int, a []float32, lda, lds int, b []float32, ldb int, bias []float32, c []float32, ldc int, relu bool) {
	if runs == 1 && lds == k && lda >= k {
		NNBias(m, n, k, a, lda, b, ldb, bias, c, ldc, relu)
		return
	}
	NNBiasRuns(m, n, runs, k, a, lda, lds, b, ldb, bias, c, ldc, relu)
}

const guard = 19 // NaN elements before and after every matrix

// matrix is a rows×cols matrix with row stride ld inside a buffer that has
// NaN guard bands before and after it and NaN in the gaps between rows.
type matrix struct {
	buf            []float32
	rows, cols, ld int
	data           []float32 // the slice handed to the kernels
	orig           []float32 // copy of data as filled
}

func newMatrix(rng *rand.Rand, rows, cols, ld int) *matrix {
	n := (rows-1)*ld + cols
	if rows == 0 || cols == 0 {
		n = 0
	}
	mt := &matrix{buf: make([]float32, guard+n+guard), rows: rows, cols: cols, ld: ld}
	nan := float32(math.NaN())
	for i := range mt.buf {
		mt.buf[i] = nan
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			mt.buf[guard+i*ld+j] = rng.Float32()*2 - 1
		}
	}
	mt.data = mt.buf[guard : guard+n]
	mt.orig = append([]float32(nil), mt.data...)
	return mt
}

func (mt *matrix) at(i, j int) float32 { return mt.data[i*mt.ld+j] }

// checkGuards reports NaN elements outside the matrix that were overwritten.
func (mt *matrix) checkGuards(t *testing.T, name string) {
	t.Helper()
	inside := func(x int) bool {
		x -= guard
		if x < 0 || x >= len(mt.data) {
			return false
		}
		return x%mt.ld < mt.cols
	}
	for x, v := range mt.buf {
		if !inside(x) && !math.IsNaN(float64(v)) {
			t.Fatalf("%s: guard element %d (offset %d from data) overwritten with %v", name, x, x-guard, v)
		}
	}
}

// testProduct runs one product with one kernel and compares it with the
// reference: C starts random (so the accumulation is checked), the strides
// are lda, ldb, ldc, and the guard bands of all three matrices are NaN.
func testProduct(t *testing.T, kern kernel, trans bool, m, n, k, lda, ldb, ldc int, rng *rand.Rand) {
	t.Helper()
	var a *matrix
	f, ref := kern.nn, NNRef
	if trans {
		a = newMatrix(rng, k, m, lda)
		f, ref = kern.tn, TNRef
	} else {
		a = newMatrix(rng, m, k, lda)
	}
	b := newMatrix(rng, k, n, ldb)
	c := newMatrix(rng, m, n, ldc)
	want := append([]float32(nil), c.data...)
	ref(m, n, k, a.data, lda, b.data, ldb, want, ldc)
	f(m, n, k, a.data, lda, b.data, ldb, c.data, ldc)

	op := "NN"
	if trans {
		op = "TN"
	}
	name := fmt.Sprintf("%s %s m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", kern.name, op, m, n, k, lda, ldb, ldc)
	c.checkGuards(t, name+" C")
	for i, v := range a.data {
		if v != a.orig[i] && !(math.IsNaN(float64(v)) && math.IsNaN(float64(a.orig[i]))) {
			t.Fatalf("%s: A modified at %d", name, i)
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			// The error bound of a float32 dot product grows with the sum
			// of the absolute terms.
			bound := math.Abs(float64(c.orig[i*ldc+j]))
			for p := 0; p < k; p++ {
				var av float32
				if trans {
					av = a.at(p, i)
				} else {
					av = a.at(i, p)
				}
				bound += math.Abs(float64(av) * float64(b.at(p, j)))
			}
			got, w := c.at(i, j), want[i*ldc+j]
			if math.IsNaN(float64(got)) || math.Abs(float64(got-w)) > 1e-5*(bound+1e-30) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (bound %v)", name, i, j, got, w, bound)
			}
		}
	}
}

// realShapes are the products catd's convolution layers run: forward and
// input gradient are NN, weight gradient TN. P is pixels, K = kh·kw·ic.
var realShapes = []struct {
	name    string
	trans   bool
	m, n, k int
}{
	{"fwd1 P4096 OC8 K27", false, 4096, 8, 27},
	{"fwd2 P1024 OC16 K72", false, 1024, 16, 72},
	{"fwd3 P256 OC32 K144", false, 256, 32, 144},
	{"fwd4 P64 OC64 K288", false, 64, 64, 288},
	{"fwd head P64 OC1 K9", false, 64, 1, 9},
	{"fwd odd P100 OC5 K13", false, 100, 5, 13},
	{"wgrad1 K27 OC8 P4096", true, 27, 8, 4096},
	{"wgrad2 K72 OC16 P1024", true, 72, 16, 1024},
	{"wgrad3 K144 OC32 P256", true, 144, 32, 256},
	{"wgrad4 K288 OC64 P64", true, 288, 64, 64},
	{"igrad2 P1024 K72 OC16", false, 1024, 72, 16},
	{"igrad3 P256 K144 OC32", false, 256, 144, 32},
	{"igrad4 P64 K288 OC64", false, 64, 288, 64},
	{"igrad odd P256 K27 OC8", false, 256, 27, 8},
}

func TestSmallShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			for _, trans := range []bool{false, true} {
				for m := 1; m <= 20; m++ {
					for n := 1; n <= 20; n++ {
						for k := 1; k <= 20; k++ {
							// Tight strides, then padded ones.
							lda := k
							if trans {
								lda = m
							}
							testProduct(t, kern, trans, m, n, k, lda, n, n, rng)
							if (m+n+k)%3 == 0 {
								testProduct(t, kern, trans, m, n, k, lda+1+m%3, n+2+k%5, n+3, rng)
							}
						}
					}
				}
			}
		})
	}
}

func TestRealShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernels() {
		for _, s := range realShapes {
			t.Run(kern.name+"/"+s.name, func(t *testing.T) {
				lda := s.k
				if s.trans {
					lda = s.m
				}
				testProduct(t, kern, s.trans, s.m, s.n, s.k, lda, s.n, s.n, rng)
				testProduct(t, kern, s.trans, s.m, s.n, s.k, lda+5, s.n+3, s.n+7, rng)
			})
		}
	}
}

func TestRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			for range 300 {
				m, n, k := 1+rng.IntN(100), 1+rng.IntN(100), 1+rng.IntN(100)
				trans := rng.IntN(2) == 1
				lda := k
				if trans {
					lda = m
				}
				lda += rng.IntN(3) * rng.IntN(20)
				ldb := n + rng.IntN(3)*rng.IntN(20)
				ldc := n + rng.IntN(3)*rng.IntN(20)
				testProduct(t, kern, trans, m, n, k, lda, ldb, ldc, rng)
			}
		})
	}
}

// TestOverlappingRows holds every kernel to the references on A matrices
// whose rows overlap (lda below k for NN, below m for TN, 0 included): the
// products of a convolution's kernel columns with strips, over real shapes
// of catnet64's strips and random ones. A sits between NaN guard bands,
// which a read past its last row would bring into C.
func TestOverlappingRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type shape struct {
		trans        bool
		m, n, k, lda int
	}
	shapes := []shape{{true, 27, 8, 120, 9}, {true, 72, 16, 120, 24}, {false, 120, 24, 48, 16}, {false, 66, 9, 24, 8}}
	for range 100 {
		m, n, k := 1+rng.IntN(40), 1+rng.IntN(40), 1+rng.IntN(40)
		trans := rng.IntN(2) == 1
		cols := k
		if trans {
			cols = m
		}
		shapes = append(shapes, shape{trans, m, n, k, rng.IntN(cols)})
	}
	for _, kern := range kernels() {
		for _, sh := range shapes {
			rows, cols := sh.m, sh.k
			if sh.trans {
				rows, cols = sh.k, sh.m
			}
			alen := (rows-1)*sh.lda + cols
			abuf := make([]float32, alen+2*guard)
			for i := range abuf {
				abuf[i] = float32(math.NaN())
			}
			a := abuf[guard : guard+alen]
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			b := newMatrix(rng, sh.k, sh.n, sh.n)
			c := newMatrix(rng, sh.m, sh.n, sh.n)
			want := append([]float32(nil), c.data...)
			f, ref, op := kern.nn, NNRef, "NN"
			if sh.trans {
				f, ref, op = kern.tn, TNRef, "TN"
			}
			ref(sh.m, sh.n, sh.k, a, sh.lda, b.data, sh.n, want, sh.n)
			f(sh.m, sh.n, sh.k, a, sh.lda, b.data, sh.n, c.data, sh.n)
			name := fmt.Sprintf("%s %s m=%d n=%d k=%d lda=%d", kern.name, op, sh.m, sh.n, sh.k, sh.lda)
			c.checkGuards(t, name+" C")
			for i, w := range want {
				// Sums of at most 120 products of values about 1 each.
				if g := c.data[i]; math.IsNaN(float64(g)) || math.Abs(float64(g-w)) > 1e-5*float64(sh.k+1) {
					t.Fatalf("%s: C[%d] = %v, want %v", name, i, g, w)
				}
			}
		}
	}
}

// TestZeroSizes checks that an empty product leaves C alone, even with
// empty slices. (The internal kernels are only ever called with work to do.)
func TestZeroSizes(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	for _, f := range []func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int){NN, TN, NNRef, TNRef} {
		f(0, 2, 2, nil, 2, []float32{1, 1, 1, 1}, 2, nil, 2)
		f(2, 2, 0, nil, 2, nil, 2, c, 2)
		f(2, 0, 2, []float32{1, 1, 1, 1}, 2, nil, 1, nil, 1)
	}
	if c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4 {
		t.Fatalf("c = %v after empty products", c)
	}
}

func TestPanics(t *testing.T) {
	a := make([]float32, 128)
	b := make([]float32, 128)
	c := make([]float32, 128)
	tests := []struct {
		name string
		f    func()
		msg  string
	}{
		{"NN negative m", func() { NN(-1, 2, 2, a, 2, b, 2, c, 2) }, "gemm: negative dimension"},
		{"NN negative n", func() { NN(2, -1, 2, a, 2, b, 2, c, 2) }, "gemm: negative dimension"},
		{"TN negative k", func() { TN(2, 2, -1, a, 2, b, 2, c, 2) }, "gemm: negative dimension"},
		{"NN negative lda", func() { NN(2, 2, 3, a, -1, b, 2, c, 2) }, "gemm: negative lda"},
		{"TN negative lda", func() { TN(3, 2, 2, a, -2, b, 2, c, 2) }, "gemm: negative lda"},
		{"NN ldb < n", func() { NN(2, 3, 2, a, 2, b, 2, c, 3) }, "gemm: bad ldb"},
		{"NN ldc < n", func() { NN(2, 3, 2, a, 2, b, 3, c, 2) }, "gemm: bad ldc"},
		{"NN zero ldb", func() { NN(0, 0, 0, a, 0, b, 0, c, 1) }, "gemm: bad ldb"},
		{"NN short a", func() { NN(8, 8, 8, a[:8*8-1], 8, b, 8, c, 8) }, "gemm: a too short"},
		{"TN short a", func() { TN(8, 8, 8, a[:7*9+7], 9, b, 8, c, 8) }, "gemm: a too short"},
		{"NN short b", func() { NN(8, 8, 8, a, 8, b[:63], 8, c, 8) }, "gemm: b too short"},
		{"TN short c", func() { TN(8, 8, 8, a, 8, b, 8, c[:63], 8) }, "gemm: c too short"},
		{"NNRef short c", func() { NNRef(8, 8, 8, a, 8, b, 8, c[:63], 8) }, "gemm: c too short"},
		{"TNRef bad ldb", func() { TNRef(2, 3, 2, a, 2, b, 2, c, 3) }, "gemm: bad ldb"},
		{"NN c aliases a", func() { NN(4, 4, 4, a, 4, b, 4, a[8:], 4) }, "gemm: c overlaps a"},
		{"TN c aliases b", func() { TN(4, 4, 4, a, 4, b[8:], 4, b, 4) }, "gemm: c overlaps b"},
		{"NNBias negative", func() { NNBias(2, -1, 2, a, 2, b, 2, c, c, 2, true) }, "gemm: negative dimension"},
		{"NNBias short bias", func() { NNBias(2, 3, 2, a, 2, b, 3, c[:2], c[8:], 3, true) }, "gemm: bias too short"},
		{"NNBias k=0 short c", func() { NNBias(2, 3, 0, nil, 1, nil, 3, b, c[:5], 3, true) }, "gemm: c too short"},
		{"NNBias c aliases bias", func() { NNBias(2, 3, 2, a, 2, b, 3, c, c[2:], 3, true) }, "gemm: c overlaps bias"},
		{"NNBias k=0 c aliases bias", func() { NNBias(2, 3, 0, nil, 1, nil, 3, c, c[2:], 3, false) }, "gemm: c overlaps bias"},
		{"NNBias c aliases a", func() { NNBias(4, 4, 4, a, 4, b, 4, c, a[8:], 4, true) }, "gemm: c overlaps a"},
		{"Transpose negative", func() { Transpose(c, 2, a, 2, -1, 2) }, "gemm: negative dimension"},
		{"Transpose bad lds", func() { Transpose(c, 4, a, 2, 4, 3) }, "gemm: bad src stride"},
		{"Transpose bad ldd", func() { Transpose(c, 3, a, 3, 4, 3) }, "gemm: bad dst stride"},
		{"Transpose short src", func() { Transpose(c, 8, a[:63], 8, 8, 8) }, "gemm: src too short"},
		{"Transpose short dst", func() { Transpose(c[:63], 8, a, 8, 8, 8) }, "gemm: dst too short"},
		{"Transpose in place", func() { Transpose(a, 8, a, 8, 8, 8) }, "gemm: dst overlaps src"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				s, ok := r.(string)
				if !ok || s != tt.msg {
					t.Fatalf("panic %v, want %q", r, tt.msg)
				}
				if !strings.HasPrefix(s, "gemm: ") {
					t.Fatalf("panic %q lacks the package prefix", s)
				}
			}()
			tt.f()
		})
	}
}

func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ rows, cols, lds, ldd int }{
		{1, 1, 1, 1}, {1, 7, 7, 1}, {7, 1, 1, 7}, {3, 5, 5, 3}, {8, 8, 8, 8},
		{9, 17, 20, 11}, {27, 64, 64, 27}, {100, 3, 5, 101}, {16, 16, 33, 40},
	} {
		t.Run(fmt.Sprintf("%dx%d", s.rows, s.cols), func(t *testing.T) {
			src := newMatrix(rng, s.rows, s.cols, s.lds)
			dst := newMatrix(rng, s.cols, s.rows, s.ldd)
			Transpose(dst.data, s.ldd, src.data, s.lds, s.rows, s.cols)
			dst.checkGuards(t, "dst")
			for i := 0; i < s.rows; i++ {
				for j := 0; j < s.cols; j++ {
					if dst.at(j, i) != src.at(i, j) {
						t.Fatalf("dst[%d,%d] = %v, want %v", j, i, dst.at(j, i), src.at(i, j))
					}
				}
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	a := make([]float32, 256*144)
	b := make([]float32, 144*32)
	c := make([]float32, 256*32)
	d := make([]float32, 256*144)
	for _, kern := range kernels() {
		tests := []struct {
			name string
			f    func()
		}{
			{"NN", func() { kern.nn(256, 32, 144, a, 144, b, 32, c, 32) }},
			{"NN odd", func() { kern.nn(61, 27, 13, a, 13, b, 27, c, 27) }},
			{"TN", func() { kern.tn(144, 32, 256, a, 144, c, 32, b, 32) }},
			{"NNBias", func() { kern.nnBias(256, 32, 1, 144, a, 144, 144, b, 32, d, c, 32, true) }},
			{"NNBias odd", func() { kern.nnBias(61, 27, 1, 13, a, 13, 13, b, 27, d, c, 27, false) }},
			{"NNBiasRuns", func() { kern.nnBias(64, 24, 3, 9, a, 3, 198, b, 24, d, c, 24, true) }},
		}
		for _, tt := range tests {
			t.Run(kern.name+"/"+tt.name, func(t *testing.T) {
				if n := testing.AllocsPerRun(20, tt.f); n != 0 {
					t.Fatalf("%v allocations per run, want 0", n)
				}
			})
		}
	}
	t.Run("Transpose", func(t *testing.T) {
		if n := testing.AllocsPerRun(20, func() { Transpose(d, 256, a, 144, 256, 144) }); n != 0 {
			t.Fatalf("%v allocations per run, want 0", n)
		}
	})
}

func ExampleNN() {
	// A is 2×3, B is 3×2; C starts at zero.
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		1, 0,
		0, 1,
		1, 1,
	}
	c := make([]float32, 2*2)
	NN(2, 2, 3, a, 3, b, 2, c, 2)
	fmt.Println(c)
	// Aᵀ·A with A (2×3) as the stored matrix gives a 3×3 result; a second
	// call accumulates into it.
	g := make([]float32, 3*3)
	TN(3, 3, 2, a, 3, a, 3, g, 3)
	TN(3, 3, 2, a, 3, a, 3, g, 3)
	fmt.Println(g)
	// Output:
	// [4 5 10 11]
	// [34 44 54 44 58 72 54 72 90]
}

func ExampleTranspose() {
	src := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	dst := make([]float32, 3*2)
	Transpose(dst, 2, src, 3, 2, 3)
	fmt.Println(dst)
	// Output:
	// [1 4 2 5 3 6]
}

// benchShapes steps through the shapes of catnet64: the four convolution
// layers' forward (NN), weight gradient (TN) and input gradient (NN)
// products.
var benchShapes = []struct {
	name    string
	trans   bool
	m, n, k int
}{
	{"fwd/P4096xOC8xK27", false, 4096, 8, 27},
	{"fwd/P1024xOC16xK72", false, 1024, 16, 72},
	{"fwd/P256xOC32xK144", false, 256, 32, 144},
	{"fwd/P64xOC64xK288", false, 64, 64, 288},
	{"wgrad/K27xOC8xP4096", true, 27, 8, 4096},
	{"wgrad/K72xOC16xP1024", true, 72, 16, 1024},
	{"wgrad/K144xOC32xP256", true, 144, 32, 256},
	{"wgrad/K288xOC64xP64", true, 288, 64, 64},
	{"igrad/P1024xK72xOC16", false, 1024, 72, 16},
	{"igrad/P256xK144xOC32", false, 256, 144, 32},
	{"igrad/P64xK288xOC64", false, 64, 288, 64},
}

// benchKernels are the exported dispatch (the assembly where the CPU has
// it) and the portable Go kernel.
func benchKernels() []kernel {
	return []kernel{{"dispatch", NN, TN, nnBiasExported}, genericKernel}
}

func BenchmarkGEMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, kern := range benchKernels() {
		for _, s := range benchShapes {
			b.Run(kern.name+"/"+s.name, func(b *testing.B) {
				a := newMatrix(rng, s.m, s.k, s.k).data
				bm := newMatrix(rng, s.k, s.n, s.n).data
				c := make([]float32, s.m*s.n)
				f, lda := kern.nn, s.k
				if s.trans {
					f, lda = kern.tn, s.m
				}
				b.ReportAllocs()
				for b.Loop() {
					f(s.m, s.n, s.k, a, lda, bm, s.n, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkCatnet64 runs the products of one catnet64 inference (forward
// only) and of one training step (forward, weight and input gradients).
func BenchmarkCatnet64(b *testing.B) {
	for _, kern := range benchKernels() {
		for _, step := range []struct {
			name  string
			parts []int // indexes into benchShapes
		}{
			{"infer", []int{0, 1, 2, 3}},
			{"train", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		} {
			b.Run(kern.name+"/"+step.name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(11, 12))
				type prod struct {
					s        int
					a, bm, c []float32
				}
				var prods []prod
				var flops float64
				for _, i := range step.parts {
					s := benchShapes[i]
					prods = append(prods, prod{i,
						newMatrix(rng, s.m, s.k, s.k).data,
						newMatrix(rng, s.k, s.n, s.n).data,
						make([]float32, s.m*s.n)})
					flops += 2 * float64(s.m) * float64(s.n) * float64(s.k)
				}
				b.ReportAllocs()
				for b.Loop() {
					for _, p := range prods {
						s := benchShapes[p.s]
						if s.trans {
							kern.tn(s.m, s.n, s.k, p.a, s.m, p.bm, s.n, p.c, s.n)
						} else {
							kern.nn(s.m, s.n, s.k, p.a, s.k, p.bm, s.n, p.c, s.n)
						}
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
