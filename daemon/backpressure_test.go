package daemon

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/internal/testwait"
)

// pulledSource is a scriptSource that waits for its reader
// (camera.BackPressure), as file: does with fps=max, and counts the frames
// it has handed over.
type pulledSource struct {
	scriptSource
	read atomic.Int64
}

func (s *pulledSource) WaitsForReader() bool { return true }

func (s *pulledSource) Next(ctx context.Context, f *camera.Frame) error {
	err := s.scriptSource.Next(ctx, f)
	if err == nil {
		s.read.Add(1)
	}
	return err
}

// TestReaderPacedSourceLosesNoFrame: from a source that waits for its
// reader, inference judges every frame in order and none is dropped, even
// when it is slower than the source; a live source's extra frames are
// dropped instead (latest frame wins).
func TestReaderPacedSourceLosesNoFrame(t *testing.T) {
	const n = 300
	for _, tc := range []struct {
		name string
		src  func([]int) camera.Source
		all  bool // every frame judged, none dropped
	}{
		{"waits for the reader", func(f []int) camera.Source { return &pulledSource{scriptSource: scriptSource{frames: f}} }, true},
		{"live: latest frame wins", func(f []int) camera.Source { return &scriptSource{frames: f} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, info := brightnessNet(t)
			frames := make([]int, n)
			for i := range frames {
				frames[i] = i % 2
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var seqs []uint64
			ctl := &Control{}
			cfg := PipelineConfig{Source: tc.src(frames), Net: net, Info: info, StatsEvery: -1, Control: ctl,
				OnFrame: func(f *camera.Frame, _ []uint8, _, _ float32, _ EventKind) {
					seqs = append(seqs, f.Seq)
					time.Sleep(100 * time.Microsecond) // slower than the source
					if f.Seq == n {
						cancel()
					}
				}}
			if err := RunPipeline(ctx, cfg, zerolog.Nop()); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() == context.DeadlineExceeded {
				t.Fatalf("timed out after %d frames", len(seqs))
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Fatalf("frame %d judged after frame %d", seqs[i], seqs[i-1])
				}
			}
			if judged := ctl.Snapshot().Frames; judged != uint64(len(seqs)) {
				t.Errorf("Control counts %d frames, OnFrame saw %d", judged, len(seqs))
			}
			if tc.all != (len(seqs) == n) {
				t.Errorf("%d of %d frames judged; want all: %v", len(seqs), n, tc.all)
			}
		})
	}
}

// TestReaderPacedSourceCancel: while inference holds a frame, capture
// reads at most two more (one in the slot, one waiting for it) and then
// waits; cancelling the pipeline ends that wait at once.
func TestReaderPacedSourceCancel(t *testing.T) {
	net, info := brightnessNet(t)
	src := &pulledSource{scriptSource: scriptSource{frames: make([]int, 100)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	judging := make(chan struct{})
	var once sync.Once
	cfg := PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: -1,
		OnFrame: func(*camera.Frame, []uint8, float32, float32, EventKind) {
			once.Do(func() { close(judging) })
			<-ctx.Done() // inference stuck on the first frame
		}}
	done := make(chan error, 1)
	go func() { done <- RunPipeline(ctx, cfg, zerolog.Nop()) }()
	<-judging
	testwait.For(t, "capture to read frames 2 and 3", func() bool { return src.read.Load() >= 3 })
	// Give a capture that does not wait the time to read on.
	time.Sleep(20 * time.Millisecond)
	if got := src.read.Load(); got != 3 {
		t.Errorf("the source was read %d times while inference held frame 1, want 3", got)
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunPipeline: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("RunPipeline took %v to return after cancel", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunPipeline did not return after cancel")
	}
}

// mjpegFile writes n w×h JPEG frames of rising brightness to a file and
// returns its path.
func mjpegFile(t *testing.T, w, h, n int) string {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range n {
		for j := range img.Pix {
			img.Pix[j] = uint8(40*i + j%7)
		}
		if err := jpeg.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(t.TempDir(), "frames.mjpeg")
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}
