package fixedpoint

import (
	"fmt"
	"math"
	"unsafe"

	"catd/conv"
)

// depthwiseConv2D is an int8 depthwise convolution over NHWC images:
// package conv's geometry (conv.NewDepthwiseConv2D) with quantized
// parameters. For each output pixel and channel c it computes
//
//	acc = bias[c] + Σ_{ky,kx inside the image} (x[iy,ix,c] - InZP) * w[ky,kx,c]
//
// in int32 and requantizes acc with the layer's requantParams (one multiplier per
// channel or per tensor). Weights are [K][K][C], TFLite's depthwise layout
// with channel multiplier 1. Build it with newDepthwiseConv2D.
type depthwiseConv2D struct {
	g    conv.DepthwiseConv2D
	InZP int32 // input zero point

	cp   int     // channels padded to a multiple of 8
	rq   outKind // requantisation kernel; assembly depthwise kernels unless outGo
	w32  []int32 // [K*K][cp] weights, widened
	w16  []int16 // the same as int16s, for the arm64 kernel
	bias []int32 // [cp]
	out  outStage

	// The 3×3 kernel's (nil unless it runs): weights by pairs of taps,
	// [cp/8][5][8][2] (taps 2i and 2i+1 of each channel side by side, tap
	// 8 with a zero), the biases less InZP times the channel's nine
	// weights, and a row of InZPs that taps outside the image read (which
	// gives them InZP*w, cancelling their part of the bias).
	w3    []int16
	bias3 []int32
	zpRow []int8

	// The fused 3×3 row kernel's (nil unless it runs, see forwardOne): the
	// weights and folded biases in its layout (newDWRowWeights), and a
	// widened row of zero points (rowLen int16s).
	wRow    []int16
	biasRow []int32
	zpRow16 []int16
}

// maxDWTaps is the most taps (K*K) one kernel call takes: the tap list
// lives on the stack. Larger kernels run in the portable loop, in batches.
const maxDWTaps = 64

// newDepthwiseConv2D returns an int8 depthwise convolution of geometry g
// with [K][K][C] weights w, biases bias (C entries, or nil), input zero
// point inZP and output stage out, copying what it needs, or an error naming
// the first bad parameter.
func newDepthwiseConv2D(g conv.DepthwiseConv2D, w []int8, bias []int32, inZP int32, out requantParams) (*depthwiseConv2D, error) {
	return newDepthwiseConv2DISA(defaultISA, g, w, bias, inZP, out)
}

// newDepthwiseConv2DISA is newDepthwiseConv2D with s's kernels (the assembly
// depthwise kernels go with an instruction set that requantizes in
// assembly).
func newDepthwiseConv2DISA(s *isa, g conv.DepthwiseConv2D, w []int8, bias []int32, inZP int32, out requantParams) (*depthwiseConv2D, error) {
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
	cp := (g.C + 7) / 8 * 8
	taps := g.K * g.K
	l := &depthwiseConv2D{g: g, InZP: inZP, cp: cp, rq: s.rq, w32: make([]int32, taps*cp), bias: make([]int32, cp), out: newOutStage(q, g.C, s.rq)}
	for t := range taps {
		for c := range g.C {
			l.w32[t*cp+c] = int32(w[t*g.C+c])
		}
	}
	if l.rq != outGo && dwInt16 {
		l.w16 = make([]int16, len(l.w32))
		for i, v := range l.w32 {
			l.w16[i] = int16(v)
		}
	}
	copy(l.bias, bias)
	if useDW3 && l.rq != outGo && g.K == 3 {
		l.w3, l.bias3 = newDW3Weights(l.w32, l.bias, cp, inZP)
		// As long as the longest run's reads: (OutW-1)*Stride*C + cp.
		l.zpRow = make([]int8, (g.OutW-1)*g.Stride*g.C+cp)
		for i := range l.zpRow {
			l.zpRow[i] = int8(inZP)
		}
		if l.out.one != nil && g.C%8 == 0 && g.Stride == 1 {
			// Strided layers widen more rows per output row than they
			// reuse: they stay in dw3One512, which reads int8 taps.
			l.wRow, l.biasRow = newDWRowWeights(l.w32, l.bias3, g.C)
			l.zpRow16 = make([]int16, l.rowLen())
			for i := range l.zpRow16 {
				l.zpRow16[i] = int16(inZP)
			}
		}
	}
	return l, nil
}

// newDWRowWeights returns the fused row kernel's weights and biases
// (dwRowOne512 in dw3_amd64.s) from [9][c] weights w32 (c a multiple of 8)
// and the folded biases bias3. Per block of 16 channels, then one of 8
// if c is not a multiple of 16: for each pair of taps i (2i and 2i+1; the
// ninth alone, with a zero) and half h, the lanes of one accumulator, two
// int16 weights each; lane j of half h of a block of 16 is channel
// j/4*8 + 4h + j%4 (what VPUNPCKLWD and VPUNPCKHWD pair up in 128-bit
// lanes), of a block of 8 channel 4h + j. The biases follow the lanes.
func newDWRowWeights(w32, bias3 []int32, c int) (wRow []int16, biasRow []int32) {
	wRow, biasRow = make([]int16, c/8*80), make([]int32, c)
	for b0 := 0; b0 < c; b0 += 16 {
		width := min(16, c-b0)
		half := width / 2
		for h := range 2 {
			for j := range half {
				ch := b0 + 4*h + j
				if width == 16 {
					ch = b0 + j/4*8 + 4*h + j%4
				}
				biasRow[b0+h*half+j] = bias3[ch]
				for i := range 5 {
					o := b0*10 + (2*i+h)*width + 2*j
					wRow[o] = int16(w32[2*i*c+ch])
					if 2*i+1 < 9 {
						wRow[o+1] = int16(w32[(2*i+1)*c+ch])
					}
				}
			}
		}
	}
	return wRow, biasRow
}

// Geometry returns the convolution's geometry.
func (d *depthwiseConv2D) Geometry() conv.DepthwiseConv2D { return d.g }

// InLen is the number of int8s in one input image.
func (d *depthwiseConv2D) InLen() int { return d.g.InLen() }

// OutLen is the number of int8s in one output image.
func (d *depthwiseConv2D) OutLen() int { return d.g.OutLen() }

// MACs is the number of multiply-adds of the forward pass for one image.
func (d *depthwiseConv2D) MACs() int { return d.g.MACs() }

// WorkLen is the number of int32s of workspace Forward takes: C, one per
// channel (Forward keeps its accumulators in a tile on the stack and does
// not touch them; the length stays what it was so that callers'
// workspaces, which other layers may share, keep their size), or, for the
// fused 3×3 row kernel, room for three widened input rows (forwardOne).
func (d *depthwiseConv2D) WorkLen() int {
	if d.wRow != nil {
		return max(d.g.C, (3*d.rowLen()+1)/2)
	}
	return d.g.C
}

// rowLen is the number of int16s of one widened, padded input row of the
// fused row kernel: (InW + 2*Pad) pixels of C channels. Its workspace
// holds three.
func (d *depthwiseConv2D) rowLen() int { return (d.g.InW + 2*d.g.Pad) * d.g.C }

// Forward computes the depthwise convolution of a batch of int8 NHWC
// images: src holds n whole images, dst n*OutLen int8s (overwritten) and
// work at least WorkLen int32s. dst must not alias src.
//
// An output row is computed in runs of pixels whose windows hang over the
// image edge alike (the interior is one run), each run from the list of
// its taps inside the image, a block of channels at a time, into an int32
// tile on the stack that is then requantized.
func (d *depthwiseConv2D) Forward(dst, src []int8, work []int32) {
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
	if d.wRow != nil {
		w16 := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(work))), 2*len(work))
		for i := range n {
			d.forwardOne(dst[i*out:(i+1)*out], src[i*in:(i+1)*in], w16)
		}
		return
	}
	var tile [tileLen]int32
	var taps [2 * maxDWTaps]int
	rowLen := d.g.OutW * d.g.C
	for i := range n {
		x := src[i*in : (i+1)*in]
		for oy := range d.g.OutH {
			if d.w3 != nil && d.g.C%8 == 0 {
				d.row3(dst[i*out+oy*rowLen:][:rowLen], x, oy, &tile)
				continue
			}
			d.row(dst[i*out+oy*rowLen:][:rowLen], x, oy, &tile, &taps)
		}
	}
}

// row computes output row oy of the image x into y.
func (d *depthwiseConv2D) row(y, x []int8, oy int, tile *[tileLen]int32, taps *[2 * maxDWTaps]int) {
	g := &d.g
	c, k, s := g.C, g.K, g.Stride
	iy0 := oy*s - g.Pad
	ky0, ky1 := max(0, -iy0), min(k, g.InH-iy0)
	kxRange := func(ox int) (int, int) {
		ix0 := ox*s - g.Pad
		return max(0, -ix0), min(k, g.InW-ix0)
	}
	cw := min(d.cp, maxTileCols)
	tr := tileLen / cw
	for c0 := 0; c0 < c; c0 += cw {
		cc := min(cw, c-c0)
		for p0 := 0; p0 < g.OutW; p0 += tr {
			p1 := min(p0+tr, g.OutW)
			for ox := p0; ox < p1; {
				kx0, kx1 := kxRange(ox)
				end := ox + 1
				for end < p1 {
					if a, b := kxRange(end); a != kx0 || b != kx1 {
						break
					}
					end++
				}
				ix0 := ox*s - g.Pad
				acc := tile[(ox-p0)*cw:]
				nt, first := 0, true
				for ky := ky0; ky < ky1; ky++ {
					for kx := kx0; kx < kx1; kx++ {
						taps[2*nt] = ((iy0+ky)*g.InW + ix0 + kx) * c
						taps[2*nt+1] = (ky*k + kx) * d.cp
						if nt++; nt == maxDWTaps {
							d.pixels(end-ox, x, c0, cc, s*c, taps[:2*nt], first, acc, cw)
							nt, first = 0, false
						}
					}
				}
				if nt > 0 {
					d.pixels(end-ox, x, c0, cc, s*c, taps[:2*nt], first, acc, cw)
				}
				ox = end
			}
			d.out.rows(y[p0*c:], c, tile[:(p1-p0)*cw], cw, p1-p0, c0, c0+cc, d.rq)
		}
	}
}

// row3 is row for 3×3 layers of whole blocks of 8 channels, all in the
// 3×3 kernel: a run is a single pixel whose window hangs over the left or
// right edge, or the pixels between, and each run's taps are pointers
// into x, or into the row of zero points where they fall outside it.
func (d *depthwiseConv2D) row3(y, x []int8, oy int, tile *[tileLen]int32) {
	g := &d.g
	c, s := g.C, g.Stride
	xs := s * c
	iy0 := oy*s - g.Pad
	cw := min(d.cp, maxTileCols)
	tr := tileLen / cw
	var tap [9]*int8
	for c0 := 0; c0 < c; c0 += cw {
		cc := min(cw, c-c0)
		for p0 := 0; p0 < g.OutW; p0 += tr {
			p1 := min(p0+tr, g.OutW)
			for ox := p0; ox < p1; {
				ix0 := ox*s - g.Pad
				end := ox + 1
				if ix0 >= 0 {
					for end < p1 && end*s-g.Pad+3 <= g.InW {
						end++
					}
				}
				n := end - ox
				// The kernel's last reads, in x and in the zero points.
				_ = d.zpRow[(n-1)*xs+c0+cc-1]
				for ky := range 3 {
					iy := iy0 + ky
					for kx := range 3 {
						ix := ix0 + kx
						if iy < 0 || iy >= g.InH || ix < 0 || ix >= g.InW {
							tap[ky*3+kx] = &d.zpRow[c0]
							continue
						}
						off := (iy*g.InW+ix)*c + c0
						_ = x[off+(n-1)*xs+cc-1]
						tap[ky*3+kx] = &x[off]
					}
				}
				if d.out.one != nil {
					// Requantised in the kernel, straight into y.
					_ = y[(end-1)*c+c0+cc-1]
					dw3BlocksOne(n, cc/8, &tap, xs, &d.w3[c0/8*80], &d.bias3[c0], &y[ox*c+c0], c, &d.out.one[c0/16*rqOneStride], d.out.lo, d.out.hi)
				} else {
					acc := tile[(ox-p0)*cw:]
					_ = acc[(n-1)*cw+cc-1]
					dw3Blocks(n, cc/8, &tap, xs, &d.w3[c0/8*80], &d.bias3[c0], &acc[0], cw)
				}
				ox = end
			}
			if d.out.one == nil {
				d.out.rows(y[p0*c:], c, tile[:(p1-p0)*cw], cw, p1-p0, c0, c0+cc, d.rq)
			}
		}
	}
}

// forwardOne is Forward for one image x in the fused 3×3 row kernel:
// input rows are widened to int16 once, into three slots of w16 (row iy
// in slot iy%3) with Pad pixels of the zero point on either side, rows
// outside the image read the layer's row of zero points, and each output
// row is one kernel call over all its pixels, requantised into y.
func (d *depthwiseConv2D) forwardOne(y, x []int8, w16 []int16) {
	g := &d.g
	c, p := g.C, g.Pad
	rl := d.rowLen()
	_ = w16[3*rl-1]
	zpr := d.zpRow16[:rl]
	for k := range 3 {
		slot := w16[k*rl : (k+1)*rl]
		copy(slot[:p*c], zpr)
		copy(slot[rl-p*c:], zpr)
	}
	have := [3]int{-1, -1, -1}
	var rows [3]*int16
	ol := g.OutW * c
	for oy := range g.OutH {
		for ky := range 3 {
			iy := oy*g.Stride - p + ky
			if iy < 0 || iy >= g.InH {
				rows[ky] = &zpr[0]
				continue
			}
			k := iy % 3
			slot := w16[k*rl : (k+1)*rl]
			if have[k] != iy {
				widen(slot[p*c:(p+g.InW)*c], x[iy*g.InW*c:(iy+1)*g.InW*c])
				have[k] = iy
			}
			rows[ky] = &slot[0]
		}
		yr := y[oy*ol : (oy+1)*ol]
		dwRowOne(g.OutW, c/8, rows[0], rows[1], rows[2], 2*g.Stride*c, 2*c, &d.wRow[0], &d.biasRow[0], &yr[0], c, &d.out.one[0], d.out.lo, d.out.hi)
	}
}

// rowOneGo is the twin of the fused row kernel (dwRowOne512) for the n
// pixels of one output row, from the three widened input rows it would
// read: for pixel p and channel c,
//
//	acc = bias3[c] + Σ_{ky,kx} int32(rows[ky][(p*Stride+kx)*C + c]) * w[ky,kx,c]
//
// wrapping, requantised by oneLane into y[p*C + c]. It reads the weights
// and biases in their plain layouts (w32, bias3), not the kernel's.
func (d *depthwiseConv2D) rowOneGo(n int, rows [3][]int16, y []int8) {
	c, s := d.g.C, d.g.Stride
	for ch := range c {
		m, k, sh := d.out.oneAt(ch)
		for px := range n {
			acc := d.bias3[ch]
			for t := range 9 {
				acc += int32(rows[t/3][(px*s+t%3)*c+ch]) * d.w32[t*d.cp+ch]
			}
			y[px*c+ch] = d.out.oneLane(acc, m, k, sh)
		}
	}
}

// oneGo is the twin of the fused 3×3 kernel (dw3BlocksOne) for n pixels
// sharing a tap list (see dwGo): dwGo's sums for channels c0..c1, in the
// caller's scratch acc (n*(c1-c0) int32s), requantised by oneLane into
// y[p*ys + c-c0] for pixel p and channel c.
func (d *depthwiseConv2D) oneGo(n int, x []int8, c0, c1, xs int, taps []int, y []int8, ys int, acc []int32) {
	d.dwGo(n, x, c0, c1, xs, taps, true, acc, c1-c0)
	for c := c0; c < c1; c++ {
		m, k, s := d.out.oneAt(c)
		for p := range n {
			y[p*ys+c-c0] = d.out.oneLane(acc[p*(c1-c0)+c-c0], m, k, s)
		}
	}
}

// widenGo is the twin of widen16: dst[i] = int16(src[i]).
func widenGo(dst []int16, src []int8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = int16(v)
	}
}

// pixels computes channels c0..c0+cc of n pixels sharing a tap list
// (pairs of input offset and weight offset; the pixels are xs int8s
// apart) into acc (row stride ldc, column 0 is channel c0): the first
// batch of taps starts from the bias, later ones add to acc.
func (d *depthwiseConv2D) pixels(n int, x []int8, c0, cc, xs int, taps []int, first bool, acc []int32, ldc int) {
	full := 0
	if d.rq != outGo && d.g.K*d.g.K <= maxDWTaps {
		full = cc / 8
		if full > 0 {
			// The kernel's last reads: the last pixel's taps, up to channel c0+8*full.
			_ = x[(n-1)*xs+maxTapOffset(taps)+c0+8*full-1]
			_ = acc[(n-1)*ldc+8*full-1]
			if d.w3 != nil && first {
				// All nine taps, those outside the image on the row of zero points.
				_ = d.zpRow[(n-1)*xs+c0+8*full-1]
				var tap [9]*int8
				for t := range tap {
					tap[t] = &d.zpRow[c0]
				}
				for t := 0; t < len(taps); t += 2 {
					tap[taps[t+1]/d.cp] = &x[taps[t]+c0]
				}
				dw3Blocks(n, full, &tap, xs, &d.w3[c0/8*80], &d.bias3[c0], &acc[0], ldc)
			} else {
				dwBlocks(n, full, &x[c0], xs, taps, d.w32[c0:], d.w16, c0, &d.bias[c0], d.InZP, &acc[0], ldc)
			}
		}
	}
	if 8*full < cc {
		d.dwGo(n, x, c0+8*full, c0+cc, xs, taps, first, acc[8*full:], ldc)
	}
}

// newDW3Weights returns the 3×3 kernel's weights and biases (see
// depthwiseConv2D.w3) from [9][cp] weights w32 and biases bias. With the
// zero point folded into the bias, bias3 + Σ x*w equals dwGo's
// bias + Σ (x - zp)*w modulo 2^32, as int32 sums wrap.
func newDW3Weights(w32, bias []int32, cp int, zp int32) (w3 []int16, bias3 []int32) {
	w3, bias3 = make([]int16, cp/8*80), make([]int32, cp)
	for c := range cp {
		bias3[c] = bias[c]
		for t := range 9 {
			w := w32[t*cp+c]
			bias3[c] -= zp * w
			w3[c/8*80+t/2*16+c%8*2+t%2] = int16(w)
		}
	}
	return w3, bias3
}

// maxTapOffset returns the largest input offset of a tap list.
func maxTapOffset(taps []int) int {
	m := 0
	for t := 0; t < len(taps); t += 2 {
		m = max(m, taps[t])
	}
	return m
}

// dwGo is the portable twin of the depthwise kernels: for pixels p < n and
// channels c0 <= c < c1,
//
//	acc[p*ldc + c-c0] = bias[c] + Σ_t (int32(x[tap[2t] + p*xs + c]) - InZP) * w32[tap[2t+1] + c]
//
// (acc[...] + Σ_t ... unless first), wrapping in int32.
func (d *depthwiseConv2D) dwGo(n int, x []int8, c0, c1, xs int, taps []int, first bool, acc []int32, ldc int) {
	zp := d.InZP
	for p := range n {
		a := acc[p*ldc:][:c1-c0]
		if first {
			copy(a, d.bias[c0:c1])
		}
		for t := 0; t < len(taps); t += 2 {
			xs := x[taps[t]+p*xs+c0:][:len(a)]
			ws := d.w32[taps[t+1]+c0:][:len(a)]
			for ch := range a {
				a[ch] += (int32(xs[ch]) - zp) * ws[ch]
			}
		}
	}
}
