package fixedpoint

import (
	"fmt"
	"math"

	"catd/conv"
)

// maxPatch bounds KH*KW*InC (and a dense layer's inputs) so that a
// patch's Σ x*w, at most 2^14 per term, stays below 2^30 in magnitude: the
// portable kernel carries two such sums in one int64.
const maxPatch = 1 << 16

// padSlack is the number of int8s after the padded image in the
// workspace: the kernels read up to three int8s past a patch row.
const padSlack = 8

// conv2D is an int8 2-D convolution over NHWC images: package conv's
// geometry (built with conv.NewConv2D) with quantized parameters. It
// computes, for each output pixel and channel oc,
//
//	acc = bias[oc] + Σ_{ky,kx,ic} (x[iy,ix,ic] - InZP) * w[oc,ky,kx,ic]
//
// in int32, with pixels outside the image counting as InZP (a real 0), and
// requantizes acc with the layer's requantParams. Build it with newConv2D.
type conv2D struct {
	g    conv.Conv2D
	InZP int32 // input zero point

	mm *igemm
}

// newConv2D returns an int8 convolution of geometry g with OHWI weights w
// ([OutC][KH][KW][InC], symmetric int8), int32 biases bias (OutC entries, or
// nil for none), input zero point inZP and output stage out. It copies
// what it needs, so the caller may reuse the slices. It returns an error
// naming the first bad parameter.
func newConv2D(g conv.Conv2D, w []int8, bias []int32, inZP int32, out requantParams) (*conv2D, error) {
	return newConv2DISA(defaultISA, g, w, bias, inZP, out)
}

// newConv2DISA is newConv2D with the kernels of s.
func newConv2DISA(s *isa, g conv.Conv2D, w []int8, bias []int32, inZP int32, out requantParams) (*conv2D, error) {
	c, err := conv.NewConv2D(g.InH, g.InW, g.InC, g.OutC, g.KH, g.Stride, g.Pad)
	if err != nil {
		return nil, fmt.Errorf("fixedpoint: %w", err)
	}
	if g.KW != g.KH || c != g {
		return nil, fmt.Errorf("fixedpoint: inconsistent convolution geometry %+v (build it with conv.NewConv2D)", g)
	}
	k := g.KH * g.KW * g.InC
	switch {
	case k > maxPatch:
		return nil, fmt.Errorf("fixedpoint: patch of %d weights, want at most %d", k, maxPatch)
	case len(w) != g.OutC*k:
		return nil, fmt.Errorf("fixedpoint: %d weights, want %d (OHWI %dx%dx%dx%d)", len(w), g.OutC*k, g.OutC, g.KH, g.KW, g.InC)
	case bias != nil && len(bias) != g.OutC:
		return nil, fmt.Errorf("fixedpoint: %d biases, want %d", len(bias), g.OutC)
	case inZP < math.MinInt8 || inZP > math.MaxInt8:
		return nil, fmt.Errorf("fixedpoint: input zero point %d outside -128..127", inZP)
	}
	q, err := out.expand(g.OutC)
	if err != nil {
		return nil, err
	}
	// One patch row is KH segments of KW*InC int8s, one per kernel row.
	mm := newIgemm(s, g.OutC, g.KH, g.KW*g.InC, w, bias, inZP, q)
	return &conv2D{g: g, InZP: inZP, mm: mm}, nil
}

// foldBias writes bias[o] - zp*Σ_t w[o*k+t] into dst, in wrapping int32
// arithmetic (congruent mod 2^32 with TFLite's accumulator).
func foldBias(dst []int32, w []int8, bias []int32, k int, zp int32) []int32 {
	for o := range dst {
		var s int32
		for _, v := range w[o*k : (o+1)*k] {
			s += int32(v)
		}
		var b int32
		if bias != nil {
			b = bias[o]
		}
		dst[o] = b - zp*s
	}
	return dst
}

// packPairs packs the rows of the n×k matrix w two at a time into dst:
// dst[j*k+t] = w[2j][t] + w[2j+1][t]*2^32 (a zero row pads an odd n).
func packPairs(dst []int64, w []int8, n, k int) {
	for j := range (n + 1) / 2 {
		for t := range k {
			v := int64(w[2*j*k+t])
			if 2*j+1 < n {
				v += int64(w[(2*j+1)*k+t]) << 32
			}
			dst[j*k+t] = v
		}
	}
}

// Geometry returns the convolution's geometry.
func (c *conv2D) Geometry() conv.Conv2D { return c.g }

// InLen is the number of int8s in one input image.
func (c *conv2D) InLen() int { return c.g.InLen() }

// OutLen is the number of int8s in one output image.
func (c *conv2D) OutLen() int { return c.g.OutLen() }

// MACs is the number of multiply-adds of the forward pass for one image.
func (c *conv2D) MACs() int { return c.g.MACs() }

// WorkLen is the number of int8s of workspace Forward needs: a copy of one
// image with its zero-point padding (0 without padding, when Forward reads
// the input in place).
func (c *conv2D) WorkLen() int {
	if c.g.Pad == 0 {
		return 0
	}
	h, w := c.padded()
	return h*w*c.g.InC + padSlack
}

// padded returns the rows and columns of the padded image: the rows the
// windows reach and the whole padded width.
func (c *conv2D) padded() (h, w int) {
	return (c.g.OutH-1)*c.g.Stride + c.g.KH, c.g.InW + 2*c.g.Pad
}

// Forward computes the convolution of a batch of int8 NHWC images: src
// holds n whole images, dst n*OutLen int8s (overwritten) and work at least
// WorkLen int8s of scratch. dst must not alias src or work.
//
// There is no im2col: each output pixel's patch is read straight from the
// image (KH runs of KW*InC int8s), padded first into work if the
// convolution pads, and multiplied by the packed weights into an int32
// tile on the stack, which is then requantized.
func (c *conv2D) Forward(dst, src, work []int8) {
	in, out := c.g.InLen(), c.g.OutLen()
	if len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("fixedpoint: conv input length %d is not a whole number of %dx%dx%d images", len(src), c.g.InH, c.g.InW, c.g.InC))
	}
	n := len(src) / in
	if len(dst) != n*out {
		panic(fmt.Sprintf("fixedpoint: conv output has length %d, want %d (%d images)", len(dst), n*out, n))
	}
	wl := c.WorkLen()
	if len(work) < wl {
		panic(fmt.Sprintf("fixedpoint: conv workspace has length %d, want at least %d", len(work), wl))
	}
	var tile [tileLen]int32
	g := &c.g
	ic, s := g.InC, g.Stride
	for i := range n {
		buf, w := src[i*in:], g.InW // the image (and those after it)
		if g.Pad > 0 {
			buf = work[:wl]
			c.pad(buf, src[i*in:(i+1)*in])
			_, w = c.padded()
		}
		y := dst[i*out : (i+1)*out]
		lds := w * ic
		if w == g.OutW {
			// 1×1, stride 1, no padding: all pixels are one run.
			c.mm.run(y, buf, 0, s*ic, lds, g.OutH*g.OutW, &tile)
			continue
		}
		for oy := range g.OutH {
			c.mm.run(y[oy*g.OutW*g.OutC:], buf, oy*s*lds, s*ic, lds, g.OutW, &tile)
		}
	}
}

// pad writes the image x, surrounded by Pad pixels of InZP, into buf (the
// rows the windows reach, then padSlack int8s of InZP).
func (c *conv2D) pad(buf, x []int8) {
	g := &c.g
	h, w := c.padded()
	row, p, ic := w*g.InC, g.Pad, g.InC
	zp := int8(c.InZP)
	for py := range h {
		r := buf[py*row : (py+1)*row]
		iy := py - p
		if iy < 0 || iy >= g.InH {
			fill(r, zp)
			continue
		}
		fill(r[:p*ic], zp)
		copy(r[p*ic:], x[iy*g.InW*ic:(iy+1)*g.InW*ic])
		fill(r[(p+g.InW)*ic:], zp)
	}
	fill(buf[h*row:], zp)
}

// fill sets every element of s to v.
func fill(s []int8, v int8) {
	for i := range s {
		s[i] = v
	}
}
