// Package convtest holds what tests of package conv and of the packages
// built on it share: conversions between PyTorch's NCHW layout, which the
// golden files in testdata/ use, and catd's NHWC.
package convtest

import "fmt"

// NCHWToNHWC copies n images of c×h×w from PyTorch's layout into catd's.
func NCHWToNHWC(dst, src []float32, n, c, h, w int) {
	if len(dst) != n*c*h*w || len(src) != len(dst) {
		panic(fmt.Sprintf("convtest: NCHWToNHWC lengths %d and %d, want %d", len(dst), len(src), n*c*h*w))
	}
	for b := range n {
		for ch := range c {
			for y := range h {
				for x := range w {
					dst[((b*h+y)*w+x)*c+ch] = src[((b*c+ch)*h+y)*w+x]
				}
			}
		}
	}
}

// NHWCToNCHW is the inverse of NCHWToNHWC.
func NHWCToNCHW(dst, src []float32, n, c, h, w int) {
	if len(dst) != n*c*h*w || len(src) != len(dst) {
		panic(fmt.Sprintf("convtest: NHWCToNCHW lengths %d and %d, want %d", len(dst), len(src), n*c*h*w))
	}
	for b := range n {
		for ch := range c {
			for y := range h {
				for x := range w {
					dst[((b*c+ch)*h+y)*w+x] = src[((b*h+y)*w+x)*c+ch]
				}
			}
		}
	}
}
