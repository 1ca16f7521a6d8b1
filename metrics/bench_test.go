package metrics

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkROCAUC(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			scores, labels := randomSet(rand.New(rand.NewPCG(1, uint64(n))), n, 0.3, 0, 1)
			b.ReportAllocs()
			b.SetBytes(int64(n) * 4)
			for b.Loop() {
				if _, err := ROCAUC(scores, labels); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBestThreshold(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			scores, labels := randomSet(rand.New(rand.NewPCG(2, uint64(n))), n, 0.3, 0, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := BestThreshold(scores, labels); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewConfusion(b *testing.B) {
	scores, labels := randomSet(rand.New(rand.NewPCG(3, 4)), 1_000_000, 0.3, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		NewConfusion(scores, labels, 0.5)
	}
}
