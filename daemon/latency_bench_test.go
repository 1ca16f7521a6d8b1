package daemon

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"catd/camera"
	"catd/learn"
	"catd/model"
)

// BenchmarkInferenceWhileTraining measures the daemon's frame latency
// (capture to decision, p50 and p99) on the built-in model at 10 frames/s
// of 640x480 RGB, first alone, then while a learner trains rounds of
// batch-16 steps on the same model at the default duty of 0.5, on one core
// (GOMAXPROCS 1, a Pi Zero's worst case) and on all cores. Run it once:
//
//	go test -run '^$' -bench InferenceWhileTraining -benchtime 1x ./daemon/
func BenchmarkInferenceWhileTraining(b *testing.B) {
	for _, procs := range []int{1, runtime.NumCPU()} {
		b.Run(map[bool]string{true: "one-core", false: "all-cores"}[procs == 1], func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for range b.N {
				idle50, idle99 := latency(b, false)
				busy50, busy99 := latency(b, true)
				b.ReportMetric(float64(idle50.Microseconds())/1e3, "idle_p50_ms")
				b.ReportMetric(float64(idle99.Microseconds())/1e3, "idle_p99_ms")
				b.ReportMetric(float64(busy50.Microseconds())/1e3, "training_p50_ms")
				b.ReportMetric(float64(busy99.Microseconds())/1e3, "training_p99_ms")
				b.ReportMetric(float64(busy99)/float64(idle99), "p99_ratio")
			}
		})
	}
}

// latency runs the pipeline for 16 s and returns its latency p50 and p99
// over the last 8 s (80 frames),
// with a learner training alongside if training.
func latency(b *testing.B, training bool) (p50, p99 time.Duration) {
	base, info, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	net, err := base.Folded(model.Options{MaxBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	src, err := camera.Open("test:?w=640&h=480&fps=10", camera.Options{Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	onFrame := func() {}
	if training {
		r, _, err := learn.OpenReplay(learn.ReplayOptions{W: 64, H: 64})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 64 {
			ex := learn.Example{Cat: i%2 == 0, Pixels: make([]uint8, 64*64*3)}
			for j := range ex.Pixels {
				ex.Pixels[j] = uint8(rng.IntN(256))
			}
			ex.Hash[0], ex.Hash[1] = byte(i), byte(i>>8)
			ex.Hash[31] = byte(i * 37) // spread over the held-out share
			r.Add(ex)
		}
		l, err := learn.NewLearner(net, info, r, learn.Config{Steps: 1000, Margin: 1e9, AUCMargin: 1})
		if err != nil {
			b.Fatal(err)
		}
		lrn := &learning{frameDone: make(chan struct{}, 1)}
		onFrame = func() { lrn.pace() }
		l.Yield = func(chunk time.Duration) { lrn.yield(ctx, chunk, 0.5) } // learn.duty's default
		go func() {
			for ctx.Err() == nil {
				l.Round(ctx)
			}
		}()
	}
	stats := make(chan *Stats, 2)
	go RunPipeline(ctx, PipelineConfig{Source: src, Net: net, Info: info, StatsEvery: 8 * time.Second,
		OnFrame: func(*camera.Frame, []uint8, float32, float32, EventKind) { onFrame() },
		OnEvent: func(ev Event) {
			if ev.Stats != nil {
				select {
				case stats <- ev.Stats:
				default:
				}
			}
		}}, zerolog.Nop())
	<-stats // warming up: the learner learns the frames' pace
	st := <-stats
	return st.LatencyP50, st.LatencyP99
}
