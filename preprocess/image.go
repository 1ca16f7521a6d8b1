package preprocess

import (
	"fmt"
	"image"
	"image/color"
)

// Image resizes a decoded image into out (W*H*3 bytes of RGB, a fresh
// buffer owned by the caller). Options.ROI is in pixels from the image's
// top-left corner, img.Bounds().Min.
//
// Pixels are converted exactly as color.RGBAModel would convert them
// (8-bit, transparent pixels composited onto black), so every type gives
// the same result as converting pixel by pixel. The standard library's JPEG
// (*image.YCbCr, *image.Gray, *image.CMYK) and PNG (*image.NRGBA,
// *image.RGBA, *image.Paletted, *image.Gray16, *image.RGBA64,
// *image.NRGBA64) types take fast paths that allocate nothing once the
// Resizer has seen an image of the same size; others go through
// img.At, which is slow and allocates. Palette indices beyond the palette
// are black.
func (r *Resizer) Image(out []uint8, img image.Image) error {
	r.checkOut(out)
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("preprocess: image is empty (%dx%d)", b.Dx(), b.Dy())
	}
	if b.Dx() > maxImageSide || b.Dy() > maxImageSide {
		return fmt.Errorf("preprocess: image of %dx%d pixels too large (at most %d a side)", b.Dx(), b.Dy(), maxImageSide)
	}
	if err := r.plan(b.Dx(), b.Dy()); err != nil {
		return err
	}
	// Pix-based images keep Pix[0] at Bounds().Min, so frame coordinates
	// index Pix directly.
	switch m := img.(type) {
	case *image.YCbCr:
		if rs, ok := newYCbCrRows(m); ok {
			resample(r, out, rs)
			return nil
		}
	case *image.Gray:
		resample(r, out, grayRows{m.Pix, m.Stride})
		return nil
	case *image.RGBA:
		resample(r, out, rgbaRows{m.Pix, m.Stride})
		return nil
	case *image.NRGBA:
		resample(r, out, nrgbaRows{m.Pix, m.Stride})
		return nil
	case *image.CMYK:
		resample(r, out, cmykRows{m.Pix, m.Stride})
		return nil
	case *image.Paletted:
		for i := range r.pal {
			var c color.Color
			if i < len(m.Palette) {
				c = m.Palette[i]
			}
			if c == nil {
				r.pal[i] = [3]uint8{}
				continue
			}
			cr, cg, cb, _ := c.RGBA()
			r.pal[i] = [3]uint8{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8)}
		}
		resample(r, out, palRows{m.Pix, m.Stride, &r.pal})
		return nil
	case *image.Gray16:
		resample(r, out, gray16Rows{m.Pix, m.Stride})
		return nil
	case *image.RGBA64:
		resample(r, out, rgba64Rows{m.Pix, m.Stride})
		return nil
	case *image.NRGBA64:
		resample(r, out, nrgba64Rows{m.Pix, m.Stride})
		return nil
	}
	resample(r, out, anyRows{img, b.Min.X, b.Min.Y})
	return nil
}

// anyRows converts through img.At (one allocation a pixel for most types).
type anyRows struct {
	img    image.Image
	ox, oy int
}

func (s anyRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	buf = buf[:3*(x1-x0)]
	for x := x0; x < x1; x++ {
		cr, cg, cb, _ := s.img.At(x+s.ox, y+s.oy).RGBA()
		d := buf[3*(x-x0) : 3*(x-x0)+3 : 3*(x-x0)+3]
		d[0], d[1], d[2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
	}
	return buf
}

// grayRows serves both *image.Gray and raw 8-bit grey frames.
type grayRows struct {
	pix    []uint8
	stride int
}

func (s grayRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+x0 : o+x1]
	buf = buf[:3*len(src)]
	for i, v := range src {
		d := buf[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = v, v, v
	}
	return buf
}

type rgbaRows struct {
	pix    []uint8
	stride int
}

func (s rgbaRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+4*x0 : o+4*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		p := src[4*i : 4*i+3 : 4*i+3]
		d := buf[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = p[0], p[1], p[2] // premultiplied: already on black
	}
	return buf
}

type nrgbaRows struct {
	pix    []uint8
	stride int
}

func (s nrgbaRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+4*x0 : o+4*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		p := src[4*i : 4*i+4 : 4*i+4]
		d := buf[3*i : 3*i+3 : 3*i+3]
		if a := uint32(p[3]); a == 0xff {
			d[0], d[1], d[2] = p[0], p[1], p[2]
		} else {
			// color.NRGBA.RGBA then >>8: (v*0x101 * a*0x101 / 0xffff) >> 8.
			d[0] = uint8(uint32(p[0]) * a * 0x101 / 0xff >> 8)
			d[1] = uint8(uint32(p[1]) * a * 0x101 / 0xff >> 8)
			d[2] = uint8(uint32(p[2]) * a * 0x101 / 0xff >> 8)
		}
	}
	return buf
}

type cmykRows struct {
	pix    []uint8
	stride int
}

func (s cmykRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+4*x0 : o+4*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		p := src[4*i : 4*i+4 : 4*i+4]
		d := buf[3*i : 3*i+3 : 3*i+3]
		// color.CMYK.RGBA then >>8.
		w := 0xffff - uint32(p[3])*0x101
		d[0] = uint8((0xffff - uint32(p[0])*0x101) * w / 0xffff >> 8)
		d[1] = uint8((0xffff - uint32(p[1])*0x101) * w / 0xffff >> 8)
		d[2] = uint8((0xffff - uint32(p[2])*0x101) * w / 0xffff >> 8)
	}
	return buf
}

type palRows struct {
	pix    []uint8
	stride int
	pal    *[256][3]uint8
}

func (s palRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+x0 : o+x1]
	buf = buf[:3*len(src)]
	for i, v := range src {
		c := &s.pal[v]
		d := buf[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = c[0], c[1], c[2]
	}
	return buf
}

// 16-bit types are big-endian: the high byte comes first.

type gray16Rows struct {
	pix    []uint8
	stride int
}

func (s gray16Rows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+2*x0 : o+2*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		v := src[2*i]
		d := buf[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = v, v, v
	}
	return buf
}

type rgba64Rows struct {
	pix    []uint8
	stride int
}

func (s rgba64Rows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+8*x0 : o+8*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		p := src[8*i : 8*i+8 : 8*i+8]
		d := buf[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = p[0], p[2], p[4]
	}
	return buf
}

type nrgba64Rows struct {
	pix    []uint8
	stride int
}

func (s nrgba64Rows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	o := y * s.stride
	src := s.pix[o+8*x0 : o+8*x1]
	buf = buf[:3*(x1-x0)]
	for i := range x1 - x0 {
		p := src[8*i : 8*i+8 : 8*i+8]
		d := buf[3*i : 3*i+3 : 3*i+3]
		a := uint32(p[6])<<8 | uint32(p[7])
		// color.NRGBA64.RGBA then >>8.
		d[0] = uint8((uint32(p[0])<<8 | uint32(p[1])) * a / 0xffff >> 8)
		d[1] = uint8((uint32(p[2])<<8 | uint32(p[3])) * a / 0xffff >> 8)
		d[2] = uint8((uint32(p[4])<<8 | uint32(p[5])) * a / 0xffff >> 8)
	}
	return buf
}

// ycbcrRows converts JPEG's full-range (JFIF) Y'CbCr exactly as
// color.YCbCrToRGB does. Chroma is found by shifting coordinates, which
// matches (*image.YCbCr).COffset for non-negative coordinates only.
type ycbcrRows struct {
	m        *image.YCbCr
	cxs, cys uint // chroma subsampling: log2 of the horizontal and vertical factors
}

func newYCbCrRows(m *image.YCbCr) (ycbcrRows, bool) {
	s := ycbcrRows{m: m}
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		s.cxs = 1
	case image.YCbCrSubsampleRatio420:
		s.cxs, s.cys = 1, 1
	case image.YCbCrSubsampleRatio440:
		s.cys = 1
	case image.YCbCrSubsampleRatio411:
		s.cxs = 2
	case image.YCbCrSubsampleRatio410:
		s.cxs, s.cys = 2, 1
	default:
		return s, false
	}
	return s, m.Rect.Min.X >= 0 && m.Rect.Min.Y >= 0
}

func (s ycbcrRows) rgbRow(buf []uint8, y, x0, x1 int) []uint8 {
	m := s.m
	yo := y * m.YStride
	ys := m.Y[yo+x0 : yo+x1]
	minX, minY := m.Rect.Min.X, m.Rect.Min.Y
	co := ((y+minY)>>s.cys - minY>>s.cys) * m.CStride
	cx0 := minX >> s.cxs
	ax := x0 + minX
	cb, cr := m.Cb[co:], m.Cr[co:]
	buf = buf[:3*len(ys)]
	if s.cxs != 1 {
		for i, yv := range ys {
			c := (ax+i)>>s.cxs - cx0
			d := buf[3*i : 3*i+3 : 3*i+3]
			d[0], d[1], d[2] = jfifToRGB(yv, cb[c], cr[c])
		}
		return buf
	}
	// 4:2:2 and 4:2:0: pixel pairs share their chroma terms.
	i := 0
	if ax&1 != 0 { // starts with the second pixel of a pair
		c := ax>>1 - cx0
		buf[0], buf[1], buf[2] = jfifToRGB(ys[0], cb[c], cr[c])
		i = 1
	}
	for ; i+1 < len(ys); i += 2 {
		c := (ax+i)>>1 - cx0
		cb1, cr1 := int32(cb[c])-128, int32(cr[c])-128
		tr, tg, tb := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
		y0, y1 := int32(ys[i])*0x10101, int32(ys[i+1])*0x10101
		d := buf[3*i : 3*i+6 : 3*i+6]
		d[0], d[1], d[2] = clampShift16(y0+tr), clampShift16(y0+tg), clampShift16(y0+tb)
		d[3], d[4], d[5] = clampShift16(y1+tr), clampShift16(y1+tg), clampShift16(y1+tb)
	}
	if i < len(ys) {
		c := (ax+i)>>1 - cx0
		buf[3*i], buf[3*i+1], buf[3*i+2] = jfifToRGB(ys[i], cb[c], cr[c])
	}
	return buf
}

// jfifToRGB is color.YCbCrToRGB, repeated so that it inlines.
func jfifToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy1 := int32(y) * 0x10101
	cb1 := int32(cb) - 128
	cr1 := int32(cr) - 128
	return clampShift16(yy1 + 91881*cr1), clampShift16(yy1 - 22554*cb1 - 46802*cr1), clampShift16(yy1 + 116130*cb1)
}

// clampShift16 returns v>>16 clamped to [0, 255], as color.YCbCrToRGB
// computes it, without branches.
func clampShift16(v int32) uint8 {
	return uint8(min(max(v, 0), 0xffffff) >> 16)
}

func (s anyRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s rgbaRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s nrgbaRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s cmykRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s palRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s gray16Rows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s rgba64Rows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s nrgba64Rows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
}

func (s grayRows) addWords(acc []uint64, _ []uint8, y, x0, x1 int, w uint64) {
	o := y * s.stride
	addGray(acc, s.pix[o+x0:o+x1], w)
}

func (s ycbcrRows) addWords(acc []uint64, buf []uint8, y, x0, x1 int, w uint64) {
	if s.cxs != 1 {
		addRGB(acc, s.rgbRow(buf, y, x0, x1), w)
		return
	}
	m := s.m
	yo := y * m.YStride
	minX, minY := m.Rect.Min.X, m.Rect.Min.Y
	co := ((y+minY)>>s.cys-minY>>s.cys)*m.CStride + (x0+minX)>>1 - minX>>1
	jfifWords.addPairs(acc, m.Y[yo+x0:yo+x1], m.Cb[co:], m.Cr[co:], 1, (x0+minX)&1 != 0, w)
}
