package plot

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// demoRun returns a realistic 20-epoch run: loss falling from about 0.6, the
// validation loss flattening out above it, metrics climbing towards 0.9.
func demoRun() (epochs []int, train, val []float64, metrics map[string][]float64) {
	metrics = map[string][]float64{}
	for e := 1; e <= 20; e++ {
		t := float64(e)
		epochs = append(epochs, e)
		train = append(train, 0.12+0.57*math.Exp(-t/5)+0.01*math.Sin(3*t))
		val = append(val, 0.2+0.5*math.Exp(-t/4)+0.004*t*t/20+0.015*math.Cos(2*t))
		metrics["roc_auc"] = append(metrics["roc_auc"], 0.97-0.42*math.Exp(-t/3.5))
		metrics["balanced_accuracy"] = append(metrics["balanced_accuracy"], 0.91-0.41*math.Exp(-t/4)+0.01*math.Sin(t))
		metrics["f1"] = append(metrics["f1"], 0.89-0.6*math.Exp(-t/4.5)+0.015*math.Cos(1.7*t))
	}
	return epochs, train, val, metrics
}

func encode(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func nrgba(c color.Color) color.NRGBA { return color.NRGBAModel.Convert(c).(color.NRGBA) }

func pixel(img *image.RGBA, x, y int) color.NRGBA {
	return nrgba(img.RGBAAt(x, y))
}

// countColor counts the pixels of r that are exactly c.
func countColor(img *image.RGBA, r image.Rectangle, c color.NRGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if pixel(img, x, y) == c {
				n++
			}
		}
	}
	return n
}

// around returns the square of side 2*d+1 centred on the pixel holding (px, py).
func around(px, py float64, d int) image.Rectangle {
	x, y := int(math.Floor(px)), int(math.Floor(py))
	return image.Rect(x-d, y-d, x+d+1, y+d+1)
}

func TestTrainingCurves(t *testing.T) {
	epochs, train, val, metrics := demoRun()
	val[10] = math.NaN() // epoch 11 missing
	f := TrainingCurves(epochs, train, val, metrics)
	img, layouts, err := f.render()
	if err != nil {
		t.Fatal(err)
	}
	data := encode(t, img)
	if dir := os.Getenv("PLOT_OUT"); dir != "" {
		if err := f.WritePNG(filepath.Join(dir, "curves.png")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("png", func(t *testing.T) {
		dec, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if got := dec.Bounds(); got != image.Rect(0, 0, f.Width, f.Height) {
			t.Errorf("bounds %v, want %dx%d", got, f.Width, f.Height)
		}
	})
	t.Run("background", func(t *testing.T) {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		for _, p := range []image.Point{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}, {w / 2, h - 2}} {
			if got := pixel(img, p.X, p.Y); got != white {
				t.Errorf("pixel %v = %v, want white", p, got)
			}
		}
		// Inside the loss plot, far below both curves, off the grid lines.
		px, py := layouts[0].toPixel(2.5, 0.15)
		if got := pixel(img, int(px), int(py)); got != white {
			t.Errorf("plot area pixel (%v, %v) = %v, want white", px, py, got)
		}
	})
	t.Run("series colours", func(t *testing.T) {
		for pi, p := range f.Panels {
			for si, s := range p.Series {
				c := nrgba(s.Color)
				if n := countColor(img, layouts[pi].plot, c); n < 300 {
					t.Errorf("panel %d series %q: %d pixels of %v in plot area, want >= 300", pi, s.Name, n, c)
				}
				if n := countColor(img, layouts[pi].plot, nrgba(Palette[(si+3)%len(Palette)])); pi == 0 && n != 0 {
					t.Errorf("panel 0: %d pixels of unused palette colour %d", n, si+3)
				}
			}
		}
	})
	t.Run("points", func(t *testing.T) {
		// Where the curves are apart, each data point's pixel has its colour.
		l := &layouts[0]
		for i := 13; i < 20; i++ {
			for _, s := range f.Panels[0].Series {
				px, py := l.toPixel(float64(epochs[i]), s.Y[i])
				if got, want := pixel(img, int(px), int(py)), nrgba(s.Color); got != want {
					t.Errorf("%s at epoch %d: pixel (%d, %d) = %v, want %v", s.Name, epochs[i], int(px), int(py), got, want)
				}
			}
		}
	})
	t.Run("nan gap", func(t *testing.T) {
		l := &layouts[0]
		valColor := nrgba(f.Panels[0].Series[1].Color)
		// Where the lines to and from epoch 11 would run, there is no
		// validation colour; the points either side are drawn.
		for _, x := range []float64{10.5, 11, 11.5} {
			y := val[9] + (val[11]-val[9])*(x-10)/2
			px, py := l.toPixel(x, y)
			if n := countColor(img, around(px, py, 4), valColor); n != 0 {
				t.Errorf("epoch %v: %d validation pixels in the gap", x, n)
			}
		}
		for _, i := range []int{9, 11} {
			px, py := l.toPixel(float64(epochs[i]), val[i])
			if n := countColor(img, around(px, py, 2), valColor); n == 0 {
				t.Errorf("epoch %d: validation point missing", epochs[i])
			}
		}
		// Control: without the NaN the line runs through epoch 11.
		_, _, full, _ := demoRun()
		ctl, cl, err := TrainingCurves(epochs, train, full, metrics).render()
		if err != nil {
			t.Fatal(err)
		}
		px, py := cl[0].toPixel(11, full[10])
		if n := countColor(ctl, around(px, py, 2), valColor); n == 0 {
			t.Errorf("control: no validation pixels at epoch 11")
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		for i := 0; i < 3; i++ { // metrics is a map: new iteration order each time
			again, err := TrainingCurves(epochs, train, val, metrics).Render()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encode(t, again), data) {
				t.Fatal("same input rendered to different PNG bytes")
			}
		}
	})
}

func ptr(v float64) *float64 { return &v }

func TestRenderEdgeCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		fig  *Figure
	}{
		{"no epochs", TrainingCurves(nil, nil, nil, nil)},
		{"no epochs with metric names", TrainingCurves(nil, nil, nil, map[string][]float64{"f1": nil})},
		{"one epoch", TrainingCurves([]int{1}, []float64{0.7}, []float64{0.69}, map[string][]float64{"f1": {0.5}})},
		{"all NaN", TrainingCurves([]int{1, 2, 3}, []float64{nan, nan, nan}, []float64{nan, nan, nan},
			map[string][]float64{"f1": {nan, nan, nan}})},
		{"short series", TrainingCurves([]int{1, 2, 3, 4}, []float64{0.5, 0.4}, []float64{0.6, 0.5, 0.45, 0.44, 0.43},
			map[string][]float64{"f1": {0.5}})},
		{"huge values", TrainingCurves([]int{1, 2, 3}, []float64{1e30, 2e30, 1e29}, []float64{1e30, 1e30, 1e30}, nil)},
		{"max float", TrainingCurves([]int{1, 2}, []float64{math.MaxFloat64, -math.MaxFloat64}, []float64{1, 2}, nil)},
		{"negative values", TrainingCurves([]int{1, 2, 3}, []float64{-1, -2, -3.5}, []float64{-0.5, 0.5, -1e-3},
			map[string][]float64{"delta": {-0.2, 0.1, 0.3}})},
		{"inf values", TrainingCurves([]int{1, 2, 3, 4}, []float64{inf, 0.5, math.Inf(-1), 0.4}, nil, nil)},
		{"equal values", TrainingCurves([]int{1, 2, 3}, []float64{0.3, 0.3, 0.3}, []float64{0, 0, 0}, nil)},
		{"tiny range", &Figure{Panels: []Panel{{Series: []Series{{Y: []float64{1, 1 + 1e-15, 1 - 1e-15}}}}}}},
		{"epochs far from zero", TrainingCurves([]int{1000, 1001}, []float64{0.5, 0.4}, nil, nil)},
		{"empty figure", &Figure{Title: "nothing"}},
		{"empty panel", &Figure{Panels: []Panel{{}}}},
		{"nil X", &Figure{Panels: []Panel{{Series: []Series{{Name: "y", Y: []float64{3, 1, 4, 1, 5}}}}}}},
		{"fixed range, data outside", &Figure{Panels: []Panel{{YMin: ptr(0), YMax: ptr(1),
			Series: []Series{{Name: "y", Y: []float64{-1e30, 0.5, 1e30, 2, -3}}}}}}},
		{"only YMin, data below", &Figure{Panels: []Panel{{YMin: ptr(10), Series: []Series{{Y: []float64{1, 2}}}}}}},
		{"only YMax, data above", &Figure{Panels: []Panel{{YMax: ptr(-10), Series: []Series{{Y: []float64{1, 2}}}}}}},
		{"dashed, custom colour", &Figure{Panels: []Panel{{Series: []Series{{Name: "d", Dashed: true,
			Color: color.Gray{0x40}, Y: []float64{1, 2, 3, 2, 1}}}}}}},
		{"translucent colour", &Figure{Panels: []Panel{{Series: []Series{{Color: color.NRGBA{255, 0, 0, 80},
			Y: []float64{1, 2}}}}}}},
		{"grid of panels", &Figure{Columns: 2, Panels: make([]Panel, 5)}},
		{"minimum size", &Figure{Width: MinSize, Height: MinSize, Panels: []Panel{{Series: []Series{{Y: []float64{1, 2}}}}}}},
		{"long names", &Figure{Width: 200, Height: 200, Title: strings.Repeat("title ", 50), Panels: []Panel{{
			Title: strings.Repeat("panel ", 50), XLabel: strings.Repeat("x ", 100), YLabel: strings.Repeat("y ", 100),
			Series: []Series{{Name: strings.Repeat("long ", 40), Y: []float64{1, 2}}}}}}},
		{"many points", &Figure{Panels: []Panel{{Series: []Series{{Name: "noise", Y: noise(5000)}}}}}},
		{"non-ASCII", &Figure{Title: "Katzen – Überblick ✓", Panels: []Panel{{Series: []Series{{Name: "µ", Y: []float64{1}}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.fig.Render()
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			w, h, _ := tt.fig.size()
			if img.Rect != image.Rect(0, 0, w, h) {
				t.Errorf("bounds %v, want %dx%d", img.Rect, w, h)
			}
			if got := pixel(img, 0, 0); got != white {
				t.Errorf("corner %v, want white", got)
			}
			if dir := os.Getenv("PLOT_OUT"); dir != "" {
				name := strings.NewReplacer(" ", "_", ",", "").Replace(tt.name)
				if err := tt.fig.WritePNG(filepath.Join(dir, name+".png")); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func noise(n int) []float64 {
	y := make([]float64, n)
	s := uint32(1)
	for i := range y {
		s = s*1664525 + 1013904223
		y[i] = float64(s>>8)/(1<<24) + float64(i)/float64(n)
	}
	return y
}

func TestOneEpochMarker(t *testing.T) {
	f := TrainingCurves([]int{1}, []float64{0.7}, nil, nil)
	img, layouts, err := f.render()
	if err != nil {
		t.Fatal(err)
	}
	px, py := layouts[0].toPixel(1, 0.7)
	c := nrgba(f.Panels[0].Series[0].Color)
	if n := countColor(img, around(px, py, 4), c); n < 25 {
		t.Errorf("single point: %d marker pixels, want >= 25", n)
	}
}

func TestRenderErrors(t *testing.T) {
	one := []Panel{{Series: []Series{{Y: []float64{1}}}}}
	tests := []struct {
		name string
		fig  *Figure
		want string
	}{
		{"narrow", &Figure{Width: 99, Height: 300, Panels: one}, "size 99x300"},
		{"low", &Figure{Width: 300, Height: 50, Panels: one}, "size 300x50"},
		{"negative", &Figure{Width: -1, Panels: one}, "size -1x"},
		{"huge", &Figure{Width: MaxSize + 1, Height: 300, Panels: one}, "size 10001x300"},
		{"too many panels", &Figure{Width: 300, Height: 100, Panels: make([]Panel, 3)}, "too small"},
		{"too many columns", &Figure{Width: 300, Height: 300, Columns: 10, Panels: make([]Panel, 10)}, "too small"},
		{"negative columns", &Figure{Columns: -1, Panels: one}, "Columns"},
		{"length mismatch", &Figure{Panels: []Panel{{Title: "loss", Series: []Series{{Name: "train", X: []float64{1, 2}, Y: []float64{1}}}}}},
			`panel 0 ("loss") series 0 ("train"): len(X)=2 != len(Y)=1`},
		{"YMin above YMax", &Figure{Panels: []Panel{{YMin: ptr(1), YMax: ptr(0)}}}, "YMin 1 not below YMax 0"},
		{"YMin equals YMax", &Figure{Panels: []Panel{{YMin: ptr(1), YMax: ptr(1)}}}, "not below"},
		{"YMin NaN", &Figure{Panels: []Panel{{YMin: ptr(math.NaN())}}}, "YMin NaN is not finite"},
		{"YMax Inf", &Figure{Panels: []Panel{{YMax: ptr(math.Inf(1))}}}, "YMax +Inf is not finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.fig.Render()
			if err == nil {
				t.Fatalf("Render succeeded (%v), want error containing %q", img.Rect, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "plot: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix \"plot: \" and %q", err, tt.want)
			}
		})
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	epochs, train, val, metrics := demoRun()
	f := TrainingCurves(epochs, train, val, metrics)
	for i := 0; i < 2; i++ { // the second write replaces the first
		if err := f.WritePNG(path); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 900 || img.Bounds().Dy() != 700 {
		t.Errorf("size %v, want 900x700", img.Bounds())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("stat: %v, %v; want mode 0644", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only curves.png (temp file left behind?)", len(entries))
	}

	t.Run("bad directory", func(t *testing.T) {
		bad := filepath.Join(dir, "missing", "x.png")
		err := f.WritePNG(bad)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("error %v, want one naming %s", err, bad)
		}
	})
	t.Run("invalid figure", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.png")
		err := (&Figure{Width: 10}).WritePNG(bad)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("error %v, want one naming %s", err, bad)
		}
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Errorf("invalid figure left a file: %v", err)
		}
	})
}

// FuzzRender checks that no data values or fixed ranges make Render panic.
func FuzzRender(f *testing.F) {
	f.Add(0.5, 0.4, math.NaN(), 1e30, -1.0, 0.0, 1.0, true)
	f.Add(1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, false)
	f.Add(math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 0.0, math.Inf(-1), -1e-300, 1e-300, true)
	f.Fuzz(func(t *testing.T, a, b, c, d, x0 float64, ymin, ymax float64, fixed bool) {
		p := Panel{Series: []Series{
			{Name: "a", X: []float64{x0, x0 + 1, x0 + 2, x0 + 3}, Y: []float64{a, b, c, d}},
			{Name: "b", Y: []float64{d, c}, Dashed: true},
		}}
		if fixed {
			p.YMin, p.YMax = &ymin, &ymax
		}
		fig := &Figure{Width: 200, Height: 150, Panels: []Panel{p}}
		if _, err := fig.Render(); err != nil && !(fixed && fig.validate() != nil) {
			t.Fatalf("Render: %v", err)
		}
	})
}

func BenchmarkTrainingCurves(b *testing.B) {
	for _, n := range []int{20, 200, 2000} {
		b.Run(strconv.Itoa(n)+"epochs", func(b *testing.B) {
			var epochs []int
			var train, val []float64
			for i := 1; i <= n; i++ {
				epochs = append(epochs, i)
				train = append(train, math.Exp(-float64(i)/float64(n)))
				val = append(val, 0.1+math.Exp(-float64(i)/float64(n)))
			}
			f := TrainingCurves(epochs, train, val, map[string][]float64{"f1": train})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Render(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
