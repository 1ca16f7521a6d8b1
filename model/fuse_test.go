package model

import (
	"math/rand/v2"
	"testing"
)

// TestFusedReLUMatchesSeparate checks that convolutions applying their
// ReLU as they write (the default) give the same activations, logits and
// gradients as a separate ReLU pass, for both built-in architectures and
// the folded inference net.
func TestFusedReLUMatchesSeparate(t *testing.T) {
	for _, name := range []string{"catnet64", "catsep64"} {
		t.Run(name, func(t *testing.T) {
			a, _ := ArchByName(name)
			fused, _ := New(a, Options{MaxBatch: 2, Training: true})
			r := rand.New(rand.NewPCG(5, 7))
			fused.Init(r)
			for i := range fused.Params {
				fused.Params[i] += 0.1 * float32(r.NormFloat64()) // nonzero biases
			}
			sep, _ := New(a, Options{MaxBatch: 2, Training: true})
			copy(sep.Params, fused.Params)
			for i := range sep.layers {
				sep.layers[i].reluNext, sep.layers[i].reluDone = false, false
			}
			x := make([]float32, 2*fused.InputLen())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			y := []float32{1, 0}
			lf := fused.Gradients(x, y, nil)
			ls := sep.Gradients(x, y, nil)
			if lf != ls {
				t.Fatalf("loss %v fused, %v separate", lf, ls)
			}
			for i := range fused.acts {
				for j, v := range fused.acts[i] {
					if v != sep.acts[i][j] {
						t.Fatalf("layer %d (%s) output %d: %v fused, %v separate", i, a.Layers[i], j, v, sep.acts[i][j])
					}
				}
			}
			for i, g := range fused.Grads {
				if g != sep.Grads[i] {
					t.Fatalf("gradient %d: %v fused, %v separate", i, g, sep.Grads[i])
				}
			}
			f, err := fused.Folded(Options{MaxBatch: 2})
			if err != nil {
				t.Fatal(err)
			}
			fs, _ := fused.Folded(Options{MaxBatch: 2})
			nFused := 0
			for i := range fs.layers {
				if f.layers[i].reluNext {
					nFused++
				}
				fs.layers[i].reluNext, fs.layers[i].reluDone = false, false
			}
			// Every convolution of both (folded) architectures is followed
			// by a ReLU.
			if want := map[string]int{"catnet64": 4, "catsep64": 17}[name]; nFused != want {
				t.Fatalf("%d convolutions of the folded net fuse their ReLU, want %d", nFused, want)
			}
			zf := append([]float32(nil), f.Forward(x)...)
			zs := fs.Forward(x)
			for i := range zf {
				if zf[i] != zs[i] {
					t.Fatalf("folded logit %d: %v fused, %v separate", i, zf[i], zs[i])
				}
			}
		})
	}
}
