package preprocess

import "fmt"

// Raw camera frames. The Y'CbCr formats are converted with BT.601 in
// limited ("studio", "TV") range, Y' in [16, 235] and Cb, Cr in [16, 240],
// which is what V4L2 webcams deliver by default (V4L2_YCBCR_ENC_601,
// V4L2_QUANTIZATION_LIM_RANGE). Values outside those ranges are accepted
// and the result clamped. With Y, Cb and Cr as bytes:
//
//	R = 255/219·(Y-16)                          + 255/224·1.402·(Cr-128)
//	G = 255/219·(Y-16) - 255/224·1.772·0.114/0.587·(Cb-128) - 255/224·1.402·0.299/0.587·(Cr-128)
//	B = 255/219·(Y-16) + 255/224·1.772·(Cb-128)
//
// computed in 16.16 fixed point with the coefficients below (each rounded
// from the real value times 2^16) and rounded to nearest; this is within
// 1 LSB of the float formula for every input (TestYUVFixedPoint checks all
// 2^24 of them).
const (
	yuvY  = 76309  // 255/219 = 1.164383
	yuvRV = 104597 // 255/224·1.402 = 1.596027
	yuvGU = 25675  // 255/224·1.772·0.114/0.587 = 0.391762
	yuvGV = 53279  // 255/224·1.402·0.299/0.587 = 0.812968
	yuvBU = 132201 // 255/224·1.772 = 2.017232
)

// yuvToRGB converts one limited-range BT.601 pixel.
func yuvToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := (int32(y)-16)*yuvY + 1<<15
	u, v := int32(cb)-128, int32(cr)-128
	return clamp8((yy + yuvRV*v) >> 16), clamp8((yy - yuvGU*u - yuvGV*v) >> 16), clamp8((yy + yuvBU*u) >> 16)
}

// clamp8 clamps to [0, 255] without branches (min and max compile to
// conditional moves), which matters for noisy frames.
func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}

// YUYV resizes a packed 4:2:2 frame (V4L2_PIX_FMT_YUYV, also called YUY2:
// bytes Y0 Cb Y1 Cr for each pair of pixels, rows stride bytes apart, w×h
// pixels) into out (W*H*3 bytes of RGB). An odd w needs whole pairs,
// 4*((w+1)/2) bytes a row. Errors name a bad geometry or a short frame; a
// wrong len(out) panics.
func (r *Resizer) YUYV(out, frame []uint8, w, h, stride int) error {
	r.checkOut(out)
	if err := checkFrame("YUYV", len(frame), w, h, stride, 4*((w+1)/2)); err != nil {
		return err
	}
	if err := r.plan(w, h); err != nil {
		return err
	}
	resample(r, out, yuyvRows{frame, stride})
	return nil
}

// I420 resizes a planar 4:2:0 frame (V4L2_PIX_FMT_YUV420: a w×h plane of
// Y', then (w+1)/2 × (h+1)/2 planes of Cb and of Cr, each with no row
// padding) into out (W*H*3 bytes of RGB). Bytes after the planes are
// ignored.
func (r *Resizer) I420(out, frame []uint8, w, h int) error {
	r.checkOut(out)
	cw, ch, err := check420("I420", len(frame), w, h)
	if err != nil {
		return err
	}
	if err := r.plan(w, h); err != nil {
		return err
	}
	u := frame[w*h : w*h+cw*ch]
	v := frame[w*h+cw*ch : w*h+2*cw*ch]
	resample(r, out, yuv420Rows{y: frame[:w*h], u: u, v: v, w: w, cstride: cw, step: 1})
	return nil
}

// NV12 resizes a semi-planar 4:2:0 frame (V4L2_PIX_FMT_NV12: a w×h plane of
// Y', then (h+1)/2 rows of (w+1)/2 interleaved Cb, Cr pairs, with no row
// padding) into out (W*H*3 bytes of RGB). Bytes after the planes are
// ignored.
func (r *Resizer) NV12(out, frame []uint8, w, h int) error {
	r.checkOut(out)
	cw, ch, err := check420("NV12", len(frame), w, h)
	if err != nil {
		return err
	}
	if err := r.plan(w, h); err != nil {
		return err
	}
	uv := frame[w*h : w*h+2*cw*ch]
	resample(r, out, yuv420Rows{y: frame[:w*h], u: uv, v: uv[1:], w: w, cstride: 2 * cw, step: 2})
	return nil
}

// Gray resizes an 8-bit greyscale frame (V4L2_PIX_FMT_GREY, rows stride
// bytes apart) into out (W*H*3 bytes of RGB, R = G = B). The values are
// taken as they are (full range), like *image.Gray.
func (r *Resizer) Gray(out, frame []uint8, w, h, stride int) error {
	r.checkOut(out)
	if err := checkFrame("Gray", len(frame), w, h, stride, w); err != nil {
		return err
	}
	if err := r.plan(w, h); err != nil {
		return err
	}
	resample(r, out, grayRows{frame, stride})
	return nil
}

// check420 validates the size of a 4:2:0 frame and returns its chroma
// plane's size.
func check420(format string, n, w, h int) (cw, ch int, err error) {
	if w < 1 || h < 1 || w > maxFrameSide || h > maxFrameSide {
		return 0, 0, fmt.Errorf("preprocess: %s frame size %dx%d out of range", format, w, h)
	}
	cw, ch = (w+1)/2, (h+1)/2
	if want := w*h + 2*cw*ch; n < want {
		return 0, 0, fmt.Errorf("preprocess: %s frame of %d bytes too short for %dx%d (want %d)", format, n, w, h, want)
	}
	return cw, ch, nil
}

// yuvTab holds the terms of yuvToRGB for every byte value, so that the
// row loops do three additions a pixel. Sums of entries are exactly the
// expressions in yuvToRGB.
var yuvTab = func() (t struct{ y, rv, gu, gv, bu [256]int32 }) {
	for i := range 256 {
		c := int32(i) - 128
		t.y[i] = (int32(i)-16)*yuvY + 1<<15
		t.rv[i] = yuvRV * c
		t.gu[i] = -yuvGU * c
		t.gv[i] = -yuvGV * c
		t.bu[i] = yuvBU * c
	}
	return t
}()

// putYUV writes the RGB of luma term yy with chroma terms rv, g, bu
// (entries of yuvTab, g = gu+gv) into d[0:3].
func putYUV(d []uint8, yy, rv, g, bu int32) {
	d[2] = clamp8((yy + bu) >> 16)
	d[0] = clamp8((yy + rv) >> 16)
	d[1] = clamp8((yy + g) >> 16)
}

type yuyvRows struct {
	frame  []uint8
	stride int
}

func (s yuyvRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	// Whole pairs covering [x0, x1).
	src := s.frame[o+4*(x0>>1) : o+4*((x1+1)>>1)]
	buf = buf[:3*(x1-x0)]
	t := &yuvTab
	d := buf
	if x0&1 != 0 { // starts with the second pixel of a pair
		p := src[:4:4]
		putYUV(d, t.y[p[2]], t.rv[p[3]], t.gu[p[1]]+t.gv[p[3]], t.bu[p[1]])
		src, d = src[4:], d[3:]
	}
	for len(d) >= 6 {
		p := src[:4:4]
		rv, g, bu := t.rv[p[3]], t.gu[p[1]]+t.gv[p[3]], t.bu[p[1]]
		putYUV(d, t.y[p[0]], rv, g, bu)
		putYUV(d[3:], t.y[p[2]], rv, g, bu)
		src, d = src[4:], d[6:]
	}
	if len(d) > 0 { // ends with the first pixel of a pair
		p := src[:4:4]
		putYUV(d, t.y[p[0]], t.rv[p[3]], t.gu[p[1]]+t.gv[p[3]], t.bu[p[1]])
	}
	return buf
}

// yuv420Rows serves I420 (step 1, separate planes) and NV12 (step 2, v is
// u[1:] in the interleaved plane).
type yuv420Rows struct {
	y, u, v    []uint8
	w, cstride int
	step       int
}

func (s yuv420Rows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	ys := s.y[y*s.w+x0 : y*s.w+x1]
	co := (y>>1)*s.cstride + s.step*(x0>>1)
	u, v := s.u[co:], s.v[co:]
	buf = buf[:3*len(ys)]
	t := &yuvTab
	i, k := 0, 0   // pixel and chroma index
	if x0&1 != 0 { // starts with the second pixel of a chroma pair
		putYUV(buf, t.y[ys[0]], t.rv[v[0]], t.gu[u[0]]+t.gv[v[0]], t.bu[u[0]])
		i, k = 1, s.step
	}
	for ; i+1 < len(ys); i, k = i+2, k+s.step {
		cu, cv := u[k], v[k]
		rv, g, bu := t.rv[cv], t.gu[cu]+t.gv[cv], t.bu[cu]
		d := buf[3*i : 3*i+6 : 3*i+6]
		putYUV(d, t.y[ys[i]], rv, g, bu)
		putYUV(d[3:], t.y[ys[i+1]], rv, g, bu)
	}
	if i < len(ys) {
		putYUV(buf[3*i:], t.y[ys[i]], t.rv[v[k]], t.gu[u[k]]+t.gv[v[k]], t.bu[u[k]])
	}
	return buf
}

func (s yuyvRows) addWords(acc []uint64, _ []uint8, y, x0, x1 int, w uint64) {
	o := y * s.stride
	limitedWords.addYUYV(acc, s.frame[o+4*(x0>>1):o+4*((x1+1)>>1)], x1-x0, x0&1 != 0, w)
}

func (s yuv420Rows) addWords(acc []uint64, _ []uint8, y, x0, x1 int, w uint64) {
	co := (y>>1)*s.cstride + s.step*(x0>>1)
	limitedWords.addPairs(acc, s.y[y*s.w+x0:y*s.w+x1], s.u[co:], s.v[co:], s.step, x0&1 != 0, w)
}
