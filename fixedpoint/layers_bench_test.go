package fixedpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"catd/model"
)

// BenchmarkDefaultLayers times each layer of the built-in int8 model at
// batch 1, on the activations a random image gives it.
func BenchmarkDefaultLayers(b *testing.B) {
	n, _, err := Default(Options{MaxBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	px := make([]uint8, n.inLen)
	for i := range px {
		px[i] = uint8(r.IntN(256))
	}
	x := n.x[:n.inLen]
	quantizeInput(x, px, &n.lut)
	dst := make([]float32, n.outputs)
	// The input of each layer, saved.
	ins := make([][]int8, len(n.layers))
	cur := x
	for i := range n.layers {
		ins[i] = append([]int8(nil), cur...)
		cur = n.forward(1, x, i+1, dst)
		if cur == nil {
			break
		}
	}
	for i := range n.layers {
		l := &n.layers[i]
		if l.Kind == model.ReLU || l.Kind == model.Flatten {
			continue
		}
		out := make([]int8, l.outDims.len())
		b.Run(fmt.Sprintf("%02d-%s-%dx%dx%d", i, l.Kind, l.in.h, l.in.w, l.in.c), func(b *testing.B) {
			b.ReportAllocs()
			var ts []time.Duration
			for b.Loop() {
				t0 := time.Now()
				switch l.Kind {
				case model.Conv:
					l.conv.Forward(out, ins[i], n.work8)
				case model.DWConv:
					l.dw.Forward(out, ins[i], n.work32)
				case model.MaxPool:
					l.pool.Forward(out, ins[i])
				case model.GlobalAvgPool:
					l.gap.Forward(out, ins[i], n.work32)
				case model.Dense:
					if l.head {
						l.headForward(dst, ins[i])
					} else {
						l.dense.Forward(out, ins[i])
					}
				}
				ts = append(ts, time.Since(t0))
			}
			reportQuantiles(b, ts)
		})
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		var ts []time.Duration
		for b.Loop() {
			t0 := time.Now()
			n.Logits(dst, px)
			ts = append(ts, time.Since(t0))
		}
		reportQuantiles(b, ts)
	})
}

// reportQuantiles reports the fastest and the median of the timed calls,
// in µs: on a shared machine the mean moves with the other jobs' load,
// the fastest calls much less.
func reportQuantiles(b *testing.B, ts []time.Duration) {
	slices.Sort(ts)
	b.ReportMetric(float64(ts[0].Nanoseconds())/1e3, "min-µs")
	b.ReportMetric(float64(ts[len(ts)/2].Nanoseconds())/1e3, "median-µs")
}
