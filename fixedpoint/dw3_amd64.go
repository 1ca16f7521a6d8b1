//go:build !purego

package fixedpoint

// useDW3 tells whether depthwise 3×3 layers run in dw3AVX2.
var useDW3 = hasAVX2

// dw3AVX2 is the AVX2 kernel of dw3Blocks: per pixel, blocks of 16
// channels and then one of 8, each from the bias through five pairs of
// taps (the ninth paired with itself and a zero weight),
//
//	acc += x[tap a]*w[a] + x[tap b]*w[b]     VPUNPCKLBW, VPMOVSXBW, VPMADDWD, VPADDD
//
// exact: the int8 products are below 2^14, the pair's sum below 2^15, and
// the int32 sums wrap. w is the block's [5][8][2] int16 weights (see
// newDW3Weights), 160 bytes per 8 channels; xs and ldc count bytes.
//
//go:noescape
func dw3AVX2(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int)

// dw3Blocks runs the 3×3 depthwise kernel on cb blocks of 8 channels of n
// pixels (see depthwiseConv2D.pixels): pixel p's tap t reads the int8s at
// tap[t] + p*xs, w and bias point at the first channel's group of weights
// and its folded bias, the sums go to acc + p*ldc.
func dw3Blocks(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int) {
	dw3AVX2(n, cb, tap, xs, w, bias, acc, 4*ldc)
}

// dw3One512 is dw3AVX2 with its sums requantised in registers, with one
// rounding (rqOne512's arithmetic, for output stages with outStage.one),
// and stored as int8s at y + p*ys; p points at the first channel's chunk
// of outStage.one. It needs hasOne512 (AVX-512 VNNI and BW). Its twin is
// depthwiseConv2D.oneGo.
//
//go:noescape
func dw3One512(n, cb int, tap *[9]*int8, xs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32)

// dw3BlocksOne runs dw3One512 (see dw3Blocks; y and ys as there).
func dw3BlocksOne(n, cb int, tap *[9]*int8, xs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	dw3One512(n, cb, tap, xs, w, bias, y, ys, p, lo, hi)
}

// dwRowOne512 computes one output row of a fused 3×3 depthwise layer from
// three widened, padded input rows (see depthwiseConv2D.forwardOne and the
// comment in dw3_amd64.s). It needs hasOne512 (AVX-512 VNNI and BW). Its
// twin is depthwiseConv2D.rowOneGo.
//
//go:noescape
func dwRowOne512(n, cb int, r0, r1, r2 *int16, xs, cs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32)

// widen16 sets dst[i] = int16(src[i]) for i < n, n a multiple of 8; its
// twin is widenGo.
//
//go:noescape
func widen16(n int, src *int8, dst *int16)

// dwRowOne runs dwRowOne512.
func dwRowOne(n, cb int, r0, r1, r2 *int16, xs, cs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	dwRowOne512(n, cb, r0, r1, r2, xs, cs, w, bias, y, ys, p, lo, hi)
}

// widen runs widen16 on whole groups of 8 and widenGo on the rest.
func widen(dst []int16, src []int8) {
	n := len(src) / 8 * 8
	if n > 0 {
		_ = dst[n-1]
		widen16(n, &src[0], &dst[0])
	}
	widenGo(dst[n:], src[n:])
}
