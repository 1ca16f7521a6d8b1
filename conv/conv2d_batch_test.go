package conv

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// batchTol is how far the batched convolution may be from the per-image
// one, relative to the largest value: they add the same products in the
// same order, so with the assembly kernels they agree bit for bit; the
// portable kernel sums each block of K before adding it to the output, so
// the grouping of the additions, and the rounding, differs slightly.
const batchTol = 1e-5

// TestConvBatchMatchesPerImage holds ForwardBatch and BackwardBatch, with
// workspaces for 1, 2, 3 and all images a product, to Forward, ForwardReLU
// and Backward image by image, over the shapes of the reference test, with
// NaN guard bands around every output and the workspace.
func TestConvBatchMatchesPerImage(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	cases := convCases(r)
	cases = append(cases, convCase{5, 8, 8, 32, 64, 3, 1, 1}, convCase{4, 6, 5, 7, 9, 1, 1, 0}, convCase{3, 9, 7, 3, 8, 3, 2, 1},
		convCase{2, 6, 5, 4, 3, 2, 1, 1}, convCase{1, 9, 8, 3, 5, 5, 1, 2}, convCase{2, 7, 9, 12, 6, 3, 1, 0}, convCase{2, 5, 6, 16, 4, 3, 1, 2})
	for _, cc := range cases {
		c, err := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
		if err != nil {
			t.Fatal(err)
		}
		n := cc.n + 2 // batches of 3 and more
		x := randSlice[float32](r, n*c.InLen())
		w := randSlice[float32](r, c.WeightLen())
		b := randSlice[float32](r, c.OutC)
		gy := randSlice[float32](r, n*c.OutLen())

		// Per image.
		work1 := make([]float32, c.WorkLen())
		want := make([]float32, n*c.OutLen())
		wantR := make([]float32, len(want))
		c.Forward(want, x, w, b, work1)
		c.ForwardReLU(wantR, x, w, b, work1)
		wgx := make([]float32, len(x))
		wgw, wgb := make([]float32, len(w)), make([]float32, len(b))
		c.Backward(wgx, wgw, wgb, x, w, gy, work1)

		for _, per := range []int{1, 2, 3, n} {
			t.Run(fmt.Sprintf("%v/per%d", cc, per), func(t *testing.T) {
				work := newGuarded(c.BatchWorkLen(per), nil)
				if got := c.imagesPer(len(work.s()), c.useStrips()); got < per {
					t.Fatalf("%d images a product with BatchWorkLen(%d)", got, per)
				}
				for _, relu := range []bool{false, true} {
					y := newGuarded(len(want), nil)
					c.ForwardBatch(y.s(), x, w, b, work.s(), relu)
					y.intact(t, "y")
					work.intact(t, "work")
					ref := want
					if relu {
						ref = wantR
					}
					closeTo(t, fmt.Sprintf("y (relu %v)", relu), y.s(), to64(ref), batchTol)
				}
				gx := newGuarded(len(x), nil)
				gw := newGuarded(len(w), func(int) float32 { return 0 })
				gb := newGuarded(len(b), func(int) float32 { return 0 })
				c.BackwardBatch(gx.s(), gw.s(), gb.s(), x, w, gy, work.s())
				for name, g := range map[string]guardedBuf{"gx": gx, "gw": gw, "gb": gb, "work": work} {
					g.intact(t, name)
				}
				closeTo(t, "gx", gx.s(), to64(wgx), batchTol)
				closeTo(t, "gw", gw.s(), to64(wgw), batchTol)
				closeTo(t, "gb", gb.s(), to64(wgb), batchTol)

				// Without an input gradient, and adding to what is there
				// (which rounds differently from doubling).
				c.BackwardBatch(nil, gw.s(), gb.s(), x, w, gy, work.s())
				w2, b2 := make([]float64, len(w)), make([]float64, len(b))
				for i := range w2 {
					w2[i] = 2 * float64(wgw[i])
				}
				for i := range b2 {
					b2[i] = 2 * float64(wgb[i])
				}
				closeTo(t, "gw (twice, no gx)", gw.s(), w2, 1e-5)
				closeTo(t, "gb (twice, no gx)", gb.s(), b2, 1e-5)
			})
		}
	}
}

func TestAddColumnSums(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, tc := range []struct{ rows, cols int }{{1, 1}, {3, 5}, {255, 8}, {256, 24}, {257, 7}, {1000, 17}, {600, 64}} {
		t.Run(fmt.Sprintf("%dx%d", tc.rows, tc.cols), func(t *testing.T) {
			m := randSlice[float32](r, tc.rows*tc.cols)
			d := newGuarded(tc.cols, func(i int) float32 { return float32(i) })
			AddColumnSums(d.s(), m, tc.cols)
			d.intact(t, "dst")
			want := make([]float64, tc.cols)
			for j := range want {
				want[j] = float64(j)
				for i := range tc.rows {
					want[j] += float64(m[i*tc.cols+j])
				}
			}
			closeTo(t, "sums", d.s(), want, 1e-5)
		})
	}
}

func TestConvBatchPanics(t *testing.T) {
	c, _ := NewConv2D(4, 4, 2, 3, 3, 1, 1)
	x := make([]float32, 2*c.InLen())
	y := make([]float32, 2*c.OutLen())
	w := make([]float32, c.WeightLen())
	b := make([]float32, 3)
	work := make([]float32, c.BatchWorkLen(2))
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial image", func() { c.ForwardBatch(y, x[1:], w, b, work, false) }},
		{"short output", func() { c.ForwardBatch(y[1:], x, w, b, work, true) }},
		{"short workspace", func() { c.ForwardBatch(y, x, w, b, work[:c.BatchWorkLen(1)-1], false) }},
		{"short input gradient", func() { c.BackwardBatch(x[1:], w, b, x, w, y, work) }},
		{"short bias gradient", func() { c.BackwardBatch(x, w, b[1:], x, w, y, work) }},
		{"no images", func() { c.BatchWorkLen(0) }},
		{"column sums of a partial row", func() { AddColumnSums(b, y[1:], 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if len(msg) < 6 || msg[:6] != "conv: " {
					t.Fatalf("panic %q, want one starting with \"conv: \"", msg)
				}
			}()
			tc.f()
		})
	}
}

func TestConvBatchZeroAllocs(t *testing.T) {
	for _, k := range []int{3, 1} {
		c, _ := NewConv2D(16, 16, 8, 16, k, 1, k/2)
		x := make([]float32, 4*c.InLen())
		y := make([]float32, 4*c.OutLen())
		w := make([]float32, c.WeightLen())
		b := make([]float32, c.OutC)
		gx := make([]float32, len(x))
		gw := make([]float32, len(w))
		gb := make([]float32, len(b))
		work := make([]float32, c.BatchWorkLen(3))
		if a := testing.AllocsPerRun(10, func() { c.ForwardBatch(y, x, w, b, work, true) }); a != 0 {
			t.Errorf("k%d: ForwardBatch allocates %v times per call", k, a)
		}
		if a := testing.AllocsPerRun(10, func() { c.BackwardBatch(gx, gw, gb, x, w, y, work) }); a != 0 {
			t.Errorf("k%d: BackwardBatch allocates %v times per call", k, a)
		}
	}
}

// BenchmarkConvTrainBatch times a forward and backward pass of catnet64's
// convolutions over 16 images, image by image and batched (8 images a
// product).
func BenchmarkConvTrainBatch(b *testing.B) {
	const n = 16
	for _, cc := range []convCase{{n, 64, 64, 3, 8, 3, 1, 1}, {n, 32, 32, 8, 16, 3, 1, 1}, {n, 16, 16, 16, 32, 3, 1, 1}, {n, 8, 8, 32, 64, 3, 1, 1}, {n, 16, 16, 96, 96, 1, 1, 0}} {
		c, _ := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
		r := rand.New(rand.NewPCG(1, 2))
		x := randSlice[float32](r, n*c.InLen())
		y := make([]float32, n*c.OutLen())
		w := randSlice[float32](r, c.WeightLen())
		bias := make([]float32, c.OutC)
		gx, gw, gb := make([]float32, len(x)), make([]float32, len(w)), make([]float32, len(bias))
		for _, per := range []int{1, 8} {
			b.Run(fmt.Sprintf("%v/per%d", cc, per), func(b *testing.B) {
				work := make([]float32, c.BatchWorkLen(per))
				b.ReportAllocs()
				for b.Loop() {
					c.ForwardBatch(y, x, w, bias, work, true)
					c.BackwardBatch(gx, gw, gb, x, w, y, work)
				}
			})
		}
	}
}
