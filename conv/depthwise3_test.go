package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// dw3TestKernels are the Go kernel and the assembly kernels this CPU runs.
func dw3TestKernels() []dw3Kernel {
	return append([]dw3Kernel{{"generic", func(y, x, w, b []float32, a dw3Args) { dw3Generic(y, x, w, b, a, 0, a.c) }}}, dw3Kernels()...)
}

// TestDepthwise3Kernels holds every 3×3 kernel to the Go kernel's loop
// (dw3Generic) over odd sizes, channel counts that do and do not fill
// vectors, strides 1 to 3 and padding 0 to 2, with and without ReLU. The
// input sits between NaN guard bands, so a tap read outside the image
// shows as NaN, and the output's guard bands must stay NaN.
func TestDepthwise3Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	var cases []dwCase
	for _, c := range []int{1, 3, 4, 5, 8, 12, 16, 17, 24, 33, 48} {
		for _, s := range []int{1, 2, 3} {
			for p := range 3 {
				h, w := 1+r.IntN(9), 1+r.IntN(9)
				if h+2*p < 3 || w+2*p < 3 {
					h, w = h+3, w+3
				}
				cases = append(cases, dwCase{1, h, w, c, 3, s, p})
			}
		}
	}
	cases = append(cases, dwCase{1, 32, 32, 48, 3, 1, 1}, dwCase{1, 64, 64, 24, 3, 2, 1}, dwCase{1, 4, 4, 384, 3, 1, 1}, dwCase{1, 8, 8, 192, 3, 2, 1})
	for _, kern := range dw3TestKernels() {
		for _, dc := range cases {
			for _, relu := range []bool{false, true} {
				name := fmt.Sprintf("%s/%v/relu=%v", kern.name, dc, relu)
				d, err := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				x := newGuarded(d.InLen(), func(int) float32 { return float32(r.NormFloat64()) })
				w := newGuarded(d.WeightLen(), func(int) float32 { return float32(r.NormFloat64()) })
				b := newGuarded(d.C, func(int) float32 { return float32(r.NormFloat64()) })
				want := make([]float32, d.OutLen())
				d.forward3(want, x.s(), w.s(), b.s(), relu, dw3TestKernels()[0].f)
				y := newGuarded(d.OutLen(), nil)
				d.forward3(y.s(), x.s(), w.s(), b.s(), relu, kern.f)
				y.intact(t, name+" y")
				// The sums differ only in rounding: bound the error by the
				// sum of the absolute terms, at most 10 of about 1 each.
				for i, v := range y.s() {
					if math.IsNaN(float64(v)) || math.Abs(float64(v-want[i])) > 1e-5*10 {
						t.Fatalf("%s: output %d = %v, want %v", name, i, v, want[i])
					}
					if relu && v < 0 {
						t.Fatalf("%s: output %d = %v after ReLU", name, i, v)
					}
				}
			}
		}
	}
}

// dw3BackTestKernels are the Go backward kernel and the assembly ones this
// CPU runs.
func dw3BackTestKernels() []dw3BackKernel {
	return append([]dw3BackKernel{{"generic", func(gx, gw, x, w, gy []float32, a dw3Args) { dw3BackGeneric(gx, gw, x, w, gy, a, 0, a.c) }}}, dw3BackKernels()...)
}

// TestDepthwise3BackKernels holds every 3×3 backward kernel to the Go
// kernel's loop over the cases of TestDepthwise3Kernels, with and without
// an input gradient. Input, weights and output gradient sit between NaN
// guard bands; gw and gx start at nonzero values (the kernels add to
// them) and their guard bands must stay NaN.
func TestDepthwise3BackKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	var cases []dwCase
	for _, c := range []int{1, 3, 4, 5, 8, 12, 16, 17, 24, 33, 48} {
		for _, s := range []int{1, 2, 3} {
			for p := range 3 {
				h, w := 1+r.IntN(9), 1+r.IntN(9)
				if h+2*p < 3 || w+2*p < 3 {
					h, w = h+3, w+3
				}
				cases = append(cases, dwCase{1, h, w, c, 3, s, p})
			}
		}
	}
	cases = append(cases, dwCase{1, 32, 32, 48, 3, 1, 1}, dwCase{1, 64, 64, 24, 3, 2, 1}, dwCase{1, 4, 4, 384, 3, 1, 1})
	ref := dw3BackTestKernels()[0].f
	for _, kern := range dw3BackTestKernels() {
		for _, dc := range cases {
			for _, withGx := range []bool{true, false} {
				name := fmt.Sprintf("%s/%v/gx=%v", kern.name, dc, withGx)
				d, err := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				rnd := func(int) float32 { return float32(r.NormFloat64()) }
				x := newGuarded(d.InLen(), rnd)
				w := newGuarded(d.WeightLen(), rnd)
				gy := newGuarded(d.OutLen(), rnd)
				gw := newGuarded(d.WeightLen(), func(int) float32 { return 0.5 })
				gx := newGuarded(d.InLen(), func(int) float32 { return -0.25 })
				wantW := append([]float32(nil), gw.s()...)
				wantX := append([]float32(nil), gx.s()...)
				var gxs, wantXs []float32
				if withGx {
					gxs, wantXs = gx.s(), wantX
				}
				d.backward3(wantXs, wantW, x.s(), w.s(), gy.s(), ref)
				d.backward3(gxs, gw.s(), x.s(), w.s(), gy.s(), kern.f)
				gw.intact(t, name+" gw")
				gx.intact(t, name+" gx")
				// Each gradient sums at most OutH·OutW (gw) or 9 (gx)
				// products of about 1 each.
				tolW := 1e-5 * float64(d.OutH*d.OutW+10)
				for i, v := range gw.s() {
					if math.IsNaN(float64(v)) || math.Abs(float64(v-wantW[i])) > tolW {
						t.Fatalf("%s: gw[%d] = %v, want %v", name, i, v, wantW[i])
					}
				}
				for i, v := range gx.s() {
					if math.IsNaN(float64(v)) || math.Abs(float64(v-wantX[i])) > 1e-5*10 {
						t.Fatalf("%s: gx[%d] = %v, want %v", name, i, v, wantX[i])
					}
				}
			}
		}
	}
}

func TestDepthwise3ZeroAllocs(t *testing.T) {
	d, _ := NewDepthwiseConv2D(16, 16, 48, 3, 2, 1)
	x := make([]float32, d.InLen())
	y := make([]float32, d.OutLen())
	w := make([]float32, d.WeightLen())
	b := make([]float32, d.C)
	for _, kern := range dw3TestKernels() {
		if a := testing.AllocsPerRun(10, func() { d.forward3(y, x, w, b, true, kern.f) }); a != 0 {
			t.Errorf("%s: %v allocations per call", kern.name, a)
		}
	}
	gx := make([]float32, d.InLen())
	gw := make([]float32, d.WeightLen())
	for _, kern := range dw3BackTestKernels() {
		if a := testing.AllocsPerRun(10, func() { d.backward3(gx, gw, x, w, y, kern.f) }); a != 0 {
			t.Errorf("%s backward: %v allocations per call", kern.name, a)
		}
	}
}

// BenchmarkDepthwise3 times each 3×3 kernel on the depthwise layers of
// catsep64 (batch 1, with ReLU).
func BenchmarkDepthwise3(b *testing.B) {
	for _, dc := range []dwCase{
		{1, 64, 64, 24, 3, 2, 1}, {1, 32, 32, 48, 3, 1, 1}, {1, 32, 32, 48, 3, 2, 1}, {1, 16, 16, 96, 3, 1, 1},
		{1, 8, 8, 192, 3, 1, 1}, {1, 4, 4, 384, 3, 1, 1},
	} {
		d, _ := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
		x := make([]float32, d.InLen())
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		y := make([]float32, d.OutLen())
		w := make([]float32, d.WeightLen())
		bias := make([]float32, d.C)
		for _, kern := range dw3TestKernels() {
			b.Run(kern.name+"/"+dc.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					d.forward3(y, x, w, bias, true, kern.f)
				}
				b.ReportMetric(2*float64(d.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
