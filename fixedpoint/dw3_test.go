package fixedpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"catd/conv"
)

// dw3Case is a 3×3 depthwise geometry for the kernel tests.
type dw3Case struct{ h, w, c, s, p int }

func dw3Cases() []dw3Case {
	var cases []dw3Case
	for c := 1; c <= 41; c++ {
		for _, hw := range [][2]int{{3, 3}, {5, 7}, {8, 5}} {
			for s := 1; s <= 2; s++ {
				cases = append(cases, dw3Case{hw[0], hw[1], c, s, 0}, dw3Case{hw[0], hw[1], c, s, 1})
			}
		}
	}
	// 1×1 images (only edges), a row of one window, and channel
	// blocks past the tile's width (c0 = 256).
	return append(cases, dw3Case{1, 1, 16, 1, 1}, dw3Case{1, 1, 9, 2, 1}, dw3Case{3, 9, 24, 1, 0}, dw3Case{5, 5, 300, 1, 1}, dw3Case{6, 4, 384, 2, 1},
		// Rows longer than a tile (256 channels: 8 pixels).
		dw3Case{4, 21, 256, 1, 1}, dw3Case{5, 19, 384, 2, 1})
}

// dw3Layer is a random 3×3 layer and the parameters it was built from.
type dw3Layer struct {
	*depthwiseConv2D
	w   []int8
	b   []int32
	out requantParams
}

func newDW3Layer(t *testing.T, r *rand.Rand, dc dw3Case) dw3Layer {
	t.Helper()
	g, err := conv.NewDepthwiseConv2D(dc.h, dc.w, dc.c, 3, dc.s, dc.p)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]int32, g.C)
	for i := range b {
		b[i] = int32(r.Uint32()) // wrapping sums too
	}
	w, out := extremeInt8s(r, g.WeightLen(), -128), randRequant(r, g.C, 9)
	l, err := newDepthwiseConv2D(g, w, b, int32(r.IntN(256)-128), out)
	if err != nil {
		t.Fatal(err)
	}
	if l.w3 == nil {
		t.Skip("no 3x3 depthwise kernel in this build or on this CPU")
	}
	return dw3Layer{l, w, b, out}
}

// TestDW3AgainstGo holds the 3×3 kernel's int32 sums bit for bit to
// dwGo's on every run of pixels of each row whose windows overlap the
// image alike (edges, corners and the interior): odd channel counts,
// strides 1 and 2, guard bands around the accumulators.
func TestDW3AgainstGo(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 3))
	for _, dc := range dw3Cases() {
		t.Run(fmt.Sprintf("%dx%dx%d_s%d_p%d", dc.h, dc.w, dc.c, dc.s, dc.p), func(t *testing.T) {
			l := newDW3Layer(t, r, dc)
			g := l.g
			x := extremeInt8s(r, g.InLen(), -128)
			kRange := func(o, in int) (int, int) {
				i0 := o*g.Stride - g.Pad
				return max(0, -i0), min(3, in-i0)
			}
			whole := 0
			for oy := range g.OutH {
				ky0, ky1 := kRange(oy, g.InH)
				for ox := 0; ox < g.OutW; {
					kx0, kx1 := kRange(ox, g.InW)
					end := ox + 1
					for end < g.OutW {
						if a, b := kRange(end, g.InW); a != kx0 || b != kx1 {
							break
						}
						end++
					}
					var taps []int
					for ky := ky0; ky < ky1; ky++ {
						for kx := kx0; kx < kx1; kx++ {
							taps = append(taps, ((oy*g.Stride-g.Pad+ky)*g.InW+ox*g.Stride-g.Pad+kx)*g.C, (ky*3+kx)*l.cp)
						}
					}
					if len(taps) == 18 {
						whole++
					}
					n := end - ox
					for c0 := 0; c0 < g.C; c0 += maxTileCols {
						cc := min(maxTileCols, g.C-c0)
						got, want := newGuarded[int32](n*cc), newGuarded[int32](n*cc)
						l.pixels(n, x, c0, cc, g.Stride*g.C, taps, true, got.s(), cc)
						l.dwGo(n, x, c0, c0+cc, g.Stride*g.C, taps, true, want.s(), cc)
						got.intact(t, "acc")
						for i, v := range want.s() {
							if got.s()[i] != v {
								t.Fatalf("row %d, pixel %d, channel %d: sum %d, want %d", oy, ox+i/cc, c0+i%cc, got.s()[i], v)
							}
						}
					}
					ox = end
				}
			}
			if whole == 0 && dc.h >= 3 && dc.w >= 3 && dc.p == 0 {
				t.Fatal("no run of whole windows tested")
			}
		})
	}
}

// TestDW3Forward holds whole 3×3 layers (edges in the portable loop or
// the generic kernel, interiors in the 3×3 kernel) to the reference.
func TestDW3Forward(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 4))
	for _, dc := range dw3Cases() {
		t.Run(fmt.Sprintf("%dx%dx%d_s%d_p%d", dc.h, dc.w, dc.c, dc.s, dc.p), func(t *testing.T) {
			l := newDW3Layer(t, r, dc)
			g := l.g
			const n = 2
			x := extremeInt8s(r, n*g.InLen(), -128)
			y := newGuarded[int8](n * g.OutLen())
			work := make([]int32, l.WorkLen())
			l.Forward(y.s(), x, work)
			y.intact(t, "y")
			want := make([]int8, y.n)
			DepthwiseConv2DRef(g, n, want, x, l.w, l.b, l.InZP, l.out)
			sameInt8(t, "y", y.s(), want)
			if a := testing.AllocsPerRun(5, func() { l.Forward(y.s(), x, work) }); a != 0 {
				t.Errorf("Forward allocates %v times per call", a)
			}
		})
	}
}

// TestDW3One holds the fused 3×3 row kernel (widened input rows, sums
// requantised in registers with one rounding) to its twin, rowOneGo, row
// by row, with guard bands around the output, and whole layers that take
// it to the reference; and widen to widenGo.
func TestDW3One(t *testing.T) {
	if !hasOne512 {
		t.Skip("no fused kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(21, 5))
	for _, dc := range append(dw3Cases(), dw3Case{4, 4, 8, 1, 2}, dw3Case{7, 6, 40, 3, 2}) {
		if dc.c%8 != 0 {
			continue
		}
		t.Run(fmt.Sprintf("%dx%dx%d_s%d_p%d", dc.h, dc.w, dc.c, dc.s, dc.p), func(t *testing.T) {
			g, err := conv.NewDepthwiseConv2D(dc.h, dc.w, dc.c, 3, dc.s, dc.p)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]int32, g.C)
			randBias(r, b)
			zp := int32(r.IntN(256) - 128)
			out := requantParams{Mult: make([]int32, g.C), Shift: make([]int, g.C), ZP: zp, Min: int8(zp), Max: int8(max(int(zp), 127-r.IntN(2)*r.IntN(100)))}
			if r.IntN(3) == 0 { // the clamp of VPMOVSDB alone: the kernels skip theirs
				out.ZP, out.Min, out.Max = -128, -128, 127
			}
			for ch := range g.C {
				out.Mult[ch], out.Shift[ch] = int32(1<<30+r.IntN(1<<30)), -1-r.IntN(12)
			}
			w := extremeInt8s(r, g.WeightLen(), -128)
			l, err := newDepthwiseConv2D(g, w, b, []int32{-128, 127, int32(r.IntN(256) - 128)}[r.IntN(3)], out)
			if err != nil {
				t.Fatal(err)
			}
			if dc.s != 1 {
				// Strided layers keep dw3One512 (TestDW3OneTaps); the row
				// kernel still computes their rows right.
				l.wRow, l.biasRow = newDWRowWeights(l.w32, l.bias3, g.C)
				l.zpRow16 = make([]int16, l.rowLen())
				for i := range l.zpRow16 {
					l.zpRow16[i] = int16(l.InZP)
				}
			}
			x := extremeInt8s(r, 2*g.InLen(), -128)
			// Rows as forwardOne lays them out: the image's rows widened
			// between Pad pixels of the zero point, and a row of zero points.
			rl := l.rowLen()
			row := func(iy int) []int16 {
				v := make([]int16, rl)
				for i := range v {
					v[i] = int16(l.InZP)
				}
				if iy >= 0 && iy < g.InH {
					widenGo(v[g.Pad*g.C:], x[iy*g.InW*g.C:(iy+1)*g.InW*g.C])
				}
				return v
			}
			for oy := range g.OutH {
				var rows [3][]int16
				for ky := range rows {
					rows[ky] = row(oy*g.Stride - g.Pad + ky)
				}
				got, want := newGuarded[int8](g.OutW*g.C), make([]int8, g.OutW*g.C)
				l.rowOneGo(g.OutW, rows, want)
				dwRowOne(g.OutW, g.C/8, &rows[0][0], &rows[1][0], &rows[2][0], 2*g.Stride*g.C, 2*g.C, &l.wRow[0], &l.biasRow[0], &got.s()[0], g.C, &l.out.one[0], l.out.lo, l.out.hi)
				got.intact(t, "y")
				for i, v := range want {
					if got.s()[i] != v {
						t.Fatalf("row %d, pixel %d, channel %d: %d, twin %d", oy, i/g.C, i%g.C, got.s()[i], v)
					}
				}
			}
			y := newGuarded[int8](2 * g.OutLen())
			work := newGuarded[int32](l.WorkLen())
			l.Forward(y.s(), x, work.s())
			y.intact(t, "y")
			work.intact(t, "work")
			want := make([]int8, y.n)
			DepthwiseConv2DRef(g, 2, want, x, w, b, l.InZP, out)
			sameInt8(t, "y", y.s(), want)
		})
	}
	for _, n := range []int{0, 8, 16, 24, 40, 3, 13, 1000} {
		src := extremeInt8s(r, n, -128)
		got, want := make([]int16, n+1), make([]int16, n+1)
		got[n], want[n] = 77, 77
		widen(got[:n], src)
		widenGo(want[:n], src)
		if !slices.Equal(got, want) {
			t.Fatalf("widen of %d int8s: %v, want %v", n, got, want)
		}
	}
}

// TestDW3OneTaps holds the fused 3×3 kernel of strided layers, dw3One512
// (sums requantised in registers with one rounding), to its twin, oneGo,
// run by run of each output row,
// with guard bands around the output, and whole layers that take it to
// the reference.
func TestDW3OneTaps(t *testing.T) {
	if !hasOne512 {
		t.Skip("no fused kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(21, 5))
	for _, dc := range dw3Cases() {
		if dc.c%8 != 0 {
			continue
		}
		t.Run(fmt.Sprintf("%dx%dx%d_s%d_p%d", dc.h, dc.w, dc.c, dc.s, dc.p), func(t *testing.T) {
			g, err := conv.NewDepthwiseConv2D(dc.h, dc.w, dc.c, 3, dc.s, dc.p)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]int32, g.C)
			randBias(r, b)
			zp := int32(r.IntN(256) - 128)
			out := requantParams{Mult: make([]int32, g.C), Shift: make([]int, g.C), ZP: zp, Min: int8(zp), Max: int8(max(int(zp), 127-r.IntN(2)*r.IntN(100)))}
			if r.IntN(3) == 0 { // the clamp of VPMOVSDB alone: the kernels skip theirs
				out.ZP, out.Min, out.Max = -128, -128, 127
			}
			for ch := range g.C {
				out.Mult[ch], out.Shift[ch] = int32(1<<30+r.IntN(1<<30)), -1-r.IntN(12)
			}
			w := extremeInt8s(r, g.WeightLen(), -128)
			l, err := newDepthwiseConv2D(g, w, b, int32(r.IntN(256)-128), out)
			if err != nil {
				t.Fatal(err)
			}
			if l.w3 == nil || l.out.one == nil {
				t.Fatal("the layer does not take the fused 3x3 kernel")
			}
			if dc.s == 1 {
				l.wRow = nil // the whole layer in dw3One512 too
			}
			x := extremeInt8s(r, g.InLen(), -128)
			xs := g.Stride * g.C
			for oy := range g.OutH {
				iy0 := oy*g.Stride - g.Pad
				for ox := 0; ox < g.OutW; {
					ix0 := ox*g.Stride - g.Pad
					end := ox + 1
					if ix0 >= 0 {
						for end < g.OutW && end*g.Stride-g.Pad+3 <= g.InW {
							end++
						}
					}
					n := end - ox
					var tap [9]*int8
					var taps []int
					for t := range 9 {
						iy, ix := iy0+t/3, ix0+t%3
						if iy < 0 || iy >= g.InH || ix < 0 || ix >= g.InW {
							tap[t] = &l.zpRow[0]
							continue
						}
						tap[t] = &x[(iy*g.InW+ix)*g.C]
						taps = append(taps, (iy*g.InW+ix)*g.C, t*l.cp)
					}
					got, want := newGuarded[int8](n*g.C), make([]int8, n*g.C)
					l.oneGo(n, x, 0, g.C, xs, taps, want, g.C, make([]int32, n*g.C))
					dw3BlocksOne(n, g.C/8, &tap, xs, &l.w3[0], &l.bias3[0], &got.s()[0], g.C, &l.out.one[0], l.out.lo, l.out.hi)
					got.intact(t, "y")
					for i, v := range want {
						if got.s()[i] != v {
							t.Fatalf("row %d, pixel %d, channel %d: %d, twin %d", oy, ox+i/g.C, i%g.C, got.s()[i], v)
						}
					}
					ox = end
				}
			}
			y := newGuarded[int8](g.OutLen())
			l.Forward(y.s(), x, make([]int32, l.WorkLen()))
			y.intact(t, "y")
			want := make([]int8, y.n)
			DepthwiseConv2DRef(g, 1, want, x, w, b, l.InZP, out)
			sameInt8(t, "y", y.s(), want)
		})
	}
}
