package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"catd/optim"
	"catd/safetensors"
)

func TestCatnet64Shape(t *testing.T) {
	a, err := ArchByName("catnet64")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.ParamCount(); got != 24593 {
		t.Errorf("catnet64 has %d parameters, want 24,593", got)
	}
	if got := a.MACs(); got != 4423744 {
		t.Errorf("catnet64 has %d multiply-adds, want 4,423,744", got)
	}
	if a.C != 3 || a.H != 64 || a.W != 64 || len(a.Layers) != 14 {
		t.Errorf("catnet64 is %s", a)
	}
}

func TestParseArch(t *testing.T) {
	for _, tc := range []struct {
		name, spec, wantErr string
	}{
		{"catnet64", catnet64, ""},
		{"defaults and trailing semicolon", "input 1x8x8; conv 4; relu; gap; flatten; dense 1;", ""},
		{"flatten of a map", "input 2x4x4; conv 3 k3 p1 s2; flatten; dense 1", ""},
		{"no input", "conv 8; relu", "must start with"},
		{"bad input", "input 3x64; gap; flatten; dense 1", "not CxHxW"},
		{"unknown layer", "input 3x8x8; conv 8; swish; gap; flatten; dense 1", "unknown layer \"swish\""},
		{"dense without flatten", "input 3x8x8; gap; dense 1", "dense needs flatten"},
		{"classifier", "input 3x8x8; gap; flatten; dense 2", ""},
		{"ends in a map", "input 3x8x8; conv 4", "want logits"},
		{"mobile block", "input 3x16x16; conv 8 k3 s2 p1; bn; relu; dwconv k3 s1 p1; bn; relu; conv 16 k1; bn; relu; gap; flatten; dense 1", ""},
		{"bn after flatten", "input 3x8x8; gap; flatten; bn; dense 1", "batch norm after flatten"},
		{"dwconv with channels", "input 3x8x8; dwconv 8 k3; gap; flatten; dense 1", "unknown or repeated option \"8\""},
		{"pad too big", "input 3x8x8; conv 8 k3 p3; gap; flatten; dense 1", "padding 3"},
		{"kernel too big", "input 3x2x2; conv 8 k5; gap; flatten; dense 1", "larger than padded input"},
		{"pool too small", "input 3x1x1; maxpool 2; flatten; dense 1", "at least 2x2"},
		{"other pool size", "input 3x8x8; maxpool 3; gap; flatten; dense 1", "only \"maxpool 2\""},
		{"repeated option", "input 3x8x8; conv 8 k3 k5; gap; flatten; dense 1", "repeated option"},
		{"huge input", "input 3x100000x100000; gap; flatten; dense 1", "out of range"},
		{"huge conv", "input 4096x1024x1024; conv 4096; gap; flatten; dense 1", "too large"},
		{"empty layer", "input 3x8x8;; gap; flatten; dense 1", "layer 0 is empty"},
		{"name that is not built in", "catnet9000", "unknown architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ArchByName(tc.spec)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				b, err := ParseArch(a.String())
				if err != nil || b.String() != a.String() {
					t.Fatalf("round trip of %q gave %q, %v", a, b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseArch(f *testing.F) {
	f.Add(catnet64)
	f.Add("input 1x8x8; conv 4; relu; gap; flatten; dense 1;")
	f.Add("input 2x4x4; conv 3 k3 p1 s2; flatten; dense 1")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArch(s)
		if err != nil {
			return
		}
		b, err := ParseArch(a.String())
		if err != nil || b.String() != a.String() {
			t.Fatalf("accepted %q but its text %q gives %v", s, a, err)
		}
		if a.ParamCount() > maxParams {
			t.Fatalf("accepted %d parameters", a.ParamCount())
		}
	})
}

func TestBCEWithLogits(t *testing.T) {
	z := []float32{0, 2, -3, 100, -100}
	y := []float32{1, 0, 0, 1, 1}
	dz := make([]float32, len(z))
	loss := BCEWithLogits(dz, z, y, nil)
	want := 0.0
	for i := range z {
		p := 1 / (1 + math.Exp(-float64(z[i])))
		var l float64
		if y[i] == 1 {
			l = -math.Log(p)
		} else {
			l = -math.Log(1 - p)
		}
		if z[i] == -100 { // log(p) underflows in float64's naive form
			l = 100
		}
		want += l / float64(len(z))
		if g := (p - float64(y[i])) / float64(len(z)); math.Abs(float64(dz[i])-g) > 1e-7 {
			t.Errorf("dL/dz[%d] = %v, want %v", i, dz[i], g)
		}
	}
	if math.Abs(float64(loss)-want) > 1e-5*want {
		t.Errorf("loss %v, want %v", loss, want)
	}
	// Weights: a weight of 2 counts an example twice.
	l2 := BCEWithLogits(dz[:2], []float32{1, -1}, []float32{1, 0}, []float32{2, 1})
	l3 := BCEWithLogits(dz[:3], []float32{1, 1, -1}, []float32{1, 1, 0}, nil)
	if math.Abs(float64(l2-l3)) > 1e-7 {
		t.Errorf("weighted loss %v, repeated example loss %v", l2, l3)
	}
}

func TestSigmoidExtremes(t *testing.T) {
	for _, tc := range []struct{ z, want float32 }{{0, 0.5}, {1000, 1}, {-1000, 0}, {float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 0}} {
		if got := Sigmoid(tc.z); got != tc.want {
			t.Errorf("Sigmoid(%v) = %v, want %v", tc.z, got, tc.want)
		}
	}
}

// TestNetGradientFiniteDifferences checks the whole backward pass of a
// small network with every kind of layer against central differences of
// its loss.
func TestNetGradientFiniteDifferences(t *testing.T) {
	a, err := ParseArch("input 2x7x6; conv 3 k3 p1; relu; maxpool 2; conv 4 k3 s2 p1; relu; flatten; dense 3; relu; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(a, Options{MaxBatch: 3, Training: true})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	n.Init(r)
	for i := range n.Params {
		n.Params[i] += 0.05 * float32(r.NormFloat64()) // non-zero biases too
	}
	x := make([]float32, 3*n.InputLen())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := []float32{1, 0, 1}
	w := []float32{1, 2, 0.5}
	n.Gradients(x, y, w)
	grads := append([]float32(nil), n.Grads...)
	dz := make([]float32, 3)
	loss := func() float64 { return float64(BCEWithLogits(dz, n.Forward(x), y, w)) }
	checkGradients(t, n, grads, loss)
}

// checkGradients compares grads with central differences of loss in every
// parameter of n. A step can cross a ReLU kink or change a max-pool
// winner, so a handful (2%) of disagreeing parameters are allowed, no more.
func checkGradients(t *testing.T, n *Net, grads []float32, loss func() float64) {
	t.Helper()
	const h = 1e-3
	bad := 0
	for i := range n.Params {
		old := n.Params[i]
		n.Params[i] = old + h
		lp := loss()
		n.Params[i] = old - h
		lm := loss()
		n.Params[i] = old
		num := (lp - lm) / (2 * h)
		if math.Abs(num-float64(grads[i])) > 2e-3+2e-2*math.Abs(num) {
			bad++
			t.Logf("parameter %d: analytic %v, numeric %v", i, grads[i], num)
		}
	}
	if bad > len(n.Params)/50 {
		t.Errorf("%d of %d gradients disagree with finite differences", bad, len(n.Params))
	}
}

// TestMobileNetGradientFiniteDifferences checks backward through depthwise
// convolutions, batch norms in training mode (whose batch statistics depend
// on every example) and a softmax classifier head.
func TestMobileNetGradientFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name, arch string
		y          []float32
	}{
		{"binary", "input 3x8x8; conv 4 k3 s1 p1; bn; relu; dwconv k3 s2 p1; bn; relu; conv 6 k1; bn; relu; gap; flatten; dense 1", []float32{1, 0, 1}},
		{"classifier", "input 2x6x6; dwconv k3 p1; bn; relu; conv 5 k1; relu; gap; flatten; dense 4", []float32{3, 0, 2}},
		{"bn first", "input 2x5x5; bn; conv 3 k3; relu; flatten; dense 1", []float32{0, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseArch(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			n, err := New(a, Options{MaxBatch: 3, Training: true})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 5))
			n.Init(r)
			for i := range n.Params {
				n.Params[i] += 0.1 * float32(r.NormFloat64())
			}
			x := make([]float32, 3*n.InputLen())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			w := []float32{1, 2, 0.5}
			n.Gradients(x, tc.y, w)
			grads := append([]float32(nil), n.Grads...)
			k := a.Outputs()
			dz := make([]float32, 3*k)
			loss := func() float64 {
				z := n.forward(x, true)
				if k == 1 {
					return float64(BCEWithLogits(dz, z, tc.y, w))
				}
				return float64(SoftmaxCrossEntropy(dz, z, tc.y, w, k))
			}
			checkGradients(t, n, grads, loss)
		})
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	z := []float32{1, 2, 3, 1000, 0, -1000}
	y := []float32{2, 0}
	dz := make([]float32, 6)
	loss := SoftmaxCrossEntropy(dz, z, y, nil, 3)
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	want := (math.Log(e[0]+e[1]+e[2]) - 3 + 0) / 2 // the second example is certain and right
	if math.Abs(float64(loss)-want) > 1e-6 {
		t.Errorf("loss %v, want %v", loss, want)
	}
	if g := (e[2]/(e[0]+e[1]+e[2]) - 1) / 2; math.Abs(float64(dz[2])-g) > 1e-7 {
		t.Errorf("dL/dz[2] = %v, want %v", dz[2], g)
	}
	if dz[3] != 0 || dz[5] != 0 {
		t.Errorf("a certain right answer has gradient %v", dz[3:])
	}
}

func TestForwardIsBatchIndependent(t *testing.T) {
	a, _ := ArchByName("catnet64")
	n, _ := New(a, Options{MaxBatch: 3})
	n.Init(rand.New(rand.NewPCG(2, 2)))
	x := make([]float32, 3*n.InputLen())
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	batch := append([]float32(nil), n.Forward(x)...)
	for i := range 3 {
		one := n.Forward(x[i*n.InputLen() : (i+1)*n.InputLen()])
		if math.Abs(float64(one[0]-batch[i])) > 1e-5 {
			t.Errorf("image %d alone gives %v, in a batch %v", i, one[0], batch[i])
		}
	}
}

func TestZeroAllocsPerFrameAndStep(t *testing.T) {
	a, _ := ArchByName("catnet64")
	n, _ := New(a, Options{MaxBatch: 4, Training: true})
	n.Init(rand.New(rand.NewPCG(3, 3)))
	x := make([]float32, 4*n.InputLen())
	y := []float32{1, 0, 0, 1}
	p := make([]float32, 1)
	info := DefaultInfo(a, "catnet64")
	px := make([]uint8, n.InputLen())
	for _, kind := range []optim.Kind{optim.KindSGD, optim.KindMomentum, optim.KindAdam} {
		opt, _ := optim.New(optim.DefaultConfig(kind), len(n.Params))
		if allocs := testing.AllocsPerRun(3, func() {
			n.Gradients(x, y, nil)
			opt.Step(n.Params, n.Grads, 0.01)
		}); allocs != 0 {
			t.Errorf("%s training step allocates %v times", kind, allocs)
		}
	}
	if allocs := testing.AllocsPerRun(5, func() {
		info.NormalizePixels(x[:len(px)], px)
		n.Predict(p, x[:n.InputLen()])
	}); allocs != 0 {
		t.Errorf("inference allocates %v times per frame", allocs)
	}
}

func TestModelFileRoundTrip(t *testing.T) {
	a, err := ArchByName("input 2x4x4; conv 3 k3 p1 s2; bn; relu; dwconv k3 p1; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := New(a, Options{MaxBatch: 1})
	r := rand.New(rand.NewPCG(4, 4))
	n.Init(r)
	for i := range n.Buffers {
		n.Buffers[i] = 0.5 + r.Float32()
	}
	info := DefaultInfo(a, "")
	info.Threshold = 0.37
	info.Extra = map[string]string{"trained_on": "test"}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := n.WriteFile(path, info); err != nil {
		t.Fatal(err)
	}
	m, got, err := ReadFile(path, Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Params {
		if m.Params[i] != n.Params[i] {
			t.Fatalf("parameter %d: %v after round trip, was %v", i, m.Params[i], n.Params[i])
		}
	}
	for i := range n.Buffers {
		if m.Buffers[i] != n.Buffers[i] {
			t.Fatalf("running statistic %d: %v after round trip, was %v", i, m.Buffers[i], n.Buffers[i])
		}
	}
	if got.Threshold != 0.37 || got.Extra["trained_on"] != "test" || got.Mean[1] != 0.5 {
		t.Errorf("info after round trip: %+v", got)
	}
}

// badFile returns a model file made from a valid one by edit.
func badFile(t *testing.T, edit func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor) []byte {
	a, _ := ArchByName("catnet64")
	n, _ := New(a, Options{MaxBatch: 1})
	md := n.Metadata(DefaultInfo(a, "catnet64"))
	ts := edit(md, n.Tensors())
	var b bytes.Buffer
	if err := safetensors.Encode(&b, md, ts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBadModelFiles(t *testing.T) {
	good := badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor { return ts })
	for _, tc := range []struct {
		name    string
		file    []byte
		wantErr string
	}{
		{"truncated", good[:len(good)-10], "safetensors"},
		{"empty", nil, "safetensors"},
		{"no arch", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			delete(md, "arch")
			return ts
		}), "no \"arch\""},
		{"other format", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["format"] = "pt"
			return ts
		}), "format \"pt\""},
		{"newer version", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["version"] = "2"
			return ts
		}), "version \"2\""},
		{"unknown layer", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["arch"] = strings.Replace(md["arch"], "relu", "gelu", 1)
			return ts
		}), "unknown layer \"gelu\""},
		{"missing tensor", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			return ts[1:]
		}), "\"0.weight\" (layer 0, conv) is missing"},
		{"wrong shape", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2] = safetensors.FromFloat32("3.weight", []int{16, 8, 1, 9}, make([]float32, 16*8*9))
			return ts
		}), "\"3.weight\" has shape [16 8 1 9], want [16 8 3 3]"},
		{"NaN", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			binary.LittleEndian.PutUint32(ts[1].Data[4*3:], math.Float32bits(float32(math.NaN())))
			return ts
		}), "\"0.bias\" holds NaN at index 3"},
		{"infinity", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			binary.LittleEndian.PutUint32(ts[8].Data, math.Float32bits(float32(math.Inf(-1))))
			return ts
		}), "\"13.weight\" holds -Inf at index 0"},
		{"integer weights", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			ts[9] = safetensors.FromInt32("13.bias", []int{1}, []int32{1})
			return ts
		}), "dtype is I32"},
		{"extra tensor", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.FromFloat32("14.weight", []int{1}, []float32{1}))
		}), "unexpected tensor \"14.weight\""},
		{"threshold out of range", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["threshold"] = "1.5"
			return ts
		}), "threshold \"1.5\""},
		{"mean of two channels", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["mean"] = "0.5,0.5"
			return ts
		}), "mean \"0.5,0.5\" has 2 values"},
		{"zero std", badFile(t, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md["std"] = "0.2,0,0.2"
			return ts
		}), "above 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.file, Options{MaxBatch: 1})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReadFileNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.safetensors")
	if err := os.WriteFile(path, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(path, Options{MaxBatch: 1}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"torch_catnet64_init.safetensors", "torch_trained.safetensors"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	a, _ := ArchByName("input 1x2x2; flatten; dense 1")
	small, _ := New(a, Options{MaxBatch: 1})
	b, _ := small.Bytes(DefaultInfo(a, ""))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		n, info, err := Decode(b, Options{MaxBatch: 1})
		if err != nil {
			return
		}
		// Whatever loads must infer and save again.
		x := make([]float32, n.InputLen())
		p := make([]float32, 1)
		n.Predict(p, x)
		if _, err := n.Bytes(info); err != nil {
			t.Fatal(err)
		}
	})
}

func ExampleArchByName() {
	a, _ := ArchByName("catnet64")
	fmt.Println(a.ParamCount(), "parameters,", a.MACs(), "multiply-adds")
	fmt.Println(a)
	// Output:
	// 24593 parameters, 4423744 multiply-adds
	// input 3x64x64; conv 8 k3 s1 p1; relu; maxpool 2; conv 16 k3 s1 p1; relu; maxpool 2; conv 32 k3 s1 p1; relu; maxpool 2; conv 64 k3 s1 p1; relu; gap; flatten; dense 1
}

func TestFoldedMatchesUnfolded(t *testing.T) {
	a, _ := ArchByName("input 3x16x16; conv 8 k3 s1 p1; bn; relu; dwconv k3 s2 p1; bn; relu; conv 12 k1; bn; relu; bn; gap; flatten; dense 1")
	n, _ := New(a, Options{MaxBatch: 2})
	r := rand.New(rand.NewPCG(9, 9))
	n.Init(r)
	for i := range n.Params {
		n.Params[i] += 0.2 * float32(r.NormFloat64())
	}
	for i := range n.Buffers {
		n.Buffers[i] = 0.3 + r.Float32() // running means and (positive) variances
	}
	f, err := n.Folded(Options{MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Arch.Layers), len(a.Layers)-3; got != want {
		t.Fatalf("folded net has %d layers, want %d (the bn after relu stays)", got, want)
	}
	x := make([]float32, 2*n.InputLen())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	want := append([]float32(nil), n.Forward(x)...)
	got := f.Forward(x)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*max(1, math.Abs(float64(want[i]))) {
			t.Errorf("logit %d: folded %v, unfolded %v", i, got[i], want[i])
		}
	}
}

// TestBCEWithAux checks the multi-task loss against its two parts computed
// by BCEWithLogits and SoftmaxCrossEntropy, its gradient by central
// differences in float64, and that chunks of a batch, each normalised by the
// whole batch, add up to the batch.
func TestBCEWithAux(t *testing.T) {
	const k, n, lambda = 4, 6, 0.7
	r := rand.New(rand.NewPCG(3, 4))
	z := make([]float32, n*(1+k))
	for i := range z {
		z[i] = float32(r.NormFloat64() * 2)
	}
	y := []float32{1, 0, 0, 1, 0, 0}
	w := []float32{3, 1, 1, 3, 1, 1}
	cls := []float32{0, 3, 2, 0, 1, 3}
	wSum := 10.0
	dz := make([]float32, len(z))
	loss := BCEWithAux(dz, z, y, w, cls, k, lambda, wSum, n)

	// The parts, from the single-task losses.
	z0, zc := make([]float32, n), make([]float32, n*k)
	for i := range n {
		z0[i] = z[i*(1+k)]
		copy(zc[i*k:(i+1)*k], z[i*(1+k)+1:(i+1)*(1+k)])
	}
	d0, dc := make([]float32, n), make([]float32, n*k)
	want := float64(BCEWithLogits(d0, z0, y, w)) + lambda*float64(SoftmaxCrossEntropy(dc, zc, cls, nil, k))
	if math.Abs(float64(loss)-want) > 1e-5 {
		t.Errorf("loss %v, want BCE + %v CE = %v", loss, lambda, want)
	}
	for i := range n {
		if g := dz[i*(1+k)]; math.Abs(float64(g-d0[i])) > 1e-7 {
			t.Errorf("example %d: dL/dcat %v, want %v", i, g, d0[i])
		}
		for j := range k {
			if g, wantG := dz[i*(1+k)+1+j], lambda*dc[i*k+j]; math.Abs(float64(g-wantG)) > 1e-7 {
				t.Errorf("example %d: dL/dclass%d %v, want %v", i, j, g, wantG)
			}
		}
	}

	// Central differences.
	scratch := make([]float32, len(z))
	for i := range z {
		const h = 1e-2
		zz := slices.Clone(z)
		zz[i] = z[i] + h
		up := float64(BCEWithAux(scratch, zz, y, w, cls, k, lambda, wSum, n))
		zz[i] = z[i] - h
		down := float64(BCEWithAux(scratch, zz, y, w, cls, k, lambda, wSum, n))
		if fd := (up - down) / (2 * h); math.Abs(fd-float64(dz[i])) > 2e-4 {
			t.Errorf("logit %d: dL/dz %v, finite difference %v", i, dz[i], fd)
		}
	}

	// Two chunks normalised by the whole batch add up to it.
	s := 1 + k
	a := BCEWithAux(scratch[:3*s], z[:3*s], y[:3], w[:3], cls[:3], k, lambda, wSum, n)
	b := BCEWithAux(scratch[3*s:], z[3*s:], y[3:], w[3:], cls[3:], k, lambda, wSum, n)
	if math.Abs(float64(a+b-loss)) > 1e-6 {
		t.Errorf("chunks sum to %v, the batch is %v", a+b, loss)
	}
	if !slices.Equal(scratch, dz) {
		t.Error("chunks' gradients differ from the batch's")
	}
}

// TestCopyOutputs checks that a one-output network made from a multi-output
// one's backbone and first output computes exactly that output, and that
// outputs can be copied into place from another network.
func TestCopyOutputs(t *testing.T) {
	const spec = "input 3x8x8; conv 4 k3 s1 p1; bn; relu; gap; flatten; dense 5"
	big, err := ArchByName(spec)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := big.WithOutputs(1)
	src, _ := New(big, Options{MaxBatch: 2})
	src.Init(rand.New(rand.NewPCG(1, 2)))
	for i := range src.Buffers {
		src.Buffers[i] += 0.5 // running statistics that are not the defaults
	}
	dst, _ := New(one, Options{MaxBatch: 2})
	if err := dst.CopyBackbone(src); err != nil {
		t.Fatal(err)
	}
	if err := dst.CopyOutputs(0, src, 0, 1); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*src.InputLen())
	r := rand.New(rand.NewPCG(5, 6))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	zs := slices.Clone(src.Forward(x))
	zd := dst.Forward(x)
	for i := range 2 {
		if math.Abs(float64(zd[i]-zs[i*5])) > 1e-5*(1+math.Abs(float64(zs[i*5]))) { // kernels may sum in another order
			t.Errorf("image %d: one-output net %v, first output of the five %v", i, zd[i], zs[i*5])
		}
	}

	// Outputs 1..4 of another five-output net from src's outputs 0..3.
	other, _ := New(big, Options{MaxBatch: 2})
	if err := other.CopyBackbone(src); err != nil {
		t.Fatal(err)
	}
	if err := other.CopyOutputs(1, src, 0, 4); err != nil {
		t.Fatal(err)
	}
	zo := other.Forward(x)
	for i := range 2 {
		for j := range 4 {
			if math.Abs(float64(zo[i*5+1+j]-zs[i*5+j])) > 1e-5*(1+math.Abs(float64(zs[i*5+j]))) {
				t.Errorf("image %d output %d: %v, want src's output %d %v", i, 1+j, zo[i*5+1+j], j, zs[i*5+j])
			}
		}
	}

	for _, c := range [][3]int{{0, 0, 2}, {1, 0, 1}, {0, 4, 2}, {0, -1, 1}} {
		if err := dst.CopyOutputs(c[0], src, c[1], c[2]); err == nil {
			t.Errorf("CopyOutputs(%d, src, %d, %d) into one output: no error", c[0], c[1], c[2])
		}
	}
	otherArch, _ := ArchByName("input 3x8x8; conv 6 k3 s1 p1; bn; relu; gap; flatten; dense 5")
	o, _ := New(otherArch, Options{MaxBatch: 1})
	if err := dst.CopyOutputs(0, o, 0, 1); err == nil {
		t.Error("CopyOutputs from a different backbone: no error")
	}
}

// TestWeightsOnly: a weights-only net holds the same weights and folds to
// the same network as a full one, costs no workspace, and refuses to run.
func TestWeightsOnly(t *testing.T) {
	a, _ := ArchByName("catsep64")
	full, _ := New(a, Options{MaxBatch: 1})
	full.Init(rand.New(rand.NewPCG(1, 1)))
	lean, err := New(a, Options{MaxBatch: 1, WeightsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	copy(lean.Params, full.Params)
	copy(lean.Buffers, full.Buffers)
	if w := lean.WorkspaceBytes(); w != 0 {
		t.Errorf("weights-only workspace %d bytes", w)
	}
	ff, _ := full.Folded(Options{MaxBatch: 1})
	lf, err := lean.Folded(Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ff.Params, lf.Params) {
		t.Error("folding a weights-only net gives other weights")
	}
	x := make([]float32, full.InputLen())
	if !slices.Equal(ff.Forward(x), lf.Forward(x)) {
		t.Error("the folded copies differ")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "weights-only") {
				t.Errorf("Forward on a weights-only net: %v", r)
			}
		}()
		lean.Forward(x)
	}()
	if _, err := New(a, Options{MaxBatch: 1, WeightsOnly: true, Training: true}); err == nil {
		t.Error("a weights-only training net was built")
	}
}
