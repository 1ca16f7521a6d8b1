package train

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"catd/model"
)

// scene is a w×h photo-like RGB image in [0,1]: smooth gradients, a disc
// and mild noise, and the same as 8-bit pixels.
func scene(w, h int, seed uint64) ([]float32, []uint8) {
	r := rand.New(rand.NewPCG(seed, 7))
	u := make([]float32, w*h*3)
	px := make([]uint8, len(u))
	for y := range h {
		for x := range w {
			d := math.Hypot(float64(x-w/2), float64(y-h/3))
			for c := range 3 {
				v := 0.2 + 0.5*float64(x)/float64(w)*float64(c+1)/3 + 0.2*float64(y)/float64(h)
				if d < float64(w)/5 {
					v = 0.9 - 0.3*float64(c)
				}
				v += 0.02 * r.NormFloat64()
				px[(y*w+x)*3+c] = uint8(min(max(math.Round(255*v), 0), 255))
				u[(y*w+x)*3+c] = float32(px[(y*w+x)*3+c]) / 255
			}
		}
	}
	return u, px
}

// TestJPEGLossMatchesImageJPEG: what jpegLoss does to an image is what
// image/jpeg's encoder and decoder do at the same quality, within about a
// level on average, at every quality a camera uses; and it loses about as
// much.
func TestJPEGLossMatchesImageJPEG(t *testing.T) {
	const w, h = 64, 48
	for _, q := range []int{20, 30, 50, 75, 95} {
		u, px := scene(w, h, uint64(q))
		src := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range w * h {
			copy(src.Pix[i*4:], px[i*3:i*3+3])
			src.Pix[i*4+3] = 255
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		dec, err := jpeg.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		jpegLoss(u, w, h, q)
		var diff, lossMine, lossReal float64
		for y := range h {
			for x := range w {
				cr, cg, cb, _ := dec.At(x, y).RGBA()
				real := [3]float64{float64(cr >> 8), float64(cg >> 8), float64(cb >> 8)}
				for c := range 3 {
					i := (y*w+x)*3 + c
					mine := 255 * float64(u[i])
					diff += math.Abs(mine - real[c])
					lossMine += math.Abs(mine - float64(px[i]))
					lossReal += math.Abs(real[c] - float64(px[i]))
				}
			}
		}
		n := float64(w * h * 3)
		diff, lossMine, lossReal = diff/n, lossMine/n, lossReal/n
		t.Logf("quality %d: mean difference from image/jpeg %.2f levels; loss %.2f (image/jpeg %.2f)", q, diff, lossMine, lossReal)
		if diff > 1.5 {
			t.Errorf("quality %d: jpegLoss differs from image/jpeg by %.2f levels on average", q, diff)
		}
		if lossMine < 0.8*lossReal || lossMine > 1.25*lossReal {
			t.Errorf("quality %d: jpegLoss loses %.2f levels, image/jpeg %.2f", q, lossMine, lossReal)
		}
	}
}

// TestBoxBlur3 against the plain 3×3 mean with edges replicated.
func TestBoxBlur3(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {7, 5}, {16, 9}} {
		w, h := sz[0], sz[1]
		u, _ := scene(w, h, 3)
		want := make([]float32, len(u))
		for y := range h {
			for x := range w {
				for c := range 3 {
					var s float64
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							yy, xx := min(max(y+dy, 0), h-1), min(max(x+dx, 0), w-1)
							s += float64(u[(yy*w+xx)*3+c])
						}
					}
					want[(y*w+x)*3+c] = float32(s / 9)
				}
			}
		}
		boxBlur3(u, w, h)
		for i := range u {
			if math.Abs(float64(u[i]-want[i])) > 1e-6 {
				t.Fatalf("%dx%d: sample %d is %v, want %v", w, h, i, u[i], want[i])
			}
		}
	}
}

func TestCameraAugment(t *testing.T) {
	const w, h = 32, 32
	_, px := scene(w, h, 5)
	info := model.DefaultInfo(model.Arch{C: 3}, "")
	dst := make([]float32, w*h*3)
	r := rand.New(rand.NewPCG(2, 2))
	// Always grey: the three channels follow each other (equal, or the
	// night-vision tint).
	grey := Augment{MinScale: 1, Camera: Camera{Grey: 1}}
	for range 10 {
		grey.Apply(dst, px, w, h, &info, r)
		for i := 0; i < len(dst); i += 3 {
			var u [3]float32
			for c := range 3 {
				u[c] = dst[i+c]*info.Std[c] + info.Mean[c]
			}
			if d := math.Abs(float64(u[0] - u[2])); d > 1e-5 || u[1] < u[0]-1e-5 {
				t.Fatalf("a grey frame has pixel %v", u)
			}
		}
	}
	// Every distortion at once stays in the pixel range and allocates
	// nothing.
	a := DefaultAugment
	a.Camera = DefaultCamera
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		a.Apply(dst, px, w, h, &info, r)
		for i, v := range dst {
			c := i % 3
			if u := v*info.Std[c] + info.Mean[c]; u < -1e-5 || u > 1+1e-5 {
				t.Fatalf("value %v outside [0,1] after the camera distortions", u)
			}
		}
	}
	if n := testing.AllocsPerRun(20, func() { a.Apply(dst, px, w, h, &info, r) }); n != 0 {
		t.Errorf("Apply with the camera distortions allocates %v times", n)
	}
	for _, bad := range []Camera{{WhiteBalance: 1}, {Grey: 1.5}, {Noise: -1}, {JPEG: 2}, {JPEGQuality: 120}} {
		if err := (Augment{MinScale: 1, Camera: bad}).Validate(); err == nil {
			t.Errorf("Validate accepts %+v", bad)
		}
	}
}

func BenchmarkCameraAugment(b *testing.B) {
	_, px := scene(64, 64, 1)
	info := model.DefaultInfo(model.Arch{C: 3}, "")
	dst := make([]float32, 64*64*3)
	r := rand.New(rand.NewPCG(1, 1))
	a := DefaultAugment
	a.Camera = DefaultCamera
	b.ReportAllocs()
	for b.Loop() {
		a.Apply(dst, px, 64, 64, &info, r)
	}
}

func TestParseCamera(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Camera
	}{
		{"", DefaultCamera},
		{"default", DefaultCamera},
		{"off", Camera{}},
		{"grey=0", Camera{WhiteBalance: 0.15, Grey: 0, Blur: 0.2, Noise: 0.03, JPEG: 0.5, JPEGQuality: 30}},
		{" wb = 0.05 , jpeg=1,quality=60 ", Camera{WhiteBalance: 0.05, Grey: 0.1, Blur: 0.2, Noise: 0.03, JPEG: 1, JPEGQuality: 60}},
		{"noise=0,blur=0", Camera{WhiteBalance: 0.15, Grey: 0.1, JPEG: 0.5, JPEGQuality: 30}},
		{"clean=0.5", Camera{WhiteBalance: 0.15, Grey: 0.1, Blur: 0.2, Noise: 0.03, JPEG: 0.5, JPEGQuality: 30, Clean: 0.5}},
	} {
		got, err := ParseCamera(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCamera(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		// The text form reads back to the same augmentation.
		if back, err := ParseCamera(got.String()); err != nil || back != got {
			t.Errorf("ParseCamera(%q).String() = %q reads back as %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"grey", "=1", "grey=1,grey=0", "grey=x", "grey=NaN", "noise=Inf", "sharpen=1",
		"grey=1.5", "wb=1", "noise=0.6", "jpeg=-0.1", "quality=96", "quality=0", "quality=2.5", "off,grey=0", "clean=1.5", "clean=-1"} {
		if c, err := ParseCamera(in); err == nil {
			t.Errorf("ParseCamera(%q) = %+v, want an error", in, c)
		}
	}
}

func FuzzParseCamera(f *testing.F) {
	for _, s := range []string{"", "off", "grey=0,wb=0.1", "quality=60,jpeg=1", "noise=0.6", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCamera(s)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCamera(%q) accepted an invalid %+v: %v", s, c, err)
		}
		if back, err := ParseCamera(c.String()); err != nil || back != c {
			t.Fatalf("ParseCamera(%q) = %+v; its text %q reads back as %+v, %v", s, c, c.String(), back, err)
		}
	})
}

// TestCameraClean: with Clean p, a share p of the images is left exactly
// as it is and the rest is distorted as without it.
func TestCameraClean(t *testing.T) {
	const w, h, n = 32, 24, 400
	u0, _ := scene(w, h, 3)
	for _, p := range []float64{0, 0.3, 1} {
		c := DefaultCamera
		c.Clean = p
		r := rand.New(rand.NewPCG(1, 2))
		left := 0
		u := make([]float32, len(u0))
		for range n {
			copy(u, u0)
			c.apply(u, w, h, r)
			same := true
			for i := range u {
				if u[i] != u0[i] {
					same = false
					break
				}
			}
			if same {
				left++
			}
		}
		// Without Clean the default distortions always change the image
		// (white balance and noise apply to every one).
		if got := float64(left) / n; math.Abs(got-p) > 0.07 {
			t.Errorf("clean=%v: %d of %d images left as they are (%.2f), want about %v", p, left, n, got, p)
		}
	}
}
