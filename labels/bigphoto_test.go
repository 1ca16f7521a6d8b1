//go:build !race

package labels

import (
	"bytes"
	"image"
	"image/jpeg"
	"path/filepath"
	"runtime"
	"testing"

	"catd/internal/testwait"
)

// TestHugeBaselinePhotoIsDecodedScaled: a 34-megapixel baseline JPEG
// (4:2:0), under the pixel limit but over the decode budget whole (about
// 52 MB), is taken as a label by decoding it scaled down in the DCT
// domain, in a fraction of that memory. (Not under the race detector: it
// is slow there, and what it checks is memory, not concurrency.)
func TestHugeBaselinePhotoIsDecodedScaled(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 34-megapixel JPEG")
	}
	const w, h = 7000, 4900
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			m.Y[y*m.YStride+x] = uint8(40 + 150*x/w)
		}
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = 128, 170 // reddish
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	m = nil

	dir := t.TempDir()
	opt := testOptions(t, dir)
	rec := newRecorder()
	r := start(t, opt, rec.take, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	writeFile(t, filepath.Join(dir, Cat, "phone.jpg"), data)
	testwait.For(t, "the photo taken", func() bool { return rec.calls() == 1 })
	runtime.ReadMemStats(&after)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	ex := rec.examples()[0]
	var red, blue float64
	for i := 0; i < len(ex.Pixels); i += 3 {
		red += float64(ex.Pixels[i])
		blue += float64(ex.Pixels[i+2])
	}
	if red <= blue {
		t.Errorf("the label's pixels are not reddish: mean red %.0f, blue %.0f", red/float64(len(ex.Pixels)/3), blue/float64(len(ex.Pixels)/3))
	}
	// The file itself is read whole (len(data)); decoding it whole would
	// take about 52 MB more.
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(data))+24<<20 {
		t.Errorf("taking a %d-byte photo allocated %d MB", len(data), n>>20)
	} else {
		t.Logf("a %d-byte, %dx%d photo taken having allocated %d MB", len(data), w, h, n>>20)
	}
}
