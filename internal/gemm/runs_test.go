package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// runsA is an A for NNBiasRuns inside a buffer of NaN guard bands: every
// element no run of any row covers stays NaN, so a kernel that read past a
// run would show.
type runsA struct {
	buf, data            []float32
	m, runs, k, lda, lds int
	patch                []float32 // the same A as a plain m×(runs·k) matrix
}

func newRunsA(rng *rand.Rand, m, runs, k, lda, lds int) *runsA {
	n := (m-1)*lda + (runs-1)*lds + k
	ra := &runsA{buf: make([]float32, guard+n+guard), m: m, runs: runs, k: k, lda: lda, lds: lds}
	nan := float32(math.NaN())
	for i := range ra.buf {
		ra.buf[i] = nan
	}
	ra.data = ra.buf[guard : guard+n]
	for i := range m {
		for r := range runs {
			for q := range k {
				ra.data[i*lda+r*lds+q] = rng.Float32()*2 - 1
			}
		}
	}
	ra.patch = make([]float32, m*runs*k)
	for i := range m {
		for p := range runs * k {
			ra.patch[i*runs*k+p] = ra.data[i*lda+(p/k)*lds+p%k]
		}
	}
	return ra
}

// testRuns runs one NNBiasRuns product with one kernel and compares it
// with NNBiasRunsRef within the bound of a float32 dot product, and bit for
// bit with the same kernel's NNBias on the patch matrix.
func testRuns(t *testing.T, kern kernel, relu bool, m, n, runs, k, lda, lds, ldc int, rng *rand.Rand) {
	t.Helper()
	a := newRunsA(rng, m, runs, k, lda, lds)
	kk := runs * k
	b := newMatrix(rng, kk, n, n)
	bias := newMatrix(rng, 1, n, n)
	c := newMatrix(rng, m, n, ldc)
	for i := range c.data {
		c.data[i] = float32(math.NaN())
	}
	want := make([]float32, len(c.data))
	NNBiasRunsRef(m, n, runs, k, a.data, lda, lds, b.data, n, bias.data, want, ldc, relu)
	kern.nnBias(m, n, runs, k, a.data, lda, lds, b.data, n, bias.data, c.data, ldc, relu)
	same := make([]float32, len(c.data))
	kern.nnBias(m, n, 1, kk, a.patch, kk, kk, b.data, n, bias.data, same, ldc, relu)

	name := fmt.Sprintf("%s NNBiasRuns relu=%v m=%d n=%d runs=%d k=%d lda=%d lds=%d ldc=%d", kern.name, relu, m, n, runs, k, lda, lds, ldc)
	c.checkGuards(t, name+" C")
	for i := range a.buf[:guard] {
		if !math.IsNaN(float64(a.buf[i])) || !math.IsNaN(float64(a.buf[len(a.buf)-1-i])) {
			t.Fatalf("%s: A's guard band modified", name)
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			bound := math.Abs(float64(bias.at(0, j)))
			for p := 0; p < kk; p++ {
				bound += math.Abs(float64(a.patch[i*kk+p]) * float64(b.at(p, j)))
			}
			got, w := c.at(i, j), want[i*ldc+j]
			if math.IsNaN(float64(got)) || math.Abs(float64(got-w)) > 1e-5*(bound+1e-30) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (bound %v)", name, i, j, got, w, bound)
			}
			if s := same[i*ldc+j]; math.Float32bits(got) != math.Float32bits(s) {
				t.Fatalf("%s: C[%d,%d] = %v, NNBias on the patch matrix gives %v", name, i, j, got, s)
			}
		}
	}
}

func TestNNBiasRunsShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			for _, relu := range []bool{false, true} {
				for m := 1; m <= 14; m++ {
					for n := 1; n <= 20; n++ {
						for runs := 1; runs <= 3; runs++ {
							k := 1 + (m+n)%5
							// Overlapping rows and runs, as in a convolution.
							testRuns(t, kern, relu, m, n, runs, k, 1+n%3, k+m%4, n, rng)
							if (m+n+runs)%4 == 0 {
								// Gaps between runs and rows, and a wide C.
								testRuns(t, kern, relu, m, n, runs, k, runs*(k+3)+2, k+2, n+3, rng)
							}
						}
					}
				}
				// 3×3 convolutions of catnet64 and catsep64, one output row:
				// width m, stride s, channels ic, padded width pw.
				for _, s := range []struct{ m, oc, ic, stride, pw int }{
					{64, 24, 3, 1, 66}, {64, 8, 3, 1, 66}, {32, 16, 8, 1, 34},
					{16, 32, 16, 1, 18}, {8, 64, 32, 1, 10}, {31, 24, 3, 2, 64}, {7, 13, 5, 2, 17}, {13, 48, 4, 1, 15},
				} {
					testRuns(t, kern, relu, s.m, s.oc, 3, 3*s.ic, s.stride*s.ic, s.pw*s.ic, s.oc, rng)
				}
			}
		})
	}
}

func TestNNBiasRunsEmpty(t *testing.T) {
	bias := []float32{-1, 2, -3}
	for _, rk := range [][2]int{{0, 4}, {3, 0}} {
		c := make([]float32, 2*4)
		NNBiasRuns(2, 3, rk[0], rk[1], nil, 1, 1, nil, 3, bias, c, 4, true)
		want := []float32{0, 2, 0, 0, 0, 2, 0, 0}
		for i := range want {
			if c[i] != want[i] {
				t.Fatalf("runs=%d k=%d: c = %v, want %v", rk[0], rk[1], c, want)
			}
		}
	}
}

func TestNNBiasRunsPanics(t *testing.T) {
	a := make([]float32, 40)
	b := make([]float32, 6*4)
	bias := make([]float32, 4)
	c := make([]float32, 3*4)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative runs", func() { NNBiasRuns(3, 4, -1, 3, a, 3, 9, b, 4, bias, c, 4, false) }},
		{"negative stride", func() { NNBiasRuns(3, 4, 2, 3, a, -3, 9, b, 4, bias, c, 4, false) }},
		{"a too short", func() { NNBiasRuns(3, 4, 2, 3, a, 20, 9, b, 4, bias, c, 4, false) }},
		{"b too short", func() { NNBiasRuns(3, 4, 2, 3, a, 3, 9, b[:20], 4, bias, c, 4, false) }},
		{"bias too short", func() { NNBiasRuns(3, 4, 2, 3, a, 3, 9, b, 4, bias[:3], c, 4, false) }},
		{"c too short", func() { NNBiasRuns(3, 4, 2, 3, a, 3, 9, b, 4, bias, c[:11], 4, false) }},
		{"c overlaps a", func() { NNBiasRuns(3, 4, 2, 3, a, 3, 9, b, 4, bias, a[2:], 4, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("no panic")
				} else if s, ok := r.(string); !ok || len(s) < 6 || s[:6] != "gemm: " {
					t.Fatalf("panic %v, want a gemm: message", r)
				}
			}()
			tc.f()
		})
	}
}

func TestNNBiasRunsAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	a := newRunsA(rng, 64, 3, 9, 3, 66*3)
	b := newMatrix(rng, 27, 24, 24).data
	bias := newMatrix(rng, 1, 24, 24).data
	c := make([]float32, 64*24)
	if n := testing.AllocsPerRun(10, func() {
		NNBiasRuns(64, 24, 3, 9, a.data, 3, 66*3, b, 24, bias, c, 24, true)
	}); n != 0 {
		t.Fatalf("NNBiasRuns allocates %v times per call", n)
	}
}

// BenchmarkNNBiasRuns times one output row of the 3×3 stem convolutions
// (64 pixels, 3 input channels) read straight from the padded input, next
// to NNBias on its im2col rows.
func BenchmarkNNBiasRuns(b *testing.B) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, oc := range []int{8, 24} {
		a := newRunsA(rng, 64, 3, 9, 3, 66*3)
		w := newMatrix(rng, 27, oc, oc).data
		bias := newMatrix(rng, 1, oc, oc).data
		c := make([]float32, 64*oc)
		flops := 2 * 64 * 27 * float64(oc)
		b.Run(fmt.Sprintf("runs/W64xOC%dxK27", oc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NNBiasRuns(64, oc, 3, 9, a.data, 3, 66*3, w, oc, bias, c, oc, true)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("patches/W64xOC%dxK27", oc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NNBias(64, oc, 27, a.patch, 27, w, oc, bias, c, oc, true)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkEpilogueKernels times each epilogue kernel on the products of
// catsep64's inference: its pointwise convolutions (P pixels × OC × IC)
// and one output row of its stem (64 pixels, 24 channels, 3 runs of 9).
func BenchmarkEpilogueKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(37, 38))
	type shape struct{ m, n, runs, k, lda, lds int }
	shapes := []shape{{64, 24, 3, 9, 3, 198}, {64, 8, 3, 9, 3, 198}}
	for _, s := range [][3]int{{1024, 48, 24}, {1024, 48, 48}, {256, 96, 96}, {64, 192, 192}, {16, 384, 192}, {16, 384, 384}} {
		shapes = append(shapes, shape{s[0], s[1], 1, s[2], s[2], s[2]})
	}
	for _, kern := range kernels()[2:] {
		for _, s := range shapes {
			a := newRunsA(rng, s.m, s.runs, s.k, s.lda, s.lds).data
			w := newMatrix(rng, s.runs*s.k, s.n, s.n).data
			bias := newMatrix(rng, 1, s.n, s.n).data
			c := make([]float32, s.m*s.n)
			flops := 2 * float64(s.m*s.n*s.runs*s.k)
			b.Run(fmt.Sprintf("%s/P%dxOC%dxK%dx%d", kern.name, s.m, s.n, s.runs, s.k), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					kern.nnBias(s.m, s.n, s.runs, s.k, a, s.lda, s.lds, w, s.n, bias, c, s.n, true)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
