package jpeg

import (
	"bytes"
	"errors"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// fuzzMaxPixels keeps fuzzed frames small.
const fuzzMaxPixels = 1 << 18

// FuzzDecode: no input makes the decoder panic or hold more memory than
// its frame needs, and on inputs that image/jpeg decodes it either says
// ErrUnsupported or agrees with image/jpeg within the tolerance of
// TestDecodeGenerated at 1/1, and its 1/4 and 1/8 pixels are the box
// averages of the coefficients it decodes at 1/1 (checkSums).
func FuzzDecode(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.jpg"))
	for _, name := range names {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add(encode(f, scene(24, 17, 1), 60))
	f.Add(encode(f, grayOf(scene(9, 30, 2)), 95))
	f.Add(withoutDHT(encode(f, scene(16, 16, 3), 75)))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxPixels: fuzzMaxPixels}
		// The DCT of 8-bit samples is within ±2048 (±2^11 plus rounding
		// slack); outside that image/jpeg's integer IDCT can overflow and
		// wrap around, which is no reference to compare with.
		wild := false
		d.inspect = func(blk *[64]int32) {
			for _, v := range blk {
				wild = wild || v > 1<<12 || v < -1<<12
			}
		}
		var (
			full image.Image
			mine error
		)
		for _, scale := range []int{8, 4, 2, 1} {
			cfg, err := d.DecodeHeader(data)
			if err != nil {
				mine = err
				break
			}
			if cfg.Width*cfg.Height > fuzzMaxPixels {
				t.Fatalf("accepted a %dx%d frame over the limit", cfg.Width, cfg.Height)
			}
			img, err := d.Decode(scale)
			if err != nil {
				mine = err
				break
			}
			// The planes hold whole MCUs of at most 16x16 pixels, 3 planes.
			held := 0
			for _, p := range d.planes {
				held += cap(p)
			}
			if bound := 3 * (cfg.Width + 16) * (cfg.Height + 16); held > bound {
				t.Fatalf("%dx%d frame: %d bytes of planes, over %d", cfg.Width, cfg.Height, held, bound)
			}
			full = img
		}
		c, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || c.Width*c.Height > fuzzMaxPixels || errors.Is(mine, ErrUnsupported) || wild {
			return
		}
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if mine != nil {
			t.Fatalf("image/jpeg decodes it, this decoder says: %v", mine)
		}
		if _, ok := want.(*image.CMYK); ok {
			t.Fatal("decoded a CMYK image as 1 or 3 components")
		}
		compare(t, "fuzz", full, want, 1, tolerance[1].max, 1)
		// The sums of 1/4 and 1/8 against the coefficients of 1/1.
		if err := checkSums(t, &d, data); err != nil {
			t.Fatalf("decoded it once, not again: %v", err)
		}
	})
}
