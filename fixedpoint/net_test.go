package fixedpoint

import (
	"math"
	"math/rand/v2"
	"testing"

	"catd/model"
)

// testArchs cover every layer kind the int8 net runs: fused and standalone
// ReLUs, strides, padding, 1×1 convolutions, a dense layer inside the net
// and a net ending without one.
var testArchs = []struct{ name, spec string }{
	{"sep", "input 3x13x11; conv 8 k3 s1 p1; bn; relu; maxpool 2; dwconv k3 s2 p1; bn; relu; conv 12 k1 s1 p0; bn; relu; gap; flatten; dense 1"},
	{"catnet", "input 3x16x16; conv 4 k3 s1 p1; relu; maxpool 2; conv 8 k3 s1 p1; relu; maxpool 2; conv 8 k3 s1 p1; relu; gap; flatten; dense 1"},
	{"dense inside", "input 3x9x9; conv 6 k3 s2 p0; relu; maxpool 2; relu; flatten; dense 5; relu; dense 3; dense 1"},
	{"no head", "input 3x8x8; dwconv k3 s1 p1; conv 1 k1 s1 p0; gap; relu; flatten"},
	{"classifier", "input 3x10x10; conv 5 k5 s1 p2; bn; maxpool 2; conv 7 k3 s2 p1; relu; gap; flatten; dense 4"},
}

// randomNet returns a float network of architecture spec with random
// weights, batch-norm statistics and normalisation, and its Info.
func randomNet(t testing.TB, spec string, seed uint64) (*model.Net, model.Info) {
	t.Helper()
	a, err := model.ParseArch(spec)
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.New(a, model.Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	n.Init(r)
	for i := range n.Params {
		n.Params[i] += float32(r.NormFloat64() * 0.05)
	}
	for i := range n.Buffers {
		n.Buffers[i] = float32(0.5 + r.Float64()) // running means and (positive) variances
	}
	info := model.DefaultInfo(a, "")
	for c := range 3 {
		info.Mean[c] += float32(r.Float64()*0.1 - 0.05)
		info.Std[c] += float32(r.Float64() * 0.05)
	}
	return n, info
}

// randomImages returns n images of h×w RGB: smooth gradients with noise,
// some saturated, so that activations spread like a photo's.
func randomImages(n, h, w int, seed uint64) [][]uint8 {
	r := rand.New(rand.NewPCG(seed, 11))
	imgs := make([][]uint8, n)
	for i := range imgs {
		im := make([]uint8, h*w*3)
		base := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
		gx, gy := r.NormFloat64()*10, r.NormFloat64()*10
		for y := range h {
			for x := range w {
				for c := range 3 {
					v := base[c] + gx*float64(x) + gy*float64(y) + r.NormFloat64()*20
					im[(y*w+x)*3+c] = uint8(min(max(v, 0), 255))
				}
			}
		}
		imgs[i] = im
	}
	return imgs
}

func flatten(imgs [][]uint8) []uint8 {
	var px []uint8
	for _, im := range imgs {
		px = append(px, im...)
	}
	return px
}

func quantizeTest(t testing.TB, spec string, seed uint64, maxBatch int) (*Net, *model.Net, model.Info, [][]uint8) {
	t.Helper()
	fn, info := randomNet(t, spec, seed)
	imgs := randomImages(24, fn.Arch.H, fn.Arch.W, seed)
	q, _, err := QuantizeNet(fn, info, imgs, DefaultCalibrateOptions, Options{MaxBatch: maxBatch})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fn.Folded(model.Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	return q, f, info, imgs
}

// refLogits composes the reference kernels (Conv2DRef and friends) layer
// by layer with n's parameters: what Logits must give bit for bit. It also
// returns every layer's int8 output (nil for the dense head).
func refLogits(n *Net, b int, px []uint8) ([]float32, [][]int8) {
	x := make([]int8, len(px))
	quantizeInput(x, px, &n.lut)
	cur := x
	outs := make([][]int8, len(n.layers))
	logits := make([]float32, b*n.outputs)
	for i := range n.layers {
		l := &n.layers[i]
		relu := reluNext(n.Arch, i)
		out := make([]int8, b*l.outDims.len())
		switch l.Kind {
		case model.Conv:
			rq, _ := l.requant(i, relu)
			Conv2DRef(l.conv.Geometry(), b, out, cur, l.w, l.bias, l.inQ.ZP, rq)
		case model.DWConv:
			rq, _ := l.requant(i, relu)
			DepthwiseConv2DRef(l.dw.Geometry(), b, out, cur, l.w, l.bias, l.inQ.ZP, rq)
		case model.MaxPool:
			MaxPool2Ref(l.pool, b, out, cur)
		case model.GlobalAvgPool:
			GlobalAvgPoolRef(l.gap, b, out, cur)
		case model.Dense:
			in := l.in.len()
			if l.head {
				for r := range b {
					for o := range l.Out {
						acc := int64(l.bias[o])
						for j := range in {
							acc += (int64(cur[r*in+j]) - int64(l.inQ.ZP)) * int64(l.w[o*in+j])
						}
						logits[r*l.Out+o] = float32(float64(int32(acc)) * float64(l.inQ.Scale) * float64(l.wScale[o]))
					}
				}
				return logits, outs
			}
			rq, _ := l.requant(i, relu)
			DenseRef(in, l.Out, b, out, cur, l.w, l.bias, l.inQ.ZP, rq)
		case model.ReLU:
			copy(out, cur)
			if !l.fused {
				for j, v := range out {
					out[j] = max(v, int8(l.inQ.ZP))
				}
			}
		case model.Flatten:
			copy(out, cur)
		}
		outs[i] = out
		cur = out
	}
	for j, v := range cur {
		logits[j] = dequantizeValue(v, n.out.Scale, n.out.ZP)
	}
	return logits, outs
}

// TestNetMatchesReferenceKernels holds Logits bit for bit to the
// composition of the reference kernels, batch by batch.
func TestNetMatchesReferenceKernels(t *testing.T) {
	for _, tc := range testArchs {
		t.Run(tc.name, func(t *testing.T) {
			q, _, _, imgs := quantizeTest(t, tc.spec, 1, 5)
			for _, b := range []int{1, 3, 5} {
				px := flatten(imgs[:b])
				got := make([]float32, b*q.Outputs())
				q.Logits(got, px)
				want, _ := refLogits(q, b, px)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("batch %d: logit %d = %v, reference kernels give %v", b, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestNetLayersWithinOneLSB checks each layer that requantizes against a
// float64 fake-quant reference on the same int8 input: the real result
// Σ s_in(x-zp_in) * s_w*w + s_in*s_w*b, divided by s_out, rounded and
// clamped, is within 1 LSB of the int8 output (the double rounding of
// TFLite's requantization costs at most that).
func TestNetLayersWithinOneLSB(t *testing.T) {
	for _, tc := range testArchs {
		t.Run(tc.name, func(t *testing.T) {
			q, _, _, imgs := quantizeTest(t, tc.spec, 2, 4)
			b := 4
			px := flatten(imgs[:b])
			_, outs := refLogits(q, b, px)
			x := make([]int8, len(px))
			quantizeInput(x, px, &q.lut)
			cur := x
			for i := range q.layers {
				l := &q.layers[i]
				if outs[i] == nil {
					break
				}
				if hasOut(q.Arch, i) {
					want := fakeQuant(l, b, cur, reluNext(q.Arch, i))
					worst := 0
					for j, v := range outs[i] {
						d := int(v) - int(want[j])
						worst = max(worst, d, -d)
					}
					if worst > 1 {
						t.Errorf("layer %d (%s): %d LSB from the float64 reference", i, l.Kind, worst)
					}
				}
				cur = outs[i]
			}
		})
	}
}

// fakeQuant computes layer l on b int8 images src in float64 from the real
// values of its quantized input, weights and biases, and quantizes the
// result with l's output parameters.
func fakeQuant(l *qlayer, b int, src []int8, relu bool) []int8 {
	in := func(j int) float64 { return float64(l.inQ.Scale) * float64(int32(src[j])-l.inQ.ZP) }
	w := func(o, j int) float64 { return float64(l.wScale[o]) * float64(l.w[j]) }
	bias := func(o int) float64 { return float64(l.inQ.Scale) * float64(l.wScale[o]) * float64(l.bias[o]) }
	od := l.outDims
	out := make([]int8, b*od.len())
	quant := func(k int, y float64) {
		v := math.Round(y/float64(l.outQ.Scale)) + float64(l.outQ.ZP)
		lo := -128.0
		if relu {
			lo = float64(l.outQ.ZP)
		}
		out[k] = int8(min(max(v, lo), 127))
	}
	id := l.in
	for n := range b {
		switch l.Kind {
		case model.Conv, model.DWConv:
			for oy := range od.h {
				for ox := range od.w {
					for oc := range od.c {
						y := bias(oc)
						for ky := range l.K {
							for kx := range l.K {
								iy, ix := oy*l.Stride-l.Pad+ky, ox*l.Stride-l.Pad+kx
								if iy < 0 || iy >= id.h || ix < 0 || ix >= id.w {
									continue
								}
								base := ((n*id.h+iy)*id.w + ix) * id.c
								if l.Kind == model.DWConv {
									y += in(base+oc) * w(oc, (ky*l.K+kx)*id.c+oc)
									continue
								}
								for ic := range id.c {
									y += in(base+ic) * w(oc, ((oc*l.K+ky)*l.K+kx)*id.c+ic)
								}
							}
						}
						quant(((n*od.h+oy)*od.w+ox)*od.c+oc, y)
					}
				}
			}
		case model.Dense:
			k := id.len()
			for o := range l.Out {
				y := bias(o)
				for j := range k {
					y += in(n*k+j) * w(o, o*k+j)
				}
				quant(n*l.Out+o, y)
			}
		case model.GlobalAvgPool:
			hw := id.h * id.w
			for c := range id.c {
				y := 0.0
				for p := range hw {
					y += in((n*hw+p)*id.c + c)
				}
				quant(n*id.c+c, y/float64(hw))
			}
		}
	}
	return out
}

// TestNetFollowsFloatModel compares the int8 logits with the float
// model's on images inside the calibrated ranges (the calibration saw
// them: an image beyond them saturates, which is calibration's business,
// tested on real photos by TestDefaultInt8OnSharedVal): within 2% of the float
// logits' spread plus 0.02, a loose bound that catches a wrong layout or
// scale (which gives errors of the order of the spread) while leaving room
// for the quantization noise of a small random network.
func TestNetFollowsFloatModel(t *testing.T) {
	for _, tc := range testArchs {
		t.Run(tc.name, func(t *testing.T) {
			q, f, info, imgs := quantizeTest(t, tc.spec, 3, 8)
			test := imgs[16:]
			px := flatten(test)
			got := make([]float32, len(test)*q.Outputs())
			q.Logits(got, px)
			x := make([]float32, len(px))
			info.NormalizePixels(x, px)
			want := f.Forward(x)
			lo, hi := want[0], want[0]
			for _, v := range want {
				lo, hi = min(lo, v), max(hi, v)
			}
			tol := 0.02*float64(hi-lo) + 0.02
			worst := 0.0
			for i := range want {
				worst = max(worst, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("float logits in [%.3f, %.3f]; int8 differs by at most %.4f (tolerance %.4f)", lo, hi, worst, tol)
			if worst > tol {
				t.Errorf("int8 logits differ from float32 by up to %.4f, tolerance %.4f", worst, tol)
			}
		})
	}
}

func TestNetPredictAllocatesNothing(t *testing.T) {
	q, _, _, imgs := quantizeTest(t, testArchs[0].spec, 4, 2)
	p := make([]float32, 2)
	px := flatten(imgs[:2])
	if a := testing.AllocsPerRun(20, func() { q.Predict(p, px) }); a != 0 {
		t.Errorf("Predict allocates %v times per call", a)
	}
	if a := testing.AllocsPerRun(20, func() { q.Predict(p[:1], px[:q.InputLen()]) }); a != 0 {
		t.Errorf("batch-1 Predict allocates %v times per call", a)
	}
	for _, v := range p {
		if !(v >= 0 && v <= 1) {
			t.Errorf("p(cat) = %v", v)
		}
	}
}

func TestNetPanicsOnWrongLengths(t *testing.T) {
	q, _, _, imgs := quantizeTest(t, testArchs[0].spec, 5, 2)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"partial image", func() { q.Predict(make([]float32, 1), imgs[0][1:]) }},
		{"batch too large", func() { q.Predict(make([]float32, 3), flatten(imgs[:3])) }},
		{"short destination", func() { q.Predict(make([]float32, 1), flatten(imgs[:2])) }},
		{"no images", func() { q.Logits(nil, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r, _ := recover().(string); len(r) < 12 || r[:12] != "fixedpoint: " {
					t.Errorf("panic %q, want one starting \"fixedpoint: \"", r)
				}
			}()
			tc.f()
		})
	}
}

func TestQParamsFor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi float32
		want   QParams
	}{
		{"relu", 0, 2.55, QParams{0.01, -128}},
		{"symmetric", -1.275, 1.275, QParams{0.01, 0}},
		{"all positive widens to 0", 1, 2.55, QParams{0.01, -128}},
		{"all negative widens to 0", -2.55, -1, QParams{0.01, 127}},
		{"empty", 0, 0, QParams{minScale, -128}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := qParamsFor(tc.lo, tc.hi)
			if math.Abs(float64(got.Scale-tc.want.Scale)) > 1e-7 || got.ZP != tc.want.ZP {
				t.Errorf("QParamsFor(%v, %v) = %+v, want %+v", tc.lo, tc.hi, got, tc.want)
			}
			// 0 is exact and the range's ends are within half a step.
			if v := dequantizeValue(int8(got.ZP), got.Scale, got.ZP); v != 0 {
				t.Errorf("0 quantizes to %v", v)
			}
		})
	}
}

// TestCalibratePercentile checks that percentile ranges clip a rare
// outlier that min/max keeps.
func TestCalibratePercentile(t *testing.T) {
	a, _ := model.ParseArch("input 3x8x8; conv 1 k1 s1 p0; gap; flatten")
	n, _ := model.New(a, model.Options{MaxBatch: 4})
	copy(n.Params, []float32{1, 0, 0, 0}) // the red channel
	info := model.DefaultInfo(a, "")
	info.Mean, info.Std = []float32{0, 0, 0}, []float32{1, 1, 1}
	imgs := make([][]uint8, 10)
	for i := range imgs {
		imgs[i] = make([]uint8, 8*8*3)
		for p := 0; p < len(imgs[i]); p += 3 {
			imgs[i][p] = uint8(p % 128)
		}
	}
	imgs[3][0] = 255 // one outlier in 640 pixels
	full, err := calibrate(n, info, imgs, CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clipped, err := calibrate(n, info, imgs, CalibrateOptions{Percentile: 99.5})
	if err != nil {
		t.Fatal(err)
	}
	if full.Layers[0].Max != 1 {
		t.Errorf("min/max calibration: conv range %v, want max 1", full.Layers[0])
	}
	if m := clipped.Layers[0].Max; m > 0.51 || m < 0.49 {
		t.Errorf("99.5th percentile calibration: conv range %v, want max about 127/255", clipped.Layers[0])
	}
	if _, err := calibrate(n, info, imgs, CalibrateOptions{Percentile: 30}); err == nil {
		t.Error("percentile 30 accepted")
	}
	if _, err := calibrate(n, info, [][]uint8{make([]uint8, 5)}, CalibrateOptions{}); err == nil {
		t.Error("a short image accepted")
	}
}

// TestEqualizeKeepsTheFunction checks that equalized nets compute what
// the nets they came from compute, and that the channel ranges of a
// tensor do come closer.
func TestEqualizeKeepsTheFunction(t *testing.T) {
	for _, tc := range testArchs {
		t.Run(tc.name, func(t *testing.T) {
			fn, info := randomNet(t, tc.spec, 12)
			f, err := fn.Folded(model.Options{MaxBatch: 8})
			if err != nil {
				t.Fatal(err)
			}
			imgs := randomImages(8, f.Arch.H, f.Arch.W, 12)
			e, err := equalize(f, info, imgs, 1)
			if err != nil {
				t.Fatal(err)
			}
			px := flatten(imgs)
			x := make([]float32, len(px))
			info.NormalizePixels(x, px)
			want := append([]float32(nil), f.Forward(x)...)
			got := e.Forward(x)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Errorf("output %d: %v equalized, %v before", i, got[i], want[i])
				}
			}
		})
	}
	fn, info := randomNet(t, testArchs[1].spec, 13)
	f, _ := fn.Folded(model.Options{MaxBatch: 8})
	imgs := randomImages(8, 16, 16, 13)
	e, _ := equalize(f, info, imgs, 1)
	spread := func(n *model.Net) float32 { // max/min of layer 0's channel maxima
		px := flatten(imgs)
		x := make([]float32, len(px))
		info.NormalizePixels(x, px)
		n.Forward(x)
		m := make([]float32, 4)
		for j, v := range n.LayerOutput(0) {
			m[j%4] = max(m[j%4], v)
		}
		lo, hi := m[0], m[0]
		for _, v := range m {
			lo, hi = min(lo, v), max(hi, v)
		}
		return hi / lo
	}
	if s0, s1 := spread(f), spread(e); s1 > 1.001 || s0 < 1.1 {
		t.Errorf("channel ranges spread %vx before and %vx after full equalization, want about 1 after", s0, s1)
	}
}

func TestNewNetRefusesUnfolded(t *testing.T) {
	fn, info := randomNet(t, testArchs[0].spec, 6)
	if _, err := calibrate(fn, info, randomImages(2, 13, 11, 1), CalibrateOptions{}); err == nil {
		t.Error("Calibrate took a net with batch norms")
	}
}

func BenchmarkNetPredict(b *testing.B) {
	for _, name := range []string{"catnet64", "catsep64"} {
		b.Run(name, func(b *testing.B) {
			a, _ := model.ArchByName(name)
			fn, err := model.New(a, model.Options{MaxBatch: 1})
			if err != nil {
				b.Fatal(err)
			}
			fn.Init(rand.New(rand.NewPCG(1, 2)))
			info := model.DefaultInfo(a, name)
			imgs := randomImages(8, a.H, a.W, 1)
			q, _, err := QuantizeNet(fn, info, imgs, CalibrateOptions{}, Options{MaxBatch: 1})
			if err != nil {
				b.Fatal(err)
			}
			p := make([]float32, 1)
			b.ReportAllocs()
			for b.Loop() {
				q.Predict(p, imgs[0])
			}
		})
	}
}
