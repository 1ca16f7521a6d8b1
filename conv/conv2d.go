package conv

import (
	"fmt"

	"catd/internal/gemm"
)

// Conv2D is the geometry of a 2-D convolution over NHWC images: InC input
// channels of InH×InW pixels, OutC output channels, a KH×KW kernel moved
// Stride pixels at a time over the input zero-padded by Pad pixels on every
// side. The output is OutH×OutW×OutC with
//
//	OutH = (InH+2*Pad-KH)/Stride + 1,  OutW = (InW+2*Pad-KW)/Stride + 1.
//
// Build it with NewConv2D, which validates the numbers and fills OutH, OutW.
type Conv2D struct {
	InH, InW, InC int
	OutC          int
	KH, KW        int
	Stride, Pad   int
	OutH, OutW    int
}

// NewConv2D returns the geometry of a convolution of inC×inH×inW images with
// outC kernels of k×k, or an error naming the first bad number.
func NewConv2D(inH, inW, inC, outC, k, stride, pad int) (Conv2D, error) {
	switch {
	case inH < 1 || inW < 1 || inC < 1:
		return Conv2D{}, fmt.Errorf("conv: input %dx%dx%d must be at least 1x1x1", inH, inW, inC)
	case outC < 1:
		return Conv2D{}, fmt.Errorf("conv: %d output channels, want at least 1", outC)
	case k < 1:
		return Conv2D{}, fmt.Errorf("conv: kernel size %d, want at least 1", k)
	case stride < 1:
		return Conv2D{}, fmt.Errorf("conv: stride %d, want at least 1", stride)
	case pad < 0 || pad >= k:
		return Conv2D{}, fmt.Errorf("conv: padding %d, want 0 <= pad < kernel size %d", pad, k)
	case inH+2*pad < k || inW+2*pad < k:
		return Conv2D{}, fmt.Errorf("conv: kernel %dx%d larger than padded input %dx%d", k, k, inH+2*pad, inW+2*pad)
	}
	c := Conv2D{InH: inH, InW: inW, InC: inC, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad}
	c.OutH = (inH+2*pad-k)/stride + 1
	c.OutW = (inW+2*pad-k)/stride + 1
	return c, nil
}

// InLen is the number of floats in one input image.
func (c *Conv2D) InLen() int { return c.InH * c.InW * c.InC }

// OutLen is the number of floats in one output image.
func (c *Conv2D) OutLen() int { return c.OutH * c.OutW * c.OutC }

// WeightLen is the number of weights, KH*KW*InC*OutC (HWIO).
func (c *Conv2D) WeightLen() int { return c.patchLen() * c.OutC }

// MACs is the number of multiply-adds of the forward pass for one image.
func (c *Conv2D) MACs() int { return c.OutH * c.OutW * c.WeightLen() }

func (c *Conv2D) patchLen() int { return c.KH * c.KW * c.InC }

// pointwise reports whether the patch matrix is the input itself (1×1
// kernel, stride 1, no padding), so no im2col is needed.
func (c *Conv2D) pointwise() bool { return c.KH == 1 && c.KW == 1 && c.Stride == 1 && c.Pad == 0 }

// WorkLen is the length of the workspace that Backward needs, and that
// is enough for Forward too: the patch matrix of one image plus the
// transposed weights.
func (c *Conv2D) WorkLen() int {
	n := c.OutH * c.OutW * c.patchLen()
	return max(n+c.WeightLen(), c.ForwardWorkLen())
}

// ForwardWorkLen is the length of the workspace that Forward needs: one
// zero-padded input image, or nothing without padding.
func (c *Conv2D) ForwardWorkLen() int {
	if c.Pad == 0 {
		return 0
	}
	return (c.InH + 2*c.Pad) * (c.InW + 2*c.Pad) * c.InC
}

// batch returns how many images src holds, panicking unless it is a whole
// number of at least one.
func (c *Conv2D) batch(src []float32) int {
	in := c.InLen()
	if len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("conv: input length %d is not a whole number of %dx%dx%d images", len(src), c.InH, c.InW, c.InC))
	}
	return len(src) / in
}

func (c *Conv2D) check(n int, name string, got, per int) {
	if got != n*per {
		panic(fmt.Sprintf("conv: %s has length %d, want %d (%d images)", name, got, n*per, n))
	}
}

// Forward computes dst = conv(src, w) + b for a batch of NHWC images. src
// holds n whole images, dst n*OutLen floats (overwritten), w the HWIO weights,
// b OutC biases and work at least ForwardWorkLen floats of scratch. dst must
// not alias src or work.
//
// There is no patch matrix: each output row is one product
// (gemm.NNBiasRuns) read straight from the input, zero-padded into work
// when Pad > 0, whose sums run in the order of the product of im2col's
// patch matrix with the weights, to the bit.
func (c *Conv2D) Forward(dst, src, w, b, work []float32) {
	c.forward(dst, src, w, b, work, false)
}

// ForwardReLU is Forward followed by ReLU, dst = max(conv(src, w) + b, 0),
// in one pass: the bias and the ReLU are applied while each block of the
// output is still in registers (gemm.NNBias). Where the sum is -0 or NaN
// it stays so (ReLU turns -0 into +0); the two compare equal.
func (c *Conv2D) ForwardReLU(dst, src, w, b, work []float32) {
	c.forward(dst, src, w, b, work, true)
}

func (c *Conv2D) forward(dst, src, w, b, work []float32, relu bool) {
	n := c.batch(src)
	c.check(n, "output", len(dst), c.OutLen())
	c.check(1, "weights", len(w), c.WeightLen())
	c.check(1, "bias", len(b), c.OutC)
	if len(work) < c.ForwardWorkLen() {
		panic(fmt.Sprintf("conv: workspace has length %d, want at least %d", len(work), c.ForwardWorkLen()))
	}
	in, out, pl := c.InLen(), c.OutLen(), c.patchLen()
	p := c.OutH * c.OutW
	for i := range n {
		x := src[i*in : (i+1)*in]
		y := dst[i*out : (i+1)*out]
		if c.pointwise() {
			gemm.NNBias(p, c.OutC, pl, x, pl, w, c.OutC, b, y, c.OutC, relu)
			continue
		}
		xp := x
		if c.Pad > 0 {
			xp = work[:c.ForwardWorkLen()]
			c.padInput(xp, x)
		}
		// Output row oy reads padded rows oy*Stride … oy*Stride+KH-1: KH
		// runs of KW*InC floats for each output pixel, Stride*InC apart.
		row := (c.InW + 2*c.Pad) * c.InC
		ow := c.OutW * c.OutC
		for oy := range c.OutH {
			gemm.NNBiasRuns(c.OutW, c.OutC, c.KH, c.KW*c.InC, xp[oy*c.Stride*row:], c.Stride*c.InC, row,
				w, c.OutC, b, y[oy*ow:(oy+1)*ow], c.OutC, relu)
		}
	}
}

// padInput writes the NHWC image x into dst with Pad zero pixels on every
// side: (InH+2*Pad)×(InW+2*Pad)×InC floats.
func (c *Conv2D) padInput(dst, x []float32) {
	row := (c.InW + 2*c.Pad) * c.InC
	edge := c.Pad * c.InC
	in := c.InW * c.InC
	clear(dst[:c.Pad*row])
	for y := range c.InH {
		d := dst[(y+c.Pad)*row : (y+c.Pad+1)*row]
		clear(d[:edge])
		copy(d[edge:edge+in], x[y*in:(y+1)*in])
		clear(d[edge+in:])
	}
	clear(dst[(c.InH+c.Pad)*row:])
}

// Backward computes the gradients of a loss L given gy = dL/d(output) for
// the batch src that Forward saw: it adds dL/dw to gw and dL/db to gb, and
// overwrites gx with dL/d(src) unless gx is nil (the first layer of a
// network needs no input gradient). work is at least WorkLen floats. gx must
// not alias src, gy or work.
func (c *Conv2D) Backward(gx, gw, gb, src, w, gy, work []float32) {
	n := c.batch(src)
	c.check(n, "output gradient", len(gy), c.OutLen())
	c.check(1, "weights", len(w), c.WeightLen())
	c.check(1, "weight gradient", len(gw), c.WeightLen())
	c.check(1, "bias gradient", len(gb), c.OutC)
	if gx != nil {
		c.check(n, "input gradient", len(gx), c.InLen())
	}
	if len(work) < c.WorkLen() {
		panic(fmt.Sprintf("conv: workspace has length %d, want at least %d", len(work), c.WorkLen()))
	}
	in, out, pl, oc := c.InLen(), c.OutLen(), c.patchLen(), c.OutC
	p := c.OutH * c.OutW
	patchBuf := work[:p*pl]
	wt := work[p*pl : p*pl+c.WeightLen()]
	if gx != nil {
		gemm.Transpose(wt, pl, w, oc, pl, oc) // wt is OutC×patchLen
	}
	for i := range n {
		x := src[i*in : (i+1)*in]
		g := gy[i*out : (i+1)*out]
		for j := 0; j < len(g); j += oc {
			row := g[j : j+oc]
			for k, v := range row {
				gb[k] += v
			}
		}
		patches := x
		if !c.pointwise() {
			patches = patchBuf
			Im2Col(c, patches, x, 0)
		}
		gemm.TN(pl, oc, p, patches, pl, g, oc, gw, oc)
		if gx == nil {
			continue
		}
		gxi := gx[i*in : (i+1)*in]
		if c.pointwise() {
			clear(gxi)
			gemm.NN(p, pl, oc, g, oc, wt, pl, gxi, pl)
			continue
		}
		clear(patchBuf)
		gemm.NN(p, pl, oc, g, oc, wt, pl, patchBuf, pl)
		c.col2im(gxi, patchBuf)
	}
}

// Im2Col writes the patch matrix of one NHWC image x of c's geometry into
// dst (OutH*OutW rows of KH*KW*InC values): row oy*OutW+ox holds the
// KH×KW×InC window whose top-left corner is input pixel (oy*Stride-Pad,
// ox*Stride-Pad), with pad where the window hangs over the edge (0 for
// float convolution, the input zero point for int8). dst must not alias x.
func Im2Col[T float32 | int8](c *Conv2D, dst, x []T, pad T) {
	ic, kw := c.InC, c.KW
	rowLen := kw * ic
	pl := c.patchLen()
	r := 0
	for oy := 0; oy < c.OutH; oy++ {
		y0 := oy*c.Stride - c.Pad
		for ox := 0; ox < c.OutW; ox++ {
			x0 := ox*c.Stride - c.Pad
			row := dst[r : r+pl : r+pl]
			r += pl
			for ky := 0; ky < c.KH; ky++ {
				seg := row[ky*rowLen : (ky+1)*rowLen]
				iy := y0 + ky
				if iy < 0 || iy >= c.InH {
					fill(seg, pad)
					continue
				}
				base := iy * c.InW * ic
				if x0 >= 0 && x0+kw <= c.InW {
					copySmall(seg, x[base+x0*ic:base+(x0+kw)*ic])
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := x0 + kx
					s := seg[kx*ic : (kx+1)*ic]
					if ix < 0 || ix >= c.InW {
						fill(s, pad)
					} else {
						copySmall(s, x[base+ix*ic:base+(ix+1)*ic])
					}
				}
			}
		}
	}
}

func fill[T float32 | int8](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// col2im is the adjoint of im2col: it overwrites gx with the sum, over
// every patch row of cols, of the entries that came from each input pixel.
func (c *Conv2D) col2im(gx, cols []float32) {
	clear(gx)
	ic, kw := c.InC, c.KW
	rowLen := kw * ic
	pl := c.patchLen()
	r := 0
	for oy := 0; oy < c.OutH; oy++ {
		y0 := oy*c.Stride - c.Pad
		for ox := 0; ox < c.OutW; ox++ {
			x0 := ox*c.Stride - c.Pad
			row := cols[r : r+pl : r+pl]
			r += pl
			for ky := 0; ky < c.KH; ky++ {
				iy := y0 + ky
				if iy < 0 || iy >= c.InH {
					continue
				}
				seg := row[ky*rowLen : (ky+1)*rowLen]
				base := iy * c.InW * ic
				if x0 >= 0 && x0+kw <= c.InW {
					addTo(gx[base+x0*ic:base+(x0+kw)*ic], seg)
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := x0 + kx
					if ix >= 0 && ix < c.InW {
						addTo(gx[base+ix*ic:base+(ix+1)*ic], seg[kx*ic:(kx+1)*ic])
					}
				}
			}
		}
	}
}

// copySmall is copy for the short runs of im2col (a 3×3 kernel over 3
// channels copies 9 values at a time), where calling memmove costs more
// than the copy.
func copySmall[T float32 | int8](dst, src []T) {
	if len(src) > 16 {
		copy(dst, src)
		return
	}
	dst = dst[:len(src)]
	//lint:ignore S1001 on runs this short the loop beats copy's memmove (see above)
	for i, v := range src {
		dst[i] = v
	}
}

// addTo adds s to dst element-wise; len(s) must equal len(dst).
func addTo(dst, s []float32) {
	s = s[:len(dst)]
	for i, v := range s {
		dst[i] += v
	}
}
