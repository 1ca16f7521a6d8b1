package fixedpoint

// The plain reference twins of the kernels and the output stage, in exact
// int64 arithmetic: the tests hold the fast kernels to them bit for bit.

import (
	"math"

	"catd/conv"
)

// Conv2DRef is the reference int8 convolution for n NHWC images of
// geometry g with OHWI weights w, biases b (nil for none), input zero point
// inZP and output stage out (Mult and Shift of length 1 or OutC):
//
//	for each n, oy, ox, oc:
//	  acc = b[oc] + Σ_{ky,kx,ic} (src[n, oy*S-P+ky, ox*S-P+kx, ic] - inZP) * w[oc,ky,kx,ic]
//	  dst[n,oy,ox,oc] = RequantizeRef(acc, Mult[oc], Shift[oc], out.ZP, out.Min, out.Max)
//
// in int64, where taps outside the image contribute nothing.
func Conv2DRef(g conv.Conv2D, n int, dst, src, w []int8, b []int32, inZP int32, out requantParams) {
	k := g.KH * g.KW * g.InC
	for i := range n {
		for oy := range g.OutH {
			for ox := range g.OutW {
				for oc := range g.OutC {
					var acc int64
					if b != nil {
						acc = int64(b[oc])
					}
					for ky := range g.KH {
						for kx := range g.KW {
							iy, ix := oy*g.Stride-g.Pad+ky, ox*g.Stride-g.Pad+kx
							if iy < 0 || iy >= g.InH || ix < 0 || ix >= g.InW {
								continue
							}
							for ic := range g.InC {
								x := int64(src[((i*g.InH+iy)*g.InW+ix)*g.InC+ic]) - int64(inZP)
								acc += x * int64(w[oc*k+(ky*g.KW+kx)*g.InC+ic])
							}
						}
					}
					m, s := out.at(oc)
					dst[((i*g.OutH+oy)*g.OutW+ox)*g.OutC+oc] = RequantizeRef(acc, m, s, out.ZP, out.Min, out.Max)
				}
			}
		}
	}
}

// at returns channel ch's multiplier and shift (the only one if per tensor).
func (r *requantParams) at(ch int) (int32, int) {
	i := ch % len(r.Mult)
	return r.Mult[i], r.Shift[i]
}

// DepthwiseConv2DRef is the reference int8 depthwise convolution for n
// NHWC images of geometry g with [K][K][C] weights w:
//
//	acc = b[c] + Σ_{ky,kx inside} (src[n, oy*S-P+ky, ox*S-P+kx, c] - inZP) * w[ky,kx,c]
//	dst[n,oy,ox,c] = RequantizeRef(acc, Mult[c], Shift[c], out.ZP, out.Min, out.Max)
func DepthwiseConv2DRef(g conv.DepthwiseConv2D, n int, dst, src, w []int8, b []int32, inZP int32, out requantParams) {
	for i := range n {
		for oy := range g.OutH {
			for ox := range g.OutW {
				for c := range g.C {
					var acc int64
					if b != nil {
						acc = int64(b[c])
					}
					for ky := range g.K {
						for kx := range g.K {
							iy, ix := oy*g.Stride-g.Pad+ky, ox*g.Stride-g.Pad+kx
							if iy < 0 || iy >= g.InH || ix < 0 || ix >= g.InW {
								continue
							}
							x := int64(src[((i*g.InH+iy)*g.InW+ix)*g.C+c]) - int64(inZP)
							acc += x * int64(w[(ky*g.K+kx)*g.C+c])
						}
					}
					m, s := out.at(c)
					dst[((i*g.OutH+oy)*g.OutW+ox)*g.C+c] = RequantizeRef(acc, m, s, out.ZP, out.Min, out.Max)
				}
			}
		}
	}
}

// MaxPool2Ref is the reference 2×2/2 max pooling:
// dst[n,oy,ox,c] = max over dy,dx in {0,1} of src[n,2oy+dy,2ox+dx,c].
func MaxPool2Ref(p maxPool2, n int, dst, src []int8) {
	oh, ow := p.H/2, p.W/2
	for i := range n {
		for oy := range oh {
			for ox := range ow {
				for c := range p.C {
					m := int8(-128)
					for dy := range 2 {
						for dx := range 2 {
							m = max(m, src[((i*p.H+2*oy+dy)*p.W+2*ox+dx)*p.C+c])
						}
					}
					dst[((i*oh+oy)*ow+ox)*p.C+c] = m
				}
			}
		}
	}
}

// GlobalAvgPoolRef is the reference average pool: with
// s = Σ_{y,x} (src[n,y,x,c] - InZP) in int64 and h its product with the
// multiplier as RequantizeRef computes it,
//
//	dst[n,c] = clamp(round(h / (H*W)) + OutZP, -128, 127)
//
// where round takes ties away from zero, done with exact integers.
func GlobalAvgPoolRef(g globalAvgPool, n int, dst, src []int8) {
	hw := int64(g.H * g.W)
	for i := range n {
		for c := range g.C {
			var s int64
			for px := range hw {
				s += int64(src[(int64(i)*hw+px)*int64(g.C)+int64(c)]) - int64(g.InZP)
			}
			h := int64(multiplyRef(s, g.Mult, g.Shift))
			a := h
			if a < 0 {
				a = -a
			}
			q := (2*a + hw) / (2 * hw) // round(a/hw), ties up
			if h < 0 {
				q = -q
			}
			dst[i*g.C+c] = int8(min(max(q+int64(g.OutZP), -128), 127))
		}
	}
}

// DenseRef is the reference dense layer: acc = b[o] + Σ_i (src[n,i] - inZP)
// * w[o,i] in int64, dst[n,o] = RequantizeRef(acc, Mult[o], Shift[o], ...).
func DenseRef(in, out int, n int, dst, src, w []int8, b []int32, inZP int32, rq requantParams) {
	for r := range n {
		for o := range out {
			var acc int64
			if b != nil {
				acc = int64(b[o])
			}
			for i := range in {
				acc += (int64(src[r*in+i]) - int64(inZP)) * int64(w[o*in+i])
			}
			m, s := rq.at(o)
			dst[r*out+o] = RequantizeRef(acc, m, s, rq.ZP, rq.Min, rq.Max)
		}
	}
}

// RequantizeRef is the reference output stage, written with exact int64
// arithmetic instead of gemmlowp's bit tricks:
//
//	x := int32(acc) << max(shift, 0)               // TFLite's int32 accumulator, wrapping
//	h := floor((x*m + 2^30) / 2^31)                // MaxInt32 if x == m == MinInt32
//	r := h / 2^max(-shift, 0), rounded half away from zero
//	return clamp(int32(r) + zp, lo, hi)            // the addition wraps in int32
func RequantizeRef(acc int64, mult int32, shift int, zp int32, lo, hi int8) int8 {
	v := multiplyRef(acc, mult, shift) + zp
	return int8(min(max(v, int32(lo)), int32(hi)))
}

// multiplyRef is multiplyByQuantizedMultiplier restated in int64: the first
// three lines of RequantizeRef.
func multiplyRef(acc int64, mult int32, shift int) int32 {
	x := int32(acc) << uint(max(shift, 0))
	var h int64
	if x == math.MinInt32 && mult == math.MinInt32 {
		h = math.MaxInt32
	} else {
		h = (int64(x)*int64(mult) + 1<<30) >> 31 // arithmetic shift: floor
	}
	if right := max(-shift, 0); right > 0 {
		a := h
		if a < 0 {
			a = -a
		}
		a = (a + 1<<(right-1)) >> right
		if h < 0 {
			a = -a
		}
		h = a
	}
	return int32(h)
}
