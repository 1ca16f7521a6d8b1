package conv

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type dwCase struct{ n, h, w, c, k, s, p int }

func (dc dwCase) String() string {
	return fmt.Sprintf("n%d_%dx%dx%d_k%d_s%d_p%d", dc.n, dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
}

// dwMobile are the depthwise layers of a mobile-style network at 64×64
// input, stride 1 and the stride-2 downsampling into each.
var dwMobile = []dwCase{
	{1, 32, 32, 32, 3, 1, 1}, {1, 32, 32, 32, 3, 2, 1},
	{1, 16, 16, 64, 3, 1, 1}, {1, 16, 16, 64, 3, 2, 1},
	{1, 8, 8, 128, 3, 1, 1}, {1, 8, 8, 128, 3, 2, 1},
	{1, 4, 4, 256, 3, 1, 1}, {1, 4, 4, 256, 3, 2, 1},
}

func dwCases(r *rand.Rand) []dwCase {
	cs := append([]dwCase{
		{1, 1, 1, 1, 1, 1, 0}, {2, 9, 9, 8, 3, 1, 1}, {2, 8, 7, 5, 3, 2, 1}, {1, 6, 6, 3, 5, 1, 2},
		{2, 4, 4, 16, 1, 1, 0}, {1, 3, 3, 7, 3, 1, 0}, {1, 2, 2, 4, 3, 1, 1}, {1, 1, 5, 2, 3, 1, 1},
		{3, 7, 5, 1, 5, 2, 2}, {1, 11, 13, 9, 5, 3, 1}, {1, 5, 5, 6, 1, 2, 0}, {2, 10, 3, 33, 3, 3, 2},
	}, dwMobile...)
	for range 60 {
		k := []int{1, 3, 5}[r.IntN(3)]
		p := r.IntN(min(k, 3))
		h, w := max(k-2*p, 1)+r.IntN(10), max(k-2*p, 1)+r.IntN(10)
		cs = append(cs, dwCase{1 + r.IntN(3), h, w, 1 + r.IntN(40), k, 1 + r.IntN(2), p})
	}
	return cs
}

func TestDepthwiseAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, dc := range dwCases(r) {
		t.Run(dc.String(), func(t *testing.T) {
			d, err := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice[float32](r, dc.n*d.InLen())
			w := randSlice[float32](r, d.WeightLen())
			b := randSlice[float32](r, d.C)
			gy := randSlice[float32](r, dc.n*d.OutLen())

			y := newGuarded(dc.n*d.OutLen(), nil)
			d.Forward(y.s(), x, w, b)
			y.intact(t, "y")
			want := make([]float64, y.n)
			DepthwiseForwardRef(d, dc.n, want, to64(x), to64(w), to64(b))
			closeTo(t, "y", y.s(), want, 1e-5)
			checkFusedReLU(t, y.s(), want, func(dst []float32) { d.ForwardReLU(dst, x, w, b) })

			gx := newGuarded(len(x), func(int) float32 { return 9 }) // overwritten
			gw := newGuarded(len(w), func(int) float32 { return 0.5 })
			gb := newGuarded(len(b), func(int) float32 { return -1 })
			d.Backward(gx.s(), gw.s(), gb.s(), x, w, gy)
			for _, g := range []struct {
				name string
				b    guardedBuf
			}{{"gx", gx}, {"gw", gw}, {"gb", gb}} {
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
			DepthwiseBackwardRef(d, dc.n, wgx, wgw, wgb, to64(x), to64(w), to64(gy))
			closeTo(t, "gx", gx.s(), wgx, 1e-5)
			closeTo(t, "gw", gw.s(), wgw, 1e-5)
			closeTo(t, "gb", gb.s(), wgb, 1e-5)

			// Without an input gradient the parameter gradients are the same.
			gw2 := make([]float32, len(w))
			gb2 := make([]float32, len(b))
			d.Backward(nil, gw2, gb2, x, w, gy)
			for i := range wgw {
				wgw[i] -= 0.5
			}
			closeTo(t, "gw (no gx)", gw2, wgw, 1e-5)
		})
	}
}

// TestDepthwiseGradientFiniteDifferences checks the float64 reference
// gradients against central differences of L = Σ y*gy.
func TestDepthwiseGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, dc := range []dwCase{{2, 5, 6, 3, 3, 1, 1}, {1, 7, 7, 2, 3, 2, 0}, {1, 6, 5, 2, 5, 2, 2}, {2, 3, 3, 4, 1, 1, 0}} {
		t.Run(dc.String(), func(t *testing.T) {
			d, err := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
			if err != nil {
				t.Fatal(err)
			}
			x := randSlice[float64](r, dc.n*d.InLen())
			w := randSlice[float64](r, d.WeightLen())
			b := randSlice[float64](r, d.C)
			gy := randSlice[float64](r, dc.n*d.OutLen())
			y := make([]float64, len(gy))
			loss := func() float64 {
				DepthwiseForwardRef(d, dc.n, y, x, w, b)
				s := 0.0
				for i := range y {
					s += y[i] * gy[i]
				}
				return s
			}
			gx := make([]float64, len(x))
			gw := make([]float64, len(w))
			gb := make([]float64, len(b))
			DepthwiseBackwardRef(d, dc.n, gx, gw, gb, x, w, gy)
			finiteDiff(t, "x", x, gx, loss)
			finiteDiff(t, "w", w, gw, loss)
			finiteDiff(t, "b", b, gb, loss)
		})
	}
}

func TestNewDepthwiseConv2DErrors(t *testing.T) {
	for _, tc := range []struct {
		name               string
		h, w, c, k, s, p   int
		wantErr            bool
		wantOutH, wantOutW int
	}{
		{name: "mobile stride 1", h: 32, w: 32, c: 32, k: 3, s: 1, p: 1, wantOutH: 32, wantOutW: 32},
		{name: "mobile stride 2", h: 32, w: 32, c: 32, k: 3, s: 2, p: 1, wantOutH: 16, wantOutW: 16},
		{name: "stride 2 odd", h: 9, w: 8, c: 1, k: 3, s: 2, p: 0, wantOutH: 4, wantOutW: 3},
		{name: "zero input", h: 0, w: 4, c: 1, k: 1, s: 1, wantErr: true},
		{name: "zero channels", h: 4, w: 4, c: 0, k: 1, s: 1, wantErr: true},
		{name: "zero kernel", h: 4, w: 4, c: 1, k: 0, s: 1, wantErr: true},
		{name: "zero stride", h: 4, w: 4, c: 1, k: 1, s: 0, wantErr: true},
		{name: "pad as large as kernel", h: 4, w: 4, c: 1, k: 3, s: 1, p: 3, wantErr: true},
		{name: "kernel larger than input", h: 2, w: 4, c: 1, k: 5, s: 1, p: 1, wantErr: true},
		{name: "negative pad", h: 4, w: 4, c: 1, k: 3, s: 1, p: -1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDepthwiseConv2D(tc.h, tc.w, tc.c, tc.k, tc.s, tc.p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (d.OutH != tc.wantOutH || d.OutW != tc.wantOutW) {
				t.Fatalf("output %dx%d, want %dx%d", d.OutH, d.OutW, tc.wantOutH, tc.wantOutW)
			}
		})
	}
}

func TestDepthwisePanicsOnWrongLengths(t *testing.T) {
	d, _ := NewDepthwiseConv2D(4, 4, 3, 3, 1, 1)
	x := make([]float32, d.InLen())
	y := make([]float32, d.OutLen())
	w := make([]float32, d.WeightLen())
	b := make([]float32, 3)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial image", func() { d.Forward(y, x[1:], w, b) }},
		{"short output", func() { d.Forward(y[1:], x, w, b) }},
		{"short weights", func() { d.Forward(y, x, w[1:], b) }},
		{"short bias", func() { d.Forward(y, x, w, b[1:]) }},
		{"short input gradient", func() { d.Backward(x[1:], w, b, x, w, y) }},
		{"short weight gradient", func() { d.Backward(x, w[1:], b, x, w, y) }},
		{"short output gradient", func() { d.Backward(x, w, b, x, w, y[1:]) }},
		{"torch weights", func() { DepthwiseFromTorch(w, w[1:], 3, 3) }},
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

func TestDepthwiseLayoutRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	c, k := 5, 3
	src := randSlice[float32](r, c*k*k)
	hwc := make([]float32, len(src))
	back := make([]float32, len(src))
	DepthwiseFromTorch(hwc, src, c, k)
	// Element (c=4, 0, y=1, x=2) of PyTorch's [C][1][K][K].
	if got, want := hwc[(1*k+2)*c+4], src[(4*k+1)*k+2]; got != want {
		t.Fatalf("DepthwiseFromTorch moved %v, want %v", got, want)
	}
	DepthwiseToTorch(back, hwc, c, k)
	for i := range src {
		if back[i] != src[i] {
			t.Fatalf("round trip differs at %d", i)
		}
	}
}

func TestDepthwiseZeroAllocs(t *testing.T) {
	for _, dc := range []dwCase{{2, 16, 16, 64, 3, 1, 1}, {1, 9, 9, 8, 5, 2, 2}} {
		d, _ := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
		x := make([]float32, dc.n*d.InLen())
		y := make([]float32, dc.n*d.OutLen())
		w := make([]float32, d.WeightLen())
		b := make([]float32, d.C)
		gx := make([]float32, len(x))
		gw := make([]float32, len(w))
		gb := make([]float32, len(b))
		if a := testing.AllocsPerRun(10, func() { d.Forward(y, x, w, b) }); a != 0 {
			t.Errorf("%v: Forward allocates %v times per call", dc, a)
		}
		if a := testing.AllocsPerRun(10, func() { d.ForwardReLU(y, x, w, b) }); a != 0 {
			t.Errorf("%v: ForwardReLU allocates %v times per call", dc, a)
		}
		if a := testing.AllocsPerRun(10, func() { d.Backward(gx, gw, gb, x, w, y) }); a != 0 {
			t.Errorf("%v: Backward allocates %v times per call", dc, a)
		}
	}
}

func BenchmarkDepthwiseForward(b *testing.B) {
	for _, dc := range append(dwMobile, dwCase{1, 16, 16, 64, 5, 1, 2}) {
		b.Run(dc.String(), func(b *testing.B) {
			d, _ := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
			r := rand.New(rand.NewPCG(1, 1))
			x := randSlice[float32](r, d.InLen())
			y := make([]float32, d.OutLen())
			w := randSlice[float32](r, d.WeightLen())
			bias := make([]float32, d.C)
			b.ReportAllocs()
			for b.Loop() {
				d.Forward(y, x, w, bias)
			}
			b.ReportMetric(float64(d.MACs())*2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkDepthwiseBackward(b *testing.B) {
	for _, dc := range append(dwMobile, dwCase{1, 16, 16, 64, 5, 1, 2}) {
		b.Run(dc.String(), func(b *testing.B) {
			d, _ := NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
			r := rand.New(rand.NewPCG(1, 1))
			x := randSlice[float32](r, d.InLen())
			gx := make([]float32, d.InLen())
			gy := randSlice[float32](r, d.OutLen())
			w := randSlice[float32](r, d.WeightLen())
			gw := make([]float32, d.WeightLen())
			gb := make([]float32, d.C)
			b.ReportAllocs()
			for b.Loop() {
				d.Backward(gx, gw, gb, x, w, gy)
			}
			// Backward does twice the forward's multiply-adds (gw and gx).
			b.ReportMetric(float64(d.MACs())*4*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
