package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // for image.Decode of the samples
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// refResize is the float64 reference: output pixel (ox, oy) of a dw×dh
// result is the average of the source rectangle
// [ox*sw/dw, (ox+1)*sw/dw) × [oy*sh/dh, (oy+1)*sh/dh) of the sw×sh region
// src of an RGB frame (rows stride bytes apart), each source pixel weighted
// by the area of its overlap with that rectangle.
func refResize(rgb []uint8, stride int, src image.Rectangle, dw, dh int) []float64 {
	sw, sh := float64(src.Dx()), float64(src.Dy())
	out := make([]float64, 3*dw*dh)
	for oy := range dh {
		y0, y1 := float64(oy)*sh/float64(dh), float64(oy+1)*sh/float64(dh)
		for ox := range dw {
			x0, x1 := float64(ox)*sw/float64(dw), float64(ox+1)*sw/float64(dw)
			var sum [3]float64
			for sy := int(math.Floor(y0)); float64(sy) < y1; sy++ {
				wy := math.Min(y1, float64(sy+1)) - math.Max(y0, float64(sy))
				for sx := int(math.Floor(x0)); float64(sx) < x1; sx++ {
					wx := math.Min(x1, float64(sx+1)) - math.Max(x0, float64(sx))
					p := rgb[(src.Min.Y+sy)*stride+3*(src.Min.X+sx):]
					for c := range 3 {
						sum[c] += wx * wy * float64(p[c])
					}
				}
			}
			for c := range 3 {
				out[3*(oy*dw+ox)+c] = sum[c] / ((x1 - x0) * (y1 - y0))
			}
		}
	}
	return out
}

// checkOutput compares a W×H output with the reference for the region dst
// (ref is dst.Dx()×dst.Dy()) and checks that everything outside dst is
// black. The contract is 1 LSB from the rounded reference; exact also
// demands correct rounding (within float64 noise), which the integer
// implementation gives for all but huge coprime sizes.
func checkOutput(t *testing.T, out []uint8, W int, dst image.Rectangle, ref []float64, exact bool) {
	t.Helper()
	H := len(out) / (3 * W)
	bad := 0
	for y := range H {
		for x := range W {
			for c := range 3 {
				got := out[3*(y*W+x)+c]
				if !image.Pt(x, y).In(dst) {
					if got != 0 && bad < 5 {
						t.Errorf("pixel (%d,%d)[%d] = %d outside %v, want black", x, y, c, got, dst)
						bad++
					}
					continue
				}
				want := ref[3*((y-dst.Min.Y)*dst.Dx()+x-dst.Min.X)+c]
				d := math.Abs(float64(got) - want)
				if (d > 0.5+1e-9 && exact || math.Abs(float64(got)-math.Round(want)) > 1) && bad < 5 {
					t.Errorf("pixel (%d,%d)[%d] = %d, reference %.4f", x, y, c, got, want)
					bad++
				}
			}
		}
	}
}

// noise returns n random bytes.
func noise(rng *rand.Rand, n int) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = uint8(rng.IntN(256))
	}
	return b
}

// guarded returns a slice of n bytes inside a larger buffer whose guard
// bands are filled with 0xA5, and a function checking they are intact.
func guarded(t *testing.T, n int) ([]uint8, func()) {
	const g = 64
	buf := make([]uint8, n+2*g)
	for i := range buf {
		buf[i] = 0xA5
	}
	return buf[g : g+n : g+n], func() {
		t.Helper()
		for i := range g {
			if buf[i] != 0xA5 || buf[g+n+i] != 0xA5 {
				t.Fatalf("guard band overwritten")
			}
		}
	}
}

func TestRGBMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ sw, sh, dw, dh int }{
		{64, 64, 64, 64},     // identity
		{128, 128, 64, 64},   // ×2
		{640, 480, 64, 48},   // ×10
		{192, 96, 64, 32},    // ×3
		{100, 100, 64, 64},   // ×1.5625
		{97, 61, 13, 7},      // coprime
		{480, 480, 64, 64},   // ×7.5
		{1080, 1080, 64, 64}, // ×16.875
		{33, 17, 64, 64},     // enlarge
		{1, 1, 64, 64},       // one pixel
		{64, 64, 1, 1},       // everything into one
		{1, 1, 1, 1},
		{3, 5, 7, 2}, // enlarge one way, shrink the other
		{2000, 3, 64, 64},
		{3, 2000, 64, 64},
		{16384, 1, 5, 1}, // very wide
		{1, 9999, 1, 7},  // very tall
	}
	for _, c := range cases {
		for _, pad := range []int{0, 5} {
			t.Run(fmt.Sprintf("%dx%d_to_%dx%d_pad%d", c.sw, c.sh, c.dw, c.dh, pad), func(t *testing.T) {
				stride := 3*c.sw + pad
				pix, checkPix := guarded(t, (c.sh-1)*stride+3*c.sw)
				copy(pix, noise(rng, len(pix)))
				r := NewResizer(c.dw, c.dh, Options{Fit: Stretch})
				out, checkOut := guarded(t, r.OutLen())
				if err := r.RGB(out, pix, c.sw, c.sh, stride); err != nil {
					t.Fatal(err)
				}
				checkPix()
				checkOut()
				ref := refResize(pix, stride, image.Rect(0, 0, c.sw, c.sh), c.dw, c.dh)
				checkOutput(t, out, c.dw, image.Rect(0, 0, c.dw, c.dh), ref, true)
			})
		}
	}
}

// TestHugeCoprime covers the shifted (not exactly rounded) path, taken
// when 255 * (source/gcd)² would overflow 32 bits.
func TestHugeCoprime(t *testing.T) {
	if testing.Short() {
		t.Skip("large frame")
	}
	const w, h = 4107, 4105
	r := NewResizer(64, 64, Options{Fit: Stretch})
	rng := rand.New(rand.NewPCG(3, 4))
	gray := noise(rng, w*h)
	out := make([]uint8, r.OutLen())
	if err := r.Gray(out, gray, w, h, w); err != nil {
		t.Fatal(err)
	}
	if r.shift == 0 {
		t.Fatalf("shift = 0, want the shifted path")
	}
	rgb := make([]uint8, 3*w*h)
	for i, v := range gray {
		rgb[3*i], rgb[3*i+1], rgb[3*i+2] = v, v, v
	}
	checkOutput(t, out, 64, image.Rect(0, 0, 64, 64), refResize(rgb, 3*w, image.Rect(0, 0, w, h), 64, 64), false)
}

func TestAreaAxis(t *testing.T) {
	for n := 1; n < 70; n++ {
		for m := 1; m < 70; m++ {
			a := areaAxis(n, m)
			// Each source pixel's total weight is m/g, each output's n/g.
			g := gcd(n, m)
			per := make([]uint32, n)
			for j := range m {
				var sum uint32
				for k, w := range a.w[a.off[j]:a.off[j+1]] {
					if w == 0 {
						t.Fatalf("areaAxis(%d, %d): zero weight", n, m)
					}
					sum += w
					per[int(a.first[j])+k] += w
				}
				if sum != a.den || a.den != uint32(n/g) {
					t.Fatalf("areaAxis(%d, %d): output %d weights sum to %d, want %d", n, m, j, sum, n/g)
				}
			}
			for i, s := range per {
				if s != uint32(m/g) {
					t.Fatalf("areaAxis(%d, %d): source %d total weight %d, want %d", n, m, i, s, m/g)
				}
			}
		}
	}
}

func TestGeometry(t *testing.T) {
	cases := []struct {
		name           string
		sw, sh, dw, dh int
		opt            Options
		src, dst       image.Rectangle // expected region read and region written
	}{
		{"crop 4:3", 640, 480, 64, 64, Options{}, image.Rect(80, 0, 560, 480), image.Rect(0, 0, 64, 64)},
		{"crop portrait", 480, 640, 64, 64, Options{}, image.Rect(0, 80, 480, 560), image.Rect(0, 0, 64, 64)},
		{"crop 16:9", 1920, 1080, 64, 64, Options{}, image.Rect(420, 0, 1500, 1080), image.Rect(0, 0, 64, 64)},
		{"crop to wide", 100, 100, 64, 32, Options{}, image.Rect(0, 25, 100, 75), image.Rect(0, 0, 64, 32)},
		{"crop same aspect", 128, 64, 64, 32, Options{}, image.Rect(0, 0, 128, 64), image.Rect(0, 0, 64, 32)},
		{"crop odd", 101, 50, 64, 64, Options{}, image.Rect(25, 0, 75, 50), image.Rect(0, 0, 64, 64)},
		{"letterbox 4:3", 640, 480, 64, 64, Options{Fit: Letterbox}, image.Rect(0, 0, 640, 480), image.Rect(0, 8, 64, 56)},
		{"letterbox portrait", 480, 640, 64, 64, Options{Fit: Letterbox}, image.Rect(0, 0, 480, 640), image.Rect(8, 0, 56, 64)},
		{"letterbox 16:9", 1920, 1080, 64, 64, Options{Fit: Letterbox}, image.Rect(0, 0, 1920, 1080), image.Rect(0, 14, 64, 50)},
		{"letterbox thin", 1000, 1, 64, 64, Options{Fit: Letterbox}, image.Rect(0, 0, 1000, 1), image.Rect(0, 31, 64, 32)},
		{"stretch", 640, 480, 64, 64, Options{Fit: Stretch}, image.Rect(0, 0, 640, 480), image.Rect(0, 0, 64, 64)},
		{"roi crop", 640, 480, 64, 64, Options{ROI: image.Rect(100, 100, 300, 200)}, image.Rect(150, 100, 250, 200), image.Rect(0, 0, 64, 64)},
		{"roi clipped", 640, 480, 64, 64, Options{ROI: image.Rect(-100, 400, 100, 900), Fit: Stretch}, image.Rect(0, 400, 100, 480), image.Rect(0, 0, 64, 64)},
		{"roi clipped letterbox", 640, 480, 64, 64, Options{ROI: image.Rect(600, -50, 700, 80), Fit: Letterbox}, image.Rect(600, 0, 640, 80), image.Rect(16, 0, 48, 64)},
		{"roi whole", 64, 48, 32, 32, Options{ROI: image.Rect(-1000, -1000, 1000, 1000), Fit: Stretch}, image.Rect(0, 0, 64, 48), image.Rect(0, 0, 32, 32)},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pix := noise(rng, 3*c.sw*c.sh)
			r := NewResizer(c.dw, c.dh, c.opt)
			out := make([]uint8, r.OutLen())
			for i := range out {
				out[i] = 0xff // bars must be written, not left alone
			}
			if err := r.RGB(out, pix, c.sw, c.sh, 3*c.sw); err != nil {
				t.Fatal(err)
			}
			if r.src != c.src || r.dst != c.dst {
				t.Fatalf("plan reads %v into %v, want %v into %v", r.src, r.dst, c.src, c.dst)
			}
			checkOutput(t, out, c.dw, c.dst, refResize(pix, 3*c.sw, c.src, c.dst.Dx(), c.dst.Dy()), true)
		})
	}
}

// TestCenterCropUsesCentre checks the crop with a frame whose outside
// columns are white and centre 480×480 black: the output must be black.
func TestCenterCropUsesCentre(t *testing.T) {
	const w, h = 640, 480
	pix := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			if x < 80 || x >= 560 {
				copy(pix[3*(y*w+x):], []uint8{255, 255, 255})
			}
		}
	}
	for _, fit := range []Fit{CenterCrop, Letterbox, Stretch} {
		r := NewResizer(64, 64, Options{Fit: fit})
		out := make([]uint8, r.OutLen())
		if err := r.RGB(out, pix, w, h, 3*w); err != nil {
			t.Fatal(err)
		}
		white := bytes.Count(out, []uint8{255})
		switch fit {
		case CenterCrop:
			if white != 0 {
				t.Errorf("crop: %d white bytes, want none", white)
			}
		case Letterbox:
			// 48 rows of picture, the outer 8 columns of 64 white, and 8-row bars.
			if want := 48 * 16 * 3; white != want {
				t.Errorf("letterbox: %d white bytes, want %d", white, want)
			}
			if !allZero(out[:3*64*8]) || !allZero(out[3*64*56:]) {
				t.Errorf("letterbox: bars are not black")
			}
		case Stretch:
			if want := 64 * 16 * 3; white != want {
				t.Errorf("stretch: %d white bytes, want %d", white, want)
			}
		}
	}
}

func allZero(b []uint8) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestROIOutside(t *testing.T) {
	roi := image.Rect(700, 10, 800, 100)
	r := NewResizer(64, 64, Options{ROI: roi})
	out := make([]uint8, r.OutLen())
	err := r.RGB(out, make([]uint8, 640*480*3), 640, 480, 640*3)
	if err == nil || !strings.Contains(err.Error(), roi.String()) || !strings.Contains(err.Error(), "640x480") {
		t.Fatalf("RGB with ROI %v outside 640x480: err = %v, want one naming the ROI and the frame", roi, err)
	}
	// A frame that does contain it still works afterwards.
	if err := r.RGB(out, make([]uint8, 1024*768*3), 1024, 768, 1024*3); err != nil {
		t.Fatal(err)
	}
	if r.src != image.Rect(705, 10, 795, 100) {
		t.Fatalf("src = %v", r.src)
	}
}

func TestReplan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	r := NewResizer(32, 24, Options{})
	out := make([]uint8, r.OutLen())
	for _, sz := range [][2]int{{640, 480}, {100, 300}, {640, 480}, {33, 33}, {1920, 1080}, {7, 3}} {
		w, h := sz[0], sz[1]
		pix := noise(rng, 3*w*h)
		if err := r.RGB(out, pix, w, h, 3*w); err != nil {
			t.Fatal(err)
		}
		fresh := NewResizer(32, 24, Options{})
		want := make([]uint8, fresh.OutLen())
		if err := fresh.RGB(want, pix, w, h, 3*w); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("%dx%d after other sizes differs from a fresh Resizer", w, h)
		}
	}
}

func TestFrameErrors(t *testing.T) {
	r := NewResizer(64, 64, Options{})
	out := make([]uint8, r.OutLen())
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"rgb short", func() error { return r.RGB(out, make([]uint8, 100), 640, 480, 1920) }, "preprocess: RGB frame of 100 bytes too short for 640x480 (stride 1920)"},
		{"rgb stride", func() error { return r.RGB(out, make([]uint8, 1e6), 640, 480, 1000) }, "preprocess: RGB stride 1000 shorter than a row of 1920 bytes"},
		{"rgb huge stride", func() error { return r.RGB(out, make([]uint8, 1e6), 640, 480, math.MaxInt) }, "too short"},
		{"rgb zero", func() error { return r.RGB(out, nil, 0, 480, 0) }, "preprocess: RGB frame size 0x480 out of range"},
		{"rgb negative", func() error { return r.RGB(out, nil, -1, -1, 3) }, "out of range"},
		{"yuyv short", func() error { return r.YUYV(out, make([]uint8, 1000), 640, 480, 1280) }, "preprocess: YUYV frame of 1000 bytes too short for 640x480 (stride 1280)"},
		{"yuyv stride", func() error { return r.YUYV(out, make([]uint8, 1e6), 640, 480, 640) }, "preprocess: YUYV stride 640 shorter than a row of 1280 bytes"},
		{"yuyv odd", func() error { return r.YUYV(out, make([]uint8, 6*2), 3, 2, 6) }, "YUYV stride 6 shorter than a row of 8 bytes"},
		{"i420 short", func() error { return r.I420(out, make([]uint8, 640*480), 640, 480) }, "preprocess: I420 frame of 307200 bytes too short for 640x480 (want 460800)"},
		{"i420 odd", func() error { return r.I420(out, make([]uint8, 15+2*6-1), 5, 3) }, "I420 frame of 26 bytes too short for 5x3 (want 27)"},
		{"i420 size", func() error { return r.I420(out, nil, 20000, 2) }, "I420 frame size 20000x2 out of range"},
		{"nv12 short", func() error { return r.NV12(out, make([]uint8, 460799), 640, 480) }, "preprocess: NV12 frame of 460799 bytes too short for 640x480 (want 460800)"},
		{"gray short", func() error { return r.Gray(out, make([]uint8, 640*479), 640, 480, 640) }, "preprocess: Gray frame of 306560 bytes too short for 640x480 (stride 640)"},
		{"empty image", func() error { return r.Image(out, image.NewRGBA(image.Rect(5, 5, 5, 9))) }, "preprocess: image is empty (0x4)"},
		{"empty ycbcr", func() error { return r.Image(out, &image.YCbCr{}) }, "image is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestOutLenPanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "preprocess: ") {
			t.Fatalf("panic = %v, want preprocess: …", p)
		}
	}()
	NewResizer(4, 4, Options{}).RGB(make([]uint8, 47), make([]uint8, 48), 4, 4, 12)
}

// toRGB converts an image pixel by pixel with color.RGBAModel (dropping
// alpha: RGBA is premultiplied, so that is compositing onto black).
func toRGB(img image.Image) (pix []uint8, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	pix = make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			c := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
			copy(pix[3*(y*w+x):], []uint8{c.R, c.G, c.B})
		}
	}
	return pix, w, h
}

// picture is a synthetic photo: gradients, a disc and some noise, with
// alpha varying over the frame.
func picture(w, h int, rng *rand.Rand) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dx, dy := float64(x-w/2), float64(y-h/3)
			c := color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(rng.IntN(64)), uint8(255 - 200*y/h)}
			if dx*dx+dy*dy < float64(w*w)/16 {
				c.B += 180
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// wrapped hides an image's concrete type, forcing the img.At fallback.
type wrapped struct{ image.Image }

func TestImageTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const w, h = 97, 75
	nrgba := picture(w, h, rng)
	opaque := image.NewRGBA(nrgba.Rect)
	for i := range opaque.Pix {
		opaque.Pix[i] = nrgba.Pix[i]
		if i%4 == 3 {
			opaque.Pix[i] = 255
		}
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, opaque, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	y420, err := jpeg.Decode(&jpg)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := y420.(*image.YCbCr); !ok || m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		t.Fatalf("image/jpeg gave %T, want 4:2:0 *image.YCbCr", y420)
	}
	jpg.Reset()
	gray := image.NewGray(nrgba.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = nrgba.Pix[4*i+1]
	}
	if err := jpeg.Encode(&jpg, gray, nil); err != nil {
		t.Fatal(err)
	}
	grayJPEG, err := jpeg.Decode(&jpg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := grayJPEG.(*image.Gray); !ok {
		t.Fatalf("grey JPEG decoded as %T", grayJPEG)
	}

	imgs := map[string]image.Image{
		"jpeg 4:2:0": y420,
		"jpeg gray":  grayJPEG,
		"nrgba":      nrgba,
		"rgba":       toPremul(nrgba),
		"cmyk":       convert(nrgba, image.NewCMYK(nrgba.Rect)),
		"gray16":     convert(nrgba, image.NewGray16(nrgba.Rect)),
		"rgba64":     convert(nrgba, image.NewRGBA64(nrgba.Rect)),
		"nrgba64":    convert(nrgba, image.NewNRGBA64(nrgba.Rect)),
		"paletted": convert(nrgba, image.NewPaletted(nrgba.Rect, color.Palette{
			color.Black, color.White, color.NRGBA{200, 10, 10, 128}, color.RGBA{0, 100, 0, 100},
			color.Gray{77}, color.Gray{5}, color.YCbCr{100, 50, 200},
		})),
		"alpha16 (fallback)": convert(nrgba, image.NewAlpha16(nrgba.Rect)),
		"nycbcra (fallback)": nycbcra(nrgba.Rect, rng),
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		imgs["ycbcr "+ratio.String()] = ycbcrNoise(image.Rect(0, 0, w, h), ratio, rng)
		imgs["ycbcr negative min "+ratio.String()] = ycbcrNoise(image.Rect(-7, -3, w-7, h-3), ratio, rng)
	}
	// Paletted indices beyond the palette are black in the fast path (At
	// would panic), so keep them in range for the comparison.
	p := imgs["paletted"].(*image.Paletted)
	p.Palette[5] = nil
	for i := range p.Pix {
		if p.Pix[i] == 5 {
			p.Pix[i] = 4
		}
	}
	for name, img := range imgs {
		subs := map[string]image.Image{"": img}
		if s, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		}); ok {
			b := img.Bounds()
			subs[" sub odd"] = s.SubImage(image.Rect(b.Min.X+3, b.Min.Y+5, b.Max.X-2, b.Max.Y-1))
			subs[" sub even"] = s.SubImage(image.Rect(b.Min.X+10, b.Min.Y+4, b.Max.X, b.Max.Y-6))
		}
		for sub, img := range subs {
			t.Run(name+sub, func(t *testing.T) {
				pix, w, h := toRGB(img)
				for _, opt := range []Options{{}, {Fit: Letterbox}, {Fit: Stretch, ROI: image.Rect(5, 9, 60, 50)}} {
					r := NewResizer(24, 16, opt)
					got := make([]uint8, r.OutLen())
					if err := r.Image(got, img); err != nil {
						t.Fatal(err)
					}
					checkOutput(t, got, r.W, r.dst, refResize(pix, 3*w, r.src, r.dst.Dx(), r.dst.Dy()), true)
					// Exactly the same as the RGB path and the img.At fallback.
					want := make([]uint8, r.OutLen())
					if err := NewResizer(24, 16, opt).RGB(want, pix, w, h, 3*w); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%+v: Image differs from RGB of the converted pixels", opt)
					}
					if err := NewResizer(24, 16, opt).Image(want, wrapped{img}); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%+v: Image differs from the img.At fallback", opt)
					}
				}
			})
		}
	}
}

func TestPalettedOutOfRange(t *testing.T) {
	m := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.White, nil})
	for i := range m.Pix {
		m.Pix[i] = uint8(i % 3) // white, nil, beyond the palette
	}
	r := NewResizer(4, 4, Options{})
	out := make([]uint8, r.OutLen())
	if err := r.Image(out, m); err != nil {
		t.Fatal(err)
	}
	for i := range m.Pix {
		if want := uint8(255 * (1 - min(1, i%3))); out[3*i] != want {
			t.Fatalf("pixel %d (index %d) = %d, want %d", i, m.Pix[i], out[3*i], want)
		}
	}
}

func toPremul(m *image.NRGBA) *image.RGBA {
	return convert(m, image.NewRGBA(m.Rect)).(*image.RGBA)
}

func convert(src image.Image, dst interface {
	image.Image
	Set(x, y int, c color.Color)
}) image.Image {
	b := src.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(x, y, src.At(x, y))
		}
	}
	return dst
}

func nycbcra(r image.Rectangle, rng *rand.Rand) *image.NYCbCrA {
	m := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
	for _, p := range [][]uint8{m.Y, m.Cb, m.Cr, m.A} {
		copy(p, noise(rng, len(p)))
	}
	return m
}

func ycbcrNoise(r image.Rectangle, ratio image.YCbCrSubsampleRatio, rng *rand.Rand) *image.YCbCr {
	m := image.NewYCbCr(r, ratio)
	for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
		copy(p, noise(rng, len(p)))
	}
	return m
}

func TestSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	if len(files) == 0 {
		t.Skipf("no sample photos in %s", dir)
	}
	r := NewResizer(64, 64, Options{})
	out := make([]uint8, r.OutLen())
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			img, _, err := image.Decode(fh)
			if err != nil {
				t.Fatalf("decode %s: %v", f, err)
			}
			if err := r.Image(out, img); err != nil {
				t.Fatalf("%s (%T %v): %v", f, img, img.Bounds(), err)
			}
			pix, w, _ := toRGB(img)
			checkOutput(t, out, 64, r.dst, refResize(pix, 3*w, r.src, 64, 64), true)
			if allZero(out) {
				t.Errorf("%s resized to black", f)
			}
		})
	}
}

// Plain conversions of raw camera frames to RGB, written per pixel from
// the format's layout.

// plainYUV is the limited-range BT.601 conversion in 16.16 fixed point.
func plainYUV(y, u, v uint8) [3]uint8 {
	c := func(x int32) uint8 { return uint8(min(255, max(0, x>>16))) }
	yy := 76309*(int32(y)-16) + 32768
	return [3]uint8{
		c(yy + 104597*(int32(v)-128)),
		c(yy - 25675*(int32(u)-128) - 53279*(int32(v)-128)),
		c(yy + 132201*(int32(u)-128)),
	}
}

// floatYUV is the same conversion in float64, before rounding.
func floatYUV(y, u, v uint8) [3]float64 {
	const kr, kb, kg = 0.299, 0.114, 1 - 0.299 - 0.114
	yf := (float64(y) - 16) * 255 / 219
	uf := (float64(u) - 128) * 255 / 224
	vf := (float64(v) - 128) * 255 / 224
	cl := func(x float64) float64 { return math.Min(255, math.Max(0, x)) }
	return [3]float64{
		cl(yf + 2*(1-kr)*vf),
		cl(yf - 2*(1-kb)*kb/kg*uf - 2*(1-kr)*kr/kg*vf),
		cl(yf + 2*(1-kb)*uf),
	}
}

func TestYUVFixedPoint(t *testing.T) {
	var worst float64
	inexact := 0
	for y := range 256 {
		for u := range 256 {
			for v := range 256 {
				p := plainYUV(uint8(y), uint8(u), uint8(v))
				var q [3]uint8
				q[0], q[1], q[2] = yuvToRGB(uint8(y), uint8(u), uint8(v))
				if p != q {
					t.Fatalf("yuvToRGB(%d, %d, %d) = %v, plain %v", y, u, v, q, p)
				}
				f := floatYUV(uint8(y), uint8(u), uint8(v))
				for c := range 3 {
					d := math.Abs(float64(p[c]) - f[c])
					worst = max(worst, d)
					if d > 0.5 {
						inexact++
					}
					if d >= 1 {
						t.Fatalf("yuv(%d, %d, %d)[%d] = %d, float %.4f", y, u, v, c, p[c], f[c])
					}
				}
			}
		}
	}
	t.Logf("worst error %.4f LSB; %d of %d values not rounded to nearest", worst, inexact, 3<<24)
	// Reference points: black, white and the 75% colour bars.
	for _, c := range []struct {
		y, u, v uint8
		want    [3]uint8
	}{
		{16, 128, 128, [3]uint8{0, 0, 0}},
		{235, 128, 128, [3]uint8{255, 255, 255}},
		{0, 128, 128, [3]uint8{0, 0, 0}},
		{255, 128, 128, [3]uint8{255, 255, 255}},
		{82, 90, 240, [3]uint8{255, 0, 0}},  // 100% red
		{145, 54, 34, [3]uint8{0, 255, 0}},  // 100% green
		{41, 240, 110, [3]uint8{0, 0, 255}}, // 100% blue
	} {
		var got [3]uint8
		got[0], got[1], got[2] = yuvToRGB(c.y, c.u, c.v)
		for i := range 3 {
			if d := int(got[i]) - int(c.want[i]); d < -2 || d > 2 {
				t.Errorf("yuvToRGB(%d, %d, %d) = %v, want about %v", c.y, c.u, c.v, got, c.want)
				break
			}
		}
	}
}

func plainYUYV(frame []uint8, w, h, stride int) []uint8 {
	rgb := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			pair := frame[y*stride+4*(x/2):]
			p := plainYUV(pair[2*(x%2)], pair[1], pair[3])
			copy(rgb[3*(y*w+x):], p[:])
		}
	}
	return rgb
}

func plainI420(frame []uint8, w, h int) []uint8 {
	cw, ch := (w+1)/2, (h+1)/2
	rgb := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			c := (y/2)*cw + x/2
			p := plainYUV(frame[y*w+x], frame[w*h+c], frame[w*h+cw*ch+c])
			copy(rgb[3*(y*w+x):], p[:])
		}
	}
	return rgb
}

func plainNV12(frame []uint8, w, h int) []uint8 {
	cw := (w + 1) / 2
	rgb := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			c := w*h + (y/2)*2*cw + 2*(x/2)
			p := plainYUV(frame[y*w+x], frame[c], frame[c+1])
			copy(rgb[3*(y*w+x):], p[:])
		}
	}
	return rgb
}

func plainGray(frame []uint8, w, h, stride int) []uint8 {
	rgb := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			v := frame[y*stride+x]
			copy(rgb[3*(y*w+x):], []uint8{v, v, v})
		}
	}
	return rgb
}

// rawFormat describes a raw entry point for table-driven tests.
type rawFormat struct {
	name  string
	size  func(w, h, stride int) int // frame bytes
	row   func(w int) int            // minimal stride; 0 if the format has none
	call  func(r *Resizer, out, frame []uint8, w, h, stride int) error
	plain func(frame []uint8, w, h, stride int) []uint8
}

var rawFormats = []rawFormat{
	{"YUYV", func(w, h, s int) int { return (h-1)*s + 4*((w+1)/2) }, func(w int) int { return 4 * ((w + 1) / 2) },
		(*Resizer).YUYV, plainYUYV},
	{"I420", func(w, h, _ int) int { return w*h + 2*((w+1)/2)*((h+1)/2) }, nil,
		func(r *Resizer, out, f []uint8, w, h, _ int) error { return r.I420(out, f, w, h) },
		func(f []uint8, w, h, _ int) []uint8 { return plainI420(f, w, h) }},
	{"NV12", func(w, h, _ int) int { return w*h + 2*((w+1)/2)*((h+1)/2) }, nil,
		func(r *Resizer, out, f []uint8, w, h, _ int) error { return r.NV12(out, f, w, h) },
		func(f []uint8, w, h, _ int) []uint8 { return plainNV12(f, w, h) }},
	{"Gray", func(w, h, s int) int { return (h-1)*s + w }, func(w int) int { return w },
		(*Resizer).Gray, plainGray},
	{"RGB", func(w, h, s int) int { return (h-1)*s + 3*w }, func(w int) int { return 3 * w },
		(*Resizer).RGB, func(f []uint8, w, h, s int) []uint8 {
			rgb := make([]uint8, 3*w*h)
			for y := range h {
				copy(rgb[3*y*w:3*(y+1)*w], f[y*s:])
			}
			return rgb
		}},
}

func TestRawFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sizes := [][2]int{{640, 480}, {64, 64}, {1, 1}, {2, 2}, {3, 5}, {7, 3}, {97, 61}, {33, 200}}
	opts := map[string]Options{
		"crop":      {},
		"letterbox": {Fit: Letterbox},
		"stretch":   {Fit: Stretch},
		"odd roi":   {ROI: image.Rect(1, 3, 30, 40)},
	}
	for _, f := range rawFormats {
		for _, sz := range sizes {
			for oname, opt := range opts {
				w, h := sz[0], sz[1]
				t.Run(fmt.Sprintf("%s/%dx%d/%s", f.name, w, h, oname), func(t *testing.T) {
					stride := 0
					if f.row != nil {
						stride = f.row(w) + rng.IntN(3)*2
					}
					frame, checkFrame := guarded(t, f.size(w, h, stride))
					copy(frame, noise(rng, len(frame)))
					r := NewResizer(20, 12, opt)
					out, checkOut := guarded(t, r.OutLen())
					err := f.call(r, out, frame, w, h, stride)
					if opt.ROI.Intersect(image.Rect(0, 0, w, h)).Empty() && !opt.ROI.Empty() {
						if err == nil || !strings.Contains(err.Error(), "region of interest") {
							t.Fatalf("ROI outside the frame: err = %v", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					checkFrame()
					checkOut()
					rgb := f.plain(frame, w, h, stride)
					checkOutput(t, out, r.W, r.dst, refResize(rgb, 3*w, r.src, r.dst.Dx(), r.dst.Dy()), true)
				})
			}
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	const w, h = 640, 480
	rng := rand.New(rand.NewPCG(13, 14))
	r := NewResizer(64, 64, Options{})
	out := make([]uint8, r.OutLen())
	frame := image.Rect(0, 0, w, h)
	images := map[string]image.Image{
		"YCbCr 4:2:0": ycbcrNoise(frame, image.YCbCrSubsampleRatio420, rng),
		"YCbCr 4:4:4": ycbcrNoise(frame, image.YCbCrSubsampleRatio444, rng),
		"RGBA":        image.NewRGBA(frame),
		"NRGBA":       image.NewNRGBA(frame),
		"Gray":        image.NewGray(frame),
		"CMYK":        image.NewCMYK(frame),
		"Paletted":    image.NewPaletted(frame, color.Palette{color.White, color.Black}),
		"Gray16":      image.NewGray16(frame),
		"RGBA64":      image.NewRGBA64(frame),
		"NRGBA64":     image.NewNRGBA64(frame),
	}
	calls := map[string]func() error{}
	for name, img := range images {
		calls["Image "+name] = func() error { return r.Image(out, img) }
	}
	for _, f := range rawFormats {
		stride := 0
		if f.row != nil {
			stride = f.row(w)
		}
		frame := noise(rng, f.size(w, h, stride))
		calls[f.name] = func() error { return f.call(r, out, frame, w, h, stride) }
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			r.planned = false // the first call of a size may allocate
			if err := call(); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(10, func() {
				if err := call(); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("%v allocations a call, want 0", n)
			}
		})
	}
}

// FuzzRawFrames feeds arbitrary bytes and geometry to every raw entry
// point: none may panic, and each either returns an error or writes every
// output byte (the output is the same whatever it held before).
func FuzzRawFrames(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint8(0), 4, 4, 8, uint8(3), uint8(2), uint8(0), int16(0), int16(0), int16(0), int16(0))
	f.Add(make([]byte, 640*3), uint8(4), 640, 1, 1920, uint8(64), uint8(64), uint8(1), int16(10), int16(0), int16(100), int16(1))
	f.Add(make([]byte, 27), uint8(1), 5, 3, 0, uint8(7), uint8(9), uint8(2), int16(-3), int16(-3), int16(2), int16(2))
	f.Add(make([]byte, 100), uint8(2), 9, 7, 0, uint8(1), uint8(1), uint8(0), int16(0), int16(0), int16(0), int16(0))
	f.Add(make([]byte, 100), uint8(3), 10, 10, 10, uint8(15), uint8(15), uint8(1), int16(50), int16(50), int16(60), int16(60))
	f.Add([]byte{1, 2, 3}, uint8(0), math.MaxInt, -5, math.MinInt, uint8(0), uint8(0), uint8(0), int16(0), int16(0), int16(0), int16(0))
	f.Fuzz(func(t *testing.T, data []byte, format uint8, w, h, stride int, ow, oh, fit uint8, rx0, ry0, rx1, ry1 int16) {
		rf := rawFormats[int(format)%len(rawFormats)]
		opt := Options{Fit: Fit(fit % 4), ROI: image.Rect(int(rx0), int(ry0), int(rx1), int(ry1))}
		r := NewResizer(int(ow%16)+1, int(oh%16)+1, opt)
		a, b := make([]uint8, r.OutLen()), make([]uint8, r.OutLen())
		for i := range b {
			b[i] = 0xff
		}
		errA := rf.call(r, a, data, w, h, stride)
		errB := rf.call(r, b, data, w, h, stride)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%s: errors differ between calls: %v, %v", rf.name, errA, errB)
		}
		if errA != nil {
			if !strings.HasPrefix(errA.Error(), "preprocess: ") {
				t.Fatalf("error %q does not start with preprocess:", errA)
			}
			return
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s %dx%d stride %d: output not fully written", rf.name, w, h, stride)
		}
	})
}

// BenchmarkResize runs every path from camera and photo sizes to the
// model's 64×64 (centre crop). MB/s counts source frame bytes; ns/px and
// cpu-ns/px are ns/op and cpu-ns/op per pixel of the source frame (the
// crop reads 3/4 of a 4:3 frame's pixels).
func BenchmarkResize(b *testing.B) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, sz := range [][2]int{{160, 120}, {640, 480}, {1920, 1080}} {
		w, h := sz[0], sz[1]
		frame := image.Rect(0, 0, w, h)
		type path struct {
			name  string
			bytes int
			call  func(r *Resizer, out []uint8) error
		}
		var paths []path
		for _, f := range rawFormats {
			stride := 0
			if f.row != nil {
				stride = f.row(w)
			}
			data := noise(rng, f.size(w, h, stride))
			paths = append(paths, path{f.name, len(data), func(r *Resizer, out []uint8) error {
				return f.call(r, out, data, w, h, stride)
			}})
		}
		for _, im := range []struct {
			name  string
			img   image.Image
			bytes int
		}{
			{"Image_YCbCr420", ycbcrNoise(frame, image.YCbCrSubsampleRatio420, rng), w * h * 3 / 2},
			{"Image_YCbCr444", ycbcrNoise(frame, image.YCbCrSubsampleRatio444, rng), w * h * 3},
			{"Image_RGBA", &image.RGBA{Pix: noise(rng, 4*w*h), Stride: 4 * w, Rect: frame}, 4 * w * h},
			{"Image_NRGBA", &image.NRGBA{Pix: noise(rng, 4*w*h), Stride: 4 * w, Rect: frame}, 4 * w * h},
			{"Image_Gray", &image.Gray{Pix: noise(rng, w*h), Stride: w, Rect: frame}, w * h},
		} {
			paths = append(paths, path{im.name, im.bytes, func(r *Resizer, out []uint8) error { return r.Image(out, im.img) }})
		}
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/%dx%d", p.name, w, h), func(b *testing.B) {
				r := NewResizer(64, 64, Options{})
				out := make([]uint8, r.OutLen())
				if err := p.call(r, out); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(p.bytes))
				b.ReportAllocs()
				defer reportCPU(b, w*h)()
				for b.Loop() {
					p.call(r, out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w*h), "ns/px")
			})
		}
	}
}

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per iteration as cpu-ns/op, which, unlike ns/op, other
// processes on a shared machine do not inflate (they take the CPU away,
// not add to this process's time). With a pixel count it also reports
// cpu-ns/px, per pixel of the source frame.
func reportCPU(b *testing.B, pixels ...int) func() {
	cpu := func() int64 {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return 0
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	c0 := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpu()-c0)/float64(b.N), "cpu-ns/op")
			for _, n := range pixels {
				b.ReportMetric(float64(cpu()-c0)/float64(b.N)/float64(n), "cpu-ns/px")
			}
		}
	}
}
