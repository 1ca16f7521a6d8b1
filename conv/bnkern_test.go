package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sameBitsOrNaN fails unless got and want hold the same float32 bit
// patterns, any NaN matching any NaN (which NaN an operation on two
// NaNs returns is the CPU's choice).
func sameBitsOrNaN(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if g != g && w != w {
			continue
		}
		if math.Float32bits(g) != math.Float32bits(w) {
			t.Fatalf("%s[%d] = %v, want %v bit for bit", name, i, g, w)
		}
	}
}

// TestBatchNormKernels holds every assembly batch-norm kernel this CPU
// runs to its Go twin (bnkern.go), bit for bit, over channel counts that
// do and do not fill vectors (whole blocks, pairs of blocks and the Go
// tail), channel ranges starting inside the pixel, pixel counts on both
// sides of a run of sumRun, and ReLU outputs that are NaN, ±0, +Inf,
// negative and positive. Inputs and outputs sit between NaN guard bands
// that the kernels must neither read into a sum nor write; the
// elementwise kernels also run in place.
func TestBatchNormKernels(t *testing.T) {
	kernels := bnAsmKernels()
	if len(kernels) == 0 {
		t.Skip("no assembly batch-norm kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(41, 42))
	special := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), -1, 2}
	type shape struct{ c, c0, n, p int }
	var shapes []shape
	for _, c := range []int{1, 3, 4, 8, 9, 16, 17, 24, 40, 48, 96, 200, 384} {
		for _, p := range []int{1, 2, 5, 31, 32, 33, 70} {
			shapes = append(shapes, shape{c, 0, c, p})
			if c > 8 {
				c0 := 1 + r.IntN(c/2)
				shapes = append(shapes, shape{c, c0, c - c0 - r.IntN(c/4), p})
			}
		}
	}
	for _, k := range kernels {
		for _, sh := range shapes {
			name := fmt.Sprintf("%s/c%d_c0%d_n%d_p%d", k.name, sh.c, sh.c0, sh.n, sh.p)
			c, c0, n, p := sh.c, sh.c0, sh.n, sh.p
			rnd := func(int) float32 { return float32(r.NormFloat64()) }
			src := newGuarded(p*c, func(int) float32 { return float32(r.NormFloat64()*2 + 0.5) })
			gy := newGuarded(p*c, rnd)
			y := newGuarded(p*c, func(int) float32 {
				if r.IntN(4) == 0 {
					return special[r.IntN(len(special))]
				}
				return float32(r.NormFloat64())
			})
			per := func() []float32 { return newGuarded(n, rnd).s() }
			shift, d, e, a, kk := per(), per(), per(), per(), per()

			// Statistics and gradient sums, added to nonzero sums.
			for _, sums := range []struct {
				what string
				f    func(bnKernels, []float64, []float64)
			}{
				{"stats", func(ks bnKernels, s, ss []float64) { ks.stats(s, ss, src.s(), shift, c, c0) }},
				{"gradSums", func(ks bnKernels, s, ss []float64) { ks.gradSums(s, ss, src.s(), gy.s(), y.s(), shift, c, c0) }},
			} {
				want1, want2 := make([]float64, n), make([]float64, n)
				got1, got2 := make([]float64, n+1), make([]float64, n+1)
				for i := range n {
					want1[i], want2[i] = float64(i), -float64(i)
					got1[i], got2[i] = float64(i), -float64(i)
				}
				got1[n], got2[n] = math.NaN(), math.NaN()
				sums.f(bnGoKernels, want1, want2)
				sums.f(k, got1[:n], got2[:n])
				for i := range n {
					if got1[i] != want1[i] || got2[i] != want2[i] {
						t.Fatalf("%s %s: channel %d: sums %v, %v, want %v, %v", name, sums.what, i, got1[i], got2[i], want1[i], want2[i])
					}
				}
				if !math.IsNaN(got1[n]) || !math.IsNaN(got2[n]) {
					t.Fatalf("%s %s: wrote past the sums", name, sums.what)
				}
			}

			// Elementwise kernels, into a fresh buffer and in place.
			for _, relu := range []bool{false, true} {
				want := make([]float32, p*c)
				copy(want, src.s())
				bnGoKernels.affine(want, src.s(), c, c0, d, e, relu)
				got := newGuarded(p*c, func(i int) float32 { return src.s()[i] })
				k.affine(got.s(), src.s(), c, c0, d, e, relu)
				got.intact(t, name+" affine")
				sameBitsOrNaN(t, fmt.Sprintf("%s affine relu=%v", name, relu), got.s(), want)
				k.affine(got.s(), got.s(), c, c0, d, e, relu)
				bnGoKernels.affine(want, want, c, c0, d, e, relu)
				sameBitsOrNaN(t, fmt.Sprintf("%s affine relu=%v in place", name, relu), got.s(), want)
			}
			want := make([]float32, p*c)
			copy(want, gy.s())
			bnGoKernels.gradInput(want, gy.s(), y.s(), src.s(), c, c0, a, e, kk)
			got := newGuarded(p*c, func(i int) float32 { return gy.s()[i] })
			k.gradInput(got.s(), gy.s(), y.s(), src.s(), c, c0, a, e, kk)
			got.intact(t, name+" gradInput")
			sameBitsOrNaN(t, name+" gradInput", got.s(), want)
			inPlace := append([]float32(nil), gy.s()...)
			k.gradInput(inPlace, inPlace, y.s(), src.s(), c, c0, a, e, kk)
			sameBitsOrNaN(t, name+" gradInput in place", inPlace, want)
			for name, g := range map[string]guardedBuf{"src": src, "gy": gy, "y": y} {
				g.intact(t, name)
			}
		}
	}
}

// BenchmarkBatchNormKernels times each implementation of the four kernels
// on catsep64's largest batch norm at batch 16 (16×64×64 pixels of 24
// channels) and on a deep one (16×4×4 of 384).
func BenchmarkBatchNormKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, sh := range []struct{ p, c int }{{16 * 64 * 64, 24}, {16 * 4 * 4, 384}} {
		x, g, y := randSlice[float32](r, sh.p*sh.c), randSlice[float32](r, sh.p*sh.c), randSlice[float32](r, sh.p*sh.c)
		out := make([]float32, len(x))
		d, e, k := randSlice[float32](r, sh.c), randSlice[float32](r, sh.c), randSlice[float32](r, sh.c)
		s, ss := make([]float64, sh.c), make([]float64, sh.c)
		for _, ks := range append([]bnKernels{bnGoKernels}, bnAsmKernels()...) {
			for _, f := range []struct {
				what string
				run  func()
			}{
				{"stats", func() { ks.stats(s, ss, x, d, sh.c, 0) }},
				{"affineReLU", func() { ks.affine(out, x, sh.c, 0, d, e, true) }},
				{"gradSums", func() { ks.gradSums(s, ss, x, g, y, d, sh.c, 0) }},
				{"gradInput", func() { ks.gradInput(out, g, y, x, sh.c, 0, d, e, k) }},
			} {
				b.Run(fmt.Sprintf("%dx%d/%s/%s", sh.p, sh.c, f.what, ks.name), func(b *testing.B) {
					b.SetBytes(int64(4 * len(x)))
					b.ReportAllocs()
					for b.Loop() {
						f.run()
					}
				})
			}
		}
	}
}
