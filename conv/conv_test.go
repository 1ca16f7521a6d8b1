package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"catd/internal/gemm"
)

// guard is how many NaN sentinels surround every output buffer in the tests.
const guard = 7

type guardedBuf struct {
	all []float32
	n   int
}

func newGuarded(n int, fill func(i int) float32) guardedBuf {
	g := guardedBuf{all: make([]float32, n+2*guard), n: n}
	for i := range g.all {
		g.all[i] = float32(math.NaN())
	}
	if fill != nil {
		for i := range n {
			g.all[guard+i] = fill(i)
		}
	}
	return g
}

func (g guardedBuf) s() []float32 { return g.all[guard : guard+g.n : guard+g.n] }

func (g guardedBuf) intact(t *testing.T, name string) {
	t.Helper()
	for i := 0; i < guard; i++ {
		if v := g.all[i]; !math.IsNaN(float64(v)) {
			t.Fatalf("%s: guard before the buffer overwritten at -%d: %v", name, guard-i, v)
		}
		if v := g.all[guard+g.n+i]; !math.IsNaN(float64(v)) {
			t.Fatalf("%s: guard after the buffer overwritten at +%d: %v", name, i, v)
		}
	}
}

func randSlice[F Float](r *rand.Rand, n int) []F {
	s := make([]F, n)
	for i := range s {
		s[i] = F(r.NormFloat64())
	}
	return s
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// closeTo checks got against the float64 reference want with a tolerance
// relative to the scale of the values involved.
func closeTo(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", name, len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	scale = max(scale, 1)
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
			t.Fatalf("%s[%d] = %v, want %v (diff %g, scale %g)", name, i, got[i], want[i], d, scale)
		}
	}
}

type convCase struct{ n, h, w, c, oc, k, s, p int }

func (cc convCase) String() string {
	return fmt.Sprintf("n%d_%dx%dx%d_oc%d_k%d_s%d_p%d", cc.n, cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
}

func convCases(r *rand.Rand) []convCase {
	cs := []convCase{
		{1, 64, 64, 3, 8, 3, 1, 1}, {1, 32, 32, 8, 16, 3, 1, 1}, {2, 16, 16, 16, 32, 3, 1, 1},
		{1, 8, 8, 32, 64, 3, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0}, {3, 5, 7, 4, 5, 1, 1, 0},
		{1, 9, 9, 5, 2, 2, 2, 0}, {2, 11, 6, 4, 3, 5, 2, 2}, {1, 4, 4, 2, 3, 3, 2, 2},
		{1, 7, 3, 1, 9, 3, 3, 1}, {2, 6, 5, 3, 7, 1, 2, 0},
	}
	for range 40 {
		k := 1 + r.IntN(5)
		p := r.IntN(min(k, 3))
		h, w := k+r.IntN(10), k+r.IntN(10)
		cs = append(cs, convCase{1 + r.IntN(3), h, w, 1 + r.IntN(9), 1 + r.IntN(19), k, 1 + r.IntN(3), p})
	}
	return cs
}

func TestConvAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, cc := range convCases(r) {
		t.Run(cc.String(), func(t *testing.T) {
			c, err := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice[float32](r, cc.n*c.InLen())
			w := randSlice[float32](r, c.WeightLen())
			b := randSlice[float32](r, c.OutC)
			gy := randSlice[float32](r, cc.n*c.OutLen())
			work := newGuarded(c.WorkLen(), nil)

			y := newGuarded(cc.n*c.OutLen(), nil)
			c.Forward(y.s(), x, w, b, work.s())
			y.intact(t, "y")
			work.intact(t, "work")
			want := make([]float64, cc.n*c.OutLen())
			ConvForwardRef(c, cc.n, want, to64(x), to64(w), to64(b))
			closeTo(t, "y", y.s(), want, 1e-5)
			checkFusedReLU(t, y.s(), want, func(dst []float32) { c.ForwardReLU(dst, x, w, b, work.s()) })
			work.intact(t, "work")

			gx := newGuarded(len(x), nil)
			gw := newGuarded(len(w), func(i int) float32 { return 0.5 })
			gb := newGuarded(len(b), func(i int) float32 { return -1 })
			c.Backward(gx.s(), gw.s(), gb.s(), x, w, gy, work.s())
			for _, g := range []struct {
				name string
				b    guardedBuf
			}{{"gx", gx}, {"gw", gw}, {"gb", gb}, {"work", work}} {
				g.b.intact(t, g.name)
			}
			wgx := make([]float64, len(x))
			wgw := make([]float64, len(w))
			wgb := make([]float64, len(b))
			for i := range wgw {
				wgw[i] = 0.5
			}
			for i := range wgb {
				wgb[i] = -1
			}
			ConvBackwardRef(c, cc.n, wgx, wgw, wgb, to64(x), to64(w), to64(gy))
			closeTo(t, "gx", gx.s(), wgx, 1e-5)
			closeTo(t, "gw", gw.s(), wgw, 1e-5)
			closeTo(t, "gb", gb.s(), wgb, 1e-5)

			// Without an input gradient the parameter gradients are the same.
			gw2 := make([]float32, len(w))
			gb2 := make([]float32, len(b))
			c.Backward(nil, gw2, gb2, x, w, gy, work.s())
			for i := range gw2 {
				wgw[i] -= 0.5
			}
			closeTo(t, "gw (no gx)", gw2, wgw, 1e-5)
		})
	}
}

// TestConvForwardMatchesPatches holds Forward, which reads each output
// row straight from the padded input with a workspace of ForwardWorkLen,
// to the product of im2col's patch matrix with the weights, bit for bit.
func TestConvForwardMatchesPatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, cc := range convCases(r) {
		t.Run(cc.String(), func(t *testing.T) {
			c, err := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice[float32](r, cc.n*c.InLen())
			w := randSlice[float32](r, c.WeightLen())
			b := randSlice[float32](r, c.OutC)
			p := c.OutH * c.OutW
			patches := make([]float32, p*c.patchLen())
			for _, relu := range []bool{false, true} {
				work := newGuarded(c.ForwardWorkLen(), nil)
				y := newGuarded(cc.n*c.OutLen(), nil)
				if relu {
					c.ForwardReLU(y.s(), x, w, b, work.s())
				} else {
					c.Forward(y.s(), x, w, b, work.s())
				}
				y.intact(t, "y")
				work.intact(t, "work")
				want := make([]float32, c.OutLen())
				for i := range cc.n {
					Im2Col(&c, patches, x[i*c.InLen():(i+1)*c.InLen()], 0)
					gemm.NNBias(p, c.OutC, c.patchLen(), patches, c.patchLen(), w, c.OutC, b, want, c.OutC, relu)
					for j, v := range want {
						if got := y.s()[i*c.OutLen()+j]; math.Float32bits(got) != math.Float32bits(v) {
							t.Fatalf("relu=%v image %d: y[%d] = %v, the patch matrix's product gives %v", relu, i, j, got, v)
						}
					}
				}
			}
		})
	}
}

// TestConvGradientFiniteDifferences checks the float64 reference gradients,
// which the fast kernels are held to, against central differences of the
// loss L = Σ y*gy.
func TestConvGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, cc := range []convCase{{2, 5, 6, 3, 4, 3, 1, 1}, {1, 7, 7, 2, 3, 3, 2, 0}, {1, 6, 5, 2, 2, 5, 2, 2}, {2, 3, 3, 4, 2, 1, 1, 0}} {
		t.Run(cc.String(), func(t *testing.T) {
			c, err := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice[float64](r, cc.n*c.InLen())
			w := randSlice[float64](r, c.WeightLen())
			b := randSlice[float64](r, c.OutC)
			gy := randSlice[float64](r, cc.n*c.OutLen())
			y := make([]float64, len(gy))
			loss := func() float64 {
				ConvForwardRef(c, cc.n, y, x, w, b)
				s := 0.0
				for i := range y {
					s += y[i] * gy[i]
				}
				return s
			}
			gx := make([]float64, len(x))
			gw := make([]float64, len(w))
			gb := make([]float64, len(b))
			ConvBackwardRef(c, cc.n, gx, gw, gb, x, w, gy)
			finiteDiff(t, "x", x, gx, loss)
			finiteDiff(t, "w", w, gw, loss)
			finiteDiff(t, "b", b, gb, loss)
		})
	}
}

// finiteDiff compares grad with central differences of loss in each
// coordinate of p.
func finiteDiff(t *testing.T, name string, p, grad []float64, loss func() float64) {
	t.Helper()
	const h = 1e-6
	for i := range p {
		old := p[i]
		p[i] = old + h
		lp := loss()
		p[i] = old - h
		lm := loss()
		p[i] = old
		num := (lp - lm) / (2 * h)
		if d := math.Abs(num - grad[i]); d > 1e-6*max(1, math.Abs(num)) {
			t.Fatalf("d/d%s[%d]: analytic %v, numeric %v", name, i, grad[i], num)
		}
	}
}

func TestNewConv2DErrors(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		h, w, c, oc, k, s, p int
		wantErr              bool
		wantOutH, wantOutW   int
	}{
		{name: "catnet first layer", h: 64, w: 64, c: 3, oc: 8, k: 3, s: 1, p: 1, wantOutH: 64, wantOutW: 64},
		{name: "stride 2 odd", h: 9, w: 8, c: 1, oc: 1, k: 3, s: 2, p: 0, wantOutH: 4, wantOutW: 3},
		{name: "zero input", h: 0, w: 4, c: 1, oc: 1, k: 1, s: 1, wantErr: true},
		{name: "zero channels out", h: 4, w: 4, c: 1, oc: 0, k: 1, s: 1, wantErr: true},
		{name: "zero stride", h: 4, w: 4, c: 1, oc: 1, k: 1, s: 0, wantErr: true},
		{name: "pad as large as kernel", h: 4, w: 4, c: 1, oc: 1, k: 3, s: 1, p: 3, wantErr: true},
		{name: "kernel larger than input", h: 2, w: 4, c: 1, oc: 1, k: 5, s: 1, p: 1, wantErr: true},
		{name: "negative pad", h: 4, w: 4, c: 1, oc: 1, k: 3, s: 1, p: -1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConv2D(tc.h, tc.w, tc.c, tc.oc, tc.k, tc.s, tc.p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (c.OutH != tc.wantOutH || c.OutW != tc.wantOutW) {
				t.Fatalf("output %dx%d, want %dx%d", c.OutH, c.OutW, tc.wantOutH, tc.wantOutW)
			}
		})
	}
}

func TestConvPanicsOnWrongLengths(t *testing.T) {
	c, _ := NewConv2D(4, 4, 2, 3, 3, 1, 1)
	x := make([]float32, c.InLen())
	y := make([]float32, c.OutLen())
	w := make([]float32, c.WeightLen())
	b := make([]float32, 3)
	work := make([]float32, c.WorkLen())
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial image", func() { c.Forward(y, x[1:], w, b, work) }},
		{"short output", func() { c.Forward(y[1:], x, w, b, work) }},
		{"short weights", func() { c.Forward(y, x, w[1:], b, work) }},
		{"short bias", func() { c.Forward(y, x, w, b[1:], work) }},
		{"short workspace", func() { c.Forward(y, x, w, b, work[:c.ForwardWorkLen()-1]) }},
		{"short backward workspace", func() { c.Backward(x, w, b, x, w, y, work[1:]) }},
		{"short input gradient", func() { c.Backward(x[1:], w, b, x, w, y, work) }},
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

// checkFusedReLU runs a fused forward pass into a guarded buffer and holds
// it to the plain forward pass y (want its float64 reference): it must
// equal max(y, 0) exactly (as floats: a zero's sign may differ), stay
// within tolerance of the reference ReLU, and write nothing outside dst.
func checkFusedReLU(t *testing.T, y []float32, want []float64, fused func(dst []float32)) {
	t.Helper()
	r := newGuarded(len(y), nil)
	fused(r.s())
	r.intact(t, "fused ReLU output")
	wantR := make([]float64, len(want))
	for i, v := range y {
		if got := r.s()[i]; got != max(v, 0) {
			t.Fatalf("fused ReLU output %d = %v, want max(%v, 0)", i, got, v)
		}
		wantR[i] = max(want[i], 0)
	}
	closeTo(t, "fused ReLU output", r.s(), wantR, 1e-5)
}

func TestConvZeroAllocs(t *testing.T) {
	c, _ := NewConv2D(16, 16, 8, 16, 3, 1, 1)
	x := make([]float32, 2*c.InLen())
	y := make([]float32, 2*c.OutLen())
	w := make([]float32, c.WeightLen())
	b := make([]float32, c.OutC)
	gx := make([]float32, len(x))
	gw := make([]float32, len(w))
	gb := make([]float32, len(b))
	work := make([]float32, c.WorkLen())
	if a := testing.AllocsPerRun(10, func() { c.Forward(y, x, w, b, work) }); a != 0 {
		t.Errorf("Forward allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(10, func() { c.ForwardReLU(y, x, w, b, work[:c.ForwardWorkLen()]) }); a != 0 {
		t.Errorf("ForwardReLU allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(10, func() { c.Backward(gx, gw, gb, x, w, y, work) }); a != 0 {
		t.Errorf("Backward allocates %v times per call", a)
	}
}

func BenchmarkConvForward(b *testing.B) {
	for _, cc := range []convCase{{1, 64, 64, 3, 24, 3, 1, 1}, {1, 64, 64, 3, 8, 3, 1, 1}, {1, 32, 32, 8, 16, 3, 1, 1}, {1, 16, 16, 16, 32, 3, 1, 1}, {1, 8, 8, 32, 64, 3, 1, 1}} {
		b.Run(cc.String(), func(b *testing.B) {
			c, _ := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			x := make([]float32, c.InLen())
			y := make([]float32, c.OutLen())
			w := make([]float32, c.WeightLen())
			bias := make([]float32, c.OutC)
			work := make([]float32, c.WorkLen())
			b.ReportAllocs()
			for b.Loop() {
				c.Forward(y, x, w, bias, work)
			}
			b.ReportMetric(float64(c.MACs())*2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkConvBackward(b *testing.B) {
	for _, cc := range []convCase{{1, 64, 64, 3, 8, 3, 1, 1}, {1, 32, 32, 8, 16, 3, 1, 1}, {1, 16, 16, 16, 32, 3, 1, 1}, {1, 8, 8, 32, 64, 3, 1, 1}} {
		b.Run(cc.String(), func(b *testing.B) {
			c, _ := NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			x := make([]float32, c.InLen())
			gx := make([]float32, c.InLen())
			gy := make([]float32, c.OutLen())
			w := make([]float32, c.WeightLen())
			gw := make([]float32, c.WeightLen())
			gb := make([]float32, c.OutC)
			work := make([]float32, c.WorkLen())
			b.ReportAllocs()
			for b.Loop() {
				c.Backward(gx, gw, gb, x, w, gy, work)
			}
		})
	}
}
