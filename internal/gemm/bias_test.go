package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testBias runs one NNBias product with one kernel and compares it with
// NNBiasRef. C starts as NaN inside as well as in its guard bands, so a
// kernel that read C instead of overwriting it would show; the bias has
// guard bands of its own.
func testBias(t *testing.T, kern kernel, relu bool, m, n, k, lda, ldb, ldc int, rng *rand.Rand) {
	t.Helper()
	a := newMatrix(rng, m, k, lda)
	b := newMatrix(rng, k, n, ldb)
	bias := newMatrix(rng, 1, n, n)
	c := newMatrix(rng, m, n, ldc)
	for i := range c.data {
		c.data[i] = float32(math.NaN())
	}
	want := make([]float32, len(c.data))
	NNBiasRef(m, n, k, a.data, lda, b.data, ldb, bias.data, want, ldc, relu)
	kern.nnBias(m, n, 1, k, a.data, lda, k, b.data, ldb, bias.data, c.data, ldc, relu)

	name := fmt.Sprintf("%s NNBias relu=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", kern.name, relu, m, n, k, lda, ldb, ldc)
	c.checkGuards(t, name+" C")
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			bound := math.Abs(float64(bias.at(0, j)))
			for p := 0; p < k; p++ {
				bound += math.Abs(float64(a.at(i, p)) * float64(b.at(p, j)))
			}
			got, w := c.at(i, j), want[i*ldc+j]
			if math.IsNaN(float64(got)) || math.Abs(float64(got-w)) > 1e-5*(bound+1e-30) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (bound %v)", name, i, j, got, w, bound)
			}
			if relu && got < 0 {
				t.Fatalf("%s: C[%d,%d] = %v after ReLU", name, i, j, got)
			}
		}
	}
}

func TestNNBiasShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			for _, relu := range []bool{false, true} {
				// Up to 36 columns: every mask of the 8- to 32-column kernels.
				for m := 1; m <= 14; m++ {
					for n := 1; n <= 36; n++ {
						for k := 1; k <= 9; k++ {
							testBias(t, kern, relu, m, n, k, k, n, n, rng)
							if (m+n+k)%3 == 0 {
								testBias(t, kern, relu, m, n, k, k+1+m%3, n+2+k%5, n+3, rng)
							}
						}
					}
				}
				// The pointwise convolutions of catsep64: P pixels × OC × IC.
				for _, s := range [][3]int{{1024, 48, 24}, {1024, 48, 48}, {256, 96, 48}, {64, 192, 96}, {16, 384, 192}, {16, 384, 384}, {100, 37, 29}, {13, 48, 7}, {23, 96, 5}, {7, 144, 3}} {
					testBias(t, kern, relu, s[0], s[1], s[2], s[2], s[1], s[1], rng)
				}
			}
		})
	}
}

// TestNNBiasSpecials checks what the ReLU epilogue does with the values
// where implementations of max differ: NaN stays NaN, a zero stays zero
// (its sign depends on the order of the sum: -0 for the assembly, which
// starts from the bias, +0 for the Go kernel, which adds the bias last),
// and a negative sum becomes +0, in every kernel.
func TestNNBiasSpecials(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	// One row of A (1×1, the value 1) times B (1×n): C = bias + B.
	const n = 21 // 16 + 5 columns: full and masked panels
	b := make([]float32, n)
	bias := make([]float32, n)
	for j := range bias {
		bias[j] = float32(j%3) - 1 // -1, 0, 1, ...
	}
	b[0], bias[0] = nan, 0
	b[1], bias[1] = negZero, negZero
	b[17], bias[17] = negZero, negZero
	b[20], bias[20] = nan, 1
	for _, kern := range kernels() {
		for _, m := range []int{1, 5, 13} {
			a := make([]float32, m)
			for i := range a {
				a[i] = 1
			}
			c := make([]float32, m*n)
			kern.nnBias(m, n, 1, 1, a, 1, 1, b, n, bias, c, n, true)
			for i := range m {
				for j := range n {
					got := c[i*n+j]
					sum := bias[j] + b[j]
					want := max(sum, 0)
					var same bool
					switch {
					case math.IsNaN(float64(sum)):
						same = math.IsNaN(float64(got))
					case sum < 0:
						same = math.Float32bits(got) == 0
					default:
						same = got == sum
					}
					if !same {
						t.Fatalf("%s m=%d: C[%d,%d] = %v (bits %#x), want %v (bits %#x)", kern.name, m, i, j, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

func TestNNBiasZeroK(t *testing.T) {
	bias := []float32{-1, 2, -3}
	c := make([]float32, 2*4)
	NNBias(2, 3, 0, nil, 1, nil, 3, bias, c, 4, true)
	want := []float32{0, 2, 0, 0, 0, 2, 0, 0}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("c = %v, want %v", c, want)
		}
	}
}

func ExampleNNBias() {
	// One 1×1 convolution over two pixels of three channels into two
	// output channels, with a bias and a ReLU.
	x := []float32{
		1, 2, 3,
		-1, -2, -3,
	}
	w := []float32{
		1, 0,
		0, 1,
		1, -1,
	}
	bias := []float32{0.5, -0.5}
	y := make([]float32, 2*2)
	NNBias(2, 2, 3, x, 3, w, 2, bias, y, 2, true)
	fmt.Println(y)
	// Output:
	// [4.5 0 0 0.5]
}

// BenchmarkNNBias times the pointwise convolutions of catsep64 with their
// bias and ReLU fused, next to the product and a separate bias and ReLU
// pass (what the convolution did before).
func BenchmarkNNBias(b *testing.B) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, s := range [][3]int{{1024, 48, 24}, {256, 96, 48}, {16, 384, 384}} {
		m, n, k := s[0], s[1], s[2]
		a := newMatrix(rng, m, k, k).data
		bm := newMatrix(rng, k, n, n).data
		bias := newMatrix(rng, 1, n, n).data
		c := make([]float32, m*n)
		flops := 2 * float64(m) * float64(n) * float64(k)
		b.Run(fmt.Sprintf("fused/P%dxOC%dxK%d", m, n, k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NNBias(m, n, k, a, k, bm, n, bias, c, n, true)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("separate/P%dxOC%dxK%d", m, n, k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := 0; i < len(c); i += n {
					copy(c[i:i+n], bias)
				}
				NN(m, n, k, a, k, bm, n, c, n)
				for i, v := range c {
					c[i] = max(v, 0)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
