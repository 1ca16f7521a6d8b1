package fixedpoint

import (
	"fmt"
	"math"

	"catd/conv"
)

// DepthwiseConv2D is an int8 depthwise convolution over NHWC images:
// package conv's geometry (conv.NewDepthwiseConv2D) with quantized
// parameters. For each output pixel and channel c it computes
//
//	acc = bias[c] + Σ_{ky,kx inside the image} (x[iy,ix,c] - InZP) * w[ky,kx,c]
//
// in int32 and requantizes acc with the layer's Requant (one multiplier per
// channel or per tensor). Weights are [K][K][C], TFLite's depthwise layout
// with channel multiplier 1. Build it with NewDepthwiseConv2D.
type DepthwiseConv2D struct {
	g    conv.DepthwiseConv2D
	InZP int32 // input zero point

	out  requant
	w    []int16 // the weights, widened
	bias []int32
}

// NewDepthwiseConv2D returns an int8 depthwise convolution of geometry g
// with [K][K][C] weights w, biases bias (C entries, or nil), input zero
// point inZP and output stage out, copying what it needs, or an error naming
// the first bad parameter.
func NewDepthwiseConv2D(g conv.DepthwiseConv2D, w []int8, bias []int32, inZP int32, out Requant) (*DepthwiseConv2D, error) {
	d, err := conv.NewDepthwiseConv2D(g.InH, g.InW, g.C, g.K, g.Stride, g.Pad)
	if err != nil {
		return nil, fmt.Errorf("fixedpoint: %w", err)
	}
	switch {
	case d != g:
		return nil, fmt.Errorf("fixedpoint: inconsistent depthwise geometry %+v (build it with conv.NewDepthwiseConv2D)", g)
	case len(w) != g.WeightLen():
		return nil, fmt.Errorf("fixedpoint: %d depthwise weights, want %d", len(w), g.WeightLen())
	case bias != nil && len(bias) != g.C:
		return nil, fmt.Errorf("fixedpoint: %d depthwise biases, want %d", len(bias), g.C)
	case inZP < math.MinInt8 || inZP > math.MaxInt8:
		return nil, fmt.Errorf("fixedpoint: input zero point %d outside -128..127", inZP)
	}
	q, err := out.expand(g.C)
	if err != nil {
		return nil, err
	}
	l := &DepthwiseConv2D{g: g, InZP: inZP, out: q, w: make([]int16, len(w)), bias: make([]int32, g.C)}
	for i, v := range w {
		l.w[i] = int16(v)
	}
	if bias != nil {
		copy(l.bias, bias)
	}
	return l, nil
}

// Geometry returns the convolution's geometry.
func (d *DepthwiseConv2D) Geometry() conv.DepthwiseConv2D { return d.g }

// InLen is the number of int8s in one input image.
func (d *DepthwiseConv2D) InLen() int { return d.g.InLen() }

// OutLen is the number of int8s in one output image.
func (d *DepthwiseConv2D) OutLen() int { return d.g.OutLen() }

// MACs is the number of multiply-adds of the forward pass for one image.
func (d *DepthwiseConv2D) MACs() int { return d.g.MACs() }

// WorkLen is the number of int32s of workspace Forward needs: one
// accumulator per channel.
func (d *DepthwiseConv2D) WorkLen() int { return d.g.C }

// Forward computes the depthwise convolution of a batch of int8 NHWC
// images: src holds n whole images, dst n*OutLen int8s (overwritten) and
// work at least WorkLen int32s. dst must not alias src.
func (d *DepthwiseConv2D) Forward(dst, src []int8, work []int32) {
	in, out := d.g.InLen(), d.g.OutLen()
	if len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("fixedpoint: depthwise input length %d is not a whole number of %dx%dx%d images", len(src), d.g.InH, d.g.InW, d.g.C))
	}
	n := len(src) / in
	if len(dst) != n*out {
		panic(fmt.Sprintf("fixedpoint: depthwise output has length %d, want %d (%d images)", len(dst), n*out, n))
	}
	if len(work) < d.WorkLen() {
		panic(fmt.Sprintf("fixedpoint: depthwise workspace has length %d, want at least %d", len(work), d.WorkLen()))
	}
	acc := work[:d.g.C]
	c, k := d.g.C, d.g.K
	zp := int16(d.InZP)
	for i := range n {
		x := src[i*in : (i+1)*in]
		y := dst[i*out : (i+1)*out]
		o := 0
		for oy := range d.g.OutH {
			y0 := oy*d.g.Stride - d.g.Pad
			for ox := range d.g.OutW {
				x0 := ox*d.g.Stride - d.g.Pad
				copy(acc, d.bias)
				for ky := range k {
					iy := y0 + ky
					if iy < 0 || iy >= d.g.InH {
						continue
					}
					for kx := range k {
						ix := x0 + kx
						if ix < 0 || ix >= d.g.InW {
							continue
						}
						xs := x[(iy*d.g.InW+ix)*c:][:len(acc)]
						ws := d.w[(ky*k+kx)*c:][:len(acc)]
						for ch := range acc {
							// (x - zp) fits in int16, the product in int32.
							acc[ch] += int32(int16(xs[ch])-zp) * int32(ws[ch])
						}
					}
				}
				yp := y[o : o+c]
				o += c
				for ch, a := range acc {
					yp[ch] = d.out.apply(a, ch)
				}
			}
		}
	}
}
