// Package preprocess turns camera frames and photos of any size into the
// model's input: an optional region of interest, a fit to the model's aspect
// ratio (centre crop, letterbox or stretch), and a resize that averages the
// area each output pixel covers when shrinking. Training, evaluation,
// prediction and the daemon all go through it, so a model sees the same
// pixels whichever way an image arrives.
//
// Output is interleaved 8-bit RGB, H×W×3 (the NHWC order of package conv);
// model.Info.NormalizePixels turns it into float32 model input.
//
// A Resizer keeps its scratch buffers between calls: after the first frame
// of a given size and layout it allocates nothing.
package preprocess

import (
	"fmt"
	"image"

	"catd/preprocess/jpeg"
)

// Fit says how a frame whose aspect ratio differs from the output's is
// made to fit.
type Fit int

const (
	// CenterCrop keeps the largest centred region with the output's aspect
	// ratio (no distortion; the edges are lost). The default.
	CenterCrop Fit = iota
	// Letterbox scales the whole frame to fit inside the output and fills
	// the rest with black bars.
	Letterbox
	// Stretch scales the frame to the output, distorting it.
	Stretch
)

// ParseFit reads "crop", "letterbox" or "stretch".
func ParseFit(s string) (Fit, error) {
	switch s {
	case "crop", "center-crop", "":
		return CenterCrop, nil
	case "letterbox":
		return Letterbox, nil
	case "stretch":
		return Stretch, nil
	}
	return 0, fmt.Errorf("preprocess: fit %q: want crop, letterbox or stretch", s)
}

func (f Fit) String() string {
	switch f {
	case Letterbox:
		return "letterbox"
	case Stretch:
		return "stretch"
	}
	return "crop"
}

// Options configure a Resizer.
type Options struct {
	// ROI is the region of interest in frame pixels (e.g. the cat flap);
	// the empty rectangle means the whole frame. It is clipped to the frame.
	ROI image.Rectangle
	Fit Fit
}

// Resizer converts frames to W×H RGB. It is not safe for concurrent use.
//
// Each output pixel is the average of the source area it covers, computed
// exactly in integers and rounded to nearest (see areaAxis), so results
// match a float64 reference within 1 LSB and are the same on every
// architecture.
type Resizer struct {
	W, H int
	opt  Options

	// Plan for the last source geometry seen, rebuilt when it changes.
	planned    bool
	srcW, srcH int
	scale      int             // the frame was decoded at 1/scale of its size (JPEG)
	src        image.Rectangle // the region that is resampled, in frame pixels
	dst        image.Rectangle // where it lands in the output (letterbox)
	xs, ys     axis
	taps       int      // source pixels per output pixel in hpass
	hfirst     []int32  // hpass: the first of them, for each output pixel
	hw         []uint32 // hpass: their weights, taps per output pixel
	shift      uint     // right shift of the horizontal sums so vertical sums fit in 32 bits (0 but for huge coprime sizes)
	inv        float64  // 2^shift / (xs.den * ys.den): turns a vertical sum into a pixel value
	row        []uint8  // one source row as RGB, 3*src.Dx() bytes
	hrow       []uint32 // that row resampled to the output width, 3*dst.Dx()
	acc        []uint32 // one output row being accumulated, 3*dst.Dx()

	// The box path (box.go), when box is set: rows of packed vertical
	// sums, src.Dx() words each. noBox makes tests take resampleRows.
	box, noBox  bool
	bacc, bnext []uint64
	rden, rmul  uint64 // the box path's rounding (planBox)
	rshift      uint
	rtab        *[1 << 16]uint8 // rounded averages of the sums, when 255·rden fits
	// The horizontal pass of the box path in an assembly kernel, when
	// hk.ok (planHKernel): per output pixel 4 taps of weights (packed
	// like the sums, 0 past r.taps) and the rounding as hquot does it.
	hk hkernel

	pal [256][3]uint8 // palette of the *image.Paletted being resized

	dec *jpeg.Decoder // JPEG frames, made by the first
}

// axis maps n source pixels onto m output pixels. Output j averages the
// source pixels first[j], first[j]+1, … with integer weights
// w[off[j]:off[j+1]], which sum to den.
type axis struct {
	first []int32
	off   []int32
	w     []uint32
	den   uint32
}

const (
	maxFrameSide = 16384 // raw camera frames
	maxImageSide = 1 << 16
	// roundEps absorbs float64 error when dividing a vertical sum by the
	// denominator (< 2^24, so true fractions are at least 2^-25 away from
	// a rounding boundary and float error is below 2^-44).
	roundEps = 0x1p-32
)

// NewResizer returns a Resizer to w×h pixels.
func NewResizer(w, h int, opt Options) *Resizer {
	if w < 1 || h < 1 || w > 4096 || h > 4096 {
		panic(fmt.Sprintf("preprocess: output %dx%d out of range", w, h))
	}
	return &Resizer{W: w, H: h, opt: opt}
}

// OutLen is the length of the output: W*H*3 bytes.
func (r *Resizer) OutLen() int { return r.W * r.H * 3 }

// plan prepares the weights for a srcW×srcH frame. Sizes must be at least
// 1 and at most maxImageSide.
func (r *Resizer) plan(srcW, srcH int) error {
	return r.planScaled(srcW, srcH, 1)
}

// planScaled is plan for a frame decoded at 1/scale of its size (see
// JPEG): the region of interest, in full-size pixels, is scaled to cover
// the same part of it.
func (r *Resizer) planScaled(srcW, srcH, scale int) error {
	if r.planned && srcW == r.srcW && srcH == r.srcH && scale == r.scale {
		return nil
	}
	roi := r.opt.ROI
	if scale > 1 && !roi.Empty() {
		// Outward: every full-size pixel of the region stays in it.
		roi = image.Rect(floorDiv(roi.Min.X, scale), floorDiv(roi.Min.Y, scale),
			-floorDiv(-roi.Max.X, scale), -floorDiv(-roi.Max.Y, scale))
	}
	src, dst, err := r.geometry(srcW, srcH, roi)
	if err != nil {
		return err
	}
	r.scale = scale
	r.srcW, r.srcH, r.src, r.dst = srcW, srcH, src, dst
	r.xs = areaAxis(src.Dx(), dst.Dx())
	r.ys = areaAxis(src.Dy(), dst.Dy())
	r.planTaps(src.Dx())
	// Horizontal sums are at most 255*xs.den; the vertical pass multiplies
	// by weights summing to ys.den. Keep that below 2^32, shifting the
	// horizontal sums right (with rounding) in the rare case it is not.
	r.shift = 0
	for {
		half := uint64(1) << r.shift >> 1
		if (255*uint64(r.xs.den)+half)>>r.shift*uint64(r.ys.den) < 1<<32 {
			break
		}
		r.shift++
	}
	r.inv = float64(uint64(1)<<r.shift) / (float64(r.xs.den) * float64(r.ys.den))
	r.row = make([]uint8, 3*src.Dx())
	r.hrow = make([]uint32, 3*dst.Dx())
	r.acc = make([]uint32, 3*dst.Dx())
	r.planBox()
	r.planned = true
	return nil
}

// geometry returns the region of a srcW×srcH frame that is resampled
// (roi, clipped, then fitted to the output's aspect ratio) and where it
// lands in the output.
func (r *Resizer) geometry(srcW, srcH int, roi image.Rectangle) (src, dst image.Rectangle, err error) {
	frame := image.Rect(0, 0, srcW, srcH)
	src = frame
	if !roi.Empty() {
		src = roi.Intersect(frame)
		if src.Empty() {
			return src, dst, fmt.Errorf("preprocess: region of interest %v lies outside the %dx%d frame", r.opt.ROI, srcW, srcH)
		}
	}
	dst = image.Rect(0, 0, r.W, r.H)
	sw, sh := src.Dx(), src.Dy()
	switch r.opt.Fit {
	case CenterCrop:
		// Keep the largest centred part with the output's aspect ratio.
		if sw*r.H > sh*r.W {
			cw := max(1, (sh*r.W+r.H/2)/r.H)
			src.Min.X += (sw - cw) / 2
			src.Max.X = src.Min.X + cw
		} else {
			ch := max(1, (sw*r.H+r.W/2)/r.W)
			src.Min.Y += (sh - ch) / 2
			src.Max.Y = src.Min.Y + ch
		}
	case Letterbox:
		if sw*r.H > sh*r.W {
			dh := max(1, (sh*r.W+sw/2)/sw)
			dst.Min.Y = (r.H - dh) / 2
			dst.Max.Y = dst.Min.Y + dh
		} else {
			dw := max(1, (sw*r.H+sh/2)/sh)
			dst.Min.X = (r.W - dw) / 2
			dst.Max.X = dst.Min.X + dw
		}
	}
	return src, dst, nil
}

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int) int {
	if a < 0 {
		return -((-a + b - 1) / b)
	}
	return a / b
}

// areaAxis computes the weights that average n source pixels into m output
// pixels: output pixel j covers the source interval [j*n/m, (j+1)*n/m), and
// each source pixel contributes its overlap with that interval. With
// g = gcd(n, m), measuring lengths in units of g/m source pixels makes every
// overlap an integer: source pixel i is [i*m/g, (i+1)*m/g), output j is
// [j*n/g, (j+1)*n/g), and each output's weights sum to den = n/g. When n is
// a multiple of m every weight is 1 (a box sum); when enlarging (m > n) this
// is a box filter.
func areaAxis(n, m int) axis {
	g := gcd(n, m)
	np, mp := n/g, m/g
	a := axis{
		first: make([]int32, m),
		off:   make([]int32, m+1),
		w:     make([]uint32, 0, n+m),
		den:   uint32(np),
	}
	for j := range m {
		lo, hi := j*np, (j+1)*np
		i := lo / mp
		a.first[j] = int32(i)
		a.off[j] = int32(len(a.w))
		for ; i*mp < hi; i++ {
			a.w = append(a.w, uint32(min((i+1)*mp, hi)-max(i*mp, lo)))
		}
	}
	a.off[m] = int32(len(a.w))
	return a
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// rowSource yields the rows of a frame as packed RGB.
type rowSource interface {
	// rgbRow returns row y of the frame (0 is the top), columns [x0, x1),
	// as 3*(x1-x0) bytes of RGB. It converts into buf, which has room for
	// that, or returns a slice of the frame itself.
	rgbRow(buf []uint8, y, x0, x1 int) []uint8
	// addWords adds w times the pixels of the same row, packed (see
	// box.go), to acc[:x1-x0]. It may use buf as rgbRow does.
	addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64)
}

// resample runs the area resize of the planned region of s into out. It is
// generic rather than taking an interface so that each source's row
// conversion is compiled into its own loop (sources are value types, so
// each gets its own instantiation) and nothing escapes.
func resample[S rowSource](r *Resizer, out []uint8, s S) {
	if r.box && !r.noBox {
		boxResample(r, out, s)
		return
	}
	resampleRows(r, out, s)
}

// resampleRows is resample for every plan: each source row is converted
// to RGB and resampled to the output width, and the output row
// accumulates those.
func resampleRows[S rowSource](r *Resizer, out []uint8, s S) {
	dw, dh := r.dst.Dx(), r.dst.Dy()
	hrow := r.hrow[:3*dw]
	acc := r.acc[:len(hrow)]
	have := -1 // source row held in hrow
	for oy := range dh {
		i0 := int(r.ys.first[oy])
		for k, w := range r.ys.w[r.ys.off[oy]:r.ys.off[oy+1]] {
			if i := i0 + k; i != have {
				r.hpass(hrow, s.rgbRow(r.row, r.src.Min.Y+i, r.src.Min.X, r.src.Max.X))
				have = i
			}
			if k == 0 {
				for j, v := range hrow {
					acc[j] = w * v
				}
			} else {
				for j, v := range hrow {
					acc[j] += w * v
				}
			}
		}
		o := out[3*((r.dst.Min.Y+oy)*r.W+r.dst.Min.X):]
		o = o[:len(acc)]
		for j, v := range acc {
			o[j] = uint8(min(255, float64(v)*r.inv+(0.5+roundEps)))
		}
	}
	r.bars(out)
}

// hpass resamples one RGB source row (3*src.Dx() bytes) to the output
// width, writing 3*dst.Dx() horizontal sums into h. Every output pixel
// takes r.taps source pixels (zero weights padding the shorter ones), so
// that the inner loop runs the same number of times for each: a loop
// whose count changes from pixel to pixel costs a mispredicted branch.
func (r *Resizer) hpass(h []uint32, row []uint8) {
	shift := r.shift
	half := uint32(1) << shift >> 1
	taps := r.taps
	ws := r.hw[:len(r.hfirst)*taps]
	switch taps {
	case 2:
		for j, first := range r.hfirst {
			p := row[3*int(first) : 3*int(first)+6 : 3*int(first)+6]
			w := ws[2*j : 2*j+2 : 2*j+2]
			d := h[3*j : 3*j+3 : 3*j+3]
			d[0] = (w[0]*uint32(p[0]) + w[1]*uint32(p[3]) + half) >> shift
			d[1] = (w[0]*uint32(p[1]) + w[1]*uint32(p[4]) + half) >> shift
			d[2] = (w[0]*uint32(p[2]) + w[1]*uint32(p[5]) + half) >> shift
		}
	case 3:
		for j, first := range r.hfirst {
			p := row[3*int(first) : 3*int(first)+9 : 3*int(first)+9]
			w := ws[3*j : 3*j+3 : 3*j+3]
			d := h[3*j : 3*j+3 : 3*j+3]
			d[0] = (w[0]*uint32(p[0]) + w[1]*uint32(p[3]) + w[2]*uint32(p[6]) + half) >> shift
			d[1] = (w[0]*uint32(p[1]) + w[1]*uint32(p[4]) + w[2]*uint32(p[7]) + half) >> shift
			d[2] = (w[0]*uint32(p[2]) + w[1]*uint32(p[5]) + w[2]*uint32(p[8]) + half) >> shift
		}
	default:
		for j, first := range r.hfirst {
			p := row[3*int(first) : 3*(int(first)+taps)]
			var sr, sg, sb uint32
			for k, w := range ws[j*taps : (j+1)*taps] {
				q := p[3*k : 3*k+3 : 3*k+3]
				sr += w * uint32(q[0])
				sg += w * uint32(q[1])
				sb += w * uint32(q[2])
			}
			d := h[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = (sr+half)>>shift, (sg+half)>>shift, (sb+half)>>shift
		}
	}
}

// planTaps lays out the horizontal weights of r.xs for hpass: r.taps per
// output pixel, starting at source pixel r.hfirst[j], the pixel's own
// weights where they fall in that window and 0 elsewhere. The window is
// moved left where it would run past the last source pixel.
func (r *Resizer) planTaps(n int) {
	xs := &r.xs
	m := len(xs.first)
	taps := 0
	for j := range m {
		taps = max(taps, int(xs.off[j+1]-xs.off[j]))
	}
	r.taps = taps
	r.hfirst = make([]int32, m)
	r.hw = make([]uint32, m*taps)
	for j := range m {
		first := min(int(xs.first[j]), n-taps)
		r.hfirst[j] = int32(first)
		at := int(xs.first[j]) - first
		copy(r.hw[j*taps+at:(j+1)*taps], xs.w[xs.off[j]:xs.off[j+1]])
	}
}

func (r *Resizer) checkOut(out []uint8) {
	if len(out) != r.OutLen() {
		panic(fmt.Sprintf("preprocess: output has length %d, want %d", len(out), r.OutLen()))
	}
}

// RGB resizes a frame of packed 8-bit RGB (3 bytes a pixel, rows stride
// bytes apart, w×h pixels) into out (W*H*3 bytes, which must not overlap
// pix). Options.ROI is in frame pixels. It returns an error if the frame's
// geometry is out of range or pix is too short for it. A wrong len(out) is
// a programmer error and panics.
func (r *Resizer) RGB(out, pix []uint8, w, h, stride int) error {
	r.checkOut(out)
	if err := checkFrame("RGB", len(pix), w, h, stride, 3*w); err != nil {
		return err
	}
	if err := r.plan(w, h); err != nil {
		return err
	}
	resample(r, out, rgbRows{pix, stride})
	return nil
}

// checkFrame validates a raw frame's geometry against its buffer length n
// (bytes); rowBytes is the length of a row without padding.
func checkFrame(format string, n, w, h, stride, rowBytes int) error {
	switch {
	case w < 1 || h < 1 || w > maxFrameSide || h > maxFrameSide:
		return fmt.Errorf("preprocess: %s frame size %dx%d out of range", format, w, h)
	case stride < rowBytes:
		return fmt.Errorf("preprocess: %s stride %d shorter than a row of %d bytes (%d pixels)", format, stride, rowBytes, w)
	// n >= (h-1)*stride + rowBytes, written so that a huge stride cannot overflow.
	case n < rowBytes || h > 1 && (n-rowBytes)/(h-1) < stride:
		return fmt.Errorf("preprocess: %s frame of %d bytes too short for %dx%d (stride %d)", format, n, w, h, stride)
	}
	return nil
}

type rgbRows struct {
	pix    []uint8
	stride int
}

func (s rgbRows) rgbRow(_ []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	return s.pix[o+3*x0 : o+3*x1]
}

func (s rgbRows) addWords(acc []uint64, _ []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(nil, y, x0, x1), w)
}
