package camera

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// barsSeq reads the frame counter from the bars of an RGB24 test frame.
func barsSeq(f *Frame) uint64 {
	n, bw, _ := testBars(f.W, f.H)
	var v uint64
	for i := range n {
		v <<= 1
		if f.Data[3*(i*bw+bw/2)] == 255 {
			v |= 1
		}
	}
	return v
}

func TestTestSourceFrames(t *testing.T) {
	tests := []struct {
		name   string
		uri    string
		format Format
		w, h   int
		stride int
	}{
		{"rgb24 default", "test:?fps=1000", RGB24, 320, 240, 960},
		{"rgb24 small", "test:?fps=1000&w=33&h=9", RGB24, 33, 9, 99},
		{"yuyv", "test:?fps=1000&format=yuyv&w=64&h=48", YUYV, 64, 48, 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := mustOpen(t, tc.uri, Options{})
			var f, prev Frame
			for i := 1; i <= 3; i++ {
				if err := src.Next(context.Background(), &f); err != nil {
					t.Fatal(err)
				}
				if f.Seq != uint64(i) || f.Format != tc.format || f.W != tc.w || f.H != tc.h || f.Stride != tc.stride || len(f.Data) != tc.stride*tc.h {
					t.Fatalf("frame %d: seq %d %v %dx%d stride %d len %d", i, f.Seq, f.Format, f.W, f.H, f.Stride, len(f.Data))
				}
				if tc.format == RGB24 && barsSeq(&f) != f.Seq {
					t.Errorf("bars say %d, Seq is %d", barsSeq(&f), f.Seq)
				}
				if i > 1 && string(f.Data) == string(prev.Data) {
					t.Error("pattern did not move")
				}
				prev.Data = append(prev.Data[:0], f.Data...)
			}
			if got := stats(src).Frames; got != 3 {
				t.Errorf("Stats().Frames = %d, want 3", got)
			}
		})
	}
}

func TestRGBToYUYV(t *testing.T) {
	tests := []struct {
		name string
		rgb  []byte
		want []byte
	}{
		{"black", []byte{0, 0, 0, 0, 0, 0}, []byte{16, 128, 16, 128}},
		{"white", []byte{255, 255, 255, 255, 255, 255}, []byte{235, 128, 235, 128}},
		{"red", []byte{255, 0, 0, 255, 0, 0}, []byte{82, 90, 82, 240}},
		{"blue", []byte{0, 0, 255, 0, 0, 255}, []byte{41, 240, 41, 110}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]byte, 4)
			rgbToYUYV(got, tc.rgb)
			for i := range got {
				if d := int(got[i]) - int(tc.want[i]); d < -1 || d > 1 {
					t.Fatalf("got %v, want %v (±1)", got, tc.want)
				}
			}
		})
	}
}

// TestTestSourcePacing checks the frame grid with a fake clock: frames fall
// on start + n·period whatever the caller's delays, and a caller late by
// more than a period gets a frame at once, then the grid resumes without a
// burst.
func TestTestSourcePacing(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: start}
	c, err := parseTestConfig(sourceURI{scheme: "test", q: map[string][]string{"fps": {"10"}, "w": {"16"}, "h": {"16"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := newTestSource("test:", c, Options{}.Log, clk)
	const period = 100 * time.Millisecond
	var f Frame
	next := func() time.Time {
		t.Helper()
		if err := src.Next(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
		return f.Time
	}
	if got := next(); !got.Equal(start) {
		t.Fatalf("first frame at %v, want at once", got.Sub(start))
	}
	for i, work := range []time.Duration{0, 30 * time.Millisecond, 99 * time.Millisecond, 7 * time.Millisecond} {
		clk.now = clk.now.Add(work)
		want := start.Add(time.Duration(i+1) * period)
		if got := next(); !got.Equal(want) {
			t.Fatalf("frame %d at %v, want %v (drift)", i+2, got.Sub(start), want.Sub(start))
		}
	}
	// Now at 400 ms. Be late by 250 ms: the frame comes at once (650 ms)...
	clk.now = clk.now.Add(250 * time.Millisecond)
	if got := next(); !got.Equal(start.Add(650 * time.Millisecond)) {
		t.Fatalf("late frame at %v, want at once (650ms)", got.Sub(start))
	}
	// ...and the next one back on the grid at 700 ms, not a burst.
	if got := next(); !got.Equal(start.Add(700 * time.Millisecond)) {
		t.Fatalf("frame after a late one at %v, want 700ms", got.Sub(start))
	}
}

// TestTestSourceRealPacing checks the real clock loosely.
func TestTestSourceRealPacing(t *testing.T) {
	src := mustOpen(t, "test:?fps=100&w=16&h=16", Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var f Frame
	n := 0
	for src.Next(ctx, &f) == nil {
		n++
	}
	if n < 15 || n > 35 {
		t.Errorf("%d frames in 300 ms at 100 fps, want about 30", n)
	}
}

func TestTestSourceAllocs(t *testing.T) {
	for _, format := range []string{"rgb24", "yuyv"} {
		t.Run(format, func(t *testing.T) {
			src := mustOpen(t, "test:?fps=1e9&format="+format, Options{})
			var f Frame
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := src.Next(ctx, &f); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(50, func() {
				if err := src.Next(ctx, &f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per frame, want 0", allocs)
			}
		})
	}
}

func TestCloseUnblocksNext(t *testing.T) {
	dir := t.TempDir()
	png := dir + "/a.png"
	writeFile(t, png, makePNG(t, 8, 8, 1))
	tests := []struct {
		name, uri string
		frames    int // frames to read before Next blocks
	}{
		{"test", "test:?fps=0.01", 1},
		{"file", "file:" + png + "?fps=0.01", 1},
		{"dir", "dir:" + dir, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := mustOpen(t, tc.uri, Options{})
			var f Frame
			for range tc.frames {
				if err := src.Next(context.Background(), &f); err != nil {
					t.Fatal(err)
				}
			}
			errc := make(chan error, 1)
			go func() { errc <- src.Next(context.Background(), &f) }()
			// A head start for Next, so that Close usually finds it blocked;
			// an earlier Close must work too.
			time.Sleep(50 * time.Millisecond)
			if err := src.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Next after Close: %v, want ErrClosed", err)
				}
			case <-time.After(time.Second):
				t.Fatal("Next still blocked 1 s after Close")
			}
			if err := src.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := src.Next(context.Background(), &f); !errors.Is(err, ErrClosed) {
				t.Errorf("Next on a closed source: %v, want ErrClosed", err)
			}
		})
	}
}

func TestNextHonoursContext(t *testing.T) {
	src := mustOpen(t, "test:?fps=0.01", Options{})
	var f Frame
	if err := src.Next(context.Background(), &f); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := nextTimeout(src, &f, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Next returned %v after its deadline", d)
	}
}

func BenchmarkTestSource(b *testing.B) {
	for _, format := range []string{"rgb24", "yuyv"} {
		for _, size := range [][2]int{{160, 120}, {320, 240}, {640, 480}} {
			b.Run(fmt.Sprintf("%s/%dx%d", format, size[0], size[1]), func(b *testing.B) {
				src := mustOpen(b, fmt.Sprintf("test:?fps=1e9&format=%s&w=%d&h=%d", format, size[0], size[1]), Options{})
				var f Frame
				ctx := context.Background()
				if err := src.Next(ctx, &f); err != nil { // warm-up: sizes f.Data
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := src.Next(ctx, &f); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			})
		}
	}
}
