// Package plot draws small line charts, such as training curves, to PNG.
//
// It depends only on the standard image packages and the bitmap font in
// golang.org/x/image/font/basicfont, so it builds with CGO_ENABLED=0 for every
// target catd supports. Output is deterministic: the same Figure renders to
// the same pixels and the same PNG bytes.
//
// Coordinates are in pixels with the origin at the top-left corner of the
// image; data values are plotted with y growing upwards.
package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Limits on figure size, in pixels.
const (
	MinSize = 100
	MaxSize = 10000
)

// Series is one line of a panel. Points where X or Y is NaN or ±Inf are
// skipped and leave a gap in the line; a point with no finite neighbour is
// drawn as a marker.
type Series struct {
	Name   string      // legend entry; empty: not listed in the legend
	X, Y   []float64   // same length; X nil: X[i] = i
	Color  color.Color // nil: taken from Palette by the series' index in its panel
	Dashed bool
}

// Panel is one set of axes.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
	// YMin and YMax fix the ends of the y axis; nil: fitted to the data and
	// widened to the nearest tick. Lines leaving a fixed range are clipped.
	YMin, YMax *float64
}

// Figure is an image made of one or more panels, laid out in a grid of
// Columns columns filled row by row.
type Figure struct {
	Title   string
	Panels  []Panel
	Columns int // 0 or 1: panels stacked vertically
	// Width and Height of the image in pixels, each in [MinSize, MaxSize].
	// Zero picks a default: 800 wide, 300 per row of panels high.
	Width, Height int
}

// Palette holds the colours given to series without one, in order.
var Palette = []color.Color{
	color.NRGBA{0x1f, 0x77, 0xb4, 0xff}, // blue
	color.NRGBA{0xff, 0x7f, 0x0e, 0xff}, // orange
	color.NRGBA{0x2c, 0xa0, 0x2c, 0xff}, // green
	color.NRGBA{0xd6, 0x27, 0x28, 0xff}, // red
	color.NRGBA{0x94, 0x67, 0xbd, 0xff}, // purple
	color.NRGBA{0x8c, 0x56, 0x4b, 0xff}, // brown
	color.NRGBA{0xe3, 0x77, 0xc2, 0xff}, // pink
	color.NRGBA{0x7f, 0x7f, 0x7f, 0xff}, // grey
	color.NRGBA{0xbc, 0xbd, 0x22, 0xff}, // olive
	color.NRGBA{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

var (
	white     = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	textColor = color.NRGBA{0x22, 0x22, 0x22, 0xff}
	axisColor = color.NRGBA{0x55, 0x55, 0x55, 0xff}
	gridColor = color.NRGBA{0xe4, 0xe4, 0xe4, 0xff}
	legBorder = color.NRGBA{0xbb, 0xbb, 0xbb, 0xff}
	noData    = color.NRGBA{0x99, 0x99, 0x99, 0xff}
)

// Stroke geometry, in pixels.
const (
	lineWidth    = 2.5
	markerRadius = 3  // on every point of short series
	loneRadius   = 4  // on points with no finite neighbour
	markerMaxPts = 40 // series with more points get no per-point markers
	pad          = 10
	tickLen      = 5
	maxOutside   = 1e6 // data farther out than this many plot sizes is clamped
)

var dashPattern = dash{on: 9, off: 5}

// size returns the image size, applying defaults, or an error naming the bad
// dimension.
func (f *Figure) size() (w, h int, err error) {
	w, h = f.Width, f.Height
	if w == 0 {
		w = 800
	}
	if h == 0 {
		h = 300 * f.rows()
		if f.Title != "" {
			h += lineH + pad
		}
		h = min(max(h, MinSize), MaxSize)
	}
	if w < MinSize || w > MaxSize || h < MinSize || h > MaxSize {
		return 0, 0, fmt.Errorf("plot: figure size %dx%d outside [%d, %d]", w, h, MinSize, MaxSize)
	}
	return w, h, nil
}

func (f *Figure) columns() int { return max(f.Columns, 1) }

func (f *Figure) rows() int { return max((len(f.Panels)+f.columns()-1)/f.columns(), 1) }

// validate reports input that cannot be drawn: mismatched lengths and bad
// fixed ranges. Non-finite data values are not errors.
func (f *Figure) validate() error {
	if f.Columns < 0 {
		return fmt.Errorf("plot: negative Columns %d", f.Columns)
	}
	for i, p := range f.Panels {
		if p.YMin != nil && math.IsNaN(*p.YMin) || p.YMin != nil && math.IsInf(*p.YMin, 0) {
			return fmt.Errorf("plot: panel %d (%q): YMin %v is not finite", i, p.Title, *p.YMin)
		}
		if p.YMax != nil && math.IsNaN(*p.YMax) || p.YMax != nil && math.IsInf(*p.YMax, 0) {
			return fmt.Errorf("plot: panel %d (%q): YMax %v is not finite", i, p.Title, *p.YMax)
		}
		if p.YMin != nil && p.YMax != nil && !(*p.YMin < *p.YMax) {
			return fmt.Errorf("plot: panel %d (%q): YMin %v not below YMax %v", i, p.Title, *p.YMin, *p.YMax)
		}
		for j, s := range p.Series {
			if s.X != nil && len(s.X) != len(s.Y) {
				return fmt.Errorf("plot: panel %d (%q) series %d (%q): len(X)=%d != len(Y)=%d",
					i, p.Title, j, s.Name, len(s.X), len(s.Y))
			}
		}
	}
	return nil
}

// Render draws the figure into a new image. It returns an error only for a
// figure that cannot be drawn: a size outside [MinSize, MaxSize], panels too
// small to hold their axes, X and Y of different lengths, or a non-finite or
// empty fixed y range.
func (f *Figure) Render() (*image.RGBA, error) {
	img, _, err := f.render()
	return img, err
}

// render is Render that also returns each panel's geometry, for tests.
func (f *Figure) render() (*image.RGBA, []panelLayout, error) {
	w, h, err := f.size()
	if err != nil {
		return nil, nil, err
	}
	if err := f.validate(); err != nil {
		return nil, nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fillRect(img, img.Rect, white)
	top := 0
	if f.Title != "" {
		t := fitText(f.Title, w-2*pad)
		drawText(img, (w-textWidth(t))/2, pad, t, textColor, true)
		top = pad + lineH + 4
	}
	cols, rows := f.columns(), f.rows()
	cellW, cellH := w/cols, (h-top)/rows
	layouts := make([]panelLayout, len(f.Panels))
	for i := range f.Panels {
		cx, cy := (i%cols)*cellW, top+(i/cols)*cellH
		cell := image.Rect(cx, cy, cx+cellW, cy+cellH)
		l, err := layoutPanel(&f.Panels[i], cell)
		if err != nil {
			return nil, nil, fmt.Errorf("plot: panel %d (%q): %w", i, f.Panels[i].Title, err)
		}
		l.draw(img, &f.Panels[i])
		layouts[i] = l
	}
	return img, layouts, nil
}

// WritePNG renders the figure and writes it to path as a PNG. The file is
// written to a temporary file in the same directory and renamed into place, so
// readers never see a partial image. Errors name the path.
func (f *Figure) WritePNG(path string) (err error) {
	img, err := f.Render()
	if err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plot: write %s: %w", path, err)
	}
	return nil
}

var errTooSmall = errors.New("too small to draw")
