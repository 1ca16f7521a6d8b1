package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Camera is the part of Augment that makes a photo look like a camera
// frame: white balance off, a grey or infrared night image, motion or
// focus blur, sensor noise, and the JPEG compression an MJPEG camera
// applies. Each image draws its own strengths. The zero Camera changes
// nothing.
type Camera struct {
	WhiteBalance float64 // multiply each channel by a gain in [1-WhiteBalance, 1+WhiteBalance]
	Grey         float64 // probability of a grey frame (half of them tinted green, as night vision)
	Blur         float64 // probability of a 3×3 box blur
	Noise        float64 // Gaussian noise of a standard deviation drawn in [0, Noise] (pixel range 0..1)
	JPEG         float64 // probability of JPEG compression (4:2:0) at a quality drawn in [JPEGQuality, 95]
	JPEGQuality  int     // the lowest quality; 0 means 30
	// Clean is the probability that an image is left as it is, none of
	// the above applied: a mix of clean photos and camera frames.
	Clean float64
}

// DefaultCamera is what `catd train --camera-augment` applies.
var DefaultCamera = Camera{WhiteBalance: 0.15, Grey: 0.1, Blur: 0.2, Noise: 0.03, JPEG: 0.5, JPEGQuality: 30}

// Validate checks the ranges.
func (c Camera) Validate() error {
	prob := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("train: camera augmentation %s %v, want a probability in [0, 1]", name, p)
		}
		return nil
	}
	switch {
	case !(c.WhiteBalance >= 0 && c.WhiteBalance < 1):
		return fmt.Errorf("train: camera augmentation white balance %v, want [0, 1)", c.WhiteBalance)
	case !(c.Noise >= 0 && c.Noise <= 0.5):
		return fmt.Errorf("train: camera augmentation noise %v, want [0, 0.5]", c.Noise)
	case c.JPEGQuality < 0 || c.JPEGQuality > 95:
		return fmt.Errorf("train: camera augmentation JPEG quality %d, want 1..95 (0: 30)", c.JPEGQuality)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"grey", c.Grey}, {"blur", c.Blur}, {"JPEG", c.JPEG}, {"clean", c.Clean}} {
		if err := prob(p.name, p.v); err != nil {
			return err
		}
	}
	return nil
}

// apply distorts the w×h RGB image u (values in [0,1], interleaved) in
// place, drawing from r. It allocates nothing.
func (c Camera) apply(u []float32, w, h int, r *rand.Rand) {
	if c.Clean > 0 && r.Float64() < c.Clean {
		return
	}
	if c.WhiteBalance > 0 {
		var g [3]float32
		for ch := range g {
			g[ch] = float32(1 + c.WhiteBalance*(2*r.Float64()-1))
		}
		for i := 0; i < len(u); i += 3 {
			for ch := range 3 {
				u[i+ch] = min(u[i+ch]*g[ch], 1)
			}
		}
	}
	if c.Grey > 0 && r.Float64() < c.Grey {
		tint := [3]float32{1, 1, 1}
		if r.IntN(2) == 1 {
			tint = [3]float32{0.8, 1, 0.8} // night vision's green
		}
		for i := 0; i < len(u); i += 3 {
			y := 0.299*u[i] + 0.587*u[i+1] + 0.114*u[i+2]
			u[i], u[i+1], u[i+2] = y*tint[0], y*tint[1], y*tint[2]
		}
	}
	if c.Blur > 0 && r.Float64() < c.Blur {
		boxBlur3(u, w, h)
	}
	if c.Noise > 0 {
		if sigma := float32(c.Noise * r.Float64()); sigma > 0 {
			for i := range u {
				u[i] = min(max(u[i]+sigma*float32(r.NormFloat64()), 0), 1)
			}
		}
	}
	if c.JPEG > 0 && r.Float64() < c.JPEG {
		lo := c.JPEGQuality
		if lo == 0 {
			lo = 30
		}
		jpegLoss(u, w, h, lo+r.IntN(95-lo+1))
	}
}

// boxBlur3 replaces each sample of the w×h RGB image u by the mean of its
// 3×3 neighbourhood (edges replicated), in place: a horizontal then a
// vertical pass, each keeping the samples it has overwritten in locals.
func boxBlur3(u []float32, w, h int) {
	const third = 1.0 / 3
	for y := range h {
		row := u[y*w*3 : (y+1)*w*3]
		for ch := range 3 {
			prev, cur := row[ch], row[ch]
			for x := range w {
				next := row[min(x+1, w-1)*3+ch]
				row[x*3+ch] = (prev + cur + next) * third
				prev, cur = cur, next
			}
		}
	}
	for x := range w {
		for ch := range 3 {
			at := func(y int) *float32 { return &u[(y*w+x)*3+ch] }
			prev, cur := *at(0), *at(0)
			for y := range h {
				next := *at(min(y+1, h-1))
				*at(y) = (prev + cur + next) * third
				prev, cur = cur, next
			}
		}
	}
}

// The JPEG quantization tables of ITU T.81 Annex K (luminance, then
// chrominance), in natural (row-major) order.
var jpegTables = [2][64]float32{{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}, {
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}}

// dctCos[k][n] is C(k)/2 cos((2n+1)kπ/16), the orthonormal 8-point DCT-II.
var dctCos = func() (t [8][8]float32) {
	for k := range 8 {
		ck := 1.0
		if k == 0 {
			ck = 1 / math.Sqrt2
		}
		for n := range 8 {
			t[k][n] = float32(ck / 2 * math.Cos(float64(2*n+1)*float64(k)*math.Pi/16))
		}
	}
	return t
}()

// quantTable returns table t scaled for quality q as libjpeg (and Go's
// image/jpeg) scale it.
func quantTable(t *[64]float32, q int) (s [64]float32) {
	scale := 200 - 2*q
	if q < 50 {
		scale = 5000 / q
	}
	for i, v := range t {
		s[i] = float32(min(max((int(v)*scale+50)/100, 1), 255))
	}
	return s
}

// jpegLoss applies to the w×h RGB image u (values in [0,1]) what JPEG
// compression at quality q loses: the JFIF colour transform, chroma
// averaged over 2×2 pixels (4:2:0), each 8×8 block's DCT coefficients
// quantized with the Annex K tables scaled for q, and back (chroma
// replicated, as image/jpeg does). The entropy coding that follows in a
// real encoder is lossless, so this is the whole of the distortion, but
// for rounding. It works in 16×16 macroblocks (edges replicated) and
// allocates nothing.
func jpegLoss(u []float32, w, h, q int) {
	ql, qc := quantTable(&jpegTables[0], q), quantTable(&jpegTables[1], q)
	var y [4][64]float32
	var cb, cr [64]float32
	for my := 0; my < h; my += 16 {
		for mx := 0; mx < w; mx += 16 {
			for i := range 64 {
				cb[i], cr[i] = 0, 0
			}
			for py := range 16 {
				sy := min(my+py, h-1)
				for px := range 16 {
					p := u[(sy*w+min(mx+px, w-1))*3:]
					r, g, b := 255*p[0], 255*p[1], 255*p[2]
					y[(py/8)*2+px/8][(py%8)*8+px%8] = 0.299*r + 0.587*g + 0.114*b - 128
					ci := (py/2)*8 + px/2
					cb[ci] += 0.25 * (-0.168736*r - 0.331264*g + 0.5*b)
					cr[ci] += 0.25 * (0.5*r - 0.418688*g - 0.081312*b)
				}
			}
			for i := range y {
				quantize(&y[i], &ql)
			}
			quantize(&cb, &qc)
			quantize(&cr, &qc)
			for py := range min(16, h-my) {
				for px := range min(16, w-mx) {
					yy := y[(py/8)*2+px/8][(py%8)*8+px%8] + 128
					ci := (py/2)*8 + px/2
					b, r := cb[ci], cr[ci]
					p := u[((my+py)*w+mx+px)*3:]
					p[0] = clamp01((yy + 1.402*r) / 255)
					p[1] = clamp01((yy - 0.344136*b - 0.714136*r) / 255)
					p[2] = clamp01((yy + 1.772*b) / 255)
				}
			}
		}
	}
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// quantize replaces the 8×8 block b by the inverse DCT of its DCT
// coefficients rounded to multiples of the table t, clamped to the
// samples' range (-128..127) as a decoder clamps them.
func quantize(b *[64]float32, t *[64]float32) {
	var tmp, c [64]float32
	dct8(&tmp, b, 8, 1, false)  // rows
	dct8(&c, &tmp, 1, 8, false) // columns
	for i := range c {
		c[i] = float32(math.Round(float64(c[i]/t[i]))) * t[i]
	}
	dct8(&tmp, &c, 1, 8, true)
	dct8(b, &tmp, 8, 1, true)
	for i := range b {
		b[i] = min(max(b[i], -128), 127)
	}
}

// dct8 applies the 8-point DCT-II (or, inverse, its transpose) to the 8
// lines of src — rows with stride 8 and step 1, columns with stride 1 and
// step 8 — writing dst: dst[i*stride+a*step] = Σ_b C[a][b] src[i*stride+b*step]
// with C = dctCos, or C transposed.
func dct8(dst, src *[64]float32, stride, step int, inverse bool) {
	for i := range 8 {
		for a := range 8 {
			var s float32
			for b := range 8 {
				c := dctCos[a][b]
				if inverse {
					c = dctCos[b][a]
				}
				s += c * src[i*stride+b*step]
			}
			dst[i*stride+a*step] = s
		}
	}
}

// ParseCamera reads a camera augmentation from its text form: the
// defaults (DefaultCamera) changed by comma-separated key=value pairs,
// e.g. "grey=0,wb=0.1" (keys: wb, grey, blur, noise, jpeg, quality), or
// "off" for none. The result is validated.
func ParseCamera(s string) (Camera, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Camera{}, nil
	}
	c := DefaultCamera
	if s == "" || s == "default" {
		return c, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Camera{}, fmt.Errorf("train: camera augmentation %q: want key=value, got %q", s, kv)
		}
		if seen[k] {
			return Camera{}, fmt.Errorf("train: camera augmentation %q: %s given twice", s, k)
		}
		seen[k] = true
		v = strings.TrimSpace(v)
		if k == "quality" {
			q, err := strconv.Atoi(v)
			if err != nil {
				return Camera{}, fmt.Errorf("train: camera augmentation %q: quality %q is not a whole number", s, v)
			}
			if q < 1 || q > 95 {
				return Camera{}, fmt.Errorf("train: camera augmentation %q: quality %d, want 1..95", s, q)
			}
			c.JPEGQuality = q
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Camera{}, fmt.Errorf("train: camera augmentation %q: %s=%q is not a number", s, k, v)
		}
		switch k {
		case "wb":
			c.WhiteBalance = f
		case "grey":
			c.Grey = f
		case "blur":
			c.Blur = f
		case "noise":
			c.Noise = f
		case "jpeg":
			c.JPEG = f
		case "clean":
			c.Clean = f
		default:
			return Camera{}, fmt.Errorf("train: camera augmentation %q: unknown key %q (want wb, grey, blur, noise, jpeg, quality or clean)", s, k)
		}
	}
	if err := c.Validate(); err != nil {
		return Camera{}, err
	}
	return c, nil
}

// String is c in ParseCamera's form, every key given.
func (c Camera) String() string {
	if c == (Camera{}) {
		return "off"
	}
	q := c.JPEGQuality
	if q == 0 {
		q = 30
	}
	str := fmt.Sprintf("wb=%g,grey=%g,blur=%g,noise=%g,jpeg=%g,quality=%d", c.WhiteBalance, c.Grey, c.Blur, c.Noise, c.JPEG, q)
	if c.Clean > 0 {
		str += fmt.Sprintf(",clean=%g", c.Clean)
	}
	return str
}
