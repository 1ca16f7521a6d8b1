package conv

import (
	"fmt"
	"math"

	"catd/internal/gemm"
)

// ReLU sets dst[i] = max(src[i], 0). dst may be src (in place). NaN stays NaN.
func ReLU(dst, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("conv: ReLU lengths %d and %d differ", len(dst), len(src)))
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(v, 0) // branch-free: conv outputs are negative at random
	}
}

// ReLUBackward sets gx[i] = gy[i] where the ReLU output y[i] is positive and
// 0 elsewhere (PyTorch's convention: no gradient at 0). It takes the output y
// rather than the input, since y > 0 exactly where the input was, so a
// network may run ReLU in place. gx may be gy.
func ReLUBackward(gx, gy, y []float32) {
	if len(gx) != len(gy) || len(gy) != len(y) {
		panic(fmt.Sprintf("conv: ReLUBackward lengths %d, %d, %d differ", len(gx), len(gy), len(y)))
	}
	gy = gy[:len(gx)]
	y = y[:len(gx)]
	for i, v := range y {
		gx[i] = reluGrad(gy[i], v)
	}
}

// reluGrad is the gradient g of a ReLU's output y passed to its input: g
// where y > 0, else 0.
func reluGrad(g, y float32) float32 {
	// A mask instead of a branch: all ones where 0 < y <= +Inf, that is
	// where y's bits as an int32 b satisfy 0 < b <= 0x7f800000 (NaN,
	// zeros and negatives give 0).
	b := int32(math.Float32bits(y))
	m := uint32(-b>>31) & uint32((b-0x7f800001)>>31)
	return math.Float32frombits(math.Float32bits(g) & m)
}

// MaxPool2 is 2×2 max pooling with stride 2 over NHWC images of H×W×C. An
// odd last row or column is dropped (PyTorch's floor mode): the output is
// (H/2)×(W/2)×C.
type MaxPool2 struct{ H, W, C int }

// OutLen is the number of floats in one output image.
func (p MaxPool2) OutLen() int { return (p.H / 2) * (p.W / 2) * p.C }

// InLen is the number of floats in one input image.
func (p MaxPool2) InLen() int { return p.H * p.W * p.C }

func (p MaxPool2) batch(src []float32, dstLen int) int {
	in := p.InLen()
	if in == 0 || p.H < 2 || p.W < 2 || len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("conv: max pool input length %d is not a whole number of %dx%dx%d images (at least 2x2)", len(src), p.H, p.W, p.C))
	}
	n := len(src) / in
	if dstLen != n*p.OutLen() {
		panic(fmt.Sprintf("conv: max pool output has length %d, want %d", dstLen, n*p.OutLen()))
	}
	return n
}

// Forward writes the maximum of each 2×2 window of src into dst. A NaN in a
// window wins, as in PyTorch. dst must not alias src.
func (p MaxPool2) Forward(dst, src []float32) {
	n := p.batch(src, len(dst))
	oh, ow, c := p.H/2, p.W/2, p.C
	row := p.W * c
	for i := range n {
		img := src[i*p.InLen():]
		out := dst[i*p.OutLen():]
		for oy := range oh {
			r0 := img[2*oy*row : 2*oy*row+2*ow*c]
			r1 := img[(2*oy+1)*row : (2*oy+1)*row+2*ow*c]
			maxPool2Row(out[oy*ow*c:(oy+1)*ow*c], r0, r1, c)
		}
	}
}

// maxPool2RowGeneric is the plain kernel of one output row of MaxPool2:
// channels [c0, c) of every pixel of d (len(d)/c pixels) are the maximum
// of the 2×2 window of pixels 2x and 2x+1 of the input rows r0 and r1.
// The builtin max returns NaN if either argument is NaN, as PyTorch's
// pooling does, and +0 for +0 and -0.
func maxPool2RowGeneric(d, r0, r1 []float32, c, c0 int) {
	for o := 0; o < len(d); o += c {
		a := r0[2*o : 2*o+2*c]
		b := r1[2*o : 2*o+2*c]
		a0, a1 := a[c0:c], a[c+c0:2*c]
		b0, b1 := b[c0:c], b[c+c0:2*c]
		dd := d[o+c0 : o+c]
		for ch := range dd {
			dd[ch] = max(max(a0[ch], a1[ch]), max(b0[ch], b1[ch]))
		}
	}
}

// maxPool2Kernel names one implementation of maxPool2Row, for tests.
type maxPool2Kernel struct {
	name string
	f    func(d, r0, r1 []float32, c int)
}

// Backward overwrites gx with the gradient of the pooling: each output
// gradient in gy goes to the input that won its window (the first in
// row-major order on ties, as in PyTorch), everything else is 0. src is the
// input Forward saw.
func (p MaxPool2) Backward(gx, gy, src []float32) {
	n := p.batch(src, len(gy))
	if len(gx) != len(src) {
		panic(fmt.Sprintf("conv: max pool input gradient has length %d, want %d", len(gx), len(src)))
	}
	clear(gx)
	oh, ow, c := p.H/2, p.W/2, p.C
	row := p.W * c
	o := 0
	for i := range n {
		base := i * p.InLen()
		for oy := range oh {
			for ox := range ow {
				i0 := base + 2*oy*row + 2*ox*c
				s0, s1 := src[i0:i0+c], src[i0+c:i0+2*c]
				s2, s3 := src[i0+row:i0+row+c], src[i0+row+c:i0+row+2*c]
				g := gy[o : o+c]
				for ch := range g {
					v0, v1, v2, v3 := s0[ch], s1[ch], s2[ch], s3[ch]
					m := max(max(v0, v1), max(v2, v3))
					// The first input equal to the maximum wins, as in
					// PyTorch. Comparing bits lets the compiler select
					// without branching (max returns one of its inputs;
					// only a +0/-0 tie could differ, and either way the
					// gradient goes to one input of value 0).
					mb := math.Float32bits(m)
					k := i0 + row + c
					k = pick(k, i0+row, math.Float32bits(v2), mb)
					k = pick(k, i0+c, math.Float32bits(v1), mb)
					k = pick(k, i0, math.Float32bits(v0), mb)
					if m != m {
						k = firstNaN(src, ch, i0, i0+c, i0+row, i0+row+c)
					}
					gx[k+ch] += g[ch]
				}
				o += c
			}
		}
	}
}

// BackwardReLU is Backward through a ReLU that comes before the pooling:
// src is that ReLU's output (the pooling's input) and y the pooling's
// output from it (Forward's dst), and each window's gradient goes on to
// the ReLU's input at the winner where the maximum is positive
// (ReLUBackward), everything else being 0. It is Backward followed by
// ReLUBackward(gx, gx, src), in one pass that reads each window's maximum
// from y instead of finding it again.
func (p MaxPool2) BackwardReLU(gx, gy, src, y []float32) {
	n := p.batch(src, len(gy))
	if len(gx) != len(src) || len(y) != len(gy) {
		panic(fmt.Sprintf("conv: max pool input gradient has length %d, output %d, want %d and %d", len(gx), len(y), len(src), len(gy)))
	}
	oh, ow, c := p.H/2, p.W/2, p.C
	if p.H%2 != 0 || p.W%2 != 0 {
		clear(gx) // the last row or column is in no window
	}
	row := p.W * c
	for i := range n {
		base := i * p.InLen()
		for oy := range oh {
			i0 := base + 2*oy*row
			o := (i*oh + oy) * ow * c
			maxPool2BackReLURow(gx[i0:i0+2*row], src[i0:i0+2*row], y[o:o+ow*c], gy[o:o+ow*c], row, c)
		}
	}
}

// maxPool2BackReLURowGeneric is the plain kernel of MaxPool2.BackwardReLU
// for one output row and channels [c0, c): for output pixel x of y and
// gy (len(y)/c pixels) it writes the window of pixels 2x and 2x+1 of the
// input rows src[:row] and src[row:], and of gx laid out alike: gy to the
// first input equal to the maximum y if y > 0, 0 to the other three (all
// four if y is not above 0, NaN included: the ReLU passes nothing back).
// The maximum is positive, so comparing floats is comparing bits.
func maxPool2BackReLURowGeneric(gx, src, y, gy []float32, row, c, c0 int) {
	for o := 0; o < len(y); o += c {
		i0 := 2 * o
		for ch := c0; ch < c; ch++ {
			mv, g := y[o+ch], gy[o+ch]
			var g0, g1, g2, g3 float32
			if mv > 0 {
				switch {
				case src[i0+ch] == mv:
					g0 = g
				case src[i0+c+ch] == mv:
					g1 = g
				case src[i0+row+ch] == mv:
					g2 = g
				default:
					g3 = g
				}
			}
			gx[i0+ch], gx[i0+c+ch], gx[i0+row+ch], gx[i0+row+c+ch] = g0, g1, g2, g3
		}
	}
}

// maxPool2BackKernel names one implementation of maxPool2BackReLURow, for
// tests.
type maxPool2BackKernel struct {
	name string
	f    func(gx, src, y, gy []float32, row, c int)
}

// pick returns alt if bits v equal bits m, else k, without a branch.
func pick(k, alt int, v, m uint32) int {
	x := v ^ m
	eq := int((x|-x)>>31) ^ 1 // 1 if x == 0
	return k + (alt-k)*eq
}

// firstNaN returns the first of the window offsets whose value is NaN.
func firstNaN(src []float32, ch int, offs ...int) int {
	for _, o := range offs {
		if v := src[o+ch]; v != v {
			return o
		}
	}
	return offs[len(offs)-1]
}

// GlobalAvgPool averages each channel of NHWC images of H×W×C over all
// pixels: the output is N×C.
type GlobalAvgPool struct{ H, W, C int }

func (g GlobalAvgPool) batch(src []float32, dstLen int) int {
	in := g.H * g.W * g.C
	if in == 0 || len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("conv: average pool input length %d is not a whole number of %dx%dx%d images", len(src), g.H, g.W, g.C))
	}
	n := len(src) / in
	if dstLen != n*g.C {
		panic(fmt.Sprintf("conv: average pool output has length %d, want %d", dstLen, n*g.C))
	}
	return n
}

// Forward writes the per-channel means of each image of src into dst
// (N×C). dst must not alias src.
func (g GlobalAvgPool) Forward(dst, src []float32) {
	n := g.batch(src, len(dst))
	hw, c := g.H*g.W, g.C
	scale := 1 / float32(hw)
	for i := range n {
		d := dst[i*c : (i+1)*c]
		clear(d)
		img := src[i*hw*c : (i+1)*hw*c]
		px := 0
		// Four pixels a pass: a quarter of the loads and stores of d.
		for ; px+4*c <= len(img); px += 4 * c {
			p0 := img[px : px+c]
			p1 := img[px+c : px+2*c][:len(p0)]
			p2 := img[px+2*c : px+3*c][:len(p0)]
			p3 := img[px+3*c : px+4*c][:len(p0)]
			d := d[:len(p0)]
			for ch, v := range p0 {
				d[ch] += (v + p1[ch]) + (p2[ch] + p3[ch])
			}
		}
		for ; px < len(img); px += c {
			addTo(d, img[px:px+c])
		}
		for ch := range d {
			d[ch] *= scale
		}
	}
}

// Backward overwrites gx (N×H×W×C) with gy/(H*W) spread over every pixel.
func (g GlobalAvgPool) Backward(gx, gy []float32) {
	n := g.batch(gx, len(gy))
	hw, c := g.H*g.W, g.C
	scale := 1 / float32(hw)
	for i := range n {
		gi := gy[i*c : (i+1)*c]
		out := gx[i*hw*c : (i+1)*hw*c]
		for px := 0; px < len(out); px += c {
			d := out[px : px+c]
			for ch, v := range gi {
				d[ch] = v * scale
			}
		}
	}
}

// Dense is a fully connected layer y = x·W + b from In to Out features, with
// W stored [In][Out].
type Dense struct{ In, Out int }

// WorkLen is the workspace Backward needs (the transposed weights).
func (d Dense) WorkLen() int { return d.In * d.Out }

func (d Dense) batch(src []float32) int {
	if d.In < 1 || d.Out < 1 || len(src) == 0 || len(src)%d.In != 0 {
		panic(fmt.Sprintf("conv: dense input length %d is not a whole number of %d features", len(src), d.In))
	}
	return len(src) / d.In
}

func (d Dense) checkParams(n, dstLen, wLen, bLen int) {
	if dstLen != n*d.Out || wLen != d.In*d.Out || bLen != d.Out {
		panic(fmt.Sprintf("conv: dense %d->%d with %d rows: output %d (want %d), weights %d (want %d), bias %d (want %d)",
			d.In, d.Out, n, dstLen, n*d.Out, wLen, d.In*d.Out, bLen, d.Out))
	}
}

// Forward computes dst = src·w + b for N rows of In features. dst must not
// alias src.
func (d Dense) Forward(dst, src, w, b []float32) {
	n := d.batch(src)
	d.checkParams(n, len(dst), len(w), len(b))
	for i := range n {
		copy(dst[i*d.Out:(i+1)*d.Out], b)
	}
	gemm.NN(n, d.Out, d.In, src, d.In, w, d.Out, dst, d.Out)
}

// Backward adds dL/dw to gw and dL/db to gb, and overwrites gx with dL/dx
// unless gx is nil. work is at least WorkLen floats.
func (d Dense) Backward(gx, gw, gb, src, w, gy, work []float32) {
	n := d.batch(src)
	d.checkParams(n, len(gy), len(gw), len(gb))
	if len(w) != len(gw) {
		panic(fmt.Sprintf("conv: dense weights have length %d, want %d", len(w), len(gw)))
	}
	for i := range n {
		addTo(gb, gy[i*d.Out:(i+1)*d.Out])
	}
	gemm.TN(d.In, d.Out, n, src, d.In, gy, d.Out, gw, d.Out)
	if gx == nil {
		return
	}
	if len(gx) != len(src) {
		panic(fmt.Sprintf("conv: dense input gradient has length %d, want %d", len(gx), len(src)))
	}
	if len(work) < d.WorkLen() {
		panic(fmt.Sprintf("conv: dense workspace has length %d, want at least %d", len(work), d.WorkLen()))
	}
	wt := work[:d.In*d.Out]
	gemm.Transpose(wt, d.In, w, d.Out, d.In, d.Out)
	clear(gx)
	gemm.NN(n, d.In, d.Out, gy, d.Out, wt, d.In, gx, d.In)
}

// OIHWToHWIO copies PyTorch convolution weights [o][i][kh][kw] from src into
// dst in catd's [kh][kw][i][o] order. A PyTorch Linear weight [out][in] is
// the case kh = kw = 1, giving [in][out].
func OIHWToHWIO(dst, src []float32, o, i, kh, kw int) {
	n := o * i * kh * kw
	if len(dst) != n || len(src) != n {
		panic(fmt.Sprintf("conv: OIHWToHWIO lengths %d and %d, want %d", len(dst), len(src), n))
	}
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					dst[((y*kw+x)*i+b)*o+a] = src[((a*i+b)*kh+y)*kw+x]
				}
			}
		}
	}
}

// HWIOToOIHW is the inverse of OIHWToHWIO.
func HWIOToOIHW(dst, src []float32, o, i, kh, kw int) {
	n := o * i * kh * kw
	if len(dst) != n || len(src) != n {
		panic(fmt.Sprintf("conv: HWIOToOIHW lengths %d and %d, want %d", len(dst), len(src), n))
	}
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					dst[((a*i+b)*kh+y)*kw+x] = src[((y*kw+x)*i+b)*o+a]
				}
			}
		}
	}
}
