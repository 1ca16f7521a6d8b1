//go:build !purego

package fixedpoint

import "golang.org/x/sys/cpu"

// hasLUT512 tells whether lutRGB512 runs: it needs AVX-512 VBMI (VPERMI2B)
// and BW.
var hasLUT512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI

// rgbMasks are lutRGB512's byte masks: for each of the three vectors of a
// block of 192 bytes, the bytes of green and of blue pixels.
var rgbMasks = func() (m [6]uint64) {
	for j := range 3 {
		for i := range 64 {
			if c := (64*j + i) % 3; c > 0 {
				m[2*j+c-1] |= 1 << i
			}
		}
	}
	return m
}()

// lutRGB512 runs quantizeInput on blocks of 192 bytes: dst[i] =
// lut[i%3][px[i]] for i < 192*blocks (blocks > 0). Its twin is
// quantizeInputGo.
//
//go:noescape
func lutRGB512(blocks int, dst *int8, px *uint8, lut *[3][256]int8, masks *[6]uint64)

// quantizeInputAsm runs quantizeInput's whole blocks of 192 bytes in
// lutRGB512 where the CPU has it and returns how many bytes it did.
func quantizeInputAsm(dst []int8, px []uint8, lut *[3][256]int8) int {
	blocks := len(px) / 192
	if !hasLUT512 || blocks == 0 {
		return 0
	}
	_, _ = dst[192*blocks-1], px[192*blocks-1]
	lutRGB512(blocks, &dst[0], &px[0], lut, &rgbMasks)
	return 192 * blocks
}
