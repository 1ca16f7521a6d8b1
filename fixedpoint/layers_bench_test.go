package fixedpoint

import (
	"fmt"
	"math/rand/v2"
	"testing"

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
			for b.Loop() {
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
			}
		})
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n.Logits(dst, px)
		}
	})
}
