package dataset

import (
	"bytes"
	"errors"
	"image/color"
	"testing"
)

// FuzzDecodeImage checks that DecodeImage never panics, never returns an
// image over the pixel limit, and agrees with the in-memory decoder Load
// uses.
func FuzzDecodeImage(f *testing.F) {
	const limit = 1 << 14
	png := encodePNG(f, pattern(40, 30, 1))
	jpg := encodeJPEG(f, pattern(40, 30, 1))
	for _, seed := range [][]byte{
		png, jpg, png[:len(png)/2], jpg[:len(jpg)/2], corruptJPEG(f),
		encodePNG(f, solid(200, 100, color.NRGBA{1, 2, 3, 4})), // over the limit
		bombPNG(30000, 30000), bombJPEG(f, 30000, 30000), bombJPEG(f, 0, 16),
		nil, []byte("\x89PNG\r\n\x1a\n"), {0xff, 0xd8, 0xff}, []byte("GIF89a"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(bytes.NewReader(data), limit)
		if err != nil {
			if img != nil {
				t.Fatal("an image and an error")
			}
		} else if b := img.Bounds(); b.Empty() || b.Dx()*b.Dy() > limit {
			t.Fatalf("decoded a %v image with a limit of %d pixels", b, limit)
		}
		img2, err2 := decodeBytes(data, limit)
		if (err == nil) != (err2 == nil) || errors.Is(err, ErrTooLarge) != errors.Is(err2, ErrTooLarge) {
			t.Fatalf("DecodeImage: %v; decodeBytes: %v", err, err2)
		}
		if img != nil && img2.Bounds() != img.Bounds() {
			t.Fatalf("bounds %v and %v", img.Bounds(), img2.Bounds())
		}
	})
}
