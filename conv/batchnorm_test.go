package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type bnCase struct {
	n, h, w, c int
	eps, mom   float32
	offset     float32 // added to every input, to test a large mean
}

func (bc bnCase) String() string {
	return fmt.Sprintf("n%d_%dx%dx%d_eps%g_mom%g_off%g", bc.n, bc.h, bc.w, bc.c, bc.eps, bc.mom, bc.offset)
}

// bnMobile are batch norms after each depthwise layer of a mobile-style
// network at 64×64 input, batch 1.
var bnMobile = []bnCase{
	{1, 32, 32, 32, 1e-5, 0.1, 0}, {1, 16, 16, 64, 1e-5, 0.1, 0},
	{1, 8, 8, 128, 1e-5, 0.1, 0}, {1, 4, 4, 256, 1e-5, 0.1, 0},
}

func bnCases() []bnCase {
	return append([]bnCase{
		{1, 1, 2, 1, 1e-5, 0.1, 0}, {4, 5, 5, 8, 1e-5, 0.1, 0}, {2, 7, 6, 3, 1e-3, 0.3, 0},
		{16, 1, 1, 64, 1e-5, 0.1, 0}, {3, 3, 5, 65, 1e-5, 0.1, 0}, {2, 4, 3, 130, 1e-5, 0.5, 0},
		{2, 9, 9, 7, 1e-5, 0.1, 100}, {1, 3, 1, 200, 1e-2, 1, 0}, {2, 2, 2, 5, 1e-5, 0, -3},
	}, bnMobile...)
}

// bnParams returns random gamma, beta and running statistics (variance
// positive) for c channels.
func bnParams(r *rand.Rand, c int) (gamma, beta, rm, rv []float32) {
	gamma, beta, rm = randSlice[float32](r, c), randSlice[float32](r, c), randSlice[float32](r, c)
	rv = make([]float32, c)
	for i := range rv {
		rv[i] = 0.1 + 2*r.Float32()
	}
	return gamma, beta, rm, rv
}

func TestBatchNormAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, bc := range bnCases() {
		t.Run(bc.String(), func(t *testing.T) {
			bn := BatchNorm{C: bc.c, Eps: bc.eps, Momentum: bc.mom}
			x := randSlice[float32](r, bc.n*bc.h*bc.w*bc.c)
			for i := range x {
				x[i] = x[i]*1.5 + bc.offset
			}
			gamma, beta, rm, rv := bnParams(r, bc.c)
			gy := randSlice[float32](r, len(x))
			if got := bn.Pixels(x); got != bc.n*bc.h*bc.w {
				t.Fatalf("Pixels = %d, want %d", got, bc.n*bc.h*bc.w)
			}

			// Training forward.
			y := newGuarded(len(x), nil)
			grm := newGuarded(bc.c, func(i int) float32 { return rm[i] })
			grv := newGuarded(bc.c, func(i int) float32 { return rv[i] })
			sm := newGuarded(bc.c, nil)
			si := newGuarded(bc.c, nil)
			bn.TrainForward(y.s(), x, gamma, beta, grm.s(), grv.s(), sm.s(), si.s())
			for name, g := range map[string]guardedBuf{"y": y, "runMean": grm, "runVar": grv, "saveMean": sm, "saveInvStd": si} {
				g.intact(t, name)
			}
			wy := make([]float64, len(x))
			wrm, wrv := to64(rm), to64(rv)
			wsm, wsi := make([]float64, bc.c), make([]float64, bc.c)
			BatchNormTrainForwardRef(bn, wy, to64(x), to64(gamma), to64(beta), wrm, wrv, wsm, wsi)
			closeTo(t, "y", y.s(), wy, 1e-5)
			closeTo(t, "runMean", grm.s(), wrm, 1e-6)
			closeTo(t, "runVar", grv.s(), wrv, 1e-6)
			closeTo(t, "saveMean", sm.s(), wsm, 1e-6)
			closeTo(t, "saveInvStd", si.s(), wsi, 1e-6)

			// Training backward, then again without gx and in place.
			gx := newGuarded(len(x), func(int) float32 { return 9 })
			gg := newGuarded(bc.c, func(int) float32 { return 0.5 })
			gbt := newGuarded(bc.c, func(int) float32 { return -1 })
			bn.Backward(gx.s(), gg.s(), gbt.s(), x, gamma, sm.s(), si.s(), gy)
			for name, g := range map[string]guardedBuf{"gx": gx, "ggamma": gg, "gbeta": gbt} {
				g.intact(t, name)
			}
			wgx := make([]float64, len(x))
			wgg, wgb := make([]float64, bc.c), make([]float64, bc.c)
			for i := range wgg {
				wgg[i], wgb[i] = 0.5, -1
			}
			BatchNormBackwardRef(bn, wgx, wgg, wgb, to64(x), to64(gamma), wsm, wsi, to64(gy))
			closeTo(t, "gx", gx.s(), wgx, 1e-5)
			closeTo(t, "ggamma", gg.s(), wgg, 1e-5)
			closeTo(t, "gbeta", gbt.s(), wgb, 1e-5)

			gg2, gb2 := make([]float32, bc.c), make([]float32, bc.c)
			bn.Backward(nil, gg2, gb2, x, gamma, sm.s(), si.s(), gy)
			for i := range wgg {
				wgg[i] -= 0.5
				wgb[i] += 1
			}
			closeTo(t, "ggamma (no gx)", gg2, wgg, 1e-5)
			closeTo(t, "gbeta (no gx)", gb2, wgb, 1e-5)
			inPlace := append([]float32(nil), gy...)
			bn.Backward(inPlace, gg2, gb2, x, gamma, sm.s(), si.s(), inPlace)
			closeTo(t, "gx (in place)", inPlace, wgx, 1e-5)

			// Inference, out of place and in place.
			yi := newGuarded(len(x), nil)
			bn.InferForward(yi.s(), x, gamma, beta, rm, rv)
			yi.intact(t, "y (inference)")
			wyi := make([]float64, len(x))
			BatchNormInferForwardRef(bn, wyi, to64(x), to64(gamma), to64(beta), to64(rm), to64(rv))
			closeTo(t, "y (inference)", yi.s(), wyi, 1e-5)
			xi := append([]float32(nil), x...)
			bn.InferForward(xi, xi, gamma, beta, rm, rv)
			closeTo(t, "y (inference in place)", xi, wyi, 1e-5)
		})
	}
}

// TestBatchNormReLUFused checks TrainForwardReLU against TrainForward and
// ReLU, and BackwardReLU against ReLUBackward and Backward: the statistics
// bit for bit, gy left as it was; the outputs, the input gradient (into
// its own buffer or in place) and the parameter gradients within 1e-5 of
// the largest value; no write outside the outputs (NaN guard bands) and
// the workspace.
func TestBatchNormReLUFused(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, bc := range bnCases() {
		t.Run(bc.String(), func(t *testing.T) {
			bn := BatchNorm{C: bc.c, Eps: bc.eps, Momentum: bc.mom}
			x := randSlice[float32](r, bc.n*bc.h*bc.w*bc.c)
			for i := range x {
				x[i] = x[i]*1.5 + bc.offset
			}
			gamma, beta, rm, rv := bnParams(r, bc.c)
			gy := randSlice[float32](r, len(x))
			c := bc.c

			// Separate: batch norm, ReLU in place; ReLU backward in place,
			// batch norm backward.
			y := make([]float32, len(x))
			rm1, rv1 := append([]float32(nil), rm...), append([]float32(nil), rv...)
			sm1, si1 := make([]float32, c), make([]float32, c)
			bn.TrainForward(y, x, gamma, beta, rm1, rv1, sm1, si1)
			ReLU(y, y)
			g := append([]float32(nil), gy...)
			ReLUBackward(g, g, y)
			gx := make([]float32, len(x))
			gg, gb := make([]float32, c), make([]float32, c)
			bn.Backward(gx, gg, gb, x, gamma, sm1, si1, g)

			// Fused.
			work := newGuarded(bn.WorkLen(), nil)
			fy := newGuarded(len(x), nil)
			rm2, rv2 := append([]float32(nil), rm...), append([]float32(nil), rv...)
			sm2, si2 := newGuarded(c, nil), newGuarded(c, nil)
			bn.TrainForwardReLU(fy.s(), x, gamma, beta, rm2, rv2, sm2.s(), si2.s(), work.s())
			closeTo(t, "y", fy.s(), to64(y), 1e-5)
			fgx := newGuarded(len(x), nil)
			fgg, fgb := newGuarded(c, func(int) float32 { return 0 }), newGuarded(c, func(int) float32 { return 0 })
			fgy := append([]float32(nil), gy...)
			// The separate pass's y decides the ReLU's mask, so that both
			// pass the same gradients.
			bn.BackwardReLU(fgx.s(), fgg.s(), fgb.s(), x, gamma, sm2.s(), si2.s(), fgy, y, work.s())
			for name, gb := range map[string]guardedBuf{"y": fy, "saveMean": sm2, "saveInvStd": si2, "gx": fgx, "ggamma": fgg, "gbeta": fgb, "work": work} {
				gb.intact(t, name)
			}
			closeTo(t, "gx", fgx.s(), to64(gx), 1e-5)
			closeTo(t, "ggamma", fgg.s(), to64(gg), 1e-5)
			closeTo(t, "gbeta", fgb.s(), to64(gb), 1e-5)
			for name, p := range map[string][2][]float32{
				"runMean": {rm2, rm1}, "runVar": {rv2, rv1}, "saveMean": {sm2.s(), sm1}, "saveInvStd": {si2.s(), si1},
				"gy (left as it was)": {fgy, gy},
			} {
				sameBits(t, name, p[0], p[1])
			}

			// In place (gx = gy).
			inPlace := append([]float32(nil), gy...)
			clear(fgg.s())
			clear(fgb.s())
			bn.BackwardReLU(inPlace, fgg.s(), fgb.s(), x, gamma, sm2.s(), si2.s(), inPlace, y, work.s())
			closeTo(t, "gx (in place)", inPlace, to64(gx), 1e-5)
		})
	}
}

// sameBits fails unless got and want hold the same float32 bit patterns.
func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v bit for bit", name, i, got[i], want[i])
		}
	}
}

// TestBatchNormGradientFiniteDifferences checks the float64 reference
// gradient, through the batch statistics, against central differences of
// L = Σ y*gy in training mode.
func TestBatchNormGradientFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, bc := range []bnCase{{2, 3, 2, 3, 1e-5, 0.1, 0}, {1, 2, 1, 4, 1e-3, 0.1, 0}, {3, 2, 3, 2, 1e-5, 0.1, 5}} {
		t.Run(bc.String(), func(t *testing.T) {
			bn := BatchNorm{C: bc.c, Eps: bc.eps, Momentum: bc.mom}
			x := randSlice[float64](r, bc.n*bc.h*bc.w*bc.c)
			for i := range x {
				x[i] += float64(bc.offset)
			}
			gamma, beta := randSlice[float64](r, bc.c), randSlice[float64](r, bc.c)
			gy := randSlice[float64](r, len(x))
			y := make([]float64, len(x))
			rm, rv := make([]float64, bc.c), make([]float64, bc.c)
			sm, si := make([]float64, bc.c), make([]float64, bc.c)
			loss := func() float64 {
				BatchNormTrainForwardRef(bn, y, x, gamma, beta, rm, rv, sm, si)
				s := 0.0
				for i := range y {
					s += y[i] * gy[i]
				}
				return s
			}
			loss()
			gx := make([]float64, len(x))
			gg, gb := make([]float64, bc.c), make([]float64, bc.c)
			BatchNormBackwardRef(bn, gx, gg, gb, x, gamma, sm, si, gy)
			finiteDiff(t, "x", x, gx, loss)
			finiteDiff(t, "gamma", gamma, gg, loss)
			finiteDiff(t, "beta", beta, gb, loss)
		})
	}
}

// TestFoldBatchNorm checks that a convolution followed by an inference-mode
// batch norm equals the convolution with the batch norm folded in.
func TestFoldBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	const n, eps = 2, 1e-5
	t.Run("conv2d", func(t *testing.T) {
		c, _ := NewConv2D(9, 7, 5, 12, 3, 1, 1)
		x := randSlice[float32](r, n*c.InLen())
		w, b := randSlice[float32](r, c.WeightLen()), randSlice[float32](r, c.OutC)
		gamma, beta, rm, rv := bnParams(r, c.OutC)
		work := make([]float32, c.WorkLen())
		y := make([]float32, n*c.OutLen())
		c.Forward(y, x, w, b, work)
		NewBatchNorm(c.OutC).InferForward(y, y, gamma, beta, rm, rv)
		FoldBatchNorm(w, b, gamma, beta, rm, rv, eps)
		yf := make([]float32, len(y))
		c.Forward(yf, x, w, b, work)
		closeTo(t, "folded", yf, to64(y), 1e-5)
	})
	t.Run("depthwise", func(t *testing.T) {
		d, _ := NewDepthwiseConv2D(8, 9, 16, 3, 2, 1)
		x := randSlice[float32](r, n*d.InLen())
		w, b := randSlice[float32](r, d.WeightLen()), randSlice[float32](r, d.C)
		gamma, beta, rm, rv := bnParams(r, d.C)
		y := make([]float32, n*d.OutLen())
		d.Forward(y, x, w, b)
		NewBatchNorm(d.C).InferForward(y, y, gamma, beta, rm, rv)
		FoldBatchNorm(w, b, gamma, beta, rm, rv, eps)
		yf := make([]float32, len(y))
		d.Forward(yf, x, w, b)
		closeTo(t, "folded", yf, to64(y), 1e-5)
	})
}

func ExampleFoldBatchNorm() {
	// A 1×1 convolution from 2 channels to 1: y = 2*x0 + 3*x1 + 1,
	// followed by a batch norm with mean 1, variance 4, gamma 2, beta 0.5
	// (and eps 0): y' = (y-1)/2*2 + 0.5 = y - 0.5.
	w := []float32{2, 3}
	b := []float32{1}
	FoldBatchNorm(w, b, []float32{2}, []float32{0.5}, []float32{1}, []float32{4}, 0)
	fmt.Println(w, b)
	// Output: [2 3] [0.5]
}

func TestBatchNormPanicsOnWrongLengths(t *testing.T) {
	bn := NewBatchNorm(3)
	x := make([]float32, 12)
	c3 := make([]float32, 3)
	c2 := make([]float32, 2)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial pixel", func() { bn.InferForward(x[1:], x[1:], c3, c3, c3, c3) }},
		{"empty", func() { bn.InferForward(nil, nil, c3, c3, c3, c3) }},
		{"zero channels", func() { BatchNorm{}.Pixels(x) }},
		{"short output", func() { bn.InferForward(x[3:], x, c3, c3, c3, c3) }},
		{"short gamma", func() { bn.InferForward(x, x, c2, c3, c3, c3) }},
		{"one pixel in training", func() { bn.TrainForward(x[:3], x[:3], c3, c3, c3, c3, c3, c3) }},
		{"short saved statistics", func() { bn.TrainForward(x, x, c3, c3, c3, c3, c3, c2) }},
		{"short output gradient", func() { bn.Backward(x, c3, c3, x, c3, c3, c3, x[3:]) }},
		{"short workspace", func() {
			bn.TrainForwardReLU(x, make([]float32, 12), c3, c3, c3, c3, c3, c3, make([]float32, bn.WorkLen()-1))
		}},
		{"short ReLU output", func() { bn.BackwardReLU(x, c3, c3, x, c3, c3, c3, x, x[3:], make([]float32, bn.WorkLen())) }},
		{"short input gradient", func() { bn.Backward(x[3:], c3, c3, x, c3, c3, c3, x) }},
		{"fold: weights not whole channels", func() { FoldBatchNorm(x[1:], c3, c3, c3, c3, c3, 1e-5) }},
		{"fold: short variance", func() { FoldBatchNorm(x, c3, c3, c3, c3, c2, 1e-5) }},
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

func TestBatchNormZeroAllocs(t *testing.T) {
	bn := NewBatchNorm(130) // three channel blocks
	x := make([]float32, 2*5*5*bn.C)
	for i := range x {
		x[i] = float32(i % 7)
	}
	y := make([]float32, len(x))
	gx := make([]float32, len(x))
	work := make([]float32, bn.WorkLen())
	p := make([][]float32, 8)
	for i := range p {
		p[i] = make([]float32, bn.C)
		for j := range p[i] {
			p[i][j] = 1
		}
	}
	for name, f := range map[string]func(){
		"TrainForward":     func() { bn.TrainForward(y, x, p[0], p[1], p[2], p[3], p[4], p[5]) },
		"InferForward":     func() { bn.InferForward(y, y, p[0], p[1], p[2], p[3]) },
		"Backward":         func() { bn.Backward(y, p[6], p[7], x, p[0], p[4], p[5], y) },
		"TrainForwardReLU": func() { bn.TrainForwardReLU(y, x, p[0], p[1], p[2], p[3], p[4], p[5], work) },
		"BackwardReLU":     func() { bn.BackwardReLU(y, p[6], p[7], x, p[0], p[4], p[5], y, x, work) },
		"BackwardReLU, gx": func() { bn.BackwardReLU(gx, p[6], p[7], x, p[0], p[4], p[5], y, x, work) },
		"FoldBatchNorm":    func() { FoldBatchNorm(x, p[7], p[0], p[1], p[2], p[3], 1e-5) },
	} {
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%s allocates %v times per call", name, a)
		}
	}
}

// bnBench runs f over the mobile-network sizes with random activations
// and parameters, reporting bytes of activations processed per second.
func bnBench(b *testing.B, f func(bn BatchNorm, x, y []float32, p [][]float32)) {
	for _, bc := range bnMobile {
		b.Run(fmt.Sprintf("n%d_%dx%dx%d", bc.n, bc.h, bc.w, bc.c), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			bn := NewBatchNorm(bc.c)
			x := randSlice[float32](r, bc.n*bc.h*bc.w*bc.c)
			y := randSlice[float32](r, len(x))
			p := make([][]float32, 8)
			gamma, beta, rm, rv := bnParams(r, bc.c)
			p[0], p[1], p[2], p[3] = gamma, beta, rm, rv
			for i := 4; i < len(p); i++ {
				p[i] = randSlice[float32](r, bc.c)
			}
			for j := range p[5] {
				p[5][j] = 1 + p[5][j]*p[5][j] // a positive inverse std
			}
			b.SetBytes(int64(4 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				f(bn, x, y, p)
			}
		})
	}
}

func BenchmarkBatchNormTrainForward(b *testing.B) {
	bnBench(b, func(bn BatchNorm, x, y []float32, p [][]float32) {
		bn.TrainForward(y, x, p[0], p[1], p[2], p[3], p[4], p[5])
	})
}

func BenchmarkBatchNormInferForward(b *testing.B) {
	bnBench(b, func(bn BatchNorm, x, y []float32, p [][]float32) {
		bn.InferForward(y, x, p[0], p[1], p[2], p[3])
	})
}

func BenchmarkBatchNormBackward(b *testing.B) {
	bnBench(b, func(bn BatchNorm, x, y []float32, p [][]float32) {
		bn.Backward(y, p[6], p[7], x, p[0], p[4], p[5], x) // gy = x
	})
}

func BenchmarkBatchNormTrainForwardReLU(b *testing.B) {
	var work []float32
	bnBench(b, func(bn BatchNorm, x, y []float32, p [][]float32) {
		if len(work) < bn.WorkLen() {
			work = make([]float32, bn.WorkLen())
		}
		bn.TrainForwardReLU(y, x, p[0], p[1], p[2], p[3], p[4], p[5], work)
	})
}

func BenchmarkBatchNormBackwardReLU(b *testing.B) {
	var work, gx []float32
	bnBench(b, func(bn BatchNorm, x, y []float32, p [][]float32) {
		if len(work) < bn.WorkLen() {
			work = make([]float32, bn.WorkLen())
		}
		if len(gx) != len(x) {
			gx = make([]float32, len(x))
		}
		bn.BackwardReLU(gx, p[6], p[7], x, p[0], p[4], p[5], y, x, work) // ReLU output x
	})
}
