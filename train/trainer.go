// Package train fits catd's network to labelled images: the classic
// sampling modes (batch gradient descent, SGD on uniformly sampled examples,
// minibatch SGD), class balancing, augmentation, learning-rate schedules,
// per-epoch validation with ROC AUC, best-model selection and resumable
// checkpoints.
//
// Training is data-parallel over a few replicas of the network, one per
// core: each computes the gradient of its share of a batch, the shares are
// summed in a fixed order and one optimizer step updates the weights, so a
// run is deterministic for a given seed whatever the scheduling. A step
// allocates nothing.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"catd/dataset"
	"catd/metrics"
	"catd/model"
	"catd/optim"
)

// Config is one training run's settings.
type Config struct {
	Epochs   int
	Batch    int // examples per step (ignored in Batch mode)
	Mode     Mode
	Balance  Balance
	Optim    optim.Config
	LR       float64        // the learning rate eta (eta0 of a schedule)
	Schedule optim.Schedule // nil: constant LR; t counts steps
	// WeightDecay is the L2 penalty lambda/2*|w|^2 on convolution and
	// dense weights: lambda*w is added to their gradient before each
	// optimizer step (0: none).
	WeightDecay float64
	Augment     Augment
	// EMA, if above 0, is the decay d of an exponential moving average of
	// the weights (and batch-norm statistics) kept beside the trained
	// ones, avg <- d*avg + (1-d)*theta after every step (with d ramped up
	// as min(d, (1+t)/(10+t)) so the start does not linger). Validation,
	// best-epoch selection and the saved model use the average, which
	// smooths out the last steps' noise; training continues from the raw
	// weights. 0: off.
	EMA float64
	// WiSE, if above 0, validates and saves the weights interpolated
	// between those training started from (WiSEFrom) and the trained
	// ones (their moving average with EMA): from + WiSE·(θ − from), the
	// batch-norm statistics too. Fine-tuned from a model, the interpolation
	// keeps much of the gain on the new data and much of what the starting
	// model knew (WiSE-FT, Wortsman et al., 2022). 1 is the trained
	// weights themselves; 0: off.
	WiSE     float64
	WiSEFrom *model.Net // the starting model, of the trained network's architecture
	Seed     uint64
	Workers  int // replicas computing gradients in parallel; 0: one per core, at most 4
	// Classes, for a classifier network (Outputs() > 1, used to pretrain
	// on many classes), names its outputs: example i's target is the index
	// of the set's Classes[i]. Empty for a cat detector, whose targets are
	// the cat/noncat labels.
	Classes []string
	// AuxClasses and AuxWeight train a cat detector with auxiliary class
	// outputs (multi-task fine-tuning): the network's outputs are the cat
	// logit, then one per class of AuxClasses (the image classes, as for
	// Classes), and the loss adds AuxWeight times the softmax cross-entropy
	// of those outputs against each image's class to the cat loss (see
	// model.BCEWithAux). Telling a tabby from a lynx and a chair from a
	// sofa keeps the features a pretrained classifier learned that the
	// cat/no-cat labels alone would let go. Detector is the one-output
	// network that is validated and saved. 0: off.
	AuxClasses []string
	AuxWeight  float64
	// HardNegatives names image classes (as Classes does: file-name
	// prefixes such as n02085620) of non-cats that look most like cats
	// to a camera — dogs, small furry animals. Their loss weight is
	// HardWeight times the other non-cats', with the non-cats' total
	// weight unchanged, so the balance between the classes stays as
	// Balance makes it. HardWeight 0 or 1: off.
	HardNegatives []string
	HardWeight    float64
}

// Validate checks the settings.
func (c *Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("train: %d epochs, want at least 1", c.Epochs)
	case c.Mode != Batch && (c.Batch < 1 || c.Batch > 4096):
		return fmt.Errorf("train: batch size %d, want 1..4096", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("train: learning rate %v, want a positive number", c.LR)
	case !(c.WeightDecay >= 0 && c.WeightDecay < 1):
		return fmt.Errorf("train: weight decay %v, want [0, 1)", c.WeightDecay)
	case !(c.EMA >= 0 && c.EMA < 1):
		return fmt.Errorf("train: EMA decay %v, want [0, 1)", c.EMA)
	case !(c.WiSE >= 0 && c.WiSE <= 1):
		return fmt.Errorf("train: WiSE interpolation %v, want [0, 1]", c.WiSE)
	case c.WiSE > 0 && c.WiSEFrom == nil:
		return fmt.Errorf("train: WiSE interpolation %v without a model to interpolate from", c.WiSE)
	case c.Workers < 0 || c.Workers > 64:
		return fmt.Errorf("train: %d workers, want 0..64", c.Workers)
	case !(c.AuxWeight >= 0 && c.AuxWeight <= 100):
		return fmt.Errorf("train: auxiliary class loss weight %v, want 0..100", c.AuxWeight)
	case c.AuxWeight > 0 && len(c.Classes) > 0:
		return errors.New("train: auxiliary class outputs are for a cat detector, not a classifier")
	case !(c.HardWeight >= 0 && c.HardWeight <= 100):
		return fmt.Errorf("train: hard-negative weight %v, want 0..100", c.HardWeight)
	case c.HardWeight != 0 && c.HardWeight != 1 && len(c.HardNegatives) == 0:
		return errors.New("train: a hard-negative weight without hard-negative classes")
	case len(c.HardNegatives) > 0 && len(c.Classes) > 0:
		return errors.New("train: hard negatives are for a cat detector, not a classifier")
	}
	if err := c.Optim.Validate(); err != nil {
		return err
	}
	return c.Augment.Validate()
}

// Progress reports how far an epoch has got.
type Progress struct {
	Epoch, Epochs int
	Step, Steps   int
	Examples      int           // examples seen this epoch
	Loss          float64       // running mean training loss this epoch
	Elapsed       time.Duration // this epoch
}

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch     int
	TrainLoss float64
	Examples  int
	Duration  time.Duration
	LR        float64 // learning rate at the end of the epoch
	// Validation, if a validation set was given: the loss, the metrics at
	// the threshold that maximises balanced accuracy, and that threshold.
	Val       *metrics.Report
	ValLoss   float64
	Threshold float32
	// ValAccuracy is a classifier's top-1 validation accuracy.
	ValAccuracy float64
	Best        bool // the best epoch so far by validation ROC AUC (classifier: accuracy)
}

// Trainer trains one network.
type Trainer struct {
	cfg   Config
	info  model.Info
	opt   *optim.Optimizer
	reps  []*replica
	step  int64      // steps taken (the schedule's t)
	decay [][2]int   // Params ranges weight decay applies to
	epoch int        // epochs completed
	ema   *model.Net // the moving average of the weights (nil: Config.EMA is 0)
	wise  *model.Net // the interpolated weights (nil: Config.WiSE is 0)
	det   *model.Net // the one-output detector (nil: no auxiliary outputs)

	// OnProgress, if set, is called after every step.
	OnProgress func(Progress)
}

// replica is one copy of the network with its own buffers and random
// source.
type replica struct {
	net  *model.Net
	x    []float32
	y, w []float32
	pcg  rand.PCG
	rng  *rand.Rand
	loss float64
	// work and done carry a non-primary replica's shards and its answers
	// while startWorkers' goroutines run (nil otherwise).
	work chan shard
	done chan struct{}

	// With auxiliary class outputs: each example's class, and the loss
	// function (made once, so that a step allocates nothing) with the
	// chunk size and normalisers it reads.
	cls     []float32
	auxLoss func(dz, z []float32) float32
	n       int
	wSum    float64
	count   int
}

// shard is a replica's part of a step.
type shard struct {
	set    *dataset.Set
	ys     []float32 // every example's target
	cls    []float32 // every example's class index (auxiliary outputs only)
	count  int       // examples in the whole step
	idx    []int
	pos    int // index of idx[0] within the step, for per-example seeds
	step   int64
	wts    []float32 // every example's loss weight
	totalW float64
}

// targets returns each example's training target: 1 or 0 for cat or not,
// or for a classifier the index of its class in cfg.Classes.
func (t *Trainer) targets(s *dataset.Set) ([]float32, error) {
	if len(t.cfg.Classes) == 0 {
		ys := make([]float32, s.Len())
		for i, l := range s.Labels {
			ys[i] = float32(b2i(l))
		}
		return ys, nil
	}
	return classIndices(s, t.cfg.Classes)
}

// classIndices returns the index in classes of each example's class.
func classIndices(s *dataset.Set, classes []string) ([]float32, error) {
	ys := make([]float32, s.Len())
	index := make(map[string]int, len(classes))
	for i, c := range classes {
		index[c] = i
	}
	for i, c := range s.Classes {
		k, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("train: image %s is of class %q, which the classifier does not have", s.Paths[i], c)
		}
		ys[i] = float32(k)
	}
	return ys, nil
}

// New prepares to train net, whose architecture and weights it takes over
// (net must be built with Training). info supplies the normalisation.
func New(net *model.Net, info model.Info, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if net.Grads == nil {
		return nil, errors.New("train: the network was built without Training")
	}
	if cfg.Workers == 0 {
		cfg.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	if cfg.Schedule == nil {
		cfg.Schedule = optim.Constant{Eta: cfg.LR}
	}
	k := net.Arch.Outputs()
	switch {
	case cfg.AuxWeight > 0 && len(cfg.AuxClasses) < 2:
		return nil, fmt.Errorf("train: auxiliary class loss with %d classes, want at least 2", len(cfg.AuxClasses))
	case cfg.AuxWeight > 0 && k != 1+len(cfg.AuxClasses):
		return nil, fmt.Errorf("train: the network has %d outputs for a cat detector with %d auxiliary classes (want %d)", k, len(cfg.AuxClasses), 1+len(cfg.AuxClasses))
	case cfg.AuxWeight == 0 && (k > 1 && len(cfg.Classes) != k || k == 1 && len(cfg.Classes) > 0):
		return nil, fmt.Errorf("train: the network has %d outputs for %d classes", k, len(cfg.Classes))
	}
	opt, err := optim.New(cfg.Optim, len(net.Params))
	if err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, info: info, opt: opt, decay: net.WeightRanges()}
	chunk := cfg.Batch
	if cfg.Mode == Batch {
		chunk = 64
	}
	per := max(1, (chunk+cfg.Workers-1)/cfg.Workers)
	for i := range cfg.Workers {
		n := net
		if i > 0 {
			if n, err = model.New(net.Arch, model.Options{MaxBatch: per, Training: true}); err != nil {
				return nil, err
			}
			copy(n.Params, net.Params)
			copy(n.Buffers, net.Buffers)
		} else if net.MaxBatch() < per {
			return nil, fmt.Errorf("train: network built for batches of %d, need %d", net.MaxBatch(), per)
		}
		r := &replica{net: n, x: make([]float32, per*n.InputLen()), y: make([]float32, per), w: make([]float32, per)}
		r.rng = rand.New(&r.pcg)
		if cfg.AuxWeight > 0 {
			r.cls = make([]float32, per)
			lambda, k := float32(cfg.AuxWeight), len(cfg.AuxClasses)
			r.auxLoss = func(dz, z []float32) float32 {
				return model.BCEWithAux(dz, z, r.y[:r.n], r.w[:r.n], r.cls[:r.n], k, lambda, r.wSum, r.count)
			}
		}
		t.reps = append(t.reps, r)
	}
	if cfg.EMA > 0 {
		if t.ema, err = model.New(net.Arch, model.Options{MaxBatch: per}); err != nil {
			return nil, err
		}
		copy(t.ema.Params, net.Params)
		copy(t.ema.Buffers, net.Buffers)
	}
	if cfg.WiSE > 0 {
		f := cfg.WiSEFrom
		if f.Arch.String() != net.Arch.String() || len(f.Params) != len(net.Params) || len(f.Buffers) != len(net.Buffers) {
			return nil, fmt.Errorf("train: WiSE interpolation from a model of architecture %q, training %q", f.Arch, net.Arch)
		}
		if t.wise, err = model.New(net.Arch, model.Options{MaxBatch: per}); err != nil {
			return nil, err
		}
	}
	if cfg.AuxWeight > 0 {
		a, err := net.Arch.WithOutputs(1)
		if err != nil {
			return nil, err
		}
		if t.det, err = model.New(a, model.Options{MaxBatch: per}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Detector is the cat detector that is validated and saved: EvalNet, or
// with auxiliary class outputs EvalNet without them (its first output
// only).
func (t *Trainer) Detector() *model.Net {
	net := t.EvalNet()
	if t.det == nil {
		return net
	}
	if err := t.det.CopyBackbone(net); err != nil {
		panic(err) // New built det from net's architecture
	}
	if err := t.det.CopyOutputs(0, net, 0, 1); err != nil {
		panic(err)
	}
	return t.det
}

// EvalNet is the network that is validated and saved: the moving average
// of the weights if Config.EMA is on, else the trained network itself,
// interpolated from Config.WiSEFrom if Config.WiSE is on.
func (t *Trainer) EvalNet() *model.Net {
	net := t.Net()
	if t.ema != nil {
		net = t.ema
	}
	if t.wise == nil {
		return net
	}
	// from + WiSE·(θ − from), a soup of two.
	if err := t.wise.Average([]*model.Net{t.cfg.WiSEFrom, net}, []float64{1 - t.cfg.WiSE, t.cfg.WiSE}); err != nil {
		panic(err) // New checked the architectures, Config.Validate the share
	}
	return t.wise
}

// updateEMA moves the average towards the weights after step t.step.
func (t *Trainer) updateEMA() {
	if t.ema == nil {
		return
	}
	d := min(t.cfg.EMA, float64(1+t.step)/float64(10+t.step))
	a := float32(1 - d)
	net := t.Net()
	for _, pair := range [2][2][]float32{{t.ema.Params, net.Params}, {t.ema.Buffers, net.Buffers}} {
		avg, cur := pair[0], pair[1][:len(pair[0])]
		for i, v := range cur {
			avg[i] += a * (v - avg[i])
		}
	}
}

// Net is the network being trained.
func (t *Trainer) Net() *model.Net { return t.reps[0].net }

// Optimizer is the optimizer and its state.
func (t *Trainer) Optimizer() *optim.Optimizer { return t.opt }

// Step is the number of steps taken so far.
func (t *Trainer) Step() int64 { return t.step }

// Epoch is the number of epochs completed.
func (t *Trainer) Epoch() int { return t.epoch }

// Resume restores the step counter and optimizer state from a checkpoint.
func (t *Trainer) Resume(st *CheckpointState) error {
	if err := t.opt.Switch(st.Optim); err != nil {
		return err
	}
	if err := t.opt.SetState(st.OptimT, st.Vectors); err != nil {
		return err
	}
	t.step, t.epoch = st.Step, st.Epoch
	if t.ema != nil && st.EMA != nil {
		np, nb := len(t.ema.Params), len(t.ema.Buffers)
		if len(st.EMA) != np+nb {
			return fmt.Errorf("train: the checkpoint's weight average has %d values, the network %d", len(st.EMA), np+nb)
		}
		copy(t.ema.Params, st.EMA[:np])
		copy(t.ema.Buffers, st.EMA[np:])
	}
	return nil
}

// classWeights returns the loss weights of non-cats and cats.
func (t *Trainer) classWeights(s *dataset.Set) [2]float32 {
	if t.cfg.Balance != Weighted {
		return [2]float32{1, 1}
	}
	n, cats := s.Len(), s.NumCat()
	if cats == 0 || cats == n {
		return [2]float32{1, 1}
	}
	return [2]float32{float32(n) / float32(2*(n-cats)), float32(n) / float32(2*cats)}
}

// exampleWeights returns each example's loss weight: its class's (cw),
// with the hard negatives (Config.HardNegatives) weighted HardWeight times
// the other non-cats and the non-cats' total weight kept.
func (t *Trainer) exampleWeights(s *dataset.Set, cw [2]float32) ([]float32, error) {
	w := make([]float32, s.Len())
	for i, l := range s.Labels {
		w[i] = cw[b2i(l)]
	}
	hw := t.cfg.HardWeight
	if len(t.cfg.HardNegatives) == 0 || hw == 0 || hw == 1 {
		return w, nil
	}
	if len(s.Classes) != s.Len() {
		return nil, errors.New("train: hard negatives need image classes in the file names (such as n02085620_12.JPEG)")
	}
	hard := make(map[string]bool, len(t.cfg.HardNegatives))
	for _, c := range t.cfg.HardNegatives {
		hard[c] = true
	}
	var nHard, nOther int
	for i, l := range s.Labels {
		switch {
		case l:
		case hard[s.Classes[i]]:
			nHard++
		default:
			nOther++
		}
	}
	if nHard == 0 {
		return nil, fmt.Errorf("train: no non-cat image is of the hard-negative classes %v", t.cfg.HardNegatives)
	}
	// Weights h (hard) and o (others) with h = hw*o and
	// nHard*h + nOther*o = (nHard+nOther)*cw[0].
	o := float64(cw[0]) * float64(nHard+nOther) / (hw*float64(nHard) + float64(nOther))
	for i, l := range s.Labels {
		switch {
		case l:
		case hard[s.Classes[i]]:
			w[i] = float32(hw * o)
		default:
			w[i] = float32(o)
		}
	}
	return w, nil
}

// Run trains for the configured epochs (continuing from Epoch()), calling
// onEpoch after each with its statistics. val may be nil. It returns
// ctx.Err() if cancelled between steps; the weights are then those after
// the last whole step, and Run may be called again to go on. Every
// goroutine Run starts has ended when it returns. Run may not be called
// twice at once.
func (t *Trainer) Run(ctx context.Context, train, val *dataset.Set, onEpoch func(EpochStats) error) error {
	if train.Len() == 0 {
		return errors.New("train: no training examples")
	}
	if train.W != t.Net().Arch.W || train.H != t.Net().Arch.H || t.Net().Arch.C != 3 {
		return fmt.Errorf("train: images are %dx%d, the network takes %dx%dx%d", train.W, train.H, t.Net().Arch.C, t.Net().Arch.H, t.Net().Arch.W)
	}
	defer t.startWorkers()()
	ys, err := t.targets(train)
	if err != nil {
		return err
	}
	classifier := len(t.cfg.Classes) > 0
	var cls []float32
	if t.cfg.AuxWeight > 0 {
		if cls, err = classIndices(train, t.cfg.AuxClasses); err != nil {
			return err
		}
	}
	var valYs []float32
	if val != nil && classifier {
		if valYs, err = t.targets(val); err != nil {
			return err
		}
	}
	smp := newSampler(t.cfg.Mode, t.cfg.Balance, t.cfg.Batch, train.Labels)
	cw := t.classWeights(train)
	if classifier {
		cw = [2]float32{1, 1}
	}
	wts, err := t.exampleWeights(train, cw)
	if err != nil {
		return err
	}
	var rpcg rand.PCG
	r := rand.New(&rpcg)
	bestAUC := math.Inf(-1)
	for ; t.epoch < t.cfg.Epochs; t.epoch++ {
		rpcg.Seed(t.cfg.Seed, uint64(t.epoch))
		smp.startEpoch(r)
		start := time.Now()
		steps := smp.stepsPerEpoch()
		var lossSum float64
		seen := 0
		for s := range steps {
			if err := ctx.Err(); err != nil {
				return err
			}
			idx := smp.next(r)
			loss := t.trainStep(train, ys, cls, idx, wts)
			lossSum += loss * float64(len(idx))
			seen += len(idx)
			if t.OnProgress != nil {
				t.OnProgress(Progress{Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Step: s + 1, Steps: steps,
					Examples: seen, Loss: lossSum / float64(seen), Elapsed: time.Since(start)})
			}
		}
		st := EpochStats{Epoch: t.epoch + 1, TrainLoss: lossSum / float64(seen), Examples: seen,
			Duration: time.Since(start), LR: t.cfg.Schedule.Rate(t.step)}
		if val != nil && val.Len() > 0 && classifier {
			st.ValAccuracy, st.ValLoss = t.classify(val, valYs)
			if st.ValAccuracy > bestAUC {
				bestAUC, st.Best = st.ValAccuracy, true
			}
		} else if val != nil && val.Len() > 0 {
			scores, vloss := t.Predict(val)
			st.ValLoss = vloss
			thr, _, err := metrics.BestThreshold(scores, val.Labels)
			if err != nil {
				thr = t.info.Threshold
			}
			rep, err := metrics.Evaluate(scores, val.Labels, thr)
			if err != nil {
				return err
			}
			st.Val, st.Threshold = &rep, thr
			if auc := rep.ROCAUC; auc > bestAUC || (math.IsNaN(bestAUC) || math.IsInf(bestAUC, -1)) && !math.IsNaN(auc) {
				bestAUC, st.Best = auc, true
			}
		} else {
			st.Best = true // without validation the latest model is the best known
		}
		if math.IsNaN(st.TrainLoss) || math.IsInf(st.TrainLoss, 0) {
			return fmt.Errorf("train: the loss diverged to %v in epoch %d: lower the learning rate", st.TrainLoss, st.Epoch)
		}
		if onEpoch != nil {
			if err := onEpoch(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// trainStep computes the gradient of the examples idx across the replicas
// and takes one optimizer step; it returns the (weighted) mean loss.
func (t *Trainer) trainStep(set *dataset.Set, ys, cls []float32, idx []int, wts []float32) float64 {
	totalW := 0.0
	for _, i := range idx {
		totalW += float64(wts[i])
	}
	k := len(t.reps)
	per := (len(idx) + k - 1) / k
	for j, r := range t.reps {
		lo, hi := min(j*per, len(idx)), min((j+1)*per, len(idx))
		sh := shard{set: set, ys: ys, cls: cls, count: len(idx), idx: idx[lo:hi], pos: lo, step: t.step, wts: wts, totalW: totalW}
		if j == 0 {
			continue // the primary replica works in this goroutine, below
		}
		r.work <- sh
	}
	t.reps[0].compute(t, shard{set: set, ys: ys, cls: cls, count: len(idx), idx: idx[:min(per, len(idx))], pos: 0, step: t.step, wts: wts, totalW: totalW})
	master := t.reps[0].net
	loss := t.reps[0].loss
	for _, r := range t.reps[1:] {
		<-r.done
		loss += r.loss
		g := r.net.Grads[:len(master.Grads)]
		for i, v := range g {
			master.Grads[i] += v
		}
	}
	if wd := float32(t.cfg.WeightDecay); wd > 0 {
		for _, r := range t.decay {
			g, p := master.Grads[r[0]:r[1]], master.Params[r[0]:r[1]]
			for i := range g {
				g[i] += wd * p[i]
			}
		}
	}
	lr := t.cfg.Schedule.Rate(t.step)
	t.opt.Step(master.Params, master.Grads, float32(lr))
	for _, r := range t.reps[1:] {
		copy(r.net.Params, master.Params)
	}
	t.updateEMA()
	t.step++
	return loss
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// startWorkers starts a goroutine for each non-primary replica, which
// trainStep hands its shards; stop ends them and returns once they have
// returned.
func (t *Trainer) startWorkers() (stop func()) {
	var wg sync.WaitGroup
	for _, r := range t.reps[1:] {
		work, done := make(chan shard), make(chan struct{})
		r.work, r.done = work, done
		wg.Go(func() { r.serve(t, work, done) })
	}
	return func() {
		for _, r := range t.reps[1:] {
			close(r.work)
			r.work, r.done = nil, nil
		}
		wg.Wait()
	}
}

// serve runs a non-primary replica's steps until work closes, telling done
// after each.
func (r *replica) serve(t *Trainer, work <-chan shard, done chan<- struct{}) {
	for sh := range work {
		r.compute(t, sh)
		done <- struct{}{}
	}
}

// compute sets the replica's gradient to its shard's share of the step's
// gradient and its loss to the shard's share of the step's loss.
func (r *replica) compute(t *Trainer, sh shard) {
	clear(r.net.Grads)
	r.loss = 0
	in := r.net.InputLen()
	per := r.net.MaxBatch()
	for c := 0; c < len(sh.idx); c += per {
		chunk := sh.idx[c:min(c+per, len(sh.idx))]
		chunkW := 0.0
		for j, i := range chunk {
			// Each example's augmentation is seeded by the step and its
			// position in it, so it does not depend on which replica
			// handles it.
			r.pcg.Seed(t.cfg.Seed^uint64(sh.step)*0x9e3779b97f4a7c15, uint64(sh.pos+c+j))
			t.cfg.Augment.Apply(r.x[j*in:(j+1)*in], sh.set.Image(i), sh.set.W, sh.set.H, &t.info, r.rng)
			r.y[j] = sh.ys[i]
			r.w[j] = sh.wts[i]
			chunkW += float64(r.w[j])
			if r.cls != nil {
				r.cls[j] = sh.cls[i]
			}
		}
		n := len(chunk)
		if r.auxLoss != nil {
			// The loss is normalised by the whole step's weight and count.
			r.n, r.wSum, r.count = n, sh.totalW, sh.count
			r.loss += float64(r.net.AddGradientsWith(r.x[:n*in], r.auxLoss))
			continue
		}
		share := chunkW / sh.totalW
		loss := r.net.AddGradients(r.x[:n*in], r.y[:n], r.w[:n], float32(share))
		r.loss += float64(loss) * share
	}
}

// classify returns a classifier's top-1 accuracy and mean cross-entropy on
// s, whose targets are ys.
func (t *Trainer) classify(s *dataset.Set, ys []float32) (acc, loss float64) {
	net, buf := t.EvalNet(), t.reps[0].x
	in, k := net.InputLen(), net.Arch.Outputs()
	per := min(net.MaxBatch(), len(buf)/in)
	right := 0
	for lo := 0; lo < s.Len(); lo += per {
		hi := min(lo+per, s.Len())
		for i := lo; i < hi; i++ {
			t.info.NormalizePixels(buf[(i-lo)*in:(i-lo+1)*in], s.Image(i))
		}
		z := net.Forward(buf[:(hi-lo)*in])
		for j := range hi - lo {
			zj := z[j*k : (j+1)*k]
			best, m := 0, zj[0]
			for c, v := range zj {
				if v > m {
					best, m = c, v
				}
			}
			s := 0.0
			for _, v := range zj {
				s += math.Exp(float64(v - m))
			}
			y := int(ys[lo+j])
			loss += math.Log(s) + float64(m-zj[y])
			if best == y {
				right++
			}
		}
	}
	n := float64(max(1, s.Len()))
	return float64(right) / n, loss / n
}

// Predict returns p(cat) for every image of s with the current weights
// (their moving average if Config.EMA is on), and the mean binary
// cross-entropy against its labels.
func (t *Trainer) Predict(s *dataset.Set) ([]float32, float64) {
	return PredictSet(t.Detector(), &t.info, s, t.reps[0].x)
}

// PredictSet runs net over every image of s in batches, using buf (at least
// one image's worth of floats) for input, and returns p(cat) per image and
// the mean binary cross-entropy against s's labels.
func PredictSet(net *model.Net, info *model.Info, s *dataset.Set, buf []float32) ([]float32, float64) {
	in := net.InputLen()
	per := min(net.MaxBatch(), len(buf)/in)
	scores := make([]float32, s.Len())
	loss := 0.0
	for lo := 0; lo < s.Len(); lo += per {
		hi := min(lo+per, s.Len())
		for i := lo; i < hi; i++ {
			info.NormalizePixels(buf[(i-lo)*in:(i-lo+1)*in], s.Image(i))
		}
		z := net.Forward(buf[:(hi-lo)*in])
		for j, v := range z {
			zf := float64(v)
			y := 0.0
			if s.Labels[lo+j] {
				y = 1
			}
			loss += max(zf, 0) - zf*y + math.Log1p(math.Exp(-math.Abs(zf)))
			scores[lo+j] = model.Sigmoid(v)
		}
	}
	return scores, loss / float64(max(1, s.Len()))
}
