package conv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"catd/conv/convtest"
	"catd/safetensors"
)

// testdata/torch_conv.safetensors is written by scripts/torch_golden.py
// (make golden): PyTorch's outputs and gradients of sum(y*gy), computed in
// float64, in PyTorch's layouts.

func torchFile(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile("testdata/torch_conv.safetensors", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func get(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	ts, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	v, err := ts.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v, ts.Shape
}

// getNHWC reads an NCHW tensor into NHWC.
func getNHWC(t *testing.T, f *safetensors.File, name string) ([]float32, [4]int) {
	v, s := get(t, f, name)
	out := make([]float32, len(v))
	convtest.NCHWToNHWC(out, v, s[0], s[1], s[2], s[3])
	return out, [4]int{s[0], s[1], s[2], s[3]}
}

// torchClose checks got against PyTorch's want to 1e-4 of want's largest
// magnitude.
func torchClose(t *testing.T, name string, got, want []float32) {
	t.Helper()
	w := make([]float64, len(want))
	for i, v := range want {
		w[i] = float64(v)
	}
	closeTo(t, name, got, w, 1e-4)
}

func cases(t *testing.T, f *safetensors.File, key string) int {
	n, err := strconv.Atoi(f.Metadata[key])
	if err != nil || n < 1 {
		t.Fatalf("metadata %s = %q", key, f.Metadata[key])
	}
	return n
}

func TestConvMatchesPyTorch(t *testing.T) {
	f := torchFile(t)
	for i := range cases(t, f, "conv_cases") {
		p := fmt.Sprintf("conv%d.", i)
		var geo struct{ Stride, Pad int }
		if err := json.Unmarshal([]byte(f.Metadata[fmt.Sprintf("conv%d", i)]), &geo); err != nil {
			t.Fatal(err)
		}
		x, xs := getNHWC(t, f, p+"x")
		wt, ws := get(t, f, p+"w")
		t.Run(fmt.Sprintf("%d_%v_w%v_s%d_p%d", i, xs, ws, geo.Stride, geo.Pad), func(t *testing.T) {
			n, ic, h, w := xs[0], xs[1], xs[2], xs[3]
			c, err := NewConv2D(h, w, ic, ws[0], ws[2], geo.Stride, geo.Pad)
			if err != nil {
				t.Fatal(err)
			}
			wh := make([]float32, len(wt))
			OIHWToHWIO(wh, wt, ws[0], ws[1], ws[2], ws[3])
			b, _ := get(t, f, p+"b")
			work := make([]float32, c.WorkLen())
			y := make([]float32, n*c.OutLen())
			c.Forward(y, x, wh, b, work)
			wy, _ := getNHWC(t, f, p+"y")
			torchClose(t, "y", y, wy)

			gy, _ := getNHWC(t, f, p+"gy")
			gx := make([]float32, len(x))
			gw := make([]float32, len(wh))
			gb := make([]float32, len(b))
			c.Backward(gx, gw, gb, x, wh, gy, work)
			wgx, _ := getNHWC(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
			wgwT, _ := get(t, f, p+"gw")
			wgw := make([]float32, len(wgwT))
			OIHWToHWIO(wgw, wgwT, ws[0], ws[1], ws[2], ws[3])
			torchClose(t, "gw", gw, wgw)
			wgb, _ := get(t, f, p+"gb")
			torchClose(t, "gb", gb, wgb)
		})
	}
}

func TestPoolingAndDenseMatchPyTorch(t *testing.T) {
	f := torchFile(t)
	for i := range cases(t, f, "pool_cases") {
		p := fmt.Sprintf("pool%d.", i)
		t.Run(p, func(t *testing.T) {
			x, s := getNHWC(t, f, p+"x")
			pool := MaxPool2{H: s[2], W: s[3], C: s[1]}
			y := make([]float32, s[0]*pool.OutLen())
			pool.Forward(y, x)
			wy, _ := getNHWC(t, f, p+"y")
			torchClose(t, "y", y, wy)
			gy, _ := getNHWC(t, f, p+"gy")
			gx := make([]float32, len(x))
			pool.Backward(gx, gy, x)
			wgx, _ := getNHWC(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
		})
	}
	for i := range cases(t, f, "gap_cases") {
		p := fmt.Sprintf("gap%d.", i)
		t.Run(p, func(t *testing.T) {
			x, s := getNHWC(t, f, p+"x")
			g := GlobalAvgPool{H: s[2], W: s[3], C: s[1]}
			y := make([]float32, s[0]*s[1])
			g.Forward(y, x)
			wy, _ := get(t, f, p+"y")
			torchClose(t, "y", y, wy)
			gy, _ := get(t, f, p+"gy")
			gx := make([]float32, len(x))
			g.Backward(gx, gy)
			wgx, _ := getNHWC(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
		})
	}
	for i := range cases(t, f, "fc_cases") {
		p := fmt.Sprintf("fc%d.", i)
		t.Run(p, func(t *testing.T) {
			x, xs := get(t, f, p+"x")
			wt, ws := get(t, f, p+"w")
			d := Dense{In: xs[1], Out: ws[0]}
			w := make([]float32, len(wt))
			OIHWToHWIO(w, wt, ws[0], ws[1], 1, 1)
			b, _ := get(t, f, p+"b")
			y := make([]float32, xs[0]*d.Out)
			d.Forward(y, x, w, b)
			wy, _ := get(t, f, p+"y")
			torchClose(t, "y", y, wy)
			gy, _ := get(t, f, p+"gy")
			gx := make([]float32, len(x))
			gw := make([]float32, len(w))
			gb := make([]float32, len(b))
			d.Backward(gx, gw, gb, x, w, gy, make([]float32, d.WorkLen()))
			wgx, _ := get(t, f, p+"gx")
			torchClose(t, "gx", gx, wgx)
			wgwT, _ := get(t, f, p+"gw")
			wgw := make([]float32, len(wgwT))
			OIHWToHWIO(wgw, wgwT, ws[0], ws[1], 1, 1)
			torchClose(t, "gw", gw, wgw)
			wgb, _ := get(t, f, p+"gb")
			torchClose(t, "gb", gb, wgb)
		})
	}
	t.Run("relu", func(t *testing.T) {
		x, _ := get(t, f, "relu.x")
		y := make([]float32, len(x))
		ReLU(y, x)
		wy, _ := get(t, f, "relu.y")
		torchClose(t, "y", y, wy)
		gy, _ := get(t, f, "relu.gy")
		gx := make([]float32, len(x))
		ReLUBackward(gx, gy, y)
		wgx, _ := get(t, f, "relu.gx")
		for i := range gx {
			if gx[i] != wgx[i] {
				t.Fatalf("gx[%d] = %v, PyTorch %v (x = %v)", i, gx[i], wgx[i], x[i])
			}
		}
	})
}
