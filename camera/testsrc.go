package camera

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// testSource is the test: source: a synthetic moving pattern.
//
// Each frame shows a horizontal colour ramp that scrolls by 2 pixels per
// frame over a vertical green ramp, a white square bouncing around, and
// along the top a band of up to 32 bars that spell the frame's Seq in
// binary, most significant bit first (white = 1, black = 0).
type testSource struct {
	uri    string
	w, h   int
	format Format
	pace   pacer
	seq    uint64
	row    []byte // one RGB row, scratch for YUYV
	frames atomic.Uint64

	done      chan struct{}
	closeOnce sync.Once
}

func newTestSource(uri string, c testConfig, _ zerolog.Logger, clk clock) *testSource {
	return &testSource{
		uri: uri, w: c.w, h: c.h, format: c.format,
		pace: pacer{clk: clk, period: c.period},
		row:  make([]byte, 3*c.w),
		done: make(chan struct{}),
	}
}

func (s *testSource) String() string { return s.uri }

func (s *testSource) Stats() Stats { return Stats{Frames: s.frames.Load()} }

func (s *testSource) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

func (s *testSource) Next(ctx context.Context, f *Frame) error {
	now, err := s.pace.wait(ctx, s.done)
	if err != nil {
		return err
	}
	s.seq++
	bpp := 3
	if s.format == YUYV {
		bpp = 2
	}
	stride := bpp * s.w
	f.Data = resize(f.Data, stride*s.h)
	f.Seq, f.Time, f.Format, f.W, f.H, f.Stride = s.seq, now, s.format, s.w, s.h, stride
	for y := range s.h {
		dst := f.Data[y*stride : (y+1)*stride]
		if s.format == RGB24 {
			testPatternRow(dst, s.w, s.h, y, s.seq)
		} else {
			testPatternRow(s.row, s.w, s.h, y, s.seq)
			rgbToYUYV(dst, s.row)
		}
	}
	s.frames.Add(1)
	return nil
}

// testBars returns the number of counter bars and their width in pixels
// for a frame w pixels wide, and the height of the bar band.
func testBars(w, h int) (n, bw, bh int) {
	n = min(32, w/2)
	return n, w / n, max(2, h/16)
}

// testPatternRow writes row y of frame seq of the test pattern as RGB24
// into dst (3·w bytes).
func testPatternRow(dst []byte, w, h, y int, seq uint64) {
	n, bw, bh := testBars(w, h)
	if y < bh {
		for x := range w {
			var v byte
			if i := x / bw; i < n {
				if seq>>(n-1-i)&1 != 0 {
					v = 255
				}
			}
			dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
		}
		return
	}
	g := byte(y * 255 / (h - 1))
	shift := int(seq * 2 % 256)
	for x := range w {
		dst[3*x], dst[3*x+1], dst[3*x+2] = byte(x+shift), g, 96
	}
	side := min(w, h-bh) / 4
	sx := triangle(int(seq%(1<<30))*3, w-side)
	sy := bh + triangle(int(seq%(1<<30))*2, h-bh-side)
	if y >= sy && y < sy+side {
		row := dst[3*sx : 3*(sx+side)]
		for i := range row {
			row[i] = 255
		}
	}
}

// triangle folds t into a triangle wave between 0 and span.
func triangle(t, span int) int {
	if span <= 0 {
		return 0
	}
	t %= 2 * span
	if t > span {
		t = 2*span - t
	}
	return t
}

// rgbToYUYV converts one RGB24 row (even width) to YUYV with BT.601 in
// limited range (Y' in [16, 235], Cb and Cr in [16, 240]), what V4L2
// webcams deliver and package preprocess expects; chroma is averaged over
// each pixel pair.
func rgbToYUYV(dst, rgb []byte) {
	for i, j := 0, 0; i+5 < len(rgb); i, j = i+6, j+4 {
		r0, g0, b0 := int32(rgb[i]), int32(rgb[i+1]), int32(rgb[i+2])
		r1, g1, b1 := int32(rgb[i+3]), int32(rgb[i+4]), int32(rgb[i+5])
		r, g, b := (r0+r1+1)/2, (g0+g1+1)/2, (b0+b1+1)/2
		dst[j] = byte((66*r0+129*g0+25*b0+128)>>8 + 16)
		dst[j+1] = clamp8((-38*r-74*g+112*b+128)>>8 + 128)
		dst[j+2] = byte((66*r1+129*g1+25*b1+128)>>8 + 16)
		dst[j+3] = clamp8((112*r-94*g-18*b+128)>>8 + 128)
	}
}

func clamp8(v int32) byte {
	return byte(min(max(v, 0), 255))
}

// resize returns b with length n, reusing its capacity when large enough.
func resize(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
