package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"catd/optim"
)

// TestBatchedStepMatchesPerImage holds a training step with batched
// convolutions (the default) to the same step with the convolutions run
// image by image, for both built-in architectures, batch norms in training
// mode (batch statistics and running statistics updated), at batch 8 and
// at an odd batch: losses, parameter gradients and batch-norm statistics.
func TestBatchedStepMatchesPerImage(t *testing.T) {
	for _, name := range []string{"catnet64", "catsep64"} {
		for _, batch := range []int{8, 3} {
			t.Run(fmt.Sprintf("%s/batch%d", name, batch), func(t *testing.T) {
				a, _ := ArchByName(name)
				bat, _ := New(a, Options{MaxBatch: 8, Training: true})
				r := rand.New(rand.NewPCG(11, uint64(batch)))
				bat.Init(r)
				for i := range bat.Params {
					bat.Params[i] += 0.05 * float32(r.NormFloat64()) // nonzero biases, gammas off 1
				}
				per, _ := New(a, Options{MaxBatch: 8, Training: true})
				copy(per.Params, bat.Params)
				per.convPerImage = true
				x := make([]float32, batch*bat.InputLen())
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				y := make([]float32, batch)
				for i := range y {
					y[i] = float32(i % 2)
				}
				for step := range batchSteps { // the second with updated running statistics
					lb := bat.Gradients(x, y, nil)
					lp := per.Gradients(x, y, nil)
					closeRel(t, fmt.Sprintf("step %d loss", step), []float32{lb}, []float32{lp})
					closeRel(t, fmt.Sprintf("step %d gradients", step), bat.Grads, per.Grads)
					closeRel(t, fmt.Sprintf("step %d batch-norm statistics", step), bat.Buffers, per.Buffers)
					for i := range bat.Params {
						bat.Params[i] -= 0.01 * bat.Grads[i]
						per.Params[i] -= 0.01 * per.Grads[i]
					}
				}
			})
		}
	}
}

// closeRel fails unless every got[i] is within batchTol times the largest
// |want| of want[i].
func closeRel(t *testing.T, what string, got, want []float32) {
	t.Helper()
	scale, worst, at := 0.0, 0.0, 0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= worst) {
			worst, at = d, i
		}
	}
	if !(worst <= batchTol*scale) {
		t.Fatalf("%s: [%d] batched %v, per image %v: difference %.3g of the largest %.3g", what, at, got[at], want[at], worst, scale)
	}
	t.Logf("%s: largest difference %.3g of %.3g", what, worst, scale)
}

// TestBatchedStepAllocatesNothing checks that a training step at batch 16
// (batched convolutions, batch norms in training mode with their ReLUs,
// pools with theirs) and its SGD-momentum update allocate nothing, for both
// built-in architectures.
func TestBatchedStepAllocatesNothing(t *testing.T) {
	for _, name := range []string{"catnet64", "catsep64"} {
		t.Run(name, func(t *testing.T) {
			a, _ := ArchByName(name)
			n, _ := New(a, Options{MaxBatch: 16, Training: true})
			n.Init(rand.New(rand.NewPCG(5, 5)))
			x := make([]float32, 16*n.InputLen())
			r := rand.New(rand.NewPCG(6, 6))
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			y := make([]float32, 16)
			opt, _ := optim.New(optim.DefaultConfig(optim.KindMomentum), len(n.Params))
			if allocs := testing.AllocsPerRun(2, func() {
				n.Gradients(x, y, nil)
				opt.Step(n.Params, n.Grads, 0.01)
			}); allocs != 0 {
				t.Errorf("training step at batch 16 allocates %v times", allocs)
			}
		})
	}
}
