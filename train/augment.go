package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"catd/model"
)

// Augment is the random distortion applied to each training image, so the
// model learns cats rather than the particular photos: a random crop of
// part of the image (a fraction of its area in [MinScale, 1] with an aspect
// ratio in [3/4, 4/3]) scaled back to full size, a horizontal flip, and a
// brightness and contrast change. Camera frames differ from photos in
// exactly these ways: framing, mirror-image poses, exposure.
type Augment struct {
	Flip       bool    // mirror half of the images left to right
	MinScale   float64 // smallest crop, as a fraction of the area; 1 disables cropping
	Brightness float64 // add a uniform offset in ±Brightness (pixel range 0..1)
	Contrast   float64 // scale contrast by a factor in [1-Contrast, 1+Contrast]
	Camera     Camera  // then make it look like a camera frame (zero: off)
}

// DefaultAugment is the augmentation catd train uses unless told otherwise.
var DefaultAugment = Augment{Flip: true, MinScale: 0.5, Brightness: 0.2, Contrast: 0.3}

// NoAugment leaves images as they are.
var NoAugment = Augment{MinScale: 1}

// Validate checks the ranges.
func (a Augment) Validate() error {
	switch {
	case !(a.MinScale > 0 && a.MinScale <= 1):
		return fmt.Errorf("train: augmentation crop scale %v, want (0, 1]", a.MinScale)
	case !(a.Brightness >= 0 && a.Brightness <= 1):
		return fmt.Errorf("train: augmentation brightness %v, want [0, 1]", a.Brightness)
	case !(a.Contrast >= 0 && a.Contrast < 1):
		return fmt.Errorf("train: augmentation contrast %v, want [0, 1)", a.Contrast)
	}
	return a.Camera.Validate()
}

// Apply writes a randomly augmented, normalised copy of the w×h RGB image
// src into dst (w*h*3 floats, the model's input), drawing from r. It
// samples the crop bilinearly and allocates nothing.
func (a Augment) Apply(dst []float32, src []uint8, w, h int, info *model.Info, r *rand.Rand) {
	if len(src) != w*h*3 || len(dst) != len(src) || len(info.Mean) != 3 {
		panic(fmt.Sprintf("train: Augment.Apply lengths %d, %d for %dx%dx3", len(dst), len(src), w, h))
	}
	// Crop rectangle in source pixels.
	cw, ch := float64(w), float64(h)
	if a.MinScale < 1 {
		area := cw * ch * (a.MinScale + (1-a.MinScale)*r.Float64())
		logRatio := math.Log(3.0/4) + r.Float64()*(math.Log(4.0/3)-math.Log(3.0/4))
		ratio := math.Exp(logRatio)
		cw = min(float64(w), math.Sqrt(area*ratio))
		ch = min(float64(h), math.Sqrt(area/ratio))
	}
	x0 := r.Float64() * (float64(w) - cw)
	y0 := r.Float64() * (float64(h) - ch)
	flip := a.Flip && r.IntN(2) == 1
	contrast := 1 + a.Contrast*(2*r.Float64()-1)
	bright := a.Brightness * (2*r.Float64() - 1)

	// Pixel v in [0,255] becomes u = (v/255-0.5)*contrast+0.5+bright,
	// clamped to [0,1] as a camera would, then (u-mean)/std.
	k1 := float32(contrast / 255)
	k0 := float32(0.5 - 0.5*contrast + bright)
	var inv, mean [3]float32
	for c := range 3 {
		inv[c] = 1 / info.Std[c]
		mean[c] = info.Mean[c]
	}
	camera := a.Camera != (Camera{})
	if camera { // pixels in [0,1] first; normalised after the camera's distortions
		for c := range 3 {
			inv[c], mean[c] = 1, 0
		}
	}
	sx, sy := cw/float64(w), ch/float64(h)
	for oy := range h {
		fy := y0 + (float64(oy)+0.5)*sy - 0.5
		fy = min(max(fy, 0), float64(h-1))
		iy := int(fy)
		iy1 := min(iy+1, h-1)
		wy := float32(fy - float64(iy))
		for ox := range w {
			tx := ox
			if flip {
				tx = w - 1 - ox
			}
			fx := x0 + (float64(tx)+0.5)*sx - 0.5
			fx = min(max(fx, 0), float64(w-1))
			ix := int(fx)
			ix1 := min(ix+1, w-1)
			wx := float32(fx - float64(ix))
			p00 := src[(iy*w+ix)*3 : (iy*w+ix)*3+3]
			p01 := src[(iy*w+ix1)*3 : (iy*w+ix1)*3+3]
			p10 := src[(iy1*w+ix)*3 : (iy1*w+ix)*3+3]
			p11 := src[(iy1*w+ix1)*3 : (iy1*w+ix1)*3+3]
			d := dst[(oy*w+ox)*3 : (oy*w+ox)*3+3]
			for c := range 3 {
				top := float32(p00[c]) + wx*(float32(p01[c])-float32(p00[c]))
				bot := float32(p10[c]) + wx*(float32(p11[c])-float32(p10[c]))
				v := top + wy*(bot-top)
				u := min(max(v*k1+k0, 0), 1)
				d[c] = (u - mean[c]) * inv[c]
			}
		}
	}
	if camera {
		a.Camera.apply(dst, w, h, r)
		for i := 0; i < len(dst); i += 3 {
			for c := range 3 {
				dst[i+c] = (dst[i+c] - info.Mean[c]) / info.Std[c]
			}
		}
	}
}
