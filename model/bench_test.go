package model

import (
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
