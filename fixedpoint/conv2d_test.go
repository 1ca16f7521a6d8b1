package fixedpoint

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"catd/conv"
)

type convCase struct{ n, h, w, c, oc, k, s, p int }

func (cc convCase) String() string {
	return fmt.Sprintf("n%d_%dx%dx%d_oc%d_k%d_s%d_p%d", cc.n, cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
}

// catnet64 is the convolution stack of catnet64, the shapes the benchmarks step through.
var catnet64 = []convCase{{1, 64, 64, 3, 8, 3, 1, 1}, {1, 32, 32, 8, 16, 3, 1, 1}, {1, 16, 16, 16, 32, 3, 1, 1}, {1, 8, 8, 32, 64, 3, 1, 1}}

// catsep64 is catsep64's first convolution and one 1×1 convolution of each
// resolution.
var catsep64 = []convCase{{1, 64, 64, 3, 24, 3, 1, 1}, {1, 32, 32, 24, 48, 1, 1, 0}, {1, 16, 16, 48, 96, 1, 1, 0}, {1, 8, 8, 96, 192, 1, 1, 0}, {1, 4, 4, 192, 384, 1, 1, 0}}

func randInt8s(r *rand.Rand, n int, lo, hi int) []int8 {
	s := make([]int8, n)
	for i := range s {
		s[i] = int8(lo + r.IntN(hi-lo+1))
	}
	return s
}

// benchConv builds an int8 convolution of cc's shape with random weights
// and a typical requantization.
func benchConv(tb testing.TB, r *rand.Rand, cc convCase) (*conv2D, []int8, []int8, []int8) {
	g, err := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
	if err != nil {
		tb.Fatal(err)
	}
	w := randInt8s(r, g.WeightLen(), -127, 127)
	b := make([]int32, g.OutC)
	mult, shift := make([]int32, g.OutC), make([]int, g.OutC)
	for i := range b {
		b[i] = int32(r.IntN(2001) - 1000)
		mult[i], shift[i] = quantizeMultiplier(0.5 / float64(g.KH*g.KW*g.InC) / (1 + r.Float64()))
	}
	l, err := newConv2D(g, w, b, -3, requantParams{Mult: mult, Shift: shift, ZP: -128, Min: -128, Max: 127})
	if err != nil {
		tb.Fatal(err)
	}
	x := randInt8s(r, cc.n*g.InLen(), -128, 127)
	return l, x, make([]int8, cc.n*g.OutLen()), make([]int8, l.WorkLen())
}

func BenchmarkConv2D(b *testing.B) {
	for _, cc := range append(append([]convCase{}, catnet64...), catsep64...) {
		b.Run("int8/"+cc.String(), func(b *testing.B) {
			l, x, y, work := benchConv(b, rand.New(rand.NewPCG(1, 2)), cc)
			b.ReportAllocs()
			for b.Loop() {
				l.Forward(y, x, work)
			}
			b.ReportMetric(float64(l.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
		b.Run("float32/"+cc.String(), func(b *testing.B) {
			c, _ := conv.NewConv2D(cc.h, cc.w, cc.c, cc.oc, cc.k, cc.s, cc.p)
			x := make([]float32, c.InLen())
			y := make([]float32, c.OutLen())
			w := make([]float32, c.WeightLen())
			bias := make([]float32, c.OutC)
			work := make([]float32, c.WorkLen())
			b.ReportAllocs()
			for b.Loop() {
				c.Forward(y, x, w, bias, work)
			}
			b.ReportMetric(float64(c.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// BenchmarkDepthwiseConv2D steps through catsep64's depthwise layers (and
// a narrow one), int8 against package conv's float32 kernel.
func BenchmarkDepthwiseConv2D(b *testing.B) {
	for _, cc := range []convCase{{1, 32, 32, 8, 8, 3, 1, 1}, {1, 64, 64, 24, 24, 3, 2, 1}, {1, 32, 32, 48, 48, 3, 1, 1},
		{1, 16, 16, 96, 96, 3, 1, 1}, {1, 8, 8, 192, 192, 3, 1, 1}, {1, 8, 8, 192, 192, 3, 2, 1}, {1, 4, 4, 384, 384, 3, 1, 1}} {
		name := fmt.Sprintf("%dx%dx%d_k3_s%d", cc.h, cc.w, cc.c, cc.s)
		g, _ := conv.NewDepthwiseConv2D(cc.h, cc.w, cc.c, 3, cc.s, 1)
		b.Run("int8/"+name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			l, err := newDepthwiseConv2D(g, randInt8s(r, g.WeightLen(), -127, 127), nil, 3,
				requantParams{Mult: []int32{1 << 30}, Shift: []int{-6}, ZP: -128, Min: -128, Max: 127})
			if err != nil {
				b.Fatal(err)
			}
			x, y, work := randInt8s(r, g.InLen(), -128, 127), make([]int8, g.OutLen()), make([]int32, l.WorkLen())
			b.ReportAllocs()
			for b.Loop() {
				l.Forward(y, x, work)
			}
			b.ReportMetric(float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
		b.Run("float32/"+name, func(b *testing.B) {
			x, y := make([]float32, g.InLen()), make([]float32, g.OutLen())
			w, bias := make([]float32, g.WeightLen()), make([]float32, g.C)
			b.ReportAllocs()
			for b.Loop() {
				g.Forward(y, x, w, bias)
			}
			b.ReportMetric(float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

func BenchmarkPoolsAndDense(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randInt8s(r, 64*64*8, -128, 127)
	b.Run("maxpool_64x64x8", func(b *testing.B) {
		p := maxPool2{H: 64, W: 64, C: 8}
		y := make([]int8, p.OutLen())
		b.ReportAllocs()
		for b.Loop() {
			p.Forward(y, x)
		}
	})
	b.Run("gap_8x8x64", func(b *testing.B) {
		g, _ := newGlobalAvgPool(8, 8, 64, 0.05, -10, 0.02, 3)
		y, work := make([]int8, 64), make([]int32, 64)
		b.ReportAllocs()
		for b.Loop() {
			g.Forward(y, x[:8*8*64], work)
		}
	})
	b.Run("dense_64x1", func(b *testing.B) {
		d, _ := newDense(64, 1, randInt8s(r, 64, -127, 127), []int32{7}, 5, requantParams{Mult: []int32{1 << 30}, Shift: []int{-3}, Min: -128, Max: 127})
		y := make([]int8, 1)
		b.ReportAllocs()
		for b.Loop() {
			d.Forward(y, x[:64])
		}
	})
	b.Run("quantize_input_64x64x3", func(b *testing.B) {
		var lut [3][256]int8
		fillInputLUT(&lut, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}, 1.0/48, 0)
		px := make([]uint8, 64*64*3)
		y := make([]int8, len(px))
		b.ReportAllocs()
		for b.Loop() {
			quantizeInput(y, px, &lut)
		}
	})
}
