package plot

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Text metrics of basicfont.Face7x13, in pixels.
const (
	charW  = 7
	lineH  = 13
	ascent = 11
)

var face = basicfont.Face7x13

// fillRect sets every pixel of r (clipped to dst) to c.
func fillRect(dst *image.RGBA, r image.Rectangle, c color.NRGBA) {
	r = r.Intersect(dst.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
		}
	}
}

// hline and vline draw 1-pixel lines, end inclusive.
func hline(dst *image.RGBA, x0, x1, y int, c color.NRGBA) {
	fillRect(dst, image.Rect(x0, y, x1+1, y+1), c)
}

func vline(dst *image.RGBA, x, y0, y1 int, c color.NRGBA) {
	fillRect(dst, image.Rect(x, y0, x+1, y1+1), c)
}

// strokeRect draws the 1-pixel outline of r.
func strokeRect(dst *image.RGBA, r image.Rectangle, c color.NRGBA) {
	hline(dst, r.Min.X, r.Max.X-1, r.Min.Y, c)
	hline(dst, r.Min.X, r.Max.X-1, r.Max.Y-1, c)
	vline(dst, r.Min.X, r.Min.Y, r.Max.Y-1, c)
	vline(dst, r.Max.X-1, r.Min.Y, r.Max.Y-1, c)
}

// textWidth returns the advance of s in pixels.
func textWidth(s string) int {
	return font.MeasureString(face, s).Ceil()
}

// fitText shortens s with a trailing "..." so that it is at most w pixels wide.
func fitText(s string, w int) string {
	if textWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)-1]
		if t := string(r) + "..."; textWidth(t) <= w {
			return t
		}
	}
	return ""
}

// drawText draws s with its top-left corner at (x, y). With bold set it is
// drawn twice, one pixel apart.
func drawText(dst *image.RGBA, x, y int, s string, c color.NRGBA, bold bool) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y+ascent)}
	d.DrawString(s)
	if bold {
		d.Dot = fixed.P(x+1, y+ascent)
		d.DrawString(s)
	}
}

// drawTextUp draws s rotated 90° counter-clockwise (reading bottom to top)
// with the top-left corner of its bounding box at (x, y).
func drawTextUp(dst *image.RGBA, x, y int, s string, c color.NRGBA) {
	w := textWidth(s)
	if w == 0 {
		return
	}
	tmp := image.NewAlpha(image.Rect(0, 0, w, lineH))
	d := font.Drawer{Dst: tmp, Src: image.Opaque, Face: face, Dot: fixed.P(0, ascent)}
	d.DrawString(s)
	for ty := 0; ty < lineH; ty++ {
		for tx := 0; tx < w; tx++ {
			if a := tmp.AlphaAt(tx, ty).A; a != 0 {
				blend(dst, x+ty, y+w-1-tx, c, float64(a)/255)
			}
		}
	}
}

// blend paints c over the pixel at (x, y) with coverage a in [0, 1].
func blend(dst *image.RGBA, x, y int, c color.NRGBA, a float64) {
	if !(image.Point{x, y}.In(dst.Rect)) {
		return
	}
	i := dst.PixOffset(x, y)
	p := dst.Pix[i : i+4 : i+4]
	w := uint32(a*float64(c.A) + 0.5) // 0..255
	if w >= 255 {
		p[0], p[1], p[2], p[3] = c.R, c.G, c.B, 255
		return
	}
	mix := func(s uint8, d uint8) uint8 {
		return uint8((uint32(s)*w + uint32(d)*(255-w) + 127) / 255)
	}
	p[0], p[1], p[2] = mix(c.R, p[0]), mix(c.G, p[1]), mix(c.B, p[2])
	p[3] = 255
}

// mask holds per-pixel coverage in [0, 1] over a rectangle; strokes take the
// maximum coverage so that overlapping segments of one series do not darken.
type mask struct {
	r   image.Rectangle
	cov []float64
}

func newMask(r image.Rectangle) *mask {
	return &mask{r: r, cov: make([]float64, r.Dx()*r.Dy())}
}

func (m *mask) set(x, y int, c float64) {
	i := (y-m.r.Min.Y)*m.r.Dx() + (x - m.r.Min.X)
	if c > m.cov[i] {
		m.cov[i] = c
	}
}

// dash describes a dash pattern in pixels along the line; zero means solid.
type dash struct{ on, off float64 }

// segment strokes the segment (x0,y0)-(x1,y1) with half-width hw pixels and
// round caps. start is the distance along the polyline at (x0,y0), used to
// phase the dash pattern.
func (m *mask) segment(x0, y0, x1, y1, hw float64, d dash, start float64) {
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	l := math.Sqrt(l2)
	// Clip to the mask rectangle grown by the stroke (Liang–Barsky).
	g := hw + 1
	t0, t1 := 0.0, 1.0
	clip := func(p, q float64) bool {
		if p == 0 {
			return q >= 0
		}
		r := q / p
		if p < 0 {
			if r > t1 {
				return false
			}
			t0 = math.Max(t0, r)
		} else {
			if r < t0 {
				return false
			}
			t1 = math.Min(t1, r)
		}
		return true
	}
	minX, minY := float64(m.r.Min.X)-g, float64(m.r.Min.Y)-g
	maxX, maxY := float64(m.r.Max.X)+g, float64(m.r.Max.Y)+g
	if !clip(-dx, x0-minX) || !clip(dx, maxX-x0) || !clip(-dy, y0-minY) || !clip(dy, maxY-y0) {
		return
	}
	cx0, cy0 := x0+t0*dx, y0+t0*dy
	cx1, cy1 := x0+t1*dx, y0+t1*dy
	b := image.Rect(
		int(math.Floor(math.Min(cx0, cx1)-g)), int(math.Floor(math.Min(cy0, cy1)-g)),
		int(math.Ceil(math.Max(cx0, cx1)+g)), int(math.Ceil(math.Max(cy0, cy1)+g)),
	).Intersect(m.r)
	period := d.on + d.off
	for y := b.Min.Y; y < b.Max.Y; y++ {
		py := float64(y) + 0.5
		for x := b.Min.X; x < b.Max.X; x++ {
			px := float64(x) + 0.5
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((px-x0)*dx+(py-y0)*dy)/l2))
			}
			ex, ey := px-(x0+t*dx), py-(y0+t*dy)
			c := hw + 0.5 - math.Sqrt(ex*ex+ey*ey)
			if c <= 0 {
				continue
			}
			if period > 0 && math.Mod(start+t*l, period) >= d.on {
				continue
			}
			m.set(x, y, math.Min(c, 1))
		}
	}
}

// disc fills a disc of radius r centred at (cx, cy).
func (m *mask) disc(cx, cy, r float64) {
	b := image.Rect(int(math.Floor(cx-r-1)), int(math.Floor(cy-r-1)),
		int(math.Ceil(cx+r+1)), int(math.Ceil(cy+r+1))).Intersect(m.r)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			ex, ey := float64(x)+0.5-cx, float64(y)+0.5-cy
			if c := r + 0.5 - math.Sqrt(ex*ex+ey*ey); c > 0 {
				m.set(x, y, math.Min(c, 1))
			}
		}
	}
}

// paint composites c through the mask onto dst.
func (m *mask) paint(dst *image.RGBA, c color.NRGBA) {
	for y := m.r.Min.Y; y < m.r.Max.Y; y++ {
		row := m.cov[(y-m.r.Min.Y)*m.r.Dx():][:m.r.Dx()]
		for i, a := range row {
			if a > 0 {
				blend(dst, m.r.Min.X+i, y, c, a)
			}
		}
	}
}

// covered counts the pixels of r (clipped to the mask) with any coverage.
func (m *mask) covered(r image.Rectangle) int {
	r = r.Intersect(m.r)
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if m.cov[(y-m.r.Min.Y)*m.r.Dx()+(x-m.r.Min.X)] > 0 {
				n++
			}
		}
	}
	return n
}
