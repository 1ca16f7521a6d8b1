//go:build linux

package main

import (
	"fmt"

	"catd/camera"
	"catd/preprocess"
)

// colourBars75 is vivid's default test pattern, "75% Colorbar": eight
// vertical bars of equal width, left to right white, yellow, cyan, green,
// magenta, red, blue and black, as full-range sRGB (tpg_colors[] of the
// kernel's drivers/media/common/v4l2-tpg/v4l2-tpg-colors.c, in the order
// of the ITU-R 75% bar sequence in v4l2-tpg-core.c's tpg_get_color: its
// white is TPG_COLOR_CSC_WHITE, 191, and its black TPG_COLOR_100_BLACK).
// The webcam input's colorspace is sRGB, which the pattern passes through
// unconverted.
var colourBars75 = [8][3]int{
	{191, 191, 191}, // white
	{191, 191, 0},   // yellow
	{0, 191, 191},   // cyan
	{0, 191, 0},     // green
	{191, 0, 191},   // magenta
	{191, 0, 0},     // red
	{0, 0, 191},     // blue
	{0, 0, 0},       // black
}

var barNames = [8]string{"white", "yellow", "cyan", "green", "magenta", "red", "blue", "black"}

// luma709 is the grey level vivid writes for an RGB colour in
// V4L2_PIX_FMT_GREY: the Rec. 709 luma of the full-range value, full range,
// computed as precalculate_color in v4l2-tpg-core.c does (on values
// times 16).
func luma709(c [3]int) int {
	return (13879*c[0]*16 + 46688*c[1]*16 + 4713*c[2]*16) >> 16 >> 4
}

// expectedBars returns the colour of each bar after catd's preprocessing
// of format f: the RGB values for RGB24 and the Y'CbCr formats (converted
// back from BT.601 limited range), the grey level, copied to R, G and B,
// for Gray8.
func expectedBars(f camera.Format) [8][3]int {
	if f != camera.Gray8 {
		return colourBars75
	}
	var out [8][3]int
	for i, c := range colourBars75 {
		y := luma709(c)
		out[i] = [3]int{y, y, y}
	}
	return out
}

// tolerance is how far (in 8-bit levels) a bar's measured colour may be
// from expectedBars: RGB24 and grey arrive as the driver computed them,
// the Y'CbCr formats went through the driver's rounding to 8-bit Y'CbCr
// and catd's conversion back to RGB.
func tolerance(f camera.Format) int {
	switch f {
	case camera.RGB24, camera.Gray8:
		return 2
	}
	return 6
}

// Bar analysis works on frames preprocessed to gridW×gridH RGB: each
// output pixel is the mean of a block of the frame (area averaging, the
// frame stretched), so a bar is gridW/8 columns wide and only its middle
// half is looked at, away from the edges.
const (
	gridW = 64
	gridH = 48
)

// barChecker measures the colour bars of frames with catd's preprocessing.
// Its buffers are reused from frame to frame.
type barChecker struct {
	rz  *preprocess.Resizer
	rgb []uint8
}

func newBarChecker() *barChecker {
	rz := preprocess.NewResizer(gridW, gridH, preprocess.Options{Fit: preprocess.Stretch})
	return &barChecker{rz: rz, rgb: make([]uint8, rz.OutLen())}
}

// barResult is what barChecker.check found in one frame.
type barResult struct {
	maxDev int       // largest difference of a channel from the expected colour, in levels
	bad    int       // grid cells (row, bar) off by more than the tolerance
	worst  string    // the first bad cell, described
	means  [8][3]int // the bars' colours on the first row checked
}

// check preprocesses f (as the daemon does) and compares the bars on grid
// rows from firstRow to the bottom with the expected colours.
func (c *barChecker) check(f *camera.Frame, firstRow int) (barResult, error) {
	var r barResult
	var err error
	switch f.Format {
	case camera.RGB24:
		err = c.rz.RGB(c.rgb, f.Data, f.W, f.H, f.Stride)
	case camera.YUYV:
		err = c.rz.YUYV(c.rgb, f.Data, f.W, f.H, f.Stride)
	case camera.I420:
		err = c.rz.I420(c.rgb, f.Data, f.W, f.H)
	case camera.NV12:
		err = c.rz.NV12(c.rgb, f.Data, f.W, f.H)
	case camera.Gray8:
		err = c.rz.Gray(c.rgb, f.Data, f.W, f.H, f.Stride)
	default:
		err = fmt.Errorf("format %v has no colour bars to check", f.Format)
	}
	if err != nil {
		return r, err
	}
	want, tol := expectedBars(f.Format), tolerance(f.Format)
	const barW = gridW / 8
	for y := firstRow; y < gridH; y++ {
		for b := range 8 {
			var sum [3]int
			for x := b*barW + barW/4; x < (b+1)*barW-barW/4; x++ {
				p := c.rgb[3*(y*gridW+x):]
				sum[0] += int(p[0])
				sum[1] += int(p[1])
				sum[2] += int(p[2])
			}
			n := barW / 2
			var mean [3]int
			dev := 0
			for ch := range 3 {
				mean[ch] = (sum[ch] + n/2) / n
				dev = max(dev, abs(mean[ch]-want[b][ch]))
			}
			if y == firstRow {
				r.means[b] = mean
			}
			r.maxDev = max(r.maxDev, dev)
			if dev > tol {
				if r.bad == 0 {
					r.worst = fmt.Sprintf("row %d/%d bar %d (%s): %v, want %v±%d", y, gridH, b, barNames[b], mean, want[b], tol)
				}
				r.bad++
			}
		}
	}
	return r, nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
