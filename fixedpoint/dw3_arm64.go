//go:build !purego

package fixedpoint

// useDW3 tells whether depthwise 3×3 layers run in dw3NEON.
var useDW3 = hasASIMD

// dw3NEON is the NEON kernel of dw3Blocks: per pixel, blocks of 8
// channels, each from the bias through the nine taps
//
//	acc += int16(x) * w      SXTL, SMLAL, SMLAL2
//
// exact: the products are below 2^14, the int32 sums wrap. w is the
// block's [5][8][2] int16 weights (see newDW3Weights, split into the pair's
// two taps by LD2), 160 bytes per 8 channels; xs and ldc count bytes.
//
//go:noescape
func dw3NEON(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int)

// dw3Blocks runs the 3×3 depthwise kernel on cb blocks of 8 channels of n
// pixels (see depthwiseConv2D.pixels): pixel p's tap t reads the int8s at
// tap[t] + p*xs, w and bias point at the first channel's group of weights
// and its folded bias, the sums go to acc + p*ldc.
func dw3Blocks(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int) {
	dw3NEON(n, cb, tap, xs, w, bias, acc, 4*ldc)
}

func dwRowOne(n, cb int, r0, r1, r2 *int16, xs, cs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	panic("fixedpoint: no fused 3x3 depthwise kernel in this build")
}

// widen is widenGo: there is no vector kernel in this build.
func widen(dst []int16, src []int8) { widenGo(dst, src) }

func dw3BlocksOne(n, cb int, tap *[9]*int8, xs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	panic("fixedpoint: no fused 3x3 depthwise kernel in this build")
}
