//go:build !purego

package preprocess

import "golang.org/x/sys/cpu"

// useNEON selects the kernels of box_arm64.s.
var useNEON = cpu.ARM64.HasASIMD

// The NEON kernels add w times n pixels (n a multiple of 8, at least 8),
// converted with c, to acc[:n] as wordTab.addPairsGo and addYUYVGo do
// with a row that starts on a pair: yuyvNEON from 2n bytes of YUYV,
// i420NEON from n bytes of luma and n/2 of Cb and of Cr, nv12NEON from n
// bytes of luma and n interleaved Cb, Cr. w is at most maxBoxDen.

//go:noescape
func yuyvNEON(acc *uint64, src *uint8, n int, w uint64, c *yuvCoef)

//go:noescape
func i420NEON(acc *uint64, y, cb, cr *uint8, n int, w uint64, c *yuvCoef)

//go:noescape
func nv12NEON(acc *uint64, y, uv *uint8, n int, w uint64, c *yuvCoef)

// pairsKernel runs the NEON kernel of wordTab.addPairs over the longest
// prefix of whole blocks of 8 pixels of the row (which starts on a pair)
// and returns its length.
func pairsKernel(acc []uint64, ys, cb, cr []uint8, step int, w uint64, t *wordTab) int {
	n := len(ys) &^ 7
	if !useNEON || n == 0 {
		return 0
	}
	acc = acc[:n]
	ys = ys[:n]
	if step == 1 {
		cb, cr = cb[:n/2], cr[:n/2]
		i420NEON(&acc[0], &ys[0], &cb[0], &cr[0], n, w, &t.coef)
		return n
	}
	uv := cb[:n]
	nv12NEON(&acc[0], &ys[0], &uv[0], n, w, &t.coef)
	return n
}

// yuyvKernel runs the NEON kernel of wordTab.addYUYV over the longest
// prefix of whole blocks of 8 pixels of the row and returns its length.
func yuyvKernel(acc []uint64, src []uint8, w uint64, t *wordTab) int {
	n := len(acc) &^ 7
	if !useNEON || n == 0 {
		return 0
	}
	acc = acc[:n]
	src = src[:2*n]
	yuyvNEON(&acc[0], &src[0], n, w, &t.coef)
	return n
}

// grayNEON adds w times n grey pixels (n a multiple of 8, at least 8) to
// acc[:n] as addGrayGo does; rgbNEON n packed RGB pixels as addRGBGo. w is
// at most maxBoxDen.

//go:noescape
func grayNEON(acc *uint64, src *uint8, n int, w uint64)

//go:noescape
func rgbNEON(acc *uint64, src *uint8, n int, w uint64)

// grayKernel runs grayNEON over the longest prefix of whole blocks of 8
// pixels of row and returns its length.
func grayKernel(acc []uint64, row []uint8, w uint64) int {
	n := len(row) &^ 7
	if !useNEON || n == 0 {
		return 0
	}
	acc = acc[:n]
	grayNEON(&acc[0], &row[0], n, w)
	return n
}

// rgbKernel runs rgbNEON over the longest prefix of whole blocks of 8
// pixels of the RGB row and returns its length.
func rgbKernel(acc []uint64, rgb []uint8, w uint64) int {
	n := len(rgb) / 3 &^ 7
	if !useNEON || n == 0 {
		return 0
	}
	acc = acc[:n]
	rgbNEON(&acc[0], &rgb[0], n, w)
	return n
}

// hboxKernels says that hbox has an assembly kernel here.
const hboxKernels = true

// hboxNEON writes n output pixels (n even, at least 2) of 3 bytes to o as
// hbox4Go does, reading 4 words of acc from each first[j].
//
//go:noescape
func hboxNEON(o *uint8, acc *uint64, first *int32, w4 *uint64, n int, q *hquot)

// hboxKernel runs hboxNEON over the longest prefix of whole pairs of
// output pixels and returns its length. The 4 words from each first[j]
// must lie in acc.
func hboxKernel(o []uint8, acc []uint64, first []int32, w4 []uint64, q *hquot) int {
	n := len(first) &^ 1
	if !useNEON || n == 0 {
		return 0
	}
	o, w4 = o[:3*n], w4[:4*n]
	_ = acc[int(first[n-1])+3] // first is nondecreasing
	hboxNEON(&o[0], &acc[0], &first[0], &w4[0], n, q)
	return n
}

// scaledNEON is addScaledGo over n words (n a multiple of 4, at least 4).
//
//go:noescape
func scaledNEON(acc, next *uint64, n int, w, w2 uint64)

// scaledKernel runs scaledNEON over the longest prefix of whole blocks of
// 4 words of next and returns its length.
func scaledKernel(acc, next []uint64, w, w2 uint64) int {
	n := len(next) &^ 3
	if !useNEON || n == 0 {
		return 0
	}
	acc, next = acc[:n], next[:n]
	scaledNEON(&acc[0], &next[0], n, w, w2)
	return n
}
