package learn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"catd/dataset"
	"catd/model"
)

// importanceSet is n labelled side×side images, alternating cat and not.
func importanceSet(n int) *dataset.Set {
	rng := rand.New(rand.NewPCG(3, 4))
	s := &dataset.Set{W: side, H: side}
	for i := range n {
		ex := example(i%2 == 0, i, rng)
		s.Pixels = append(s.Pixels, ex.Pixels...)
		s.Labels = append(s.Labels, ex.Cat)
	}
	return s
}

// The importance is the Fisher information of the cat output, checked
// against the logit's derivative by central differences, parameter by
// parameter: each class's images weigh half, each image p(1-p) (dz/dθ)².
func TestImportanceIsFisher(t *testing.T) {
	a, err := model.ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.New(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(rand.New(rand.NewPCG(5, 6)))
	info := model.DefaultInfo(a, "")
	set := importanceSet(6)
	got, err := Importance(net, info, set, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(net.Params) {
		t.Fatalf("%d values for %d parameters", len(got), len(net.Params))
	}
	x := make([]float32, net.InputLen())
	logit := func(i int) float64 {
		info.NormalizePixels(x, set.Image(i))
		return float64(net.Forward(x)[0])
	}
	want := make([]float64, len(net.Params))
	const h = 1e-3
	for i := range set.Len() {
		z := logit(i)
		p := 1 / (1 + math.Exp(-z))
		for j := range net.Params {
			v := net.Params[j]
			net.Params[j] = v + h
			zp := logit(i)
			net.Params[j] = v - h
			zm := logit(i)
			net.Params[j] = v
			d := (zp - zm) / (2 * h)
			want[j] += 0.5 / 3 * p * (1 - p) * d * d
		}
	}
	var sum, errSum float64
	for j := range want {
		sum += want[j]
		errSum += math.Abs(float64(got[j]) - want[j])
		if d := math.Abs(float64(got[j]) - want[j]); d > 0.05*want[j]+1e-5 {
			t.Errorf("parameter %d: importance %g, finite differences %g", j, got[j], want[j])
		}
	}
	if !(sum > 0) || errSum > 0.01*sum {
		t.Errorf("importance off by %g in all, of %g", errSum, sum)
	}
}

func TestImportanceRefusesWhatItCannotMeasure(t *testing.T) {
	a, _ := model.ParseArch(arch)
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	info := model.DefaultInfo(a, "")
	cats := importanceSet(1) // one cat, no non-cat
	if _, err := Importance(net, info, cats, 10, 1); err == nil || !strings.Contains(err.Error(), "both classes") {
		t.Errorf("one class only: %v", err)
	}
	big := &dataset.Set{W: 2 * side, H: 2 * side}
	if _, err := Importance(net, info, big, 10, 1); err == nil || !strings.Contains(err.Error(), "16x16 images") {
		t.Errorf("wrong image size: %v", err)
	}
}

func TestImportanceWeights(t *testing.T) {
	dst := make([]uint16, 4)
	if err := importanceWeights(dst, []float32{0, 1, 3, 1e6}); err != nil {
		t.Fatal(err)
	}
	// Mean 250001: 0, 1 and 3 → the floor, 1e6 → 4 times the mean.
	want := []float32{MinImportance, MinImportance, MinImportance, 4}
	for i, w := range want {
		got := fromBfloat16(dst[i])
		if math.Abs(float64(got-w)) > 0.01*float64(max(w, MinImportance)) {
			t.Errorf("weight %d: %g, want %g", i, got, w)
		}
	}
	if err := importanceWeights(dst, []float32{0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if got := fromBfloat16(dst[3]); got != 4 {
		t.Errorf("one important parameter of four: weight %g, want 4 (the mean's multiple)", got)
	}
	hot := make([]float32, 1000)
	hot[0] = 1
	w := make([]uint16, 1000)
	if err := importanceWeights(w, hot); err != nil {
		t.Fatal(err)
	}
	if got := fromBfloat16(w[0]); got != MaxImportance {
		t.Errorf("one important parameter of 1000: weight %g, want the cap %g", got, float32(MaxImportance))
	}
	for _, bad := range [][]float32{{0, 0, 0, 0}, {1, float32(math.NaN()), 1, 1}, {1, -1, 1, 1}, {1, float32(math.Inf(1)), 1, 1}, {1, 2}} {
		if err := importanceWeights(dst, bad); err == nil {
			t.Errorf("importance %v accepted", bad)
		}
	}
}

func TestImportanceFile(t *testing.T) {
	a, _ := model.ParseArch(arch)
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	net.Init(rand.New(rand.NewPCG(5, 6)))
	fisher, err := Importance(net, model.DefaultInfo(a, ""), importanceSet(8), 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeImportance(net, fisher, map[string]string{"data": "test"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImportance(b, net.Arch, net.Params)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fisher { // kept in bfloat16: 8 bits of mantissa
		if math.Abs(float64(got[i]-f)) > float64(f)/128 {
			t.Fatalf("parameter %d: importance %g read back as %g", i, f, got[i])
		}
	}

	other, _ := model.New(a, model.Options{MaxBatch: 1})
	other.Init(rand.New(rand.NewPCG(7, 8)))
	if _, err := DecodeImportance(b, other.Arch, other.Params); !errors.Is(err, ErrOtherModel) {
		t.Errorf("another model's weights: %v, want ErrOtherModel", err)
	}
	b2, _ := model.ParseArch("input 3x8x8; conv 4 k3 s1 p1; relu; gap; flatten; dense 1")
	small, _ := model.New(b2, model.Options{MaxBatch: 1})
	if _, err := DecodeImportance(b, small.Arch, small.Params); !errors.Is(err, ErrOtherModel) {
		t.Errorf("another architecture: %v, want ErrOtherModel", err)
	}
	for _, i := range []int{len(b) - 3, len(b) / 2, 40} {
		bad := slices.Clone(b)
		bad[i] ^= 0x10
		if _, err := DecodeImportance(bad, net.Arch, net.Params); err == nil {
			t.Errorf("byte %d of %d flipped: accepted", i, len(b))
		}
	}
	modelFile, err := net.Bytes(model.DefaultInfo(a, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeImportance(modelFile, net.Arch, net.Params); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("a model file read as importance: %v", err)
	}
}

// The built-in importance belongs to the built-in model: remake it with
// "make default-importance" whenever the model changes.
func TestBuiltinImportanceMatchesBuiltinModel(t *testing.T) {
	m, _, err := model.Default(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Folded(model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := DecodeImportance(model.DefaultImportance(), f.Arch, f.Params)
	if err != nil {
		t.Fatalf("%v (make default-importance)", err)
	}
	// The cat output's own weights matter most to it: the head weighs
	// more than the average parameter.
	wr := f.WeightRanges()
	head := wr[len(wr)-1]
	var all, h float64
	for i, v := range imp {
		all += float64(v)
		if i >= head[0] && i < head[1] {
			h += float64(v)
		}
	}
	if perHead, perAll := h/float64(head[1]-head[0]), all/float64(len(imp)); !(perHead > perAll) {
		t.Errorf("head importance %g per parameter, all %g", perHead, perAll)
	}
}

// Importance decides which weights the anchor holds: with the first half
// of the parameters important and the rest not, the first half drifts
// from the start much less than the second; without it, alike.
func TestImportanceHoldsImportantWeights(t *testing.T) {
	drift := func(imp []float32) (first, second float64) {
		cfg := Config{LR: 0.05, Steps: 30, Batch: 8, Margin: 1, Anchor: 0.3, HeadWarmup: -1, Importance: imp}
		l, _ := newLearner(t, cfg, 80)
		start := slices.Clone(l.Net().Params)
		for range 4 {
			if _, err := l.Round(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		h := len(start) / 2
		for i, p := range l.Net().Params {
			d := math.Abs(float64(p - start[i]))
			if i < h {
				first += d / float64(h)
			} else {
				second += d / float64(len(start)-h)
			}
		}
		return first, second
	}
	a, _ := model.ParseArch(arch)
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	imp := make([]float32, len(n.Params))
	for i := range imp[:len(imp)/2] {
		imp[i] = 1
	}
	f0, s0 := drift(nil)
	f1, s1 := drift(imp)
	if f0 == 0 || s1 == 0 {
		t.Fatalf("no learning: drift %g/%g without importance, %g/%g with", f0, s0, f1, s1)
	}
	if r0, r1 := f0/s0, f1/s1; !(r1 < r0/3) {
		t.Errorf("important/unimportant drift %.3g with importance, %.3g without: want a third or less", r1, r0)
	}
}

// A strong anchor on a few very important weights at a high learning
// rate would overshoot the anchor further each step; their pull is capped
// at 1/lr, so rounds do not blow up.
func TestImportantWeightsDoNotOvershoot(t *testing.T) {
	a, _ := model.ParseArch(arch)
	n, _ := model.New(a, model.Options{MaxBatch: 1})
	imp := make([]float32, len(n.Params))
	for i := range 10 {
		imp[i] = 1
	}
	l, _ := newLearner(t, Config{LR: 0.5, Steps: 20, Batch: 8, Margin: 1, Anchor: 10, HeadWarmup: -1, Importance: imp}, 80)
	for range 3 {
		res, err := l.Round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(res.Reason, "loss") && strings.Contains(res.Reason, "at step") {
			t.Fatalf("round blew up: %s", res.Reason)
		}
		for i, p := range l.Net().Params[:10] {
			if math.IsNaN(float64(p)) || math.Abs(float64(p)) > 1e3 {
				t.Fatalf("weight %d is %v", i, p)
			}
		}
	}
}

func FuzzDecodeImportance(f *testing.F) {
	a, _ := model.ParseArch("input 3x8x8; conv 4 k3 s1 p1; relu; gap; flatten; dense 1")
	net, _ := model.New(a, model.Options{MaxBatch: 1})
	net.Init(rand.New(rand.NewPCG(1, 2)))
	fisher := make([]float32, len(net.Params))
	for i := range fisher {
		fisher[i] = float32(i%7) + 0.5
	}
	b, err := EncodeImportance(net, fisher, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		imp, err := DecodeImportance(b, net.Arch, net.Params)
		if err != nil {
			return
		}
		if len(imp) != len(net.Params) {
			t.Fatalf("%d values for %d parameters", len(imp), len(net.Params))
		}
		for i, v := range imp {
			if !(v >= 0) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %d: %v accepted", i, v)
			}
		}
	})
}
