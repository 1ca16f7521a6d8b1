package preprocess

import (
	"fmt"
	"image"

	"catd/preprocess/jpeg"
)

// JPEG decodes a baseline JPEG frame and resizes it into out (W*H*3 bytes
// of RGB) in one pass: the frame is decoded in the DCT domain at the
// smallest of 1/8, 1/4, 1/2 and 1/1 of its size that still gives at least
// W×H pixels over the region that is resampled (the region of interest,
// fitted), into planes the Resizer keeps, and the area resize reads their
// rows. A scaled pixel is the exact average of the pixels of the full
// decode it stands for (package jpeg), so the result is what the full
// decode and the area resize would give, up to rounding. Options.ROI is in
// pixels of the full-size frame.
//
// Frames of more than maxPixels pixels (0: jpeg.DefaultMaxPixels) are
// refused with an error wrapping jpeg.ErrTooLarge. JPEG files that package
// jpeg does not decode (progressive, arithmetic-coded, 12-bit, CMYK…)
// give an error wrapping jpeg.ErrUnsupported: decode those with
// image/jpeg and call Image. Corrupt or truncated frames give other
// errors. After the first frame of a given size and layout it allocates
// nothing.
func (r *Resizer) JPEG(out, data []byte, maxPixels int) error {
	r.checkOut(out)
	if r.dec == nil {
		r.dec = new(jpeg.Decoder)
	}
	r.dec.MaxPixels = maxPixels
	cfg, err := r.dec.DecodeHeader(data)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	scale, err := r.jpegScale(cfg.Width, cfg.Height)
	if err != nil {
		return err
	}
	img, err := r.dec.Decode(scale)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	b := img.Bounds()
	if err := r.planScaled(b.Dx(), b.Dy(), scale); err != nil {
		return err
	}
	switch m := img.(type) {
	case *image.YCbCr:
		rs, _ := newYCbCrRows(m) // 4:4:4, 4:2:2, 4:4:0 or 4:2:0 at (0, 0)
		resample(r, out, rs)
	case *image.Gray:
		resample(r, out, grayRows{m.Pix, m.Stride})
	}
	return nil
}

// jpegScale returns the DCT scale for a w×h frame: the largest of 8, 4, 2
// that leaves the resampled region at least as large as its place in the
// output in both directions, else 1.
func (r *Resizer) jpegScale(w, h int) (int, error) {
	src, dst, err := r.geometry(w, h, r.opt.ROI)
	if err != nil {
		return 0, err
	}
	for _, s := range []int{8, 4, 2} {
		if src.Dx() >= s*dst.Dx() && src.Dy() >= s*dst.Dy() {
			return s, nil
		}
	}
	return 1, nil
}

// JPEGScale is the scale the last frame JPEG decoded was decoded at: 1, 2,
// 4 or 8 (1/scale of its size), or 0 before any.
func (r *Resizer) JPEGScale() int {
	if r.dec == nil {
		return 0
	}
	return r.scale
}
