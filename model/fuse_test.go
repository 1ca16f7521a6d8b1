package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestFusedReLUMatchesSeparate checks that convolutions and batch norms
// applying their ReLU as they write (the default; batch norms also take
// the ReLU's backward pass, as max pools after a ReLU do) give the same activations, logits and
// gradients as a separate ReLU pass, for both built-in architectures, in
// training and inference, and the folded inference net.
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
			nBN := 0
			for i := range sep.layers {
				if fused.layers[i].Kind == BatchNorm && fused.layers[i].reluNext && fused.layers[i+1].gradDone {
					nBN++
				}
				sep.layers[i].reluNext, sep.layers[i].reluDone, sep.layers[i].gradDone, sep.layers[i].reluPrev = false, false, false, false
			}
			if want := map[string]int{"catnet64": 0, "catsep64": 17}[name]; nBN != want {
				t.Fatalf("%d batch norms fuse their ReLU, want %d", nBN, want)
			}
			nPool := 0
			for i := range fused.layers {
				if fused.layers[i].reluPrev && fused.layers[i-1].gradDone {
					nPool++
				}
			}
			if want := map[string]int{"catnet64": 3, "catsep64": 0}[name]; nPool != want {
				t.Fatalf("%d max pools take their ReLU's backward pass, want %d", nPool, want)
			}
			x := make([]float32, 2*fused.InputLen())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			y := []float32{1, 0}
			lf := fused.Gradients(x, y, nil)
			ls := sep.Gradients(x, y, nil)
			if name == "catsep64" {
				// A batch norm with its ReLU computes its output and input
				// gradient in vector registers, rounding otherwise than
				// the separate passes (conv's TestBatchNormReLUFused).
				closeRel(t, "loss", []float32{lf}, []float32{ls})
				for i := range fused.acts {
					closeRel(t, fmt.Sprintf("layer %d (%s) output", i, a.Layers[i]), fused.acts[i], sep.acts[i])
				}
				closeRel(t, "gradients", fused.Grads, sep.Grads)
			} else {
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
			}
			// Inference from the same running statistics.
			copy(sep.Buffers, fused.Buffers)
			zf := append([]float32(nil), fused.Forward(x)...)
			zs := sep.Forward(x)
			for i := range zf {
				if zf[i] != zs[i] {
					t.Fatalf("inference logit %d: %v fused, %v separate", i, zf[i], zs[i])
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
			zf = append(zf[:0], f.Forward(x)...)
			zs = fs.Forward(x)
			for i := range zf {
				if zf[i] != zs[i] {
					t.Fatalf("folded logit %d: %v fused, %v separate", i, zf[i], zs[i])
				}
			}
		})
	}
}
