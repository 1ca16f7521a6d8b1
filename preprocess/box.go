package preprocess

import "math/bits"

// The box path: the resize for frames that shrink vertically (every camera
// frame to the model's input), vertical pass first.
//
// resampleRows converts every source row to RGB bytes, resamples it to the
// output width and then accumulates rows; here each source row is converted
// straight into packed pixels (one uint64 a pixel: R in bits 0–15, G in
// 16–31, B in 32–47) and added, times its vertical weight, into a
// full-width row of such words, lane by lane: one multiply and one add a
// pixel for all three channels. The horizontal pass then runs once per
// output row instead of once per source row. The sums are the same
// integers as resampleRows' (Σ wx·wy·p in another order) and are rounded
// to the same values (in integers here, see planBox), so the two paths
// give identical bytes (TestBoxMatchesRows).
//
// A lane holds a vertical sum of at most 255·ys.den, so the path needs
// ys.den ≤ maxBoxDen; a source row then overlaps at most two output rows
// (shrinking), and the one that does ("straddles") is converted twice,
// once with its weight in each.

const (
	// maxBoxDen is the largest vertical denominator whose sums of 8-bit
	// values fit a 16-bit lane: 255·257 = 65535.
	maxBoxDen = 257
	// rbLanes masks the R and B lanes of a packed pixel, each widened to
	// 32 bits (the horizontal sums stay below 2^32 when Resizer.shift is 0).
	rbLanes = 0x0000_ffff_0000_ffff
	// grey is a packed pixel of value 1 in all three lanes.
	grey = 1 | 1<<16 | 1<<32
)

// pack returns the packed pixel of r, g, b.
func pack(r, g, b uint8) uint64 {
	return uint64(r) | uint64(g)<<16 | uint64(b)<<32
}

// planBox decides whether the planned geometry takes the box path and
// sizes its buffers.
//
// The box path rounds in integers: a pixel whose sum is v (at most 255·D,
// D = xs.den·ys.den) is floor((2v+D) / 2D), resampleRows' v/D rounded
// half up, and that is (2v+D)·M >> s with M = ceil(2^s / 2D) whenever
// 2^s > 511D·2D (the error of M, under 1 in 2^s/2D, then moves (2v+D)/2D
// by less than 1/2D, the least distance from below to the next integer).
// s ≤ 55 keeps (2v+D)·M within 64 bits; larger D take resampleRows.
func (r *Resizer) planBox() {
	sw := r.src.Dx()
	d := uint64(r.xs.den) * uint64(r.ys.den)
	s := uint(bits.Len64(1022 * d * d))
	r.box = r.shift == 0 && r.ys.den <= maxBoxDen && r.src.Dy() >= r.dst.Dy() && s <= 55
	if !r.box {
		r.bacc, r.bnext, r.hk = nil, nil, hkernel{}
		return
	}
	r.rden, r.rmul, r.rshift = d, (1<<s+2*d-1)/(2*d), s
	if d <= maxBoxDen {
		// Whole sums fit 16 bits: hbox looks the averages up (a table
		// lookup costs less than the multiply and shift, per channel).
		if r.rtab == nil {
			r.rtab = new([1 << 16]uint8)
		}
		q := rounding{d, r.rmul, s}
		for v := range uint64(255*d + 1) {
			r.rtab[v] = uint8((2*v + q.d) * q.mul >> q.shift)
		}
	}
	// The kernels of hbox read 4 words at an output pixel's first tap:
	// up to 4-taps words past the row, whose weights are 0.
	r.bacc = make([]uint64, sw+4)
	r.bnext = make([]uint64, sw+4)
	r.planHKernel()
}

// hkernel is the plan of hbox's assembly kernels.
type hkernel struct {
	ok bool
	w4 []uint64 // 4 taps per output pixel, each weight times grey
	q  hquot
}

// hquot divides a sum v ≤ 255·D (one 16-bit lane) by D, rounding half up,
// as hbox's kernels do in 16-bit lanes: floor((2v+D) / 2D), which is
// floor((v + D/2) / D) for D even and odd alike (with D/2 rounded down:
// v + (D-1)/2 + 1/2 reaches no multiple of D that v + (D-1)/2 does not),
// as ((v+half)·mul >> 16) >> shift. planHKernel checks every v.
type hquot struct {
	half, mul, shift uint16
}

// div is hquot's division in Go, the reference for the kernels.
func (q hquot) div(v uint16) uint8 {
	return uint8((uint32(v+q.half) * uint32(q.mul) >> 16) >> q.shift)
}

// findHQuot returns the hquot for denominator d, and whether one gives
// the rounding of every sum up to 255·d. It tries the largest shifts
// whose multiplier fits 16 bits, with the multiplier rounded up, or
// rounded down and the dividend incremented (the two usual ways of
// dividing by a multiply), and checks every sum: one of them is exact for
// every d ≤ 256 (TestHQuot).
func findHQuot(d uint64) (hquot, bool) {
	if d == 0 || d > 256 { // v + half + 1 must fit 16 bits
		return hquot{}, false
	}
	exact := func(q hquot) bool {
		for v := range 255*d + 1 {
			if uint64(q.div(uint16(v))) != (2*v+d)/(2*d) {
				return false
			}
		}
		return true
	}
	for k := 15; k >= 0; k-- {
		c := uint64(1) << (16 + k)
		up, down := (c+d-1)/d, c/d
		if up > 1<<16 {
			continue
		}
		// A multiplier of 2^16 (d = 1, k = 0) is one less, rounded down.
		for _, q := range []hquot{
			{uint16(d / 2), uint16(min(up, 1<<16-1)), uint16(k)},
			{uint16(d/2 + 1), uint16(min(down, 1<<16-1)), uint16(k)},
		} {
			if exact(q) {
				return q, true
			}
		}
	}
	return hquot{}, false
}

// planHKernel decides whether hbox takes an assembly kernel and lays out
// its weights.
func (r *Resizer) planHKernel() {
	r.hk.ok = false
	if !hboxKernels || r.taps > 4 {
		return
	}
	q, ok := findHQuot(r.rden)
	if !ok {
		return
	}
	m := len(r.hfirst)
	r.hk = hkernel{ok: true, w4: make([]uint64, 4*m), q: q}
	for j := range m {
		for t, w := range r.hw[j*r.taps : (j+1)*r.taps] {
			r.hk.w4[4*j+t] = uint64(w) * grey
		}
	}
}

// hbox4Go is the horizontal pass of hbox's kernels in Go alone, their
// reference: output pixel j of o (3 bytes) is the sum of 4 words of acc
// from first[j], each times its weights in w4[4j:], lane by lane, divided
// by q.
func hbox4Go(o []uint8, acc []uint64, first []int32, w4 []uint64, q hquot) {
	for j, f := range first {
		p := acc[f : f+4 : f+4]
		w := w4[4*j : 4*j+4 : 4*j+4]
		// w[k] holds the weight in every lane: any one times the word
		// multiplies every lane, without carries (each sum fits 16 bits).
		v := w[0]&0xffff*p[0] + w[1]&0xffff*p[1] + w[2]&0xffff*p[2] + w[3]&0xffff*p[3]
		d := o[3*j : 3*j+3 : 3*j+3]
		d[0], d[1], d[2] = q.div(uint16(v)), q.div(uint16(v>>16)), q.div(uint16(v>>32))
	}
}

// boxResample is resample for r.box plans.
func boxResample[S rowSource](r *Resizer, out []uint8, s S) {
	sw := r.src.Dx()
	x0, x1 := r.src.Min.X, r.src.Max.X
	acc, next := r.bacc[:sw], r.bnext[:sw]
	dh := r.dst.Dy()
	ys := &r.ys
	carried := false // next holds the straddling row's share of the next output row
	for oy := range dh {
		if carried {
			acc, next = next, acc
		} else {
			clear(acc)
		}
		i0 := int(ys.first[oy])
		ws := ys.w[ys.off[oy]:ys.off[oy+1]]
		straddle := oy+1 < dh && int(ys.first[oy+1]) == i0+len(ws)-1
		for k, w := range ws {
			if k == 0 && carried {
				continue
			}
			y := r.src.Min.Y + i0 + k
			if k == len(ws)-1 && straddle {
				// Converted once, with weight 1, into next, then
				// weighted for both output rows (addScaled).
				clear(next)
				s.addWords(next, r.row, y, x0, x1, 1)
				addScaled(acc, next, uint64(w), uint64(ys.w[ys.off[oy+1]]))
				continue
			}
			s.addWords(acc, r.row, y, x0, x1, uint64(w))
		}
		carried = straddle
		o := out[3*((r.dst.Min.Y+oy)*r.W+r.dst.Min.X):]
		r.hbox(o[:3*r.dst.Dx()], acc[:sw+4]) // with the words past the row the kernels read
	}
	r.bars(out)
}

// addScaled adds w times the packed pixels of next to acc and multiplies
// them by w2 in next, the assembly kernel, if any, taking a prefix: a row
// that straddles two output rows, converted once. Lanes stay below 2^16
// (w, w2 ≤ maxBoxDen, next's lanes ≤ 255, acc's sums ≤ 255·maxBoxDen), so
// the words multiply and add lane by lane.
func addScaled(acc, next []uint64, w, w2 uint64) {
	k := scaledKernel(acc, next, w, w2)
	addScaledGo(acc[k:], next[k:], w, w2)
}

// addScaledGo is addScaled in Go alone, the reference for the kernels.
func addScaledGo(acc, next []uint64, w, w2 uint64) {
	acc = acc[:len(next)]
	for i, p := range next {
		acc[i] += w * p
		next[i] = w2 * p
	}
}

// hbox resamples a row of packed vertical sums to the output width and
// writes the rounded averages to o (3*dst.Dx() bytes). acc holds the row
// and 4 words past it (read, with weight 0, by the kernels). When whole
// sums (at most 255·D) fit 16-bit lanes, a word holds all three channels'
// and a tap is one multiply: an assembly kernel, if any, takes a prefix of
// the row (planHKernel), and the averages of the rest come from r.rtab;
// otherwise R and B are summed in 32-bit lanes and G apart.
func (r *Resizer) hbox(o []uint8, acc []uint64) {
	taps := r.taps
	ws := r.hw[:len(r.hfirst)*taps]
	q := rounding{r.rden, r.rmul, r.rshift}
	firsts := r.hfirst
	if r.hk.ok {
		// The kernel takes a prefix; the loops below the rest.
		k := hboxKernel(o, acc, firsts, r.hk.w4, &r.hk.q)
		o, firsts, ws = o[3*k:], firsts[k:], ws[k*taps:]
	}
	if r.rden > maxBoxDen {
		for j, first := range firsts {
			p := acc[int(first) : int(first)+taps]
			var rb, g uint64
			for k, w := range ws[j*taps : (j+1)*taps] {
				a := p[k]
				rb += uint64(w) * (a & rbLanes)
				g += uint64(w) * (a >> 16 & 0xffff)
			}
			put3(o[3*j:3*j+3:3*j+3], rb, g, q)
		}
		return
	}
	rt := r.rtab
	switch taps {
	case 2:
		for j, first := range firsts {
			p := acc[int(first) : int(first)+2 : int(first)+2]
			w := ws[2*j : 2*j+2 : 2*j+2]
			v := uint64(w[0])*p[0] + uint64(w[1])*p[1]
			d := o[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = rt[uint16(v)], rt[uint16(v>>16)], rt[uint16(v>>32)]
		}
	case 3:
		for j, first := range firsts {
			p := acc[int(first) : int(first)+3 : int(first)+3]
			w := ws[3*j : 3*j+3 : 3*j+3]
			v := uint64(w[0])*p[0] + uint64(w[1])*p[1] + uint64(w[2])*p[2]
			d := o[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = rt[uint16(v)], rt[uint16(v>>16)], rt[uint16(v>>32)]
		}
	default:
		for j, first := range firsts {
			p := acc[int(first) : int(first)+taps]
			var v uint64
			for k, w := range ws[j*taps : (j+1)*taps] {
				v += uint64(w) * p[k]
			}
			d := o[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = rt[uint16(v)], rt[uint16(v>>16)], rt[uint16(v>>32)]
		}
	}
}

// rounding divides a sum by d, rounding half up, as (2v+d)·mul >> shift
// (see planBox).
type rounding struct {
	d, mul uint64
	shift  uint
}

// put3 writes the pixel of horizontal sums rb (R and B in 32-bit lanes)
// and g, each divided by the denominator and rounded, to d[0:3].
func put3(d []uint8, rb, g uint64, q rounding) {
	d[0] = uint8((2*(rb&0xffff_ffff) + q.d) * q.mul >> q.shift)
	d[1] = uint8((2*g + q.d) * q.mul >> q.shift)
	d[2] = uint8((rb>>32*2 + q.d) * q.mul >> q.shift)
}

// addRGB adds w times the pixels of a packed RGB row (3 bytes a pixel) to
// acc, the assembly kernel, if any, taking a prefix of the row.
func addRGB(acc []uint64, rgb []uint8, w uint64) {
	k := rgbKernel(acc, rgb, w)
	addRGBGo(acc[k:], rgb[3*k:], w)
}

// addRGBGo is addRGB in Go alone, the reference for the kernels.
func addRGBGo(acc []uint64, rgb []uint8, w uint64) {
	acc = acc[:len(rgb)/3]
	for i := range acc {
		p := rgb[3*i : 3*i+3 : 3*i+3]
		acc[i] += w * pack(p[0], p[1], p[2])
	}
}

// addGray adds w times the grey pixels of row to acc, the assembly
// kernel, if any, taking a prefix of the row.
func addGray(acc []uint64, row []uint8, w uint64) {
	k := grayKernel(acc, row, w)
	addGrayGo(acc[k:], row[k:], w)
}

// addGrayGo is addGray in Go alone, the reference for the kernels.
func addGrayGo(acc []uint64, row []uint8, w uint64) {
	acc = acc[:len(row)]
	wg := w * grey
	for i, v := range row {
		acc[i] += uint64(v) * wg
	}
}

// Y'CbCr to packed pixels. Both conversions here (camera.go's limited
// range, image.go's JFIF full range) compute each channel as
// clamp((luma + chroma) >> 16) of 32-bit fixed-point terms. A wordTab holds
// those terms for every byte value with a bias of 2^25 added to the luma
// term, which makes every sum positive and below 2^27; two such sums fit in
// a uint64, one in each 32-bit half, and adding the words adds the halves
// exactly (a negative chroma term borrows from the upper half just as its
// two's complement says). Bits 16–26 of a half are then the channel plus
// 512, which clampIdx turns into the clamped byte.
type wordTab struct {
	coef   yuvCoef
	y      [256]uint64 // luma term + 2^25 in both halves
	rv, bu [256]uint64 // R's chroma term in the upper half; B's in the lower
	gu, gv [256]uint64 // G's two chroma terms in the upper half
}

const wordBias = 1 << 25

// yuvCoef is a conversion as the assembly kernels take it: the luma term
// of Y is ky·Y + y0, the chroma terms rv·(Cr-128) for R, gu·(Cb-128) +
// gv·(Cr-128) for G and bu·(Cb-128) for B, and a channel is clamp((luma +
// chroma) >> 16) to [0, 255], in int32. cR, cG and cB are y0 less 128
// times the chroma coefficients of R, G and B (newWordTab sets them).
type yuvCoef struct{ ky, y0, rv, gu, gv, bu, cR, cG, cB int32 }

// newWordTab builds a wordTab for a conversion.
func newWordTab(c yuvCoef) *wordTab {
	c.cR, c.cG, c.cB = c.y0-128*c.rv, c.y0-128*(c.gu+c.gv), c.y0-128*c.bu
	t := &wordTab{coef: c}
	rv, gu, gv, bu := c.rv, c.gu, c.gv, c.bu
	for i := range 256 {
		yy := uint64(c.ky*int32(i) + c.y0 + wordBias)
		t.y[i] = yy<<32 | yy
		c := int64(i) - 128
		t.rv[i] = uint64(c * int64(rv) << 32)
		t.bu[i] = uint64(c * int64(bu))
		t.gu[i] = uint64(c * int64(gu) << 32)
		t.gv[i] = uint64(c * int64(gv) << 32)
	}
	return t
}

// clampIdx maps 512 plus a channel value to the value clamped to a byte.
// Indices reach 2047 at most; the table is as long as a uint16 index can
// be so that the lookups need no bounds check and no mask (the entries
// never read are never touched and take no cache).
var clampIdx = func() (t [1 << 16]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-512, 0), 255))
	}
	return t
}()

var (
	// limitedWords is yuvToRGB's conversion (limited-range BT.601).
	limitedWords = newWordTab(yuvCoef{ky: yuvY, y0: -16*yuvY + 1<<15, rv: yuvRV, gu: -yuvGU, gv: -yuvGV, bu: yuvBU})
	// jfifWords is jfifToRGB's (color.YCbCrToRGB).
	jfifWords = newWordTab(yuvCoef{ky: 0x10101, rv: 91881, gu: -22554, gv: -46802, bu: 116130})
)

// chroma returns the chroma words of Cb, Cr: R's and B's terms (crb) and
// G's (cg).
func (t *wordTab) chroma(cb, cr uint8) (crb, cg uint64) {
	return t.rv[cr] + t.bu[cb], t.gu[cb] + t.gv[cr]
}

// word returns the packed pixel of luma y with chroma words crb, cg.
func (t *wordTab) word(y uint8, crb, cg uint64) uint64 {
	ly := t.y[y]
	a, b := ly+crb, ly+cg
	return uint64(clampIdx[a>>48]) | uint64(clampIdx[b>>48])<<16 | uint64(clampIdx[uint16(a>>16)])<<32
}

// addPairs adds w times the pixels of a row of luma ys whose pixel pairs
// share chroma: pair k (pixels 2k-odd, 2k+1-odd) has Cb cb[k*step] and Cr
// cr[k*step], step 1 (planar) or 2 (cr is cb[1:], interleaved). odd says
// the row starts with the second pixel of a pair. The assembly kernel, if
// any, takes the whole pairs after the first pixel in blocks of 8 pixels.
func (t *wordTab) addPairs(acc []uint64, ys, cb, cr []uint8, step int, odd bool, w uint64) {
	acc = acc[:len(ys)]
	i, k := 0, 0
	if odd {
		t.addPairsGo(acc[:1], ys[:1], cb, cr, step, true, w)
		i, k = 1, step
	}
	if i == len(ys) {
		return
	}
	n := pairsKernel(acc[i:], ys[i:], cb[k:], cr[k:], step, w, t)
	i, k = i+n, k+step*n/2
	if i == len(ys) {
		return
	}
	t.addPairsGo(acc[i:], ys[i:], cb[k:], cr[k:], step, false, w)
}

// addPairsGo is addPairs in Go alone, the reference for the kernels.
func (t *wordTab) addPairsGo(acc []uint64, ys, cb, cr []uint8, step int, odd bool, w uint64) {
	acc = acc[:len(ys)]
	i, k := 0, 0
	if odd {
		crb, cg := t.chroma(cb[0], cr[0])
		acc[0] += w * t.word(ys[0], crb, cg)
		i, k = 1, step
	}
	for ; i+1 < len(ys); i, k = i+2, k+step {
		crb, cg := t.chroma(cb[k], cr[k])
		a := acc[i : i+2 : i+2]
		y := ys[i : i+2 : i+2]
		a[0] += w * t.word(y[0], crb, cg)
		a[1] += w * t.word(y[1], crb, cg)
	}
	if i < len(ys) {
		crb, cg := t.chroma(cb[k], cr[k])
		acc[i] += w * t.word(ys[i], crb, cg)
	}
}

// addYUYV adds w times the pixels of a YUYV row (Y0 Cb Y1 Cr for each
// pair) to acc[:n]; src begins with the pair of the first pixel, which is
// that pair's second if odd.
func (t *wordTab) addYUYV(acc []uint64, src []uint8, n int, odd bool, w uint64) {
	acc = acc[:n]
	i := 0
	if odd {
		t.addYUYVGo(acc[:1], src, true, w)
		src, i = src[4:], 1
	}
	if i == n {
		return
	}
	k := yuyvKernel(acc[i:], src, w, t)
	if i+k == n {
		return
	}
	t.addYUYVGo(acc[i+k:], src[2*k:], false, w)
}

// addYUYVGo is addYUYV in Go alone, the reference for the kernels.
func (t *wordTab) addYUYVGo(acc []uint64, src []uint8, odd bool, w uint64) {
	i := 0
	if odd { // starts with the second pixel of a pair
		p := src[:4:4]
		crb, cg := t.chroma(p[1], p[3])
		acc[0] += w * t.word(p[2], crb, cg)
		src, i = src[4:], 1
	}
	for ; i+1 < len(acc); i += 2 {
		p := src[:4:4]
		crb, cg := t.chroma(p[1], p[3])
		a := acc[i : i+2 : i+2]
		a[0] += w * t.word(p[0], crb, cg)
		a[1] += w * t.word(p[2], crb, cg)
		src = src[4:]
	}
	if i < len(acc) { // ends with the first pixel of a pair
		p := src[:4:4]
		crb, cg := t.chroma(p[1], p[3])
		acc[i] += w * t.word(p[0], crb, cg)
	}
}

// bars blacks out the output outside dst (letterbox).
func (r *Resizer) bars(out []uint8) {
	if r.dst.Dx() == r.W && r.dst.Dy() == r.H {
		return
	}
	for y := range r.H {
		row := out[3*y*r.W : 3*(y+1)*r.W]
		if y < r.dst.Min.Y || y >= r.dst.Max.Y {
			clear(row)
			continue
		}
		clear(row[:3*r.dst.Min.X])
		clear(row[3*r.dst.Max.X:])
	}
}
