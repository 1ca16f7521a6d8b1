package fixedpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// maxPool2 is 2×2 max pooling with stride 2 over int8 NHWC images of
// H×W×C; an odd last row or column is dropped, as in conv.MaxPool2. The
// output has the input's scale and zero point (TFLite's MaxPool2D), so
// pooling the codes pools the real values.
type maxPool2 struct{ H, W, C int }

// InLen is the number of int8s in one input image.
func (p maxPool2) InLen() int { return p.H * p.W * p.C }

// OutLen is the number of int8s in one output image.
func (p maxPool2) OutLen() int { return (p.H / 2) * (p.W / 2) * p.C }

// Forward writes the maximum of each 2×2 window of the n images in src
// into dst (n*OutLen int8s). dst must not alias src.
func (p maxPool2) Forward(dst, src []int8) {
	in := p.InLen()
	if p.H < 2 || p.W < 2 || p.C < 1 || len(src) == 0 || len(src)%in != 0 {
		panic(fmt.Sprintf("fixedpoint: max pool input length %d is not a whole number of %dx%dx%d images (at least 2x2)", len(src), p.H, p.W, p.C))
	}
	n := len(src) / in
	if len(dst) != n*p.OutLen() {
		panic(fmt.Sprintf("fixedpoint: max pool output has length %d, want %d", len(dst), n*p.OutLen()))
	}
	oh, ow, c := p.H/2, p.W/2, p.C
	row := p.W * c
	for i := range n {
		img := src[i*in : (i+1)*in]
		out := dst[i*p.OutLen() : (i+1)*p.OutLen()]
		for oy := range oh {
			r0 := img[2*oy*row : (2*oy+1)*row]
			r1 := img[(2*oy+1)*row : (2*oy+2)*row]
			y := out[oy*ow*c : (oy+1)*ow*c]
			for ox := poolRow(ow, c, r0, r1, y); ox < ow; ox++ {
				a0, a1 := r0[2*ox*c:][:c], r0[(2*ox+1)*c:][:c]
				b0, b1 := r1[2*ox*c:][:c], r1[(2*ox+1)*c:][:c]
				d := y[ox*c:][:c]
				for ch := range d {
					d[ch] = max(max(a0[ch], a1[ch]), max(b0[ch], b1[ch]))
				}
			}
		}
	}
}

// globalAvgPool averages each channel of int8 NHWC images of H×W×C over
// all pixels, giving N×C, as TFLite's reference_integer_ops::Mean does:
//
//	acc = Σ_{y,x} (q[y,x,c] - InZP)                        // int32
//	acc = multiplyByQuantizedMultiplier(acc, Mult, Shift)  // s_in/s_out
//	acc = acc / (H*W), rounded half away from zero          // (acc ± H*W/2) / (H*W)
//	out = clamp(acc + OutZP, -128, 127)
//
// With equal input and output scales (Mult, Shift) = quantizeMultiplier(1)
// = (2^30, 1) is exactly the identity. H*W must be at most 2^22 so that the
// sums fit. Build it with newGlobalAvgPool or fill it in.
type globalAvgPool struct {
	H, W, C     int
	InZP, OutZP int32
	Mult        int32
	Shift       int
}

// newGlobalAvgPool returns the average pool of H×W×C images whose input
// has scale inScale and zero point inZP and whose output has outScale and
// outZP, or an error naming the first bad parameter.
func newGlobalAvgPool(h, w, c int, inScale float64, inZP int32, outScale float64, outZP int32) (globalAvgPool, error) {
	switch {
	case h < 1 || w < 1 || c < 1 || h*w > 1<<22:
		return globalAvgPool{}, fmt.Errorf("fixedpoint: average pool over %dx%dx%d, want at least 1x1x1 and at most 2^22 pixels", h, w, c)
	case !(inScale > 0) || !(outScale > 0) || math.IsInf(inScale, 0) || math.IsInf(outScale, 0):
		return globalAvgPool{}, fmt.Errorf("fixedpoint: average pool scales %v and %v, want positive", inScale, outScale)
	case inZP < math.MinInt8 || inZP > math.MaxInt8 || outZP < math.MinInt8 || outZP > math.MaxInt8:
		return globalAvgPool{}, fmt.Errorf("fixedpoint: average pool zero points %d and %d outside -128..127", inZP, outZP)
	}
	m := inScale / outScale
	if m >= 1<<20 {
		return globalAvgPool{}, fmt.Errorf("fixedpoint: average pool scale ratio %v too large", m)
	}
	mult, shift := quantizeMultiplier(m)
	return globalAvgPool{H: h, W: w, C: c, InZP: inZP, OutZP: outZP, Mult: mult, Shift: shift}, nil
}

// Forward writes the per-channel averages of the n images of src into
// dst (n*C int8s). work is at least C int32s of scratch. dst must not alias
// src.
func (g globalAvgPool) Forward(dst, src []int8, work []int32) {
	hw, c := g.H*g.W, g.C
	if hw < 1 || c < 1 || len(src) == 0 || len(src)%(hw*c) != 0 {
		panic(fmt.Sprintf("fixedpoint: average pool input length %d is not a whole number of %dx%dx%d images", len(src), g.H, g.W, g.C))
	}
	n := len(src) / (hw * c)
	if len(dst) != n*c {
		panic(fmt.Sprintf("fixedpoint: average pool output has length %d, want %d", len(dst), n*c))
	}
	if len(work) < c || g.Shift < -31 || g.Shift > 31 {
		panic(fmt.Sprintf("fixedpoint: average pool workspace %d (want %d) or shift %d (want -31..31)", len(work), c, g.Shift))
	}
	acc := work[:c]
	half := int32(hw / 2)
	for i := range n {
		channelSums(acc, src[i*hw*c:(i+1)*hw*c])
		d := dst[i*c : (i+1)*c]
		for ch, s := range acc {
			v := mbqm(s-int32(hw)*g.InZP, g.Mult, g.Shift)
			if v > 0 {
				v = (v + half) / int32(hw)
			} else {
				v = (v - half) / int32(hw)
			}
			d[ch] = int8(min(max(v+g.OutZP, math.MinInt8), math.MaxInt8))
		}
	}
}

// channelSums writes into acc (C entries) the sum over the pixels of img
// (NHWC, C channels) of each channel. Eight channels at a time it adds the
// codes as bytes biased to x+128 in 16-bit lanes of two uint64s (even and
// odd channels), flushing them to acc every 256 pixels, before they could
// carry (256·255 < 2^16); the bias comes off at the end.
func channelSums(acc []int32, img []int8) {
	c := len(acc)
	hw := len(img) / c
	clear(acc)
	ch := 0
	for ; ch+8 <= c; ch += 8 {
		a := acc[ch : ch+8 : ch+8]
		for p0 := 0; p0 < hw; p0 += 256 {
			var even, odd uint64
			for px := p0; px < min(p0+256, hw); px++ {
				b := binary.LittleEndian.Uint64(unsafeBytes(img[px*c+ch:][:8])) ^ 0x8080808080808080
				even += b & 0x00ff00ff00ff00ff
				odd += b >> 8 & 0x00ff00ff00ff00ff
			}
			for k := range 4 {
				a[2*k] += int32(uint16(even >> (16 * k)))
				a[2*k+1] += int32(uint16(odd >> (16 * k)))
			}
		}
		for k := range a {
			a[k] -= int32(128 * hw)
		}
	}
	for px := range hw {
		xs := img[px*c+ch : (px+1)*c]
		for k, v := range xs {
			acc[ch+k] += int32(v)
		}
	}
}

// unsafeBytes views int8s as bytes.
func unsafeBytes(s []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// dense is an int8 fully connected layer from In to Out features,
// TFLite's FullyConnected: for each row and output o,
//
//	acc = bias[o] + Σ_i (x[i] - InZP) * w[o,i]
//
// in int32, requantized with the layer's requantParams (one multiplier per output
// or per tensor). Weights are [Out][In]. Build it with newDense.
type dense struct {
	In, Out int
	InZP    int32

	mm *igemm
}

// newDense returns an int8 dense layer with [out][in] weights w, biases
// bias (out entries, or nil), input zero point inZP and output stage rq,
// copying what it needs, or an error naming the first bad parameter.
func newDense(in, out int, w []int8, bias []int32, inZP int32, rq requantParams) (*dense, error) {
	return newDenseISA(defaultISA, in, out, w, bias, inZP, rq)
}

// newDenseISA is newDense with the kernels of s.
func newDenseISA(s *isa, in, out int, w []int8, bias []int32, inZP int32, rq requantParams) (*dense, error) {
	switch {
	case in < 1 || out < 1 || in > maxPatch:
		return nil, fmt.Errorf("fixedpoint: dense %d->%d, want 1..%d inputs and at least 1 output", in, out, maxPatch)
	case len(w) != in*out:
		return nil, fmt.Errorf("fixedpoint: %d dense weights, want %d", len(w), in*out)
	case bias != nil && len(bias) != out:
		return nil, fmt.Errorf("fixedpoint: %d dense biases, want %d", len(bias), out)
	case inZP < math.MinInt8 || inZP > math.MaxInt8:
		return nil, fmt.Errorf("fixedpoint: input zero point %d outside -128..127", inZP)
	}
	q, err := rq.expand(out)
	if err != nil {
		return nil, err
	}
	return &dense{In: in, Out: out, InZP: inZP, mm: newIgemm(s, out, 1, in, w, bias, inZP, q)}, nil
}

// Forward computes dst = requant(src·wᵀ + b) for N rows of In int8
// features; dst holds N*Out int8s. dst must not alias src.
func (d *dense) Forward(dst, src []int8) {
	if len(src) == 0 || len(src)%d.In != 0 {
		panic(fmt.Sprintf("fixedpoint: dense input length %d is not a whole number of %d features", len(src), d.In))
	}
	n := len(src) / d.In
	if len(dst) != n*d.Out {
		panic(fmt.Sprintf("fixedpoint: dense output has length %d, want %d", len(dst), n*d.Out))
	}
	var tile [tileLen]int32
	d.mm.run(dst, src, 0, d.In, 0, n, &tile)
}

// fillInputLUT fills lut so that quantizeInput turns 8-bit RGB pixels
// straight into the model's int8 input: lut[c][v] is the int8 code, in a
// tensor of the given scale and zero point, of the normalised value
//
//	x = v/255*(1/std[c]) - mean[c]/std[c]
//
// computed in float32 exactly as model.Info.NormalizePixels computes it,
// then quantized with quantizeValue (round half away from zero, saturate).
// Building the table costs 768 quantizations; using it, none.
func fillInputLUT(lut *[3][256]int8, mean, std [3]float32, scale float32, zp int32) {
	if !(scale > 0) || zp < math.MinInt8 || zp > math.MaxInt8 {
		panic(fmt.Sprintf("fixedpoint: FillInputLUT scale %v zero point %d", scale, zp))
	}
	for c := range 3 {
		s := 1 / (255 * std[c])
		off := -mean[c] / std[c]
		for v := range 256 {
			lut[c][v] = quantizeValue(float32(v)*s+off, scale, zp)
		}
	}
}

// quantizeInput writes the int8 model input for interleaved RGB pixels px
// (H×W×3) into dst: dst[i] = lut[i%3][px[i]]. The lengths must match and
// be a multiple of 3.
func quantizeInput(dst []int8, px []uint8, lut *[3][256]int8) {
	if len(dst) != len(px) || len(px)%3 != 0 {
		panic(fmt.Sprintf("fixedpoint: QuantizeInput lengths %d and %d, want equal multiples of 3", len(dst), len(px)))
	}
	// Whole blocks of 192 bytes in the vector kernel where there is one
	// (a multiple of 3, so the channels stay in step).
	i := quantizeInputAsm(dst, px, lut)
	quantizeInputGo(dst[i:], px[i:], lut)
}

// quantizeInputGo is quantizeInput in Go, the twin of lutRGB512: dst[i] =
// lut[i%3][px[i]], len(px) a multiple of 3.
func quantizeInputGo(dst []int8, px []uint8, lut *[3][256]int8) {
	r, g, b := &lut[0], &lut[1], &lut[2]
	px = px[:len(dst)]
	for i := 0; i+2 < len(px); i += 3 {
		dst[i] = r[px[i]]
		dst[i+1] = g[px[i+1]]
		dst[i+2] = b[px[i+2]]
	}
}
