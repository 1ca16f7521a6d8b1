package learn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"catd/metrics"
	"catd/model"
	"catd/optim"
	"catd/train"
)

// Config is how the Learner trains. Zero values take the defaults noted.
type Config struct {
	Optim    optim.Config   // default: SGD with momentum 0.9
	LR       float64        // eta, or eta0 of Schedule (default 0.002)
	Schedule optim.Schedule // over the learner's steps (default constant LR)
	Batch    int            // examples per step (default 16)
	Steps    int            // steps per round (default 40)
	// TrainLast, if positive, trains only the last TrainLast layers with
	// parameters; the optimizer then keeps state for those alone.
	TrainLast int
	// Margin is how much the validation loss may rise in a round that is
	// still accepted, as a fraction (default 0.02), plus MarginAbs (default
	// 0.005: a loss near zero may move by noise alone).
	Margin, MarginAbs float64
	// Recent examples (the newest of the training share) are drawn for
	// RecentShare of each batch (defaults 64 and 0.5), so that new labels
	// are learnt fast while the rest of the buffer keeps old knowledge.
	Recent      int
	RecentShare float64
	// MinPerClass is the fewest training examples of each class a round
	// needs (default 4); with fewer, rounds are skipped.
	MinPerClass int
	Augment     train.Augment // default train.DefaultAugment
	Seed        uint64
	// Explode is the factor over the round's first loss (at least ln 2,
	// a guess's loss) that counts as blowing up (default 20).
	Explode float64
	// Chunk is how many examples' gradients are computed between two
	// calls of Learner.Yield (default 2): the grain at which training
	// makes way for inference.
	Chunk int
}

func (c *Config) defaults() {
	if c.Optim.Kind == "" {
		c.Optim = optim.DefaultConfig(optim.KindMomentum)
	}
	if c.LR == 0 {
		c.LR = 0.002
	}
	if c.Schedule == nil {
		c.Schedule = optim.Constant{Eta: c.LR}
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Steps <= 0 {
		c.Steps = 40
	}
	if c.Margin == 0 {
		c.Margin = 0.02
	}
	if c.MarginAbs == 0 {
		c.MarginAbs = 0.005
	}
	if c.Recent <= 0 {
		c.Recent = 64
	}
	if c.RecentShare == 0 {
		c.RecentShare = 0.5
	}
	if c.MinPerClass <= 0 {
		c.MinPerClass = 4
	}
	if c.Augment == (train.Augment{}) {
		c.Augment = train.DefaultAugment
	}
	if c.Explode == 0 {
		c.Explode = 20
	}
	if c.Chunk <= 0 {
		c.Chunk = 2
	}
}

// Result is what one round did.
type Result struct {
	Steps     int
	Loss      float64 // mean training loss of the round
	ValLoss   float64 // validation loss after the round (before, if rolled back)
	ValBefore float64 // validation loss before the round
	ValAUC    float64 // NaN without both classes in the validation share
	ValBalAcc float64
	Threshold float32 // the recalibrated decision threshold (accepted rounds)
	Accepted  bool
	Reason    string  // why a round was rolled back or skipped
	LR        float64 // the learning rate at the round's last step
	Skipped   bool    // not enough labels yet
	Duration  time.Duration
}

// Learner fine-tunes a network on a Replay. Its network has no batch norm
// (train the folded network: batch statistics of a handful of labels would
// wreck the running ones). It is not safe for concurrent use; Round runs on
// one goroutine and the others ask it for copies.
type Learner struct {
	cfg    Config
	net    *model.Net
	info   model.Info
	opt    *optim.Optimizer
	off    int // first trained parameter
	replay *Replay

	// The last accepted state, restored on a rollback.
	goodParams []float32
	goodOpt    *optim.Optimizer
	goodStep   int64

	step    int64
	lrScale float64
	r       *rand.Rand
	x, y, w []float32
	px      []uint8
	valLoss float64 // of the accepted state; NaN until measured
	// Yield, if set, is called after each Chunk of examples with the time
	// it took; the daemon waits there so that training leaves the CPU to
	// inference.
	Yield func(chunk time.Duration)
}

// NewLearner returns a Learner training a copy of net (any Net of the
// architecture; its parameters are copied) on r.
func NewLearner(net *model.Net, info model.Info, r *Replay, cfg Config) (*Learner, error) {
	cfg.defaults()
	for _, l := range net.Arch.Layers {
		if l.Kind == model.BatchNorm {
			return nil, errors.New("learn: the network has batch norm: fold it first (model.Net.Folded)")
		}
	}
	if net.Arch.Outputs() != 1 {
		return nil, fmt.Errorf("learn: a cat detector has one output, not %d", net.Arch.Outputs())
	}
	if r.w != net.Arch.W || r.h != net.Arch.H || net.Arch.C != 3 {
		return nil, fmt.Errorf("learn: replay of %dx%d images for a %dx%dx%d model", r.w, r.h, net.Arch.C, net.Arch.H, net.Arch.W)
	}
	// Gradients are computed Chunk examples at a time: the network needs
	// activations for a chunk, not for a whole batch.
	tn, err := model.New(net.Arch, model.Options{MaxBatch: min(cfg.Chunk, cfg.Batch), Training: true})
	if err != nil {
		return nil, err
	}
	copy(tn.Params, net.Params)
	off := 0
	if cfg.TrainLast > 0 {
		wr := tn.WeightRanges()
		if cfg.TrainLast < len(wr) {
			off = wr[len(wr)-cfg.TrainLast][0]
		}
	}
	opt, err := optim.New(cfg.Optim, len(tn.Params)-off)
	if err != nil {
		return nil, err
	}
	goodOpt, _ := optim.New(cfg.Optim, len(tn.Params)-off)
	in := net.InputLen()
	l := &Learner{cfg: cfg, net: tn, info: info, opt: opt, off: off, replay: r, goodOpt: goodOpt,
		goodParams: slices.Clone(tn.Params), lrScale: 1, r: rand.New(rand.NewPCG(cfg.Seed, 0x1ea2)),
		x: make([]float32, cfg.Batch*in), y: make([]float32, cfg.Batch), w: make([]float32, cfg.Batch),
		px: make([]uint8, in), valLoss: math.NaN()}
	return l, nil
}

// Net returns the network being trained (the accepted state between rounds).
func (l *Learner) Net() *model.Net { return l.net }

// Info returns the model's Info, with the threshold of the last accepted
// round.
func (l *Learner) Info() model.Info { return l.info }

// Optimizer returns the optimizer.
func (l *Learner) Optimizer() *optim.Optimizer { return l.opt }

// Step returns the steps taken in accepted rounds (the schedule's t).
func (l *Learner) Step() int64 { return l.step }

// Memory returns the bytes the learner holds besides the model's
// parameters: the optimizer state (with its copy for rollbacks) and the
// training workspace (gradients, activations of a batch, the accepted
// weights kept for rollbacks, the batch).
func (l *Learner) Memory() (optimizer, workspace int) {
	optimizer = 2 * l.opt.StateBytes()
	workspace = l.net.WorkspaceBytes() + 4*(len(l.net.Grads)+len(l.goodParams)+len(l.x)+len(l.y)+len(l.w)) + len(l.px)
	return optimizer, workspace
}

// TrainedParams is how many parameters are trained.
func (l *Learner) TrainedParams() int { return len(l.net.Params) - l.off }

// SetOptim switches the optimizer keeping the weights (SGD, momentum or
// Adam; Adam's state vectors exist only while it is on).
func (l *Learner) SetOptim(c optim.Config) error {
	if err := l.opt.Switch(c); err != nil {
		return err
	}
	l.cfg.Optim = c
	l.goodOpt.CopyFrom(l.opt)
	return nil
}

// SetSchedule changes the learning rate and its schedule.
func (l *Learner) SetSchedule(lr float64, s optim.Schedule) {
	l.cfg.LR, l.cfg.Schedule, l.lrScale = lr, s, 1
}

// Restore sets the training state from a checkpoint (the network's
// parameters come with it: call after building the Learner from the
// checkpoint's network).
func (l *Learner) Restore(st *train.CheckpointState) error {
	if st == nil {
		return nil
	}
	if st.Optim.Kind != l.opt.Config().Kind {
		return nil // a different rule now: start its state afresh
	}
	if err := l.opt.SetState(st.OptimT, st.Vectors); err != nil {
		return fmt.Errorf("learn: checkpoint optimizer state: %w", err)
	}
	l.step = st.Step
	l.goodOpt.CopyFrom(l.opt)
	return nil
}

// Checkpoint returns the accepted state as a checkpoint file (a model file
// with the optimizer state), with extra metadata.
func (l *Learner) Checkpoint(extra map[string]string) ([]byte, error) {
	info := l.info
	info.Extra = make(map[string]string, len(l.info.Extra)+len(extra))
	for k, v := range l.info.Extra {
		info.Extra[k] = v
	}
	for k, v := range extra {
		info.Extra[k] = v
	}
	return train.EncodeCheckpoint(l.net, info, l.opt, train.CheckpointState{Step: l.step,
		Schedule: l.cfg.Schedule.String(), LR: l.cfg.LR})
}

// InferenceNet returns a new batch-1 network with the accepted weights.
func (l *Learner) InferenceNet() (*model.Net, error) {
	n, err := model.New(l.net.Arch, model.Options{MaxBatch: 1})
	if err != nil {
		return nil, err
	}
	copy(n.Params, l.net.Params)
	return n, nil
}

// Round trains one round of Steps minibatch steps and keeps it only if the
// validation loss did not rise by more than Margin; otherwise, or if the
// loss became NaN, Inf or exploded, the weights and optimizer state go
// back to the last accepted round (and after a blow-up the learning rate
// is halved). An accepted round recalibrates the decision threshold on the
// validation share (for balanced accuracy).
func (l *Learner) Round(ctx context.Context) (Result, error) {
	start := time.Now()
	trainSet, valSet := l.replay.split()
	var nc, nn, vc, vn int
	for _, e := range trainSet {
		if e.Cat {
			nc++
		} else {
			nn++
		}
	}
	for _, e := range valSet {
		if e.Cat {
			vc++
		} else {
			vn++
		}
	}
	res := Result{ValAUC: math.NaN(), ValBalAcc: math.NaN()}
	if nc < l.cfg.MinPerClass || nn < l.cfg.MinPerClass || len(valSet) == 0 {
		res.Skipped = true
		res.Reason = fmt.Sprintf("need %d training labels of each class and one held out: have %d cat, %d noncat, %d held out",
			l.cfg.MinPerClass, nc, nn, len(valSet))
		return res, nil
	}
	// Class weights as catd train's: N/(2 N_class), on training and validation.
	wCat, wNon := float32(nc+nn)/float32(2*nc), float32(nc+nn)/float32(2*nn)
	if math.IsNaN(l.valLoss) {
		v, err := l.validate(valSet, wCat, wNon)
		if err != nil {
			res.Skipped, res.Reason = true, err.Error()
			return res, nil
		}
		l.valLoss = v.loss
	}
	res.ValBefore = l.valLoss

	recent := trainSet[max(0, len(trainSet)-l.cfg.Recent):]
	b := l.cfg.Batch
	nRecent := int(math.Round(l.cfg.RecentShare * float64(b)))
	var (
		sum    float64
		first  = math.NaN()
		fail   string
		blowUp bool // fail is a loss that blew up, not a stop or a read error
	)
steps:
	for s := range l.cfg.Steps {
		if ctx.Err() != nil {
			fail = "stopped"
			break
		}
		for i := range b {
			from := trainSet
			if i < nRecent {
				from = recent
			}
			e, err := l.draw(from)
			if err != nil {
				fail = err.Error()
				break steps
			}
			in := l.net.InputLen()
			l.cfg.Augment.Apply(l.x[i*in:(i+1)*in], l.px, l.net.Arch.W, l.net.Arch.H, &l.info, l.r)
			if e.Cat {
				l.y[i], l.w[i] = 1, wCat/float32(b)
			} else {
				l.y[i], l.w[i] = 0, wNon/float32(b)
			}
		}
		loss := l.gradients(b)
		if s == 0 {
			first = loss
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > l.cfg.Explode*max(first, math.Ln2) {
			fail, blowUp = fmt.Sprintf("loss %v at step %d", loss, s+1), true
			break
		}
		lr := l.cfg.Schedule.Rate(l.step+int64(s)) * l.lrScale
		l.opt.Step(l.net.Params[l.off:], l.net.Grads[l.off:], float32(lr))
		sum += loss
		res.Steps++
		res.LR = lr
	}
	if res.Steps > 0 {
		res.Loss = sum / float64(res.Steps)
	}
	if fail == "" {
		v, err := l.validate(valSet, wCat, wNon)
		vl := v.loss
		res.ValLoss = vl
		switch {
		case err != nil:
			fail = err.Error()
		case math.IsNaN(vl) || math.IsInf(vl, 0):
			blowUp = true
			fail = fmt.Sprintf("validation loss %v", vl)
		case vl > l.valLoss*(1+l.cfg.Margin)+l.cfg.MarginAbs:
			fail = fmt.Sprintf("validation loss rose from %.4f to %.4f (margin %.0f%%)", l.valLoss, vl, 100*l.cfg.Margin)
			res.Reason = fail
			l.rollback()
			res.ValLoss = l.valLoss
			res.Duration = time.Since(start)
			return res, nil
		default:
			res.ValAUC = v.auc
			res.Accepted = true
			l.valLoss = vl
			l.step += int64(res.Steps)
			if thr, b, err := metrics.BestThreshold(v.p, v.labels); err == nil {
				l.info.Threshold, res.ValBalAcc = thr, b
			} else {
				res.ValBalAcc = v.bal
			}
			res.Threshold = l.info.Threshold
			copy(l.goodParams, l.net.Params)
			l.goodOpt.CopyFrom(l.opt)
			res.Duration = time.Since(start)
			return res, nil
		}
	}
	// A blow-up, a stop or a read error: roll back; a blow-up also halves
	// the rate.
	res.Reason = fail
	if blowUp {
		l.lrScale /= 2
		res.Reason += fmt.Sprintf(": rolled back, learning rate now x%g", l.lrScale)
	}
	l.rollback()
	res.ValLoss = l.valLoss
	res.Duration = time.Since(start)
	return res, nil
}

// gradients computes the gradient of the batch of b examples in l.x into
// the net's Grads, Chunk examples at a time with Yield between, and returns
// the batch's loss.
func (l *Learner) gradients(b int) float64 {
	clear(l.net.Grads)
	var total float64
	for _, w := range l.w[:b] {
		total += float64(w)
	}
	in := l.net.InputLen()
	var loss float64
	for i := 0; i < b; i += l.cfg.Chunk {
		t0 := time.Now()
		j := min(i+l.cfg.Chunk, b)
		var part float64
		for _, w := range l.w[i:j] {
			part += float64(w)
		}
		scale := part / total
		loss += scale * float64(l.net.AddGradients(l.x[i*in:j*in], l.y[i:j], l.w[i:j], float32(scale)))
		if l.Yield != nil {
			l.Yield(time.Since(t0))
		}
	}
	return loss
}

func (l *Learner) rollback() {
	copy(l.net.Params, l.goodParams)
	l.opt.CopyFrom(l.goodOpt)
}

// draw picks a training example from from, uniformly, and reads its
// pixels into l.px. An example that has left the buffer since the round
// listed it is drawn again.
func (l *Learner) draw(from []*entry) (*entry, error) {
	for range 16 {
		e := from[l.r.IntN(len(from))]
		err := l.replay.readPixels(e, l.px)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, errGone) {
			return nil, err
		}
	}
	return nil, errors.New("learn: the labels changed under the round")
}

// scores returns p(cat) for each validation example, and its label;
// examples that have left the buffer since the round listed them are left
// out.
func (l *Learner) scores(val []*entry) (p []float32, labels []bool, err error) {
	in := l.net.InputLen()
	b := l.net.MaxBatch()
	p = make([]float32, len(val))
	labels = make([]bool, len(val))
	n := 0
	for i := 0; i < len(val); {
		k := 0
		for ; k < b && i < len(val); i++ {
			e := val[i]
			err := l.replay.readPixels(e, l.px)
			if errors.Is(err, errGone) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			l.info.NormalizePixels(l.x[k*in:(k+1)*in], l.px)
			labels[n+k] = e.Cat
			k++
		}
		l.net.Predict(p[n:n+k], l.x[:k*in])
		n += k
	}
	return p[:n], labels[:n], nil
}

// validation is how the model does on the held-out labels.
type validation struct {
	loss, auc, bal float64
	p              []float32 // p(cat) of each example that could be read
	labels         []bool
}

// validate returns the class-weighted mean BCE on val, its ROC AUC (NaN
// without both classes) and balanced accuracy at the current threshold,
// with the scores and labels they come from.
func (l *Learner) validate(val []*entry, wCat, wNon float32) (validation, error) {
	p, labels, err := l.scores(val)
	if err != nil {
		return validation{}, err
	}
	var loss, sw float64
	for i, pc := range p {
		q := math.Min(math.Max(float64(pc), 1e-7), 1-1e-7)
		if labels[i] {
			loss -= float64(wCat) * math.Log(q)
			sw += float64(wCat)
		} else {
			loss -= float64(wNon) * math.Log(1-q)
			sw += float64(wNon)
		}
	}
	if sw == 0 {
		return validation{}, errors.New("learn: no held-out label could be read")
	}
	v := validation{loss: loss / sw, auc: math.NaN(), p: p, labels: labels}
	if a, err := metrics.ROCAUC(p, labels); err == nil {
		v.auc = a
	}
	c := metrics.NewConfusion(p, labels, l.info.Threshold)
	v.bal = c.BalancedAccuracy()
	return v, nil
}
