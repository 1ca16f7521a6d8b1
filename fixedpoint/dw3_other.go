//go:build purego || !(amd64 || arm64)

package fixedpoint

// useDW3 tells whether depthwise 3×3 layers run in a 3×3 kernel: not in
// this build.
const useDW3 = false

func dw3Blocks(n, cb int, tap *[9]*int8, xs int, w *int16, bias, acc *int32, ldc int) {
	panic("fixedpoint: no 3x3 depthwise kernel in this build")
}

func dwRowOne(n, cb int, r0, r1, r2 *int16, xs, cs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	panic("fixedpoint: no fused 3x3 depthwise kernel in this build")
}

// widen is widenGo: there is no vector kernel in this build.
func widen(dst []int16, src []int8) { widenGo(dst, src) }

func dw3BlocksOne(n, cb int, tap *[9]*int8, xs int, w *int16, bias *int32, y *int8, ys int, p *int32, lo, hi int32) {
	panic("fixedpoint: no fused 3x3 depthwise kernel in this build")
}
