//go:build purego || !amd64

package fixedpoint

// useDW3 tells whether depthwise 3×3 layers run their interior pixels in
// a 3×3 kernel: not in this build.
const useDW3 = false

func dw3Blocks(n, cb int, x *int8, xs, rs, c int, w *int16, bias, acc *int32, ldc int) {
	panic("fixedpoint: no 3x3 depthwise kernel in this build")
}
