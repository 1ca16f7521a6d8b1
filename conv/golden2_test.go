package conv

import (
	"encoding/json"
	"fmt"
	"testing"

	"catd/safetensors"
)

// testdata/torch_layers2.safetensors is written by
// scripts/torch_golden_layers2.py (make golden): PyTorch's depthwise
// convolution and batch normalisation, outputs and gradients of sum(y*gy)
// computed in float64, in PyTorch's layouts.

func torchFile2(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile("testdata/torch_layers2.safetensors", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func metaJSON(t *testing.T, f *safetensors.File, key string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(f.Metadata[key]), v); err != nil {
		t.Fatalf("metadata %s = %q: %v", key, f.Metadata[key], err)
	}
}

func TestDepthwiseMatchesPyTorch(t *testing.T) {
	f := torchFile2(t)
	for i := range cases(t, f, "dw_cases") {
		p := fmt.Sprintf("dw%d.", i)
		var geo struct{ Stride, Pad int }
		metaJSON(t, f, fmt.Sprintf("dw%d", i), &geo)
		x, xs := getNHWC(t, f, p+"x")
		wt, ws := get(t, f, p+"w")
		t.Run(fmt.Sprintf("%d_%v_k%d_s%d_p%d", i, xs, ws[2], geo.Stride, geo.Pad), func(t *testing.T) {
			n, c, h, w := xs[0], xs[1], xs[2], xs[3]
			d, err := NewDepthwiseConv2D(h, w, c, ws[2], geo.Stride, geo.Pad)
			if err != nil {
				t.Fatal(err)
			}
			wh := make([]float32, len(wt))
			DepthwiseFromTorch(wh, wt, c, d.K)
			b, _ := get(t, f, p+"b")
			y := make([]float32, n*d.OutLen())
			d.Forward(y, x, wh, b)
			wy, _ := getNHWC(t, f, p+"y")
			torchClose(t, "y", y, wy)

			gy, _ := getNHWC(t, f, p+"gy")
			gx := make([]float32, len(x))
			gw := make([]float32, len(wh))
			gb := make([]float32, len(b))
			d.Backward(gx, gw, gb, x, wh, gy)
			wgx, _ := getNHWC(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
			wgwT, _ := get(t, f, p+"gw")
			wgw := make([]float32, len(wgwT))
			DepthwiseFromTorch(wgw, wgwT, c, d.K)
			torchClose(t, "gw", gw, wgw)
			wgb, _ := get(t, f, p+"gb")
			torchClose(t, "gb", gb, wgb)
		})
	}
}

func TestBatchNormMatchesPyTorch(t *testing.T) {
	f := torchFile2(t)
	for i := range cases(t, f, "bn_cases") {
		p := fmt.Sprintf("bn%d.", i)
		var hyper struct{ Eps, Momentum float32 }
		metaJSON(t, f, fmt.Sprintf("bn%d", i), &hyper)
		x, xs := getNHWC(t, f, p+"x")
		t.Run(fmt.Sprintf("train%d_%v_eps%g_mom%g", i, xs, hyper.Eps, hyper.Momentum), func(t *testing.T) {
			bn := BatchNorm{C: xs[1], Eps: hyper.Eps, Momentum: hyper.Momentum}
			gamma, _ := get(t, f, p+"gamma")
			beta, _ := get(t, f, p+"beta")
			rm, _ := get(t, f, p+"rm0")
			rv, _ := get(t, f, p+"rv0")
			sm, si := make([]float32, bn.C), make([]float32, bn.C)
			y := make([]float32, len(x))
			bn.TrainForward(y, x, gamma, beta, rm, rv, sm, si)
			wy, _ := getNHWC(t, f, p+"y")
			torchClose(t, "y", y, wy)
			wrm, _ := get(t, f, p+"rm1")
			torchClose(t, "running mean", rm, wrm)
			wrv, _ := get(t, f, p+"rv1")
			torchClose(t, "running var", rv, wrv)

			gy, _ := getNHWC(t, f, p+"gy")
			gx := make([]float32, len(x))
			gg, gb := make([]float32, bn.C), make([]float32, bn.C)
			bn.Backward(gx, gg, gb, x, gamma, sm, si, gy)
			wgx, _ := getNHWC(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
			wgg, _ := get(t, f, p+"ggamma")
			torchClose(t, "ggamma", gg, wgg)
			wgb, _ := get(t, f, p+"gbeta")
			torchClose(t, "gbeta", gb, wgb)
		})
	}
	t.Run("eval", func(t *testing.T) {
		var hyper struct{ Eps float32 }
		metaJSON(t, f, "bneval", &hyper)
		x, xs := getNHWC(t, f, "bneval.x")
		gamma, _ := get(t, f, "bneval.gamma")
		beta, _ := get(t, f, "bneval.beta")
		rm, _ := get(t, f, "bneval.rm")
		rv, _ := get(t, f, "bneval.rv")
		bn := BatchNorm{C: xs[1], Eps: hyper.Eps}
		bn.InferForward(x, x, gamma, beta, rm, rv) // in place
		wy, _ := getNHWC(t, f, "bneval.y")
		torchClose(t, "y", x, wy)
	})
}
