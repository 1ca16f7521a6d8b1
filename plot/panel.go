package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// panelLayout is the resolved geometry of one panel.
type panelLayout struct {
	cell image.Rectangle // the panel's share of the figure
	plot image.Rectangle // the framed data area
	x, y axis
}

// toPixel maps a data point to pixel coordinates; the axis ends map to the
// centres of the frame's first and last pixel columns and rows. Points far
// outside the axes are pulled in to maxOutside plot sizes, which keeps the
// visible part of their lines in place to well under a pixel.
func (l *panelLayout) toPixel(x, y float64) (px, py float64) {
	tx := (x - l.x.lo) / (l.x.hi - l.x.lo)
	ty := (y - l.y.lo) / (l.y.hi - l.y.lo)
	tx = math.Max(-maxOutside, math.Min(maxOutside, tx))
	ty = math.Max(-maxOutside, math.Min(maxOutside, ty))
	px = float64(l.plot.Min.X) + 0.5 + tx*float64(l.plot.Dx()-1)
	py = float64(l.plot.Max.Y) - 0.5 - ty*float64(l.plot.Dy()-1)
	return px, py
}

// xAt returns X[i] of s, or i when X is nil.
func xAt(s *Series, i int) float64 {
	if s.X == nil {
		return float64(i)
	}
	return s.X[i]
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// layoutPanel fits p's axes and frame into cell.
func layoutPanel(p *Panel, cell image.Rectangle) (panelLayout, error) {
	l := panelLayout{cell: cell}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	integer := true
	for si := range p.Series {
		s := &p.Series[si]
		for i, y := range s.Y {
			x := xAt(s, i)
			if !finite(x) || !finite(y) {
				continue
			}
			xlo, xhi = extend(xlo, xhi, x)
			ylo, yhi = extend(ylo, yhi, y)
			integer = integer && x == math.Trunc(x) && math.Abs(x) < 1e15
		}
	}
	if xlo > xhi { // no data
		xlo, xhi, ylo, yhi, integer = 0, 1, 0, 1, false
	}
	fixedLo, fixedHi := p.YMin != nil, p.YMax != nil
	if fixedLo {
		ylo = *p.YMin
	}
	if fixedHi {
		yhi = *p.YMax
	}
	xlo, xhi = padRange(xlo, xhi, false, false, integer)
	ylo, yhi = padRange(ylo, yhi, fixedLo, fixedHi, false)

	top := pad
	if p.Title != "" {
		top += lineH + 6
	}
	bottom := tickLen + 3 + lineH + pad
	if p.XLabel != "" {
		bottom += lineH + 5
	}
	plotH := cell.Dy() - top - bottom
	if plotH < 20 {
		return l, fmt.Errorf("%w: %d pixels high, need %d", errTooSmall, cell.Dy(), top+bottom+20)
	}
	l.y = newAxis(ylo, yhi, fixedLo, fixedHi, false, min(max(plotH/40+1, 3), 11))
	yLabW := 0
	for _, s := range l.y.labels {
		yLabW = max(yLabW, textWidth(s))
	}
	left := pad + yLabW + 4 + tickLen
	if p.YLabel != "" {
		left += lineH + 6
	}
	right := pad + charW
	for pass := 0; pass < 2; pass++ {
		plotW := cell.Dx() - left - right
		if plotW < 20 {
			return l, fmt.Errorf("%w: %d pixels wide, need %d", errTooSmall, cell.Dx(), left+right+20)
		}
		for n := min(max(plotW/50+1, 3), 11); ; n-- {
			l.x = newAxis(xlo, xhi, false, false, integer, n)
			labW := 0
			for _, s := range l.x.labels {
				labW = max(labW, textWidth(s))
			}
			spacing := float64(plotW)
			if len(l.x.ticks) > 1 {
				spacing = float64(plotW) * (l.x.ticks[1] - l.x.ticks[0]) / (l.x.hi - l.x.lo)
			}
			if spacing >= float64(labW+12) || n <= 2 {
				break
			}
		}
		last := l.x.labels[len(l.x.labels)-1]
		need := textWidth(last)/2 + 4
		if need <= right {
			break
		}
		right = need
	}
	l.plot = image.Rect(cell.Min.X+left, cell.Min.Y+top, cell.Max.X-right, cell.Max.Y-bottom)
	return l, nil
}

// seriesColor returns the colour of series i as non-premultiplied RGBA.
func seriesColor(s *Series, i int) color.NRGBA {
	c := s.Color
	if c == nil {
		c = Palette[i%len(Palette)]
	}
	return color.NRGBAModel.Convert(c).(color.NRGBA)
}

// draw paints the panel laid out by l into dst.
func (l *panelLayout) draw(dst *image.RGBA, p *Panel) {
	pr := l.plot
	// Grid and frame.
	for _, t := range l.y.ticks {
		_, py := l.toPixel(0, t)
		hline(dst, pr.Min.X, pr.Max.X-1, int(py), gridColor)
	}
	for _, t := range l.x.ticks {
		px, _ := l.toPixel(t, 0)
		vline(dst, int(px), pr.Min.Y, pr.Max.Y-1, gridColor)
	}
	strokeRect(dst, pr, axisColor)

	// Ticks and their labels.
	for i, t := range l.y.ticks {
		_, fy := l.toPixel(0, t)
		py := int(fy)
		hline(dst, pr.Min.X-tickLen, pr.Min.X-1, py, axisColor)
		s := l.y.labels[i]
		drawText(dst, pr.Min.X-tickLen-4-textWidth(s), py-lineH/2-1, s, textColor, false)
	}
	for i, t := range l.x.ticks {
		fx, _ := l.toPixel(t, 0)
		px := int(fx)
		vline(dst, px, pr.Max.Y, pr.Max.Y+tickLen-1, axisColor)
		s := l.x.labels[i]
		drawText(dst, px-textWidth(s)/2, pr.Max.Y+tickLen+3, s, textColor, false)
	}

	// Titles.
	if p.Title != "" {
		s := fitText(p.Title, l.cell.Dx()-2*pad)
		x := pr.Min.X + (pr.Dx()-textWidth(s))/2
		x = max(l.cell.Min.X+pad, min(x, l.cell.Max.X-pad-textWidth(s)))
		drawText(dst, x, l.cell.Min.Y+pad, s, textColor, true)
	}
	if p.XLabel != "" {
		s := fitText(p.XLabel, pr.Dx())
		drawText(dst, pr.Min.X+(pr.Dx()-textWidth(s))/2, pr.Max.Y+tickLen+3+lineH+5, s, textColor, false)
	}
	if p.YLabel != "" {
		s := fitText(p.YLabel, pr.Dy())
		drawTextUp(dst, l.cell.Min.X+pad, pr.Min.Y+(pr.Dy()-textWidth(s))/2, s, textColor)
	}

	// Data. Lines may spill a little over the frame so that values on the
	// axis ends are drawn at full width.
	clip := pr.Inset(-3).Intersect(l.cell)
	occupied := newMask(clip)
	anyData := false
	for si := range p.Series {
		s := &p.Series[si]
		m := newMask(clip)
		if l.strokeSeries(m, s) {
			anyData = true
		}
		m.paint(dst, seriesColor(s, si))
		for i, c := range m.cov {
			occupied.cov[i] = math.Max(occupied.cov[i], c)
		}
	}
	if !anyData {
		s := "no data"
		drawText(dst, pr.Min.X+(pr.Dx()-textWidth(s))/2, pr.Min.Y+(pr.Dy()-lineH)/2, s, noData, false)
	}
	l.drawLegend(dst, p, occupied)
}

// strokeSeries draws s into m and reports whether it had any finite point.
func (l *panelLayout) strokeSeries(m *mask, s *Series) bool {
	finitePt := func(i int) bool { return i >= 0 && i < len(s.Y) && finite(xAt(s, i)) && finite(s.Y[i]) }
	d := dash{}
	if s.Dashed {
		d = dashPattern
	}
	n := 0
	for i := range s.Y {
		if finitePt(i) {
			n++
		}
	}
	dist := 0.0 // along the current run, for the dash phase
	for i := range s.Y {
		if !finitePt(i) {
			continue
		}
		x0, y0 := l.toPixel(xAt(s, i), s.Y[i])
		prev, next := finitePt(i-1), finitePt(i+1)
		if !prev {
			dist = 0
		}
		switch {
		case !prev && !next:
			m.disc(x0, y0, loneRadius)
		case n <= markerMaxPts:
			m.disc(x0, y0, markerRadius)
		}
		if next {
			x1, y1 := l.toPixel(xAt(s, i+1), s.Y[i+1])
			m.segment(x0, y0, x1, y1, lineWidth/2, d, dist)
			dist += math.Hypot(x1-x0, y1-y0)
		}
	}
	return n > 0
}

// drawLegend lists the named series in the corner of the plot area that
// covers the fewest drawn data pixels.
func (l *panelLayout) drawLegend(dst *image.RGBA, p *Panel, occupied *mask) {
	type entry struct {
		name string
		idx  int
	}
	var entries []entry
	nameW := 0
	for i := range p.Series {
		if p.Series[i].Name == "" {
			continue
		}
		name := fitText(p.Series[i].Name, max(l.plot.Dx()-60, 3*charW))
		entries = append(entries, entry{name, i})
		nameW = max(nameW, textWidth(name))
	}
	if len(entries) == 0 {
		return
	}
	const sample, inset, rowH = 24, 6, lineH + 4
	w := 8 + sample + 6 + nameW + 8
	h := 5 + len(entries)*rowH + 3
	pr := l.plot
	corners := []image.Point{
		{pr.Max.X - inset - w, pr.Min.Y + inset}, // top right
		{pr.Min.X + inset, pr.Min.Y + inset},     // top left
		{pr.Max.X - inset - w, pr.Max.Y - inset - h},
		{pr.Min.X + inset, pr.Max.Y - inset - h},
	}
	best, bestN := corners[0], -1
	for _, c := range corners {
		n := occupied.covered(image.Rect(c.X, c.Y, c.X+w, c.Y+h))
		if bestN < 0 || n < bestN {
			best, bestN = c, n
		}
	}
	box := image.Rect(best.X, best.Y, best.X+w, best.Y+h)
	fillRect(dst, box, white)
	strokeRect(dst, box, legBorder)
	for k, e := range entries {
		s := &p.Series[e.idx]
		y := box.Min.Y + 5 + k*rowH
		cy := float64(y) + float64(lineH)/2
		x0 := float64(box.Min.X + 8)
		m := newMask(image.Rect(box.Min.X, y, box.Min.X+8+sample+1, y+lineH+1))
		d := dash{}
		if s.Dashed {
			d = dash{on: 7, off: 4}
		}
		m.segment(x0, cy, x0+sample, cy, lineWidth/2, d, 0)
		m.paint(dst, seriesColor(s, e.idx))
		drawText(dst, box.Min.X+8+sample+6, y, e.name, textColor, false)
	}
}
