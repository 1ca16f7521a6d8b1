package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkInfer times batch-1 inference of the built-in architectures as
// catd runs it: random weights, batch norms folded into the convolutions.
func BenchmarkInfer(b *testing.B) {
	for _, name := range []string{"catnet64", "catsep64"} {
		b.Run(name, func(b *testing.B) {
			a, _ := ArchByName(name)
			n, err := New(a, Options{MaxBatch: 1})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			n.Init(r)
			f, err := n.Folded(Options{MaxBatch: 1})
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, f.InputLen())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			p := make([]float32, 1)
			b.ReportAllocs()
			for b.Loop() {
				f.Predict(p, x)
			}
		})
	}
}

// BenchmarkTrainStep times one training step's gradients (forward in
// training mode, loss, backward) of the built-in architectures at batch 1,
// 8 and 16, with random weights and images.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"catnet64", "catsep64"} {
		for _, batch := range []int{1, 8, 16} {
			b.Run(fmt.Sprintf("%s/batch%d", name, batch), func(b *testing.B) {
				a, _ := ArchByName(name)
				n, err := New(a, Options{MaxBatch: batch, Training: true})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewPCG(1, 2))
				n.Init(r)
				x := make([]float32, batch*n.InputLen())
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				y := make([]float32, batch)
				for i := range y {
					y[i] = float32(i % 2)
				}
				b.ReportAllocs()
				for b.Loop() {
					n.Gradients(x, y, nil)
				}
			})
		}
	}
}
