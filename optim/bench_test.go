package optim

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkStep times one Step for CatNet-64's 24,593 parameters and for a
// million. Compare ns/param across kinds: the work per element is a
// multiply-add for SGD, two for momentum, and two divisions and a square
// root for Adam.
func BenchmarkStep(b *testing.B) {
	for _, k := range []Kind{KindSGD, KindMomentum, KindAdam} {
		for _, n := range []int{24593, 1_000_000} {
			b.Run(string(k)+"/n="+itoa(n), func(b *testing.B) {
				o, err := New(DefaultConfig(k), n)
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				p := randVec(rng, n)
				g := randVec(rng, n)
				for i := range g {
					g[i] *= 1e-3 // keep θ finite however long the benchmark runs
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					o.Step(p, g, 1e-6)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/param")
			})
		}
	}
}
