package conv

import "fmt"

// DepthwiseConv2D is the geometry of a depthwise 2-D convolution over NHWC
// images: each of the C channels of an InH×InW image is convolved with its
// own K×K kernel (PyTorch's Conv2d with groups = in_channels = out_channels,
// channel multiplier 1), moved Stride pixels at a time over the input
// zero-padded by Pad pixels on every side. The output is OutH×OutW×C with
//
//	OutH = (InH+2*Pad-K)/Stride + 1,  OutW = (InW+2*Pad-K)/Stride + 1.
//
// Weights are [K][K][C] (HWC): the channel is the fastest index, as in the
// activations, so each tap multiplies a contiguous run of C inputs by a
// contiguous run of C weights. PyTorch stores [C][1][K][K];
// DepthwiseFromTorch and DepthwiseToTorch convert.
//
// Build it with NewDepthwiseConv2D, which validates the numbers and fills
// OutH, OutW.
type DepthwiseConv2D struct {
	InH, InW, C int
	K           int
	Stride, Pad int
	OutH, OutW  int
}

// NewDepthwiseConv2D returns the geometry of a depthwise convolution of
// c×inH×inW images with c kernels of k×k, or an error naming the first bad
// number.
func NewDepthwiseConv2D(inH, inW, c, k, stride, pad int) (DepthwiseConv2D, error) {
	switch {
	case inH < 1 || inW < 1 || c < 1:
		return DepthwiseConv2D{}, fmt.Errorf("conv: input %dx%dx%d must be at least 1x1x1", inH, inW, c)
	case k < 1:
		return DepthwiseConv2D{}, fmt.Errorf("conv: kernel size %d, want at least 1", k)
	case stride < 1:
		return DepthwiseConv2D{}, fmt.Errorf("conv: stride %d, want at least 1", stride)
	case pad < 0 || pad >= k:
		return DepthwiseConv2D{}, fmt.Errorf("conv: padding %d, want 0 <= pad < kernel size %d", pad, k)
	case inH+2*pad < k || inW+2*pad < k:
		return DepthwiseConv2D{}, fmt.Errorf("conv: kernel %dx%d larger than padded input %dx%d", k, k, inH+2*pad, inW+2*pad)
	}
	d := DepthwiseConv2D{InH: inH, InW: inW, C: c, K: k, Stride: stride, Pad: pad}
	d.OutH = (inH+2*pad-k)/stride + 1
	d.OutW = (inW+2*pad-k)/stride + 1
	return d, nil
}

// InLen is the number of floats in one input image.
func (d *DepthwiseConv2D) InLen() int { return d.InH * d.InW * d.C }

// OutLen is the number of floats in one output image.
func (d *DepthwiseConv2D) OutLen() int { return d.OutH * d.OutW * d.C }

// WeightLen is the number of weights, K*K*C (HWC).
func (d *DepthwiseConv2D) WeightLen() int { return d.K * d.K * d.C }

// MACs is the number of multiply-adds of the forward pass for one image.
func (d *DepthwiseConv2D) MACs() int { return d.OutH * d.OutW * d.WeightLen() }

// batch returns how many images src holds, panicking unless it is a whole
// number of at least one.
func (d *DepthwiseConv2D) batch(src []float32) int {
	in := d.InLen()
	if len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("conv: depthwise input length %d is not a whole number of %dx%dx%d images", len(src), d.InH, d.InW, d.C))
	}
	return len(src) / in
}

func (d *DepthwiseConv2D) check(n int, name string, got, per int) {
	if got != n*per {
		panic(fmt.Sprintf("conv: depthwise %s has length %d, want %d (%d images)", name, got, n*per, n))
	}
}

// interior returns the range [lo, hi) of output positions along one axis
// (input length in, kernel k, stride s, padding p, out outputs) whose
// window lies wholly inside the input, so needs no bounds checks.
func interior(in, k, s, p, out int) (lo, hi int) {
	lo = min((p+s-1)/s, out)
	if in-k+p < 0 {
		return lo, lo
	}
	hi = min((in-k+p)/s+1, out)
	return lo, max(hi, lo)
}

// Forward computes the depthwise convolution dst = conv(src, w) + b for a
// batch of NHWC images. src holds n whole images, dst n*OutLen floats
// (overwritten), w the [K][K][C] weights and b C biases. dst must not alias
// src.
func (d *DepthwiseConv2D) Forward(dst, src, w, b []float32) {
	d.forwardBatch(dst, src, w, b, false)
}

// ForwardReLU is Forward followed by ReLU, dst = max(conv(src, w) + b, 0),
// in one pass: each output is clamped as it is computed. Where the sum is
// -0 or NaN it stays so (ReLU turns -0 into +0); the two compare equal.
func (d *DepthwiseConv2D) ForwardReLU(dst, src, w, b []float32) {
	d.forwardBatch(dst, src, w, b, true)
}

func (d *DepthwiseConv2D) forwardBatch(dst, src, w, b []float32, relu bool) {
	n := d.batch(src)
	d.check(n, "output", len(dst), d.OutLen())
	d.check(1, "weights", len(w), d.WeightLen())
	d.check(1, "bias", len(b), d.C)
	in, out := d.InLen(), d.OutLen()
	for i := range n {
		d.forward(dst[i*out:(i+1)*out], src[i*in:(i+1)*in], w, b, relu)
	}
}

// forward is Forward (ForwardReLU with relu) for one image.
func (d *DepthwiseConv2D) forward(y, x, w, b []float32, relu bool) {
	if d.K == 3 {
		d.forward3(y, x, w, b, relu, dw3)
		return
	}
	c, k, s, p := d.C, d.K, d.Stride, d.Pad
	yLo, yHi := interior(d.InH, k, s, p, d.OutH)
	xLo, xHi := interior(d.InW, k, s, p, d.OutW)
	for oy := range d.OutH {
		y0 := oy*s - p
		row := y[oy*d.OutW*c : (oy+1)*d.OutW*c]
		// Output pixels [lo, hi) of this row have their whole window
		// inside the image; the rest hang over an edge.
		lo, hi := d.OutW, d.OutW
		if oy >= yLo && oy < yHi {
			lo, hi = xLo, xHi
		}
		for ox := range lo {
			d.border(row[ox*c:(ox+1)*c], x, w, b, y0, ox*s-p, relu)
		}
		if lo < hi {
			start := (y0*d.InW + lo*s - p) * c
			d.interiorK(row[lo*c:hi*c], x[start:], w, b, relu)
		}
		for ox := hi; ox < d.OutW; ox++ {
			d.border(row[ox*c:(ox+1)*c], x, w, b, y0, ox*s-p, relu)
		}
	}
}

// border computes one output pixel acc whose window, with top-left corner
// (y0, x0), may hang over the edge of the image x.
func (d *DepthwiseConv2D) border(acc, x, w, b []float32, y0, x0 int, relu bool) {
	c, k := d.C, d.K
	copy(acc, b)
	for ky := range k {
		iy := y0 + ky
		if iy < 0 || iy >= d.InH {
			continue
		}
		for kx := range k {
			ix := x0 + kx
			if ix < 0 || ix >= d.InW {
				continue
			}
			xs := x[(iy*d.InW+ix)*c:][:len(acc)]
			ws := w[(ky*k+kx)*c:][:len(acc)]
			for ch := range acc {
				acc[ch] += xs[ch] * ws[ch]
			}
		}
	}
	if relu {
		reluInPlace(acc)
	}
}

// reluInPlace sets every element of v below 0 to 0 (NaN and -0 stay): the
// epilogue of the fused kernels.
func reluInPlace(v []float32) {
	for i, a := range v {
		if a < 0 {
			v[i] = 0
		}
	}
}

// interiorK computes len(y)/C consecutive output pixels of a row whose
// windows lie inside the image; x starts at the top-left input pixel of the
// first window. Each row of the window adds its taps into the output
// pixel, three at a time.
func (d *DepthwiseConv2D) interiorK(y, x, w, b []float32, relu bool) {
	c, k := d.C, d.K
	rs := d.InW * c
	rl := k * c // one row of the window, in x and in w
	step := d.Stride * c
	for o := 0; o < len(y); o += c {
		acc := y[o : o+c]
		copy(acc, b)
		for ky := range k {
			xr := x[ky*rs : ky*rs+rl]
			wr := w[ky*rl : (ky+1)*rl]
			kx := 0
			for ; kx+3 <= k; kx += 3 {
				n := len(acc)
				x0, x1, x2 := xr[kx*c:][:n], xr[(kx+1)*c:][:n], xr[(kx+2)*c:][:n]
				w0, w1, w2 := wr[kx*c:][:n], wr[(kx+1)*c:][:n], wr[(kx+2)*c:][:n]
				for ch := range acc {
					acc[ch] += x0[ch]*w0[ch] + x1[ch]*w1[ch] + x2[ch]*w2[ch]
				}
			}
			for ; kx < k; kx++ {
				xs, ws := xr[kx*c:][:len(acc)], wr[kx*c:][:len(acc)]
				for ch := range acc {
					acc[ch] += xs[ch] * ws[ch]
				}
			}
		}
		if relu {
			reluInPlace(acc)
		}
		if o+c < len(y) {
			x = x[step:]
		}
	}
}

// Backward computes the gradients of a loss L given gy = dL/d(output) for
// the batch src that Forward saw: it adds dL/dw to gw and dL/db to gb, and
// overwrites gx with dL/d(src) unless gx is nil. gx must not alias src or
// gy.
func (d *DepthwiseConv2D) Backward(gx, gw, gb, src, w, gy []float32) {
	n := d.batch(src)
	d.check(n, "output gradient", len(gy), d.OutLen())
	d.check(1, "weights", len(w), d.WeightLen())
	d.check(1, "weight gradient", len(gw), d.WeightLen())
	d.check(1, "bias gradient", len(gb), d.C)
	if gx != nil {
		d.check(n, "input gradient", len(gx), d.InLen())
	}
	in, out := d.InLen(), d.OutLen()
	AddColumnSums(gb, gy, d.C)
	for i := range n {
		g := gy[i*out : (i+1)*out]
		var gxi []float32
		if gx != nil {
			gxi = gx[i*in : (i+1)*in]
			clear(gxi)
		}
		d.backward(gxi, gw, src[i*in:(i+1)*in], w, g)
	}
}

// backward adds one image's weight gradient to gw and its input gradient
// to gx (skipped if nil).
func (d *DepthwiseConv2D) backward(gx, gw, x, w, g []float32) {
	if d.K == 3 {
		d.backward3(gx, gw, x, w, g, dw3Back)
		return
	}
	c, k, s, p := d.C, d.K, d.Stride, d.Pad
	yLo, yHi := interior(d.InH, k, s, p, d.OutH)
	xLo, xHi := interior(d.InW, k, s, p, d.OutW)
	rs := d.InW * c
	rl := k * c
	o := 0
	for oy := range d.OutH {
		y0 := oy*s - p
		for ox := range d.OutW {
			gp := g[o : o+c]
			o += c
			x0 := ox*s - p
			if oy >= yLo && oy < yHi && ox >= xLo && ox < xHi {
				start := (y0*d.InW + x0) * c
				for ky := range k {
					base := start + ky*rs
					xr := x[base : base+rl]
					gwr := gw[ky*rl : (ky+1)*rl]
					addTapsMul(gwr, xr, gp)
					if gx != nil {
						addTapsMul(gx[base:base+rl], w[ky*rl:(ky+1)*rl], gp)
					}
				}
				continue
			}
			for ky := range k {
				iy := y0 + ky
				if iy < 0 || iy >= d.InH {
					continue
				}
				for kx := range k {
					ix := x0 + kx
					if ix < 0 || ix >= d.InW {
						continue
					}
					xi := (iy*d.InW + ix) * c
					wi := (ky*k + kx) * c
					axpyMul(gw[wi:wi+c], x[xi:xi+c], gp)
					if gx != nil {
						axpyMul(gx[xi:xi+c], w[wi:wi+c], gp)
					}
				}
			}
		}
	}
}

// addTapsMul adds a[t]*g to dst[t] for each tap t of one window row, where
// a and dst hold len(dst)/len(g) runs of len(g) channels: the weight
// gradient (dst = gw, a = x) or the input gradient (dst = gx, a = w) of
// one output pixel whose gradient is g. Three taps at a time.
func addTapsMul(dst, a, g []float32) {
	c := len(g)
	a = a[:len(dst)]
	t := 0
	for ; t+3*c <= len(dst); t += 3 * c {
		n := len(g)
		d0, d1, d2 := dst[t:][:n], dst[t+c:][:n], dst[t+2*c:][:n]
		a0, a1, a2 := a[t:][:n], a[t+c:][:n], a[t+2*c:][:n]
		for ch, v := range g {
			d0[ch] += a0[ch] * v
			d1[ch] += a1[ch] * v
			d2[ch] += a2[ch] * v
		}
	}
	for ; t < len(dst); t += c {
		axpyMul(dst[t:t+c], a[t:t+c], g)
	}
}

// axpyMul adds a[i]*g[i] to dst[i]; all three have the same length.
func axpyMul(dst, a, g []float32) {
	a = a[:len(dst)]
	g = g[:len(dst)]
	for i := range dst {
		dst[i] += a[i] * g[i]
	}
}

// DepthwiseFromTorch copies PyTorch depthwise weights [c][1][k][k] from src
// into dst in catd's [k][k][c] order.
func DepthwiseFromTorch(dst, src []float32, c, k int) {
	n := c * k * k
	if len(dst) != n || len(src) != n {
		panic(fmt.Sprintf("conv: DepthwiseFromTorch lengths %d and %d, want %d", len(dst), len(src), n))
	}
	for ch := range c {
		for t := range k * k {
			dst[t*c+ch] = src[ch*k*k+t]
		}
	}
}

// DepthwiseToTorch is the inverse of DepthwiseFromTorch.
func DepthwiseToTorch(dst, src []float32, c, k int) {
	n := c * k * k
	if len(dst) != n || len(src) != n {
		panic(fmt.Sprintf("conv: DepthwiseToTorch lengths %d and %d, want %d", len(dst), len(src), n))
	}
	for ch := range c {
		for t := range k * k {
			dst[ch*k*k+t] = src[t*c+ch]
		}
	}
}
