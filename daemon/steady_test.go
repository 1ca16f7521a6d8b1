package daemon

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"

	"catd/internal/testwait"
)

// TestSteadyStateIsFlat runs 10,000 frames of the test: source through the
// pipeline (with stats events and status.json on) and checks that the heap,
// the goroutine count and the allocations stay flat: after a warm-up the
// frames allocate nothing, and what the periodic writers allocate is
// garbage, not growth.
func TestSteadyStateIsFlat(t *testing.T) {
	raw := "test:?w=320&h=240&fps=1000000"
	for _, tc := range []struct {
		name    string
		uri     string
		writers bool    // stats events every 50 ms, status.json every 20 ms
		allocs  float64 // most allocations per frame
	}{
		{"frames only", raw, false, 0.005},
		// Every frame of an MJPEG file, each read once inference has
		// taken the one before (camera.WaitsForReader).
		{"file fps=max", "file:" + mjpegFile(t, 320, 240, 5) + "?fps=max", false, 0.005},
		// The writers allocate per write, not per frame: how many that
		// is per frame depends on the frame rate, so only the heap and
		// goroutines are checked here.
		{"with stats and status.json", raw, true, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) { steadyState(t, tc.uri, tc.writers, tc.allocs) })
	}
}

func steadyState(t *testing.T, uri string, writers bool, maxAllocs float64) {
	frames := uint64(10_000)
	if testing.Short() {
		frames = 2_000
	}
	net, info := brightnessNet(t)
	src, err := camera.Open(uri, camera.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctl := &Control{}
	done := make(chan error, 1)
	cfg := PipelineConfig{Source: src, Net: net, Info: info, Control: ctl, StatsEvery: -1}
	if writers {
		cfg.StatsEvery, cfg.StatusWrite = 50*time.Millisecond, 20*time.Millisecond
		cfg.StatusPath = filepath.Join(t.TempDir(), "status.json")
	}
	go func() { done <- RunPipeline(ctx, cfg, zerolog.Nop()) }()
	waitFor := func(n uint64) {
		// As long as ctx lasts: 10 000 frames under -race on a busy machine take a while.
		deadline, _ := ctx.Deadline()
		testwait.Until(time.Until(deadline), func() bool { return ctl.Snapshot().Frames >= n || ctx.Err() != nil })
		if ctl.Snapshot().Frames < n {
			t.Fatalf("only %d frames", ctl.Snapshot().Frames)
		}
	}
	measure := func() (heap, mallocs uint64, goroutines int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, ms.Mallocs, runtime.NumGoroutine()
	}
	waitFor(500)
	h0, m0, g0 := measure()
	f0 := ctl.Snapshot().Frames
	waitFor(f0 + frames)
	h1, m1, g1 := measure()
	f1 := ctl.Snapshot().Frames
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n := f1 - f0
	perFrame := float64(m1-m0) / float64(n)
	t.Logf("%d frames: heap %d -> %d bytes, %d -> %d goroutines, %.4f allocations per frame", n, h0, h1, g0, g1, perFrame)
	if g1 != g0 {
		t.Errorf("goroutines %d -> %d", g0, g1)
	}
	if h1 > h0+256<<10 {
		t.Errorf("heap grew from %d to %d bytes over %d frames", h0, h1, n)
	}
	// The periodic stats event and status.json allocate a little; the
	// frames must not.
	if perFrame > maxAllocs && !raceEnabled {
		t.Errorf("%.3f allocations per frame", perFrame)
	}
}
