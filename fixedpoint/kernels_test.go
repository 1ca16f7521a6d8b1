package fixedpoint

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"catd/conv"
)

// guard is how many sentinels surround every output buffer in the tests;
// sentinel is their value (int8 has no NaN).
const (
	guard    = 7
	sentinel = int8(0x5a)
)

type guarded[T int8 | int32] struct {
	all []T
	n   int
}

func newGuarded[T int8 | int32](n int) guarded[T] {
	g := guarded[T]{all: make([]T, n+2*guard), n: n}
	for i := range g.all {
		g.all[i] = T(sentinel)
	}
	return g
}

func (g guarded[T]) s() []T { return g.all[guard : guard+g.n : guard+g.n] }

func (g guarded[T]) intact(t *testing.T, name string) {
	t.Helper()
	for i := range guard {
		if g.all[i] != T(sentinel) || g.all[guard+g.n+i] != T(sentinel) {
			t.Fatalf("%s: guard band overwritten", name)
		}
	}
}

func sameInt8(t *testing.T, name string, got, want []int8) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %d, want %d", name, i, got[i], want[i])
		}
	}
}

// randRequant draws an output stage for ch channels: per channel or per
// tensor, multipliers from tiny to above 1 (so outputs saturate), random
// zero point and clamp.
func randRequant(r *rand.Rand, ch, k int) requantParams {
	n := ch
	if r.IntN(4) == 0 {
		n = 1
	}
	q := requantParams{Mult: make([]int32, n), Shift: make([]int, n), ZP: int32(r.IntN(256) - 128), Min: -128, Max: 127}
	for i := range n {
		// Around 1/(64k) of the accumulator range, times 2^[-4, 8).
		q.Mult[i], q.Shift[i] = quantizeMultiplier(math.Ldexp(1+r.Float64(), r.IntN(12)-4) / float64(64*k))
	}
	switch r.IntN(3) {
	case 0: // fused ReLU
		q.Min = int8(q.ZP)
	case 1:
		q.Min, q.Max = int8(-100+r.IntN(50)), int8(50+r.IntN(50))
	}
	return q
}

// extremeInt8s draws int8s, a quarter of them at -128 or 127.
func extremeInt8s(r *rand.Rand, n, lo int) []int8 {
	s := randInt8s(r, n, lo, 127)
	for i := range s {
		switch r.IntN(8) {
		case 0:
			s[i] = int8(lo)
		case 1:
			s[i] = 127
		}
	}
	return s
}

func TestConv2DAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := append([]convCase{}, catnet64...)
	cases = append(cases, []convCase{
		{1, 1, 1, 1, 1, 1, 1, 0}, {3, 5, 7, 4, 5, 1, 1, 0}, {1, 9, 9, 5, 2, 2, 2, 0}, {2, 11, 6, 4, 3, 5, 2, 2},
		{1, 4, 4, 2, 3, 3, 2, 2}, {1, 7, 3, 1, 9, 3, 3, 1}, {2, 6, 5, 3, 7, 1, 2, 0}, {1, 3, 3, 300, 3, 3, 1, 1},
	}...)
	for range 40 {
		k := 1 + r.IntN(5)
		p := r.IntN(min(k, 3))
		cases = append(cases, convCase{1 + r.IntN(3), k + r.IntN(10), k + r.IntN(10), 1 + r.IntN(9), 1 + r.IntN(19), k, 1 + r.IntN(3), p})
	}
	for _, cc := range cases {
		t.Run(cc.String(), func(t *testing.T) {
			g, err := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			if err != nil {
				t.Fatal(err)
			}
			k := g.KH * g.KW * g.InC
			w := extremeInt8s(r, g.WeightLen(), -127)
			var b []int32
			if r.IntN(5) > 0 {
				b = make([]int32, g.OutC)
				for i := range b {
					b[i] = int32(r.IntN(1<<20) - 1<<19)
				}
			}
			inZP := int32(r.IntN(256) - 128)
			out := randRequant(r, g.OutC, k)
			l, err := newConv2D(g, w, b, inZP, out)
			if err != nil {
				t.Fatal(err)
			}
			x := extremeInt8s(r, cc.n*g.InLen(), -128)
			y := newGuarded[int8](cc.n * g.OutLen())
			work := newGuarded[int8](l.WorkLen())
			l.Forward(y.s(), x, work.s())
			y.intact(t, "y")
			work.intact(t, "work")
			want := make([]int8, y.n)
			Conv2DRef(g, cc.n, want, x, w, b, inZP, out)
			sameInt8(t, "y", y.s(), want)
		})
	}
}

// TestConv2DAccumulatorWraps checks that a convolution whose int32
// accumulator overflows still matches TFLite, which wraps: the folded bias
// and the packed lanes are exact modulo 2^32.
func TestConv2DAccumulatorWraps(t *testing.T) {
	g, _ := conv.NewConv2D(2, 2, 4, 3, 1, 1, 0)
	w := []int8{127, 127, 127, 127, -127, -127, -127, -127, 1, -1, 1, -1}
	b := []int32{math.MaxInt32 - 100, math.MinInt32 + 100, math.MaxInt32}
	out := requantParams{Mult: []int32{1 << 30}, Shift: []int{-20}, Min: -128, Max: 127}
	l, err := newConv2D(g, w, b, -128, out)
	if err != nil {
		t.Fatal(err)
	}
	x := []int8{127, 127, 127, 127, -128, -128, -128, -128, 0, 1, 2, 3, 127, -128, 127, -128}
	y := make([]int8, 12)
	l.Forward(y, x, nil)
	want := make([]int8, 12)
	Conv2DRef(g, 1, want, x, w, b, -128, out)
	sameInt8(t, "y", y, want)
}

func TestDepthwiseAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type dwCase struct{ n, h, w, c, k, s, p int }
	cases := []dwCase{{1, 32, 32, 16, 3, 1, 1}, {2, 7, 5, 3, 3, 2, 1}, {1, 1, 1, 1, 1, 1, 0}, {1, 9, 9, 5, 5, 2, 2}, {3, 4, 6, 2, 3, 3, 2}}
	for range 30 {
		k := 1 + r.IntN(5)
		cases = append(cases, dwCase{1 + r.IntN(2), k + r.IntN(8), k + r.IntN(8), 1 + r.IntN(20), k, 1 + r.IntN(3), r.IntN(min(k, 3))})
	}
	for _, dc := range cases {
		t.Run(convCase{dc.n, dc.h, dc.w, dc.c, dc.c, dc.k, dc.s, dc.p}.String(), func(t *testing.T) {
			g, err := conv.NewDepthwiseConv2D(dc.h, dc.w, dc.c, dc.k, dc.s, dc.p)
			if err != nil {
				t.Fatal(err)
			}
			w := extremeInt8s(r, g.WeightLen(), -127)
			b := make([]int32, g.C)
			for i := range b {
				b[i] = int32(r.IntN(1<<16) - 1<<15)
			}
			inZP := int32(r.IntN(256) - 128)
			out := randRequant(r, g.C, g.K*g.K)
			l, err := newDepthwiseConv2D(g, w, b, inZP, out)
			if err != nil {
				t.Fatal(err)
			}
			x := extremeInt8s(r, dc.n*g.InLen(), -128)
			y := newGuarded[int8](dc.n * g.OutLen())
			work := newGuarded[int32](l.WorkLen())
			l.Forward(y.s(), x, work.s())
			y.intact(t, "y")
			work.intact(t, "work")
			want := make([]int8, y.n)
			DepthwiseConv2DRef(g, dc.n, want, x, w, b, inZP, out)
			sameInt8(t, "y", y.s(), want)
		})
	}
}

func TestMaxPool2AndGlobalAvgPool(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, h, w, c int }{{1, 2, 2, 1}, {1, 8, 8, 32}, {2, 7, 9, 5}, {1, 5, 4, 64}, {3, 3, 3, 2}, {1, 1, 1, 3}, {2, 6, 6, 7}} {
		t.Run(convCase{n: tc.n, h: tc.h, w: tc.w, c: tc.c}.String(), func(t *testing.T) {
			x := extremeInt8s(r, tc.n*tc.h*tc.w*tc.c, -128)
			if tc.h >= 2 && tc.w >= 2 {
				p := maxPool2{H: tc.h, W: tc.w, C: tc.c}
				y := newGuarded[int8](tc.n * p.OutLen())
				p.Forward(y.s(), x)
				y.intact(t, "max pool")
				want := make([]int8, y.n)
				MaxPool2Ref(p, tc.n, want, x)
				sameInt8(t, "max pool", y.s(), want)
			}
			for _, sc := range []struct{ in, out float64 }{{0.1, 0.1}, {0.1, 0.05}, {0.02, 0.1}, {1, 0.003}} {
				g, err := newGlobalAvgPool(tc.h, tc.w, tc.c, sc.in, int32(r.IntN(256)-128), sc.out, int32(r.IntN(256)-128))
				if err != nil {
					t.Fatal(err)
				}
				y := newGuarded[int8](tc.n * tc.c)
				work := newGuarded[int32](tc.c)
				g.Forward(y.s(), x, work.s())
				y.intact(t, "average pool")
				want := make([]int8, y.n)
				GlobalAvgPoolRef(g, tc.n, want, x)
				sameInt8(t, "average pool", y.s(), want)
			}
		})
	}
	// Equal scales: the average of the codes, rounded half away from zero.
	g, _ := newGlobalAvgPool(1, 2, 1, 0.5, 0, 0.5, 0)
	y := make([]int8, 1)
	for _, tc := range []struct{ a, b, want int8 }{{1, 2, 2}, {-1, -2, -2}, {-1, 2, 1}, {127, 127, 127}, {-128, -127, -128}} {
		g.Forward(y, []int8{tc.a, tc.b}, make([]int32, 1))
		if y[0] != tc.want {
			t.Errorf("mean of %d and %d = %d, want %d", tc.a, tc.b, y[0], tc.want)
		}
	}
}

func TestDenseAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, in, out int }{{1, 64, 1}, {3, 64, 10}, {2, 1, 1}, {1, 7, 5}, {4, 300, 3}} {
		t.Run(convCase{n: tc.n, c: tc.in, oc: tc.out}.String(), func(t *testing.T) {
			w := extremeInt8s(r, tc.in*tc.out, -127)
			b := make([]int32, tc.out)
			for i := range b {
				b[i] = int32(r.IntN(1<<16) - 1<<15)
			}
			inZP := int32(r.IntN(256) - 128)
			out := randRequant(r, tc.out, tc.in)
			d, err := newDense(tc.in, tc.out, w, b, inZP, out)
			if err != nil {
				t.Fatal(err)
			}
			x := extremeInt8s(r, tc.n*tc.in, -128)
			y := newGuarded[int8](tc.n * tc.out)
			d.Forward(y.s(), x)
			y.intact(t, "y")
			want := make([]int8, y.n)
			DenseRef(tc.in, tc.out, tc.n, want, x, w, b, inZP, out)
			sameInt8(t, "y", y.s(), want)
		})
	}
}

// TestConv2DMatchesFloat quantizes a float convolution (per-channel
// symmetric weights, asymmetric activations, int32 bias) and checks that
// the int8 result is within 1 LSB of the float32 convolution of package
// conv run on the dequantized input and weights and quantized to the
// output's scale: the only differences are the bias rounding (1/2 of an
// accumulator unit), the multiplier's 2^-31 relative error and the double
// rounding of multiplyByQuantizedMultiplier, together below one output LSB.
func TestConv2DMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, cc := range append(catnet64, convCase{2, 9, 7, 5, 6, 3, 2, 1}, convCase{1, 6, 6, 4, 4, 5, 1, 2}) {
		t.Run(cc.String(), func(t *testing.T) {
			g, _ := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			k := g.KH * g.KW * g.InC
			// Float model: input in [-1, 3), weights N(0, 1/k), bias N(0, 0.1).
			const inScale, inZP = 4.0 / 255, -96 // real 0 at code -96: [-1.25, 2.75]
			xf := make([]float32, cc.n*g.InLen())
			for i := range xf {
				xf[i] = float32(r.Float64()*4 - 1)
			}
			xq := make([]int8, len(xf))
			quantize(xq, xf, inScale, inZP)
			wOHWI := make([]int8, g.WeightLen())
			wScale := make([]float64, g.OutC)
			wf := make([]float32, g.WeightLen()) // dequantized, HWIO for package conv
			bq := make([]int32, g.OutC)
			bf := make([]float32, g.OutC)
			for o := range g.OutC {
				ws := make([]float64, k)
				amax := 0.0
				for t := range ws {
					ws[t] = r.NormFloat64() / math.Sqrt(float64(k))
					amax = max(amax, math.Abs(ws[t]))
				}
				wScale[o] = amax / 127
				for t, v := range ws {
					q := int8(math.Round(v / wScale[o]))
					wOHWI[o*k+t] = q
					wf[t*g.OutC+o] = float32(float64(q) * wScale[o]) // HWIO index (ky,kx,ic) = t
				}
				bq[o] = int32(math.Round(r.NormFloat64() * 0.1 / (inScale * wScale[o])))
				bf[o] = float32(float64(bq[o]) * inScale * wScale[o])
			}
			xd := make([]float32, len(xq))
			dequantize(xd, xq, inScale, inZP)
			yf := make([]float32, cc.n*g.OutLen())
			g.Forward(yf, xd, wf, bf, make([]float32, g.WorkLen()))
			lo, hi := float32(0), float32(0)
			for _, v := range yf {
				lo, hi = min(lo, v), max(hi, v)
			}
			outScale := float64(hi-lo) / 255
			outZP := int32(-128 - math.Round(float64(lo)/outScale))
			rq := requantParams{Mult: make([]int32, g.OutC), Shift: make([]int, g.OutC), ZP: outZP, Min: -128, Max: 127}
			for o := range g.OutC {
				rq.Mult[o], rq.Shift[o] = quantizeMultiplier(inScale * wScale[o] / outScale)
			}
			l, err := newConv2D(g, wOHWI, bq, inZP, rq)
			if err != nil {
				t.Fatal(err)
			}
			y := make([]int8, len(yf))
			l.Forward(y, xq, make([]int8, l.WorkLen()))
			worst := 0.0
			for i, v := range yf {
				d := math.Abs(float64(y[i]) - (float64(v)/outScale + float64(outZP)))
				worst = max(worst, d)
			}
			// Within 1 LSB of the unrounded float result means the codes
			// differ from the rounded float result by at most 1.
			if worst > 1 {
				t.Errorf("int8 result off the float32 result by %.3f LSB, want at most 1", worst)
			}
			t.Logf("worst difference %.3f LSB (output scale %.4g)", worst, outScale)
		})
	}
}

func TestInputLUT(t *testing.T) {
	mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	// A scale that covers the normalised range [-2.12, 2.64] with zp 0.
	const scale, zp = float32(2.65 / 127), int32(-3)
	var lut [3][256]int8
	fillInputLUT(&lut, mean, std, scale, zp)
	px := make([]uint8, 3*256)
	for i := range px {
		px[i] = uint8(i / 3)
	}
	got := make([]int8, len(px))
	quantizeInput(got, px, &lut)
	for i, v := range px {
		c := i % 3
		f := float32(v)*(1/(255*std[c])) + (-mean[c] / std[c]) // model.Info.NormalizePixels
		if want := quantizeValue(f, scale, zp); got[i] != want {
			t.Fatalf("pixel %d channel %d: %d, want %d", v, c, got[i], want)
		}
	}
	if a := testing.AllocsPerRun(10, func() { quantizeInput(got, px, &lut) }); a != 0 {
		t.Errorf("QuantizeInput allocates %v times per call", a)
	}
}

// TestInputLUTKernel holds quantizeInput (the vector kernel on whole
// blocks of 192 bytes where the CPU has it, Go for the rest) to its Go
// twin over random tables and pixels and lengths around the block size,
// with guard bands around the output.
func TestInputLUTKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	var lut [3][256]int8
	for c := range lut {
		for v := range lut[c] {
			lut[c][v] = int8(r.IntN(256) - 128)
		}
	}
	for _, n := range []int{3, 189, 192, 195, 384, 573, 12288, 12291} {
		px := make([]uint8, n)
		for i := range px {
			px[i] = uint8(r.IntN(256))
		}
		got, want := newGuarded[int8](n), make([]int8, n)
		quantizeInput(got.s(), px, &lut)
		got.intact(t, "dst")
		quantizeInputGo(want, px, &lut)
		sameInt8(t, fmt.Sprintf("%d bytes", n), got.s(), want)
	}
}

func TestKernelsZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	l, x, y, work := benchConv(t, r, convCase{2, 16, 16, 8, 16, 3, 1, 1})
	if a := testing.AllocsPerRun(10, func() { l.Forward(y, x, work) }); a != 0 {
		t.Errorf("Conv2D.Forward allocates %v times per call", a)
	}
	dg, _ := conv.NewDepthwiseConv2D(8, 8, 16, 3, 1, 1)
	d, _ := newDepthwiseConv2D(dg, make([]int8, dg.WeightLen()), nil, 0, requantParams{Mult: []int32{1 << 30}, Shift: []int{0}, Min: -128, Max: 127})
	dy, dx, dw := make([]int8, dg.OutLen()), make([]int8, dg.InLen()), make([]int32, d.WorkLen())
	if a := testing.AllocsPerRun(10, func() { d.Forward(dy, dx, dw) }); a != 0 {
		t.Errorf("DepthwiseConv2D.Forward allocates %v times per call", a)
	}
	p := maxPool2{H: 8, W: 8, C: 16}
	py := make([]int8, p.OutLen())
	if a := testing.AllocsPerRun(10, func() { p.Forward(py, dx) }); a != 0 {
		t.Errorf("MaxPool2.Forward allocates %v times per call", a)
	}
	g, _ := newGlobalAvgPool(8, 8, 16, 0.1, 0, 0.1, 0)
	gy := make([]int8, 16)
	if a := testing.AllocsPerRun(10, func() { g.Forward(gy, dx, dw) }); a != 0 {
		t.Errorf("GlobalAvgPool.Forward allocates %v times per call", a)
	}
	dn, _ := newDense(16, 4, make([]int8, 64), nil, 0, requantParams{Mult: []int32{1 << 30}, Shift: []int{0}, Min: -128, Max: 127})
	ny := make([]int8, 4*4)
	if a := testing.AllocsPerRun(10, func() { dn.Forward(ny, dx[:64]) }); a != 0 {
		t.Errorf("Dense.Forward allocates %v times per call", a)
	}
}

func TestConstructorErrors(t *testing.T) {
	g, _ := conv.NewConv2D(4, 4, 2, 3, 3, 1, 1)
	w := make([]int8, g.WeightLen())
	ok := requantParams{Mult: []int32{1 << 30}, Shift: []int{0}, Min: -128, Max: 127}
	bad := g
	bad.OutH = 5
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"geometry not from conv.NewConv2D", func() error { _, err := newConv2D(bad, w, nil, 0, ok); return err }},
		{"short weights", func() error { _, err := newConv2D(g, w[1:], nil, 0, ok); return err }},
		{"short bias", func() error { _, err := newConv2D(g, w, make([]int32, 2), 0, ok); return err }},
		{"input zero point", func() error { _, err := newConv2D(g, w, nil, 128, ok); return err }},
		{"output zero point", func() error {
			_, err := newConv2D(g, w, nil, 0, requantParams{Mult: []int32{1}, Shift: []int{0}, ZP: -129, Max: 1})
			return err
		}},
		{"two multipliers for three channels", func() error {
			_, err := newConv2D(g, w, nil, 0, requantParams{Mult: []int32{1, 1}, Shift: []int{0, 0}})
			return err
		}},
		{"shift out of range", func() error {
			_, err := newConv2D(g, w, nil, 0, requantParams{Mult: []int32{1}, Shift: []int{32}})
			return err
		}},
		{"negative multiplier", func() error {
			_, err := newConv2D(g, w, nil, 0, requantParams{Mult: []int32{-1}, Shift: []int{0}})
			return err
		}},
		{"empty clamp", func() error {
			_, err := newConv2D(g, w, nil, 0, requantParams{Mult: []int32{1}, Shift: []int{0}, Min: 5, Max: 4})
			return err
		}},
		{"dense weights", func() error { _, err := newDense(4, 2, make([]int8, 7), nil, 0, ok); return err }},
		{"average pool scale", func() error { _, err := newGlobalAvgPool(2, 2, 1, 0, 0, 1, 0); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.HasPrefix(err.Error(), "fixedpoint: ") {
				t.Fatalf("err = %v, want a fixedpoint: error", err)
			}
		})
	}
}

func TestPanicsOnWrongLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	l, x, y, work := benchConv(t, r, convCase{1, 4, 4, 2, 3, 3, 1, 1})
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial image", func() { l.Forward(y, x[1:], work) }},
		{"short output", func() { l.Forward(y[1:], x, work) }},
		{"short workspace", func() { l.Forward(y, x, work[1:]) }},
		{"max pool output", func() { maxPool2{H: 4, W: 4, C: 2}.Forward(y, x) }},
		{"rdpot exponent", func() { roundingDivideByPOT(1, 32) }},
		{"mbqm shift", func() { multiplyByQuantizedMultiplier(1, 1, -32) }},
		{"input lut lengths", func() { quantizeInput(make([]int8, 3), make([]uint8, 4), new([3][256]int8)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "fixedpoint: ") {
					t.Fatalf("panic %q, want one starting with \"fixedpoint: \"", msg)
				}
			}()
			tc.f()
		})
	}
}
