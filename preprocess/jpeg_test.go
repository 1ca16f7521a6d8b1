package preprocess

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"catd/camera"
	"catd/preprocess/jpeg"
)

// sampleFrames returns the distinct frames of demo/samples.mjpeg: photos
// (one of them a cat) as a 640x480 camera sends them.
func sampleFrames(t testing.TB) [][]byte {
	t.Helper()
	fh, err := os.Open(filepath.Join("..", "demo", "samples.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sp := camera.NewMJPEGSplitter(fh, 0)
	var frames [][]byte
	for {
		f, err := sp.Next(nil)
		if err != nil {
			break
		}
		if len(frames) == 0 || !bytes.Equal(f, frames[len(frames)-1]) {
			frames = append(frames, f)
		}
	}
	if len(frames) < 5 {
		t.Fatalf("%d distinct frames in demo/samples.mjpeg", len(frames))
	}
	return frames
}

// ffmpegFrames returns n w×h frames of ffmpeg's testsrc2 pattern, from
// its 46th on, as make bench-pipeline's stream holds them (-q:v 4, Huffman
// tables made for each frame), or skips without ffmpeg.
func ffmpegFrames(t testing.TB, w, h, n int) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h),
		"-vf", "trim=start_frame=45", "-frames:v", fmt.Sprint(n), "-q:v", "4", "-f", "mjpeg", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	sp := camera.NewMJPEGSplitter(bytes.NewReader(out), 0)
	var frames [][]byte
	for {
		f, err := sp.Next(nil)
		if err != nil {
			break
		}
		frames = append(frames, f)
	}
	if len(frames) != n {
		t.Fatalf("ffmpeg made %d frames, want %d", len(frames), n)
	}
	return frames
}

// viaImage is the path JPEG replaces: image/jpeg's full decode, then
// Image.
func viaImage(t testing.TB, r *Resizer, data []byte) []uint8 {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint8, r.OutLen())
	if err := r.Image(out, img); err != nil {
		t.Fatal(err)
	}
	return out
}

// diff returns the largest and the mean absolute difference of a and b.
func diff(a, b []uint8) (int, float64) {
	worst, sum := 0, 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		d = max(d, -d)
		worst = max(worst, d)
		sum += d
	}
	return worst, float64(sum) / float64(len(a))
}

// boxed returns img, image/jpeg's decode, shrunk by box averages of
// scale×scale pixels of each plane (with the planes' padding to whole
// blocks, which image/jpeg keeps too): what decoding at 1/scale is to
// give.
func boxed(img image.Image, scale int) image.Image {
	box := func(pix []uint8, stride, w, h int) ([]uint8, int) {
		bw, bh := (w+scale-1)/scale, (h+scale-1)/scale
		out := make([]uint8, bw*bh)
		for y := range bh {
			for x := range bw {
				s := 0
				for yy := range scale {
					for xx := range scale {
						s += int(pix[(y*scale+yy)*stride+x*scale+xx])
					}
				}
				out[y*bw+x] = uint8((s + scale*scale/2) / (scale * scale))
			}
		}
		return out, bw
	}
	r := img.Bounds()
	sr := image.Rect(0, 0, (r.Dx()+scale-1)/scale, (r.Dy()+scale-1)/scale)
	switch m := img.(type) {
	case *image.Gray:
		pix, stride := box(m.Pix, m.Stride, r.Dx(), r.Dy())
		return &image.Gray{Pix: pix, Stride: stride, Rect: sr}
	case *image.YCbCr:
		// Whole padded planes: the chroma ones cover the luma one's blocks.
		y, ys := box(m.Y, m.YStride, m.YStride, len(m.Y)/m.YStride)
		cb, cs := box(m.Cb, m.CStride, m.CStride, len(m.Cb)/m.CStride)
		cr, _ := box(m.Cr, m.CStride, m.CStride, len(m.Cr)/m.CStride)
		return &image.YCbCr{Y: y, Cb: cb, Cr: cr, YStride: ys, CStride: cs, SubsampleRatio: m.SubsampleRatio, Rect: sr}
	}
	panic(fmt.Sprintf("boxed: %T", img))
}

// TestJPEGMatchesImage: the fused decode at the scale it chose gives what
// Image gives on image/jpeg's full decode shrunk by box averages to that
// scale, within the scaled decode's tolerance against it (package jpeg).
//
// Against Image on the full decode it differs more, by design: an output
// pixel averages the scaled pixels it overlaps, whole, so its footprint
// widens by up to one scaled pixel at each edge. The test logs that
// difference and bounds it loosely; what it does to the model is measured
// by the accuracy check (TestJPEGAccuracy in cmd/catd).
func TestJPEGMatchesImage(t *testing.T) {
	frames := sampleFrames(t)
	rng := rand.New(rand.NewPCG(3, 4))
	gen := map[string][]byte{}
	for _, sz := range [][2]int{{1280, 720}, {333, 251}, {64, 64}, {100, 30}} {
		var b bytes.Buffer
		if err := stdjpeg.Encode(&b, picture(sz[0], sz[1], rng), &stdjpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		gen[fmt.Sprintf("%dx%d", sz[0], sz[1])] = b.Bytes()
	}
	for _, name := range []string{"s422", "s444", "s440", "gray", "s420-restart2"} {
		data, err := os.ReadFile(filepath.Join("jpeg", "testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		gen[name] = data
	}
	type tc struct {
		name  string
		data  []byte
		w, h  int
		opt   Options
		scale int
	}
	var cases []tc
	for i, f := range frames {
		cases = append(cases,
			tc{fmt.Sprintf("sample%d-crop", i), f, 64, 64, Options{}, 4},
			tc{fmt.Sprintf("sample%d-letterbox", i), f, 64, 64, Options{Fit: Letterbox}, 4},
			tc{fmt.Sprintf("sample%d-stretch-48x32", i), f, 48, 32, Options{Fit: Stretch}, 8},
			tc{fmt.Sprintf("sample%d-stretch-96x72", i), f, 96, 72, Options{Fit: Stretch}, 4},
			tc{fmt.Sprintf("sample%d-roi", i), f, 64, 64, Options{ROI: image.Rect(300, 200, 500, 400)}, 2},
			tc{fmt.Sprintf("sample%d-small-roi", i), f, 64, 64, Options{ROI: image.Rect(301, 203, 400, 290)}, 1},
		)
	}
	for name, data := range gen {
		cases = append(cases, tc{name, data, 32, 32, Options{}, 0}, tc{name + "-stretch", data, 16, 24, Options{Fit: Stretch}, 0})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewResizer(c.w, c.h, c.opt)
			full := viaImage(t, r, c.data)
			got := make([]uint8, r.OutLen())
			if err := r.JPEG(got, c.data, 0); err != nil {
				t.Fatal(err)
			}
			scale := r.scale
			if c.scale != 0 && scale != c.scale {
				t.Errorf("decoded at 1/%d, want 1/%d", scale, c.scale)
			}
			img, err := stdjpeg.Decode(bytes.NewReader(c.data))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]uint8, r.OutLen())
			rb := NewResizer(c.w, c.h, c.opt)
			b := boxed(img, scale)
			if err := rb.planScaled(b.Bounds().Dx(), b.Bounds().Dy(), scale); err != nil {
				t.Fatal(err)
			}
			switch m := b.(type) {
			case *image.YCbCr:
				rs, _ := newYCbCrRows(m)
				resample(rb, want, rs)
			case *image.Gray:
				resample(rb, want, grayRows{m.Pix, m.Stride})
			}
			worst, mean := diff(got, want)
			fw, fm := diff(got, full)
			t.Logf("1/%d: against the box-shrunk decode max %d, mean %.3f; against the full decode max %d, mean %.3f", scale, worst, mean, fw, fm)
			if worst > 3 || mean > 0.5 {
				t.Errorf("1/%d: differs from the box-shrunk decode by up to %d levels, %.3f on average; want at most 3 and 0.5", scale, worst, mean)
			}
			if fm > 5 {
				t.Errorf("1/%d: differs from the full decode by %.3f levels on average; want at most 5", scale, fm)
			}
		})
	}
}

func TestJPEGScale(t *testing.T) {
	cases := []struct {
		name     string
		fw, fh   int
		w, h     int
		opt      Options
		want     int
		wantSize image.Point // the size decoded
	}{
		// The scaled region must stay at least 1.5 times the output.
		{"640x480 crop to 64", 640, 480, 64, 64, Options{}, 4, image.Pt(160, 120)},
		{"640x480 stretch to 53x40", 640, 480, 53, 40, Options{Fit: Stretch}, 8, image.Pt(80, 60)},
		{"640x480 stretch to 54x40", 640, 480, 54, 40, Options{Fit: Stretch}, 4, image.Pt(160, 120)},
		{"1920x1080 crop to 64", 1920, 1080, 64, 64, Options{}, 8, image.Pt(240, 135)},
		{"640x480 crop to 160", 640, 480, 160, 160, Options{}, 2, image.Pt(320, 240)},
		{"640x480 crop to 161", 640, 480, 161, 161, Options{}, 1, image.Pt(640, 480)},
		{"roi 96x96", 640, 480, 64, 64, Options{ROI: image.Rect(0, 0, 96, 96)}, 1, image.Pt(640, 480)},
		{"roi 192x192", 640, 480, 64, 64, Options{ROI: image.Rect(10, 10, 202, 202)}, 2, image.Pt(320, 240)},
		{"odd frame", 333, 251, 64, 64, Options{}, 2, image.Pt(167, 126)},
		{"tiny frame", 20, 20, 64, 64, Options{}, 1, image.Pt(20, 20)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := stdjpeg.Encode(&b, image.NewGray(image.Rect(0, 0, c.fw, c.fh)), nil); err != nil {
				t.Fatal(err)
			}
			r := NewResizer(c.w, c.h, c.opt)
			if err := r.JPEG(make([]uint8, r.OutLen()), b.Bytes(), 0); err != nil {
				t.Fatal(err)
			}
			if r.scale != c.want || r.srcW != c.wantSize.X || r.srcH != c.wantSize.Y {
				t.Errorf("decoded %dx%d at 1/%d, want %v at 1/%d", r.srcW, r.srcH, r.scale, c.wantSize, c.want)
			}
		})
	}
}

func TestJPEGErrors(t *testing.T) {
	r := NewResizer(64, 64, Options{})
	out := make([]uint8, r.OutLen())
	prog, err := os.ReadFile(filepath.Join("jpeg", "testdata", "progressive.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.JPEG(out, prog, 0); !errors.Is(err, jpeg.ErrUnsupported) {
		t.Errorf("progressive: %v, want ErrUnsupported", err)
	}
	frame := sampleFrames(t)[0]
	if err := r.JPEG(out, frame, 640*480-1); !errors.Is(err, jpeg.ErrTooLarge) {
		t.Errorf("over the pixel limit: %v, want ErrTooLarge", err)
	}
	if err := r.JPEG(out, frame[:len(frame)/2], 0); err == nil || errors.Is(err, jpeg.ErrUnsupported) {
		t.Errorf("truncated: %v, want an error that is not ErrUnsupported", err)
	}
	roi := NewResizer(64, 64, Options{ROI: image.Rect(700, 0, 800, 100)})
	if err := roi.JPEG(out, frame, 0); err == nil {
		t.Error("region of interest outside the frame: no error")
	}
	// After errors, a good frame still decodes.
	if err := r.JPEG(out, frame, 0); err != nil {
		t.Fatal(err)
	}
}

func TestJPEGZeroAllocs(t *testing.T) {
	frames := sampleFrames(t)
	for _, opt := range []Options{{}, {Fit: Letterbox}, {ROI: image.Rect(301, 203, 400, 290)}} {
		r := NewResizer(64, 64, opt)
		out := make([]uint8, r.OutLen())
		i := 0
		allocs := testing.AllocsPerRun(20, func() {
			i++
			if err := r.JPEG(out, frames[i%len(frames)], 0); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per frame, want 0", opt, allocs)
		}
	}
}

func BenchmarkJPEG(b *testing.B) {
	frame := sampleFrames(b)[0]
	for _, fit := range []Fit{CenterCrop, Letterbox} {
		b.Run("640x480-to-64x64-"+fit.String(), func(b *testing.B) {
			r := NewResizer(64, 64, Options{Fit: fit})
			out := make([]uint8, r.OutLen())
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if err := r.JPEG(out, frame, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("testsrc2-640x480-to-64x64", func(b *testing.B) {
		frame := ffmpegFrames(b, 640, 480, 1)[0]
		r := NewResizer(64, 64, Options{})
		out := make([]uint8, r.OutLen())
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if err := r.JPEG(out, frame, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	// frames decodes 60 testsrc2 frames, frame pick(i) at the i-th call.
	frames := func(name string, pick func(i int) int) {
		b.Run(name, func(b *testing.B) {
			frames := ffmpegFrames(b, 640, 480, 60)
			r := NewResizer(64, 64, Options{})
			out := make([]uint8, r.OutLen())
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				if err := r.JPEG(out, frames[pick(i)%len(frames)], 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	// One frame after the other, as a camera sends them: each with its own
	// Huffman tables.
	frames("testsrc2-stream-640x480-to-64x64", func(i int) int { return i })
	// The same 60 frames, each decoded 100 times in a row: the same work
	// as -stream but for the Huffman tables, which the branch predictor
	// gets to know frame by frame.
	frames("testsrc2-each-640x480-to-64x64", func(i int) int { return i / 100 })
	b.Run("640x480-to-64x64-image-jpeg", func(b *testing.B) {
		r := NewResizer(64, 64, Options{})
		out := make([]uint8, r.OutLen())
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			img, err := stdjpeg.Decode(bytes.NewReader(frame))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Image(out, img); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzJPEG: no frame makes Resizer.JPEG panic; a frame it accepts writes
// every output byte, and a second call gives the same pixels.
func FuzzJPEG(f *testing.F) {
	for _, name := range []string{"s420", "s422-restart-rows", "gray", "optimized"} {
		if data, err := os.ReadFile(filepath.Join("jpeg", "testdata", name+".jpg")); err == nil {
			f.Add(data, uint8(8), uint8(8), uint8(0), int16(0), int16(0), int16(0), int16(0))
			f.Add(data, uint8(3), uint8(7), uint8(1), int16(10), int16(5), int16(40), int16(30))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, ow, oh, fit uint8, rx0, ry0, rx1, ry1 int16) {
		opt := Options{Fit: Fit(fit % 3), ROI: image.Rect(int(rx0), int(ry0), int(rx1), int(ry1))}
		r := NewResizer(int(ow%16)+1, int(oh%16)+1, opt)
		a, b := make([]uint8, r.OutLen()), make([]uint8, r.OutLen())
		for i := range b {
			b[i] = 0xff
		}
		const maxPixels = 1 << 18
		errA := r.JPEG(a, data, maxPixels)
		errB := r.JPEG(b, data, maxPixels)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ between calls: %v, %v", errA, errB)
		}
		if errA != nil {
			return
		}
		if !bytes.Equal(a, b) {
			t.Fatal("output not fully written, or not the same twice")
		}
	})
}
