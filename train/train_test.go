package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"catd/dataset"
	"catd/model"
	"catd/optim"

	"catd/internal/testwait"
)

// toySet makes n 16x16 images where cats are images with a bright blob in
// the centre and non-cats are noise with a dark centre: learnable in a few
// steps, with some noise so the loss does not hit zero at once.
func toySet(n, cats int, seed uint64) *dataset.Set {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &dataset.Set{W: 16, H: 16, Pixels: make([]uint8, n*16*16*3)}
	for i := range n {
		cat := i < cats
		s.Labels = append(s.Labels, cat)
		cls := "n0"
		if cat {
			cls = "n1"
		} else if i%2 == 0 {
			cls = "n2"
		}
		s.Classes = append(s.Classes, cls)
		s.Paths = append(s.Paths, filepath.Join("toy", cls, string(rune('a'+i%26))))
		img := s.Pixels[i*768 : (i+1)*768]
		for y := range 16 {
			for x := range 16 {
				v := 60 + r.IntN(80)
				if d := (x-8)*(x-8) + (y-8)*(y-8); d < 16 {
					if cat {
						v += 100
					} else {
						v -= 50
					}
				}
				for c := range 3 {
					img[(y*16+x)*3+c] = uint8(v)
				}
			}
		}
	}
	return s
}

const toyArch = "input 3x16x16; conv 4 k3 s1 p1; bn; relu; maxpool 2; conv 8 k3 s2 p1; relu; gap; flatten; dense 1"

func newToyTrainer(t *testing.T, cfg Config) *Trainer {
	t.Helper()
	a, err := model.ParseArch(toyArch)
	if err != nil {
		t.Fatal(err)
	}
	net, err := model.New(a, model.Options{MaxBatch: max(cfg.Batch, 32), Training: true})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(rand.New(rand.NewPCG(cfg.Seed, 1)))
	tr, err := New(net, model.DefaultInfo(a, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func toyConfig() Config {
	return Config{Epochs: 3, Batch: 8, Optim: optim.DefaultConfig(optim.KindMomentum), LR: 0.05,
		Augment: DefaultAugment, Seed: 42, Workers: 2}
}

func TestTrainingLowersTheLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode Mode
		bal  Balance
		kind optim.Kind
		lr   float64
	}{
		{"minibatch momentum", Minibatch, Weighted, optim.KindMomentum, 0.05},
		{"sgd on sampled examples", SGD, Sampled, optim.KindSGD, 0.2},
		{"batch gradient descent", Batch, Unbalanced, optim.KindMomentum, 0.1},
		{"adam", Minibatch, Weighted, optim.KindAdam, 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := toyConfig()
			cfg.Mode, cfg.Balance, cfg.Optim, cfg.LR = tc.mode, tc.bal, optim.DefaultConfig(tc.kind), tc.lr
			cfg.Epochs = 6
			if tc.mode == Batch {
				cfg.Epochs = 25
			}
			checkLearnsToySet(t, newToyTrainer(t, cfg), 0.7)
		})
	}
}

// checkLearnsToySet trains tr on a toy set: the training loss must fall
// below fall times its first epoch's, and the validation ROC AUC reach
// 0.9. It returns the sets.
func checkLearnsToySet(t *testing.T, tr *Trainer, fall float64) (train, val *dataset.Set) {
	t.Helper()
	train, val = toySet(96, 24, 1), toySet(64, 16, 2)
	var stats []EpochStats
	if err := tr.Run(context.Background(), train, val, func(st EpochStats) error {
		stats = append(stats, st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first, last := stats[0], stats[len(stats)-1]
	if !(last.TrainLoss < fall*first.TrainLoss) {
		t.Errorf("training loss went from %.4f to %.4f", first.TrainLoss, last.TrainLoss)
	}
	if last.Val.ROCAUC < 0.9 {
		t.Errorf("validation ROC AUC %.3f after training, want >= 0.9", last.Val.ROCAUC)
	}
	return train, val
}

func TestTrainingIsDeterministic(t *testing.T) {
	train := toySet(40, 10, 3)
	run := func() []float32 {
		tr := newToyTrainer(t, toyConfig())
		if err := tr.Run(context.Background(), train, nil, nil); err != nil {
			t.Fatal(err)
		}
		return tr.Net().Params
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatal("two runs with the same seed gave different weights")
	}
}

// TestResumeContinuesExactly trains 3 epochs in one go, and 1 epoch, a
// checkpoint and 2 more epochs from it: the weights (and the weights'
// moving average, when one is kept) must be identical.
func TestResumeContinuesExactly(t *testing.T) {
	for _, ema := range []float64{0, 0.9} {
		t.Run(fmt.Sprintf("ema=%v", ema), func(t *testing.T) {
			train := toySet(40, 10, 4)
			cfg := toyConfig()
			cfg.EMA = ema
			straight := newToyTrainer(t, cfg)
			if err := straight.Run(context.Background(), train, nil, nil); err != nil {
				t.Fatal(err)
			}

			one := cfg
			one.Epochs = 1
			first := newToyTrainer(t, one)
			if err := first.Run(context.Background(), train, nil, nil); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "run.ckpt.safetensors")
			info := model.DefaultInfo(first.Net().Arch, "")
			if err := first.SaveCheckpoint(path, info); err != nil {
				t.Fatal(err)
			}
			net, _, st, err := ReadCheckpoint(path, model.Options{MaxBatch: 32, Training: true})
			if err != nil {
				t.Fatal(err)
			}
			if st == nil || st.Epoch != 1 || st.Step != 5 || st.Optim.Kind != optim.KindMomentum || (st.EMA != nil) != (ema > 0) {
				t.Fatalf("checkpoint state %+v", st)
			}
			resumed, err := New(net, info, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := resumed.Resume(st); err != nil {
				t.Fatal(err)
			}
			if err := resumed.Run(context.Background(), train, nil, nil); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(straight.Net().Params, resumed.Net().Params) {
				t.Fatal("resuming from the checkpoint gave different weights than training straight through")
			}
			if !slices.Equal(straight.EvalNet().Params, resumed.EvalNet().Params) || !slices.Equal(straight.EvalNet().Buffers, resumed.EvalNet().Buffers) {
				t.Fatal("resuming gave a different weight average than training straight through")
			}
		})
	}
}

// TestEMA follows the weights step by step and checks the trainer's
// average against avg <- avg + (1-d_t)*(theta - avg) with
// d_t = min(d, (1+t)/(10+t)), batch-norm statistics included; validation
// must score the average, not the raw weights.
func TestEMA(t *testing.T) {
	const d = 0.8
	cfg := toyConfig()
	cfg.EMA = d
	tr := newToyTrainer(t, cfg)
	if tr.EvalNet() == tr.Net() {
		t.Fatal("EvalNet is the trained network with EMA on")
	}
	set := toySet(40, 10, 6)
	ys, _ := tr.targets(set)
	defer tr.startWorkers()()
	net := tr.Net()
	avgP, avgB := slices.Clone(net.Params), slices.Clone(net.Buffers)
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 30 {
		idx := r.Perm(40)[:8]
		tr.trainStep(set, ys, nil, idx, exampleWeightsOf(t, tr, set))
		dt := min(d, float64(1+step)/float64(10+step))
		for i, v := range net.Params {
			avgP[i] += float32(1-dt) * (v - avgP[i])
		}
		for i, v := range net.Buffers {
			avgB[i] += float32(1-dt) * (v - avgB[i])
		}
	}
	near := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s %d: %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	near("average weight", tr.EvalNet().Params, avgP)
	near("average running statistic", tr.EvalNet().Buffers, avgB)
	if slices.Equal(tr.EvalNet().Params, net.Params) {
		t.Fatal("the average equals the weights after 30 steps")
	}
	got, _ := tr.Predict(set)
	want, _ := PredictSet(tr.EvalNet(), &tr.info, set, make([]float32, 8*net.InputLen()))
	raw, _ := PredictSet(net, &tr.info, set, make([]float32, 8*net.InputLen()))
	if !slices.Equal(got, want) || slices.Equal(got, raw) {
		t.Fatal("Predict does not score the weight average")
	}
	wts := exampleWeightsOf(t, tr, set)
	if a := testing.AllocsPerRun(10, func() { tr.trainStep(set, ys, nil, idx8, wts) }); a != 0 {
		t.Errorf("a training step with EMA allocates %v times", a)
	}
	cfg.EMA = 1
	if err := cfg.Validate(); err == nil {
		t.Error("EMA decay 1 accepted")
	}
}

var idx8 = []int{0, 5, 11, 12, 20, 30, 31, 39}

// TestWiSE checks that validation and saving see the weights and
// statistics interpolated between the starting model and the trained
// ones, and that the training itself goes on from the trained weights.
func TestWiSE(t *testing.T) {
	a, err := model.ParseArch(toyArch)
	if err != nil {
		t.Fatal(err)
	}
	from, err := model.New(a, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	from.Init(rand.New(rand.NewPCG(9, 9)))
	for i := range from.Buffers {
		from.Buffers[i] += 0.25 // statistics unlike the trained network's
	}
	for _, w := range []float64{0.3, 1} {
		cfg := toyConfig()
		cfg.WiSE, cfg.WiSEFrom = w, from
		tr := newToyTrainer(t, cfg)
		set := toySet(40, 10, 6)
		ys, _ := tr.targets(set)
		stop := tr.startWorkers()
		for range 10 {
			tr.trainStep(set, ys, nil, idx8, exampleWeightsOf(t, tr, set))
		}
		stop()
		net := tr.Net()
		rawP := slices.Clone(net.Params)
		ev := tr.EvalNet()
		for _, v := range [][3][]float32{{ev.Params, from.Params, net.Params}, {ev.Buffers, from.Buffers, net.Buffers}} {
			for i := range v[0] {
				want := v[1][i] + float32(w)*(v[2][i]-v[1][i])
				if math.Abs(float64(v[0][i]-want)) > 1e-6*(1+math.Abs(float64(want))) {
					t.Fatalf("WiSE %v: value %d is %v, want %v", w, i, v[0][i], want)
				}
			}
		}
		if !slices.Equal(net.Params, rawP) {
			t.Fatalf("WiSE %v: EvalNet changed the trained weights", w)
		}
		if w < 1 && slices.Equal(ev.Params, net.Params) {
			t.Fatalf("WiSE %v: the interpolation equals the trained weights", w)
		}
	}
	oa, err := model.ParseArch("input 3x16x16; conv 6 k3 s1 p1; bn; relu; maxpool 2; conv 8 k3 s2 p1; relu; gap; flatten; dense 1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := model.New(oa, model.Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := toyConfig()
	cfg.WiSE, cfg.WiSEFrom = 0.5, other
	if _, err := New(newToyTrainer(t, toyConfig()).Net(), model.DefaultInfo(a, ""), cfg); err == nil {
		t.Error("WiSE from a model of another architecture accepted")
	} else {
		t.Log(err)
	}
	for _, c := range []struct {
		w    float64
		from *model.Net
	}{{-0.1, from}, {1.5, from}, {math.NaN(), from}, {0.5, nil}} {
		cfg := toyConfig()
		cfg.WiSE, cfg.WiSEFrom = c.w, c.from
		if err := cfg.Validate(); err == nil {
			t.Errorf("WiSE %v from %v accepted", c.w, c.from)
		}
	}
}

func TestCancelStopsBetweenSteps(t *testing.T) {
	tr := newToyTrainer(t, toyConfig())
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	tr.OnProgress = func(p Progress) {
		steps++
		if steps == 2 {
			cancel()
		}
	}
	err := tr.Run(ctx, toySet(40, 10, 5), nil, nil)
	if !errors.Is(err, context.Canceled) || tr.Step() != 2 {
		t.Fatalf("Run returned %v after %d steps, want context.Canceled after 2", err, tr.Step())
	}
	for _, v := range tr.Net().Params {
		if math.IsNaN(float64(v)) {
			t.Fatal("weights hold NaN after cancelling")
		}
	}
}

// Run may be called again after a cancelled Run, and continues to the
// configured epochs; neither leaves a worker goroutine behind.
func TestRunAgainAfterCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	tr := newToyTrainer(t, toyConfig())
	ctx, cancel := context.WithCancel(context.Background())
	tr.OnProgress = func(p Progress) {
		if p.Step == 2 {
			cancel()
		}
	}
	set := toySet(40, 10, 5)
	if err := tr.Run(ctx, set, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("first Run: %v, want context.Canceled", err)
	}
	tr.OnProgress = nil
	if err := tr.Run(context.Background(), set, nil, nil); err != nil {
		t.Fatalf("Run after a cancelled Run: %v", err)
	}
	if tr.Epoch() != toyConfig().Epochs {
		t.Errorf("%d epochs done, want %d", tr.Epoch(), toyConfig().Epochs)
	}
	// A goroutine counted out by a WaitGroup still exits a moment later.
	testwait.Until(2*time.Second, func() bool { return runtime.NumGoroutine() <= before })
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestClassifierPretraining(t *testing.T) {
	a, _ := model.ParseArch("input 3x16x16; conv 4 k3 s1 p1; bn; relu; maxpool 2; conv 8 k3 s2 p1; relu; gap; flatten; dense 3")
	net, _ := model.New(a, model.Options{MaxBatch: 8, Training: true})
	net.Init(rand.New(rand.NewPCG(1, 1)))
	cfg := toyConfig()
	cfg.Classes = []string{"n0", "n1", "n2"}
	cfg.Epochs = 8
	tr, err := New(net, model.DefaultInfo(a, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last EpochStats
	if err := tr.Run(context.Background(), toySet(96, 32, 6), toySet(48, 16, 7), func(st EpochStats) error {
		last = st
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// n1 (bright centre) is easy; n0 and n2 are the same kind of image,
	// so about 2/3 is the most a classifier can get.
	if last.ValAccuracy < 0.55 {
		t.Errorf("classifier validation accuracy %.3f, want at least 0.55", last.ValAccuracy)
	}
	cfg.Classes = []string{"n0", "n1"}
	if _, err := New(net, model.DefaultInfo(a, ""), cfg); err == nil {
		t.Error("a 3-output net accepted 2 class names")
	}
}

func TestSamplerModes(t *testing.T) {
	labels := make([]bool, 10)
	labels[0], labels[1] = true, true
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name       string
		mode       Mode
		bal        Balance
		batch      int
		wantSteps  int
		checkEpoch func(t *testing.T, seen []int)
	}{
		{"minibatch visits each example once", Minibatch, Weighted, 3, 4, func(t *testing.T, seen []int) {
			slices.Sort(seen)
			if !slices.Equal(seen, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
				t.Errorf("an epoch visited %v", seen)
			}
		}},
		{"batch is one step of everything", Batch, Weighted, 3, 1, func(t *testing.T, seen []int) {
			if len(seen) != 10 {
				t.Errorf("batch step had %d examples", len(seen))
			}
		}},
		{"sgd draws B per step", SGD, Unbalanced, 1, 10, func(t *testing.T, seen []int) {
			if len(seen) != 10 {
				t.Errorf("sgd epoch drew %d examples", len(seen))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSampler(tc.mode, tc.bal, tc.batch, labels)
			if s.stepsPerEpoch() != tc.wantSteps {
				t.Fatalf("%d steps per epoch, want %d", s.stepsPerEpoch(), tc.wantSteps)
			}
			s.startEpoch(r)
			var seen []int
			for range s.stepsPerEpoch() {
				seen = append(seen, s.next(r)...)
			}
			tc.checkEpoch(t, seen)
		})
	}
	// Balanced sampling draws cats about half the time though they are 20%.
	s := newSampler(SGD, Sampled, 1, labels)
	cats := 0
	for range 4000 {
		if s.next(r)[0] < 2 {
			cats++
		}
	}
	if cats < 1800 || cats > 2200 {
		t.Errorf("balanced sampling drew %d cats in 4000", cats)
	}
}

func TestAugmentKeepsRangeAndIdentity(t *testing.T) {
	set := toySet(1, 1, 8)
	info := model.DefaultInfo(model.Arch{C: 3}, "")
	want := make([]float32, 16*16*3)
	info.NormalizePixels(want, set.Image(0))
	got := make([]float32, len(want))
	r := rand.New(rand.NewPCG(1, 1))
	NoAugment.Apply(got, set.Image(0), 16, 16, &info, r)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("no augmentation changed value %d: %v, want %v", i, got[i], want[i])
		}
	}
	lo, hi := (0-info.Mean[0])/info.Std[0], (1-info.Mean[0])/info.Std[0]
	for range 20 {
		DefaultAugment.Apply(got, set.Image(0), 16, 16, &info, r)
		for i := 0; i < len(got); i += 3 {
			if got[i] < lo-1e-5 || got[i] > hi+1e-5 {
				t.Fatalf("augmented red value %v outside the normalised pixel range [%v, %v]", got[i], lo, hi)
			}
		}
	}
	if a := testing.AllocsPerRun(10, func() { DefaultAugment.Apply(got, set.Image(0), 16, 16, &info, r) }); a != 0 {
		t.Errorf("Apply allocates %v times", a)
	}
}

func TestTrainStepAllocatesNothing(t *testing.T) {
	tr := newToyTrainer(t, toyConfig())
	train := toySet(40, 10, 9)
	ys, _ := tr.targets(train)
	defer tr.startWorkers()()
	idx := []int{0, 5, 11, 12, 20, 30, 31, 39}
	wts := exampleWeightsOf(t, tr, train)
	tr.trainStep(train, ys, nil, idx, wts)
	if a := testing.AllocsPerRun(10, func() { tr.trainStep(train, ys, nil, idx, wts) }); a != 0 {
		t.Errorf("a training step allocates %v times", a)
	}
}

// TestWeightDecay checks one plain SGD step with decay lambda moves each
// convolution and dense weight by an extra -eta*lambda*w, and leaves biases
// and batch-norm parameters as the step without decay does.
func TestWeightDecay(t *testing.T) {
	const eta, lambda = 0.05, 0.01
	cfg := toyConfig()
	cfg.Optim = optim.DefaultConfig(optim.KindSGD)
	cfg.LR, cfg.Augment, cfg.Workers = eta, NoAugment, 1
	set := toySet(16, 4, 3)
	idx := []int{0, 1, 2, 3, 8, 9, 10, 11}
	step := func(wd float64) (before, after []float32, tr *Trainer) {
		c := cfg
		c.WeightDecay = wd
		tr = newToyTrainer(t, c)
		ys, _ := tr.targets(set)
		before = slices.Clone(tr.Net().Params)
		tr.trainStep(set, ys, nil, idx, exampleWeightsOf(t, tr, set))
		return before, tr.Net().Params, tr
	}
	p0, plain, _ := step(0)
	p1, decayed, tr := step(lambda)
	if !slices.Equal(p0, p1) {
		t.Fatal("the two runs start from different weights")
	}
	inRange := make([]bool, len(p0))
	n := 0
	for _, r := range tr.Net().WeightRanges() {
		for i := r[0]; i < r[1]; i++ {
			inRange[i] = true
			n++
		}
	}
	// toyArch: conv 3->4 k3, bn 4, conv 4->8 k3, dense 8->1.
	if want := 3*3*3*4 + 3*3*4*8 + 8; n != want {
		t.Fatalf("WeightRanges cover %d parameters, want %d", n, want)
	}
	for i := range p0 {
		want := plain[i]
		if inRange[i] {
			want -= eta * lambda * p0[i]
		}
		if d := math.Abs(float64(decayed[i] - want)); d > 1e-6 {
			t.Fatalf("param %d (decayed: %v): got %v, want %v", i, inRange[i], decayed[i], want)
		}
	}
}

// newAuxTrainer makes a toy detector of architecture spec with auxiliary
// outputs for toySet's classes n0, n1, n2.
func newAuxTrainer(t *testing.T, spec string, cfg Config) *Trainer {
	t.Helper()
	a, _ := model.ParseArch(spec)
	a, _ = a.WithOutputs(4)
	net, err := model.New(a, model.Options{MaxBatch: max(cfg.Batch, 32), Training: true})
	if err != nil {
		t.Fatal(err)
	}
	net.Init(rand.New(rand.NewPCG(cfg.Seed, 1)))
	cfg.AuxClasses, cfg.AuxWeight = []string{"n0", "n1", "n2"}, 0.5
	tr, err := New(net, model.DefaultInfo(a, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestAuxClasses trains a detector with auxiliary class outputs: the loss
// (cat and classes) falls, the cat output learns, the one-output Detector
// computes exactly the trained network's first output, a step is the same
// on one replica as on two (the loss is normalised by the whole step), and
// a step allocates nothing.
func TestAuxClasses(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 6
	tr := newAuxTrainer(t, toyArch, cfg)
	train, val := checkLearnsToySet(t, tr, 0.8)

	det := tr.Detector()
	if det.Arch.Outputs() != 1 {
		t.Fatalf("the detector has %d outputs", det.Arch.Outputs())
	}
	in := det.InputLen()
	x := make([]float32, 4*in)
	for i := range 4 {
		tr.info.NormalizePixels(x[i*in:(i+1)*in], val.Image(i*15))
	}
	full := slices.Clone(tr.Net().Forward(x))
	got := det.Forward(x)
	for i := range 4 {
		// The same sums, but a one-column product may be ordered
		// differently from a four-column one (FMA kernels): 1e-5.
		if math.Abs(float64(got[i]-full[i*4])) > 1e-5*(1+math.Abs(float64(full[i*4]))) {
			t.Errorf("image %d: detector %v, trained network's cat output %v", i, got[i], full[i*4])
		}
	}

	// One replica or two: the same step (without batch norm, whose
	// statistics are each replica's own).
	idx := []int{0, 5, 11, 12, 20, 30, 31, 39}
	step := func(workers int) ([]float32, float64) {
		c := toyConfig()
		c.Workers = workers
		tr := newAuxTrainer(t, "input 3x16x16; conv 4 k3 s1 p1; relu; maxpool 2; conv 8 k3 s2 p1; relu; gap; flatten; dense 1", c)
		defer tr.startWorkers()()
		ys, _ := tr.targets(train)
		cls, err := classIndices(train, tr.cfg.AuxClasses)
		if err != nil {
			t.Fatal(err)
		}
		wts := exampleWeightsOf(t, tr, train)
		loss := tr.trainStep(train, ys, cls, idx, wts)
		params := slices.Clone(tr.Net().Params)
		if a := testing.AllocsPerRun(10, func() { tr.trainStep(train, ys, cls, idx, wts) }); a != 0 {
			t.Errorf("a training step with auxiliary outputs on %d replicas allocates %v times", workers, a)
		}
		return params, loss
	}
	p1, l1 := step(1)
	p2, l2 := step(2)
	if math.Abs(l1-l2) > 1e-5*math.Abs(l1) {
		t.Errorf("step loss %v on one replica, %v on two", l1, l2)
	}
	for i := range p1 {
		if math.Abs(float64(p1[i]-p2[i])) > 1e-5 {
			t.Fatalf("param %d after a step: %v on one replica, %v on two", i, p1[i], p2[i])
		}
	}
}

func TestAuxClassesChecks(t *testing.T) {
	a, _ := model.ParseArch(toyArch)
	net, _ := model.New(a, model.Options{MaxBatch: 8, Training: true})
	cfg := toyConfig()
	cfg.AuxClasses, cfg.AuxWeight = []string{"n0", "n1", "n2"}, 0.5
	if _, err := New(net, model.DefaultInfo(a, ""), cfg); err == nil {
		t.Error("a one-output net accepted 3 auxiliary classes")
	}
	cfg.AuxClasses = []string{"n0"}
	if _, err := New(net, model.DefaultInfo(a, ""), cfg); err == nil {
		t.Error("one auxiliary class accepted")
	}
	cfg.AuxClasses, cfg.Classes = []string{"n0", "n1"}, []string{"n0", "n1"}
	if err := cfg.Validate(); err == nil {
		t.Error("auxiliary outputs on a classifier accepted")
	}
	cfg.Classes, cfg.AuxWeight = nil, math.NaN()
	if err := cfg.Validate(); err == nil {
		t.Error("a NaN auxiliary weight accepted")
	}
	// An image of a class the outputs do not have is named.
	a4, _ := a.WithOutputs(3)
	net4, _ := model.New(a4, model.Options{MaxBatch: 8, Training: true})
	cfg.AuxWeight = 0.5
	tr, err := New(net4, model.DefaultInfo(a4, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background(), toySet(16, 4, 1), nil, nil)
	if err == nil || !strings.Contains(err.Error(), `"n2"`) {
		t.Errorf("an image of an unknown class: %v", err)
	}
}
