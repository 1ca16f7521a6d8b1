package fixedpoint

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"catd/conv"
	"catd/model"
)

// int8Stack is an architecture built from fixedpoint's layers with random
// weights and quantization parameters: what an int8 catnet64 costs,
// whatever its accuracy.
type int8Stack struct {
	lut    [3][256]int8
	in     []int8
	steps  []func(dst, src []int8)
	bufs   [][]int8
	work8  []int8
	work32 []int32
}

func newInt8Stack(tb testing.TB, a model.Arch, r *rand.Rand) *int8Stack {
	s := &int8Stack{in: make([]int8, a.C*a.H*a.W)}
	fillInputLUT(&s.lut, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}, 2.65/127, -3)
	h, w, c := a.H, a.W, a.C
	zp := int32(-3)
	randW := func(n int) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(r.IntN(255) - 127)
		}
		return v
	}
	requant := func(n, k int, relu bool) requantParams {
		q := requantParams{Mult: make([]int32, n), Shift: make([]int, n), ZP: int32(r.IntN(64) - 128), Min: -128, Max: 127}
		for i := range n {
			q.Mult[i], q.Shift[i] = quantizeMultiplier(0.5 / float64(k) / (1 + r.Float64()))
		}
		if relu {
			q.Min = int8(q.ZP)
		}
		return q
	}
	add := func(n int, f func(dst, src []int8)) {
		s.bufs = append(s.bufs, make([]int8, n))
		s.steps = append(s.steps, f)
	}
	for i, l := range a.Layers {
		relu := i+1 < len(a.Layers) && a.Layers[i+1].Kind == model.ReLU
		switch l.Kind {
		case model.Conv:
			g, err := conv.NewConv2D(h, w, c, l.Out, l.K, l.Stride, l.Pad)
			if err != nil {
				tb.Fatal(err)
			}
			k := g.KH * g.KW * g.InC
			q := requant(g.OutC, k, relu)
			cv, err := newConv2D(g, randW(g.WeightLen()), make([]int32, g.OutC), zp, q)
			if err != nil {
				tb.Fatal(err)
			}
			s.work8 = make([]int8, max(len(s.work8), cv.WorkLen()))
			add(g.OutLen(), func(dst, src []int8) { cv.Forward(dst, src, s.work8) })
			h, w, c, zp = g.OutH, g.OutW, g.OutC, q.ZP
		case model.DWConv:
			g, err := conv.NewDepthwiseConv2D(h, w, c, l.K, l.Stride, l.Pad)
			if err != nil {
				tb.Fatal(err)
			}
			q := requant(c, l.K*l.K, relu)
			d, err := newDepthwiseConv2D(g, randW(g.WeightLen()), make([]int32, c), zp, q)
			if err != nil {
				tb.Fatal(err)
			}
			s.work32 = make([]int32, max(len(s.work32), d.WorkLen()))
			add(g.OutLen(), func(dst, src []int8) { d.Forward(dst, src, s.work32) })
			h, w, zp = g.OutH, g.OutW, q.ZP
		case model.MaxPool:
			p := maxPool2{H: h, W: w, C: c}
			add(p.OutLen(), p.Forward)
			h, w = h/2, w/2
		case model.GlobalAvgPool:
			g, err := newGlobalAvgPool(h, w, c, 0.05, zp, 0.02, -128)
			if err != nil {
				tb.Fatal(err)
			}
			s.work32 = make([]int32, max(len(s.work32), c))
			add(c, func(dst, src []int8) { g.Forward(dst, src, s.work32) })
			h, w, zp = 1, 1, -128
		case model.Dense:
			in := h * w * c
			d, err := newDense(in, l.Out, randW(in*l.Out), make([]int32, l.Out), zp, requant(l.Out, in, false))
			if err != nil {
				tb.Fatal(err)
			}
			add(l.Out, d.Forward)
			h, w, c = 1, 1, l.Out
		case model.ReLU, model.Flatten, model.BatchNorm:
			// Fused into the clamp, a no-op on NHWC, folded into the convolution.
		default:
			tb.Fatalf("layer %d: %s not supported", i, l.Kind)
		}
	}
	return s
}

// forward runs the stack on 8-bit RGB pixels and returns its int8 output.
func (s *int8Stack) forward(px []uint8) []int8 {
	quantizeInput(s.in, px, &s.lut)
	cur := s.in
	for i, f := range s.steps {
		f(s.bufs[i], cur)
		cur = s.bufs[i]
	}
	return cur
}

// BenchmarkNet64 times batch-1 inference of catd's built-in 64×64
// architectures: float32 (model.Net.Predict on normalised input) against
// the same layer stack from this package's int8 kernels (from 8-bit pixels,
// input quantization included). The compare case alternates the two in one
// loop and reports the median of each and their ratio.
func BenchmarkNet64(b *testing.B) {
	for _, name := range []string{"catnet64", "catsep64"} {
		a, err := model.ArchByName(name)
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		net, err := model.New(a, model.Options{MaxBatch: 1})
		if err != nil {
			b.Fatal(err)
		}
		net.Init(r)
		if name == "catsep64" {
			// Inference runs the batch-norm-folded network.
			if net, err = net.Folded(model.Options{MaxBatch: 1}); err != nil {
				b.Fatal(err)
			}
		}
		px := make([]uint8, a.C*a.H*a.W)
		for i := range px {
			px[i] = uint8(r.IntN(256))
		}
		info := model.DefaultInfo(a, name)
		x := make([]float32, len(px))
		info.NormalizePixels(x, px)
		p := make([]float32, 1)
		s := newInt8Stack(b, a, r)

		b.Run(name+"/float32", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				net.Predict(p, x)
			}
		})
		b.Run(name+"/int8", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.forward(px)
			}
		})
		b.Run(name+"/compare", func(b *testing.B) {
			var tf, ti []time.Duration
			for b.Loop() {
				t0 := time.Now()
				net.Predict(p, x)
				t1 := time.Now()
				s.forward(px)
				t2 := time.Now()
				tf, ti = append(tf, t1.Sub(t0)), append(ti, t2.Sub(t1))
			}
			mf, mi := median(tf), median(ti)
			b.ReportMetric(float64(mf.Nanoseconds())/1e3, "float32-µs")
			b.ReportMetric(float64(mi.Nanoseconds())/1e3, "int8-µs")
			b.ReportMetric(float64(mf)/float64(mi), "speedup")
		})
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// TestInt8StackRuns checks that the benchmark's stacks build and run
// without allocating.
func TestInt8StackRuns(t *testing.T) {
	for _, name := range []string{"catnet64", "catsep64"} {
		a, _ := model.ArchByName(name)
		s := newInt8Stack(t, a, rand.New(rand.NewPCG(3, 4)))
		px := make([]uint8, a.C*a.H*a.W)
		if out := s.forward(px); len(out) != 1 {
			t.Fatalf("%s: %d outputs", name, len(out))
		}
		if n := testing.AllocsPerRun(5, func() { s.forward(px) }); n != 0 {
			t.Errorf("%s: %v allocations per inference", name, n)
		}
	}
}
