//go:build purego || !amd64

package fixedpoint

// quantizeInputAsm does nothing in this build: quantizeInputGo does it all.
func quantizeInputAsm(dst []int8, px []uint8, lut *[3][256]int8) int { return 0 }
