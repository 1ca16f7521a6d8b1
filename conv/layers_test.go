package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"catd/conv/convtest"
)

func TestReLU(t *testing.T) {
	nan := float32(math.NaN())
	x := []float32{-2, -0.5, 0, 0.25, 3, nan}
	y := make([]float32, len(x))
	ReLU(y, x)
	want := []float32{0, 0, 0, 0.25, 3}
	for i, w := range want {
		if y[i] != w {
			t.Errorf("ReLU(%v) = %v, want %v", x[i], y[i], w)
		}
	}
	if !math.IsNaN(float64(y[5])) {
		t.Errorf("ReLU(NaN) = %v, want NaN", y[5])
	}
	gy := []float32{1, 2, 3, 4, 5, 6}
	gx := make([]float32, len(gy))
	ReLUBackward(gx, gy, y)
	for i, w := range []float32{0, 0, 0, 4, 5, 0} {
		if gx[i] != w {
			t.Errorf("ReLUBackward[%d] = %v, want %v", i, gx[i], w)
		}
	}
	// In place.
	ReLU(x, x)
	ReLUBackward(gy, gy, x)
	if x[0] != 0 || x[4] != 3 || gy[3] != 4 || gy[0] != 0 {
		t.Errorf("in-place ReLU gave x=%v gy=%v", x, gy)
	}
}

func TestMaxPool2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ n, h, w, c int }{{1, 2, 2, 1}, {1, 8, 8, 3}, {2, 7, 9, 5}, {1, 5, 4, 64}, {3, 3, 3, 2}, {2, 6, 7, 8}, {1, 5, 6, 13}} {
		t.Run(fmt.Sprintf("n%d_%dx%dx%d", tc.n, tc.h, tc.w, tc.c), func(t *testing.T) {
			p := MaxPool2{H: tc.h, W: tc.w, C: tc.c}
			x := randSlice[float32](r, tc.n*p.InLen())
			y := newGuarded(tc.n*p.OutLen(), nil)
			p.Forward(y.s(), x)
			y.intact(t, "y")
			want := make([]float64, y.n)
			MaxPool2ForwardRef(p, tc.n, want, to64(x))
			closeTo(t, "y", y.s(), want, 0)

			gy := randSlice[float32](r, y.n)
			gx := newGuarded(len(x), nil)
			p.Backward(gx.s(), gy, x)
			gx.intact(t, "gx")
			// Max pooling is piecewise linear: away from ties a small step in
			// one input changes Σ y*gy by exactly step*gradient.
			const h = 1e-3
			for i := range x {
				old := x[i]
				loss := func(v float32) float64 {
					x[i] = v
					p.Forward(y.s(), x)
					s := 0.0
					for j, v := range y.s() {
						s += float64(v) * float64(gy[j])
					}
					return s
				}
				num := (loss(old+h) - loss(old-h)) / float64((old+h)-(old-h))
				x[i] = old
				if d := math.Abs(num - float64(gx.s()[i])); d > 1e-2*max(1, math.Abs(num)) {
					t.Fatalf("gx[%d] = %v, numeric %v", i, gx.s()[i], num)
				}
			}
		})
	}
}

func TestMaxPool2NaNAndTies(t *testing.T) {
	p := MaxPool2{H: 2, W: 2, C: 1}
	y := make([]float32, 1)
	p.Forward(y, []float32{1, float32(math.NaN()), 5, 2})
	if !math.IsNaN(float64(y[0])) {
		t.Errorf("NaN in a window gave %v, want NaN", y[0])
	}
	gx := make([]float32, 4)
	p.Backward(gx, []float32{1}, []float32{3, 3, 1, 3})
	if gx[0] != 1 || gx[1] != 0 || gx[3] != 0 {
		t.Errorf("tie sent gradient %v, want it all on the first maximum", gx)
	}
}

// TestMaxPool2Kernels holds every assembly max-pooling kernel to the Go
// kernel, bit for bit (any NaN for a NaN), over channel counts that leave
// every tail, on inputs full of NaN, infinities and zeros of both signs.
func TestMaxPool2Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	for _, k := range maxPool2Kernels() {
		for c := 1; c <= 40; c++ {
			for _, ow := range []int{1, 2, 5} {
				r0 := randSlice[float32](r, 2*ow*c)
				r1 := randSlice[float32](r, 2*ow*c)
				for _, row := range [][]float32{r0, r1} {
					for i := range row {
						if r.IntN(4) == 0 {
							row[i] = specials[r.IntN(len(specials))]
						}
					}
				}
				want := make([]float32, ow*c)
				maxPool2RowGeneric(want, r0, r1, c, 0)
				got := newGuarded(ow*c, nil)
				k.f(got.s(), r0, r1, c)
				got.intact(t, k.name)
				for i, w := range want {
					g := got.s()[i]
					if w != w && g != g {
						continue
					}
					if math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("%s c=%d ow=%d: d[%d] = %v (%#x), Go gives %v (%#x)", k.name, c, ow, i, g, math.Float32bits(g), w, math.Float32bits(w))
					}
				}
			}
		}
	}
}

// TestMaxPool2BackwardReLU checks the pooling's backward pass fused with
// the ReLU before it against the two passes, bit for bit, on ReLU outputs
// (a quarter of them 0, some windows all 0, ties, NaN and +Inf).
func TestMaxPool2BackwardReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, h, w, c int }{{1, 2, 2, 1}, {1, 8, 8, 3}, {2, 7, 9, 5}, {1, 5, 4, 64}, {3, 3, 3, 2}, {16, 8, 8, 32}} {
		t.Run(fmt.Sprintf("n%d_%dx%dx%d", tc.n, tc.h, tc.w, tc.c), func(t *testing.T) {
			p := MaxPool2{H: tc.h, W: tc.w, C: tc.c}
			x := randSlice[float32](r, tc.n*p.InLen())
			for i := range x {
				switch r.IntN(16) {
				case 0:
					x[i] = float32(math.NaN())
				case 1:
					x[i] = float32(math.Inf(1))
				case 2:
					x[i] = 1 // ties
				}
			}
			ReLU(x, x)
			if len(x) >= 4*tc.c {
				clear(x[:4*tc.c]) // whole windows of zeros
			}
			gy := randSlice[float32](r, tc.n*p.OutLen())
			want := make([]float32, len(x))
			p.Backward(want, gy, x)
			ReLUBackward(want, want, x)
			gx := newGuarded(len(x), func(int) float32 { return 7 })
			y := make([]float32, len(gy))
			p.Forward(y, x)
			p.BackwardReLU(gx.s(), gy, x, y)
			gx.intact(t, "gx")
			for i, v := range gx.s() {
				if math.Float32bits(v) != math.Float32bits(want[i]) {
					t.Fatalf("gx[%d] = %v, want %v (input %v)", i, v, want[i], x[i])
				}
			}
		})
	}
}

// TestMaxPool2BackReLUKernels holds every assembly kernel of
// MaxPool2.BackwardReLU to the Go kernel, bit for bit, over channel counts
// that leave every tail and rows with a column beyond the windows, on ReLU
// outputs with ties, zeros, +Inf and NaN, and maxima that are 0, NaN or
// negative. gx starts full of garbage that every window must overwrite and
// sits between NaN guard bands.
func TestMaxPool2BackReLUKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), 0, 1}
	for _, k := range maxPool2BackKernels() {
		for c := 1; c <= 40; c++ {
			for _, ow := range []int{1, 2, 5} {
				for _, extra := range []int{0, 1} {
					row := (2*ow + extra) * c
					src := randSlice[float32](r, 2*row)
					for i := range src {
						if r.IntN(4) == 0 {
							src[i] = specials[r.IntN(len(specials))]
						}
					}
					ReLU(src, src)
					y := make([]float32, ow*c)
					maxPool2RowGeneric(y, src[:2*ow*c], src[row:row+2*ow*c], c, 0)
					for i := range y {
						if r.IntN(8) == 0 {
							y[i] = []float32{0, float32(math.NaN()), -1}[r.IntN(3)]
						}
					}
					gy := randSlice[float32](r, ow*c)
					want := make([]float32, 2*row)
					maxPool2BackReLURowGeneric(want, src, y, gy, row, c, 0)
					got := newGuarded(2*row, func(int) float32 { return 5 })
					k.f(got.s(), src, y, gy, row, c)
					got.intact(t, k.name)
					for i, w := range want {
						if i%row >= 2*ow*c {
							continue // beyond the windows: not written
						}
						if g := got.s()[i]; math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("%s c=%d ow=%d extra=%d: gx[%d] = %v, Go gives %v", k.name, c, ow, extra, i, g, w)
						}
					}
					for i := range got.s() {
						if i%row >= 2*ow*c && got.s()[i] != 5 {
							t.Fatalf("%s c=%d ow=%d extra=%d: wrote gx[%d] beyond the windows", k.name, c, ow, extra, i)
						}
					}
				}
			}
		}
	}
}

// BenchmarkMaxPool2BackwardReLU times the poolings' backward passes of
// catnet64 at batch 16.
func BenchmarkMaxPool2BackwardReLU(b *testing.B) {
	for _, s := range [][3]int{{64, 64, 8}, {32, 32, 16}, {16, 16, 32}} {
		p := MaxPool2{H: s[0], W: s[1], C: s[2]}
		r := rand.New(rand.NewPCG(1, 2))
		x := randSlice[float32](r, 16*p.InLen())
		y := make([]float32, 16*p.OutLen())
		p.Forward(y, x)
		gy := randSlice[float32](r, len(y))
		gx := make([]float32, len(x))
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.BackwardReLU(gx, gy, x, y)
			}
		})
	}
}

func TestGlobalAvgPool(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, h, w, c int }{{1, 4, 4, 8}, {2, 5, 7, 3}, {1, 1, 1, 64}, {3, 8, 8, 64}} {
		t.Run(fmt.Sprintf("n%d_%dx%dx%d", tc.n, tc.h, tc.w, tc.c), func(t *testing.T) {
			g := GlobalAvgPool{H: tc.h, W: tc.w, C: tc.c}
			x := randSlice[float32](r, tc.n*tc.h*tc.w*tc.c)
			y := newGuarded(tc.n*tc.c, nil)
			g.Forward(y.s(), x)
			y.intact(t, "y")
			want := make([]float64, y.n)
			GlobalAvgPoolForwardRef(g, tc.n, want, to64(x))
			closeTo(t, "y", y.s(), want, 1e-6)

			gy := randSlice[float32](r, y.n)
			gx := newGuarded(len(x), nil)
			g.Backward(gx.s(), gy)
			gx.intact(t, "gx")
			wgx := make([]float64, len(x))
			for i := range wgx {
				n, c := i/(tc.h*tc.w*tc.c), i%tc.c
				wgx[i] = float64(gy[n*tc.c+c]) / float64(tc.h*tc.w)
			}
			closeTo(t, "gx", gx.s(), wgx, 1e-6)
		})
	}
}

func TestDense(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, in, out int }{{1, 64, 1}, {4, 7, 3}, {2, 1, 5}, {16, 64, 1}, {3, 33, 17}} {
		t.Run(fmt.Sprintf("n%d_%dto%d", tc.n, tc.in, tc.out), func(t *testing.T) {
			d := Dense{In: tc.in, Out: tc.out}
			x := randSlice[float32](r, tc.n*tc.in)
			w := randSlice[float32](r, tc.in*tc.out)
			b := randSlice[float32](r, tc.out)
			y := newGuarded(tc.n*tc.out, nil)
			d.Forward(y.s(), x, w, b)
			y.intact(t, "y")
			want := make([]float64, y.n)
			DenseForwardRef(d, tc.n, want, to64(x), to64(w), to64(b))
			closeTo(t, "y", y.s(), want, 1e-5)

			gy := randSlice[float32](r, y.n)
			gx := newGuarded(len(x), nil)
			gw := newGuarded(len(w), func(int) float32 { return 0 })
			gb := newGuarded(len(b), func(int) float32 { return 0 })
			work := newGuarded(d.WorkLen(), nil)
			d.Backward(gx.s(), gw.s(), gb.s(), x, w, gy, work.s())
			for name, g := range map[string]guardedBuf{"gx": gx, "gw": gw, "gb": gb, "work": work} {
				g.intact(t, name)
			}
			wgx := make([]float64, len(x))
			wgw := make([]float64, len(w))
			wgb := make([]float64, len(b))
			DenseBackwardRef(d, tc.n, wgx, wgw, wgb, to64(x), to64(w), to64(gy))
			closeTo(t, "gx", gx.s(), wgx, 1e-5)
			closeTo(t, "gw", gw.s(), wgw, 1e-5)
			closeTo(t, "gb", gb.s(), wgb, 1e-5)
		})
	}
}

func TestDenseGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	d := Dense{In: 5, Out: 3}
	n := 2
	x := randSlice[float64](r, n*d.In)
	w := randSlice[float64](r, d.In*d.Out)
	b := randSlice[float64](r, d.Out)
	gy := randSlice[float64](r, n*d.Out)
	y := make([]float64, len(gy))
	loss := func() float64 {
		DenseForwardRef(d, n, y, x, w, b)
		s := 0.0
		for i := range y {
			s += y[i] * gy[i]
		}
		return s
	}
	gx := make([]float64, len(x))
	gw := make([]float64, len(w))
	gb := make([]float64, len(b))
	DenseBackwardRef(d, n, gx, gw, gb, x, w, gy)
	finiteDiff(t, "x", x, gx, loss)
	finiteDiff(t, "w", w, gw, loss)
	finiteDiff(t, "b", b, gb, loss)
}

func TestLayoutConversionsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	o, i, kh, kw := 4, 3, 2, 5
	src := randSlice[float32](r, o*i*kh*kw)
	hwio := make([]float32, len(src))
	back := make([]float32, len(src))
	OIHWToHWIO(hwio, src, o, i, kh, kw)
	// Element (o=3, i=1, y=1, x=4) of OIHW.
	if got, want := hwio[((1*kw+4)*i+1)*o+3], src[((3*i+1)*kh+1)*kw+4]; got != want {
		t.Fatalf("OIHWToHWIO moved %v, want %v", got, want)
	}
	HWIOToOIHW(back, hwio, o, i, kh, kw)
	for j := range src {
		if back[j] != src[j] {
			t.Fatalf("OIHW round trip differs at %d", j)
		}
	}
	nhwc := make([]float32, len(src))
	convtest.NCHWToNHWC(nhwc, src, 2, 3, 4, 5)
	if got, want := nhwc[((1*4+2)*5+3)*3+1], src[((1*3+1)*4+2)*5+3]; got != want {
		t.Fatalf("NCHWToNHWC moved %v, want %v", got, want)
	}
	convtest.NHWCToNCHW(back, nhwc, 2, 3, 4, 5)
	for j := range src {
		if back[j] != src[j] {
			t.Fatalf("NCHW round trip differs at %d", j)
		}
	}
}

func TestLayersZeroAllocs(t *testing.T) {
	p := MaxPool2{H: 16, W: 16, C: 8}
	g := GlobalAvgPool{H: 8, W: 8, C: 8}
	d := Dense{In: 64, Out: 1}
	x := make([]float32, p.InLen())
	y := make([]float32, p.OutLen())
	gx := make([]float32, p.InLen())
	ga := make([]float32, 8)
	dx := make([]float32, 64)
	dw := make([]float32, 64)
	db := make([]float32, 1)
	dy := make([]float32, 1)
	work := make([]float32, d.WorkLen())
	for name, f := range map[string]func(){
		"ReLU":                  func() { ReLU(x, x) },
		"ReLUBackward":          func() { ReLUBackward(gx, gx, x) },
		"MaxPool2.Forward":      func() { p.Forward(y, x) },
		"MaxPool2.Backward":     func() { p.Backward(gx, y, x) },
		"MaxPool2.BackwardReLU": func() { p.BackwardReLU(gx, y, x, y) },
		"GlobalAvgPool":         func() { g.Forward(ga, y[:512]) },
		"GlobalAvgPool.Back":    func() { g.Backward(y[:512], ga) },
		"Dense.Forward":         func() { d.Forward(dy, dx, dw, db) },
		"Dense.Backward":        func() { d.Backward(dx, dw, db, dx, dw, dy, work) },
	} {
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%s allocates %v times per call", name, a)
		}
	}
}

// BenchmarkMaxPool2 times the poolings of catnet64.
func BenchmarkMaxPool2(b *testing.B) {
	for _, s := range [][3]int{{64, 64, 8}, {32, 32, 16}, {16, 16, 32}} {
		p := MaxPool2{H: s[0], W: s[1], C: s[2]}
		x := make([]float32, p.InLen())
		y := make([]float32, p.OutLen())
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Forward(y, x)
			}
		})
	}
}
