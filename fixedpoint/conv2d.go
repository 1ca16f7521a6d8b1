package fixedpoint

import (
	"fmt"
	"math"

	"catd/conv"
)

// maxPatch bounds KH*KW*InC so that a patch's Σ x*w (at most 2^14 per
// term) fits in the int32 lanes of the packed accumulators.
const maxPatch = 1 << 16

// Conv2D is an int8 2-D convolution over NHWC images: package conv's
// geometry (built with conv.NewConv2D) with quantized parameters. It
// computes, for each output pixel and channel oc,
//
//	acc = bias[oc] + Σ_{ky,kx,ic} (x[iy,ix,ic] - InZP) * w[oc,ky,kx,ic]
//
// in int32, with pixels outside the image counting as InZP (a real 0), and
// requantizes acc with the layer's Requant. Build it with NewConv2D.
type Conv2D struct {
	g    conv.Conv2D
	InZP int32 // input zero point

	out    requant
	k      int     // patch length KH*KW*InC
	bias   []int32 // bias[oc] - InZP*Σw[oc], wrapping as TFLite's int32 does
	packed []int64 // [(OutC+1)/2][k]: w[2j][t] + w[2j+1][t]<<32
}

// NewConv2D returns an int8 convolution of geometry g with OHWI weights w
// ([OutC][KH][KW][InC], symmetric int8), int32 biases bias (OutC entries, or
// nil for none), input zero point inZP and output stage out. It copies
// what it needs, so the caller may reuse the slices. It returns an error
// naming the first bad parameter.
func NewConv2D(g conv.Conv2D, w []int8, bias []int32, inZP int32, out Requant) (*Conv2D, error) {
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
	l := &Conv2D{g: g, InZP: inZP, out: q, k: k, bias: make([]int32, g.OutC), packed: make([]int64, (g.OutC+1)/2*k)}
	l.bias = foldBias(l.bias, w, bias, k, inZP)
	packPairs(l.packed, w, g.OutC, k)
	return l, nil
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
func (c *Conv2D) Geometry() conv.Conv2D { return c.g }

// InLen is the number of int8s in one input image.
func (c *Conv2D) InLen() int { return c.g.InLen() }

// OutLen is the number of int8s in one output image.
func (c *Conv2D) OutLen() int { return c.g.OutLen() }

// MACs is the number of multiply-adds of the forward pass for one image.
func (c *Conv2D) MACs() int { return c.g.MACs() }

// WorkLen is the number of int8s of workspace Forward needs: the patch
// matrix of one image (0 for a 1×1 kernel with stride 1 and no padding).
func (c *Conv2D) WorkLen() int {
	if c.pointwise() {
		return 0
	}
	return c.g.OutH * c.g.OutW * c.k
}

func (c *Conv2D) pointwise() bool {
	return c.g.KH == 1 && c.g.KW == 1 && c.g.Stride == 1 && c.g.Pad == 0
}

// Forward computes the convolution of a batch of int8 NHWC images: src
// holds n whole images, dst n*OutLen int8s (overwritten) and work at least
// WorkLen int8s of scratch. dst must not alias src or work.
func (c *Conv2D) Forward(dst, src, work []int8) {
	in, out := c.g.InLen(), c.g.OutLen()
	if len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("fixedpoint: conv input length %d is not a whole number of %dx%dx%d images", len(src), c.g.InH, c.g.InW, c.g.InC))
	}
	n := len(src) / in
	if len(dst) != n*out {
		panic(fmt.Sprintf("fixedpoint: conv output has length %d, want %d (%d images)", len(dst), n*out, n))
	}
	if len(work) < c.WorkLen() {
		panic(fmt.Sprintf("fixedpoint: conv workspace has length %d, want at least %d", len(work), c.WorkLen()))
	}
	p := c.g.OutH * c.g.OutW
	for i := range n {
		x := src[i*in : (i+1)*in]
		patches := x
		if !c.pointwise() {
			patches = work[:p*c.k]
			conv.Im2Col(&c.g, patches, x, int8(c.InZP))
		}
		c.gemm(dst[i*out:(i+1)*out], patches, p)
	}
}

// gemm computes the p output pixels y (p×OutC) from the patch matrix a
// (p×k): four pixels by two packed channel pairs at a time, eight int64
// accumulators that each carry two exact int32 sums.
func (c *Conv2D) gemm(y, a []int8, p int) {
	k, oc := c.k, c.g.OutC
	np := (oc + 1) / 2
	pk := c.packed
	i := 0
	for ; i+4 <= p; i += 4 {
		a0, a1, a2, a3 := a[i*k:(i+1)*k], a[(i+1)*k:(i+2)*k], a[(i+2)*k:(i+3)*k], a[(i+3)*k:(i+4)*k]
		y0, y1, y2, y3 := y[i*oc:(i+1)*oc], y[(i+1)*oc:(i+2)*oc], y[(i+2)*oc:(i+3)*oc], y[(i+3)*oc:(i+4)*oc]
		j := 0
		for ; j+2 <= np; j += 2 {
			w0, w1 := pk[j*k:(j+1)*k], pk[(j+1)*k:(j+2)*k]
			a0, a1, a2, a3 := a0[:len(w0)], a1[:len(w0)], a2[:len(w0)], a3[:len(w0)]
			w1 = w1[:len(w0)]
			var s00, s01, s10, s11, s20, s21, s30, s31 int64
			for t, u0 := range w0 {
				u1 := w1[t]
				x0, x1, x2, x3 := int64(a0[t]), int64(a1[t]), int64(a2[t]), int64(a3[t])
				s00 += x0 * u0
				s01 += x0 * u1
				s10 += x1 * u0
				s11 += x1 * u1
				s20 += x2 * u0
				s21 += x2 * u1
				s30 += x3 * u0
				s31 += x3 * u1
			}
			c.put(y0, j, s00)
			c.put(y0, j+1, s01)
			c.put(y1, j, s10)
			c.put(y1, j+1, s11)
			c.put(y2, j, s20)
			c.put(y2, j+1, s21)
			c.put(y3, j, s30)
			c.put(y3, j+1, s31)
		}
		for ; j < np; j++ {
			w0 := pk[j*k : (j+1)*k]
			a0, a1, a2, a3 := a0[:len(w0)], a1[:len(w0)], a2[:len(w0)], a3[:len(w0)]
			var s0, s1, s2, s3 int64
			for t, u := range w0 {
				s0 += int64(a0[t]) * u
				s1 += int64(a1[t]) * u
				s2 += int64(a2[t]) * u
				s3 += int64(a3[t]) * u
			}
			c.put(y0, j, s0)
			c.put(y1, j, s1)
			c.put(y2, j, s2)
			c.put(y3, j, s3)
		}
	}
	for ; i < p; i++ {
		a0 := a[i*k : (i+1)*k]
		y0 := y[i*oc : (i+1)*oc]
		for j := range np {
			w0 := pk[j*k : (j+1)*k]
			a0 := a0[:len(w0)]
			var s int64
			for t, u := range w0 {
				s += int64(a0[t]) * u
			}
			c.put(y0, j, s)
		}
	}
}

// put splits the packed accumulator s of channel pair j into its two int32
// sums and stores the requantized outputs of one pixel's row y.
func (c *Conv2D) put(y []int8, j int, s int64) {
	lo := int32(s)
	ch := 2 * j
	y[ch] = c.out.apply(lo+c.bias[ch], ch)
	if ch+1 < len(y) {
		hi := int32((s - int64(lo)) >> 32)
		y[ch+1] = c.out.apply(hi+c.bias[ch+1], ch+1)
	}
}
